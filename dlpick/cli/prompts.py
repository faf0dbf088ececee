"""Asking a person (questionary), shared by the commands: the one `ask`, and the single questions."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def ask(question: Any) -> Any:
    """Run a prompt; Ctrl-C (questionary returns None) becomes KeyboardInterrupt -> exit 130."""
    answer = question.unsafe_ask()
    if answer is None:
        raise KeyboardInterrupt
    return answer


def ask_task(tasks: list[str]) -> str:
    import questionary

    return str(ask(questionary.select("What will the model do?", choices=tasks)))


def ask_dest(default: str) -> Path:
    import questionary

    text = ask(
        questionary.text(
            "Folder to create the project in?", default=default, validate=lambda t: bool(t.strip()) or "a folder"
        )
    )
    return Path(str(text).strip())


def confirm_force(reason: str) -> bool:
    """Why --force needs confirming (one line on stderr), then the question."""
    import questionary

    from dlpick.cli import output

    output.note(f"dlpick: {reason}")
    return bool(ask(questionary.confirm("Write the template's files into it anyway?", default=False)))
