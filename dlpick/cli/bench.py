"""`dlpick bench`: the installed frameworks measured on this machine (the same two small models in each)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dlpick.cli.options import KnowledgeOpt, session
from dlpick.errors import BenchFailed

HELP = """Measure the installed frameworks on this machine: the same two small models in each.

Trains an MLP (32-256-256-10, tabular) and a small CNN (conv16-conv32-dense10, 1x28x28 images)
with identical layer sizes, fixed seeds, synthetic data and fp32: warm-up steps, then timed steps.
Each framework and model runs in its own process with a time limit. Reports import time, steps/s,
samples/s and peak memory (the worker process's peak RSS, import included; on a GPU also the
framework's peak device allocation). A framework that fails is shown with its error, never a number.

The run is saved as JSON (latest.json and a timestamped copy in dlpick's user data folder, and
--out FILE); `dlpick recommend --bench last` (or --bench FILE) then scores performance from it.
--device auto uses CUDA (or MPS) where the framework sees one; the result says which device ran.

Exit status: 0 all measured, 1 a framework failed, 3 none of them is installed.

Examples:

  dlpick bench --quick                        # every installed framework, under a minute
  dlpick bench pytorch tensorflow --device cuda
  dlpick bench --json --out bench.json
  dlpick recommend --answers team.yaml --bench last
"""

MODELS_HELP = "mlp or cnn; repeatable (default: both)."


def bench(
    ctx: typer.Context,
    frameworks: Annotated[
        list[str] | None, typer.Argument(help="Framework ids (default: every installed one).", show_default=False)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result JSON instead of a table.")] = False,
    quick: Annotated[bool, typer.Option("--quick", help="Fewer steps: a rough figure in under a minute.")] = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")] = "auto",
    model: Annotated[list[str] | None, typer.Option("--model", help=MODELS_HELP, show_default=False)] = None,
    steps: Annotated[int | None, typer.Option("--steps", min=1, help="Timed steps per model (overrides).")] = None,
    batch: Annotated[int | None, typer.Option("--batch", min=1, help="Batch size per model (overrides).")] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=1, help="Seconds each worker may take (default 300; quick 120).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write the result JSON here.")] = None,
    no_save: Annotated[bool, typer.Option("--no-save", help="Do not save it as the latest run.")] = False,
    knowledge_dir: KnowledgeOpt = None,
) -> None:
    from dlpick.cli import output
    from dlpick.kb.vocab import check_id
    from dlpick.machine import bench as bench_mod

    kb = session(ctx, knowledge_dir).knowledge
    wanted = [check_id("framework", f, kb.frameworks, where="FRAMEWORK") for f in frameworks or []]
    models = [check_id("model", m, bench_mod.MODELS, where="--model") for m in model or bench_mod.MODELS]
    check_id("device", device, bench_mod.DEVICES, where="--device")
    # A path that cannot be written fails now, not after a run of several minutes.
    if out is not None:
        bench_mod.check_writable(out, "--out")
    if not no_save:
        bench_mod.check_writable(bench_mod.data_dir() / "latest.json", "saving to")
    options = {"quick": quick, "device": device, "models": models, "steps": steps, "batch": batch, "timeout": timeout}
    result = _run_with_progress(kb.frameworks, wanted, options)
    saved = bench_mod.save(result, out, latest=not no_save)
    if as_json:
        output.print_json(result)
    else:
        render_bench(result, saved)
    failed = [f for f in result["frameworks"] if f["status"] == "failed"]
    if failed:
        raise BenchFailed(f"{', '.join(f['framework'] for f in failed)}: the benchmark failed (see the table)")


def _run_with_progress(frameworks: Any, wanted: list[str], options: dict[str, Any]) -> dict[str, Any]:
    """Run the benchmark with progress on stderr: a rich progress bar in a terminal, plain lines otherwise."""
    import sys

    from dlpick.cli import output
    from dlpick.machine import bench as bench_mod

    verbosity = output.session().verbosity
    if verbosity < 0 or not sys.stderr.isatty():

        def plain(kind: str, payload: Any) -> None:
            if kind == "plan":
                return
            run, model = payload
            if kind == "start":
                output.note(f"bench: {run.framework} {model} ...", verbosity=verbosity)
            else:
                outcome = _outcome(run.models[model])
                output.note(f"bench: {run.framework} {model}: {outcome}", verbosity=verbosity)

        return bench_mod.bench(frameworks, wanted, on_event=plain, **options)

    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, highlight=False)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("detecting the machine", total=None)

        def on_event(kind: str, payload: Any) -> None:
            if kind == "plan":
                progress.update(task, total=payload)
                return
            run, model = payload
            if kind == "start":
                progress.update(task, description=f"{escape(run.name)} {model}")
                return
            progress.advance(task)
            mark = "[green]✓[/]" if run.models[model]["status"] == "ok" else "[red]✗[/]"
            console.print(f"{mark} {escape(run.name)} {model}: {escape(_outcome(run.models[model]))}")

        return bench_mod.bench(frameworks, wanted, on_event=on_event, **options)


def _outcome(result: dict[str, Any]) -> str:
    if result.get("status") != "ok":
        return f"failed: {result.get('error')}"
    return f"{result['samples_per_s']:,.0f} samples/s on {result['device']}"


def render_bench(result: dict[str, Any], saved: list[Path]) -> None:
    from rich.markup import escape

    from dlpick.cli import output

    out = output.console()
    machine = result["machine"]
    devices = ", ".join(machine["devices"]) or "no device ran"
    kind = "quick run" if result["quick"] else "full run"
    out.print(f"[bold]dlpick bench[/] ({kind}, {result['created']}) on {escape(devices)}")
    table = output.table(
        "", ["framework", "version", "model", "device", "import s", "steps/s", "samples/s", "peak RSS"]
    )
    for column in table.columns[4:]:
        column.justify = "right"
    gpu = any(m.get("peak_device_mb") for f in result["frameworks"] for m in f["models"].values())
    if gpu:
        table.add_column("peak device", justify="right")
    skipped = []
    for entry in result["frameworks"]:
        if not entry["models"]:
            skipped.append(entry)
            continue
        for index, (model, m) in enumerate(entry["models"].items()):
            first = (entry["framework"], escape(entry["version"] or "")) if index == 0 else ("", "")
            if m["status"] != "ok":
                table.add_row(*first, model, "", "", "[red]failed[/]", "", "")
                continue
            row = [
                *first,
                model,
                m["device"],
                f"{m['import_s']:.2f}",
                f"{m['steps_per_s']:,.1f}",
                f"{m['samples_per_s']:,.0f}",
                f"{m['peak_rss_mb']:,.0f} MiB" if m.get("peak_rss_mb") else "?",
            ]
            if gpu:
                row.append(f"{m['peak_device_mb']:,.0f} MiB" if m.get("peak_device_mb") else "")
            table.add_row(*row)
    out.print(table)
    for entry in result["frameworks"]:
        if entry["status"] == "failed":
            out.print(f"[red]{escape(entry['name'])} failed:[/] {escape(entry['error'] or '')}")
    for entry in skipped:
        if entry["status"] == "not installed":
            how = f": {entry['install']}" if entry.get("install") else ""
            out.print(f"[yellow]{escape(entry['name'])} not installed, not measured[/]{escape(how)}")
        else:
            out.print(f"[yellow]{escape(entry['name'])} not measured:[/] {escape(entry['error'] or entry['status'])}")
    specs = "; ".join(
        f"{model}: {s['parameters']:,} parameters, batch {s['batch']}, {s['warmup']} warm-up + {s['steps']} timed steps"
        for model, s in result["models"].items()
    )
    out.print(f"[dim]{escape(specs)}; fp32. Peak RSS: the worker process's peak, framework import included.[/]")
    where = "saved to " + ", ".join(str(path) for path in saved) if saved else "not saved"
    out.print(f"[dim]{escape(where)}; `dlpick recommend --bench last` scores performance from it.[/]")
