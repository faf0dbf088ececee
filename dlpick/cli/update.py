"""`dlpick update`: bring a generated project to the installed dlpick's template (three-way merge)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dlpick.cli.options import session

if TYPE_CHECKING:
    from dlpick.project.update import Updated

HELP = """Bring a generated project to the template of the installed dlpick (new fixes, new files).

A three-way merge per file, offline: the base is the render the project recorded when it was made \
(.dlpick/base.tar.gz), the other side the installed template rendered with the project's answers.

  - files you have not changed are replaced by the new version (updated)
  - files both you and the template changed are merged; where the changes overlap, the file gets \
conflict markers (<<<<<<< yours / ||||||| base / >>>>>>> template) and is listed (conflicts); \
a binary file changed on both sides keeps your version
  - new template files are added; your own files are never touched
  - template files you deleted stay deleted (kept_deleted); files the template dropped stay, \
listed as obsolete: dlpick deletes nothing

In a git work tree with uncommitted changes or untracked files nothing is written unless --force; \
outside git (and for uncommitted files with --force) the old version of every changed file is kept \
in .dlpick-backup/<time>/. All files are written or none. Afterwards the new render is the recorded \
base, so a second update changes nothing.

cruft: dlpick has no public template repository, so a project gets a .cruft.json (for `cruft \
check/diff/update`) only when DLPICK_TEMPLATE_REPOSITORY names the team's own clone, fork or mirror \
of dlpick's templates; `dlpick update` is the supported way and needs no repository.

Templates have a version and a changelog (templates/CHANGELOG.md); the project records the version \
it was rendered from, and update shows `template OLD -> NEW` with the changelog entries in between \
for the project's framework. Conflict markers still in a template file (an earlier update's, committed \
unresolved) are listed and exit 1: such a project is not up to date.

Needs git to merge files changed on both sides (exit 3 without it).

Exit status: 0 updated (or nothing to do, or --dry-run); 1 updated, but conflicts are left to \
resolve (like `git merge`: the files are written, with markers; --json lists them); 2 bad input, \
or uncommitted changes without --force; 3 git is missing.

Examples:

  dlpick update flowers --dry-run
  dlpick update flowers
  dlpick update flowers --json
  dlpick update flowers --force      # uncommitted changes: old versions kept in .dlpick-backup/
"""


def update(
    ctx: typer.Context,
    project: Annotated[Path, typer.Argument(help="The generated project's folder.", show_default=False)],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the diff of what would change; write nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Update even with uncommitted changes (their old versions are kept).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    from dlpick.cli import output
    from dlpick.project import record
    from dlpick.workflows import update as flow

    result = flow.update(session(ctx), flow.UpdateRequest(project, dry_run=dry_run, force=force))
    if moved := record.cruft_moved_on(project):
        output.note(
            f"`cruft update` moved this project to template commit {moved[:12]} after dlpick recorded its base: "
            "conflicts cruft already resolved can come up again here; keep one update path (`dlpick update`)"
        )
    if record.uncontrolled_cruft(project):
        output.note(
            f"{project / record.CRUFT_FILE} names {record.UNCONTROLLED_REPOSITORY}, which dlpick does not control: "
            "`cruft update` would pull whatever template is published there; delete it (`git rm .cruft.json`)"
        )
    if as_json:
        data = result.to_json()
        if dry_run:
            data["diff"] = result.diff
        output.print_json(data)
    else:
        _show(result)
    if (error := flow.failure(result)) is not None:
        raise error


def _show(result: Updated) -> None:
    if result.dry_run:
        typer.echo(result.diff, nl=False)
    what = "would change" if result.dry_run else "updated"
    versions = f"template {result.template_from or 'unrecorded'} -> {result.template_to or 'unversioned'}"
    versions += f", dlpick {result.from_version} -> {result.to_version}"
    if result.changes:
        typer.echo(f"template changes since {result.template_from or 'the project was made'}:")
        for change in result.changes:
            typer.echo(f"  {change}")
    if result.unresolved:
        typer.echo(
            f"{result.project}: conflict markers still in: {', '.join(result.unresolved)} (resolve, then commit)"
        )
    if not result.changed and not result.kept_deleted and not result.obsolete:
        if not result.unresolved:
            typer.echo(f"{result.project}: up to date with the template ({versions})")
        return
    typer.echo(f"{result.project}: {what} ({versions})")
    rows = [
        ("updated", "updated (unchanged by you)"),
        ("merged", "merged (changed by both, cleanly)"),
        ("conflicts", "conflicts (resolve the markers)"),
        ("added", "added (new in the template)"),
        ("kept_deleted", "kept deleted (you deleted them)"),
        ("obsolete", "obsolete (no longer in the template; kept)"),
    ]
    for kind, label in rows:
        if files := getattr(result, kind):
            typer.echo(f"  {label}: {', '.join(files)}")
    if result.backup:
        typer.echo(f"previous versions are in {result.backup}")
