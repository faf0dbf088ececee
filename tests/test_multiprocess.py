"""Multi-process data-parallel training of the engine templates that have it (the engine's
`distributed`: JAX, PaddlePaddle, MindSpore), like the torchrun test for PyTorch in test_templates_integration.py:
two CPU processes on this machine, each template through its own launcher, both end with the same
weights, and the run is the one rank 0 writes. In the project's isolated environment (slow: trains)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from dlpick.project import render
from tests.ports import reserved_port

pytestmark = [pytest.mark.integration, pytest.mark.needs_index]


def two_ranks_agree(run: Path, logs: str = "") -> dict:
    """Both ranks wrote rank-<r>.json with the same weight digest, and rank 0 the run's metrics.json
    (two processes); returns those metrics."""
    ranks = [json.loads(path.read_text()) for path in sorted(run.glob("rank-*.json"))]
    assert [(r["rank"], r["processes"]) for r in ranks] == [(0, 2), (1, 2)], logs
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["processes"] == 2
    return metrics


@pytest.mark.parametrize("task", ["tabular-classification", "image-classification"])
def test_jax_two_processes_end_with_the_same_weights(tmp_path: Path, envs_root: Path, task: str):
    from dlpick.verify import envs

    rendered = render.render("jax", task, tmp_path / "mp-demo")
    project, package = rendered.project_dir, rendered.name.package
    python = envs.ensure(envs.spec_for(project, "jax"), root=envs_root).python
    ran = subprocess.run(
        [str(python), "-m", f"{package}.launch", "--processes", "2", "--smoke", "--device", "cpu", "--out", "runs/mp"],
        cwd=project, env={**os.environ, "PYTHONPATH": "src"}, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-4000:]
    run = project / "runs" / "mp"
    metrics = two_ranks_agree(run)
    assert metrics["loss_history"][-1] < metrics["loss_history"][0]
    assert ran.stderr.count(" steps: loss ") == 1, "only rank 0 reports the smoke run's loss"


@pytest.mark.parametrize("task", ["tabular-regression", "text-classification"])
def test_paddle_two_processes_end_with_the_same_weights(tmp_path: Path, envs_root: Path, task: str):
    """`paddle.distributed.launch --nproc_per_node 2` (gloo on the CPU), as the README shows it."""
    from dlpick.verify import envs

    rendered = render.render("paddlepaddle", task, tmp_path / "mp-demo")
    project, package = rendered.project_dir, rendered.name.package
    python = str(envs.ensure(envs.spec_for(project, "paddlepaddle"), root=envs_root).python)
    ran = subprocess.run(
        [python, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", "runs/logs",
         python, "-m", f"{package}.train", "--smoke", "--device", "cpu", "--out", "runs/mp"],
        cwd=project, env={**os.environ, "PYTHONPATH": "src"}, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    logs = "".join(path.read_text()[-2000:] for path in sorted((project / "runs" / "logs").glob("workerlog.*")))
    assert ran.returncode == 0, ran.stdout[-2000:] + logs
    run = project / "runs" / "mp"
    metrics = two_ranks_agree(run, logs)
    assert metrics["loss_history"][-1] < metrics["loss_history"][0]


def test_mindspore_two_processes_end_with_the_same_weights(tmp_path: Path, envs_root: Path):
    """`msrun` with two CPU workers on scripts/train.py, as the README shows it."""
    from dlpick.verify import envs

    project = render.render("mindspore", "image-classification", tmp_path / "mp-demo").project_dir
    python = Path(envs.ensure(envs.spec_for(project, "mindspore"), root=envs_root).python)
    with reserved_port() as master_port:  # msrun binds it: outside the automatic range, nothing takes it first
        port = str(master_port)
        ran = subprocess.run(
            [str(python.parent / "msrun"), "--worker_num", "2", "--local_worker_num", "2", "--master_port", port,
             "--log_dir", "runs/logs", "--join", "True",
             "scripts/train.py", "--smoke", "--device", "cpu", "--out", "runs/mp"],
            cwd=project, env={**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}"},
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    logs = "".join(path.read_text()[-2000:] for path in sorted((project / "runs" / "logs").glob("*.log")))
    assert ran.returncode == 0, ran.stderr[-2000:] + logs
    run = project / "runs" / "mp"
    two_ranks_agree(run, logs)
