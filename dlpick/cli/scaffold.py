"""`dlpick scaffold`: render a framework's starter project, then prove it trains."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dlpick.cli.options import (
    ConstraintOpt,
    DeviceOpt,
    IsolatedOpt,
    KnowledgeOpt,
    NoInputOpt,
    TaskOpt,
    TimeoutOpt,
    session,
)

if TYPE_CHECKING:
    from dlpick.workflows.scaffold import ScaffoldResult

HELP = """Create a runnable starter project from a framework's template, then verify it.

Without FRAMEWORK, dlpick ranks the frameworks for your answers (as `dlpick recommend` does) and \
scaffolds the best-ranked one that has a template for the task. In a terminal it asks for what is \
missing; scripts pass --task and --dest (or an answers file).

A team profile (./dlpick.yaml or `dlpick --profile FILE`) supplies default answers, the knowledge \
folder, the Python version and the project-name pattern (used when --name is not given).

Nothing that exists is overwritten unless --force, and a failed or interrupted scaffold leaves nothing behind. \
--force writes the template's files into an existing folder and overwrites only those: your .git, data, runs \
and notes stay. It refuses files with uncommitted git changes; outside git the old versions are kept in \
.dlpick-backup/. A home folder, a filesystem root or a folder with no generated project needs --force twice \
(or a yes in a terminal).

Examples:

  dlpick scaffold pytorch --task image-classification --dest flowers
  dlpick scaffold --answers team.yaml --dest churn --name "Churn model"
  dlpick scaffold pytorch -t tabular-regression -d prices --no-verify
  dlpick scaffold pytorch -t text-classification -d reviews --force --json
  dlpick scaffold theano -t tabular-regression -d legacy --isolated

Retired frameworks (Theano, Caffe, MXNet) still scaffold, with a warning that names the successor \
and the knowledge-base facts behind it.
"""

Opt = typer.Option


FrameworkOpt = Annotated[
    str | None, typer.Argument(help="Framework id (default: the top recommendation).", show_default=False)
]
DestOpt = Annotated[Path | None, Opt("--dest", "-d", help="Folder to create the project in.")]
NameOpt = Annotated[
    str | None,
    Opt(
        "--name",
        help="Project name (default: the profile's pattern, else the folder's name).",
    ),
]
AnswersOpt = Annotated[
    Path | None, Opt("--answers", "-a", help="YAML answers file (as for `dlpick recommend`).", show_default=False)
]
VerifyOpt = Annotated[bool, Opt("--verify/--no-verify", help="Smoke-train and check the new project.")]
ForceOpt = Annotated[
    int,
    Opt(
        "--force",
        "-f",
        count=True,
        help="Write the template's files into an existing --dest, overwriting only those (listed); nothing "
        "else is touched. Twice (-ff) for a folder that holds no generated project.",
    ),
]
JsonOpt = Annotated[bool, Opt("--json", help="Print JSON instead of text.")]
FromMigrationOpt = Annotated[
    Path | None,
    Opt(
        "--from-migration",
        help="PyTorch only: put a passed `dlpick migrate caffe|mxnet` result (its --dest) into the project, as "
        "src/<package>/migrated/ with a test that replays the original framework's outputs.",
        show_default=False,
    ),
]


def scaffold(
    ctx: typer.Context,
    framework: FrameworkOpt = None,
    task: TaskOpt = None,
    dest: DestOpt = None,
    name: NameOpt = None,
    answers: AnswersOpt = None,
    no_input: NoInputOpt = False,
    verify: VerifyOpt = True,
    force: ForceOpt = 0,
    as_json: JsonOpt = False,
    knowledge_dir: KnowledgeOpt = None,
    device: DeviceOpt = "auto",
    timeout: TimeoutOpt = 300.0,
    isolated: IsolatedOpt = False,
    constraint: ConstraintOpt = None,
    from_migration: FromMigrationOpt = None,
) -> None:
    from dlpick.cli import output, output_verify, questionnaire
    from dlpick.workflows import scaffold as flow

    _check_migration(from_migration, framework)

    request = flow.ScaffoldRequest(
        framework=framework,
        task=task,
        dest=dest,
        name=name,
        answers_file=answers,
        no_input=no_input,
        verify=verify,
        force=force,
        device=device,
        timeout=timeout,
        isolated=isolated,
        constraints=constraint or [],
    )
    rendered: list[flow.ScaffoldResult] = []

    def on_rendered(result: flow.ScaffoldResult) -> None:
        rendered.append(result)
        _print_rendered(result, as_json)
        if from_migration is not None:  # before verification: the project's tests then check the port too
            _add_migration(from_migration, result, as_json)

    try:
        with output_verify.progress() as on_event:
            result = flow.scaffold(
                session(ctx, knowledge_dir), request, questionnaire.terminal(confirm=not as_json), on_rendered, on_event
            )
    except KeyboardInterrupt:
        raise  # the interrupt's one line says it (what was done comes from processes.record)
    except BaseException:
        if rendered and verify and not as_json:
            output.note(f"the project is complete at {rendered[0].rendered.project_dir}; verification did not finish")
        raise
    _show(result, as_json)


def _check_migration(migration: Path | None, framework: str | None) -> None:
    if migration is None:
        return
    from dlpick.errors import BadInput
    from dlpick.migrate import into_project

    if framework != "pytorch":
        raise BadInput("--from-migration: name the framework, pytorch (the migrated model is a PyTorch module)")
    into_project.check(migration)


def _add_migration(migration: Path, result: ScaffoldResult, as_json: bool) -> None:
    from dlpick.migrate import into_project

    rendered = result.rendered
    written = into_project.add(migration, rendered.project_dir, rendered.name.package)
    result.next_steps.append(
        f"the migrated model: from {rendered.name.package}.migrated import load "
        f"({len(written)} files; tests/{into_project.TEST} replays the original's outputs)"
    )
    if not as_json:
        typer.echo(f"added the migration from {migration}: {', '.join(written)}")


def _print_rendered(result: ScaffoldResult, as_json: bool) -> None:
    """What was written, before verification starts."""
    from dlpick.cli import output

    rendered = result.rendered
    for stale in rendered.kept_staging:
        output.note(f"note: {stale} holds files from an interrupted --force; check them, then remove it")
    if as_json:
        return
    if result.warning:
        output.note(f"warning: {result.warning}")
    if result.note:
        output.note(f"note: {result.note}")
    what = "updated" if rendered.replaced else "created"
    starter = f"{result.framework} {result.task} starter (package {rendered.name.package})"
    typer.echo(f"{what} {rendered.project_dir}: {starter}")
    if rendered.overwritten:
        typer.echo(f"overwrote {len(rendered.overwritten)} file(s): {', '.join(rendered.overwritten)}")
    if rendered.left_over:
        typer.echo(
            f"left in place from the previous template, not deleted ({len(rendered.left_over)} file(s)): "
            f"{', '.join(rendered.left_over)}"
        )
    if rendered.backup:
        typer.echo(f"their previous versions are in {rendered.backup}")


def _show(result: ScaffoldResult, as_json: bool) -> None:
    """The JSON document, or the checks and the next steps; then the exit status verification sets."""
    from dlpick.cli import output, output_verify
    from dlpick.workflows import verify as verify_flow

    if as_json:
        output.print_json(result.to_json())
    else:
        if result.verify is not None:
            output_verify.report(result.verify)
        typer.echo("\nNext steps:")
        for step in result.next_steps:
            typer.echo(f"  {step}")
    if result.verify is not None and (error := verify_flow.failure(result.verify)) is not None:
        raise error
