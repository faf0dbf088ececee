"""`dlpick init` driven through its real questionary prompts in a pseudo-terminal (as test_questionnaire.py
drives `dlpick recommend`): what is answered is what the profile holds, and what dlpick reads back."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dlpick.advise.answers import running_python
from dlpick.kb import knowledge

pexpect = pytest.importorskip("pexpect")

ROOT = Path(__file__).resolve().parent.parent
DOWN, UP, SPACE, ENTER, BACKSPACE = "\x1b[B", "\x1b[A", " ", "\r", "\x7f"
VOCABULARY = knowledge.load().vocabulary
TASKS = list(VOCABULARY.tasks)
HARDWARE = list(VOCABULARY.hardware)
DEPLOYMENT = list(VOCABULARY.deployment)
FRAMEWORKS = list(VOCABULARY.frameworks)
WEIGHED = [c for c in VOCABULARY.criteria if c != "familiarity"]  # "What matters most" leaves familiarity out
# Another Python than the running one (the default answer), so the file shows which was taken.
OTHER_PYTHON = "3.12" if running_python() != "3.12" else "3.11"


def spawn(*args: str, cwd: Path) -> Any:
    # DLPICK_NO_DETECT: the hardware question starts from `cpu` alone, whatever this machine has.
    # PROMPT_TOOLKIT_NO_CPR: no cursor-position request, which a pty never answers (a 1 s wait per prompt).
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TERM": "xterm",
        "COLUMNS": "120",
        "DLPICK_NO_DETECT": "1",
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    env.pop("NO_COLOR", None)
    return pexpect.spawn(
        sys.executable,
        ["-m", "dlpick", *args],
        cwd=str(cwd),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 120),
    )


def pick(options: list[str], wanted: list[str]) -> str:
    """Keys that check `wanted` in a checkbox whose cursor starts on options[0] (nothing checked yet)."""
    keys, at = "", 0
    for index in sorted(options.index(w) for w in wanted):
        keys += DOWN * (index - at) + SPACE
        at = index
    return keys + ENTER


def replace(old: str, new: str) -> str:
    """Keys that erase a text prompt's pre-filled `old` and type `new` (not yet confirmed)."""
    return BACKSPACE * (len(old) + 2) + new


def finish(child: Any) -> str:
    child.expect(pexpect.EOF)
    child.close()
    return child.before


def answer_with_defaults(child: Any) -> None:
    """Enter on every question: the first task, the pre-checked cpu, and the defaults."""
    for question in (
        "What will the model do",
        "Where will it train and run",
        "Where will it be deployed",
        "Which frameworks does the team already use",
        "What matters most",
        "Python version of the project",
        "Rank retired frameworks",
        "Team name",
        "Name new projects",
    ):
        child.expect(question)
        child.send(ENTER)


def defaults_profile(team: str) -> dict[str, Any]:
    """The profile `answer_with_defaults` writes."""
    python = running_python()
    return {
        "team": team,
        "answers": {"task": TASKS[0], "hardware": ["cpu"], "python": python, "include_retired": False},
        "template": {"project_name": "{team}-{task}", "ci": "github", "python_version": python},
    }


def test_init_writes_what_was_answered_and_refuses_to_overwrite(tmp_path: Path):
    child = spawn("init", cwd=tmp_path)
    child.expect("What will the model do")
    child.send(DOWN * TASKS.index("speech") + ENTER)
    child.expect("Where will it train and run")
    child.send(DOWN * HARDWARE.index("nvidia-gpu") + SPACE + ENTER)  # cpu is pre-checked; add nvidia-gpu
    child.expect("Where will it be deployed")
    child.send(pick(DEPLOYMENT, ["server", "edge"]))
    child.expect("Which frameworks does the team already use")
    child.send(pick(FRAMEWORKS, ["pytorch", "jax"]))
    for framework, level in sorted((("pytorch", 4), ("jax", 2)), key=lambda item: FRAMEWORKS.index(item[0])):
        child.expect(f"How well does the team know {framework}")
        child.send((UP * (level - 3) if level > 3 else DOWN * (3 - level)) + ENTER)  # 5 down to 1, cursor on 3
    child.expect("What matters most")
    child.send(pick(WEIGHED, ["performance"]))
    child.expect("Python version of the project")
    child.send(replace(running_python(), "2.7") + ENTER)
    child.expect("a version like 3.11")  # refused: the question stays
    child.send(replace("2.7", OTHER_PYTHON) + ENTER)
    child.expect("Rank retired frameworks")
    child.send("y")
    child.expect("Team name")
    child.send(replace(tmp_path.name, "vision") + ENTER)
    child.expect("Name new projects")
    child.send(replace("{team}-{task}", "{team}-{nope}") + ENTER)
    child.expect(r"unknown placeholder \{nope\}")  # refused: the question stays
    child.send(replace("{team}-{nope}", "{team}-{framework}") + ENTER)
    output = finish(child)
    assert child.exitstatus == 0, output
    assert "team profile written to dlpick.yaml" in output
    profile = tmp_path / "dlpick.yaml"
    assert yaml.safe_load(profile.read_text()) == {
        "team": "vision",
        "answers": {
            "task": "speech",
            "hardware": ["cpu", "nvidia-gpu"],
            "deployment": ["server", "edge"],
            "familiarity": {"pytorch": 4, "jax": 2},
            "priorities": {"performance": 5},
            "python": OTHER_PYTHON,
            "include_retired": True,
        },
        "template": {"project_name": "{team}-{framework}", "ci": "github", "python_version": OTHER_PYTHON},
    }

    # What init wrote is what `dlpick recommend` (run in that folder) answers with.
    child = spawn("recommend", "--json", "--no-input", cwd=tmp_path)
    output = finish(child)
    assert child.exitstatus == 0, output
    answers = json.loads(output[output.index("{") :])["answers"]
    assert (answers["task"], answers["hardware"], answers["deployment"]) == (
        "speech",
        ["cpu", "nvidia-gpu"],
        ["server", "edge"],
    )
    assert (answers["familiarity"], answers["priorities"]) == ({"pytorch": 4, "jax": 2}, {"performance": 5})
    assert (answers["python"], answers["include_retired"]) == (OTHER_PYTHON, True)

    # A second init refuses before asking anything, and leaves the file alone.
    before = profile.read_text()
    child = spawn("init", cwd=tmp_path)
    output = finish(child)
    assert child.exitstatus == 2, output
    assert "dlpick.yaml: already exists (pass --force to overwrite)" in output
    assert "What will the model do" not in output
    assert profile.read_text() == before

    # --force asks again and replaces the whole file with the new answers.
    child = spawn("init", "--force", cwd=tmp_path)
    answer_with_defaults(child)
    output = finish(child)
    assert child.exitstatus == 0, output
    assert yaml.safe_load(profile.read_text()) == defaults_profile(tmp_path.name)


@pytest.mark.parametrize("where", ["init --profile FILE", "dlpick --profile FILE init"])
def test_init_writes_the_profile_named_by_profile(tmp_path: Path, where: str):
    work, shared = tmp_path / "work", tmp_path / "shared"
    work.mkdir()
    shared.mkdir()
    target = shared / "team.yaml"
    args = ["init", "--profile", str(target)] if where.startswith("init") else ["--profile", str(target), "init"]
    child = spawn(*args, cwd=work)
    answer_with_defaults(child)
    output = finish(child)
    assert child.exitstatus == 0, output
    assert f"team profile written to {target}" in output
    assert yaml.safe_load(target.read_text()) == defaults_profile("work")  # the team defaults to the cwd's name
    assert list(work.iterdir()) == []  # no ./dlpick.yaml


def test_ctrl_c_in_init_writes_nothing(tmp_path: Path):
    child = spawn("init", cwd=tmp_path)
    child.expect("What will the model do")
    child.send(ENTER)
    child.expect("Where will it train and run")
    child.send("\x03")
    output = finish(child)
    assert child.exitstatus == 130, output
    assert "Traceback" not in output
    assert list(tmp_path.iterdir()) == []
