"""The scaffold workflow: pick the framework (or rank one), render its starter project, then verify it."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlpick.errors import BadInput
from dlpick.workflows import Prompts
from dlpick.workflows import verify as verify_flow

if TYPE_CHECKING:
    from dlpick.advise.profile import Profile
    from dlpick.kb.knowledge import Knowledge
    from dlpick.project.render import Rendered, Template
    from dlpick.session import Session
    from dlpick.verify.checks import OnEvent, VerifyResult


@dataclass(frozen=True)
class ScaffoldRequest:
    framework: str | None = None  # None: the top recommendation that has a template for the task
    task: str | None = None
    dest: Path | None = None
    name: str | None = None
    answers_file: Path | None = None
    no_input: bool = False
    verify: bool = True
    force: int = 0  # 1: into an existing generated project; 2: into any folder
    device: str = "auto"
    timeout: float = 300.0
    isolated: bool = False
    constraints: list[Path] = field(default_factory=list)


@dataclass
class ScaffoldResult:
    rendered: Rendered
    framework: str
    task: str
    note: str | None = None  # why this framework (when it was not named)
    warning: str | None = None  # the framework is retired
    next_steps: list[str] = field(default_factory=list)
    verify: VerifyResult | None = None  # None: --no-verify

    def summary(self) -> dict[str, Any]:
        """The JSON document without "verify"."""
        return {**self.rendered.to_json(), "note": self.note, "warning": self.warning, "next_steps": self.next_steps}

    def to_json(self) -> dict[str, Any]:
        if self.verify is None:
            return {**self.summary(), "verify": None}
        return verify_flow.to_json(self.verify, extra=self.summary())


def scaffold(
    session: Session,
    request: ScaffoldRequest,
    prompts: Prompts | None = None,
    on_rendered: Callable[[ScaffoldResult], None] | None = None,
    on_event: OnEvent | None = None,
) -> ScaffoldResult:
    """Render, then verify unless asked not to. `on_rendered` hears of the project before verification
    starts; `on_event` gets verification's progress."""
    from dlpick.project import render

    prompts = prompts or Prompts()
    if request.verify:
        verify_flow.check_device(request.device)
    profile = session.profile
    session.knowledge_dir  # noqa: B018 - resolved (and shown with --verbose) before the answers are read
    raw, origin, label = session.answers(request.answers_file)
    task = request.task or (str(raw["task"]) if raw.get("task") else None)
    interactive = _check_interactive(request, task, prompts)
    templates = render.list_templates()
    framework = request.framework
    if framework is not None:
        render.get_template(framework)
    if task is None:
        task = _ask(prompts.task, "a task")(tasks_for(templates, framework))
    note = None
    if framework is None:
        framework, note = _recommend(session, raw, origin, label, task, templates)
    render.check_task(templates[framework], task)
    name = request.name
    if name is None and profile is not None:
        name = profile.project_name_for(task, framework)
    dest = request.dest if request.dest is not None else _ask(prompts.dest, "a folder")(default_dest(name))
    warning = retired_warning(framework, session.knowledge)
    confirm = prompts.confirm_force if interactive else None
    rendered = _render(framework, task, dest, name, request.force, _python(raw, origin, profile), confirm)
    result = ScaffoldResult(rendered, framework, task, note, warning, next_steps(rendered))
    if on_rendered is not None:
        on_rendered(result)
    if request.verify:
        check = verify_flow.VerifyRequest(
            rendered.project_dir, request.device, request.timeout, request.isolated, request.constraints
        )
        result.verify = verify_flow.verify(session, check, on_event=on_event)
    return result


def _check_interactive(request: ScaffoldRequest, task: str | None, prompts: Prompts) -> bool:
    """Whether a person can be asked; without one, --task and --dest must be given."""
    missing = [flag for flag, value in (("--task", task), ("--dest", request.dest)) if value is None]
    interactive = not request.no_input and prompts.stdin_tty
    if missing and not interactive:
        why = "--no-input was given" if request.no_input else "there is no terminal to ask in"
        raise BadInput(f"missing {' and '.join(missing)} ({why})", hint="e.g. --task image-classification --dest DIR")
    return interactive


def _ask(prompt: Callable[[Any], Any] | None, what: str) -> Callable[[Any], Any]:
    if prompt is None:
        raise BadInput(f"dlpick needs {what} and has no way to ask for it")
    return prompt


def tasks_for(templates: dict[str, Template], framework: str | None) -> list[str]:
    """The tasks to choose from: the framework's template's, else every template's."""
    chosen = [templates[framework]] if framework else list(templates.values())
    return list(dict.fromkeys(task for template in chosen for task in template.tasks))


def default_dest(name: str | None) -> str:
    from dlpick.project import render

    if name:
        try:
            return render.project_name(name).slug
        except BadInput:
            pass
    return "my-dl-project"


def _render(
    framework: str,
    task: str,
    dest: Path,
    name: str | None,
    force: int,
    python: str | None,
    confirm: Callable[[str], bool] | None,
) -> Rendered:
    """Render; a --force that needs confirming is put to `confirm` (without one the one-line refusal stands)."""
    from dlpick.project import render

    try:
        return render.render(framework, task, dest, name=name, force=force, python_version=python)
    except render.NeedsConfirmation as exc:
        if confirm is None or not confirm(exc.message):
            raise
        return render.render(framework, task, dest, name=name, force=2, python_version=python)


def retired_warning(framework: str, kb: Knowledge) -> str | None:
    """For a retired framework: since when, the successor, how to migrate, and the source."""
    fw = kb.frameworks.get(framework)
    if fw is None or not fw.retired:
        return None
    status, successor = fw.status, fw.successor
    heir = kb.frameworks.get(successor) if successor else None
    text = f"{fw.name} is retired (since {status.since or 'unknown'})"
    if successor:
        text += f"; its successor is {heir.name if heir else successor} (`dlpick scaffold {successor}`)"
    else:
        text += "; no successor is named"
    migration = " ".join((status.migration or "").split())
    if migration:
        text += f". {migration}"
    return text + f" [source: {status.source}, as of {status.as_of}]"


def _python(raw: dict[str, Any], origin: dict[str, str], profile: Profile | None) -> str | None:
    """The answers file's `python`, else the profile's template.python_version, else the profile's answers."""
    from_profile = profile is not None and origin.get("python") == f"{profile.path} (answers)"
    if raw.get("python") and not from_profile:
        return str(raw["python"])
    if profile is not None and profile.python_version:
        return profile.python_version
    return str(raw["python"]) if raw.get("python") else None


def _recommend(
    session: Session,
    raw: dict[str, Any],
    origin: dict[str, str],
    label: str,
    task: str,
    templates: dict[str, Template],
) -> tuple[str, str | None]:
    """The best-ranked framework for these answers that has a template for the task."""
    from dlpick.advise import answers as answers_mod
    from dlpick.advise import scoring
    from dlpick.project import render

    kb = session.knowledge
    merged, origin = answers_mod.merge(raw, {"task": task}, label, origin)
    result = scoring.recommend(answers_mod.normalise(merged, kb.vocabulary, source=origin), kb)
    framework, note = render.pick_template([r.framework for r in result.ranking], task, templates)
    return framework, note or f"{framework} is the top recommendation for these answers (`dlpick recommend`)"


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
    # The template's own install commands: its README and CI workflow show the same ones.
    return [where, *rendered.install, *commands]
