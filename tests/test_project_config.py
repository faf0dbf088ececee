"""A generated project checks its configs/default.yaml: one `FILE:LINE: key: problem` line and exit status 2."""

from __future__ import annotations

import ast
import json
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
        "this project was generated for ",  # a project knows its own task only
    ),
    (
        "own-task-typo",
        lambda text: text.replace("task: tabular-classification", "task: tabular-clasification").replace(
            "task: text-classification", "task: text-clasification"
        ),
        "task:",
        "task",
        "-clasification' (its data loading, model and exports are built for it); did you mean ",
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
        "unknown key; expected one of path, test_size, val_size, ",  # no "did you mean val_size?"
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
from {PACKAGE} import config, records
loaded = config.load_config()
assert loaded["task"] == {task!r}, loaded
loaded["train"]["epochs"] = 3  # train --epochs 3
run = Path("runs/check")
run.mkdir(parents=True, exist_ok=True)
(run / "config.yaml").write_text(yaml.safe_dump(loaded, sort_keys=False))
assert records.read_run(run)[0] == loaded
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
        # `-%}` drops the newline after the include (the rendered file ends as ruff format wants it); a
        # template's settings for the shared file (`{% set rgb_images = true %}`) may come first.
        settings = re.compile(r"^(\{% set \w+ = \w+ %\})*")
        loader_text = settings.sub("", loader.read_text().strip())
        assert loader_text in ('{% include "src/config.py.j2" %}', '{% include "src/config.py.j2" -%}')
        config = project / "configs" / "default.yaml"
        config_text = settings.sub("", config.read_text().strip())
        assert config_text in ('{% include "config.yaml.j2" %}', '{% include "config.yaml.j2" -%}')


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
        text = train.read_text()
        if "--epochs" in text:  # its own option, or the shared ones (--epochs among them)
            shared_options = "config_mod.add_train_args(parser" in text
            assert '--epochs", type=config_mod.positive_int' in text or shared_options, train
    shared = (ROOT / "templates" / "_shared" / "src" / "config.py.j2").read_text()
    assert '"--epochs", type=positive_int' in shared


# train's command line as every template builds it (the shared options, and --smoke), without importing
# the framework: this module's projects are PyTensor ones, run with this Python.
PARSE_ARGS = f"""
import argparse
from {PACKAGE}.config import add_train_args

def parse_args(argv):
    parser = argparse.ArgumentParser()
    add_train_args(parser)
    parser.add_argument("--smoke", action="store_true")
    return parser.parse_args(argv)
"""

# (id, --set items, reported key, what the message says); the message starts `--set ITEM: KEY: `
BAD_SETS: list[tuple[str, list[str], str, str]] = [
    ("not-a-number", ["train.learning_rate=abc"], "train.learning_rate", "must be a number, got text 'abc'"),
    ("unknown", ["train.lr=0.01"], "train.lr", "unknown key"),
    ("typo", ["train.epohcs=3"], "train.epohcs", "did you mean epochs?"),
    ("wrong-section", ["model.epochs=3"], "model.epochs", "belongs under train"),
    ("unknown-section", ["trian.epochs=3"], "trian", "did you mean train?"),
    ("out-of-range", ["train.epochs=0"], "train.epochs", "must be >= 1, got 0"),
    ("bool-as-int", ["model.hidden=true"], "model.hidden", "must be an integer, got true"),
    ("float-as-int", ["train.batch_size=1.5"], "train.batch_size", "must be an integer"),
    ("yaml-exponent", ["train.learning_rate=1e-3"], "train.learning_rate", "write 0.001"),
    ("empty", ["train.learning_rate="], "train.learning_rate", "got nothing (null)"),
    ("section", ["model=3"], "model", "is a section"),
    ("setting-as-section", ["seed.value=3"], "seed", "is a setting, not a section"),
    ("no-equals", ["train.epochs"], "train.epochs", "expected KEY=VALUE"),
    ("other-task", ["data.text_column=review"], "data.text_column", "unknown key; expected one of path, test_size"),
    ("task", ["task=image-classification"], "task", "generated for tabular-regression"),
    ("sum", ["data.test_size=0.95"], "data.test_size", "test_size + val_size must be < 1"),
    ("second-item", ["train.epochs=3", "train.patience=-1"], "train.patience", "must be >= 0, got -1"),
]


@pytest.mark.parametrize(("items", "key", "says"), [case[1:] for case in BAD_SETS], ids=[case[0] for case in BAD_SETS])
def test_a_bad_set_on_the_command_line_is_one_line_and_exit_status_2(
    projects: dict[str, Path], items: list[str], key: str, says: str
):
    proc = python(projects["tabular-regression"], f"""
import sys
{PARSE_ARGS}from {PACKAGE}.config import train_config
train_config(parse_args(["--set", *{items!r}]))
""")  # fmt: skip
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    message = proc.stderr.rstrip("\n")
    assert message.startswith(f"--set {items[-1]}: {key}: "), message
    assert says in message, message


def test_set_overrides_the_file_and_lands_in_the_run_record(projects: dict[str, Path]):
    proc = python(projects["tabular-regression"], f"""
import json
from pathlib import Path
import yaml
{PARSE_ARGS}from {PACKAGE} import config, records
args = parse_args(["--set", "train.learning_rate=0.01", "data.val_size=0.25", "train.mixed_precision=false",
                   "--set", "evaluate.kfold=3", "--epochs", "2"])
loaded = config.train_config(args)
assert loaded["train"]["learning_rate"] == 0.01 and loaded["data"]["val_size"] == 0.25, loaded
assert loaded["train"]["mixed_precision"] is False and loaded["evaluate"]["kfold"] == 3, loaded
assert loaded["train"]["epochs"] == 2, loaded
run = Path("runs/set")
records.write_run_start(run, loaded, ["numpy"])
assert records.read_run(run)[0] == loaded
record = json.loads((run / "run.json").read_text())
assert record["seed"] == 42 and record["config"] == "config.yaml", record
assert record["packages"]["numpy"] and record["packages"]["pyyaml"], record
assert record["python"].count(".") == 2 and record["git"] is None, record  # rendered outside any git repository
print("ok")
""")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_the_run_record_names_the_git_commit_and_whether_the_tree_is_dirty(tmp_path: Path):
    project = render.render(TEMPLATE, "tabular-regression", tmp_path / "git", name="Config check").project_dir
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "start"]):
        subprocess.run([*git, *cmd], cwd=project, check=True, capture_output=True)
    code = f"""
import json
from {PACKAGE} import config, records
print(json.dumps(records.run_record(config.load_config())["git"]))
"""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    clean = python(project, code)
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout) == {"commit": head, "dirty": False}
    (project / "configs" / "default.yaml").write_text((project / "configs" / "default.yaml").read_text() + "\n")
    assert json.loads(python(project, code).stdout) == {"commit": head, "dirty": True}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--set", "model.hidden=32"], "model.hidden is 64 in the run but 32 now"),
        (["--set", "train.learning_rate=0.1"], "train.learning_rate is 0.003 in the run but 0.1 now"),
        (["--config", "configs/other.yaml"], "seed is 42 in the run but 7 now"),
        (["--smoke"], "a smoke run is not resumed"),
    ],
)
def test_resume_refuses_a_config_that_changes_the_model_data_or_seed(
    projects: dict[str, Path], args: list[str], says: str
):
    project = projects["tabular-regression"]
    shipped = (project / "configs" / "default.yaml").read_text()
    (project / "configs" / "other.yaml").write_text(shipped.replace("seed: 42", "seed: 7"))
    run = project / "runs" / "resumable"
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.yaml").write_text(shipped)
    proc = python(project, f"""
{PARSE_ARGS}from {PACKAGE}.config import train_config
train_config(parse_args(["--resume", "runs/resumable", *{args!r}]))
""")  # fmt: skip
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert len(proc.stderr.splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("--resume"), proc.stderr
    assert says in proc.stderr, proc.stderr
    allowed = python(project, f"""
{PARSE_ARGS}from {PACKAGE}.config import train_config
print(train_config(parse_args(["--resume", "runs/resumable", "--epochs", "80", "--set", "train.patience=9"]))["train"])
""")  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    assert "'epochs': 80" in allowed.stdout and "'patience': 9" in allowed.stdout


@pytest.mark.parametrize("task", ["image-classification", "tabular-classification"])
def test_processes_making_the_sample_at_once_each_see_all_of_it(projects: dict[str, Path], task: str):
    """verify runs the project's tests beside train: both may make the bundled sample at the same time."""
    pytest.importorskip("sklearn")  # the samples come from scikit-learn's bundled datasets
    if task == "image-classification":
        pytest.importorskip("PIL")
    project = projects[task]
    target = "data/sample/race-images" if task == "image-classification" else "data/sample/race.csv"
    code = (
        f"from pathlib import Path; from config_check import datasets as d; p = Path({target!r}); "
        "d.ensure_sample(p); "
        "print(len(list(p.rglob('*.png'))) if p.is_dir() else len(p.read_text().splitlines()))"
    )
    env = {**os.environ, "PYTHONPATH": "src", "PYTHONDONTWRITEBYTECODE": "1"}
    running = [
        subprocess.Popen([sys.executable, "-c", code], cwd=project, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    counts = {process.communicate(timeout=120)[0].strip() for process in running}
    assert all(process.returncode == 0 for process in running)
    assert len(counts) == 1  # every process saw the same, whole sample
    assert int(counts.pop()) == (600 if task == "image-classification" else 179)  # 600 images; wine: 178 rows + header
    assert not [p.name for p in (project / "data" / "sample").iterdir() if ".partial-" in p.name]


# The settings' declaration: pydantic models where pip installs the project, the standard library in
# Caffe's Debian root (bullseye's python3-pydantic is 1.x); a project carries one of the two only.
HOME_MADE_SCHEMA = ("class Key(", "SCHEMA", "def _check_section(", "def _value(", "def _required(")


@pytest.mark.parametrize("framework", sorted(render.list_templates()))
def test_a_project_declares_its_settings_with_pydantic_or_in_caffe_with_the_standard_library(
    tmp_path: Path, framework: str
):
    task = render.list_templates()[framework].tasks[0]
    project = render.render(framework, task, tmp_path / framework, name="Config check").project_dir
    source = (project / "src" / PACKAGE / "config.py").read_text()
    if framework == "caffe":
        assert "pydantic" not in source and "class Key(" in source and "SCHEMA" in source
        return
    assert not [name for name in HOME_MADE_SCHEMA if name in source], framework
    classes = {node.name: node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ClassDef)}
    assert [ast.unparse(base) for base in classes["Section"].bases] == ["BaseModel"]
    assert "ConfigDict(extra='forbid', strict=True, allow_inf_nan=False)" in ast.unparse(classes["Section"])
    assert {"Config", "Data", "Train", "Model", "Evaluate"} <= classes.keys()
    assert f"task: Literal['{task}']" in ast.unparse(classes["Config"])
    requirements = "requirements-common.txt" if framework == "tensorflow" else "requirements.txt"
    assert "pydantic>=2.7,<3" in (project / requirements).read_text().splitlines(), framework


def test_run_records_git_state_and_json_files_have_a_module_of_their_own(projects: dict[str, Path]):
    project = projects["tabular-regression"]
    config = ast.parse((project / "src" / PACKAGE / "config.py").read_text())
    records = ast.parse((project / "src" / PACKAGE / "records.py").read_text())

    def defined(tree: ast.Module) -> set[str]:
        return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}

    moved = {"run_record", "_git", "write_run_start", "read_run", "write_json"}
    assert moved <= defined(records)
    assert not moved & defined(config)
    imported = {alias.name for node in ast.walk(config) if isinstance(node, ast.Import) for alias in node.names}
    assert not {"json", "platform", "subprocess"} & imported
    sources = [*(project / "src").rglob("*.py"), *(project / "tests").rglob("*.py")]
    callers = "\n".join(path.read_text() for path in sources)
    assert not re.findall(r"\bconfig(?:_mod)?\.(?:run_record|write_run_start|read_run|write_json)\b", callers)
    for stub in sorted((ROOT / "templates").glob("*/{{cookiecutter.project_slug}}/src/*/records.py")):
        assert stub.read_text().strip() == '{% include "src/records.py.j2" -%}', stub


def _load_each(project: Path, cases: list[tuple[str, list[str]]]) -> list[tuple[int, str]]:
    """(exit status, stderr) of load_config(path, --set items) for each case, in one process."""
    (project / "cases.json").write_text(json.dumps(cases))
    proc = python(project, f"""
import contextlib, io, json
from {PACKAGE}.config import load_config
answers = []
for path, items in json.load(open("cases.json")):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            load_config(path, items)
            status = 0
        except SystemExit as exit:
            status = exit.code
    answers.append([status, stderr.getvalue()])
print(json.dumps(answers))
""")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [tuple(answer) for answer in json.loads(proc.stdout)]


def _settings(text: str) -> list[tuple[int, str, str]]:
    """(line, dotted key, the line's text) of each setting of a config written as configs/default.yaml is."""
    found, section = [], ""
    for number, line in enumerate(text.splitlines(), 1):
        match = re.match(r"^( *)(\w+):(.*)$", line)
        if match and not match.group(3).split("#")[0].strip():
            section = match.group(2)  # a section: its keys follow, indented
        elif match:
            dotted = f"{section}.{match.group(2)}" if match.group(1) else match.group(2)
            found.append((number, dotted, line))
    return found


@pytest.mark.parametrize("task", TASKS)
def test_every_setting_of_the_wrong_type_is_reported_at_its_own_line_or_set_item(projects: dict[str, Path], task: str):
    """Each of pydantic's errors finds its way back to the key's line in the file (or its --set item): a
    list where a setting is expected, and a fraction where a whole number is (2.5 for an integer)."""
    project = projects[task]
    shipped = (project / "configs" / "default.yaml").read_text()
    settings = [setting for setting in _settings(shipped) if setting[1] != "task"]
    assert len(settings) >= 11, settings
    cases, expected = [], []
    for number, dotted, line in settings:
        value = line.split(":", 1)[1].split("#")[0].strip()
        wrong, got = ("2.5", "got a number 2.5") if re.fullmatch(r"\d+", value) else ("[1]", "got a list")
        bad = f"configs/wrong-{dotted}.yaml"
        (project / bad).write_text(shipped.replace(line, line.replace(f": {value}", f": {wrong}", 1), 1))
        cases += [(bad, []), ("configs/default.yaml", [f"{dotted}={wrong}"])]
        expected += [(f"{bad}:{number}: {dotted}: must be ", got), (f"--set {dotted}={wrong}: {dotted}: must be ", got)]
    for (status, stderr), (start, got) in zip(_load_each(project, cases), expected, strict=True):
        assert status == 2 and len(stderr.splitlines()) == 1, (start, stderr)
        assert stderr.startswith(start) and got in stderr, (start, stderr)


def test_an_optional_setting_left_null_takes_its_default(projects: dict[str, Path]):
    """`key:` (null) in the file, or `--set key=`, is as if the key were left out: the loaded config has
    no such key, and the code's default applies."""
    project = projects["tabular-regression"]
    shipped = (project / "configs" / "default.yaml").read_text()
    (project / "configs" / "nulls.yaml").write_text(shipped.replace("kfold: 5", "kfold:"))
    proc = python(project, f"""
from {PACKAGE}.config import load_config
loaded = load_config("configs/nulls.yaml", ["train.mixed_precision=", "data.target="])
assert "kfold" not in loaded["evaluate"] and "mixed_precision" not in loaded["train"], loaded
assert "target" not in loaded["data"] and loaded["train"]["epochs"] == 40, loaded
print("ok")
""")  # fmt: skip
    assert (proc.returncode, proc.stdout.strip()) == (0, "ok"), proc.stderr
