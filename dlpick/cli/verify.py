"""`dlpick verify`: smoke-train a generated project and check it honestly."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dlpick.cli.options import KnowledgeOpt

if TYPE_CHECKING:
    from dlpick.verify.checks import VerifyResult

HELP = """Prove a generated project works: smoke-train it, check the metrics and the loss, export \
the model and compare its predictions, run the project's own tests.

With --isolated, dlpick first builds the environment the project documents (its requirements.txt \
in a virtual environment, or its debian-packages.txt in a Debian root made with debootstrap) in its \
cache, reuses it next time, and runs every check there: one machine can verify projects whose pins \
conflict. --constraint passes pip constraint files to that install (e.g. to keep a CPU build of torch).

Exit status: 0 passed, 1 a check failed, 3 the framework is not installed or the isolated environment \
could not be built (reported as not verified, with what to do; never as passed).

Examples:

  dlpick verify flowers
  dlpick verify flowers --device cuda --timeout 600
  dlpick verify flowers --json > verify.json
  dlpick verify old-theano-project --isolated
  dlpick verify flowers --isolated --constraint cpu-torch.txt
"""

Opt = typer.Option
DeviceOpt = Annotated[str, Opt("--device", help="auto, cpu, cuda or mps: passed to the project's train.")]
TimeoutOpt = Annotated[float, Opt("--timeout", min=1, help="Seconds the smoke-train (and the export) may take.")]
IsolatedOpt = Annotated[
    bool, Opt("--isolated", help="Verify in an environment built from the project's requirements (cached).")
]
ConstraintOpt = Annotated[
    list[Path] | None,
    Opt("--constraint", "-c", help="pip constraint file for --isolated (repeatable).", show_default=False),
]
DEVICES = ("auto", "cpu", "cuda", "mps")


def verify(
    project: Annotated[Path, typer.Argument(help="The generated project's folder.", show_default=False)],
    as_json: Annotated[bool, Opt("--json", help="Print JSON (stable format) instead of a table.")] = False,
    device: DeviceOpt = "auto",
    timeout: TimeoutOpt = 300.0,
    knowledge_dir: KnowledgeOpt = None,
    isolated: IsolatedOpt = False,
    constraint: ConstraintOpt = None,
) -> None:
    result = run(project, device, timeout, knowledge_dir, as_json, isolated, constraint or [])
    finish(result, as_json)


def check_device(device: str) -> str:
    from dlpick.kb.vocab import check_id

    return check_id("device", device, DEVICES, where="--device")


def run(
    project: Path,
    device: str,
    timeout: float,
    knowledge_dir: Path | None,
    as_json: bool,
    isolated: bool = False,
    constraints: list[Path] | None = None,
) -> VerifyResult:
    """Run the checks with progress on stderr (a spinner in a terminal, plain lines otherwise)."""
    import functools

    from dlpick.errors import BadInput
    from dlpick.kb import knowledge
    from dlpick.verify import checks as verify_mod

    check_device(device)
    if constraints and not isolated:
        raise BadInput("--constraint only applies with --isolated")
    missing = [path for path in constraints or [] if not path.is_file()]
    if missing:
        raise BadInput(f"{missing[0]}: constraint file not found")
    verify_fn = functools.partial(verify_mod.verify, isolated=isolated, constraints=constraints or [])
    from dlpick.cli import output, team

    kb = knowledge.load(team.knowledge_dir(knowledge_dir))
    if output.verbosity < 0 or not sys.stderr.isatty():
        return verify_fn(project, device, timeout, on_event=_plain_progress, kb=kb)
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False)
    with console.status("verifying") as status:
        step = ["verifying"]

        def on_event(kind: str, payload: Any) -> None:
            if kind == "step":
                step[0] = str(payload)
                status.update(escape(step[0]))
            elif kind == "output":
                status.update(f"{escape(step[0])}\n[dim]{escape(plain(str(payload))[:110])}[/]")
            elif kind == "check":
                mark = "[green]✓[/]" if payload.passed else "[red]✗[/]"
                console.print(f"{mark} {escape(payload.name)}")

        return verify_fn(project, device, timeout, on_event=on_event, kb=kb)


def plain(text: str) -> str:
    from dlpick.processes import plain

    return plain(text)


def _plain_progress(kind: str, payload: Any) -> None:
    from dlpick.cli import output

    if kind == "step":
        output.note(f"dlpick: {payload}...")
        sys.stderr.flush()


def report(result: VerifyResult) -> None:
    """The checks as a table on stdout, with the install commands when something is missing."""
    from rich.markup import escape
    from rich.table import Table

    from dlpick.cli import output

    out = output.console()
    table = Table(box=None, padding=(0, 1), show_header=False)
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for check in result.checks:
        mark = "[green]pass[/]" if check.passed else "[red]FAIL[/]"
        table.add_row(mark, escape(check.name), escape(plain(check.detail)))
    out.print(table)
    if not result.verified:
        out.print(f"[yellow]not verified[/]: install what is missing, then run `dlpick verify {result.project}`:")
        for command in result.install:
            out.print(f"  {escape(command)}", soft_wrap=True)
        if _can_isolate(result):
            out.print(f"or let dlpick build the project's own environment: `dlpick verify {result.project} --isolated`")
    elif result.passed:
        out.print(f"[green]verified[/]: {result.framework} on {result.device} in {result.seconds:.1f} s")
    else:
        names = ", ".join(check.name for check in result.failed)
        out.print(f"[red]verification failed[/] ({names}) after {result.seconds:.1f} s")


def _can_isolate(result: VerifyResult) -> bool:
    """Not verified for a missing framework, and the project documents an environment to build."""
    documented = any((result.project / name).is_file() for name in ("requirements.txt", "debian-packages.txt"))
    return documented and not any(check.name == "environment" for check in result.checks)


def finish(result: VerifyResult, as_json: bool) -> None:
    show(result, as_json)
    raise_for(result)


def show(result: VerifyResult, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    """Print the result: JSON (inside `extra` as "verify" when given), or the checks table."""
    from dlpick.cli import output

    if as_json:
        output.print_json(result.to_json() if extra is None else {**extra, "verify": result.to_json()})
    else:
        report(result)


def raise_for(result: VerifyResult) -> None:
    """The error that sets the exit status: 1 a check failed, 3 something is missing."""
    from dlpick.errors import MissingTool, VerifyFailed

    if not result.verified:
        missing = next((c.detail for c in result.failed), "a needed tool is missing")
        hint = f"install: {' && '.join(result.install)}"
        if _can_isolate(result):
            hint += f"; or: dlpick verify {result.project} --isolated"
        raise MissingTool(missing.split(";")[0] + "; not verified", hint=hint)
    if not result.passed:
        raise VerifyFailed(f"verification failed: {', '.join(check.name for check in result.failed)}")
