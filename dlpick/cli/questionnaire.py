"""The interactive questionnaire (questionary). Every question has a flag and an answers-file key."""

from __future__ import annotations

import sys
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from dlpick.advise.answers import running_python
from dlpick.cli import prompts
from dlpick.cli.prompts import ask as ask_prompt

if TYPE_CHECKING:
    from dlpick.kb.model import Vocabulary
    from dlpick.workflows import Prompts


def ask(vocabulary: Vocabulary, given: dict[str, Any], settled: Collection[str] = ()) -> dict[str, Any]:
    """Ask for the answers. Keys in `settled` (given on the command line) are not asked again; other
    values already `given` become the defaults, and the detected hardware is the hardware default."""
    answers = dict(given)
    for key, question in QUESTIONS.items():
        if key not in settled:
            answers[key] = question(vocabulary, given)
    return answers


def _ask_task(vocabulary: Vocabulary, given: dict[str, Any]) -> str:
    import questionary
    from questionary import Choice

    tasks = vocabulary.tasks
    return ask_prompt(
        questionary.select(
            "What will the model do?",
            choices=[Choice(f"{tid:<24} {text}", value=tid) for tid, text in tasks.items()],
            default=given.get("task") if given.get("task") in tasks else None,
            use_shortcuts=False,
            instruction="(arrow keys, Enter)",
        )
    )


def _ask_python(vocabulary: Vocabulary, given: dict[str, Any]) -> str:
    import questionary

    return ask_prompt(
        questionary.text(
            "Python version of the project?",
            default=str(given.get("python") or running_python()),
            validate=lambda text: _python_ok(text) or "a version like 3.11",
        )
    )


def _ask_include_retired(vocabulary: Vocabulary, given: dict[str, Any]) -> bool:
    import questionary

    return ask_prompt(
        questionary.confirm(
            "Rank retired frameworks (Theano, Caffe, MXNet) too?", default=bool(given.get("include_retired"))
        )
    )


def _ask_hardware(vocabulary: Vocabulary, given: dict[str, Any]) -> list[str]:
    import questionary
    from questionary import Choice

    from dlpick.machine.hardware import quick_hardware_ids

    detected = set(quick_hardware_ids())
    hardware_given = set(given.get("hardware") or detected)
    return ask_prompt(
        questionary.checkbox(
            "Where will it train and run? (detected: found on this machine)",
            choices=[
                Choice(
                    f"{hid:<14} {text}{'  (detected)' if hid in detected else ''}",
                    value=hid,
                    checked=hid in hardware_given,
                )
                for hid, text in vocabulary.hardware.items()
            ],
            validate=lambda chosen: bool(chosen) or "pick at least one (space to select)",
            instruction="(space to select, Enter to confirm)",
        )
    )


def _ask_deployment(vocabulary: Vocabulary, given: dict[str, Any]) -> list[str]:
    import questionary
    from questionary import Choice

    deploy_given = set(given.get("deployment") or [])
    return ask_prompt(
        questionary.checkbox(
            "Where will it be deployed? (none: no constraint)",
            choices=[
                Choice(f"{did:<16} {text}", value=did, checked=did in deploy_given)
                for did, text in vocabulary.deployment.items()
            ],
            instruction="(space to select, Enter to confirm)",
        )
    )


def _ask_familiarity(vocabulary: Vocabulary, given: dict[str, Any]) -> dict[str, int]:
    import questionary
    from questionary import Choice

    familiar_given = dict(given.get("familiarity") or {})
    known = ask_prompt(
        questionary.checkbox(
            "Which frameworks does the team already use?",
            choices=[Choice(fid, value=fid, checked=fid in familiar_given) for fid in vocabulary.frameworks],
            instruction="(space to select, Enter to confirm)",
        )
    )
    familiarity = {}
    levels = {
        5: "5 experts",
        4: "4 used in production",
        3: "3 several projects",
        2: "2 one project",
        1: "1 tutorials only",
    }
    for framework in known:
        # The cursor starts on the level given before, else in the middle: Enter alone never claims experts.
        before = familiar_given.get(framework)
        start = before if before in levels else 3
        choices = [Choice(text, value=value) for value, text in levels.items()]
        level = ask_prompt(
            questionary.select(
                f"How well does the team know {framework}?",
                choices=choices,
                default=next(choice for choice in choices if choice.value == start),
            )
        )
        familiarity[framework] = level
    return familiarity


def _ask_priorities(vocabulary: Vocabulary, given: dict[str, Any]) -> dict[str, Any]:
    import questionary
    from questionary import Choice

    priorities_given = dict(given.get("priorities") or {})
    important = ask_prompt(
        questionary.checkbox(
            "What matters most? (selected ones get weight 5; the rest keep their defaults)",
            choices=[
                Choice(f"{cid:<12} {text}", value=cid, checked=str(priorities_given.get(cid)) == "5")
                for cid, text in vocabulary.criteria.items()
                if cid != "familiarity"
            ],
            instruction="(space to select, Enter to confirm)",
        )
    )
    return {**priorities_given, **{cid: 5 for cid in important}}


def _python_ok(text: str) -> bool:
    major, _, minor = text.strip().partition(".")
    return major == "3" and minor.isdigit()


# Asked in this order; each key is also a flag and an answers-file key.
QUESTIONS = {
    "task": _ask_task,
    "hardware": _ask_hardware,
    "deployment": _ask_deployment,
    "familiarity": _ask_familiarity,
    "priorities": _ask_priorities,
    "python": _ask_python,
    "include_retired": _ask_include_retired,
}


def terminal(confirm: bool = True) -> Prompts:
    """Prompts for a person at this terminal; `confirm=False` (e.g. with --json) never asks to confirm."""
    from dlpick.workflows import Prompts

    return Prompts(
        stdin_tty=sys.stdin.isatty(),
        stdout_tty=sys.stdout.isatty(),
        answers=ask,
        task=prompts.ask_task,
        dest=prompts.ask_dest,
        confirm_force=prompts.confirm_force if confirm else None,
    )
