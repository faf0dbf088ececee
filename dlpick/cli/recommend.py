"""`dlpick recommend`: questionnaire or answers file in, ranked frameworks out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlpick.cli.options import KnowledgeOpt, NoInputOpt, TaskOpt, session

HELP = """Rank the frameworks for your project and explain why.

Asks a few questions when run in a terminal: a flag answers its question, so only the rest are
asked (the detected hardware is the default). Scripts pass an answers file or flags; nothing is
asked with --answers, --no-input or output that is not a terminal once --task is given.
A team profile (./dlpick.yaml or `dlpick --profile FILE`) gives defaults: the answers
file overrides the profile's answers, and flags override both.

Examples:

  dlpick recommend
  dlpick recommend --task text-classification --hardware cpu --deploy browser
  dlpick recommend --answers team.yaml --familiar pytorch=4 --weight performance=5
  dlpick recommend --answers team.yaml --json > ranking.json
  dlpick recommend --save-answers team.yaml     # keep what you answered
  dlpick recommend --answers team.yaml --bench last   # performance measured here by `dlpick bench`
  dlpick recommend --answers team.yaml --report decision.html   # or .md: a decision record to file
  dlpick recommend --answers team.yaml --report adr.md --report-template our-adr.md.j2

Answers file (YAML; only `task` is required):

  task: image-classification
  hardware: \\[nvidia-gpu]
  deployment: \\[server]
  familiarity: {pytorch: 4, tensorflow: 1}      # 0..5
  priorities: {performance: 5, familiarity: 3}  # weights 0..5
"""

Opt = typer.Option


AnswersOpt = Annotated[Path | None, Opt("--answers", "-a", help="YAML answers file (see above).", show_default=False)]
HardwareOpt = Annotated[
    list[str] | None, Opt("--hardware", help="Hardware id; repeat or comma-separate: cpu,nvidia-gpu.")
]
DeployOpt = Annotated[list[str] | None, Opt("--deploy", help="Deployment target id; repeat or comma-separate.")]
FamiliarOpt = Annotated[list[str] | None, Opt("--familiar", help="FRAMEWORK=0..5, the team's experience; repeatable.")]
WeightOpt = Annotated[list[str] | None, Opt("--weight", help="CRITERION=0..5, how much it matters; repeatable.")]
PythonOpt = Annotated[str | None, Opt("--python", help="Python version the project uses (default: this one).")]
IncludeRetiredOpt = Annotated[
    bool | None, Opt("--include-retired/--exclude-retired", help="Rank retired frameworks too.", show_default=False)
]
PrimaryOpt = Annotated[
    str | None, Opt("--primary-hardware", help="The hardware the work is trained on (default: the first --hardware).")
]
ScaleOpt = Annotated[str | None, Opt("--scale", help="one-device, one-machine or multi-node training.")]
LicenceOpt = Annotated[
    str | None, Opt("--licence-policy", help="any, or permissive-only (no copyleft framework or library).")
]
OsOpt = Annotated[str | None, Opt("--os", help="linux, windows or macos: where the team trains.")]
TopOpt = Annotated[int | None, Opt("--top", "-n", min=1, help="Show only the N best.")]
JsonOpt = Annotated[bool, Opt("--json", help="Print JSON (stable format) instead of tables.")]
SaveAnswersOpt = Annotated[Path | None, Opt("--save-answers", help="Write the answers used to this YAML file.")]
ReportOpt = Annotated[
    Path | None,
    Opt("--report", help="Also write a decision record: .md (Markdown) or .html (one self-contained file)."),
]
ReportTemplateOpt = Annotated[
    Path | None,
    Opt(
        "--report-template",
        help="Write the --report from this Jinja2 template instead of the built-in one (start from a copy of "
        "dlpick/advise/report_templates/decision.md.j2 or .html.j2).",
        metavar="FILE",
        show_default=False,
    ),
]
ForceOpt = Annotated[bool, Opt("--force", help="Overwrite an existing --report or --save-answers file.")]
BenchOpt = Annotated[
    str | None,
    Opt(
        "--bench",
        help="Score performance from a `dlpick bench` result: FILE, or `last` for the latest saved run "
        "(never used unless asked for). Frameworks it did not measure keep the knowledge base's figures.",
        metavar="FILE|last",
        show_default=False,
    ),
]


def recommend(
    ctx: typer.Context,
    answers: AnswersOpt = None,
    task: TaskOpt = None,
    hardware: HardwareOpt = None,
    deploy: DeployOpt = None,
    familiar: FamiliarOpt = None,
    weight: WeightOpt = None,
    python: PythonOpt = None,
    include_retired: IncludeRetiredOpt = None,
    primary_hardware: PrimaryOpt = None,
    scale: ScaleOpt = None,
    licence_policy: LicenceOpt = None,
    os: OsOpt = None,
    top: TopOpt = None,
    as_json: JsonOpt = False,
    save_answers: SaveAnswersOpt = None,
    knowledge_dir: KnowledgeOpt = None,
    no_input: NoInputOpt = False,
    report: ReportOpt = None,
    report_template: ReportTemplateOpt = None,
    force: ForceOpt = False,
    bench: BenchOpt = None,
) -> None:
    from dlpick.cli import output, questionnaire
    from dlpick.workflows import recommend as flow

    request = flow.RecommendRequest(
        answers_file=answers,
        task=task,
        hardware=hardware or [],
        deploy=deploy or [],
        familiar=familiar or [],
        weight=weight or [],
        python=python,
        include_retired=include_retired,
        primary_hardware=primary_hardware,
        scale=scale,
        licence_policy=licence_policy,
        os=os,
        no_input=no_input,
        save_answers=save_answers,
        report=report,
        report_template=report_template,
        force=force,
        bench=bench,
    )
    outcome = flow.recommend(session(ctx, knowledge_dir), request, questionnaire.terminal())
    if as_json:
        output.print_json(outcome.recommendation.to_json(top))
    else:
        output.render_recommendation(outcome.recommendation, top)
    if outcome.saved_answers and not as_json:
        output.note(f"answers saved to {outcome.saved_answers}")
    if outcome.report is not None:
        output.note(f"decision record written to {outcome.report}")
