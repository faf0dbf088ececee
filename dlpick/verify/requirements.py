"""What a generated project declares it needs, and whether an interpreter has it.

verify checks this before running anything: a project whose requirements are missing or at the
wrong version cannot be judged, so it is *not verified* (exit 3) with the one command that
installs them, never *failed*. The check runs in the project's interpreter and imports nothing
(importlib.metadata, with `packaging` or pip's copy of it for specifiers and markers).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlpick import processes
from dlpick.errors import BadInput

PROBE = r"""
import json, re, sys
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:
    try:
        from pip._vendor.packaging.requirements import Requirement
    except ImportError:
        Requirement = None
unmet = []
for line in json.loads(sys.argv[1]):
    if Requirement is None:  # no way to read specifiers: check the name only
        name, spec, marker = re.split(r"[\s\[<>=!~;]", line, maxsplit=1)[0], None, None
    else:
        try:
            req = Requirement(line)
        except Exception as exc:  # InvalidRequirement: said as data, not as a traceback
            print(json.dumps({"invalid": line, "why": (str(exc).splitlines() or [""])[0]}))
            sys.exit(0)
        name, spec, marker = req.name, req.specifier, req.marker
        if marker is not None and not marker.evaluate({"extra": ""}):
            continue
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        unmet.append([line, None])
        continue
    if spec and not spec.contains(have, prereleases=True):
        unmet.append([line, have])
print(json.dumps(unmet))
"""


@dataclass(frozen=True)
class Unmet:
    requirement: str
    installed: str | None  # None: not installed at all

    def describe(self) -> str:
        if self.installed is None:
            return f"{self.requirement} (not installed)"
        return f"{self.requirement} (has {self.installed})"


def _pyproject(project: Path) -> dict[str, Any]:
    path = project / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ImportError:
            return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path}: unreadable ({exc})") from None
    return data if isinstance(data, dict) else {}


def read_lines(path: Path, keep_options: bool = False, seen: tuple[Path, ...] = ()) -> list[str]:
    """A requirements file's requirement lines, comments dropped and `-r OTHER` includes read in place
    (relative to the file). Other pip options (--index-url, -c) are kept only with `keep_options`."""
    if path.resolve() in seen:
        raise BadInput(f"{path}: includes itself (-r)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: unreadable ({exc})") from None
    lines = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            include = path.parent / line.split(None, 1)[1].strip()
            if not include.is_file():
                raise BadInput(f"{path}: includes {include.name}, which does not exist")
            lines += read_lines(include, keep_options, (*seen, path.resolve()))
        elif keep_options or not line.startswith("-"):
            lines.append(line)
    return lines


def _dynamic_files(pyproject: dict[str, Any], project: Path) -> list[Path]:
    """The files setuptools reads the dependencies from (`[tool.setuptools.dynamic]`)."""
    dynamic = pyproject.get("tool", {}).get("setuptools", {}).get("dynamic", {}).get("dependencies", {})
    files = dynamic.get("file", []) if isinstance(dynamic, dict) else []
    files = [files] if isinstance(files, str) else files
    return [project / str(name) for name in files] or [project / "requirements.txt"]


def extras_for(project: Path, device: str, dev: bool = True) -> list[str]:
    """The extras a working install of the project needs: the framework's variant, then dev (its tests'
    tools; `dev=False` for what only runs its code, as `dlpick bench` does)."""
    optional = _pyproject(project).get("project", {}).get("optional-dependencies", {})
    extras = []
    variant = "gpu" if device == "cuda" else "cpu"
    if isinstance(optional, dict) and variant in optional:
        extras.append(variant)
    if dev and isinstance(optional, dict) and "dev" in optional:
        extras.append("dev")
    return extras


def declared(project: Path, device: str = "cpu", dev: bool = True) -> list[str]:
    """The project's requirements: its dependencies (pyproject's list, or requirements.txt when
    pyproject reads them from there) and those of the extras `extras_for` picks."""
    pyproject = _pyproject(project)
    data = pyproject.get("project", {})
    found: list[str] = []
    deps = data.get("dependencies")
    if isinstance(deps, list):
        found += [str(d) for d in deps]
    else:
        for path in _dynamic_files(pyproject, project):
            if path.is_file():
                found += read_lines(path)
    optional = data.get("optional-dependencies", {})
    for extra in extras_for(project, device, dev):
        found += [str(d) for d in optional.get(extra, []) if extra != "dev" or not _commit_tool(str(d))]
    return list(dict.fromkeys(found))


# Developer tools of the dev extra that no check runs: the linter and formatter `.pre-commit-config.yaml`
# runs on each commit. An environment without them still trains, exports, serves and passes its tests.
COMMIT_TOOLS = frozenset({"ruff", "pre-commit"})


def _commit_tool(requirement: str) -> bool:
    name = re.split(r"[\s<>=!~;\[(@]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower() in COMMIT_TOOLS


def install_command(project: Path, device: str = "cpu") -> str:
    """The one command that installs the project with what it declares."""
    extras = extras_for(project, device)
    target = f"{project}[{','.join(extras)}]" if extras else str(project)
    return f"python -m pip install -e {shlex.quote(target)}"


def unmet(python: str, requirements: list[str], cwd: Path, env: dict[str, str] | None = None) -> list[Unmet]:
    """The requirements `python` does not satisfy (markers honoured), found without importing them."""
    if not requirements:
        return []
    proc = processes.capture([python, "-c", PROBE, json.dumps(requirements)], 60, cwd=cwd, env=env)
    if proc.error or proc.returncode is None:
        why = proc.error or "timed out after 60 s"
        raise BadInput(f"{python}: cannot check the project's requirements ({why})") from None
    try:
        rows = json.loads(proc.stdout.strip().splitlines()[-1])
        if isinstance(rows, dict):
            raise BadInput(f"{cwd}: the project declares {rows['invalid']!r}, not a valid requirement ({rows['why']})")
    except (ValueError, IndexError, KeyError):
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise BadInput(f"{python}: cannot check the project's requirements ({why})") from None
    return [Unmet(str(line), None if have is None else str(have)) for line, have in rows]
