"""`--debug` adds a traceback on stderr and changes nothing else: exit code, stdout (JSON errors
included) and the one-line message stay those of the same command without it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlpick.cli.app import app
from tests.test_verify import make_project

runner = CliRunner()


def _same(stdout: str) -> dict:
    """The one JSON document on stdout, its numbers (timings) blanked."""
    return json.loads(re.sub(r"\d+\.\d+", "0.0", stdout))


def _cases(tmp_path: Path) -> dict[str, tuple[list[str], int]]:
    kb = tmp_path / "kb"
    (kb / "frameworks").mkdir(parents=True)
    (kb / "frameworks" / "pytorch.yaml").write_text("id: pytorch\nimport_names: [no_such_torch_xyz]\n")
    missing = make_project(tmp_path / "missing", framework="pytorch")
    failing = make_project(tmp_path / "failing", loss=[1.0, 2.0])
    return {
        "bad id": (["recommend", "--task", "imagee-classification", "--json"], 2),
        "usage": (["recommend", "--no-such-flag", "--json"], 2),
        "missing file": (["recommend", "--answers", str(tmp_path / "nope.yaml"), "--json"], 2),
        "missing profile": (["--profile", str(tmp_path / "nope.yaml"), "recommend", "--json"], 2),
        "not verified": (["verify", str(missing), "--json", "--knowledge", str(kb)], 3),
        "failed": (["verify", str(failing), "--json", "--device", "cpu"], 1),
    }


@pytest.mark.parametrize("case", ["bad id", "usage", "missing file", "missing profile", "not verified", "failed"])
def test_debug_only_adds_a_traceback(tmp_path: Path, case: str):
    args, code = _cases(tmp_path)[case]
    plain = runner.invoke(app, args)
    debug = runner.invoke(app, ["--debug", *args])
    assert plain.exit_code == code, plain.output
    assert debug.exit_code == code, debug.output
    assert _same(debug.stdout) == _same(plain.stdout)
    assert _same(plain.stdout).get("exit_code", code) == code
    assert "Traceback" not in plain.stderr
    assert debug.stderr.strip().splitlines()[-1] == plain.stderr.strip().splitlines()[-1]
    assert "Traceback (most recent call last)" in debug.stderr


def test_debug_env_var_is_the_same_as_the_flag(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DLPICK_DEBUG", "1")
    result = runner.invoke(app, ["recommend", "--task", "imagee-classification", "--json"])
    assert result.exit_code == 2
    assert '"exit_code": 2' in result.stdout and "Traceback" in result.stderr
