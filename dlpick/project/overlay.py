"""Put a rendered project in place without ever losing a file the user had.

- A new or empty destination receives the project in one rename (or entry by entry into an
  empty folder, which may be the shell's current one).
- `--force` onto an existing folder writes only the files the template produces: every other
  file (a `.git`, notes, data, runs) is left as it was. Files that would change are listed;
  a file with uncommitted git changes is never overwritten; outside git, the old version of
  each overwritten file is kept in `.dlpick-backup/<time>/`. The swap runs with signals held
  and rolls back on any error, so an interrupted or failed `--force` leaves the old files.
- Destinations nobody keeps a project in (a home folder, a filesystem root, a folder with
  other things in it and no `.cookiecutter.json`/`.cruft.json`) need `--force` twice or a yes
  in a terminal.
- Staging folders (`.NAME.dlpick-XXXXXXXX` beside the destination) are locked while in use;
  ones left by a killed dlpick are removed by the next scaffold into the same parent folder.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dlpick import processes
from dlpick.errors import BadInput

PROJECT_MARKERS = (".cookiecutter.json", ".cruft.json")
BACKUP_DIR = ".dlpick-backup"
STAGING_RE = re.compile(r"\..+\.dlpick-[a-z0-9_]{8}")
OLD = "replaced"  # inside a staging folder: the old versions of files being overwritten


@dataclass
class Placed:
    """What was written into the destination."""

    created: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    backup: Path | None = None


# --- locks ---------------------------------------------------------------------------------


@contextlib.contextmanager
def locked(folder: Path, blocking: bool = True) -> Iterator[bool]:
    """An exclusive flock on a folder (yields False when not blocking and someone holds it)."""
    try:
        import fcntl
    except ImportError:  # Windows: no locks
        yield True
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield True  # cannot lock (e.g. no read permission): go on unlocked
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        except OSError:
            yield True
            return
        yield True
    finally:
        os.close(fd)


def hold(folder: Path) -> int | None:
    """Lock a staging folder for as long as this process lives (the lock goes with the process)."""
    try:
        import fcntl

        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def release(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


def make_staging(dest: Path) -> tuple[Path, int | None, list[Path]]:
    """A locked staging folder beside `dest`, after removing stale ones a killed dlpick left there;
    also the stale ones kept because they hold a user's files."""
    staging: Path | None = None
    held: int | None = None
    try:
        with locked(dest.parent):
            kept = clean_stale(dest.parent)
            with processes.signals_deferred():  # a signal is delivered only once the folder is known
                staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.dlpick-", dir=dest.parent))
                held = hold(staging)
    except BaseException:
        if staging is not None:
            release(held)
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging, held, kept


def clean_stale(parent: Path) -> list[Path]:
    """Remove staging folders of dead dlpick processes (not locked). One that holds old versions of
    a user's files (a --force killed while swapping files) is kept and returned, never deleted."""
    kept = []
    with contextlib.suppress(OSError):
        for path in parent.iterdir():
            if not STAGING_RE.fullmatch(path.name) or path.is_symlink() or not path.is_dir():
                continue
            with locked(path, blocking=False) as free:
                if not free:
                    continue  # another dlpick is using it
                old = path / OLD
                if old.is_dir() and any(old.iterdir()):
                    kept.append(path)
                    continue
                shutil.rmtree(path, ignore_errors=True)
    return kept


# --- what may be written -------------------------------------------------------------------


def homes() -> set[Path]:
    """This user's home folder and every account's (on POSIX)."""
    found = {Path.home()}
    with contextlib.suppress(Exception):
        import pwd

        found |= {Path(entry.pw_dir) for entry in pwd.getpwall() if entry.pw_dir not in ("", "/")}
    return {p.resolve() for p in found if str(p) not in ("", "/")}


def risky(dest: Path) -> str | None:
    """Why writing a template's files into the existing folder `dest` needs a second confirmation."""
    real = dest.resolve()
    if real == Path(real.anchor) or os.path.ismount(real):
        return "is a filesystem root"
    if real in homes():
        return "is a home folder"
    if not any((real / marker).is_file() for marker in PROJECT_MARKERS):
        return "holds other files and no generated project (.cookiecutter.json or .cruft.json)"
    return None


def files_of(project: Path) -> list[str]:
    """Every file (and symlink) of a rendered project, relative, sorted."""
    found = []
    for folder, dirs, files in os.walk(project):
        base = Path(folder)
        for name in files + [d for d in dirs if (base / d).is_symlink()]:
            found.append((base / name).relative_to(project).as_posix())
    return sorted(found)


def _same(a: Path, b: Path) -> bool:
    if a.is_symlink() or b.is_symlink():
        return a.is_symlink() and b.is_symlink() and a.readlink() == b.readlink()
    return b.is_file() and filecmp.cmp(a, b, shallow=False)


def plan(project: Path, dest: Path) -> Placed:
    """Sort the project's files into created / overwritten / unchanged; refuse what cannot be written."""
    placed = Placed()
    for rel in files_of(project):
        target = dest / rel
        for parent in list(Path(rel).parents)[:-1]:
            where = dest / parent
            if (where.exists() or where.is_symlink()) and (where.is_symlink() or not where.is_dir()):
                raise BadInput(f"{where}: the template puts a folder there, not a file or link; nothing written")
        if target.is_dir() and not target.is_symlink():
            raise BadInput(f"{target}: the template writes a file there, but it is a folder; nothing written")
        if not (target.exists() or target.is_symlink()):
            placed.created.append(rel)
        elif _same(project / rel, target):
            placed.unchanged.append(rel)
        else:
            placed.overwritten.append(rel)
    return placed


def git_state(dest: Path, files: list[str]) -> tuple[bool, list[str], list[str]]:
    """(inside a git work tree, files with uncommitted changes, files git ignores) among `files`."""
    if not files or shutil.which("git") is None:
        return False, [], []
    git = ["git", "-C", str(dest)]
    prefix = processes.capture([*git, "rev-parse", "--show-prefix"], 30)
    if prefix.returncode != 0:
        return False, [], []
    status = processes.capture(
        [*git, "status", "--porcelain=v1", "-z", "--ignored=matching", "--untracked-files=all", "--", *files], 60
    )
    if status.returncode != 0:
        return False, [], []
    base = prefix.stdout.strip()
    dirty: list[str] = []
    ignored: list[str] = []
    entries = status.stdout.split("\0")
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":  # a rename is followed by its source path
            index += 1
        rel = path[len(base) :] if base and path.startswith(base) else path
        (ignored if code == "!!" else dirty).append(rel)
    return True, sorted(dirty), sorted(ignored)


# --- writing -------------------------------------------------------------------------------


def overlay(
    project: Path, dest: Path, staging: Path, placed: Placed, backup: list[str], written: str | None = None
) -> None:
    """Move the project's new and changed files into `dest`, all or none.

    Old versions go to `staging/replaced` first; on any error every move is undone. Files in
    `backup` (old versions git cannot give back) are then kept under `dest/.dlpick-backup/<time>/`.
    `written` is noted (for a signal's message) before held signals are delivered: a signal that came
    during the swap then reports what was written, not "nothing was written".
    """
    old_root = staging / OLD
    done: list[tuple[str, bool]] = []  # (file, had an old version)
    made: list[Path] = []
    with processes.signals_deferred():
        try:
            for rel in placed.created + placed.overwritten:
                target = dest / rel
                for parent in reversed(list(Path(rel).parents)[:-1]):
                    if not (dest / parent).exists():
                        (dest / parent).mkdir()
                        made.append(dest / parent)
                had = target.exists() or target.is_symlink()
                if had:
                    (old_root / rel).parent.mkdir(parents=True, exist_ok=True)
                    target.rename(old_root / rel)
                done.append((rel, had))
                (project / rel).rename(target)
            if backup:
                placed.backup = _keep(old_root, dest, backup)
            if written:
                processes.record(written)
        except BaseException:
            for rel, had in reversed(done):
                target = dest / rel
                with contextlib.suppress(OSError):
                    if target.exists() or target.is_symlink():
                        target.unlink()
                    if had:
                        (old_root / rel).rename(target)
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise


def _keep(old_root: Path, dest: Path, files: list[str]) -> Path:
    """Move the old versions to dest/.dlpick-backup/<time>/ (all, or none: then the error)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = dest / BACKUP_DIR / stamp
    number = 1
    while folder.exists():
        number += 1
        folder = dest / BACKUP_DIR / f"{stamp}-{number}"
    created = not (dest / BACKUP_DIR).exists()
    moved: list[str] = []
    try:
        for rel in files:
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (old_root / rel).rename(folder / rel)
            moved.append(rel)
    except BaseException:
        for rel in moved:
            with contextlib.suppress(OSError):
                (folder / rel).rename(old_root / rel)
        # Only the folders made here, and only where empty: a file that could not be moved back stays.
        top = dest / BACKUP_DIR if created else folder
        for path in sorted((p for p in [top, *top.rglob("*")] if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
    return folder
