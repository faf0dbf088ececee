"""`dlpick --help` and `recommend` never import a deep-learning framework (or rich for --json)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FRAMEWORK_MODULES = [
    "torch",
    "tensorflow",
    "jax",
    "flax",
    "mxnet",
    "theano",
    "pytensor",
    "mindspore",
    "paddle",
    "caffe",
]

PROBE = """
import json, sys
sys.argv = ["dlpick", *json.loads(sys.argv[1])]
from dlpick.cli.app import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print("MODULES=" + json.dumps(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
print("DLPICK=" + json.dumps(sorted(m for m in sys.modules if m.startswith("dlpick."))), file=sys.stderr)
"""


@pytest.fixture
def trap_dir(tmp_path: Path) -> Path:
    """Fake framework packages that fail loudly when imported, first on the path."""
    for name in FRAMEWORK_MODULES:
        (tmp_path / "trap" / name).mkdir(parents=True)
        (tmp_path / "trap" / name / "__init__.py").write_text(f"raise SystemExit('{name} was imported')\n")
    return tmp_path / "trap"


def probe(args: list[str], trap_dir: Path, home: Path) -> tuple[subprocess.CompletedProcess, set[str]]:
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": f"{trap_dir}{os.pathsep}{root}",
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, env=env, timeout=60
    )
    modules = set(json.loads(proc.stderr.rsplit("MODULES=", 1)[1].split("\n", 1)[0]))
    return proc, modules


def dlpick_modules(proc: subprocess.CompletedProcess) -> set[str]:
    return set(json.loads(proc.stderr.rsplit("DLPICK=", 1)[1].split("\n", 1)[0]))


def test_recommend_json_loads_no_framework(tmp_path: Path, trap_dir: Path):
    answers = tmp_path / "a.yaml"
    answers.write_text("task: image-classification\nhardware: [nvidia-gpu]\n")
    for _ in range(2):  # first run validates and caches, second reads the cache
        proc, modules = probe(["recommend", "--answers", str(answers), "--json"], trap_dir, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["ranking"]
        assert not modules & set(FRAMEWORK_MODULES)
        assert not modules & {"rich", "questionary", "jinja2", "cookiecutter"}
    assert "pydantic" not in modules  # the second run came from the validated cache


def test_help_loads_no_framework(tmp_path: Path, trap_dir: Path):
    proc, modules = probe(["--help"], trap_dir, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not modules & set(FRAMEWORK_MODULES)
    assert not modules & {"yaml", "pydantic", "questionary"}


def test_a_command_loads_no_other_command(tmp_path: Path, trap_dir: Path):
    """The root group builds a command when it runs: `recommend` imports no other command's module."""
    from dlpick.cli.app import COMMANDS

    answers = tmp_path / "a.yaml"
    answers.write_text("task: tabular-classification\n")
    proc, _ = probe(["recommend", "--answers", str(answers), "--json"], trap_dir, tmp_path)
    assert proc.returncode == 0, proc.stderr
    loaded = {name for name, (module, _attr) in COMMANDS.items() if f"dlpick.cli.{module}" in dlpick_modules(proc)}
    assert loaded == {"recommend"}
    proc, _ = probe(["--help"], trap_dir, tmp_path)  # the list names every command, each module loaded for it
    assert proc.returncode == 0, proc.stderr
    assert all(f" {name} " in proc.stdout for name in COMMANDS)
    assert {f"dlpick.cli.{module}" for module, _attr in COMMANDS.values()} <= dlpick_modules(proc)
