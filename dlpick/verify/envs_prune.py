"""`dlpick envs prune`: which cached environments to remove to fit a size, and which are in use."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def prune_plan(found: list[dict[str, Any]], max_bytes: int, keep: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The environments to remove so all of them fit in `max_bytes`: unfinished builds first, then the least
    recently used (an older `used` first), never one named in `keep`; needs each one's `bytes`."""
    order = sorted(
        (e for e in found if e["name"] not in keep), key=lambda env: (env["complete"], env.get("used") or "")
    )
    total = sum(env["bytes"] or 0 for env in found)
    chosen = []
    for env in order:
        if total <= max_bytes:
            break
        chosen.append(env)
        total -= env["bytes"] or 0
    return chosen


def busy(path: Path) -> bool:
    """Another dlpick is building this environment (its build lock) or using it (verify/env_use.py)."""
    from dlpick.verify import env_use

    try:
        import fcntl
    except ImportError:
        return False
    for lock in (Path(f"{path}.lock"), env_use.use_file(path)):
        if not lock.is_file():
            continue
        with lock.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    return False
