"""The PyTorch sbatch script's launch line, with stand-ins for `srun` and `scontrol` (no cluster): on one node
torchrun's rendezvous binds a port of its own, so no port picked in advance can be taken first (issue 27)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dlpick.project import render

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the script is bash")


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = render.render("pytorch", "tabular-classification", tmp_path_factory.mktemp("p") / "demo").project_dir
    return project / "slurm" / "train.sbatch"


def launched(script: Path, tmp_path: Path, **env: str) -> list[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "scontrol").write_text("#!/bin/sh\nprintf 'node7\\nnode8\\n'\n")
    (bin_dir / "srun").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path / "srun.args"}\n')
    for tool in ("scontrol", "srun"):
        (bin_dir / tool).chmod(0o755)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "MASTER_"))}
    base.update(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", SLURM_JOB_ID="42", SLURM_JOB_NODELIST="node[7-8]")
    done = subprocess.run(["bash", str(script), "--smoke"], cwd=script.parent.parent, env={**base, **env}, timeout=60)
    assert done.returncode == 0
    return (tmp_path / "srun.args").read_text().splitlines()


def endpoint(args: list[str]) -> str:
    return args[args.index("--rdzv-endpoint") + 1]


def test_one_node_lets_the_rendezvous_bind_a_free_port_itself(script: Path, tmp_path: Path):
    args = launched(script, tmp_path, SLURM_JOB_NUM_NODES="1")
    assert endpoint(args) == "localhost:0"
    assert args[-1] == "--smoke"


def test_several_nodes_meet_on_the_first_node_at_master_port(script: Path, tmp_path: Path):
    assert endpoint(launched(script, tmp_path, SLURM_JOB_NUM_NODES="2")) == "node7:29500"
    assert endpoint(launched(script, tmp_path, SLURM_JOB_NUM_NODES="2", MASTER_PORT="31000")) == "node7:31000"
    assert endpoint(launched(script, tmp_path, SLURM_JOB_NUM_NODES="1", MASTER_PORT="31000")) == "node7:31000"
