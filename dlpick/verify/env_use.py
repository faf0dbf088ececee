"""Who is using an isolated environment, so that `dlpick envs remove` never deletes one under a user.

A dlpick process that gets an environment (`envs.ensure`) holds a shared flock on `NAME.use` beside it
for the rest of its life (the lock goes with the process, however it ends). Removing takes the build
lock and that file's exclusive lock without waiting: if either is held, the environment is being built
or used, and the processes holding it are named.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from dlpick.errors import BadInput

SUFFIX = ".use"
_HELD: dict[str, int] = {}  # environment path -> the descriptor of its shared lock, for this process's life


def use_file(path: Path) -> Path:
    return path.parent / f"{path.name}{SUFFIX}"


def use(path: Path) -> None:
    """Mark `path` as used by this process until it exits (call with the build lock held)."""
    key = str(path)
    if key in _HELD:
        return
    try:
        import fcntl

        fd = os.open(use_file(path), os.O_RDONLY | os.O_CREAT, 0o644)
    except (ImportError, OSError):
        return  # no locks here (Windows) or a read-only cache: nothing to protect it with
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    except OSError:
        os.close(fd)
        return
    _HELD[key] = fd


def holders(path: Path) -> list[int]:
    """Process ids that have `path` open (best effort: other users' processes may be invisible)."""
    import psutil

    target = str(path)
    found = []
    for process in psutil.process_iter(["pid"]):
        if process.pid == os.getpid():
            continue  # this process has it open to ask
        with contextlib.suppress(psutil.Error, OSError):
            if any(item.path == target for item in process.open_files()):
                found.append(process.pid)
    return sorted(found)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    try:
        import fcntl

        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    except (ImportError, OSError):
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


@contextlib.contextmanager
def unused(path: Path, build_lock: Path) -> Iterator[None]:
    """Hold `path` against builders and users while the block runs; BadInput naming them if any is busy."""
    if str(path) in _HELD:
        raise BadInput(f"{path.name}: in use by this dlpick; left alone")
    with _exclusive(build_lock) as free:
        if not free:
            pids = ", ".join(map(str, holders(build_lock))) or "unknown"
            raise BadInput(
                f"{path.name}: being built by another dlpick (process {pids}); left alone",
                hint="wait for it to finish, then remove it",
            )
        with _exclusive(use_file(path)) as idle:
            if not idle:
                pids = ", ".join(map(str, holders(use_file(path)))) or "unknown"
                raise BadInput(
                    f"{path.name}: in use by dlpick (process {pids}); left alone",
                    hint="wait for it to finish, then remove it",
                )
            yield
