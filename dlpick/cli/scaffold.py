"""`dlpick scaffold`: render a framework's starter project, then prove it trains."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dlpick.cli.options import KnowledgeOpt
from dlpick.cli.verify import ConstraintOpt, DeviceOpt, IsolatedOpt, TimeoutOpt

if TYPE_CHECKING:
    from dlpick.advise.profile import Profile
    from dlpick.project.render import Rendered, Template

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


def scaffold(
    framework: Annotated[
        str | None, typer.Argument(help="Framework id (default: the top recommendation).", show_default=False)
    ] = None,
    task: Annotated[str | None, Opt("--task", "-t", help="Task id, e.g. image-classification.")] = None,
    dest: Annotated[Path | None, Opt("--dest", "-d", help="Folder to create the project in.")] = None,
    name: Annotated[
        str | None,
        Opt(
            "--name",
            help="Project name (default: the profile's pattern, else the folder's name).",
        ),
    ] = None,
    answers: Annotated[
        Path | None, Opt("--answers", "-a", help="YAML answers file (as for `dlpick recommend`).", show_default=False)
    ] = None,
    no_input: Annotated[bool, Opt("--no-input", help="Never ask questions; fail if answers are missing.")] = False,
    verify: Annotated[bool, Opt("--verify/--no-verify", help="Smoke-train and check the new project.")] = True,
    force: Annotated[
        int,
        Opt(
            "--force",
            "-f",
            count=True,
            help="Write the template's files into an existing --dest, overwriting only those (listed); nothing "
            "else is touched. Twice (-ff) for a folder that holds no generated project.",
        ),
    ] = 0,
    as_json: Annotated[bool, Opt("--json", help="Print JSON instead of text.")] = False,
    knowledge_dir: KnowledgeOpt = None,
    device: DeviceOpt = "auto",
    timeout: TimeoutOpt = 300.0,
    isolated: IsolatedOpt = False,
    constraint: ConstraintOpt = None,
) -> None:
    from dlpick.errors import BadInput
    from dlpick.project import render

    if verify:
        from dlpick.cli.verify import check_device

        check_device(device)
    from dlpick.cli import team

    profile = team.current()
    knowledge_dir = team.knowledge_dir(knowledge_dir)
    raw, origin, label = team.answers(answers)
    task = task or (str(raw["task"]) if raw.get("task") else None)
    missing = [flag for flag, value in (("--task", task), ("--dest", dest)) if value is None]
    interactive = not no_input and sys.stdin.isatty()
    if missing and not interactive:
        why = "--no-input was given" if no_input else "there is no terminal to ask in"
        raise BadInput(f"missing {' and '.join(missing)} ({why})", hint="e.g. --task image-classification --dest DIR")
    templates = render.list_templates()
    if framework is not None:
        render.get_template(framework)
    if task is None:
        task = _ask_task(templates, framework)
    note = None
    if framework is None:
        framework, note = _recommend(raw, origin, label, task, knowledge_dir, templates)
    render.check_task(templates[framework], task)
    if name is None and profile is not None:
        name = profile.project_name_for(task, framework)
    if dest is None:
        dest = _ask_dest(name)
    python = _python(raw, origin, profile)
    retired = _retired_warning(framework, knowledge_dir)
    rendered = _render(framework, task, dest, name, force, python, interactive and not as_json)

    from dlpick import processes
    from dlpick.cli import output

    processes.record(f"the project is complete at {rendered.project_dir}")
    for stale in rendered.kept_staging:
        output.note(f"note: {stale} holds files from an interrupted --force; check them, then remove it")

    if retired and not as_json:
        output.note(f"warning: {retired}")

    steps = next_steps(rendered)
    summary = {**rendered.to_json(), "note": note, "warning": retired, "next_steps": steps}
    if not as_json:
        if note:
            output.note(f"note: {note}")
        what = "updated" if rendered.replaced else "created"
        typer.echo(f"{what} {rendered.project_dir}: {framework} {task} starter (package {rendered.name.package})")
        if rendered.overwritten:
            typer.echo(f"overwrote {len(rendered.overwritten)} file(s): {', '.join(rendered.overwritten)}")
        if rendered.backup:
            typer.echo(f"their previous versions are in {rendered.backup}")
    if verify:
        from dlpick.cli import verify as verify_cli

        result = None
        try:
            result = verify_cli.run(
                rendered.project_dir, device, timeout, knowledge_dir, as_json, isolated, constraint or []
            )
        finally:
            if result is None and not as_json:
                output.note(f"the project is complete at {rendered.project_dir}; verification did not finish")
        verify_cli.show(result, as_json, extra=summary)
        if not as_json:
            _print_steps(steps)
        verify_cli.raise_for(result)
        return
    if as_json:
        output.print_json({**summary, "verify": None})
    else:
        _print_steps(steps)


def _render(
    framework: str, task: str, dest: Path, name: str | None, force: int, python: str | None, can_ask: bool
) -> Rendered:
    """Render; a --force that needs confirming is asked in a terminal (else the one-line refusal stands)."""
    from dlpick.project import render

    try:
        return render.render(framework, task, dest, name=name, force=force, python_version=python)
    except render.NeedsConfirmation as exc:
        if not can_ask:
            raise
        import questionary

        from dlpick.cli import output

        output.note(f"dlpick: {exc.message}")
        if not _ask(questionary.confirm("Write the template's files into it anyway?", default=False)):
            raise
        return render.render(framework, task, dest, name=name, force=2, python_version=python)


def _retired_warning(framework: str, knowledge_dir: Path | None) -> str | None:
    """For a retired framework: since when, the successor, how to migrate, and the source."""
    from dlpick.kb import knowledge

    kb = knowledge.load(knowledge_dir)
    entry = kb.frameworks.get(framework, {})
    status = entry.get("status")
    if not isinstance(status, dict) or status.get("value") != "retired":
        return None
    successor = status.get("successor")
    name = kb.frameworks.get(successor, {}).get("name", successor) if successor else None
    text = f"{entry.get('name', framework)} is retired (since {status.get('since', 'unknown')})"
    text += f"; its successor is {name} (`dlpick scaffold {successor}`)" if successor else "; no successor is named"
    migration = " ".join(str(status.get("migration", "")).split())
    if migration:
        text += f". {migration}"
    source = status.get("source")
    return text + (f" [source: {source}, as of {status.get('as_of')}]" if source else "")


def _python(raw: dict[str, Any], origin: dict[str, str], profile: Profile | None) -> str | None:
    """The answers file's `python`, else the profile's template.python_version, else the profile's answers."""
    from_profile = profile is not None and origin.get("python") == f"{profile.path} (answers)"
    if raw.get("python") and not from_profile:
        return str(raw["python"])
    if profile is not None and profile.python_version:
        return profile.python_version
    return str(raw["python"]) if raw.get("python") else None


def _recommend(
    raw: dict[str, Any],
    origin: dict[str, str],
    label: str,
    task: str,
    knowledge_dir: Path | None,
    templates: dict[str, Template],
) -> tuple[str, str | None]:
    from dlpick.advise import answers as answers_mod
    from dlpick.advise import scoring
    from dlpick.kb import knowledge
    from dlpick.project import render

    kb = knowledge.load(knowledge_dir)
    merged, origin = answers_mod.merge(raw, {"task": task}, label, origin)
    result = scoring.recommend(answers_mod.normalise(merged, kb.vocabulary, source=origin), kb)
    framework, note = render.pick_template([r.framework for r in result.ranking], task, templates)
    return framework, note or f"{framework} is the top recommendation for these answers (`dlpick recommend`)"


def _ask(question: Any) -> Any:
    answer = question.unsafe_ask()
    if answer is None:
        raise KeyboardInterrupt
    return answer


def _ask_task(templates: dict[str, Template], framework: str | None) -> str:
    import questionary

    chosen = [templates[framework]] if framework else list(templates.values())
    tasks = list(dict.fromkeys(task for template in chosen for task in template.tasks))
    return str(_ask(questionary.select("What will the model do?", choices=tasks)))


def _ask_dest(name: str | None) -> Path:
    import questionary

    from dlpick.errors import BadInput
    from dlpick.project import render

    default = "my-dl-project"
    if name:
        try:
            default = render.project_name(name).slug
        except BadInput:
            pass
    text = _ask(
        questionary.text(
            "Folder to create the project in?", default=default, validate=lambda t: bool(t.strip()) or "a folder"
        )
    )
    return Path(str(text).strip())


def next_steps(rendered: Rendered) -> list[str]:
    package = rendered.name.package
    commands = [
        f"python -m {package}.train --out runs/first",
        f"python -m {package}.evaluate --run runs/first",
        f"python -m {package}.export --run runs/first --check",
    ]
    where = f"cd {shlex.quote(str(rendered.project_dir))}"
    if (rendered.project_dir / "debian-packages.txt").is_file():  # no pip install: a Debian environment
        image = rendered.name.slug
        docker = f'docker run --rm -v "$PWD/runs:/project/runs" {image}'
        return [where, f"docker build -t {image} .", *(f"{docker} {command}" for command in commands)]
    from dlpick.verify import requirements

    extras = requirements.extras_for(rendered.project_dir, "cpu")  # TensorFlow: its [cpu] extra
    install = "python -m pip install -e " + (f"'.[{','.join(extras)}]'" if extras else ".")
    return [where, install, *commands]


def _print_steps(steps: list[str]) -> None:
    typer.echo("\nNext steps:")
    for step in steps:
        typer.echo(f"  {step}")
