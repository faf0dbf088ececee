"""The real questionary prompts, driven through a pseudo-terminal."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pexpect
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOWN, UP, SPACE, ENTER = "\x1b[B", "\x1b[A", " ", "\r"


def spawn(*args: str) -> pexpect.spawn:
    # DLPICK_NO_DETECT: the hardware question starts from `cpu` alone, whatever this machine has.
    # PROMPT_TOOLKIT_NO_CPR: no cursor-position request, which a pty never answers (a 1 s wait per prompt).
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm", "COLUMNS": "120", "DLPICK_NO_DETECT": "1"}
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"
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
    child.expect(r"cpu\s+[^\r\n]*\(detected\)")  # the pre-checked hardware says why it is checked
    child.send(DOWN + SPACE + ENTER)  # cpu is pre-checked; add nvidia-gpu
    child.expect("Where will it be deployed")
    child.send(SPACE + ENTER)  # server
    child.expect("Which frameworks does the team already use")
    child.send(SPACE + ENTER)  # pytorch
    child.expect("How well does the team know pytorch")
    child.send(UP + ENTER)  # 4: used in production, one above the starting 3
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


def test_flags_are_not_asked_again_and_the_rest_is(tmp_path: Path):
    """`--task X` in a terminal asks the other questions, starting from the detected hardware."""
    saved = tmp_path / "answers.yaml"
    child = spawn("recommend", "--task", "image-classification", "--save-answers", str(saved), "--json")
    child.expect("Where will it train and run")  # the task question is skipped
    assert "What will the model do" not in child.before
    child.send(ENTER)  # keep the detected hardware (cpu under DLPICK_NO_DETECT)
    child.expect("Where will it be deployed")
    child.send(ENTER)
    child.expect("Which frameworks does the team already use")
    child.send(ENTER)
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
    assert answers["hardware"] == ["cpu"], "the detected hardware stays the default"


def test_hardware_and_familiarity_flags_skip_their_questions(tmp_path: Path):
    saved = tmp_path / "answers.yaml"
    args = ["--hardware", "nvidia-gpu", "--familiar", "pytorch=3", "--python", "3.12", "--exclude-retired"]
    child = spawn("recommend", *args, "--save-answers", str(saved), "--json")
    child.expect("What will the model do")
    child.send(DOWN * 2 + ENTER)  # image-classification
    child.expect("Where will it be deployed")  # no hardware question
    assert "Where will it train and run" not in child.before
    child.send(SPACE + ENTER)  # server
    child.expect("What matters most")  # no familiarity question
    assert "Which frameworks does the team already use" not in child.before
    child.send(ENTER)
    child.expect(pexpect.EOF)  # python and include_retired were given too
    child.close()
    assert child.exitstatus == 0, child.before
    answers = yaml.safe_load(saved.read_text())
    assert answers["hardware"] == ["nvidia-gpu"]
    assert answers["familiarity"] == {"pytorch": 3}
    assert answers["python"] == "3.12" and answers["include_retired"] is False
    assert answers["deployment"] == ["server"]


def test_every_answer_given_asks_nothing(tmp_path: Path):
    args = ["--task", "speech", "--hardware", "cpu", "--deploy", "microcontroller", "--familiar", "pytorch=1"]
    args += ["--weight", "community=3", "--python", "3.12", "--exclude-retired", "--json"]
    child = spawn("recommend", *args)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    data = json.loads(child.before[child.before.index("{") :])
    assert data["ranking"][0]["framework"] == "tensorflow"
    assert "near tie" in data["decision"]["text"] or "leads" in data["decision"]["text"]
