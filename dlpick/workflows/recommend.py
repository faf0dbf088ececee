"""The recommend workflow: answers (profile, file, flags, questions) in, a ranking out, optionally saved."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlpick.errors import BadInput
from dlpick.workflows import Prompts

if TYPE_CHECKING:
    from dlpick.advise.answers import Answers
    from dlpick.advise.scoring import Recommendation
    from dlpick.session import Session


@dataclass(frozen=True)
class RecommendRequest:
    answers_file: Path | None = None
    task: str | None = None
    hardware: list[str] = field(default_factory=list)
    deploy: list[str] = field(default_factory=list)
    familiar: list[str] = field(default_factory=list)  # FRAMEWORK=0..5
    weight: list[str] = field(default_factory=list)  # CRITERION=0..5
    python: str | None = None
    include_retired: bool | None = None
    primary_hardware: str | None = None
    scale: str | None = None  # one-device | one-machine | multi-node
    licence_policy: str | None = None
    os: str | None = None
    no_input: bool = False
    save_answers: Path | None = None
    report: Path | None = None  # a decision record, .md or .html
    report_template: Path | None = None
    force: bool = False  # overwrite --report / --save-answers
    bench: str | None = None  # FILE or `last`


@dataclass
class RecommendOutcome:
    recommendation: Recommendation
    answers: Answers
    saved_answers: Path | None = None
    report: Path | None = None  # the decision record written


def recommend(session: Session, request: RecommendRequest, prompts: Prompts | None = None) -> RecommendOutcome:
    from dlpick.advise import answers as answers_mod
    from dlpick.advise import scoring

    prompts = prompts or Prompts()
    report_template = _check_outputs(request)  # before any question is asked
    kb = session.knowledge
    measured = None
    if request.bench is not None:
        from dlpick.machine import bench as bench_mod

        measured = bench_mod.load(request.bench)
    flags: dict[str, object] = {
        "task": request.task,
        "hardware": split(request.hardware),
        "deployment": split(request.deploy),
        "familiarity": answers_mod.parse_pairs(request.familiar, "--familiar"),
        "priorities": answers_mod.parse_pairs(request.weight, "--weight"),
        "python": request.python,
        "include_retired": request.include_retired,
        "primary_hardware": request.primary_hardware,
        "scale": request.scale,
        "licence_policy": request.licence_policy,
        "os": request.os,
    }
    raw, origin, label = session.answers(request.answers_file)
    merged, origin = answers_mod.merge(raw, flags, label, origin)
    settled = {key for key, value in flags.items() if value not in (None, [], {})}
    if _must_ask(request, raw, settled, set(flags), prompts) and prompts.answers is not None:
        merged = prompts.answers(kb.vocabulary, merged, settled)
    normalised = answers_mod.normalise(merged, kb.vocabulary, source=origin)
    if request.save_answers:
        answers_mod.dump(normalised, request.save_answers)
    outcome = RecommendOutcome(scoring.recommend(normalised, kb, bench=measured), normalised, request.save_answers)
    if request.report is not None:
        from dlpick.advise import report as report_mod

        team = session.profile.team if session.profile else None  # the record's Deciders field
        outcome.report = report_mod.write_report(
            outcome.recommendation, request.report, overwrite=request.force, template=report_template, deciders=team
        )
    return outcome


def _check_outputs(request: RecommendRequest) -> Path | None:
    """Bad output paths fail first; returns the checked --report-template."""
    template = request.report_template
    if template is not None and request.report is None:
        raise BadInput("--report-template needs --report FILE (.md or .html): the record it writes")
    if request.report is not None:
        from dlpick.advise import report as report_mod

        report_mod.check_path(request.report, overwrite=request.force)
        if template is not None:
            template = report_mod.check_template(template)
    if request.save_answers is not None and request.save_answers.exists() and not request.force:
        raise BadInput(f"{request.save_answers}: already exists (pass --force to overwrite)")
    return template


def _must_ask(
    request: RecommendRequest, raw: dict[str, Any], settled: set[str], keys: set[str], prompts: Prompts
) -> bool:
    """Flags settle their keys; in a terminal the questionnaire asks the rest. An answers file or a profile
    with a task is a whole answer set: nothing is asked then."""
    whole = request.answers_file is not None or bool(raw.get("task"))
    if not whole and not request.no_input and "task" not in settled and not prompts.stdin_tty:
        raise BadInput(
            "no answers given and no terminal to ask in",
            hint="pass --answers FILE or at least --task, e.g. --task image-classification",
        )
    # Without a task the questions must be asked; with one, the rest are asked only when a person is
    # at the terminal on both ends (`--task X --json > file` stays a script).
    must = "task" not in settled
    return not whole and not request.no_input and settled != keys and (must or prompts.stdout_tty) and prompts.stdin_tty


def split(values: list[str]) -> list[str]:
    """Repeated and comma-separated flag values as one list: ["cpu,nvidia-gpu"] -> ["cpu", "nvidia-gpu"]."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]
