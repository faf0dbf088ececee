"""How verification looks on a terminal (verify, and scaffold's --verify): progress, the checks table, JSON."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dlpick.verify.checks import VerifyResult


def plain(text: str) -> str:
    from dlpick.processes import plain

    return plain(text)


@contextmanager
def progress() -> Iterator[Callable[[str, Any], None]]:
    """An `on_event` for the checks: a spinner in a terminal, plain lines otherwise (none with --quiet).
    The spinner starts with the first event, so that what comes before (errors, notes) prints plainly."""
    from dlpick.cli import output

    verbosity = output.session().verbosity  # events also come from worker threads, outside typer's context
    if verbosity < 0 or not sys.stderr.isatty():

        def plain_progress(kind: str, payload: Any) -> None:
            if kind == "step":
                output.note(f"dlpick: {payload}...", verbosity=verbosity)
                sys.stderr.flush()

        yield plain_progress
        return
    spinner = _Spinner()
    try:
        yield spinner
    finally:
        spinner.stop()


class _Spinner:
    """A rich status line on stderr, started by the first event."""

    def __init__(self) -> None:
        self.status: Any = None
        self.step = "verifying"

    def __call__(self, kind: str, payload: Any) -> None:
        from rich.markup import escape

        if self.status is None:
            from rich.console import Console

            self.console = Console(stderr=True, highlight=False)
            self.status = self.console.status("verifying")
            self.status.start()
        if kind == "step":
            self.step = str(payload)
            self.status.update(escape(self.step))
        elif kind == "output":
            self.status.update(f"{escape(self.step)}\n[dim]{escape(plain(str(payload))[:110])}[/]")
        elif kind == "check":
            mark = "[green]✓[/]" if payload.passed else "[red]✗[/]"
            self.console.print(f"{mark} {escape(payload.name)}")

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()


def report(result: VerifyResult) -> None:
    """The checks as a table on stdout, with the install commands when something is missing."""
    from rich.markup import escape
    from rich.table import Table

    from dlpick.cli import output
    from dlpick.workflows.verify import can_isolate

    out = output.console()
    table = Table(box=None, padding=(0, 1), show_header=False)
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for check in result.checks:
        mark = "[green]pass[/]" if check.passed else "[red]FAIL[/]"
        table.add_row(mark, escape(check.name), escape(plain(check.detail)))
    out.print(table)
    if not result.verified and any(check.name == "device" for check in result.failed):
        out.print(
            f"[yellow]not verified[/]: no such device here; run `dlpick verify {result.project} --device cpu`, "
            "or on a machine that has it",
            soft_wrap=True,
        )
    elif not result.verified:
        out.print(f"[yellow]not verified[/]: install what is missing, then run `dlpick verify {result.project}`:")
        for command in result.install:
            out.print(f"  {escape(command)}", soft_wrap=True)
        if can_isolate(result):
            out.print(
                f"or let dlpick build the project's own environment: `dlpick verify {result.project} --isolated`",
                soft_wrap=True,
            )
    elif result.passed:
        out.print(f"[green]verified[/]: {result.framework} on {result.device} in {result.seconds:.1f} s")
    else:
        names = ", ".join(check.name for check in result.failed)
        out.print(f"[red]verification failed[/] ({names}) after {result.seconds:.1f} s")
