"""The CLI's shape: one Session per invocation (knowledge loaded once), workflows below the CLI, small commands."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from dlpick.cli.app import app
from dlpick.kb import knowledge
from dlpick.session import Session

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / "dlpick" / "cli"
runner = CliRunner()


def counting_loads(monkeypatch) -> list[Any]:
    calls: list[Any] = []
    real = knowledge.load

    def load(extra: Any = None) -> Any:
        calls.append(extra)
        return real(extra)

    monkeypatch.setattr(knowledge, "load", load)
    return calls


def test_scaffold_with_verify_loads_the_knowledge_once(tmp_path: Path, monkeypatch):
    from dlpick.verify import checks
    from dlpick.verify.checks import Check, VerifyResult

    seen: list[Any] = []

    def fake_verify(project: Path, device: str, timeout: float, *, on_event: Any = None, kb: Any = None, **kw: Any):
        seen.append(kb)
        return VerifyResult(project, "pytorch", "cpu", 0.1, [Check("framework", True, "fake")])

    monkeypatch.setattr(checks, "verify", fake_verify)
    loads = counting_loads(monkeypatch)
    dest = tmp_path / "p"
    result = runner.invoke(app, ["-v", "scaffold", "pytorch", "-t", "tabular-regression", "-d", str(dest), "--json"])
    assert result.exit_code == 0, result.output
    assert len(loads) == 1 and seen and seen[0] is not None
    assert result.stderr.count("knowledge: ") == 1, result.stderr
    data = json.loads(result.stdout)
    assert data["framework"] == "pytorch" and data["verify"]["passed"] is True


def test_scaffold_top_pick_loads_the_knowledge_once(tmp_path: Path, monkeypatch):
    loads = counting_loads(monkeypatch)
    answers = tmp_path / "a.yaml"
    answers.write_text("task: tabular-regression\nhardware: [cpu]\n")
    args = ["-v", "scaffold", "--answers", str(answers), "-d", str(tmp_path / "p"), "--no-verify"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(loads) == 1
    assert result.stderr.count("knowledge: ") == 1, result.stderr


def test_session_resolves_the_knowledge_once(tmp_path: Path, monkeypatch):
    loads = counting_loads(monkeypatch)
    monkeypatch.chdir(tmp_path)  # no ./dlpick.yaml: no profile
    monkeypatch.delenv("DLPICK_KNOWLEDGE", raising=False)
    details: list[str] = []
    session = Session(verbosity=1, on_detail=details.append).use_knowledge(None)
    assert session.knowledge is session.knowledge
    assert len(loads) == 1
    assert [d for d in details if d.startswith("knowledge: ")] == [f"knowledge: {knowledge.builtin_dir()}"]


def test_session_never_prints(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dlpick.yaml").write_text("answers:\n  task: speech\n")
    session = Session(verbosity=1)  # no on_detail: --verbose details go nowhere
    assert session.profile is not None and session.answers(None)[0] == {"task": "speech"}
    session.knowledge  # noqa: B018
    assert capsys.readouterr() == ("", "")


# --- layout ---------------------------------------------------------------------------------------

COMMANDS = {"recommend", "show", "compare", "kb", "scaffold", "verify", "envs", "doctor", "bench", "init"}
SHARED = {"app", "options", "output", "output_text", "output_verify", "prompts", "questionnaire"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_every_command_has_its_own_module():
    modules = {path.stem for path in CLI.glob("*.py")} - {"__init__"}
    assert COMMANDS <= modules
    assert modules - COMMANDS <= SHARED, modules - COMMANDS - SHARED


def test_no_command_module_imports_another():
    for name in COMMANDS:
        others = {f"dlpick.cli.{other}" for other in COMMANDS - {name}}
        assert not _imports(CLI / f"{name}.py") & others, name


def test_nothing_below_the_cli_imports_typer_rich_or_questionary():
    below = [ROOT / "dlpick" / "session.py", *(ROOT / "dlpick" / "workflows").glob("*.py")]
    for path in below:
        heavy = {m for m in _imports(path) if m.split(".")[0] in {"typer", "rich", "questionary", "click"}}
        assert not heavy and not any(m.startswith("dlpick.cli") for m in _imports(path)), path


def test_no_cli_function_is_over_60_lines():
    long = []
    for path in CLI.glob("*.py"):
        if path.name == "output_text.py":  # its knowledge reads are being converted elsewhere
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno:
                if node.end_lineno - node.lineno + 1 > 60:
                    long.append(f"{path.name}:{node.lineno} {node.name}")
    assert not long
