"""The CLI's shape: one Session per invocation (knowledge loaded once), workflows below the CLI, small commands."""

from __future__ import annotations

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
