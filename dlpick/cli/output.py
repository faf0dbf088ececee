"""All terminal output: JSON for scripts, rich tables for people (output_text); diagnostics go to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

# The rich tables live in output_text, loaded on first use: `recommend --json` never compiles them.
TABLES = (
    "BLOCKS",
    "console",
    "bar",
    "same_for_all",
    "render_recommendation",
    "framework_rows",
    "render_show",
    "render_compare",
)


def __getattr__(name: str) -> Any:
    if name in TABLES:
        from dlpick.cli import output_text

        return getattr(output_text, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


json_printed = False  # a command printed its JSON result: an error after it adds no second document


def print_json(data: Any) -> None:
    global json_printed
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    json_printed = True


# -1 quiet (no notes or progress), 0 normal, 1 verbose; set once by the root command's --quiet/--verbose.
verbosity = 0


def note(message: str, level: int = 0) -> None:
    """A diagnostic on stderr, shown when `verbosity` is at least `level` (errors never go through here)."""
    if verbosity >= level:
        sys.stderr.write(message + "\n")


def detail(message: str) -> None:
    """Extra detail for --verbose."""
    note(message, level=1)


def render_problems(problems: list[str], summary: str) -> None:
    for problem in problems:
        sys.stderr.write(problem + "\n")
    sys.stderr.write(summary + "\n")
