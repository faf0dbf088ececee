"""No CUDA build is installed on a machine without an NVIDIA GPU (dlpick/verify/wheels.py): the choice of
PyTorch's index, the dry-run guard, the CPU pins from pip's own indexes, and the user's constraint files."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlpick.errors import BadInput
from dlpick.verify import envs, wheels

ROOT = Path(__file__).resolve().parent.parent
# `uv pip install --dry-run torch` on a CPU-only Linux machine resolving from PyPI (2026-12).
PYPI_PLAN = [
    ("cuda-bindings", "13.5.0"),
    ("cuda-toolkit", "13.0.3.0"),
    ("filelock", "4.3.2"),
    ("nvidia-cublas", "13.1.1.3"),
    ("nvidia-cudnn-cu13", "9.24.0.43"),
    ("torch", "2.14.1"),
    ("triton", "3.8.0"),
]
CPU_PLAN = [("filelock", "4.3.2"), ("torch", "2.13.0+cpu"), ("torchvision", "0.28.0")]


def test_cuda_builds_are_named():
    assert wheels.cuda_builds(PYPI_PLAN) == [
        "cuda-bindings==13.5.0",
        "cuda-toolkit==13.0.3.0",
        "nvidia-cublas==13.1.1.3",
        "nvidia-cudnn-cu13==9.24.0.43",
    ]
    assert wheels.cuda_builds([("torch", "2.5.1+cu124"), ("torch", "2.5.1+rocm6.2")]) == [
        "torch==2.5.1+cu124",
        "torch==2.5.1+rocm6.2",
    ]
    assert wheels.cuda_builds(CPU_PLAN) == []


def test_newest_cpu_build_from_pips_listing():
    listed = ["2.15.0", "2.14.1", "2.13.0+cpu", "2.13.0", "2.12.0+cpu"]
    assert wheels.newest_cpu_build(listed) == "2.13.0+cpu"
    assert wheels.newest_cpu_build(["2.15.0"]) is None


def test_torch_choice(monkeypatch):
    monkeypatch.setattr(wheels, "reachable", lambda url: True)
    assert wheels.torch_choice(gpu=False).extra_index == (wheels.CPU_INDEX,)
    assert wheels.torch_choice(gpu=True).extra_index == ()
    monkeypatch.setattr(wheels, "reachable", lambda url: False)
    unreachable = wheels.torch_choice(gpu=False)
    assert unreachable.extra_index == () and "does not answer" in unreachable.why
    monkeypatch.setenv(wheels.INDEX_VAR, "https://mirror.example/whl/cpu")
    assert wheels.torch_choice(gpu=True).extra_index == ("https://mirror.example/whl/cpu",)
    monkeypatch.setenv(wheels.INDEX_VAR, "pip")
    assert wheels.torch_choice(gpu=False).extra_index == ()
    monkeypatch.setenv(wheels.INDEX_VAR, "cpu please")
    with pytest.raises(BadInput, match=wheels.INDEX_VAR):
        wheels.torch_choice(gpu=False)


@pytest.fixture
def fake_resolver(monkeypatch, tmp_path):
    """wheels.plan answers PYPI_PLAN, or CPU_PLAN once a constraint file pins torch; pip's indexes
    offer `offered` for torch. Returns the list of commands resolved."""
    resolved: list[list[str]] = []
    offered = ["2.15.0", "2.14.1", "2.13.0+cpu", "2.13.0"]

    def plan(cmd, env, timeout):
        resolved.append(cmd)
        pinned = any("cpu-builds" in part and "torch==" in Path(part).read_text() for part in cmd)
        return CPU_PLAN if pinned else PYPI_PLAN

    monkeypatch.setattr(wheels, "plan", plan)
    monkeypatch.setattr(wheels, "index_versions", lambda python, name, options=(): offered if name == "torch" else [])
    return resolved, offered


def test_no_gpu_pins_the_cpu_build_pips_indexes_offer(fake_resolver, tmp_path):
    resolved, _ = fake_resolver
    choice = wheels.Choice((), False, "no NVIDIA GPU found")
    added = wheels.cpu_only(["uv", "pip", "install", "torch"], choice, tmp_path, {}, None, 60)
    assert added == ["-c", str(tmp_path / "constraints-cpu-builds.txt")]
    assert (tmp_path / "constraints-cpu-builds.txt").read_text() == "torch==2.13.0+cpu\n"
    assert len(resolved) == 2  # the plan, then the plan with the pin: no CUDA build left


def test_no_gpu_and_no_cpu_build_refuses_before_installing(fake_resolver, tmp_path):
    _, offered = fake_resolver
    offered[:] = ["2.15.0", "2.14.1"]
    choice = wheels.Choice((), False, "no NVIDIA GPU found")
    with pytest.raises(wheels.Refused) as raised:
        wheels.cpu_only(["uv", "pip", "install", "torch"], choice, tmp_path, {}, None, 60)
    assert raised.value.exit_code == 3
    assert "would take CUDA builds (cuda-bindings==13.5.0" in raised.value.message
    assert wheels.INDEX_VAR in raised.value.hint and wheels.CONSTRAINT_VAR in raised.value.hint


def test_a_gpu_or_the_users_say_so_installs_as_resolved(fake_resolver, tmp_path, monkeypatch):
    resolved, _ = fake_resolver
    assert wheels.cpu_only(["uv"], wheels.Choice((), True, "gpu"), tmp_path, {}, None, 60) == []
    monkeypatch.setenv(wheels.ALLOW_VAR, "1")
    assert wheels.cpu_only(["uv"], wheels.Choice((), False, "none"), tmp_path, {}, None, 60) == []
    assert resolved == []  # no dry run needed


def test_user_constraint_files_reach_every_environment_build(tmp_path, monkeypatch):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "requirements.txt").write_text("torch>=2.4\n")
    mine = tmp_path / "cpu.txt"
    mine.write_text("torch==2.5.1+cpu\n")
    monkeypatch.setenv(wheels.CONSTRAINT_VAR, str(mine))
    spec = envs.spec_for(project, "pytorch")
    assert spec.constraints == (("cpu.txt", "torch==2.5.1+cpu\n"),)
    monkeypatch.setenv(wheels.CONSTRAINT_VAR, str(tmp_path / "nope.txt"))
    with pytest.raises(BadInput, match="constraint file not found"):
        envs.spec_for(project, "pytorch")


@pytest.mark.parametrize("script", ["demo.sh", "test.sh"])
def test_scripts_install_through_the_guard_not_a_pin(script: str):
    """A bare `torch==X` pin is the CUDA build on an ordinary Linux machine."""
    text = (ROOT / "scripts" / script).read_text()
    assert "torch==" not in text
    assert "python -m dlpick.verify.wheels install" in text


def test_only_requirements_that_can_be_cuda_builds_are_dry_run():
    assert wheels.may_take_cuda(["torch>=2.4,<3", "numpy"])
    assert wheels.may_take_cuda(["tensorflow[and-cuda]>=2.16"]) and wheels.may_take_cuda(["paddlepaddle-gpu==3.0"])
    assert not wheels.may_take_cuda(["tensorflow-cpu>=2.16", "numpy>=1.26", "pytensor"])


def test_the_scripts_installer_refuses_a_cuda_build_before_installing(monkeypatch, capsys):
    ran: list[list[str]] = []
    monkeypatch.setattr(wheels, "torch_choice", lambda: wheels.Choice((), False, "no NVIDIA GPU found"))
    monkeypatch.setattr(wheels, "_pip_plan", lambda python, args, scratch: PYPI_PLAN)
    monkeypatch.setattr(wheels, "index_versions", lambda python, name, options=(): ["2.15.0"])
    monkeypatch.setattr(wheels.subprocess, "run", lambda cmd, **kw: ran.append(cmd))
    monkeypatch.setattr(wheels, "pip_version", lambda: (26, 0))  # the quick suite's uv venvs have no pip
    assert wheels.install(["torch"]) == 3
    assert ran == [] and "would take CUDA builds" in capsys.readouterr().err


def test_a_refused_environment_build_is_not_verified_and_leaves_nothing(tmp_path, monkeypatch):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "requirements.txt").write_text("torch>=2.4\n")
    monkeypatch.setattr(wheels, "torch_choice", lambda: wheels.Choice((), False, "no NVIDIA GPU found"))

    def refuse(*args, **kwargs):
        raise wheels.Refused(*wheels.refusal(["nvidia-cublas==13.1.1.3"], wheels.Choice((), False, "none")))

    monkeypatch.setattr(wheels, "cpu_only", refuse)
    root = tmp_path / "envs"
    with pytest.raises(envs.EnvError, match="would take CUDA builds") as raised:
        envs.ensure(envs.spec_for(project, "pytorch"), root=root)
    assert raised.value.exit_code == 3
    assert envs.list_envs(root) == []  # the half-built venv is gone
