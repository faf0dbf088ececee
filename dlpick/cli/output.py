"""All terminal output: JSON for scripts, rich tables for people (output_text); diagnostics go to stderr.

How much to say comes from the invocation's Session (`dlpick -q/-v`), found through typer's context.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from dlpick.session import Session

# The rich tables live in output_text, loaded on first use: `recommend --json` never compiles them.
TABLES = (
    "BLOCKS",
    "console",
    "bar",
    "same_for_all",
    "render_recommendation",
    "framework_rows",
    "render_show",
    "blocks",
    "render_compare",
)
JSON_PRINTED = "dlpick.json_printed"  # in the context's meta: an error after it adds no second document


def __getattr__(name: str) -> Any:
    if name in TABLES:
        from dlpick.cli import output_text

        return getattr(output_text, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _context() -> Any:
    from typer._click.globals import get_current_context

    return get_current_context(silent=True)


def session() -> Session:
    """This invocation's session; a default one outside a command (a test calling a renderer)."""
    ctx = _context()
    found = ctx.find_object(Session) if ctx is not None else None
    return found if found is not None else Session()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    ctx = _context()
    if ctx is not None:
        ctx.meta[JSON_PRINTED] = True


def stderr_line(message: str) -> None:
    sys.stderr.write(message + "\n")


def note(message: str, level: int = 0, verbosity: int | None = None) -> None:
    """A diagnostic on stderr, shown when the verbosity is at least `level` (errors never go through here).
    `verbosity`: given by callers on other threads (progress), which have no typer context."""
    if (session().verbosity if verbosity is None else verbosity) >= level:
        stderr_line(message)


def detail(message: str) -> None:
    """Extra detail for --verbose."""
    note(message, level=1)


def table(title: str, columns: list[str]) -> Any:
    """A borderless rich table with folding columns (doctor, bench)."""
    from rich.table import Table

    result = Table(title=title, title_justify="left", box=None, padding=(0, 1))
    for column in columns:
        result.add_column(column, overflow="fold")
    return result
