"""What a generated project records about where it came from, so it can be brought up to date later.

- `.cruft.json`: cruft's own record (template repository, directory, commit, answers, skip), written
  only when the team names a repository of dlpick's templates that it controls ($DLPICK_TEMPLATE_REPOSITORY:
  its clone, fork or mirror). dlpick has no public repository of its own, and a record naming one that
  anybody could register would make `cruft update` pull that stranger's template into the project; so
  by default there is none, and `dlpick update` (offline, from `.dlpick/`) is the way to update.
- `.dlpick/base.tar.gz`: the files exactly as the template rendered them (a few tens of KB). It is the
  common ancestor of `dlpick update`'s three-way merge, so an update works offline and with any later
  dlpick, whatever templates it ships. A tarball, not a folder of files: pytest, ruff and editors
  would otherwise pick up the copies of the project's modules and tests.
- `.dlpick/base.json`: the dlpick version, template version (templates/CHANGELOG.md) and commit it came
  from, the framework and the answers.

The tarball is deterministic (sorted entries, no times, owners or gzip name), so rendering the same
template with the same answers gives the same bytes: a second update changes nothing.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlpick import __version__, jsonfile, processes
from dlpick.errors import BadInput

# The team's repository of dlpick's templates (a clone, fork or mirror it controls): `.cruft.json` names it.
# Unset: no `.cruft.json` (dlpick does not control any public location a record could name).
REPOSITORY_ENV = "DLPICK_TEMPLATE_REPOSITORY"
# What projects generated before this rule named: a repository dlpick never controlled.
UNCONTROLLED_REPOSITORY = "https://github.com/dlpick/dlpick"
CRUFT_FILE = ".cruft.json"
ANSWERS_FILE = ".cookiecutter.json"
RECORD_DIR = ".dlpick"
BASE_JSON = f"{RECORD_DIR}/base.json"
BASE_TAR = f"{RECORD_DIR}/base.tar.gz"
FORMAT = 1
# cookiecutter's keys naming this machine's folders: never written into a project.
MACHINE_KEYS = ("_output_dir", "_repo_dir", "_template")
# dlpick's own files: not the template's, so neither cruft nor the three-way merge touches them
# (cruft renders `.cookiecutter.json` with its temporary folders in it: merging that leaves a .rej).
SKIP = [ANSWERS_FILE, RECORD_DIR]


@dataclass(frozen=True)
class Record:
    """What `.dlpick/base.json` and `.dlpick/base.tar.gz` hold."""

    framework: str
    context: dict[str, Any]  # the answers (project_name, project_slug, package_name, task, python_version)
    dlpick_version: str
    commit: str | None
    base: dict[str, tuple[bytes, int]]  # relative path -> (content, mode) as the template rendered it


def is_bookkeeping(rel: str) -> bool:
    """dlpick's and cruft's records: written by dlpick, never merged."""
    return rel == CRUFT_FILE or rel == RECORD_DIR or rel.startswith(RECORD_DIR + "/")


def repository() -> str | None:
    return os.environ.get(REPOSITORY_ENV, "").strip() or None


def template_source(template: Path) -> tuple[str, str | None]:
    """(the template's directory inside dlpick's repository, the templates' git commit or None).

    The commit is known only when the templates are a clean, tracked part of a git checkout (the
    source tree, or a clone DLPICK_TEMPLATES points at); an installed wheel has none.
    """
    default = f"templates/{template.name}"
    if shutil.which("git") is None:
        return default, None
    git = ["git", "-C", str(template)]
    prefix = processes.capture([*git, "rev-parse", "--show-prefix"], 30)
    head = processes.capture([*git, "rev-parse", "HEAD"], 30)
    if prefix.returncode != 0 or head.returncode != 0:
        return default, None
    directory = prefix.stdout.strip().rstrip("/")
    # Tracked, and the templates (shared includes too) as committed: else no commit renders these files.
    tracked = processes.capture([*git, "ls-files", "--error-unmatch", "cookiecutter.json"], 30)
    status = processes.capture([*git, "status", "--porcelain", "--", ".", "../_shared"], 30)
    if tracked.returncode != 0 or status.returncode != 0 or status.stdout.strip():
        return directory or default, None
    return directory or default, head.stdout.strip() or None


def answers(context: dict[str, Any]) -> dict[str, Any]:
    """The cookiecutter context without this machine's paths."""
    return {key: value for key, value in sorted(context.items()) if key not in MACHINE_KEYS}


def pack(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A deterministic .tar.gz of `files`."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(files):
            content, mode = files[rel]
            info = tarfile.TarInfo(rel)
            info.size, info.mode, info.mtime = len(content), mode & 0o777, 0
            tar.addfile(info, io.BytesIO(content))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as packed:
        packed.write(raw.getvalue())
    return out.getvalue()


# Bounds on a project's records (they may come from someone else): far above any template's render.
MAX_JSON_BYTES = 1 << 20
MAX_TAR_BYTES = 16 << 20  # on disk
MAX_BASE_BYTES = 64 << 20  # all members unpacked
MAX_MEMBERS = 5000


def unpack(data: bytes, where: str) -> dict[str, tuple[bytes, int]]:
    """The files of a base tarball, refusing links, paths outside the project and bombs: every member's
    declared size is checked before it is read, and the stream is read in order (never seeked over)."""
    files: dict[str, tuple[bytes, int]] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|gz") as tar:
            for member in tar:
                name = member.name
                if not member.isfile() or name.startswith("/") or ".." in Path(name).parts:
                    raise BadInput(f"{where}: holds {name!r}, which is not a project file")
                total += member.size
                if len(files) >= MAX_MEMBERS or total > MAX_BASE_BYTES:
                    raise BadInput(
                        f"{where}: more than {MAX_MEMBERS} files or {MAX_BASE_BYTES >> 20} MiB unpacked; "
                        "not a template's render",
                        hint="restore it from git",
                    )
                extracted = tar.extractfile(member)
                content = extracted.read(member.size + 1) if extracted else b""
                if len(content) != member.size:
                    raise BadInput(f"{where}: {name!r} is truncated", hint="restore it from git")
                files[name] = (content, member.mode)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise BadInput(f"{where}: unreadable ({exc})", hint="restore it from git") from None
    return files


def read_files(project: Path, names: list[str]) -> dict[str, tuple[bytes, int]]:
    return {rel: ((project / rel).read_bytes(), (project / rel).stat().st_mode) for rel in names}


def write(project: Path, framework: str, template: Path, given: dict[str, Any]) -> None:
    """Record the freshly rendered `project`: the answers from its `.cookiecutter.json` (already without
    machine paths) when the template writes one, else the `given` ones."""
    from dlpick.project import overlay

    context = dict(given)
    with contextlib.suppress(OSError, ValueError):
        found = json.loads((project / ANSWERS_FILE).read_text(encoding="utf-8"))
        context = found if isinstance(found, dict) else context
    base = read_files(project, [rel for rel in overlay.files_of(project) if not is_bookkeeping(rel)])
    directory, commit = template_source(template)
    url = repository()
    cruft = {
        "template": url,
        "commit": commit,
        "checkout": None,
        "context": {"cookiecutter": {**answers(context), "_template": url, "_commit": commit}},
        "directory": directory,
        "skip": SKIP,
    }
    record_cruft = url is not None
    from dlpick.project import history

    record = {
        "format": FORMAT,
        "dlpick": __version__,
        "template_version": history.current(template.parent),
        "framework": framework,
        "commit": commit,
        "context": answers(context),
    }
    (project / RECORD_DIR).mkdir(exist_ok=True)
    (project / BASE_TAR).write_bytes(pack(base))
    (project / BASE_JSON).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    if record_cruft:
        (project / CRUFT_FILE).write_text(json.dumps(cruft, indent=2) + "\n", encoding="utf-8")


def uncontrolled_cruft(project: Path) -> bool:
    """The project's `.cruft.json` names the repository dlpick never controlled (projects made before this rule)."""
    try:
        data = json.loads((project / CRUFT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and str(data.get("template", "")).rstrip("/") == UNCONTROLLED_REPOSITORY


def read(project: Path) -> Record:
    """The project's record; a one-line error when it has none (made before dlpick recorded one)."""
    where = project / BASE_JSON
    if not os.path.lexists(where) or not os.path.lexists(project / BASE_TAR):
        raise BadInput(
            f"{project}: no {BASE_JSON} and {BASE_TAR}; not a project dlpick generated (or made before it kept them)",
            hint="`dlpick scaffold FRAMEWORK --dest DIR --force` over it records them (template files are overwritten)",
        )
    data = jsonfile.load(where, "dlpick record", limit=MAX_JSON_BYTES)
    if not isinstance(data, dict) or not isinstance(data.get("context"), dict) or not data.get("framework"):
        raise BadInput(f"{where}: not a dlpick record (no framework or context)", hint="restore it from git")
    if not isinstance(data["framework"], str) or not data["framework"].isidentifier():
        raise BadInput(f"{where}: framework: not a framework id", hint="restore it from git")
    base = unpack(jsonfile.read_regular(project / BASE_TAR, MAX_TAR_BYTES, "dlpick record"), str(project / BASE_TAR))
    return Record(str(data["framework"]), data["context"], str(data.get("dlpick", "?")), data.get("commit"), base)


def cruft_moved_on(project: Path) -> str | None:
    """The commit `.cruft.json` names when `cruft update` moved the project past dlpick's recorded base."""
    try:
        cruft = json.loads((project / CRUFT_FILE).read_text(encoding="utf-8")[:1_000_000])
        base = json.loads((project / BASE_JSON).read_text(encoding="utf-8")[:1_000_000])
    except (OSError, ValueError):
        return None
    if not isinstance(cruft, dict) or not isinstance(base, dict):
        return None
    moved, recorded = cruft.get("commit"), base.get("commit")
    return moved if isinstance(moved, str) and moved and moved != recorded else None
