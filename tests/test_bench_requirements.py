"""`dlpick bench` names everything it lacks before anything runs: its projects' declared requirements
(one line per framework, one install command each), a missing device; and what it did not measure is
never saved as the latest run."""

from __future__ import annotations

import functools
import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dlpick.cli.app import app
from dlpick.machine import bench as bench_mod
from dlpick.machine import bench_projects

runner = CliRunner()


def ok(samples: float = 1000.0, device: str = "cpu") -> dict[str, Any]:
    return {
        "status": "ok",
        "version": "9.9",
        "device": device,
        "device_name": None,
        "import_s": 1.0,
        "steps_per_s": samples / 4,
        "samples_per_s": samples,
        "peak_rss_mb": 300.0,
        "peak_device_mb": None,
        "repeats": 5,
        "spread": 0.02,
    }


@pytest.fixture
def workers(monkeypatch) -> list[tuple[str, str]]:
    """Fake workers that measure at once; the list records which ran."""
    ran: list[tuple[str, str]] = []

    def run_worker(framework: str, model: str, spec: Any, *args: Any) -> dict[str, Any]:
        ran.append((framework, model))
        return {"batch": spec.batch, "steps": spec.steps, "warmup": spec.warmup, **ok()}

    monkeypatch.setattr(bench_mod, "run_worker", run_worker)
    return ran


@pytest.fixture
def installed(monkeypatch, tmp_path: Path):
    """Pretend pytorch and tensorflow are installed beside dlpick (the frameworks; not what their projects
    need), with the user data and the rendered projects in this test's folders."""
    from dlpick.machine import doctor

    def fake(frameworks, system=None, arch=None):
        return [
            doctor.InstalledFramework(fid, frameworks[fid].name, [doctor.Package(fid, "9.9", doctor.Build("", None))])
            for fid in ("pytorch", "tensorflow")
        ]

    monkeypatch.setattr(doctor, "installed_frameworks", fake)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(bench_projects, "projects_dir", lambda: tmp_path / "projects")


@pytest.fixture
def venv(tmp_path: Path, monkeypatch) -> Path:
    """A fresh `python -m venv` (no pip, nothing installed but `packaging`, so that versions are checked
    too), which bench's workers and its requirements check use instead of dlpick's own Python."""
    import packaging

    folder = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())  # fmt: skip
    shutil.copytree(Path(packaging.__file__).parent, site / "packaging")
    monkeypatch.setattr(bench_mod, "bench", functools.partial(bench_mod.bench, python=str(python)))
    return python


def pip_install_offline(command: str, python: Path) -> None:
    """What `python -m pip install REQ ...` leaves behind, without a download: each distribution's
    metadata (replacing an older one), at the lowest version its requirement allows (the check reads
    metadata, never imports)."""
    from packaging.requirements import Requirement

    argv = shlex.split(command)
    assert argv[:4] == [str(python), "-m", "pip", "install"], command
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        text=True).strip())  # fmt: skip
    for line in argv[4:]:
        req = Requirement(line)  # pip syntax: each argument one requirement
        bounds = [spec.version for spec in req.specifier if spec.operator in (">=", "==", "~=")]
        version = next((v for v in [*bounds, "1.0"] if req.specifier.contains(v, prereleases=True)), None)
        assert version is not None, line
        for old in site.glob(f"{req.name.replace('-', '_')}-*.dist-info"):  # pip replaces what is there
            shutil.rmtree(old)
        info = site / f"{req.name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {req.name}\nVersion: {version}\n")


def test_one_run_names_every_missing_requirement_and_its_install_command_works(installed, venv, workers):
    """pytorch and tensorflow installed, nothing their projects need: one run says all of it (exit 3) and
    runs nothing; each framework's one command, once run, makes the next bench measure."""
    args = ["bench", "pytorch", "tensorflow", "--quick"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 3, result.output
    assert workers == []  # nothing started
    assert not (bench_mod.data_dir() / "latest.json").exists()  # nothing saved
    data = json.loads(result.stdout)
    entries = {f["framework"]: f for f in data["frameworks"]}
    for fid, own in (("pytorch", "torch"), ("tensorflow", "tensorflow-cpu")):
        entry = entries[fid]
        assert entry["status"] == "not installed" and entry["models"] == {}
        names = {line.split(">")[0].split("=")[0] for line in entry["missing"]}
        # what the projects need to train (and declare), never the dev tools, nor the framework installed here
        assert {"numpy", "scikit-learn", "pyyaml", "pillow"} <= names
        assert own not in names and "pytest" not in names and "ruff" not in names
        # one pip command in this Python, of exactly the missing set
        assert shlex.split(entry["install"]) == [str(venv), "-m", "pip", "install", *entry["missing"]]
    counts = f"pytorch ({len(entries['pytorch']['missing'])}), tensorflow ({len(entries['tensorflow']['missing'])})"
    assert result.stderr.strip().splitlines()[-1] == (
        f"dlpick: error: not measured: requirements missing for {counts} (each framework's `install` in the "
        "JSON; or run each in its project's own environment: dlpick bench --isolated)"
    )

    # The text: one line per framework, unbroken at 80 columns, with everything it lacks and its command.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "80")
        text = runner.invoke(app, args)
    assert text.exit_code == 3 and workers == []
    for fid, name in (("pytorch", "PyTorch"), ("tensorflow", "TensorFlow")):
        lines = [line for line in text.stdout.splitlines() if line.startswith(f"{name} not measured:")]
        assert len(lines) == 1, text.stdout
        assert all(req in lines[0] for req in entries[fid]["missing"]) and lines[0].endswith(entries[fid]["install"])
    assert "not saved as the latest run: nothing was measured" in text.stdout
    assert "recommend --bench last" not in text.stdout
    tail = "(each one's install command is above; or run each in its project's own environment: "
    tail += "dlpick bench --isolated)"
    assert text.stderr.strip().splitlines()[-1].endswith(tail)
    # One framework: the error line alone says it all.
    alone = runner.invoke(app, ["bench", "pytorch", "--quick"])
    needs = ", ".join(entries["pytorch"]["missing"])
    assert alone.exit_code == 3 and alone.stderr.strip().splitlines()[-1] == (
        f"dlpick: error: not measured: pytorch needs {needs}, not installed ({entries['pytorch']['install']}; "
        "or run each in its project's own environment: dlpick bench --isolated)"
    )

    for entry in entries.values():
        pip_install_offline(entry["install"], venv)
    measured = runner.invoke(app, [*args, "--json"])
    assert measured.exit_code == 0, measured.output
    assert {f["status"] for f in json.loads(measured.stdout)["frameworks"]} == {"measured"}
    assert sorted(workers) == sorted((f, m) for f in entries for m in bench_mod.MODELS)
    assert (bench_mod.data_dir() / "latest.json").is_file()


def test_a_version_the_project_excludes_is_a_warning_not_a_stop(installed, venv, workers):
    """numpy installed at a version the projects exclude: named, not among the missing (nor in the command);
    once the rest is installed the run measures and says which version it measured with."""
    pip_install_offline(f"{venv} -m pip install numpy==1.0", venv)
    result = runner.invoke(app, ["bench", "pytorch", "--quick", "--json"])
    assert result.exit_code == 3 and workers == []
    pytorch = json.loads(result.stdout)["frameworks"][0]
    assert "numpy>=1.26" not in pytorch["missing"] and "numpy" not in pytorch["install"]
    pip_install_offline(pytorch["install"], venv)
    measured = runner.invoke(app, ["bench", "pytorch", "--quick", "--json"])
    assert measured.exit_code == 0, measured.output
    data = json.loads(measured.stdout)
    warning = "its projects declare numpy>=1.26 (has 1.0); measured with the version installed"
    assert data["frameworks"][0]["warnings"] == [warning] and f"PyTorch: {warning}" in data["warnings"]


def test_a_ready_framework_is_not_run_while_another_lacks_requirements(installed, venv, workers):
    """Before anything starts: the ready one is "not run", and the line says how to measure it alone."""
    torch_command = runner.invoke(app, ["bench", "pytorch", "--quick", "--json"])
    pip_install_offline(json.loads(torch_command.stdout)["frameworks"][0]["install"], venv)
    result = runner.invoke(app, ["bench", "pytorch", "tensorflow", "--quick", "--json"])
    assert result.exit_code == 3 and workers == []
    pytorch, tensorflow = json.loads(result.stdout)["frameworks"]
    assert pytorch["status"] == "not run" and "`dlpick bench pytorch`" in pytorch["error"]
    assert tensorflow["status"] == "not installed" and tensorflow["missing"]


def test_a_framework_asked_for_and_not_installed_gets_its_own_install_then_the_rest(monkeypatch, tmp_path, venv):
    from dlpick.machine import doctor

    monkeypatch.setattr(doctor, "installed_frameworks", lambda frameworks, system=None, arch=None: [])
    monkeypatch.setattr(bench_projects, "projects_dir", lambda: tmp_path / "projects")
    result = runner.invoke(app, ["bench", "pytorch", "--quick", "--json"])
    assert result.exit_code == 3, result.output
    pytorch = json.loads(result.stdout)["frameworks"][0]
    assert "torch>=2.4,<3" in pytorch["missing"] and "numpy>=1.26" in pytorch["missing"]
    first, rest = pytorch["install"].split(" && ")
    assert first.startswith("pip3 install torch")  # the knowledge base's command: the CPU build on a CPU machine
    assert shlex.split(rest)[4:] == [r for r in pytorch["missing"] if not r.startswith("torch")]


# --- a device the machine does not have ----------------------------------------------------------


@pytest.fixture
def hardware(monkeypatch):
    """Set what hardware detection finds."""
    from dlpick.machine import hardware as hw

    found: list[str] = ["cpu"]
    monkeypatch.setattr(hw, "detected_hardware_ids", lambda machine: list(found))
    return found


def test_device_cuda_without_a_gpu_is_not_measured_nor_saved(installed, hardware, workers):
    result = runner.invoke(app, ["bench", "pytorch", "--device", "cuda", "--quick"])
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "dlpick: error: --device cuda: this machine has no nvidia-gpu or amd-gpu that dlpick finds; nothing was "
        "measured or saved (`dlpick doctor` shows what it finds; --device cpu or auto measures what is here)"
    ]
    assert workers == [] and not (bench_mod.data_dir() / "latest.json").exists()


def test_a_framework_that_sees_no_gpu_is_not_measured_never_failed(installed, hardware, monkeypatch, tmp_path):
    """The machine has an NVIDIA GPU but the framework's build does not see it: "no device", exit 3, and a
    run that measured nothing is not the latest (an --out file still says what happened)."""
    hardware.append("nvidia-gpu")
    monkeypatch.setattr(bench_projects, "check_requirements", lambda *args, **kwargs: [])
    no_gpu = {"status": "no device", "error": "--device cuda but no CUDA device is visible"}
    monkeypatch.setattr(bench_mod, "run_worker", lambda *args, **kwargs: dict(no_gpu))
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["bench", "pytorch", "--device", "cuda", "--quick", "--out", str(out)])
    assert result.exit_code == 3, result.output
    assert result.stderr.strip().splitlines()[-1] == (
        "dlpick: error: not measured on --device cuda: pytorch mlp: --device cuda but no CUDA device is visible"
    )
    assert "PyTorch not measured: mlp: --device cuda but no CUDA device is visible" in result.stdout
    assert "failed" not in result.stdout and "recommend --bench last" not in result.stdout
    assert not (bench_mod.data_dir() / "latest.json").exists()
    assert json.loads(out.read_text())["frameworks"][0]["status"] == "no device"


def test_the_engine_worker_reports_a_missing_device_as_no_device():
    """The real worker, PyTorch's template engine: CUDA asked for on a machine without it."""
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    spec = bench_mod.Spec(batch=2, steps=1, warmup=0)
    result = bench_mod.run_worker("pytorch", "mlp", spec, "cuda", timeout=120)
    assert result["status"] == "no device" and "no CUDA device" in result["error"], result
    assert "samples_per_s" not in result


# --- the table, and --isolated's environments ---------------------------------------------------


def test_the_table_keeps_framework_names_whole(monkeypatch, capsys):
    from dlpick.cli import bench as bench_cli

    monkeypatch.setenv("COLUMNS", "60")
    entries = [
        {"framework": fid, "version": "3.2.1", "models": {"mlp": {**ok(), "peak_rss_mb": 1234.0}}}
        for fid in ("paddlepaddle", "tensorflow", "mindspore")
    ]
    from dlpick.cli import output

    output.console().print(bench_cli._table({"frameworks": entries}))
    shown = capsys.readouterr().out
    for fid in ("paddlepaddle", "tensorflow", "mindspore"):
        assert any(line.split() and line.split()[0] == fid for line in shown.splitlines()), shown


def test_isolated_builds_with_verifys_builder_and_the_constraint_files(installed, monkeypatch, tmp_path, workers):
    from dlpick.verify import envs

    built: list[Any] = []

    def ensure(spec, on_event=None, root=None):
        built.append(spec)
        return envs.Env(tmp_path / "env", "/env/bin/python", spec, True, 0.0)

    monkeypatch.setattr(envs, "ensure", ensure)
    constraint = tmp_path / "cpu-torch.txt"
    constraint.write_text("torch==2.13.0+cpu\n")
    result = runner.invoke(app, ["bench", "pytorch", "--isolated", "-c", str(constraint), "--quick", "--json"])
    assert result.exit_code == 0, result.output
    assert built and all(spec.constraints == (("cpu-torch.txt", "torch==2.13.0+cpu\n"),) for spec in built)
    assert built[0] == envs.spec_for(bench_projects.bench_project("pytorch", "mlp"), "pytorch", [constraint])

    alone = runner.invoke(app, ["bench", "pytorch", "-c", str(constraint)])
    assert alone.exit_code == 2 and "--constraint applies to the environments --isolated builds" in alone.stderr
