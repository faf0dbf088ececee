"""The team profile in effect for this run: `--profile FILE`, else ./dlpick.yaml, else none."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dlpick.advise.profile import Profile

# Set by the root command for each run (`dlpick --profile FILE ...`).
explicit: Path | None = None
_loaded: dict[str, Profile | None] = {}


def reset(path: Path | None) -> None:
    global explicit
    explicit = path
    _loaded.clear()


def current() -> Profile | None:
    """The profile, loaded once per run; None (and no yaml/pydantic import) when there is none."""
    if "profile" not in _loaded:
        from dlpick.advise import profile

        path = profile.find(explicit)
        _loaded["profile"] = profile.load(path) if path else None
        if path:
            from dlpick.cli import output

            output.detail(f"profile: {path}")
    return _loaded["profile"]


def knowledge_dir(flag: Path | None) -> Path | None:
    """--knowledge wins over the profile's `knowledge:`."""
    team = current()
    chosen = flag if flag is not None else (team.knowledge if team else None)
    from dlpick.cli import output

    if output.verbosity > 0:
        from dlpick.kb import knowledge

        output.detail("knowledge: " + ", ".join(str(d) for d in knowledge.knowledge_dirs(chosen)))
    return chosen


def answers(file: Path | None) -> tuple[dict[str, Any], dict[str, str], str]:
    """Profile answers under the answers file: (raw answers, origin per key, a label for the file)."""
    from dlpick.advise import answers as answers_mod

    team = current()
    base = team.answers if team else {}
    base_name = f"{team.path} (answers)" if team else ""
    top = answers_mod.read_file(file) if file else {}
    top_name = str(file or "")
    raw, origin = answers_mod.layer(base, base_name, top, top_name)
    return raw, origin, top_name or base_name
