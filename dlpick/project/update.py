"""Bring a generated project to the installed dlpick's template: a three-way merge per file, offline.

The common ancestor is the render the project recorded (`.dlpick/base.tar.gz`, project/record.py);
"theirs" is the installed template rendered with the same answers; "yours" is the project as it is.

- template did not change a file: nothing happens to it, whatever the user did
- user did not change it: replaced by the new version (`updated`)
- both changed it: `git merge-file --diff3`; overlaps get conflict markers (`conflicts`), else `merged`.
  A binary file changed on both sides keeps the user's version and is listed as a conflict.
- new in the template: written (`added`); a user's file already there is merged with an empty base
- user deleted it: stays deleted (`kept_deleted`)
- removed from the template: left in place and listed (`obsolete`); dlpick never deletes a user's file
- user's own files: never looked at

Nothing is written in a git work tree with uncommitted changes (or untracked files) unless `force`.
Writes go through project/overlay.py: staged beside the project, swapped in all or none with signals
held, old versions kept in `.dlpick-backup/<time>/` where git cannot give them back. The new render
then becomes the recorded base, so updating twice changes nothing the second time.
"""

from __future__ import annotations

import difflib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpick import __version__, processes
from dlpick.errors import BadInput, MissingTool
from dlpick.project import overlay, record, render

LABELS = ("yours", "base", "template")
KINDS = ("updated", "merged", "conflicts", "added", "kept_deleted", "obsolete")


@dataclass
class Updated:
    """What an update did (or, with dry_run, would do)."""

    project: Path
    from_version: str
    to_version: str
    updated: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    kept_deleted: list[str] = field(default_factory=list)
    obsolete: list[str] = field(default_factory=list)
    dry_run: bool = False
    diff: str = ""  # with dry_run: the unified diff of every file that would change
    backup: Path | None = None
    writes: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # path -> (new content, mode)
    # Filled by the workflow (project/history.py): template versions, changelog lines, unresolved markers.
    template_from: str | None = None
    template_to: str | None = None
    changes: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(getattr(self, kind) for kind in ("updated", "merged", "conflicts", "added"))

    def to_json(self) -> dict[str, Any]:
        return {
            "project": str(self.project),
            **{kind: getattr(self, kind) for kind in KINDS},
            "from": self.from_version,
            "to": self.to_version,
            "dry_run": self.dry_run,
            "backup": str(self.backup) if self.backup else None,
            "template": {"from": self.template_from, "to": self.template_to, "changes": self.changes},
            "unresolved": self.unresolved,
        }


def _binary(content: bytes) -> bool:
    if b"\0" in content:
        return True
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _current(path: Path) -> bytes | None:
    """The project's file, or None when it is absent (a link or folder in its place reads as unmergeable)."""
    if path.is_symlink() or path.is_dir():
        return b"\0"  # not a regular file: treated as binary and never written over
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def merge3(yours: bytes, base: bytes, theirs: bytes, work: Path) -> tuple[bytes, bool]:
    """Three-way merge of text with git merge-file: (result, clean)."""
    if shutil.which("git") is None:
        raise MissingTool(
            "git is needed to merge files changed both by you and by the template; nothing written",
            hint="install git, or run `dlpick update --dry-run` to see the changes",
        )
    work.mkdir(parents=True, exist_ok=True)
    paths = [work / name for name in LABELS]
    for path, content in zip(paths, (yours, base, theirs), strict=True):
        path.write_bytes(content)
    labels = [arg for label in LABELS for arg in ("-L", label)]
    done = processes.capture(["git", "merge-file", "--diff3", *labels, *map(str, paths)], 60)
    if done.returncode is None or done.returncode < 0 or done.returncode > 127:
        raise BadInput(f"git merge-file failed: {done.first_line() or done.error or 'timed out'}")
    return paths[0].read_bytes(), done.returncode == 0


def plan(project: Path, base: dict[str, tuple[bytes, int]], new: Path, result: Updated, work: Path) -> None:
    """Fill `result` with what each template file becomes; `result.writes` gets the new contents."""
    fresh = record.read_files(new, [rel for rel in overlay.files_of(new) if not record.is_bookkeeping(rel)])
    for number, rel in enumerate(sorted(set(base) | set(fresh))):
        old, now = base.get(rel), fresh.get(rel)
        if old is not None and now is not None and old[0] == now[0]:
            continue  # the template did not change it
        yours = _current(project / rel)
        if now is None:  # removed from the template
            if yours is not None:
                result.obsolete.append(rel)
            continue
        if yours == now[0]:
            continue  # already as the template has it
        mode = (project / rel).stat().st_mode if yours is not None and not (project / rel).is_symlink() else now[1]
        if old is None and yours is None:
            result.added.append(rel)
        elif old is not None and yours is None:
            result.kept_deleted.append(rel)
            continue
        elif old is not None and yours == old[0]:
            result.updated.append(rel)
        else:
            assert yours is not None
            ancestor = old[0] if old is not None else b""
            if _binary(yours) or _binary(ancestor) or _binary(now[0]):
                result.conflicts.append(rel)  # kept as the user has it
                continue
            merged, clean = merge3(yours, ancestor, now[0], work / str(number))
            (result.merged if clean else result.conflicts).append(rel)
            result.writes[rel] = (merged, mode)
            continue
        result.writes[rel] = (now[0], mode)


def _bookkeeping(project: Path, new: Path, result: Updated) -> None:
    """The new records (.cruft.json, .dlpick/) replace the old ones where they differ."""
    for rel in (rel for rel in overlay.files_of(new) if record.is_bookkeeping(rel)):
        content = (new / rel).read_bytes()
        if _current(project / rel) != content:
            result.writes[rel] = (content, (new / rel).stat().st_mode)


def unified_diff(project: Path, writes: dict[str, tuple[bytes, int]]) -> str:
    chunks = []
    for rel in sorted(writes):
        before = _current(project / rel) or b""
        after = writes[rel][0]
        if _binary(before) or _binary(after):
            chunks.append(f"Binary files a/{rel} and b/{rel} differ\n")
            continue
        lines = difflib.unified_diff(
            before.decode().splitlines(keepends=True),
            after.decode().splitlines(keepends=True),
            f"a/{rel}" if (project / rel).exists() else "/dev/null",
            f"b/{rel}",
        )
        chunks.append(
            "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
        )
    return "".join(chunks)


def refuse_dirty(project: Path) -> tuple[bool, list[str], list[str]]:
    """(in git, uncommitted files, ignored files) of the project; the uncommitted ones are not yet refused."""
    return overlay.git_state(project, ["."])


def update(
    project_dir: str | Path, dry_run: bool = False, force: bool = False, templates_root: Path | None = None
) -> Updated:
    """Merge the installed template's changes into the project at `project_dir` (see the module's doc)."""
    project = Path(project_dir).expanduser().absolute()
    if not project.is_dir():
        raise BadInput(f"{project}: no such project folder")
    record.read(project)  # one line for a folder that is not a generated project, before anything is made
    staging, held, _ = overlay.make_staging(project)
    try:
        # One scaffold or update at a time writes here; the record is read under the lock, so a second
        # update merges onto the base the first one left, not the one it replaced.
        with overlay.locked(project.parent):
            recorded = record.read(project)
            template = render.get_template(recorded.framework, templates_root)
            in_git, dirty, ignored = (False, [], []) if dry_run else refuse_dirty(project)
            dirty = [rel for rel in dirty if not rel.startswith(overlay.BACKUP_DIR + "/")]
            if dirty and not force:
                shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
                raise BadInput(
                    f"{project}: uncommitted changes, nothing updated: {shown}",
                    hint="commit or stash them first, or pass --force: their old versions are kept in .dlpick-backup/",
                )
            result = Updated(project, recorded.dlpick_version, __version__, dry_run=dry_run)
            # Validated as scaffold validates a user's answers: the record may have been written by anyone.
            context = render.recorded_context(template, recorded.context, str(project / record.BASE_JSON))
            new = render.render_tree(template, staging, context)
            plan(project, recorded.base, new, result, staging / "merge")
            _bookkeeping(project, new, result)
            if dry_run:
                result.diff = unified_diff(project, result.writes)
            elif result.writes:
                _write(project, staging, result, backup_all=not in_git, keep=set(dirty) | set(ignored))
    finally:
        with processes.signals_deferred():
            shutil.rmtree(staging, ignore_errors=True)
            overlay.release(held)
    return result


def _write(project: Path, staging: Path, result: Updated, backup_all: bool, keep: set[str]) -> None:
    """Stage every new content, then swap them in all or none (project/overlay.py)."""
    stage = staging / "result"
    placed = overlay.Placed()
    for rel, (content, mode) in sorted(result.writes.items()):
        target = stage / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(mode & 0o7777)
        exists = (project / rel).exists() or (project / rel).is_symlink()
        (placed.overwritten if exists else placed.created).append(rel)
    # Old versions git cannot give back: every one outside git; uncommitted or ignored ones in git.
    backup = [rel for rel in placed.overwritten if backup_all or rel in keep]
    overlay.overlay(stage, project, staging, placed, backup=backup, written=written(result))
    result.backup = placed.backup


def written(result: Updated) -> str:
    """Exactly what an update wrote, for the message of a signal that arrives once it is done."""
    files = sorted(result.writes)
    said = f"{result.project}: {len(files)} file(s) written ({', '.join(files)})"
    if result.conflicts:
        said += f", {len(result.conflicts)} with conflict markers ({', '.join(result.conflicts)})"
    return said
