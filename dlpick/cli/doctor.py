"""`dlpick doctor`: this machine's hardware, installed frameworks and problems."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from dlpick.cli.options import KnowledgeOpt, session

if TYPE_CHECKING:
    from dlpick.machine.doctor import Report

HELP = """Check this machine for deep learning: hardware, installed frameworks, problems.

Finds CPUs, memory and accelerators (NVIDIA, AMD, Intel GPUs, Apple Silicon, TPUs, Ascend NPUs)
with the vendors' tools, reads installed frameworks from package metadata (nothing is
imported), reports problems with a one-line fix each, and prints each framework's install
command for this hardware. Problems are findings: the exit code is 0.

Examples:

  dlpick doctor
  dlpick doctor --json > machine.json
  dlpick doctor --knowledge my-knowledge/    # with the team's install commands
"""

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    knowledge_dir: KnowledgeOpt = None,
) -> None:
    from dlpick.cli import output
    from dlpick.machine import doctor

    kb = session(ctx, knowledge_dir).knowledge
    report = doctor.doctor(kb.frameworks)
    if as_json:
        output.print_json({**report.to_json(), "knowledge": {"as_of": kb.as_of, "version": kb.version}})
    else:
        render(report, f"Knowledge as of {kb.as_of} ({kb.version})")


def _mib(value: int | None) -> str:
    if not value:
        return ""
    return f"{value / 1024:.1f} GiB" if value >= 1024 else f"{value} MiB"


def render(report: Report, footer: str) -> None:
    from rich.markup import escape

    from dlpick.cli import output

    out = output.console()
    out.print(_machine_table(report))
    out.print()
    _print_accelerators(out, report)
    out.print()
    _print_frameworks(out, report)
    out.print()
    _print_problems(out, report)
    out.print()
    out.print(f"[bold]Install commands for this machine ({', '.join(report.hardware_ids)})[/]")
    rows = []
    for entry in report.install:
        note = "; ".join(
            part for part in (f"installed {entry.installed}" if entry.installed else "", entry.note) if part
        )
        rows.append(
            (
                f"{entry.framework} ({entry.hardware})",
                [note] if note else [],
                [f"$ {entry.command}" if entry.command else "-"],
            )
        )
    output.blocks(out, rows)  # a command is one unbroken line, whatever the terminal's width
    out.print(f"[dim]{escape(footer)}; `dlpick show FRAMEWORK` lists the sources.[/]")


def _machine_table(report: Report) -> Any:
    from rich.markup import escape
    from rich.table import Table

    m = report.machine
    machine = Table(title="Machine", title_justify="left", box=None, padding=(0, 1), show_header=False)
    machine.add_column(style="bold")
    machine.add_column(overflow="fold")
    cores = f"{m.logical_cores} logical" + (f", {m.physical_cores} physical" if m.physical_cores else "")
    memory = _mib(m.memory_total_mib)
    if m.memory_available_mib:
        memory += f" ({_mib(m.memory_available_mib)} available)"
    venv = "virtual environment" if m.virtualenv else "not in a virtual environment"
    rows: list[tuple[str, str]] = [
        ("system", f"{m.os} {m.os_release} ({m.arch})"),
        ("cpu", f"{m.cpu_model} ({cores} cores)"),
        ("memory", memory or "unknown"),
        ("python", f"{m.python} at {m.python_executable} ({venv})"),
        *((name, version) for name, version in report.libraries.items()),
        ("hardware ids", ", ".join(report.hardware_ids)),
    ]
    for label, value in rows:
        machine.add_row(label, escape(value))
    return machine


def _print_accelerators(out: Any, report: Report) -> None:
    from rich.markup import escape

    from dlpick.cli import output

    m = report.machine
    if m.accelerators:
        table = output.table("Accelerators", ["kind", "name", "memory", "driver", "runtime", "found with"])
        for a in m.accelerators:
            table.add_row(a.kind, a.name, _mib(a.memory_mib), a.driver or "", a.runtime or "", a.source)
        out.print(table)
    else:
        out.print("[bold]Accelerators:[/] none found; the CPU only.")
    probes = ", ".join(f"{p.tool}: {p.status}" for p in m.probes)
    if probes:
        out.print(f"[dim]checked {escape(probes)}[/]")


def _print_frameworks(out: Any, report: Report) -> None:
    from rich.markup import escape

    from dlpick.cli import output

    if report.frameworks:
        table = output.table("Installed frameworks", ["framework", "package", "version", "build", "can use"])
        for item in report.frameworks:
            for index, package in enumerate(item.packages):
                targets = package.to_json()["targets"]
                table.add_row(
                    item.framework if index == 0 else "",
                    package.distribution,
                    package.version,
                    escape(package.build.label),
                    ", ".join(targets) if targets is not None else "?",
                )
        out.print(table)
    else:
        out.print("[bold]Installed frameworks:[/] none of the knowledge base's frameworks is installed.")


def _print_problems(out: Any, report: Report) -> None:
    from rich.markup import escape

    from dlpick.cli import output

    if report.findings:
        table = output.table("Problems", ["", "framework", "problem", "fix"])
        for finding in report.findings:
            style = SEVERITY_STYLE.get(finding.severity, "")
            table.add_row(
                f"[{style}]{finding.severity}[/]", finding.framework or "", escape(finding.problem), escape(finding.fix)
            )
        out.print(table)
    else:
        out.print("[bold green]No problems found.[/]")
