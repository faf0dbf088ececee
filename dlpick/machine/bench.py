"""`dlpick bench`: an MLP and a small CNN trained in every framework, each in its own process.

What trains: for every framework (each template has an engine.py) the code a scaffolded project
gets: its template rendered as a project (tabular-classification for the mlp, image-classification
for the cnn; cached, bench_projects.py) and timed by bench_engine.py in that project, under dlpick's
interpreter or, with `isolated`, the project's own environment (the cached one `verify --isolated`
builds). A framework's worker is in its entry ("worker": "template engine") and figures; "models"
describes them with each measured framework's own parameter count (files from before worker
version 4 also have "hand-written": models written for the benchmark, for PyTorch and TensorFlow).

Each (framework, model) pair runs its worker in a fresh process with a time
limit, so import time and peak memory are that framework's alone and a crash costs one row. A run is
saved as JSON (`latest.json` plus a timestamped copy under the user data folder); `recommend --bench`
turns it into the performance criterion (`bench_trust.evidence`: which figures count, and why not).

Each figure is the median of `repeats` timed repeats (5 by default) after the warm-up, with its spread;
a repeat runs at least bench_worker.MIN_REPEAT_S (worker version 5: more steps than asked for where
they are that fast, "steps" says how many);
the run records the machine's load before and while each worker ran, and warns (text and JSON) when
a spread is wide or the machine was busy (`bench_trust`). The JSON keeps the format id
"dlpick-bench/1" and its keys, extended with: "repeats", "worker" (which benchmark code ran), "trust"
(the rules), "load", "warnings"; per figure "repeats", "repeat_s", "repeat_steps_per_s", "spread",
"load", "warnings", "worker_version"; per framework "missing": the list of what it needs and lacks (its
projects' declared requirements, checked before any worker starts: `bench_projects.check_requirements`;
or a module a worker found missing), status "not installed", with one install command. Then nothing
runs: the other frameworks are "not run". Per framework "warnings": e.g. a declared requirement
installed at a version its projects exclude (measured all the same). A device the run asks for that
the machine or a framework lacks is "no device" (not measured, exit 3), never "failed". A file from
before these keys still loads: its figures are single timed passes, which `recommend --bench` does not
count (the reason says so).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlpick import processes
from dlpick.errors import BadInput, MissingTool
from dlpick.machine import bench_engine, bench_projects, bench_trust, bench_worker

if TYPE_CHECKING:
    from dlpick.kb.model import Framework

FORMAT = "dlpick-bench/1"
MODELS = ("mlp", "cnn")
DEVICES = bench_worker.DEVICES
DESCRIPTIONS = {
    "mlp": "the templates' tabular-classification MLP",
    "cnn": "the templates' image-classification CNN",
}


@dataclass(frozen=True)
class Spec:
    batch: int
    steps: int  # timed, per repeat
    warmup: int  # untimed, first: lazy imports, kernel selection, graph tracing
    repeats: int = bench_worker.REPEATS  # timed repeats of `steps` steps: a median and a spread


# The batch stays the same in --quick so quick and full figures measure the same thing. Both time about
# as many steps as the single timed pass before repeats did (full: mlp 1000, cnn 200; quick: mlp 40,
# cnn 12 -> 15), now split into 5 repeats, so a run takes about as long as it did.
FULL = {"mlp": Spec(256, 200, 50), "cnn": Spec(64, 40, 10)}
QUICK = {"mlp": Spec(256, 8, 5), "cnn": Spec(64, 3, 3)}
# Modules a benchmark imports -> what to pip install (where the names differ).
PIP_NAMES = {"yaml": "pyyaml", "PIL": "pillow", "sklearn": "scikit-learn", "google": "protobuf"}
TIMEOUT = {"full": 300.0, "quick": 120.0}

OnEvent = Callable[[str, Any], None]  # ("plan", runs to make), ("start" | "done", (Run, model))


@dataclass
class Run:
    """One framework's benchmark: what was planned for it, then what happened."""

    framework: str
    name: str
    status: str  # "pending", "measured", "failed", "not installed", "no device", "not run", "no benchmark"
    version: str | None = None
    install: str | None = None
    error: str | None = None
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # what it needs and lacks: not measured (exit 3)
    worker: str = bench_engine.WORKER  # its template's engine, in a rendered project
    python: str | None = None  # the interpreter the worker ran under (None: dlpick's own)
    env: str | None = None  # --isolated: the project's environment
    module: str | None = None  # the knowledge base's first import name: where the engine worker reads the version
    warnings: list[str] = field(default_factory=list)  # e.g. a declared requirement at another version

    def to_json(self) -> dict[str, Any]:
        devices = sorted({m["device"] for m in self.models.values() if m.get("status") == "ok"})
        return {
            "framework": self.framework,
            "name": self.name,
            "status": self.status,
            "version": self.version,
            "device": ", ".join(devices) or None,
            "error": self.error,
            "install": self.install,
            "missing": self.missing,
            "models": self.models,
            "worker": self.worker,
            "python": self.python,
            "env": self.env,
            "warnings": self.warnings,
        }


def plan(
    frameworks: Mapping[str, Framework],
    requested: Iterable[str] = (),
    hardware: Iterable[str] = ("cpu",),
    isolated: bool = False,
) -> list[Run]:
    """The frameworks to run: those asked for, else every one with a benchmark or installed.

    A framework times its template's engine; with `isolated` it runs in the project's own
    environment, so it need not be installed here."""
    from dlpick.machine.doctor import install_command, installed_frameworks

    installed = {item.framework: item for item in installed_frameworks(frameworks)}
    engines = available = bench_projects.engine_frameworks()
    wanted = list(dict.fromkeys(requested)) or [fid for fid in frameworks if fid in available or fid in installed]
    runs = []
    for fid in wanted:
        fw = frameworks[fid]
        run = Run(fid, fw.name, "pending")
        run.module = fw.import_names[0]
        if fid in engines and isolated:
            run.version = installed[fid].version if fid in installed else None
        elif fid not in installed:
            run.status = "not installed"
            run.install = install_command(fw, fid, list(hardware)).command
            if fid not in available:
                run.error = f"dlpick bench has no benchmark for {run.name} (nor is it installed)"
            elif fid in engines:
                run.error = (
                    f"{run.name} is not installed here; `dlpick bench --isolated` runs it in its project's environment"
                )
        elif fid not in available:
            run.status, run.version = "no benchmark", installed[fid].version
            run.error = f"dlpick bench has no benchmark for {run.name} yet (installed {run.version})"
        else:
            run.version = installed[fid].version
        runs.append(run)
    return runs


def specs(
    quick: bool,
    models: Iterable[str] = MODELS,
    steps: int | None = None,
    batch: int | None = None,
    repeats: int | None = None,
) -> dict[str, Spec]:
    """{model: Spec} for this run; --steps/--batch/--repeats override every model's."""
    base = QUICK if quick else FULL
    chosen = {}
    for model in dict.fromkeys(models):
        spec = base[model]
        warmup = min(spec.warmup, steps) if steps else spec.warmup
        chosen[model] = Spec(batch or spec.batch, steps or spec.steps, warmup, repeats or spec.repeats)
    return chosen


def run_worker(
    framework: str,
    model: str,
    spec: Spec,
    device: str,
    timeout: float,
    python: str | None = None,
    project: Path | None = None,
    module: str | None = None,
) -> dict[str, Any]:
    """One worker process; always a dict with "status" ok, failed (with the error), missing or no device; never raises.

    It runs the project's engine (bench_engine.py, copied into `project`, a rendered template: see
    `bench_projects.bench_project`, which renders the cached one when `project` is None) in the
    project's folder, so that an interpreter in a chroot (Debian environments) sees both."""
    package_root = str(Path(__file__).resolve().parents[2])  # another interpreter still finds this dlpick
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    env["PYTHONUNBUFFERED"] = "1"
    if project is None:
        try:
            project = bench_projects.bench_project(framework, model)
        except Exception as exc:  # never raises: a project that cannot be rendered is this run's error
            return {"status": "failed", "error": f"the template's project: {exc}"}
    if python is not None:  # an isolated environment: nothing of dlpick's own environment leaks in
        env.pop("PYTHONPATH")
    argv = [
        python or sys.executable,
        f"{bench_projects.WORKER_FOLDER}/bench_engine.py",
        "--project",
        ".",
        "--model",
        model,
        *(["--module", module] if module else []),
    ]
    argv += ["--steps", str(spec.steps), "--warmup", str(spec.warmup), "--batch", str(spec.batch)]
    argv += ["--repeats", str(spec.repeats), "--device", device, "--json"]
    head = {
        "status": "failed",
        "batch": spec.batch,
        "steps": spec.steps,
        "warmup": spec.warmup,
        "repeats": spec.repeats,
    }
    ran = processes.capture(argv, timeout, cwd=project, env=env, drain=5)
    if ran.error:
        return {**head, "error": ran.error}
    if ran.returncode is None:
        return {**head, "error": f"timed out after {timeout:g} s; the worker was killed"}
    out, err = ran.stdout, ran.stderr
    result = _last_json(out)
    if result is None:
        lines = [line.strip() for line in err.splitlines() if line.strip()]
        tail = " | ".join(lines[-2:]) or "no output"
        return {**head, "error": f"the worker exited with status {ran.returncode} without a result: {tail}"}
    if result.get("status") == "ok" and ran.returncode != 0:
        return {**head, "error": f"the worker reported a result but exited with status {ran.returncode}"}
    return result


def _last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                value = json.loads(line)
                if isinstance(value, dict) and "status" in value:
                    return value
    return None


def bench(
    frameworks: Mapping[str, Framework],
    requested: Iterable[str] = (),
    *,
    quick: bool = False,
    device: str = "auto",
    models: Iterable[str] = MODELS,
    steps: int | None = None,
    batch: int | None = None,
    repeats: int | None = None,
    timeout: float | None = None,
    on_event: OnEvent | None = None,
    isolated: bool = False,
    envs_root: Path | None = None,
    projects_root: Path | None = None,
    constraints: Iterable[Path] = (),
    python: str | None = None,
) -> dict[str, Any]:
    """Run the benchmark and return its JSON document (not yet saved).

    `isolated`: engine frameworks run in their project's isolated environment (built under
    `envs_root`, default the cache `verify --isolated` uses, with the pip `constraints` files);
    `projects_root`: where the rendered projects are cached (default bench_projects.projects_dir()).
    Otherwise workers run under `python` (default dlpick's own), whose requirements are checked first:
    a framework short of any is not run, nor then is any other (the document says what each lacks)."""
    from dlpick import __version__
    from dlpick.machine.hardware import detect_machine, detected_hardware_ids

    machine = detect_machine(timeout=5)
    hardware = detected_hardware_ids(machine)
    _check_device(device, hardware)
    runs = plan(frameworks, requested, hardware, isolated)
    chosen = specs(quick, models, steps, batch, repeats)
    short = []
    if not isolated:
        short = bench_projects.check_requirements(
            frameworks, runs, chosen, device, python or sys.executable, requested, projects_root
        )
    for run in runs if short else ():
        if run.status == "pending":
            run.status = "not run"
            run.error = f"not run while other frameworks' requirements are missing (`dlpick bench {run.framework}`)"
    if not short and not any(run.status == "pending" for run in runs):
        raise MissingTool(*_nothing_to_run(runs))
    limit = timeout or TIMEOUT["quick" if quick else "full"]
    if on_event and not short:
        on_event("plan", sum(len(chosen) for run in runs if run.status == "pending"))
    where = bench_projects.Where(isolated, envs_root, projects_root, tuple(constraints))
    before = bench_trust.load_now()  # before any worker of ours adds to it
    started = time.monotonic()
    for run in runs:
        if run.status == "pending":
            _run_models(run, chosen, device, limit, machine.cpu_model, on_event, where, python)
    figures = [m for run in runs for m in run.models.values() if m.get("status") == "ok"]
    created = datetime.now(timezone.utc).replace(microsecond=0)
    return {
        "format": FORMAT,
        "created": created.isoformat().replace("+00:00", "Z"),
        "seconds": round(time.monotonic() - started, 1),
        "dlpick": __version__,
        "worker": {
            "module": "dlpick.machine.bench_worker",
            "version": bench_worker.VERSION,
            "engine_module": "dlpick.machine.bench_engine",
            "isolated": isolated,
        },
        "quick": quick,
        "repeats": repeats or bench_worker.REPEATS,
        "requested_device": device,
        "machine": {
            "os": f"{machine.os} {machine.os_release} ({machine.arch})",
            "cpu_model": machine.cpu_model,
            "logical_cores": machine.logical_cores,
            "memory_total_mib": machine.memory_total_mib,
            "python": machine.python,
            "hardware_ids": hardware,
            "accelerators": [f"{a.kind}: {a.name}" for a in machine.accelerators],
            "devices": devices_used(runs),
        },
        "models": bench_projects.models_header(chosen, runs, DESCRIPTIONS),
        "frameworks": [run.to_json() for run in runs],
        "trust": bench_trust.rules(),
        "load": bench_trust.load_summary(before, figures),
        "warnings": bench_trust.before_warnings(before)
        + [f"{run.name}: {w}" for run in runs for w in run.warnings]
        + [
            f"{run.name} {model}: {w}" for run in runs for model, m in run.models.items() for w in m.get("warnings", [])
        ],
        "notes": [
            "steps is per timed repeat; steps_per_s and samples_per_s are the medians over the repeats",
            "spread is (max - min) / median of the repeats' throughputs; above max_spread a figure is not "
            "counted by `recommend --bench`",
            "load.others_cpu is the share of all CPU time other processes used while the worker ran",
            "peak_rss_mb is the worker process's peak resident set size (MiB), framework import included",
            "peak_device_mb is the framework's own peak accelerator allocation (MiB), where it reports one",
            *bench_projects.NOTES,
        ],
    }


def _run_models(
    run: Run,
    chosen: Mapping[str, Spec],
    device: str,
    limit: float,
    cpu_model: str | None,
    on_event: OnEvent | None,
    where: bench_projects.Where | None = None,
    python: str | None = None,
) -> None:
    """Measure one framework's models, one worker each; stop at the first that fails or lacks a module."""
    for model, spec in chosen.items():
        if on_event:
            on_event("start", (run, model))
        project, result = bench_projects.setup(run, model, device, where or bench_projects.Where())
        if result is None:
            probe = bench_trust.LoadProbe()
            result = run_worker(run.framework, model, spec, device, limit, run.python or python, project, run.module)
            if result["status"] == "ok":
                result["load"] = probe.stop()
        _record(run, model, result, cpu_model)
        if on_event:
            on_event("done", (run, model))
        if run.status != "pending":
            return  # the next model would hit the same import or device error
    run.status = "measured"


def _record(run: Run, model: str, result: dict[str, Any], cpu_model: str | None) -> None:
    if result["status"] == "ok":
        result.setdefault("worker", bench_engine.WORKER)
        result["warnings"] = bench_trust.figure_warnings(result)
        if result.get("device") == "cpu" and not result.get("device_name"):
            result["device_name"] = cpu_model
        run.version = result.get("version", run.version)
    elif result["status"] == "no device":
        run.status, run.error = "no device", f"{model}: {result.get('error')}"
    elif result["status"] == "missing":
        module = str(result.get("module"))
        run.status, run.missing = "not installed", [module]
        run.install = result.get("install") or f"pip install {PIP_NAMES.get(module, module)}"
        run.error = f"{model}: the benchmark needs {module}, which is not installed here: not measured"
        if result.get("error") and result.get("install"):  # an isolated environment that cannot be built
            run.error = f"{model}: {result['error']}: not measured"
    else:
        run.status, run.error = "failed", f"{model}: {result.get('error')}"
    run.models[model] = result


# The machine's hardware that a --device needs (ROCm builds of PyTorch and others call an AMD GPU "cuda").
DEVICE_HARDWARE = {"cuda": ("nvidia-gpu", "amd-gpu"), "mps": ("apple-silicon",)}


def _check_device(device: str, hardware: Iterable[str]) -> None:
    """A device the machine does not have: not measured (exit 3) before anything runs, never "failed"."""
    needs = DEVICE_HARDWARE.get(device)
    if needs and not set(needs) & set(hardware):
        kinds = " or ".join(needs)
        raise MissingTool(
            f"--device {device}: this machine has no {kinds} that dlpick finds; nothing was measured or saved",
            hint="`dlpick doctor` shows what it finds; --device cpu or auto measures what is here",
        )


def devices_used(runs: Iterable[Run]) -> list[str]:
    seen = {
        f"{m['device']}: {m['device_name']}" if m.get("device_name") else m["device"]
        for run in runs
        for m in run.models.values()
        if m.get("status") == "ok"
    }
    return sorted(seen)


def _nothing_to_run(runs: list[Run]) -> tuple[str, str | None]:
    names = ", ".join(run.framework for run in runs) or "no framework"
    if any(run.status == "no benchmark" for run in runs):
        return f"nothing to run: {'; '.join(run.error or '' for run in runs if run.error)}", None
    hint = next((f"install one, e.g. {run.install}" for run in runs if run.install), None)
    verb = "is" if len(runs) == 1 else "are"
    return f"{names} {verb} not installed: nothing to benchmark", hint


# --- saving and loading -------------------------------------------------------------------------


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("dlpick")) / "bench"


def save(result: Mapping[str, Any], out: Path | None = None, latest: bool = True) -> list[Path]:
    """Write `out`, and (unless latest=False) latest.json with a timestamped copy; returns the paths written.

    The saved copies are written first: when `out` cannot be written after all, the error says where
    the result was kept.
    """
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    paths = []
    if latest:
        folder = data_dir()
        stamp = str(result["created"]).replace(":", "").replace("-", "")
        paths += [folder / "latest.json", folder / f"bench-{stamp}.json"]
    if out:
        paths.append(out)
    written: list[Path] = []
    for path in paths:
        try:
            _write(path, text)
        except BadInput as exc:
            kept = f"; the result was saved as {written[0]}" if written else ""
            raise BadInput(exc.message + kept) from None
        written.append(path)
    return ([out] if out else []) + [path for path in written if path != out]


def check_writable(path: Path, what: str = "--out") -> None:
    """Fail now, before a long run, if `path` cannot be written later: BadInput, one line."""
    if path.is_dir():
        raise BadInput(f"{what} {path}: is a directory; give a file name, e.g. {path / 'bench.json'}")
    if path.exists() and not os.access(path, os.W_OK):
        raise BadInput(f"{what} {path}: not writable")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise BadInput(f"{what} {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInput(f"{what} {path}: cannot write in {folder}")


def _write(path: Path, text: str) -> None:
    """Write through a temporary file: an interrupted or failed save never leaves half a JSON file,
    nor the temporary file."""
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(21, "is a directory")
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        tmp = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        tmp.replace(path)
        tmp = None
    except OSError as exc:
        raise BadInput(f"{path}: cannot write the bench result: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


def load(where: str | Path) -> dict[str, Any]:
    """A saved bench run: a path, or "last" for the latest saved run. Errors are BadInput (exit 2)."""
    from dlpick import jsonfile

    path = data_dir() / "latest.json" if str(where) == "last" else Path(where)
    if str(where) == "last" and not path.exists():
        raise BadInput("--bench last: no saved bench run", hint="run `dlpick bench` first, or pass --bench FILE")
    try:
        data = jsonfile.load(path, "bench result")
    except BadInput as exc:
        raise BadInput(f"--bench {exc.message}") from None
    problem = _shape_problem(data)
    if problem:
        raise BadInput(f"--bench {path}: {problem}")
    data["file"] = str(path)
    return data


def _shape_problem(data: Any) -> str | None:
    """What in a bench result is not what `recommend --bench` reads, or None."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return f'not a dlpick bench result (no "format": "{FORMAT}")'
    if not isinstance(data.get("frameworks"), list) or not all(isinstance(f, dict) for f in data["frameworks"]):
        return '"frameworks" must be a list of objects'
    if not isinstance(data.get("created", ""), str):
        return '"created" must be a date-time text'
    machine = data.get("machine", {})
    if not isinstance(machine, dict):
        return '"machine" must be an object'
    devices = machine.get("devices", [])
    if not isinstance(devices, list) or not all(isinstance(d, str) for d in devices):
        return '"machine.devices" must be a list of texts'
    for index, entry in enumerate(data["frameworks"]):
        where = f"frameworks[{index}]"
        if not isinstance(entry.get("framework"), str):
            return f'{where}: "framework" must be a framework id'
        for key in ("name", "status", "device"):
            if entry.get(key) is not None and not isinstance(entry[key], str):
                return f'{where}: "{key}" must be a text'
        models = entry.get("models") or {}
        if not isinstance(models, dict) or not all(isinstance(m, dict) for m in models.values()):
            return f'{where}: "models" must be an object of objects'
    return None


# --- from a run to the performance criterion ----------------------------------------------------


def run_date(result: Mapping[str, Any]) -> str:
    return str(result.get("created", ""))[:10] or "unknown date"


def source(result: Mapping[str, Any], device: str) -> str:
    """The `source` of a measured fact: "dlpick bench on this machine (cpu, 2026-11-27)"."""
    return f"dlpick bench on this machine ({device}, {run_date(result)})"
