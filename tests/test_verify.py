"""`verify` against fake generated projects: standard library only, but following templates/CONTRACT.md."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from dlpick.cli.app import app
from dlpick.verify import checks as verify
from dlpick.verify.checks import VerifyResult

runner = CliRunner()


def children(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


CLASSIFICATION_EVAL = {
    "accuracy": 0.9,
    "precision": 0.9,
    "recall": 0.9,
    "f1": 0.9,
    "roc_auc": 0.95,
    "confusion_matrix": [[5, 1], [0, 4]],
}

TRAIN = '''"""Fake train: writes metrics.json as CONFIG says."""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

CONFIG = json.loads(%r)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", required=True)
    parser.add_argument("--device", default="auto")
    # ONE PROCESS
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print("training on", args.device, file=sys.stderr)
    if CONFIG["hang"]:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        info = {"pid": os.getpid(), "pgid": os.getpgid(0), "child": child.pid}
        Path(CONFIG["hang"]).write_text(json.dumps(info))
        time.sleep(600)
    answers = json.loads(Path(".cookiecutter.json").read_text())
    metrics = {
        "framework": answers["__framework"], "task": answers["task"], **CONFIG["metrics_as"],
        "device": "cpu" if args.device == "auto" else args.device, "seconds": 0.1,
        "loss_history": CONFIG["loss"], "eval": CONFIG["eval"],
    }
    (out / "metrics.json").write_text(json.dumps(metrics))
    (out / "model.json").write_text("{}")
    print("done", file=sys.stderr)
    if CONFIG["exit"] == 0 and getattr(args, "export_check", False):  # export --check, in this process
        import runpy

        sys.argv = ["export.py", "--run", args.out, "--check"]
        runpy.run_module(__spec__.parent + ".export", run_name="__main__")
    sys.exit(CONFIG["exit"])


if __name__ == "__main__":
    main()
'''

EXPORT = '''"""Fake export --check: compares nothing, reports CONFIG's numbers."""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

CONFIG = json.loads(%r)

parser = argparse.ArgumentParser()
parser.add_argument("--run", required=True)
parser.add_argument("--check", action="store_true")
args = parser.parse_args()
if CONFIG["hang"]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path(CONFIG["hang"]).write_text(json.dumps({"pid": os.getpid(), "pgid": os.getpgid(0), "child": child.pid}))
    for _ in range(3000):
        print("still exporting", flush=True)
        time.sleep(0.2)
diff = CONFIG["diff"]
passed = CONFIG["claims_passed"] if CONFIG["claims_passed"] is not None else diff <= 1e-4
item = {"name": "json", "max_abs_diff": diff, "tolerance": 1e-4, "passed": passed}
if CONFIG["agreement"] is not None:
    item.update(agreement=CONFIG["agreement"], min_agreement=0.9)
report = {"formats": {"json": "model.json"}, "checks": [] if CONFIG["no_checks"] else [item]}
Path(args.run, "export.json").write_text(json.dumps(report))
sys.exit(CONFIG["exit"] if CONFIG["exit"] is not None else 0 if passed else 1)
'''


def make_project(
    root: Path,
    framework: str = "json",
    task: str = "tabular-classification",
    loss: list[Any] | None = None,
    eval_: dict[str, Any] | None = None,
    exit_code: int = 0,
    hang: str = "",
    diff: float = 1e-7,
    claims_passed: bool | None = None,
    tests_pass: bool = True,
    agreement: float | None = None,
    export_exit: int | None = None,
    tests: str | None = None,
    metrics_as: dict[str, str] | None = None,
    no_checks: bool = False,
    one_process: bool = True,
    export_hang: str = "",
) -> Path:
    """A generated project as CONTRACT.md describes it, whose modules use only the standard library.

    `one_process`: its train takes --export-check (as generated projects do now); else it is an older
    project that verify trains, then exports in a second process."""
    project = root / "fake-project"
    package = project / "src" / "fake_project"
    package.mkdir(parents=True)
    (project / "tests").mkdir()
    answers = {"__framework": framework, "task": task, "package_name": "fake_project", "project_slug": "fake-project"}
    (project / ".cookiecutter.json").write_text(json.dumps(answers))
    (project / "pyproject.toml").write_text('[project]\nname = "fake-project"\n\n[tool.pytest.ini_options]\n')
    (package / "__init__.py").write_text("")
    config = {
        "loss": [1.0, 0.5, 0.25] if loss is None else loss,
        "eval": CLASSIFICATION_EVAL if eval_ is None else eval_,
        "exit": exit_code,
        "hang": hang,
        "metrics_as": metrics_as or {},
    }
    train = TRAIN % json.dumps(config)
    if one_process:
        train = train.replace("# ONE PROCESS", 'parser.add_argument("--export-check", action="store_true")')
    (package / "train.py").write_text(train)
    (package / "export.py").write_text(
        EXPORT
        % json.dumps(
            {
                "diff": diff,
                "claims_passed": claims_passed,
                "agreement": agreement,
                "exit": export_exit,
                "no_checks": no_checks,
                "hang": export_hang,
            }
        )
    )
    default_tests = f"import fake_project\n\n\ndef test_it():\n    assert {tests_pass}\n"
    (project / "tests" / "test_fake.py").write_text(default_tests if tests is None else tests)
    return project


def names(result: VerifyResult) -> dict[str, bool]:
    return {check.name: check.passed for check in result.checks}


def check(result: VerifyResult, name: str):
    return next(c for c in result.checks if c.name == name)


KB = SimpleNamespace(frameworks={})


@pytest.fixture(autouse=True)
def _fast_child_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake projects' own test runs need no plugins (loading them takes ~1 s per run)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def run(project: Path, **kwargs: Any) -> VerifyResult:
    return verify.verify(project, kb=KB, **kwargs)


@pytest.mark.parametrize("one_process", [True, False], ids=["train --export-check", "train, then export"])
def test_a_good_project_passes(tmp_path: Path, one_process: bool):
    events: list[tuple[str, Any]] = []
    project = make_project(tmp_path, one_process=one_process)
    result = run(project, on_event=lambda kind, payload: events.append((kind, payload)))
    assert result.passed, result.checks
    assert list(names(result)) == ["framework", "smoke-train", "metrics", "loss", "export", "project tests"]
    assert result.device == "cpu"  # what metrics.json says ran, not "auto"
    assert "1 -> 0.25 over 3 logged steps" in check(result, "loss").detail
    assert "json: max |diff| 1e-07 vs tolerance 0.0001: ok" in check(result, "export").detail
    assert "1 passed" in check(result, "project tests").detail
    data = result.to_json()
    assert set(data) >= {"passed", "framework", "device", "seconds", "checks"}
    assert data["passed"] is True and data["framework"] == "json"
    assert all(set(c) == {"name", "passed", "detail"} for c in data["checks"])
    steps = [payload for kind, payload in events if kind == "step"]
    if one_process:  # one process trains, exports and checks; the tests start beside it at once
        assert "smoke-train" not in check(result, "export").detail
        assert "in one process: exit status 0" in check(result, "export").detail
        assert check(result, "smoke-train").detail.startswith("metrics.json written ")
        assert steps[-2].startswith("running the project's tests") and "same process" in steps[-1]
    else:
        assert steps[-3].startswith("smoke-training") and steps[-2].startswith("running the project's tests")
    kinds = {kind for kind, _ in events}
    assert kinds == {"step", "output", "check"}
    assert ("output", "training on auto") in events
    assert not list((tmp_path / "fake-project").rglob("__pycache__"))  # verify leaves the project as it was


@pytest.mark.parametrize(
    ("kwargs", "failed", "says"),
    [
        ({"loss": [1.0, 1.2, 1.5]}, "loss", "did not decrease: 1 -> 1.5"),
        ({"loss": [1.0, float("nan"), 0.5]}, "loss", "not finite: nan"),
        ({"loss": [1.0, float("inf")]}, "loss", "not finite: inf"),
        ({"loss": [1.0]}, "loss", "at least 2 values"),
        ({"eval_": {"accuracy": 0.9, "f1": 0.8}}, "metrics", "missing eval.precision"),
        ({"eval_": {**CLASSIFICATION_EVAL, "roc_auc": float("nan")}}, "metrics", "eval.roc_auc is nan"),
        ({"task": "tabular-regression"}, "metrics", "missing eval.mse"),
        ({"diff": 0.5}, "export", "json: max |diff| 0.5 vs tolerance 0.0001: FAILED"),
        ({"diff": 0.5, "claims_passed": True}, "export", "FAILED"),  # passed: true does not hide the numbers
        ({"agreement": 0.5, "claims_passed": True}, "export", "class agreement 0.5 vs at least 0.9: FAILED"),
        ({"exit_code": 3}, "smoke-train", "exit status 3"),
        ({"tests_pass": False}, "project tests", "exit status 1"),
        ({"loss": [0.5, 0.5, 0.5]}, "loss", "did not decrease: 0.5 -> 0.5"),  # flat is not learning
        ({"loss": [1.0, 0.2, 1.0]}, "loss", "did not decrease: 1 -> 1"),
        ({"export_exit": 2}, "export", "export exited with status 2"),  # its checks passed, its exit did not
        ({"metrics_as": {"framework": "pytorch"}}, "metrics", "framework is 'pytorch', expected 'json'"),
        ({"metrics_as": {"task": "image-classification"}}, "metrics", "expected 'tabular-classification'"),
        ({"tests": "# no tests here\n"}, "project tests", "pytest collected no tests"),
        ({"no_checks": True, "export_exit": 0}, "export", "lists no checks: nothing compared"),
        ({"claims_passed": False, "export_exit": 0}, "export", "json: max |diff| 1e-07 vs tolerance 0.0001: FAILED"),
        ({"tests": "def test_x():\n    pass\n", "tests_pass": True}, None, None),  # the control: passes
    ],
)
@pytest.mark.parametrize("one_process", [True, False], ids=["train --export-check", "train, then export"])
def test_failures_are_reported(
    tmp_path: Path, kwargs: dict[str, Any], failed: str | None, says: str | None, one_process: bool
):
    if one_process and kwargs.get("exit_code"):
        # metrics.json was written, then the process failed: after the smoke-train, so the export is not proved
        failed = "export"
    result = run(make_project(tmp_path, one_process=one_process, **kwargs))
    if failed is None:
        assert result.passed, result.checks
        return
    assert not result.passed and result.verified
    assert [c.name for c in result.failed] == [failed]
    assert says in check(result, failed).detail


def test_regression_task_needs_regression_metrics(tmp_path: Path):
    result = run(make_project(tmp_path, task="tabular-regression", eval_={"mse": 0.1, "mae": 0.2, "r2": 0.9}))
    assert result.passed, result.checks
    assert "mse 0.1, mae 0.2, r2 0.9" in check(result, "metrics").detail


def _group_members(pgid: int) -> list[int]:
    """Processes (not zombies) in process group `pgid`."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] not in "ZX" and int(fields[2]) == pgid:
            alive.append(int(stat.parent.name))
    return alive


def _group_alive(pgid: int) -> list[int]:
    """The group's processes that are still running a second later (the kernel finishes kills asynchronously)."""
    deadline = time.monotonic() + 1
    while (members := _group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return members


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_timeout_kills_the_whole_process_group(tmp_path: Path):
    info = tmp_path / "pids.json"
    start = time.monotonic()
    result = run(make_project(tmp_path, hang=str(info)), timeout=3)
    assert time.monotonic() - start < 30
    assert not result.passed
    assert check(result, "smoke-train").detail == "timed out after 3 s; its process group was killed"
    assert check(result, "metrics").detail.startswith("not checked: smoke-train failed")
    pids = json.loads(info.read_text())
    assert pids["pgid"] == pids["pid"]  # the step ran in its own session
    assert _group_alive(pids["pgid"]) == []


HANGING_TESTS = """import json, os, subprocess, sys, time
from pathlib import Path


def test_hangs():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path(%r).write_text(json.dumps({"pid": os.getpid(), "pgid": os.getpgid(0), "child": child.pid}))
    time.sleep(600)
"""


@pytest.mark.parametrize(
    ("kwargs", "failed"),
    [({"diff": 0.5}, "export"), ({"export_exit": 2}, "export"), ({"tests_pass": False}, "project tests")],
)
def test_cli_a_failure_in_either_step_exits_1(tmp_path: Path, kwargs: dict[str, Any], failed: str):
    """train --export-check and the project's tests run side by side; either one's failure fails verify."""
    result = invoke(str(make_project(tmp_path, **kwargs)), "--json", "--device", "cpu")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert [c["name"] for c in data["checks"] if not c["passed"]] == [failed]
    assert result.stderr.strip().splitlines()[-1] == f"dlpick: error: verification failed: {failed}"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_timeouts_kill_both_trees(tmp_path: Path):
    """The export hangs inside train --export-check, the tests hang beside it: each step's time limit kills
    its whole tree, and each is reported."""
    exporting, testing = tmp_path / "export-pids.json", tmp_path / "tests-pids.json"
    project = make_project(tmp_path, export_hang=str(exporting), tests=HANGING_TESTS % str(testing))
    start = time.monotonic()
    result = run(project, timeout=3, tests_timeout=3)
    assert time.monotonic() - start < 60
    assert names(result) == {
        "framework": True, "smoke-train": True, "metrics": True, "loss": True, "export": False,
        "project tests": False,
    }  # fmt: skip
    assert check(result, "export").detail.startswith("timed out after 3 s; its process group was killed")
    assert check(result, "project tests").detail == "timed out after 3 s; its process group was killed"
    for info in (exporting, testing):
        pids = json.loads(info.read_text())
        assert pids["pgid"] == pids["pid"]  # each step ran in its own session: the group is its whole tree
        assert _group_alive(pids["pgid"]) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_ctrl_c_during_verify_kills_both_trees(tmp_path: Path):
    exporting, testing = tmp_path / "export-pids.json", tmp_path / "tests-pids.json"
    project = make_project(tmp_path, export_hang=str(exporting), tests=HANGING_TESTS % str(testing))

    def interrupt(kind: str, payload: Any) -> None:  # Ctrl-C reaches the main thread once both hang
        if threading.current_thread() is threading.main_thread() and exporting.exists() and testing.exists():
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(project, timeout=60, tests_timeout=60, on_event=interrupt)
    for info in (exporting, testing):
        assert _group_alive(json.loads(info.read_text())["pgid"]) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_ctrl_c_kills_the_process_group(tmp_path: Path):
    info = tmp_path / "pids.json"

    def interrupt(kind: str, payload: Any) -> None:
        if kind == "output" and info.exists():
            raise KeyboardInterrupt

    project = make_project(tmp_path, hang=str(info))
    with pytest.raises(KeyboardInterrupt):
        verify.run_step(
            [sys.executable, "-c", "import runpy,time; time.sleep(1); runpy.run_module('fake_project.train', "
             "run_name='__main__')", "--out", str(tmp_path / "run")],
            project, timeout=60, on_event=interrupt,
        )  # fmt: skip
    assert _group_alive(json.loads(info.read_text())["pgid"]) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_cancel_stops_a_step_running_in_another_thread(tmp_path: Path):
    """The project's tests run in a worker thread beside the export: `cancel` is their Ctrl-C."""
    info = tmp_path / "pids.json"
    project = make_project(tmp_path, hang=str(info))
    cancel = threading.Event()
    cmd = [sys.executable, "-m", "fake_project.train", "--smoke", "--out", str(tmp_path / "run")]
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(verify.run_step, cmd, project, 60, None, cancel)
        deadline = time.monotonic() + 30
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        cancel.set()
        with pytest.raises(KeyboardInterrupt):
            future.result(timeout=30)
    assert _group_alive(json.loads(info.read_text())["pgid"]) == []


def test_missing_framework_is_not_verified(tmp_path: Path):
    project = make_project(tmp_path, framework="no_such_framework_xyz")
    result = run(project)
    assert not result.passed and not result.verified
    assert names(result) == {"framework": False}
    assert "no_such_framework_xyz not installed" in result.checks[0].detail
    assert result.install == ["pip install no_such_framework_xyz", f"python -m pip install -e {project}"]
    assert result.to_json()["passed"] is False


def test_install_command_comes_from_the_knowledge_base(tmp_path: Path):
    from dlpick.kb import knowledge, model

    project = make_project(tmp_path, framework="pytorch")
    data = knowledge.load().framework("pytorch").to_json()
    data["import_names"] = ["no_such_torch_xyz"]
    data["hardware"]["cpu"]["install"] = "pip3 install torch --index-url https://example.org/cpu"
    kb = SimpleNamespace(frameworks={"pytorch": model.framework_from_json(data)})
    result = verify.verify(project, kb=kb)
    assert not result.verified
    assert result.install[0] == "pip3 install torch --index-url https://example.org/cpu"
    del data["hardware"]["cpu"]["install"]
    kb = SimpleNamespace(frameworks={"pytorch": model.framework_from_json(data)})
    assert verify.install_commands("pytorch", kb, project)[0] == "pip install torch"


def test_not_a_project(tmp_path: Path):
    from dlpick.errors import BadInput

    with pytest.raises(BadInput, match="missing; not a project generated"):
        run(tmp_path)
    with pytest.raises(BadInput, match="no such project folder"):
        run(tmp_path / "nope")


# --- dlpick verify -----------------------------------------------------------------------------


@pytest.fixture
def kb_overlay(tmp_path: Path) -> Path:
    """A team knowledge folder saying pytorch imports as a module that does not exist."""
    directory = tmp_path / "kb"
    (directory / "frameworks").mkdir(parents=True)
    (directory / "frameworks" / "pytorch.yaml").write_text("id: pytorch\nimport_names: [no_such_torch_xyz]\n")
    return directory


def invoke(*args: str):
    return runner.invoke(app, ["verify", *args])


def test_cli_passed(tmp_path: Path):
    result = invoke(str(make_project(tmp_path)), "--json", "--device", "cpu")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is True and data["device"] == "cpu"
    text = invoke(str(tmp_path / "fake-project"))
    assert text.exit_code == 0, text.output
    assert "verified: json on cpu" in text.stdout


def test_cli_verify_trains_in_its_own_temporary_run_and_leaves_the_projects_runs_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """verify clears metrics.json/export.json in its run folder before training: from the CLI that folder
    is always a fresh temporary one (no option names it), never a run of the user's. The temporary folder
    is this test's own (another verify on the machine makes and removes its runs in the shared one)."""
    project = make_project(tmp_path)
    mine = project / "runs" / "first"
    mine.mkdir(parents=True)
    for name in ("metrics.json", "export.json"):
        (mine / name).write_text('{"mine": true}')
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(verify.tempfile, "tempdir", str(temporary))
    result = invoke(str(project), "--json", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert all((mine / name).read_text() == '{"mine": true}' for name in ("metrics.json", "export.json"))
    assert list(temporary.iterdir()) == []  # its own run is gone


def test_cli_failed_exit_1(tmp_path: Path):
    result = invoke(str(make_project(tmp_path, loss=[1.0, 2.0])), "--json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["passed"] is False
    assert result.stderr.strip().splitlines()[-1] == "dlpick: error: verification failed: loss"


def test_cli_framework_missing_exit_3(tmp_path: Path, kb_overlay: Path):
    project = make_project(tmp_path, framework="pytorch")
    result = invoke(str(project), "--json", "--knowledge", str(kb_overlay))
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is False and data["verified"] is False
    assert data["install"][0].startswith("pip3 install torch")
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("dlpick: error: no_such_torch_xyz not installed") and "install: pip3 install torch" in last
    text = invoke(str(project), "--knowledge", str(kb_overlay))
    assert text.exit_code == 3
    assert "not verified" in text.stdout and "pip3 install torch" in text.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [(["--device", "tpu"], "unknown device 'tpu'"), (["--timeout", "0"], "--timeout")],
)
def test_cli_bad_input(tmp_path: Path, args: list[str], says: str):
    result = invoke(str(make_project(tmp_path)), *args)
    assert result.exit_code == 2
    assert says in result.stderr


def test_cli_not_a_project(tmp_path: Path):
    result = invoke(str(tmp_path))
    assert result.exit_code == 2
    assert "not a project generated from a dlpick template" in result.stderr


def test_scaffold_then_verify_with_a_fake_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """scaffold --verify end to end, on a stdlib-only template (framework module: json)."""
    templates = tmp_path / "templates"
    make_project(tmp_path)
    template = templates / "json"
    project = template / "{{cookiecutter.project_slug}}"
    (project / "src").mkdir(parents=True)
    (tmp_path / "fake-project" / "src" / "fake_project").rename(project / "src" / "{{cookiecutter.package_name}}")
    (tmp_path / "fake-project" / "tests").rename(project / "tests")
    (project / ".cookiecutter.json").write_text("{{ cookiecutter | jsonify }}\n")
    (project / "tests" / "test_fake.py").write_text("def test_it():\n    pass\n")
    context = {
        "project_name": "x",
        "project_slug": "{{ cookiecutter.project_name }}",
        "package_name": "{{ cookiecutter.project_slug.replace('-', '_') }}",
        "task": ["tabular-classification"],
        "python_version": "3.11",
        "__framework": "json",
    }
    (template / "cookiecutter.json").write_text(json.dumps(context))
    monkeypatch.setenv("DLPICK_TEMPLATES", str(templates))
    dest = tmp_path / "work" / "demo"
    result = runner.invoke(app, ["scaffold", "json", "-t", "tabular-classification", "-d", str(dest), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["package_name"] == "demo" and data["verify"]["passed"] is True
    assert [c["name"] for c in data["verify"]["checks"]][-1] == "project tests"
    (dest / "src" / "demo" / "export.py").write_text("import sys\nsys.exit(2)\n")
    failed = runner.invoke(app, ["verify", str(dest)])
    assert failed.exit_code == 1
    assert "FAIL" in failed.stdout and "export" in failed.stderr
    assert children(dest.parent) == ["demo"]


def test_declared_requirements_are_checked_before_anything_runs(tmp_path: Path):
    """`pip install dlpick torch` without the project's other requirements: not verified, exit 3."""
    project = make_project(tmp_path)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "fake-project"\ndependencies = [\n'
        '  "dlpick-no-such-package-xyz>=1",\n  "pytest<1",\n  "pytest>=1",\n'
        "  \"dlpick-never-on-this-python; python_version < '3'\",\n]\n"
        '[project.optional-dependencies]\ncpu = ["dlpick-cpu-variant-xyz"]\ngpu = ["dlpick-gpu-variant-xyz"]\n'
        'dev = ["pytest>=1"]\n'
    )
    result = run(project)
    assert not result.verified and not result.passed
    assert list(names(result)) == ["framework", "requirements"]  # the smoke-train never ran
    detail = check(result, "requirements").detail
    assert "dlpick-no-such-package-xyz>=1 (not installed)" in detail
    assert f"pytest<1 (has {pytest.__version__})" in detail
    assert "dlpick-cpu-variant-xyz (not installed)" in detail
    assert "never-on-this-python" not in detail and "gpu-variant" not in detail
    assert result.install == [f"python -m pip install -e '{project}[cpu,dev]'"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(verify, "_device_absent", lambda device: "")  # as on a machine with a GPU
        assert "gpu-variant" in check(run(project, device="cuda"), "requirements").detail
    cli = invoke(str(project), "--json")
    assert cli.exit_code == 3 and json.loads(cli.stdout)["verified"] is False


def test_the_commit_tools_of_the_dev_extra_are_installed_with_it_but_no_check_needs_them(tmp_path: Path):
    """ruff and pre-commit (what `.pre-commit-config.yaml` runs) come with `pip install -e '.[dev]'`;
    a machine without them still trains, tests and serves the project: verify does not ask for them."""
    project = make_project(tmp_path)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = []\n[project.optional-dependencies]\n'
        'dev = ["pytest>=7", "Ruff>=0.17", "pre_commit >= 4", "dlpick-dev-only-xyz"]\n'
    )
    detail = check(run(project), "requirements").detail
    assert "dlpick-dev-only-xyz (not installed)" in detail, detail
    assert "uff" not in detail and "commit" not in detail, detail
    assert run(project).install == [f"python -m pip install -e '{project}[dev]'"]


def test_a_generated_projects_dev_extra_carries_the_tools_its_pre_commit_config_runs(tmp_path: Path):
    from dlpick.project import render
    from dlpick.verify import requirements

    project = render.render("pytorch", "tabular-regression", tmp_path / "dev-demo").project_dir
    dev = requirements._pyproject(project)["project"]["optional-dependencies"]["dev"]
    names = {re.split(r"[<>=!~ ]", requirement, maxsplit=1)[0] for requirement in dev}
    assert {"pytest", "ruff", "pre-commit"} <= names, dev
    assert "ruff-pre-commit" in (project / ".pre-commit-config.yaml").read_text()


def test_requirements_txt_is_read_when_pyproject_points_there(tmp_path: Path):
    project = make_project(tmp_path)
    (project / "pyproject.toml").write_text('[project]\nname = "x"\ndynamic = ["dependencies"]\n')
    (project / "requirements.txt").write_text("# pins\n--index-url https://example.org\npytest>=1  # ok\n")
    result = run(project)
    assert result.passed, result.checks
    assert check(result, "requirements").detail == "the 1 requirements the project declares are met"


def test_requirements_follow_setuptools_dynamic_files_and_includes(tmp_path: Path):
    project = make_project(tmp_path)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndynamic = ["dependencies"]\n'
        '[tool.setuptools.dynamic]\ndependencies = { file = ["requirements-common.txt"] }\n'
    )
    (project / "requirements-common.txt").write_text("-r more.txt\n")
    (project / "more.txt").write_text("dlpick-included-xyz\n")
    result = run(project)
    assert not result.verified and "dlpick-included-xyz (not installed)" in check(result, "requirements").detail


def test_a_requirement_the_probe_cannot_read_is_one_line(tmp_path: Path):
    project = make_project(tmp_path)
    (project / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["not a requirement !!"]\n')
    result = invoke(str(project))
    errors = [line for line in result.stderr.splitlines() if line.startswith("dlpick: error:")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    assert "declares 'not a requirement !!', not a valid requirement (" in errors[0], errors


def test_steps_side_by_side_share_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """train --export-check and the tests run at once: each thread pool gets half the cores, unless set."""
    for name in verify.THREAD_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "7")
    env = verify._side_by_side_env(tmp_path)
    assert env["MKL_NUM_THREADS"] == "7"  # the caller's choice stands
    assert int(env["OMP_NUM_THREADS"]) >= 1 and env["OMP_NUM_THREADS"] == env["TF_NUM_INTRAOP_THREADS"]
    assert env["PYTHONPATH"].startswith(str(tmp_path / "src"))


def test_a_device_this_machine_lacks_is_not_verified(tmp_path: Path, monkeypatch):
    """`--device cuda` without an NVIDIA GPU: one "device" row, not verified (exit 3), nothing run."""
    from dlpick.machine import hardware

    monkeypatch.setattr(hardware, "quick_hardware_ids", lambda timeout=5.0: ["cpu"])
    project = make_project(tmp_path)
    result = run(project, device="cuda")
    assert not result.verified and not result.passed
    assert [(c.name, c.passed) for c in result.checks] == [("device", False)]
    assert "no NVIDIA GPU found" in result.checks[0].detail
    cli = invoke(str(project), "--device", "cuda", "--json")
    assert cli.exit_code == 3, cli.output
    assert json.loads(cli.stdout)["verified"] is False
    assert cli.stderr.strip().splitlines()[-1].startswith("dlpick: error: --device cuda: no NVIDIA GPU found")
    text = invoke(str(project), "--device", "cuda")
    assert text.exit_code == 3 and "--device cpu" in text.stdout and "--isolated" not in text.stdout
    monkeypatch.setattr(hardware, "quick_hardware_ids", lambda timeout=5.0: ["cpu", "nvidia-gpu"])
    assert run(project, device="cuda").checks[0].name != "device"
