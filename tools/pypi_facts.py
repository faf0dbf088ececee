"""Print the PyPI facts of a package as knowledge-base YAML (release, Python, cadence).

A maintainer's tool, not part of dlpick: `python tools/pypi_facts.py torch`.
Reads https://pypi.org/pypi/<name>/json; needs network access to PyPI.

Python support is read from every release file, not from the latest release's classifiers alone:
a wheel admits the Python minors its tags name (cp311 -> 3.11; cp38-abi3 -> 3.8 and later), cut by
that file's Requires-Python; a generic wheel (py3) or an sdist admits what its Requires-Python
admits. `versions` are the minors the latest release admits; `last_release_for` names, for every
other minor any release admits, the newest release that admits it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import urllib.request
from collections.abc import Iterable
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

CP_TAG = re.compile(r"(?:cp|py)3(\d+)$", re.ASCII)
GENERIC_TAGS = {"py3", "py2.py3", "py30"}


def _minor(python: str) -> int:
    return int(python.split(".")[1])


def _admitted_by_spec(requires: str, candidates: Iterable[int]) -> set[int]:
    try:
        spec = SpecifierSet(requires or "")
    except InvalidSpecifier:
        return set()
    # A minor is admitted when some release of it is: '>=3.6.2' and '!=3.6.0' still admit 3.6.
    return {minor for minor in candidates if any(spec.contains(f"3.{minor}.{patch}") for patch in range(30))}


def _tag_minors(tag: Tag, ceiling: int) -> set[int] | None:
    """The minors one wheel tag admits, or None for a generic tag (decided by Requires-Python)."""
    if tag.interpreter in GENERIC_TAGS:
        return None
    match = CP_TAG.match(tag.interpreter)
    if not match:
        return set()  # Python 2, PyPy ... : not a CPython 3 minor
    minor = int(match[1])
    if tag.abi == "abi3" or tag.interpreter.startswith("py"):
        return set(range(minor, ceiling + 1))  # stable ABI / pyXY: that minor and later
    return {minor}


def file_minors(file: dict[str, Any], ceiling: int) -> set[int]:
    """The Python 3 minors (<= ceiling) one release file can be installed on."""
    everything = range(0, ceiling + 1)
    requires = file.get("requires_python") or ""
    if not file["filename"].endswith(".whl"):
        return _admitted_by_spec(requires, everything) if requires else set()
    try:
        _, _, _, tags = parse_wheel_filename(file["filename"])
    except InvalidWheelFilename:
        return set()
    admitted: set[int] = set()
    for tag in tags:
        minors = _tag_minors(tag, ceiling)
        if minors is None:
            minors = _admitted_by_spec(requires, everything) if requires else set()
        admitted |= minors
    return admitted & _admitted_by_spec(requires, everything) if requires else admitted


def _ceiling(releases: dict[str, list[dict[str, Any]]], classifiers: list[str]) -> int:
    """The newest minor the package names anywhere: in a wheel tag or a classifier of its latest release."""
    minors = [_minor(c.rsplit(":: ", 1)[1]) for c in classifiers if re.search(r":: 3\.\d+$", c)]
    for files in releases.values():
        for file in files:
            for part in re.findall(r"-(?:cp|py)3(\d+)", file["filename"]):
                minors.append(int(part))
    return max(minors, default=14)


def python_support(data: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """(minors the latest release admits, {other minor: newest release admitting it})."""
    info = data["info"]
    releases = {
        version: files
        for version, files in data["releases"].items()
        if files and _final(version) and not any(f.get("yanked") for f in files)
    }
    ceiling = _ceiling(releases, info.get("classifiers", []))
    admitted = {version: set().union(*(file_minors(f, ceiling) for f in files)) for version, files in releases.items()}
    latest = info["version"]
    current = admitted.get(latest, set())
    generic_only = all(
        any(tag.interpreter in GENERIC_TAGS for tag in parse_wheel_filename(f["filename"])[3])
        for f in releases.get(latest, [])
        if f["filename"].endswith(".whl")
    )
    classified = {_minor(c.rsplit(":: ", 1)[1]) for c in info.get("classifiers", []) if re.search(r":: 3\.\d+$", c)}
    if generic_only and classified:
        # A py3 wheel admits every future Python; its tested minors are the classifiers it names.
        current = current & classified if current else classified
    last_for: dict[str, str] = {}
    for version in sorted(admitted, key=Version, reverse=True):
        for minor in admitted[version] - current:
            last_for.setdefault(f"3.{minor}", version)
    versions = [f"3.{m}" for m in sorted(current)]
    return versions, dict(sorted(last_for.items(), key=lambda item: _minor(item[0])))


def _final(version: str) -> bool:
    try:
        return not Version(version).is_prerelease
    except InvalidVersion:
        return False


def facts(name: str, today: dt.date) -> str:
    url = f"https://pypi.org/pypi/{name}/json"
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - fixed https URL
        data = json.load(response)
    info = data["info"]
    uploads: dict[str, dt.date] = {}
    for version, files in data["releases"].items():
        if files and _final(version) and not any(f.get("yanked") for f in files):
            uploads[version] = min(dt.date.fromisoformat(f["upload_time"][:10]) for f in files)
    latest = info["version"]
    year_ago = today - dt.timedelta(days=365)
    recent = sorted((v for v, d in uploads.items() if d > year_ago), key=Version)
    pythons, last_for = python_support(data)
    page = f"https://pypi.org/project/{name}/"
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
            f"  source: {url}",
            f"  as_of: {today}",
            "  note: from the wheel tags and Requires-Python of every release file (tools/pypi_facts.py)",
            "releases_last_year:",
            f"  value: {len(recent)}",
            f"  source: {page}#history",
            f"  as_of: {today}",
            f"  versions: {json.dumps(recent)}",
            f"  note: non-pre-release versions uploaded since {year_ago}",
        ]
    )


if __name__ == "__main__":
    for package in sys.argv[1:]:
        print(facts(package, dt.date.today()))
