"""The next steps `dlpick scaffold` prints work in a fresh virtual environment, as a new user types them.

The steps are data: the test reads them from `scaffold --json` and runs each one in order, in a
venv that has nothing but pip, with this machine's pip settings. PyTorch's CPU index
(download.pytorch.org) cannot be reached from this machine or CI: pip finds the CPU build where this
machine keeps it (its find-links; a constraint keeps it to that build, as every test that installs
torch must), and torch's own dependencies, which that index also serves, on PyPI.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.needs_index]

ROOT = Path(__file__).resolve().parent.parent
CPU_TORCH = "torch==2.13.0"


def scaffold(framework: str, dest: Path) -> dict:
    made = subprocess.run(
        [sys.executable, "-m", "dlpick", "scaffold", framework, "-t", "tabular-classification", "-d", str(dest)]
        + ["--no-verify", "--json"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    return json.loads(made.stdout)


@pytest.mark.parametrize("framework", ["pytorch", "tensorflow"])
def test_printed_next_steps_work_in_a_fresh_venv(framework: str, tmp_path: Path) -> None:
    dest = tmp_path / "first-project"
    steps = scaffold(framework, dest)["next_steps"]
    assert steps[0] == f"cd {shlex.quote(str(dest))}"
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(CPU_TORCH + "\n")
    home = pwd.getpwuid(os.getuid()).pw_dir  # the tests' fake HOME would hide pip's user settings
    indexes = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.extra-index-url"],
        env={**os.environ, "HOME": home},
        capture_output=True,
        text=True,
    ).stdout.split()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
        "HOME": home,
        "PIP_EXTRA_INDEX_URL": " ".join([*indexes, "https://pypi.org/simple"]),
        "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(env_dir),
        "PIP_CONSTRAINT": " ".join(filter(None, [os.environ.get("PIP_CONSTRAINT", ""), str(constraints)])),
        "PIP_RETRIES": "1",
        "PIP_TIMEOUT": "15",
    }
    for step in steps[1:]:
        ran = subprocess.run(["bash", "-c", step], cwd=dest, env=env, capture_output=True, text=True, timeout=1800)
        assert ran.returncode == 0, f"`{step}` failed:\n{(ran.stdout + ran.stderr)[-3000:]}"
    assert (dest / "runs" / "first" / "metrics.json").is_file()
    # The printed install brought exactly what the project's own tests need too.
    tests = subprocess.run(["python", "-m", "pytest", "-q", "-x"], cwd=dest, env=env, capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout[-3000:]


# The engine templates' next steps, through --isolated: the project's own environment (what `verify
# --isolated` builds from its requirements.txt, shared with the other tests) stands in for the printed
# install, which is checked to bring nothing more than that environment has; every other printed step
# runs as printed. Caffe's steps are `docker` commands: not run here (no Docker daemon on this machine).
ENGINE_TEMPLATES = ["jax", "mindspore", "mxnet", "paddlepaddle", "pytensor", "theano"]


@pytest.mark.parametrize("framework", ENGINE_TEMPLATES)
def test_printed_next_steps_work_in_the_projects_own_environment(
    framework: str, tmp_path: Path, envs_root: Path
) -> None:
    from dlpick.project import render
    from dlpick.verify import envs, requirements

    dest = tmp_path / "first-project"
    printed = scaffold(framework, dest)
    steps, install = printed["next_steps"], render.list_templates()[framework].install
    assert steps[0] == f"cd {shlex.quote(str(dest))}" and steps[1 : 1 + len(install)] == list(install)
    python = Path(envs.ensure(envs.spec_for(dest, framework), root=envs_root).python)
    uv = [sys.executable, "-m", "uv"]
    dry = subprocess.run(
        [*uv, "pip", "install", "--dry-run", "--python", str(python), "-e", ".[dev]"],
        cwd=dest, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr[-3000:]
    # uv: "Would install N packages" then one "+ name==version" line each: only the project itself, and
    # the commit tools of its dev extra (ruff, pre-commit: no check needs them, so dlpick's environment
    # leaves them out) with what they pull in; nothing of the framework's stack is added or changed.
    tools = subprocess.run(
        [*uv, "pip", "install", "--dry-run", "--python", str(python), *sorted(requirements.COMMIT_TOOLS)],
        cwd=dest, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert tools.returncode == 0, tools.stderr[-3000:]

    def added(output: str) -> set[str]:
        return {line.split()[1].split("==")[0] for line in output.splitlines() if line.startswith(" + ")}

    assert added(dry.stderr) == {printed["project_slug"]} | added(tools.stderr), dry.stderr
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV",)},
        "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": "src",  # what the editable install would give
    }
    for step in steps[1 + len(install) :]:
        ran = subprocess.run(["bash", "-c", step], cwd=dest, env=env, capture_output=True, text=True, timeout=1800)
        assert ran.returncode == 0, f"`{step}` failed:\n{(ran.stdout + ran.stderr)[-3000:]}"
    assert (dest / "runs" / "first" / "metrics.json").is_file()
    assert json.loads((dest / "runs" / "first" / "export.json").read_text())["checks"]
