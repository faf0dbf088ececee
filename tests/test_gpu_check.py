"""scripts/gpu-check.sh, which runs on a rarely lent, offline GPU machine (issue 30): its dry run here installs
the wheels scripts/gpu-wheels.sh downloads (for CPython 3.12, with no index), scaffolds the projects, matches
their requirements against that machine's packages plus the wheels, and says there is no GPU; so the script
cannot rot between the chances to run it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu-check.sh"


def run(script: str, timeout: float, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHON": sys.executable, **env}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / script)], cwd=ROOT, env=full, capture_output=True, text=True, timeout=timeout
    )


def roots() -> list[str]:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu-wheels.sh"), "--roots"],
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout.split()


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The checkout's gpu-wheels/ when it was downloaded for these requirements, else a fresh download (CI)."""
    here = ROOT / "gpu-wheels"
    if (here / "manifest.json").is_file() and json.loads((here / "manifest.json").read_text())["roots"] == roots():
        return here
    dest = tmp_path_factory.mktemp("gpu-wheels")
    proc = run("gpu-wheels.sh", 600, GPU_WHEELS=str(dest))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(dest)
    return dest


@pytest.mark.needs_index
def test_dry_run_installs_the_wheels_and_scaffolds_the_projects(wheels: Path) -> None:
    size = sum(path.stat().st_size for path in wheels.glob("*.whl"))
    assert 0 < size < 60 * 2**20, "the wheels travel with the repository to the GPU machine: at most 60 MiB"
    proc = run("gpu-check.sh", 900, GPU_CHECK_DRY_RUN="1", GPU_WHEELS=str(wheels))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    count = len(list(wheels.glob("*.whl")))
    assert any(re.fullmatch(rf"gpu-check: wheels: \d+ of {count} installed from .*", line) for line in lines), lines
    for name in ("pytorch image-classification", "jax image-classification", "pytorch tabular-classification"):
        line = next(line for line in lines if line.startswith(f"{name}: "))
        assert line.startswith(f"{name}: dry run: scaffolded in "), line
        assert "requirements met by this Python and the wheels" in line
    for task in ("image-classification", "tabular-classification"):
        assert "mixed precision off on cpu" in next(line for line in lines if line.startswith(f"pytorch {task}: "))
    assert "tensorflow: not checked: TensorFlow is not installed" in lines
    if shutil.which("nvidia-smi") is None:
        assert "no NVIDIA GPU" in lines[-1]
    assert lines[-1].endswith("nothing verified")


def test_without_the_wheel_folder_it_names_the_script_that_makes_it(tmp_path: Path) -> None:
    proc = run("gpu-check.sh", 60, GPU_CHECK_DRY_RUN="1", GPU_WHEELS=str(tmp_path / "none"))
    assert proc.returncode == 3
    assert proc.stdout.strip().splitlines()[-1] == (
        f"gpu-check: no wheel folder at {tmp_path / 'none'}: run scripts/gpu-wheels.sh where a package index "
        "is reachable (or set GPU_WHEELS)"
    )


def test_a_folder_for_other_requirements_is_refused(tmp_path: Path) -> None:
    manifest = {"python": "3.12", "roots": ["questionary>=1"], "machine": ["numpy"], "not_carried": []}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    proc = run("gpu-check.sh", 60, GPU_CHECK_DRY_RUN="1", GPU_WHEELS=str(tmp_path))
    assert proc.returncode == 3
    assert "was downloaded for other requirements than this checkout's" in proc.stdout


def test_a_wheel_the_folder_lacks_is_named_before_anything_runs(tmp_path: Path) -> None:
    manifest = {"python": "3.12", "roots": roots(), "machine": ["numpy"], "not_carried": []}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    proc = run("gpu-check.sh", 60, GPU_CHECK_DRY_RUN="1", GPU_WHEELS=str(tmp_path))
    assert proc.returncode == 3
    assert (
        "gpu-check: cannot install: questionary>=2.0 (for dlpick): this Python lacks it, and the wheel "
        "folder does not carry it; run scripts/gpu-wheels.sh again"
    ) in proc.stderr.splitlines()
    assert "scaffold" not in proc.stdout


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU machine runs the real check")
def test_outside_the_dry_run_no_gpu_means_nothing_checked() -> None:
    proc = run("gpu-check.sh", 60)
    assert proc.returncode == 3
    assert proc.stdout.startswith("gpu-check: no NVIDIA GPU answers nvidia-smi here; nothing checked")
