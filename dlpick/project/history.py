"""What `dlpick update` tells beyond the merge: the template versions and changelog entries between
the project's render and the installed templates (templates/CHANGELOG.md), and conflict markers a
project still holds (an earlier update's, committed unresolved)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CHANGELOG = "CHANGELOG.md"
VERSION_RE = re.compile(r"\d+(\.\d+){0,3}")
HEADING = re.compile(r"^## (?P<version>\d+(?:\.\d+){0,3})(?: \((?P<date>\d{4}-\d\d-\d\d)\))?\s*$")
ITEM = re.compile(r"^- \[(?P<scope>[^\]]+)\] (?P<text>.*)$")
MARKERS = (re.compile(rb"^<{7}( |$)", re.MULTILINE), re.compile(rb"^>{7}( |$)", re.MULTILINE))
MAX_SCAN = 2_000_000  # bytes: larger files are data, not merged text


@dataclass(frozen=True)
class Entry:
    version: str
    date: str | None
    frameworks: tuple[str, ...]  # ("all",) or framework ids
    text: str

    def applies_to(self, framework: str) -> bool:
        return "all" in self.frameworks or framework in self.frameworks


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def read(templates_root: Path) -> list[Entry]:
    """The changelog's entries, newest version first; none when the templates have no changelog."""
    try:
        text = (templates_root / CHANGELOG).read_text(encoding="utf-8")[:1_000_000]
    except OSError:
        return []
    entries: list[Entry] = []
    version, date = None, None
    for line in text.splitlines():
        if heading := HEADING.match(line):
            version, date = heading["version"], heading["date"]
        elif version and (item := ITEM.match(line)):
            scope = tuple(part.strip() for part in item["scope"].split(",") if part.strip())
            entries.append(Entry(version, date, scope, item["text"].strip()))
        elif version and entries and entries[-1].version == version and line.startswith("  ") and line.strip():
            last = entries[-1]
            entries[-1] = Entry(last.version, last.date, last.frameworks, f"{last.text} {line.strip()}")
    return sorted(entries, key=lambda entry: _key(entry.version), reverse=True)


def current(templates_root: Path) -> str | None:
    """The templates' version: the changelog's newest."""
    entries = read(templates_root)
    return entries[0].version if entries else None


def recorded(project: Path) -> str | None:
    """The template version the project's `.dlpick/base.json` records (None: made before versions)."""
    from dlpick import jsonfile
    from dlpick.errors import BadInput

    try:  # bounded, regular files only: a pipe or a huge file is left to update's own one-line refusal
        data = jsonfile.loads(jsonfile.read_regular(project / ".dlpick" / "base.json", 1 << 20).decode("utf-8"))
    except (BadInput, ValueError):
        return None
    value = data.get("template_version") if isinstance(data, dict) else None
    return value if isinstance(value, str) and VERSION_RE.fullmatch(value) else None


def between(entries: list[Entry], old: str | None, new: str | None, framework: str) -> list[Entry]:
    """The entries after `old` up to `new` for `framework` (all after the first version when `old` is None)."""
    if new is None:
        return []
    oldest = old or min((entry.version for entry in entries), key=_key, default=new)
    return [
        entry for entry in entries if _key(oldest) < _key(entry.version) <= _key(new) and entry.applies_to(framework)
    ]


def unresolved(project: Path, names: list[str]) -> list[str]:
    """The files among `names` (relative to the project) that still hold conflict markers."""
    found = []
    for rel in sorted(names):
        path = project / rel
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_SCAN:
                continue
            content = path.read_bytes()
        except OSError:
            continue
        if all(marker.search(content) for marker in MARKERS):
            found.append(rel)
    return found
