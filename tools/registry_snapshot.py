"""Write knowledge/registry-snapshot.yaml: each library's newest final release, read from its registry.

A maintainer's tool: `python tools/registry_snapshot.py > knowledge/registry-snapshot.yaml`.
Needs network access to PyPI (https://pypi.org/pypi/NAME/json) and the npm registry
(https://registry.npmjs.org/NAME). `dlpick kb audit` reads the snapshot to apply the two-year
dormant rule (criteria.yaml: `dormant`, no release for two years or more) from data, to check pins
and versions named in notes, and (from `platforms`, the wheel platform tags of each PyPI release)
claims such as "no aarch64 wheel".

Packages read: every `package:` of task evidence and features, every framework's `packages`, the
packages its hardware `install` commands pip-install (plugins), the builds and plugins of
builds.yaml, the registry page named by each `last_release.source`, the keys already in the
snapshot, and any `pypi:NAME` / `npm:NAME` given on the command line. A registry that cannot be
read keeps the entry of the earlier snapshot, with the date it was read (`as_of`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "knowledge" / "registry-snapshot.yaml"
sys.path.insert(0, str(ROOT))
from dlpick.kb.audit import install_packages, normalise, registry_key  # noqa: E402 - the audit and this tool read alike

# A wheel's platform tag, less the libc / OS version: manylinux_2_17_x86_64 and manylinux2014_x86_64 are
# both manylinux_x86_64, macosx_11_0_arm64 is macosx_arm64.
PLATFORM_VERSION = re.compile(r"^(manylinux|musllinux|macosx)(?:_?[0-9]+)*_(.+)$")


def platform_tags(filename: str) -> set[str]:
    """The normalised platform tags of one release file (none for an sdist)."""
    if not filename.endswith(".whl"):
        return set()
    tags = filename[: -len(".whl")].split("-")[-1]
    found = set()
    for tag in tags.split("."):
        match = PLATFORM_VERSION.match(tag)
        found.add(f"{match[1]}_{match[2]}" if match else tag)
    return found


def wanted(extra: list[str]) -> set[str]:
    keys = set(extra)
    for path in (ROOT / "knowledge" / "frameworks").glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        keys.update(f"pypi:{name}" for name in data.get("packages", []))
        features = [data.get(section) or [] for section in ("performance", "ecosystem", "ease_of_use")]
        for items in [*data.get("tasks", {}).values(), *data.get("deployment", {}).values(), *features]:
            for item in items:
                if item.get("package"):
                    keys.add(f"pypi:{item['package']}")
                if isinstance(item.get("last_release"), dict) and (key := registry_key(item["last_release"]["source"])):
                    keys.add(key)
        for support in data.get("hardware", {}).values():
            keys.update(f"pypi:{name}" for name, _, on_pypi in install_packages(support.get("install")) if on_pypi)
    builds = yaml.safe_load((ROOT / "knowledge" / "builds.yaml").read_text())
    keys.update(f"pypi:{build['package']}" for variants in builds["frameworks"].values() for build in variants)
    if SNAPSHOT.is_file():
        keys.update((yaml.safe_load(SNAPSHOT.read_text()) or {}).get("packages", {}))
    # One key per library as PyPI compares names (Theano and theano are one): the first spelling in sort order.
    unique: dict[str, str] = {}
    for key in sorted(keys):
        registry, _, name = key.partition(":")
        unique.setdefault(f"{registry}:{normalise(name) if registry == 'pypi' else name}", key)
    return set(unique.values())


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - fixed https registry URLs
        return json.load(response)


def pypi_release(name: str) -> dict[str, Any]:
    """The newest final, unyanked release by upload date (the highest version on that day)."""
    data = _get(f"https://pypi.org/pypi/{name}/json")
    uploads = []
    for version, files in data["releases"].items():
        try:
            parsed = Version(version)
        except InvalidVersion:
            continue
        if files and not parsed.is_prerelease and not any(f.get("yanked") for f in files):
            uploads.append((min(dt.date.fromisoformat(f["upload_time"][:10]) for f in files), parsed, version))
    date, _, version = max(uploads)
    platforms = sorted(set().union(*(platform_tags(f["filename"]) for f in data["releases"][version])))
    return {
        "version": version,
        "date": date,
        "source": f"https://pypi.org/project/{name}/{version}/",
        "platforms": platforms,
    }


def npm_release(name: str) -> dict[str, Any]:
    """The `latest` dist-tag and the time the registry gives for it."""
    data = _get(f"https://registry.npmjs.org/{urllib.parse.quote(name, safe='@')}")
    version = data["dist-tags"]["latest"]
    date = dt.date.fromisoformat(data["time"][version][:10])
    return {"version": version, "date": date, "source": f"https://www.npmjs.com/package/{name}/v/{version}"}


def main(extra: list[str]) -> None:
    earlier = (yaml.safe_load(SNAPSHOT.read_text()) or {}) if SNAPSHOT.is_file() else {}
    packages: dict[str, dict[str, Any]] = {}
    for key in sorted(wanted(extra)):
        registry, _, name = key.partition(":")
        try:
            packages[key] = pypi_release(name) if registry == "pypi" else npm_release(name)
        except Exception as exc:  # noqa: BLE001 - one bad name must not lose the others
            sys.stderr.write(f"{key}: not read ({exc})\n")
            if key in earlier.get("packages", {}):  # keep what was read before, with the date it was read
                packages[key] = {"as_of": earlier["as_of"], **earlier["packages"][key]}
    print("# Newest final release of each library the knowledge base names (tools/registry_snapshot.py).")
    print("# `dlpick kb audit` applies the two-year dormant rule to these dates, as of `as_of` (an entry's own")
    print("# `as_of`, where given, when it was kept from an earlier snapshot); `platforms` are the platform tags")
    print("# of the release's wheels (manylinux_2_17_x86_64 -> manylinux_x86_64; `any`: a pure-Python wheel).")
    print("# npm note: the npm registry reached when this was written gave copy times, not publish times,")
    print("# for some packages; a `last_release` fact in a framework file states the date it decided on.")
    print(
        yaml.safe_dump(
            {
                "as_of": dt.date.today(),
                "source": "PyPI JSON API (https://pypi.org/pypi/NAME/json) and the npm registry "
                "(https://registry.npmjs.org/NAME)",
                "packages": packages,
            },
            sort_keys=False,
            width=120,
        ),
        end="",
    )


if __name__ == "__main__":
    main(sys.argv[1:])
