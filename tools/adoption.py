"""Write knowledge/adoption.yaml: PyPI download ranks of the task libraries named as evidence.

A maintainer's tool: `python tools/adoption.py RANKS.tsv > knowledge/adoption.yaml`, where
RANKS.tsv has columns name, version, month, rank (rank empty when outside the top 15,000).
The packages are those named by `package:` in knowledge/frameworks/*.yaml.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def packages() -> set[str]:
    found = set()
    for path in (ROOT / "knowledge" / "frameworks").glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        for evidence in data.get("tasks", {}).values():
            found.update(item["package"] for item in evidence if item.get("package"))
    return found


def main(ranks_path: str) -> None:
    wanted = packages()
    ranks: dict[str, int] = {}
    listed: set[str] = set()
    with Path(ranks_path).open(newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if row and row[0] in wanted:
                listed.add(row[0])
                if len(row) > 3 and row[3].strip().isdigit():
                    ranks[row[0]] = int(row[3])
    missing = sorted(wanted - listed)
    if missing:
        sys.exit(f"not in {ranks_path}: {', '.join(missing)}")
    print("# PyPI download ranks of the libraries cited as task evidence (tools/adoption.py).")
    print("# A rank says how widely a library is installed; `not_ranked` ones are on PyPI but outside the top 15,000.")
    print(
        yaml.safe_dump(
            {
                "source": "dlpick registry snapshot of the 15,000 most-downloaded PyPI packages",
                "as_of": dt.date.today(),
                "pypi_download_rank": dict(sorted(ranks.items(), key=lambda item: item[1])),
                "not_ranked": sorted(listed - set(ranks)),
            },
            sort_keys=False,
            width=100,
        ),
        end="",
    )


if __name__ == "__main__":
    main(sys.argv[1])
