"""`dlpick recommend`: questionnaire or answers file in, ranked frameworks out."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dlpick.cli.options import KnowledgeOpt

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
    from dlpick.advise import answers as answers_mod
    from dlpick.advise import scoring
    from dlpick.errors import BadInput
    from dlpick.kb import knowledge

    # Bad output paths fail before any question is asked.
    if report_template is not None and report is None:
        raise BadInput("--report-template needs --report FILE (.md or .html): the record it writes")
    if report is not None:
        from dlpick.advise import report as report_mod

        report_mod.check_path(report, overwrite=force)
        if report_template is not None:
            report_template = report_mod.check_template(report_template)
    if save_answers is not None and save_answers.exists() and not force:
        raise BadInput(f"{save_answers}: already exists (pass --force to overwrite)")
    from dlpick.cli import team

    kb = knowledge.load(team.knowledge_dir(knowledge_dir))
    measured = None
    if bench is not None:
        from dlpick.machine import bench as bench_mod

        measured = bench_mod.load(bench)
    flags: dict[str, object] = {
        "task": task,
        "hardware": _split(hardware),
        "deployment": _split(deploy),
        "familiarity": answers_mod.parse_pairs(familiar or [], "--familiar"),
        "priorities": answers_mod.parse_pairs(weight or [], "--weight"),
        "python": python,
        "include_retired": include_retired,
    }
    raw, origin, label = team.answers(answers)
    merged, origin = answers_mod.merge(raw, flags, label, origin)
    # Flags settle their keys; in a terminal the questionnaire asks the rest (an answers file or a
    # profile with a task is a whole answer set: nothing is asked then).
    settled = {key for key, value in flags.items() if value not in (None, [], {})}
    whole = answers is not None or bool(raw.get("task"))
    if not whole and not no_input and "task" not in settled and not sys.stdin.isatty():
        raise BadInput(
            "no answers given and no terminal to ask in",
            hint="pass --answers FILE or at least --task, e.g. --task image-classification",
        )
    # Without a task the questions must be asked; with one, the rest are asked only when a person is
    # at the terminal on both ends (`--task X --json > file` stays a script).
    must = "task" not in settled
    if not whole and not no_input and settled != set(flags) and (must or sys.stdout.isatty()) and sys.stdin.isatty():
        from dlpick.cli import questionnaire

        merged = questionnaire.ask(kb.vocabulary, merged, settled)
    normalised = answers_mod.normalise(merged, kb.vocabulary, source=origin)
    if save_answers:
        answers_mod.dump(normalised, save_answers)
    result = scoring.recommend(normalised, kb, bench=measured)

    from dlpick.cli import output

    if as_json:
        output.print_json(result.to_json(top))
    else:
        output.render_recommendation(result, top)
    if save_answers and not as_json:
        output.note(f"answers saved to {save_answers}")
    if report is not None:
        written = report_mod.write_report(result, report, overwrite=force, template=report_template)
        output.note(f"decision record written to {written}")


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]
