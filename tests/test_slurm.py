"""Each `slurm/train.sbatch` (PyTorch: torchrun per node; PaddlePaddle: Paddle's launcher per node;
MindSpore: msrun per node; JAX: one process per task) on a one-node Slurm cluster this test starts
(Debian's slurm-wlm and munge: munged, slurmctld and slurmd as root, in a temporary folder, on free
ports): two processes train to completion and end with the same weights. Skipped, with the reason,
where the cluster cannot start (no slurm-wlm/munge, not root)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from dlpick.project import render
from tests.ports import reserved_port

pytestmark = pytest.mark.integration

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "scontrol", "sinfo")


def _why_not() -> str | None:
    missing = [name for name in DAEMONS if shutil.which(name) is None]
    if missing:
        return f"Slurm cannot start here: {', '.join(missing)} not installed (apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "Slurm cannot start here: the one-node test cluster runs its daemons as root"
    return None


SLURM_CONF = """\
ClusterName=dlpicktest
SlurmctldHost={host}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A running one-node cluster; yields the environment that talks to it (SLURM_CONF)."""
    with ExitStack() as ports:  # slurmctld's and slurmd's ports, held for the cluster's life
        ctld_port, d_port = ports.enter_context(reserved_port()), ports.enter_context(reserved_port())
        yield from _cluster(tmp_path_factory, ctld_port, d_port)


def _cluster(tmp_path_factory: pytest.TempPathFactory, ctld_port: int, d_port: int) -> Iterator[dict[str, str]]:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("slurm")
    for folder in ("munge", "state", "spool"):
        (root / folder).mkdir()
    (root / "munge").chmod(0o700)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    host = socket.gethostname().split(".")[0]
    conf = root / "slurm.conf"
    conf.write_text(
        SLURM_CONF.format(host=host, root=root, ctld_port=ctld_port, d_port=d_port, cpus=os.cpu_count() or 1)
    )
    env = {**os.environ, "SLURM_CONF": str(conf)}
    munge = root / "munge"
    started = subprocess.run(
        ["munged", "--force", f"--socket={munge / 'socket'}", f"--key-file={key}", f"--pid-file={munge / 'pid'}",
         f"--log-file={munge / 'log'}", f"--seed-file={munge / 'seed'}"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    if started.returncode != 0:
        pytest.skip(f"Slurm cannot start here: munged failed: {started.stderr.strip()[-300:]}")
    try:
        for daemon in (["slurmctld", "-c"], ["slurmd"]):
            done = subprocess.run(daemon, env=env, capture_output=True, text=True, timeout=30)
            if done.returncode != 0:
                pytest.skip(f"Slurm cannot start here: {daemon[0]} failed: {done.stderr.strip()[-300:]}")
        deadline = time.monotonic() + 60
        while True:
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True, timeout=30)
            if state.stdout.strip() == "idle":
                break
            if time.monotonic() > deadline:
                log = (root / "slurmctld.log").read_text()[-500:] if (root / "slurmctld.log").exists() else ""
                pytest.skip(f"Slurm cannot start here: the node is {state.stdout.strip() or state.stderr!r}; {log}")
            time.sleep(0.5)
        yield env
    finally:
        for pid_file in ("slurmd.pid", "slurmctld.pid", "munge/pid"):
            try:
                os.kill(int((root / pid_file).read_text().split()[0]), signal.SIGTERM)
            except (OSError, ValueError):
                pass


# framework -> the sbatch options that make two processes on one node (its script's own way)
TWO_PROCESSES = {
    "pytorch": (["--ntasks-per-node=1", "--cpus-per-task=1"], {"NPROC_PER_NODE": "2"}),  # torchrun starts 2
    "paddlepaddle": (["--ntasks-per-node=1", "--cpus-per-task=1"], {"NPROC_PER_NODE": "2"}),  # Paddle's launcher
    "jax": (["--ntasks=2", "--cpus-per-task=1"], {}),  # one process per Slurm task
    "mindspore": (["--ntasks-per-node=1", "--cpus-per-task=1"], {"NPROC_PER_NODE": "2"}),  # msrun starts 2
}


@pytest.mark.parametrize(
    "framework",
    [
        pytest.param(name, marks=[pytest.mark.needs_index] if name != "pytorch" else [])
        for name in sorted(TWO_PROCESSES)
    ],
)  # the JAX and Paddle environments are built from the package index
def test_the_sbatch_script_trains_two_ranks_to_the_same_weights(
    slurm: dict[str, str], tmp_path: Path, request: pytest.FixtureRequest, framework: str
):
    rendered = render.render(framework, "tabular-classification", tmp_path / "cluster-demo")
    project = rendered.project_dir
    if framework == "pytorch":
        pytest.importorskip("torch")
        python = sys.executable
    else:
        from dlpick.verify import envs

        envs_root = request.getfixturevalue("envs_root")
        python = str(envs.ensure(envs.spec_for(project, framework), root=envs_root).python)
    script = project / "slurm" / "train.sbatch"
    assert os.access(script, os.X_OK)
    run = tmp_path / "run"
    options, extra = TWO_PROCESSES[framework]
    env = {**slurm, **extra, "PYTHON": python}
    env.pop("MASTER_PORT", None)
    env["MSRUN"] = str(Path(python).parent / "msrun")  # MindSpore's launcher, in the same environment
    env["PATH"] = f"{Path(python).parent}{os.pathsep}{env['PATH']}"  # msrun starts `python` from PATH
    with ExitStack() as master:
        if framework != "pytorch":  # torchrun binds a port of its own on one node: nothing can take it first
            env["MASTER_PORT"] = str(master.enter_context(reserved_port()))
        submitted = subprocess.run(
            ["sbatch", "--wait", *options, str(script), "--smoke", "--device", "cpu", "--out", str(run)],
            cwd=project, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
    logs = "\n".join(p.read_text()[-3000:] for p in project.glob("slurm-*.out"))
    assert submitted.returncode == 0, submitted.stderr + logs
    ranks = [json.loads(p.read_text()) for p in sorted(run.glob("rank-*.json"))]
    assert [r["rank"] for r in ranks] == [0, 1], logs
    assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
    assert json.loads((run / "metrics.json").read_text())["loss_history"]
