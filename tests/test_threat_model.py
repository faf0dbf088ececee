"""docs/threat-model.md: one line per input surface, each naming the tests that hold it; those tests exist.

A line whose test was renamed or deleted fails here, so the list cannot drift from the suite.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "threat-model.md"
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def rows() -> list[list[str]]:
    table = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table[1:]]  # past the header


def test_every_surface_names_who_what_and_at_least_one_test():
    found = rows()
    assert len(found) >= 12, "the threat model lists every input surface"
    for cells in found:
        assert len(cells) == 5 and all(cells), cells
        assert TEST_REF.search(cells[4]), f"{cells[0]}: no test named"


def test_every_named_test_exists():
    missing = []
    for cells in rows():
        for path, name in TEST_REF.findall(cells[4]):
            source = ROOT / path
            if not source.is_file() or not re.search(rf"^\s*def {name}\(", source.read_text(), re.MULTILINE):
                missing.append(f"{cells[0]}: {path}::{name}")
    assert not missing, missing


def test_the_readme_links_the_threat_model():
    assert "docs/threat-model.md" in (ROOT / "README.md").read_text(encoding="utf-8")
