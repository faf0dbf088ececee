"""Workflows: one per command that does more than look something up (recommend, scaffold, verify).

Each takes a Session and a request, drives the domain packages (kb, advise, project, verify) and returns
a result object; the CLI renders it. They sit above the domain packages because they cross them (scaffold
ranks with advise, renders with project and checks with verify), and below the CLI: plain Python, no
typer, rich or questionary. Whatever needs a person is asked through `Prompts`, which the CLI supplies.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dlpick.kb.model import Vocabulary


@dataclass(frozen=True)
class Prompts:
    """How a workflow may ask a person. The CLI fills it in; the default asks nothing (a script)."""

    stdin_tty: bool = False  # someone can answer
    stdout_tty: bool = False  # and sees the output (`--task X --json > file` stays a script)
    answers: Callable[[Vocabulary, dict[str, Any], Collection[str]], dict[str, Any]] | None = None
    task: Callable[[list[str]], str] | None = None  # pick one of these tasks
    dest: Callable[[str], Path] | None = None  # the folder, from a default
    confirm_force: Callable[[str], bool] | None = None  # given why --force needs confirming; None: never ask
