"""Prove a generated project works: smoke-train, metrics, export round trip, its own tests.

Relies only on what templates/CONTRACT.md fixes. Every step runs in a subprocess of the
project's Python (dlpick never imports a framework), in its own process group that is
killed as a whole when the step runs past its time limit.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from dlpick import jsonfile, processes
from dlpick.errors import BadInput
from dlpick.processes import Ran
from dlpick.verify import requirements

if TYPE_CHECKING:
    from dlpick.kb.knowledge import Knowledge

DEFAULT_TIMEOUT = 300.0
TESTS_TIMEOUT = 600.0
REGRESSION_KEYS = ("mse", "mae", "r2")
CLASSIFICATION_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc", "confusion_matrix")
METRICS_KEYS = ("framework", "task", "device", "seconds", "loss_history", "eval")
# Thread pools sized by these variables: OpenMP (PyTorch, oneDNN), MKL, OpenBLAS, TensorFlow's own.
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")
EXPORT_CHECK = "--export-check"  # train's option: export and check the export in the same process
# A project's serve tests serve the run named in SERVE_RUN_ENV (its README documents it) instead of training
# one: verify runs them once its own run is exported, the rest of the tests beside the training.
SERVE_RUN_ENV = "SERVE_TEST_RUN"
SERVE_TESTS = "tests/test_serve.py"
# Projects rendered before that: their tests, all beside the training, wait for RUN_DONE in the run named
# in RUN_ENV (written once the export is checked, also when it failed).
RUN_ENV = "DLPICK_VERIFY_RUN"
RUN_DONE = ".dlpick-verify.json"
PROBE = "import importlib.util as u, json, sys; print(json.dumps([m for m in sys.argv[1:] if u.find_spec(m) is None]))"

OnEvent = Callable[[str, Any], None]  # ("step", text) | ("output", line) | ("check", Check)


@dataclass
class Check:
    name: str
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass
class VerifyResult:
    project: Path
    framework: str
    device: str
    seconds: float
    checks: list[Check] = field(default_factory=list)
    verified: bool = True  # False: a framework or tool is missing, so the project could not be checked
    install: list[str] = field(default_factory=list)  # commands that install what is missing
    environment: str | None = None  # the isolated environment used, if any

    @property
    def passed(self) -> bool:
        return self.verified and bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "framework": self.framework,
            "device": self.device,
            "seconds": round(self.seconds, 1),
            "checks": [check.to_json() for check in self.checks],
            "verified": self.verified,
            "install": self.install,
            "environment": self.environment,
            "project": str(self.project),
        }


@dataclass(frozen=True)
class Project:
    """What verify reads from a generated project's `.cookiecutter.json`."""

    path: Path
    framework: str
    task: str
    package: str


def eval_keys(task: str) -> tuple[str, ...]:
    return REGRESSION_KEYS if task.endswith("regression") else CLASSIFICATION_KEYS


def read_project(project_dir: str | os.PathLike[str]) -> Project:
    path = Path(project_dir).expanduser().absolute()
    answers = path / ".cookiecutter.json"
    if not path.is_dir():
        raise BadInput(f"{path}: no such project folder")
    if not answers.is_file():
        raise BadInput(f"{answers}: missing; not a project generated from a dlpick template")
    data = jsonfile.load(answers, "project's .cookiecutter.json")
    if not isinstance(data, dict):
        raise BadInput(f"{answers}: holds a {type(data).__name__}, not an object; not a dlpick project's answers")
    missing = [key for key in ("__framework", "package_name", "task") if not isinstance(data.get(key), str)]
    if missing:
        raise BadInput(f"{answers}: missing {', '.join(missing)}; not a project generated from a dlpick template")
    if not data["package_name"].isidentifier():
        raise BadInput(f"{answers}: package_name {data['package_name']!r} is not a Python package name")
    return Project(path, data["__framework"], data["task"], data["package_name"])


def install_commands(framework: str, kb: Knowledge | None, project: Path, device: str = "cpu") -> list[str]:
    """The exact commands that install the framework, then the project with its dev tools."""
    fw = kb.frameworks.get(framework) if kb else None
    command = fw.install_command("nvidia-gpu" if device == "cuda" else "cpu") if fw is not None else None
    if not command:
        command = "pip install " + " ".join(fw.packages if fw is not None and fw.packages else [framework])
    # A knowledge-base command may end in a shell comment; the commands are joined with && in hints.
    command = command.split(" #", 1)[0].strip()
    return [command, requirements.install_command(project, device)]


def _modules(framework: str, kb: Knowledge | None) -> list[str]:
    """The modules that import the framework (the knowledge base's `import_names`), else its id."""
    fw = kb.frameworks.get(framework) if kb else None
    return list(fw.import_names) if fw is not None else [framework]


def _env(project: Path) -> dict[str, str]:
    env = dict(os.environ)
    src = str(project / "src")
    env["PYTHONPATH"] = src + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else src
    # Stream progress, leave no __pycache__ in the project, never open a plot window.
    env.update({"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"})
    return env


def _side_by_side_env(project: Path) -> dict[str, str]:
    """The environment of two steps that run at once (the train, the project's tests): each math
    library's thread pool gets half the cores, unless the caller set its size, so that the two do
    not oversubscribe the machine (OpenMP threads spin while they wait for a core)."""
    env = _env(project)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    share = str(max(1, cores // 2))
    for name in THREAD_VARS:
        env.setdefault(name, share)
    return env


def missing_modules(python: str, modules: list[str], project: Path) -> list[str]:
    """Modules `python` cannot import, found without importing them (nor anything into dlpick)."""
    ran = processes.capture([python, "-c", PROBE, *modules], 60, cwd=project, env=_env(project))
    try:
        return list(json.loads(ran.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        why = ran.error or ("timed out after 60 s" if ran.returncode is None else ran.first_line() or "no output")
        raise BadInput(f"{python}: cannot run this Python to look for {', '.join(modules)} ({why})") from None


def run_step(
    cmd: list[str],
    cwd: Path,
    timeout: float,
    on_event: OnEvent | None = None,
    cancel: threading.Event | None = None,
    env: dict[str, str] | None = None,
) -> Ran:
    """Run one step of the project (processes.run_step) with the project's environment variables."""
    return processes.run_step(cmd, cwd, timeout, on_event, cancel, _env(cwd) if env is None else env)


def _step_check(name: str, ran: Ran, timeout: float) -> Check:
    if ran.returncode is None:
        return Check(name, False, f"timed out after {timeout:g} s; its process group was killed")
    if ran.returncode != 0:
        return Check(name, False, f"exit status {ran.returncode} after {ran.seconds:.1f} s: {ran.last()}")
    return Check(name, True, f"exit status 0 in {ran.seconds:.1f} s")


def _read_json(path: Path) -> tuple[Any, str]:
    """A file the project wrote, or why it cannot be read (a check's detail, never an exception)."""
    if not path.is_file():
        return None, f"{path.name} was not written"
    try:
        return jsonfile.load(path, allow_nan=True), ""  # a diverged loss is a check's failure
    except BadInput as exc:
        return None, f"{path.name} is unreadable: {exc.message.removeprefix(str(path) + ':').strip()}"


def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_metrics(metrics: Any, project: Project) -> Check:
    """metrics.json has every field of the contract, for this framework and task."""
    if not isinstance(metrics, dict):
        return Check("metrics", False, "metrics.json is not a JSON object")
    problems = [f"missing {key}" for key in METRICS_KEYS if key not in metrics]
    for key, expected in (("framework", project.framework), ("task", project.task)):
        if key in metrics and metrics[key] != expected:
            problems.append(f"{key} is {metrics[key]!r}, expected {expected!r}")
    evaluation = metrics.get("eval")
    if "eval" in metrics and not isinstance(evaluation, dict):
        problems.append("eval is not an object")
    elif isinstance(evaluation, dict):
        for key in eval_keys(project.task):
            value = evaluation.get(key)
            if key not in evaluation:
                problems.append(f"missing eval.{key}")
            elif key == "confusion_matrix" and not isinstance(value, list):
                problems.append("eval.confusion_matrix is not a list")
            elif key != "confusion_matrix" and not _finite(value):
                problems.append(f"eval.{key} is {value!r}, not a finite number")
    if problems:
        return Check("metrics", False, "; ".join(problems))
    shown = ", ".join(f"{k} {metrics['eval'][k]:.3g}" for k in eval_keys(project.task) if k != "confusion_matrix")
    return Check("metrics", True, f"complete; {shown}")


def check_loss(metrics: Any) -> Check:
    history = metrics.get("loss_history") if isinstance(metrics, dict) else None
    if not isinstance(history, list) or len(history) < 2:
        return Check("loss", False, f"loss_history needs at least 2 values, got {history!r}")
    bad = [value for value in history if not _finite(value)]
    if bad:
        return Check("loss", False, f"loss is not finite: {bad[0]!r} among {len(history)} values")
    first, last = history[0], history[-1]
    text = f"{first:.4g} -> {last:.4g} over {len(history)} logged steps"
    if not last < first:
        return Check("loss", False, f"loss did not decrease: {text}")
    return Check("loss", True, text)


def check_export(ran: Ran, report: Any, problem: str, timeout: float) -> Check:
    if ran.returncode is None or report is None:
        detail = _step_check("export", ran, timeout).detail
        return Check("export", False, f"{detail}; {problem}" if problem else detail)
    checks = report.get("checks") if isinstance(report, dict) else None
    if not isinstance(checks, list) or not checks:
        return Check("export", False, "export.json lists no checks: nothing compared the exported model")
    parts, ok = [], ran.returncode == 0
    for item in checks:
        item = item if isinstance(item, dict) else {}
        diff, tolerance = item.get("max_abs_diff"), item.get("tolerance")
        within = _finite(diff) and _finite(tolerance) and diff <= tolerance
        agreement_text = ""
        if "min_agreement" in item:  # quantised classifiers are also judged on predicted classes
            agreement, minimum = item.get("agreement"), item.get("min_agreement")
            within = within and _finite(agreement) and _finite(minimum) and agreement >= minimum
            agreement_text = f", class agreement {agreement} vs at least {minimum}"
        good = item.get("passed") is True and within
        ok = ok and good
        shown = f"{diff:.2g}" if _finite(diff) else repr(diff)
        verdict = "ok" if good else "FAILED"
        parts.append(f"{item.get('name', '?')}: max |diff| {shown} vs tolerance {tolerance}{agreement_text}: {verdict}")
    if ran.returncode != 0:
        parts.append(f"export exited with status {ran.returncode}: {ran.last(1)}")
    return Check("export", ok, "; ".join(parts))


def check_tests(ran: Ran, timeout: float, served: Ran | None = None) -> Check:
    """The project's tests: `ran`, and `served` where its serve tests ran apart (SERVE_TESTS)."""
    if served is not None and ran.returncode == 5:  # no tests but the serve tests
        ran = served
    elif served is not None:
        check = check_tests(ran, timeout)
        if not check.passed:
            return check
        serve = _step_check("project tests", served, timeout)
        serve.detail = f"{check.detail}; {SERVE_TESTS}: {served.last(1) if serve.passed else serve.detail}"
        return serve
    if ran.returncode == 5:
        return Check("project tests", False, "pytest collected no tests")
    check = _step_check("project tests", ran, timeout)
    if check.passed:
        check.detail = f"{ran.last(1)}"
    return check


def _device_absent(device: str) -> str:
    """Why the asked device is not on this machine ("" when it may be): nothing can be verified on it."""
    from dlpick.machine import hardware

    wanted = {"cuda": ("nvidia-gpu", "no NVIDIA GPU"), "mps": ("apple-silicon", "no Apple silicon GPU")}.get(device)
    if wanted is None or os.environ.get("DLPICK_NO_DETECT"):
        return ""
    return "" if wanted[0] in hardware.quick_hardware_ids() else f"--device {device}: {wanted[1]} found on this machine"


def verify(
    project_dir: str | os.PathLike[str],
    device: str = "auto",
    timeout: float = DEFAULT_TIMEOUT,
    python: str = sys.executable,
    on_event: OnEvent | None = None,
    *,
    tests_timeout: float = TESTS_TIMEOUT,
    kb: Knowledge | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    isolated: bool = False,
    constraints: Sequence[Path] = (),
    envs_root: Path | None = None,
) -> VerifyResult:
    """Smoke-train the project, check what it wrote, export and compare, run its tests.

    `isolated`: first build (or reuse) the environment the project documents (verify/envs.py) and
    run everything in it; `python` is then only the base interpreter of a virtual environment.
    """
    start = time.monotonic()
    project = read_project(project_dir)
    if kb is None:
        from dlpick.kb import knowledge

        kb = knowledge.load()
    result = VerifyResult(project.path, project.framework, device, 0.0)

    def event(kind: str, payload: Any) -> None:
        if on_event:
            on_event(kind, payload)

    def add(check: Check) -> None:
        result.checks.append(check)
        event("check", check)

    absent = _device_absent(device)
    if absent:
        result.verified = False
        add(Check("device", False, f"{absent}; not verified (--device auto or cpu runs here)"))
        result.seconds = time.monotonic() - start
        return result

    if isolated:
        from dlpick.verify import envs

        spec = envs.spec_for(project.path, project.framework, constraints, python, device)
        try:
            env = envs.ensure(spec, event, envs_root)
        except envs.EnvError as exc:
            result.verified = False
            result.install = [exc.hint or ""]
            add(Check("environment", False, f"{spec.describe()} could not be built: {exc.message}; not verified"))
            result.seconds = time.monotonic() - start
            return result
        how = f"reused {env.path}" if env.reused else f"built {env.path} in {env.seconds:.0f} s"
        add(Check("environment", True, f"{spec.describe()}: {how}"))
        python, result.environment = env.python, str(env.path)

    modules = _modules(project.framework, kb)
    event("step", f"looking for {', '.join(modules)} and pytest")
    missing = missing_modules(python, [*modules, "pytest"], project.path)
    missing_framework = [m for m in missing if m != "pytest"]
    if missing_framework:
        result.verified = False
        if result.environment:  # dlpick's own environment is broken: rebuilding it is the fix
            name = Path(result.environment).name
            result.install = [f"dlpick envs remove {name}"]
            detail = f"{', '.join(missing_framework)} missing from the isolated environment {name}; not verified"
        else:
            result.install = install_commands(project.framework, kb, project.path, device)
            detail = f"{', '.join(missing_framework)} not installed for {python}; not verified"
        add(Check("framework", False, detail))
        result.seconds = time.monotonic() - start
        return result
    add(Check("framework", True, f"{', '.join(modules)} importable by {python}"))
    if not _requirements_met(project, python, device, result, add):
        result.seconds = time.monotonic() - start
        return result

    # A project whose train can export and check in the same process (`--export-check`) is verified
    # with one import and one compile of the model; its tests run beside it from the start (it makes
    # its sample data atomically). An older project trains, then exports in a second process, and
    # its tests start once the smoke-train has made the sample data.
    combined = exports_in_train(project)
    tests: Future[Ran] | None = None
    cancel = threading.Event()
    test_cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"]

    side_by_side = _side_by_side_env(project.path) if combined else None
    serve_later = combined and serves_a_given_run(project)
    served_tests: Ran | None = None

    def start_tests() -> None:
        nonlocal tests
        if "pytest" not in missing:
            event("step", f"running the project's tests (up to {tests_timeout:g} s)")
            cmd, env = test_cmd, side_by_side
            if serve_later:
                cmd = [*test_cmd, "--ignore", SERVE_TESTS]
            elif side_by_side is not None:
                env = {**side_by_side, RUN_ENV: str(run)}
            tests = pool.submit(run_step, cmd, project.path, tests_timeout, on_event, cancel, env)

    temporary = run_dir is None
    run = Path(run_dir).absolute() if run_dir is not None else None
    unfinished = "verification did not finish" + ("; its temporary run folder was removed" if temporary else "")
    try:
        with processes.signals_deferred():  # a signal is delivered only once `run` is known
            run = run or Path(tempfile.mkdtemp(prefix="dlpick-verify-"))
        with processes.doing(unfinished), ThreadPoolExecutor(max_workers=1) as pool:
            try:
                if combined:
                    (run / RUN_DONE).unlink(missing_ok=True)
                    start_tests()
                    try:
                        _train_and_export_at_once(
                            project, run, device, timeout, python, event, add, result, side_by_side
                        )
                    finally:  # an older project's tests waiting for this run go on (or fail at once)
                        if not serve_later:
                            _mark_done(run, result)
                else:
                    _train_and_export(project, run, device, timeout, python, event, add, result, start_tests)
                served = _serve_check(project, run, python, timeout, event, result)
                if served is not None:
                    add(served)
                if serve_later and "pytest" not in missing:
                    event("step", f"running {SERVE_TESTS} on this run ({SERVE_RUN_ENV})")
                    serve_env = {**_env(project.path), SERVE_RUN_ENV: str(run)}
                    serve_cmd = [*test_cmd, SERVE_TESTS]
                    served_tests = run_step(serve_cmd, project.path, tests_timeout, on_event, cancel, serve_env)
                if tests is not None:
                    add(check_tests(tests.result(), tests_timeout, served_tests))
            except BaseException:
                cancel.set()  # a signal or an error here: stop the tests' process tree too
                raise
    finally:
        if temporary and run is not None:
            with processes.signals_deferred():
                shutil.rmtree(run, ignore_errors=True)

    if "pytest" in missing:
        result.verified = False
        result.install = [requirements.install_command(project.path, device)]
        add(Check("project tests", False, f"pytest not installed for {python}; not verified"))
    result.seconds = time.monotonic() - start
    return result


def _serve_check(
    project: Project, run: Path, python: str, timeout: float, event: OnEvent, result: VerifyResult
) -> Check | None:
    """The trained run served over HTTP (verify/serving.py), once its export passed; None (no check, rather
    than one reported as passed) for a project whose template predates serving (no serve.py)."""
    from dlpick.verify import serving

    if not (project.path / "src" / project.package / "serve.py").is_file():
        return None
    exported = next((c for c in result.checks if c.name == "export"), None)
    if exported is None or not exported.passed:
        return Check("serve", False, "not checked: no passing export to serve")
    passed, detail = serving.check_serve(project.path, project.package, run, python, _env(project.path), timeout, event)
    return Check("serve", passed, detail)


def _requirements_met(
    project: Project, python: str, device: str, result: VerifyResult, add: Callable[[Check], None]
) -> bool:
    """Every requirement the project declares is installed for `python` at a version it accepts;
    else the check says which are not, and the result is *not verified* with the install command."""
    wanted = requirements.declared(project.path, device)
    if not wanted:
        return True
    unmet = requirements.unmet(python, wanted, project.path, _env(project.path))
    if not unmet:
        add(Check("requirements", True, f"the {len(wanted)} requirements the project declares are met"))
        return True
    result.verified = False
    if result.environment:  # dlpick built that environment from the project's files: rebuild it
        result.install = [f"dlpick envs remove {Path(result.environment).name}"]
    else:
        result.install = [requirements.install_command(project.path, device)]
    shown = ", ".join(item.describe() for item in unmet[:6]) + (f" and {len(unmet) - 6} more" if len(unmet) > 6 else "")
    add(Check("requirements", False, f"{shown} for {python}; not verified"))
    return False


def serves_a_given_run(project: Project) -> bool:
    """The project's serve tests serve the run named in SERVE_RUN_ENV (rather than wait for RUN_DONE)."""
    try:
        return SERVE_RUN_ENV in (project.path / SERVE_TESTS).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def exports_in_train(project: Project) -> bool:
    """The project's train takes `--export-check` (export and check in the training process)."""
    train = project.path / "src" / project.package / "train.py"
    try:
        return EXPORT_CHECK in train.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _check_metrics_and_loss(
    project: Project, run: Path, trained: Check, add: Callable[[Check], None], result: VerifyResult
) -> bool:
    """The checks of metrics.json; False (and the export not checked) when it is missing."""
    metrics, problem = _read_json(run / "metrics.json")
    if isinstance(metrics, dict) and isinstance(metrics.get("device"), str):
        result.device = metrics["device"]
    if metrics is None:
        add(Check("metrics", False, problem if trained.passed else f"not checked: smoke-train failed, {problem}"))
        for name in ("loss", "export"):
            add(Check(name, False, "not checked: no metrics.json from the smoke-train"))
        return False
    add(check_metrics(metrics, project))
    add(check_loss(metrics))
    return True


def _train_and_export_at_once(
    project: Project,
    run: Path,
    device: str,
    timeout: float,
    python: str,
    event: OnEvent,
    add: Callable[[Check], None],
    result: VerifyResult,
    env: dict[str, str] | None = None,
) -> None:
    """`train --smoke --export-check`: one process trains, writes metrics.json, exports and compares.

    The smoke-train passed once metrics.json is written (its time: from the start to then); what
    fails after it (the export, its comparison) is the export's failure. `timeout` covers both."""
    for name in ("metrics.json", "export.json"):  # what a previous run left there proves nothing
        (run / name).unlink(missing_ok=True)
    event("step", f"smoke-training on {device}, then exporting and comparing in the same process (up to {timeout:g} s)")
    started = time.time()
    cmd = [python, "-m", f"{project.package}.train", "--smoke", EXPORT_CHECK, "--out", str(run), "--device", device]
    ran = run_step(cmd, project.path, timeout, event, env=env)
    try:
        written = (run / "metrics.json").stat().st_mtime
    except OSError:
        trained = _step_check("smoke-train", ran, timeout)
        if trained.passed:
            trained.detail += " (train --export-check)"
    else:
        took = max(0.0, written - started)
        trained = Check("smoke-train", True, f"metrics.json written {took:.1f} s after the start")
    add(trained)
    if _check_metrics_and_loss(project, run, trained, add, result):
        report, problem = _read_json(run / "export.json")
        check = check_export(ran, report, problem, timeout)
        if check.passed:
            check.detail += f"; train and export in one process: exit status 0 in {ran.seconds:.1f} s"
        add(check)


def _mark_done(run: Path, result: VerifyResult) -> None:
    """Tell the project's tests that the run is finished: `{"export": passed}`, written atomically."""
    exported = any(check.name == "export" and check.passed for check in result.checks)
    partial = run / (RUN_DONE + ".partial")
    partial.write_text(json.dumps({"export": exported}) + "\n", encoding="utf-8")
    partial.replace(run / RUN_DONE)


def _train_and_export(
    project: Project,
    run: Path,
    device: str,
    timeout: float,
    python: str,
    event: OnEvent,
    add: Callable[[Check], None],
    result: VerifyResult,
    trained_hook: Callable[[], None] = lambda: None,
) -> None:
    package = project.package
    event("step", f"smoke-training on {device} (up to {timeout:g} s)")
    cmd = [python, "-m", f"{package}.train", "--smoke", "--out", str(run), "--device", device]
    trained = _step_check("smoke-train", run_step(cmd, project.path, timeout, event), timeout)
    add(trained)
    trained_hook()
    if not _check_metrics_and_loss(project, run, trained, add, result):
        return
    event("step", "exporting and comparing the exported model's predictions")
    cmd = [python, "-m", f"{package}.export", "--run", str(run), "--check"]
    ran = run_step(cmd, project.path, timeout, event)
    report, problem = _read_json(run / "export.json")
    add(check_export(ran, report, problem, timeout))
