"""The real questionary prompts, driven through a pseudo-terminal."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOWN, SPACE, ENTER = "\x1b[B", " ", "\r"


def spawn(*args: str) -> pexpect.spawn:
    # DLPICK_NO_DETECT: the hardware question starts from `cpu` alone, whatever this machine has.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm", "COLUMNS": "120", "DLPICK_NO_DETECT": "1"}
    env.pop("NO_COLOR", None)
    return pexpect.spawn(
        sys.executable, ["-m", "dlpick", *args], env=env, encoding="utf-8", timeout=30, dimensions=(50, 120)
    )


def test_questionnaire_answers_rank_and_save(tmp_path: Path):
    saved = tmp_path / "answers.yaml"
    child = spawn("recommend", "--save-answers", str(saved), "--json")
    child.expect("What will the model do")
    child.send(DOWN * 2 + ENTER)  # third task: image-classification
    child.expect("Where will it train and run")
    child.send(DOWN + SPACE + ENTER)  # cpu is pre-checked; add nvidia-gpu
    child.expect("Where will it be deployed")
    child.send(SPACE + ENTER)  # server
    child.expect("Which frameworks does the team already use")
    child.send(SPACE + ENTER)  # pytorch
    child.expect("How well does the team know pytorch")
    child.send(DOWN + ENTER)  # 4: used in production
    child.expect("What matters most")
    child.send(ENTER)
    child.expect("Python version")
    child.send(ENTER)
    child.expect("Rank retired frameworks")
    child.send(ENTER)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    answers = yaml.safe_load(saved.read_text())
    assert answers["task"] == "image-classification"
    assert answers["hardware"] == ["cpu", "nvidia-gpu"]
    assert answers["deployment"] == ["server"]
    assert answers["familiarity"] == {"pytorch": 4}
    assert answers["include_retired"] is False
    # The JSON printed after the prompts ranks PyTorch first for this team and echoes the answers.
    data = json.loads(child.before[child.before.index("{\r\n") :])
    assert data["ranking"][0]["framework"] == "pytorch"
    assert data["answers"]["familiarity"] == {"pytorch": 4}


def test_ctrl_c_exits_130_without_traceback():
    child = spawn("recommend")
    child.expect("What will the model do")
    child.send("\x03")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "Traceback" not in child.before
