"""Print the PyPI facts of a package as knowledge-base YAML (release, Python, cadence).

A maintainer's tool, not part of dlpick: `python tools/pypi_facts.py torch`.
Reads https://pypi.org/pypi/<name>/json; needs network access to PyPI.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import urllib.request

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

OLDER_PYTHONS = [f"3.{minor}" for minor in range(9, 16)]


def facts(name: str, today: dt.date) -> str:
    url = f"https://pypi.org/pypi/{name}/json"
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - fixed https URL
        data = json.load(response)
    info = data["info"]
    uploads: dict[str, dt.date] = {}
    requires: dict[str, str] = {}
    for version, files in data["releases"].items():
        try:
            parsed = Version(version)
        except InvalidVersion:
            continue
        if files and not parsed.is_prerelease and not any(f.get("yanked") for f in files):
            uploads[version] = min(dt.date.fromisoformat(f["upload_time"][:10]) for f in files)
            requires[version] = next((f["requires_python"] for f in files if f.get("requires_python")), "")
    latest = info["version"]
    year_ago = today - dt.timedelta(days=365)
    recent = sorted(v for v, d in uploads.items() if d > year_ago)
    pythons = sorted(
        {c.rsplit(":: ", 1)[1] for c in info["classifiers"] if c.startswith("Programming Language :: Python :: 3.")},
        key=lambda v: int(v.split(".")[1]),
    )
    page = f"https://pypi.org/project/{name}/"
    last_for = {}
    for python in OLDER_PYTHONS:
        if python in pythons:
            continue
        for version in sorted(uploads, key=Version, reverse=True):
            try:
                if Version(python) in SpecifierSet(requires[version] or ">=0"):
                    if Version(version) < Version(latest) and Version(python) < Version(
                        pythons[0] if pythons else "3.99"
                    ):
                        last_for[python] = version
                    break
            except InvalidSpecifier:
                continue
    return "\n".join(
        [
            f"# {name}: facts read from {url} on {today}",
            "release:",
            f'  version: "{latest}"',
            f"  date: {uploads.get(latest, 'UNKNOWN')}",
            f"  source: {page}{latest}/",
            f"  as_of: {today}",
            "python:",
            f"  versions: {json.dumps(pythons)}",
            f'  requires: "{info.get("requires_python") or ""}"',
            *([f"  last_release_for: {json.dumps(last_for)}"] if last_for else []),
            f"  source: {page}{latest}/",
            f"  as_of: {today}",
            "releases_last_year:",
            f"  value: {len(recent)}",
            f"  source: https://pypi.org/project/{name}/#history",
            f"  as_of: {today}",
            f"  note: non-pre-release versions uploaded since {year_ago}: {', '.join(recent) or 'none'}",
        ]
    )


if __name__ == "__main__":
    for package in sys.argv[1:]:
        print(facts(package, dt.date.today()))
