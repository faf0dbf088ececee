"""A generated project checks its configs/default.yaml: one `FILE:LINE: key: problem` line and exit status 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dlpick.project import render

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "pytensor"  # renders fastest; every template includes the same _shared/src/config.py.j2
TASKS = render.list_templates()[TEMPLATE].tasks
PACKAGE = "config_check"


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One rendered project per task."""
    parent = tmp_path_factory.mktemp("projects")
    return {task: render.render(TEMPLATE, task, parent / task, name="Config check").project_dir for task in TASKS}


def python(project: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": "src", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True, timeout=60
    )


def load(project: Path, config: str) -> subprocess.CompletedProcess[str]:
    return python(project, f"from {PACKAGE}.config import load_config; load_config({config!r})")


def replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert text.count(old) == 1, old
        return text.replace(old, new)

    return edit


def lines(edit: Callable[[str], str | None]) -> Callable[[str], str]:
    """Edit line by line: `edit` returns the new line, or None to drop it."""
    return lambda text: "".join(f"{new}\n" for new in map(edit, text.splitlines()) if new is not None)


def set_task(task: str | None = None) -> Callable[[str], str]:
    """`task: ` set to `task`, by default to another task than the project's."""

    def edit(line: str) -> str:
        if not line.startswith("task: "):
            return line
        return f"task: {task or next(t for t in TASKS if t != line[len('task: ') :])}"

    return lines(edit)


# (id, edit of the shipped config, text on the reported line, reported key, what the message says)
BAD: list[tuple[str, Callable[[str], str], str, str, str]] = [
    ("typo", replace("  epochs:", "  epohcs:"), "epohcs", "train.epohcs", "unknown key; did you mean epochs?"),
    ("wrong-section", replace("seed: 42", "epochs: 42"), "epochs: 42", "epochs", "belongs under train"),
    (
        "str-as-int",
        replace("batch_size: 32", "batch_size: '32'"),
        "batch_size",
        "train.batch_size",
        "must be an integer, got text '32'",
    ),
    ("bool-as-int", replace("hidden: 64", "hidden: true"), "hidden", "model.hidden", "must be an integer, got true"),
    ("float-as-int", replace("epochs: 40", "epochs: 40.5"), "epochs", "train.epochs", "must be an integer"),
    ("negative-epochs", replace("epochs: 40", "epochs: -3"), "epochs", "train.epochs", "must be >= 1, got -3"),
    (
        "nan-lr",
        replace("learning_rate: 0.003", "learning_rate: .nan"),
        "learning_rate",
        "train.learning_rate",
        "must be a finite number",
    ),
    (
        "zero-lr",
        replace("learning_rate: 0.003", "learning_rate: 0"),
        "learning_rate",
        "train.learning_rate",
        "must be > 0",
    ),
    (
        "1e-3-is-text",
        replace("learning_rate: 0.003", "learning_rate: 1e-3"),
        "learning_rate",
        "train.learning_rate",
        "must be a number, got text '1e-3'",
    ),
    (
        "bool-field",
        replace("mixed_precision: true", "mixed_precision: 1"),
        "mixed_precision",
        "train.mixed_precision",
        "must be true or false",
    ),
    ("split", replace("val_size: 0.1", "val_size: 0.85"), "val_size", "data.val_size", "test_size + val_size must be"),
    ("kfold", replace("kfold: 5", "kfold: 1"), "kfold", "evaluate.kfold", "must be >= 2"),
    (
        "unknown-task",
        set_task("text-clasification"),
        "task:",
        "task",
        "unknown task 'text-clasification'; one of tabular-regression, tabular-classification, image-classification, "
        "text-classification; did you mean text-classification?",
    ),
    ("project-task", set_task(), "task:", "task", "this project was generated for"),
    (
        "missing-data",
        lines(lambda line: "  path: data/mine.csv" if line.startswith("  path:") else line),
        "path: data/mine.csv",
        "data.path",
        "no such file or folder: data/mine.csv",
    ),
    (
        "foreign-key",
        replace("  test_size:", "  image_size: 16\n  test_size:"),
        "image_size",
        "data.image_size",
        "only for image-classification projects",
    ),
    (
        "duplicate",
        replace("  epochs: 40\n", "  epochs: 40\n  epochs: 7\n"),
        "epochs: 7",
        "train.epochs",
        "duplicate key (first on line",
    ),
    (
        "missing-key",
        lines(lambda line: None if "smoke_steps" in line else line),
        "train:",
        "train.smoke_steps",
        "missing: a required key",
    ),
    (
        "not-a-mapping",
        lambda text: re.sub(r"model:\n(  .*\n)+", "model: 64\n", text),
        "model:",
        "model",
        "must be a mapping of `key: value` lines",
    ),
    ("syntax", replace("hidden: 64", "hidden: 64: 3"), "hidden: 64: 3", "not valid YAML", "mapping values"),
    ("top-level-list", lambda text: "- epochs\n- 40\n", "- epochs", "top level", "must be a mapping"),
    ("empty", lambda text: "# nothing yet\n", "# nothing", "top level", "the file is empty"),
]


@pytest.mark.parametrize("task", ["tabular-classification", "text-classification"])
@pytest.mark.parametrize(("edit", "marker", "key", "says"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_bad_config_is_one_line_and_exit_status_2(
    projects: dict[str, Path], task: str, edit: Callable[[str], str], marker: str, key: str, says: str
):
    project = projects[task]
    bad = edit((project / "configs" / "default.yaml").read_text())
    (project / "configs" / "bad.yaml").write_text(bad)
    line = next(number for number, text in enumerate(bad.splitlines(), 1) if marker in text)
    proc = load(project, "configs/bad.yaml")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    message = proc.stderr.rstrip("\n")
    assert message.startswith(f"configs/bad.yaml:{line}: {key}: "), message
    assert says in message, message


@pytest.mark.parametrize("task", TASKS)
def test_the_shipped_config_and_a_run_folder_copy_load(projects: dict[str, Path], task: str):
    """What train saves in a run folder (the loaded config, --epochs applied, dumped again) loads too."""
    proc = python(projects[task], f"""
import yaml
from pathlib import Path
from {PACKAGE} import config
loaded = config.load_config()
assert loaded["task"] == {task!r}, loaded
loaded["train"]["epochs"] = 3  # train --epochs 3
run = Path("runs/check")
run.mkdir(parents=True, exist_ok=True)
(run / "config.yaml").write_text(yaml.safe_dump(loaded, sort_keys=False))
assert config.read_run(run)[0] == loaded
""")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_the_path_printed_is_the_path_given(projects: dict[str, Path]):
    project = projects["tabular-classification"]
    (project / "configs" / "bad.yaml").write_text("task: tabular-classification\nseed: forty-two\n")
    proc = load(project, str(project / "configs" / "bad.yaml"))
    assert (proc.returncode, proc.stderr) == (2, f"{project}/configs/bad.yaml:2: seed: must be an integer, got "
                                                 "text 'forty-two'\n")  # fmt: skip


def test_every_template_reads_its_config_through_the_shared_loader():
    """No template has a loader of its own, so every project gets these checks."""
    for cookiecutter in sorted((ROOT / "templates").glob("*/cookiecutter.json")):
        project = cookiecutter.parent / "{{cookiecutter.project_slug}}"
        loader = project / "src" / "{{cookiecutter.package_name}}" / "config.py"
        assert loader.read_text().strip() == '{% include "src/config.py.j2" %}', loader
        config = project / "configs" / "default.yaml"
        assert config.read_text().strip() == '{% include "config.yaml.j2" %}', config


def test_epochs_on_the_command_line_must_be_a_positive_whole_number(projects: dict[str, Path]):
    code = f"""
import argparse
from {PACKAGE}.config import positive_int
for text in ("-3", "0", "two", "1.5"):
    try:
        positive_int(text)
    except argparse.ArgumentTypeError as exc:
        print("refused", text, exc)
print(positive_int("5"))
"""
    ran = python(projects["tabular-regression"], code)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.count("refused") == 4 and ran.stdout.strip().endswith("5")
    for train in (ROOT / "templates").glob("**/train.py*"):
        if "--epochs" in train.read_text():
            assert '--epochs", type=config_mod.positive_int' in train.read_text(), train
