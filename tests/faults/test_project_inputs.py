"""Bad files and settings around a project: one line and the right exit code, never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlpick.cli.app import app
from dlpick.verify import checks as verify

runner = CliRunner()
sys.path.insert(0, str(Path(__file__).parent.parent))
from test_verify import KB, make_project  # noqa: E402


def one_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("dlpick: error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("[1, 2]", "holds a list, not an object"),
        ("[" * 60000 + "]" * 60000, "nested deeper than"),
        ('{"__framework": "json", "task": "t", "package_name": "a; rm -rf ~"}', "not a Python package name"),
        (b"\xff\xfe{}", "not UTF-8"),
        ('{"task": 1', "not valid JSON"),
    ],
    ids=["list", "deep", "package", "bytes", "syntax"],
)
def test_a_broken_cookiecutter_json_is_one_line(tmp_path: Path, content: str | bytes, says: str):
    project = make_project(tmp_path)
    (project / ".cookiecutter.json").write_bytes(content if isinstance(content, bytes) else content.encode())
    line = one_line(runner.invoke(app, ["verify", str(project)]), 2)
    assert says in line
    data = json.loads(runner.invoke(app, ["verify", str(project), "--json"]).stdout)
    assert data["exit_code"] == 2 and says in data["error"]


def test_a_deeply_nested_metrics_json_fails_the_check_without_a_traceback(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    project = make_project(tmp_path)
    train = project / "src" / "fake_project" / "train.py"
    text = train.read_text().replace(
        '(out / "metrics.json").write_text(json.dumps(metrics))',
        '(out / "metrics.json").write_text("[" * 100000 + "]" * 100000)',
    )
    train.write_text(text)
    result = verify.verify(project, kb=KB)
    metrics = next(check for check in result.checks if check.name == "metrics")
    assert not result.passed and "nested deeper than" in metrics.detail


def test_the_projects_terminal_escapes_are_not_shown(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    project = make_project(tmp_path, exit_code=3)
    train = project / "src" / "fake_project" / "train.py"
    train.write_text(train.read_text().replace('print("done", file=sys.stderr)', 'print("\\x1b[31mred\\x1b[0m\\x07")'))
    result = runner.invoke(app, ["verify", str(project)])
    assert result.exit_code == 1
    assert "red" in result.stdout and "\x1b" not in result.stdout and "\x07" not in result.stdout
    data = json.loads(runner.invoke(app, ["verify", str(project), "--json"]).stdout)
    assert all("\x1b" not in check["detail"] for check in data["checks"])


def test_a_missing_templates_folder_is_named(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DLPICK_TEMPLATES", str(tmp_path / "nope"))
    args = ["scaffold", "pytorch", "-t", "tabular-regression", "-d", str(tmp_path / "p"), "--no-verify"]
    assert "DLPICK_TEMPLATES=" in one_line(runner.invoke(app, args), 2)


@pytest.mark.parametrize("kind", ["file", "dangling link"])
def test_an_envs_folder_that_is_no_folder_is_not_verified(tmp_path: Path, monkeypatch, kind: str):
    envs_root = tmp_path / "envs"
    if kind == "file":
        envs_root.write_text("x")
    else:
        envs_root.symlink_to(tmp_path / "gone")
        (tmp_path / "gone").write_text("a file")
    monkeypatch.setenv("DLPICK_ENVS", str(envs_root))
    project = make_project(tmp_path)
    (project / "requirements.txt").write_text("numpy\n")
    result = runner.invoke(app, ["verify", str(project), "--isolated"])
    assert result.exit_code == 3, result.output
    assert "not a folder" in result.stdout and "DLPICK_ENVS" in result.output
