"""`dlpick recommend`: questionnaire or answers file in, ranked frameworks out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlpick.cli.options import KnowledgeOpt, session

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


def recommend(
    ctx: typer.Context,
    answers: Annotated[
        Path | None, Opt("--answers", "-a", help="YAML answers file (see above).", show_default=False)
    ] = None,
    task: Annotated[str | None, Opt("--task", "-t", help="Task id, e.g. image-classification.")] = None,
    hardware: Annotated[
        list[str] | None, Opt("--hardware", help="Hardware id; repeat or comma-separate: cpu,nvidia-gpu.")
    ] = None,
    deploy: Annotated[list[str] | None, Opt("--deploy", help="Deployment target id; repeat or comma-separate.")] = None,
    familiar: Annotated[
        list[str] | None, Opt("--familiar", help="FRAMEWORK=0..5, the team's experience; repeatable.")
    ] = None,
    weight: Annotated[
        list[str] | None, Opt("--weight", help="CRITERION=0..5, how much it matters; repeatable.")
    ] = None,
    python: Annotated[str | None, Opt("--python", help="Python version the project uses (default: this one).")] = None,
    include_retired: Annotated[
        bool | None, Opt("--include-retired/--exclude-retired", help="Rank retired frameworks too.", show_default=False)
    ] = None,
    top: Annotated[int | None, Opt("--top", "-n", min=1, help="Show only the N best.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print JSON (stable format) instead of tables.")] = False,
    save_answers: Annotated[
        Path | None, Opt("--save-answers", help="Write the answers used to this YAML file.")
    ] = None,
    knowledge_dir: KnowledgeOpt = None,
    no_input: Annotated[bool, Opt("--no-input", help="Never ask questions; fail if answers are missing.")] = False,
    report: Annotated[
        Path | None,
        Opt("--report", help="Also write a decision record: .md (Markdown) or .html (one self-contained file)."),
    ] = None,
    report_template: Annotated[
        Path | None,
        Opt(
            "--report-template",
            help="Write the --report from this Jinja2 template instead of the built-in one (start from a copy of "
            "dlpick/advise/report_templates/decision.md.j2 or .html.j2).",
            metavar="FILE",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, Opt("--force", help="Overwrite an existing --report or --save-answers file.")] = False,
    bench: Annotated[
        str | None,
        Opt(
            "--bench",
            help="Score performance from a `dlpick bench` result: FILE, or `last` for the latest saved run "
            "(never used unless asked for). Frameworks it did not measure keep the knowledge base's figures.",
            metavar="FILE|last",
            show_default=False,
        ),
    ] = None,
) -> None:
    from dlpick.cli import output, prompts
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
        no_input=no_input,
        save_answers=save_answers,
        report=report,
        report_template=report_template,
        force=force,
        bench=bench,
    )
    outcome = flow.recommend(session(ctx, knowledge_dir), request, prompts.terminal())
    if as_json:
        output.print_json(outcome.recommendation.to_json(top))
    else:
        output.render_recommendation(outcome.recommendation, top)
    if outcome.saved_answers and not as_json:
        output.note(f"answers saved to {outcome.saved_answers}")
    if outcome.report is not None:
        output.note(f"decision record written to {outcome.report}")
