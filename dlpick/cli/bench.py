"""`dlpick bench`: the frameworks measured on this machine (an MLP and a small CNN in each)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dlpick.cli.options import ConstraintOpt, KnowledgeOpt, session
from dlpick.errors import BadInput, BenchFailed, MissingTool

HELP = """Measure the frameworks on this machine: an MLP and a small CNN in each.

Every framework trains the code a scaffolded project gets (its template's engine): the template's
tabular-classification project (mlp) and image-classification project (cnn), rendered once into
dlpick's cache, with the project's model, optimiser, config and data pipeline on its bundled sample.
With --isolated each runs in the project's own environment (the cached one `verify --isolated`
builds, with the same --constraint files), so it need not be installed here. Without it, bench
first checks what each framework's projects declare (as verify does) against this Python: a
framework that lacks any is named on one line, with all it lacks and the one pip command that
installs them, and nothing runs (exit 3). Each figure: warm-up steps, then 5 timed repeats
(--repeats) of --steps steps. Each framework and model runs in its own process with a time limit.
Reports import time, steps/s and samples/s (the median over the repeats), the spread ((max - min) /
median of the repeats) and peak memory (the worker process's peak RSS, import included; on a GPU
also the framework's peak device allocation). A framework that fails is shown with its error, never
a number; one that lacks a module, or the device asked for, is "not measured", with the install
command (with --isolated: an environment that cannot be built, and why). A spread above 10%
or a busy machine (load average per core, other processes' CPU use, CPU steal) is warned about;
`recommend --bench` ignores unstable figures, figures from hardware the team did not name, and a
framework with no other to compare with (and says why).

The run is saved as JSON (latest.json and a timestamped copy in dlpick's user data folder, and
--out FILE); `dlpick recommend --bench last` (or --bench FILE) then scores performance from it.
A run that measured nothing is never saved as the latest. --device auto uses CUDA (or MPS) where
the framework sees one; the result says which device ran; --device cuda on a machine without a
GPU measures nothing (exit 3).

Exit status: 0 all measured, 1 a framework failed, 3 none of them is installed, or a requirement,
a module or the device a benchmark needs is missing (not measured).

Examples:

  dlpick bench --quick                        # every installed framework, under a minute
  dlpick bench --quick --isolated             # also the engine frameworks, each in its own environment
  dlpick bench --isolated -c cpu-torch.txt    # ... with a pip constraint file (a CPU torch)
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
    steps: Annotated[int | None, typer.Option("--steps", min=1, help="Timed steps per repeat (overrides).")] = None,
    repeats: Annotated[
        int | None, typer.Option("--repeats", min=1, help="Timed repeats per model (default 5; median and spread).")
    ] = None,
    batch: Annotated[int | None, typer.Option("--batch", min=1, help="Batch size per model (overrides).")] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=1, help="Seconds each worker may take (default 300; quick 120).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write the result JSON here.")] = None,
    no_save: Annotated[bool, typer.Option("--no-save", help="Do not save it as the latest run.")] = False,
    isolated: Annotated[
        bool, typer.Option("--isolated", help="Run engine frameworks in their project's environment (built once).")
    ] = False,
    constraint: ConstraintOpt = None,
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
    options = {"quick": quick, "device": device, "models": models, "steps": steps, "batch": batch}
    if constraint and not isolated:
        raise BadInput("--constraint applies to the environments --isolated builds; add --isolated")
    options |= {"repeats": repeats, "timeout": timeout, "isolated": isolated, "constraints": constraint or []}
    result = _run_with_progress(kb.frameworks, wanted, options)
    # A run that measured nothing is no evidence: never the latest run `recommend --bench last` reads.
    measured = any(m.get("status") == "ok" for f in result["frameworks"] for m in f["models"].values())
    saved = bench_mod.save(result, out, latest=measured and not no_save)
    if as_json:
        output.print_json(result)
    else:
        render_bench(result, saved)
    _raise_for(result, as_json)


def _raise_for(result: dict[str, Any], as_json: bool = False) -> None:
    """Exit 1 where a framework failed; else 3 where one was not measured for want of something."""
    frameworks = result["frameworks"]
    failed = [f for f in frameworks if f["status"] == "failed"]
    if failed:
        raise BenchFailed(f"{', '.join(f['framework'] for f in failed)}: the benchmark failed (see the table)")
    missing = [f for f in frameworks if f.get("missing")]
    if missing:
        hint = " and ".join(f["install"] for f in missing if f.get("install"))
        message = (
            f"not measured: {missing[0]['framework']} needs {', '.join(_listed(missing[0]['missing']))}, not installed"
        )
        if len(missing) > 1:  # each on its own line, with its own command: stdout (or the JSON) has them
            counts = ", ".join(f"{f['framework']} ({len(_listed(f['missing']))})" for f in missing)
            message = f"not measured: requirements missing for {counts}"
            hint = "each framework's `install` in the JSON" if as_json else "each one's install command is above"
        if not result["worker"].get("isolated") and all(not f["models"] for f in missing):  # declared ones
            hint += "; or run each in its project's own environment: dlpick bench --isolated"
        raise MissingTool(message, hint=hint or None)
    absent = [f for f in frameworks if f["status"] == "no device"]
    if absent:
        why = "; ".join(f"{f['framework']} {f['error']}" for f in absent)
        raise MissingTool(f"not measured on --device {result['requested_device']}: {why}")


def _needs(missing: Any) -> str:
    """ " (needs numpy)"; a long list is on the framework's own line."""
    listed = _listed(missing)
    if len(listed) > 3:
        return f" (needs {len(listed)} requirements, below)"
    return f" (needs {', '.join(listed)})" if listed else ""


def _listed(missing: Any) -> list[str]:
    """`missing` is a list; files from before it was one have a module name, or null."""
    return [str(item) for item in missing] if isinstance(missing, list) else [str(missing)] if missing else []


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
            marks = {"ok": "[green]✓[/]", "missing": "[yellow]-[/]", "no device": "[yellow]-[/]"}
            mark = marks.get(run.models[model]["status"], "[red]✗[/]")
            console.print(f"{mark} {escape(run.name)} {model}: {escape(_outcome(run.models[model]))}")

        return bench_mod.bench(frameworks, wanted, on_event=on_event, **options)


def _outcome(result: dict[str, Any]) -> str:
    if result.get("status") == "missing":
        return f"not measured: {result.get('module')} is not installed"
    if result.get("status") == "no device":
        return f"not measured: {result.get('error')}"
    if result.get("status") != "ok":
        return f"failed: {result.get('error')}"
    spread = f", spread {result['spread']:.0%} over {result['repeats']} repeats" if "spread" in result else ""
    return f"{result['samples_per_s']:,.0f} samples/s on {result['device']}{spread}"


def render_bench(result: dict[str, Any], saved: list[Path]) -> None:
    from rich.markup import escape

    from dlpick.cli import output

    out = output.console()
    kind = "quick run" if result["quick"] else "full run"
    out.print(f"[bold]dlpick bench[/] ({kind}, {result['created']}) {escape(_where_ran(result))}")
    ran = any(entry["models"] for entry in result["frameworks"])
    if ran:
        out.print(_table(result))
    for entry in result["frameworks"]:  # one line each, never wrapped: the commands are copied whole
        if entry["status"] == "failed":
            out.print(f"[red]{escape(entry['name'])} failed:[/] {escape(entry['error'] or '')}", soft_wrap=True)
        elif entry["status"] == "not installed" and entry.get("missing"):
            how = f"; install: {entry['install']}" if entry.get("install") else ""
            line = f"[yellow]{escape(entry['name'])} not measured:[/] {escape((entry['error'] or '') + how)}"
            out.print(line, soft_wrap=True)
        elif entry["status"] == "not installed":
            how = f": {entry['install']}" if entry.get("install") else ""
            out.print(f"[yellow]{escape(entry['name'])} not installed, not measured[/]{escape(how)}", soft_wrap=True)
        elif entry["status"] != "measured":
            line = f"[yellow]{escape(entry['name'])} not measured:[/] {escape(entry['error'] or entry['status'])}"
            out.print(line, soft_wrap=True)
    for warning in result.get("warnings", []) if ran else ():
        out.print(f"[yellow]warning:[/] {escape(warning)}")
    specs = "; ".join(
        f"{model}: {_parameters(s)}, batch {s['batch']}, {s['warmup']} warm-up steps + "
        f"{s.get('repeats', 1)} timed repeats of {s['steps']} steps"
        for model, s in result["models"].items()
    )
    if ran:
        out.print(f"[dim]{escape(specs)}; fp32. Figures: the median over the repeats; spread: (max - min) / median.[/]")
        out.print("[dim]Peak RSS: the worker process's peak, framework import included.[/]")
    written = "saved to " + ", ".join(str(path) for path in saved) if saved else ""
    if any(path.name == "latest.json" for path in saved):
        where = f"{written}; `dlpick recommend --bench last` scores performance from it"
    elif not result["machine"]["devices"]:
        where = "; ".join(filter(None, [written, "not saved as the latest run: nothing was measured"]))
    else:
        where = written or "not saved (--no-save)"
    out.print(f"[dim]{escape(where)}.[/]", soft_wrap=True)


def _parameters(spec: dict[str, Any]) -> str:
    """Each template's own parameter count (files from before worker version 4 also have the
    hand-written models' count, "76,810 parameters")."""
    counts = [f"{spec['parameters']:,} parameters"] if spec.get("parameters") else []
    hand = spec.get("parameters")
    own = {f: n for f, n in (spec.get("parameters_by_framework") or {}).items() if n != hand}
    if own:
        counts.append("templates: " + ", ".join(f"{f} {n:,}" for f, n in own.items()))
    return " (".join(counts) + ")" * (len(counts) - 1) if counts else "parameters unknown"


def _where_ran(result: dict[str, Any]) -> str:
    """ "on cpu: Intel ..." or, when nothing was measured, why."""
    devices = result["machine"]["devices"]
    if devices:
        return f"on {', '.join(devices)}"
    why = [f"{f['framework']} {f['status']}" + _needs(f.get("missing")) for f in result["frameworks"]]
    return f"nothing was measured ({', '.join(why) or 'no framework'})"


def _table(result: dict[str, Any]) -> Any:
    from rich.markup import escape

    from dlpick.cli import output

    columns = ["framework", "version", "model", "device", "import s", "steps/s", "samples/s", "spread", "peak RSS"]
    table = output.table("", columns)
    table.columns[0].no_wrap = True  # a framework's name stays whole: other columns fold first
    for column in table.columns[4:]:
        column.justify = "right"
    gpu = any(m.get("peak_device_mb") for f in result["frameworks"] for m in f["models"].values())
    if gpu:
        table.add_column("peak device", justify="right")
    for entry in result["frameworks"]:
        for index, (model, m) in enumerate(entry["models"].items()):
            first = (entry["framework"], escape(entry["version"] or "")) if index == 0 else ("", "")
            if m["status"] != "ok":
                marks = {"missing": "[yellow]not installed[/]", "no device": "[yellow]no device[/]"}
                mark = marks.get(m["status"], "[red]failed[/]")
                table.add_row(*first, model, "", "", mark, "", "", "")
                continue
            spread = m.get("spread")
            shown = "?" if spread is None else f"{spread:.0%}"
            if m.get("warnings"):
                shown = f"[yellow]{shown}![/]"
            row = [
                *first,
                model,
                m["device"],
                f"{m['import_s']:.2f}",
                f"{m['steps_per_s']:,.1f}",
                f"{m['samples_per_s']:,.0f}",
                shown,
                f"{m['peak_rss_mb']:,.0f} MiB" if m.get("peak_rss_mb") else "?",
            ]
            if gpu:
                row.append(f"{m['peak_device_mb']:,.0f} MiB" if m.get("peak_device_mb") else "")
            table.add_row(*row)
    return table
