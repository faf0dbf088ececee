"""The update workflow: bring a generated project to the installed dlpick's template (project/update.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dlpick.errors import UpdateConflicts

if TYPE_CHECKING:
    from dlpick.project.update import Updated
    from dlpick.session import Session


@dataclass(frozen=True)
class UpdateRequest:
    project: Path
    dry_run: bool = False
    force: bool = False  # write even into a git tree with uncommitted changes (their old versions are kept)


def update(session: Session, request: UpdateRequest) -> Updated:
    from dlpick.project import history, record, render
    from dlpick.project import update as core

    project = Path(request.project).expanduser().absolute()
    before = history.recorded(project)
    # What was written is noted inside the swap (project/update.py), for a signal's message.
    result = core.update(request.project, dry_run=request.dry_run, force=request.force)
    recorded = record.read(result.project)  # the new base after a write
    root = render.templates_dir()
    result.template_from, result.template_to = before, history.current(root)
    result.changes = [
        f"{entry.version}: {entry.text}"
        for entry in history.between(history.read(root), before, result.template_to, recorded.framework)
    ]
    # Markers this update did not just write: an earlier update's, committed unresolved.
    names = [rel for rel in recorded.base if rel not in result.conflicts]
    result.unresolved = history.unresolved(result.project, names)
    return result


def failure(result: Updated) -> UpdateConflicts | None:
    """Conflicts left for a person (exit 1, like `git merge`); none with --dry-run, which writes nothing."""
    if result.dry_run or not (result.conflicts or result.unresolved):
        return None
    if not result.conflicts:
        return UpdateConflicts(
            f"conflict markers are still in {', '.join(result.unresolved)} (an earlier update's, committed unresolved)",
            hint="edit the <<<<<<< / >>>>>>> blocks, then commit",
        )
    count = len(result.conflicts)
    return UpdateConflicts(
        f"{count} file(s) changed both by you and by the template need resolving: {', '.join(result.conflicts)}",
        hint="edit the <<<<<<< yours / >>>>>>> template blocks, then commit",
    )
