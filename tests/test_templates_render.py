"""Every template renders every task it lists, and the result byte-compiles and passes ruff (quick: no framework)."""

from __future__ import annotations

import ast
import compileall
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dlpick.project import render

CASES = [(framework, task) for framework, template in render.list_templates().items() for task in template.tasks]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    parent = tmp_path_factory.mktemp("every-template")
    return {
        (framework, task): render.render(framework, task, parent / f"{framework}-{task}", name="Every case").project_dir
        for framework, task in CASES
    }


def test_every_framework_has_a_template_with_the_four_tasks_or_says_why():
    templates = render.list_templates()
    assert len(templates) == 9
    for framework, template in templates.items():
        expected = {"tabular-regression", "tabular-classification", "image-classification", "text-classification"}
        if framework == "caffe":  # no masked-mean layer for the text model (templates/CONTRACT.md)
            expected.discard("text-classification")
        assert set(template.tasks) == expected, framework


@pytest.mark.parametrize(("framework", "task"), CASES)
def test_the_project_byte_compiles(rendered: dict[tuple[str, str], Path], framework: str, task: str):
    project = rendered[framework, task]
    assert compileall.compile_dir(project, quiet=1, legacy=True, force=True), f"{framework} {task} has a syntax error"
    for leftover in project.rglob("*.pyc"):
        leftover.unlink()
    assert (project / "src" / "every_case" / "train.py").is_file()


@pytest.mark.parametrize(("framework", "task"), CASES)
def test_a_project_is_written_in_the_python_its_template_says_it_runs_on(
    rendered: dict[tuple[str, str], Path], framework: str, task: str
):
    """Every file parses with the grammar of the oldest Python the template accepts (`_min_python`), and a
    3.9 project calls no 3.10-only builtin (zip's strict=)."""
    minor = int(render.list_templates()[framework].min_python.split(".")[1])
    for path in rendered[framework, task].rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        ast.parse(source, str(path), feature_version=(3, minor))
        if minor < 10:
            assert not re.search(r"\bzip\([^)]*strict=", source), f"{path}: zip(strict=...) needs Python 3.10"


def ruff(rendered: dict[tuple[str, str], Path], *args: str) -> None:
    """`ruff ARGS` over every rendered case (each project's own pyproject settings) finds nothing."""
    folders = [str(path) for path in rendered.values()]
    ran = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", *folders], capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]


def test_every_rendered_project_passes_ruff(rendered: dict[tuple[str, str], Path]):
    ruff(rendered, "check")


def test_every_rendered_project_is_ruff_formatted(rendered: dict[tuple[str, str], Path]):
    """As generated, `ruff format` (each project's own pyproject settings) would change nothing."""
    ruff(rendered, "format", "--check", "--diff")


def test_every_rendered_project_runs_ruff_under_pre_commit(rendered: dict[tuple[str, str], Path]):
    import yaml

    for (framework, task), project in rendered.items():
        config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
        ruff = [repo for repo in config["repos"] if repo["repo"] == "https://github.com/astral-sh/ruff-pre-commit"]
        assert len(ruff) == 1 and ruff[0]["rev"].startswith("v"), (framework, task)
        hooks = {hook["id"]: hook for hook in ruff[0]["hooks"]}
        assert set(hooks) == {"ruff-check", "ruff-format"}, (framework, task)
        assert "--fix" in hooks["ruff-check"].get("args", []), (framework, task)


def test_tensorflow_requirements_files_match_its_extras():
    """requirements.txt / requirements-gpu.txt (what `verify --isolated [--device cuda]` builds) say what
    pyproject's [cpu] / [gpu] extras say, over the same shared requirements."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: dlpick depends on tomli there
        import tomli as tomllib

    root = next((Path(render.templates_dir()) / "tensorflow").glob("{{*"))
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for name, extra in (("requirements.txt", "cpu"), ("requirements-gpu.txt", "gpu")):
        lines = [line for line in (root / name).read_text().splitlines() if line and not line.startswith("#")]
        assert lines == ["-r requirements-common.txt", *extras[extra]], name


# Code that belongs to some tasks only; a project carries its own task's and no other's.
TASK_CODE = {
    "tabular": ("def load_table(", "class MLP("),
    "image": ("def load_images(", "class CNN(", "class BasicBlock(", "IMAGE_SUFFIXES"),
    "text": ("def load_text(", "def tokenize(", "class TextClassifier(", "class MaskedMean(", "def token_occlusion("),
}
TASK_GROUP = {
    "tabular-regression": "tabular",
    "tabular-classification": "tabular",
    "image-classification": "image",
    "text-classification": "text",
}


@pytest.mark.parametrize(("framework", "task"), CASES)
def test_a_project_carries_its_own_tasks_code_only(rendered: dict[tuple[str, str], Path], framework: str, task: str):
    sources = {path: path.read_text() for path in rendered[framework, task].rglob("*.py")}
    own = TASK_GROUP[task]
    for path, text in sources.items():
        assert "# [task:" not in text and "# [end task]" not in text, f"{path}: a task marker is left"
        for group, names in TASK_CODE.items():
            if group != own:
                assert not [name for name in names if name in text], (
                    f"{path}: code of {group} tasks in a {task} project"
                )
    loader = TASK_CODE[own][0]
    assert any(loader in text for text in sources.values()), f"{framework} {task}: its own loader is missing"


def _run_hook(tmp_path: Path, task: str, source: str) -> subprocess.CompletedProcess[str]:
    hook = Path(__file__).resolve().parent.parent / "templates" / "pytorch" / "hooks" / "post_gen_project.py"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.py").write_text(source)
    script = hook.read_text().replace("{{ cookiecutter.task }}", task)
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_the_hook_keeps_the_projects_task_and_drops_the_markers(tmp_path: Path):
    source = (
        "a = 1\n# [task: text-classification]\nb = 2\n# [end task]\n"
        "    # [task: image-classification tabular-regression]\nc = 3\n"
        "# [task: tabular-regression]\nd = 4\n# [end task]\n    # [end task]\n"
    )
    done = _run_hook(tmp_path, "image-classification", source)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "src" / "m.py").read_text() == "a = 1\nc = 3\n"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("x = 1\n# [end task]\n", "m.py:2: [end task] without [task: ...]"),
        ("# [task: text-classification]\nx = 1\n", "m.py: a task region is not closed"),
    ],
)
def test_the_hook_refuses_broken_markers(tmp_path: Path, source: str, problem: str):
    done = _run_hook(tmp_path, "text-classification", source)
    assert done.returncode != 0 and problem in done.stderr


def test_every_template_has_the_same_hook():
    root = Path(__file__).resolve().parent.parent / "templates"
    hooks = {path.parent.parent.name: path.read_text() for path in root.glob("*/hooks/post_gen_project.py")}
    assert len(hooks) == 9 and len(set(hooks.values())) == 1, (
        "cookiecutter hooks cannot include: keep the nine copies equal"
    )


GENERATOR_WORDS = re.compile(r"dlpick|template|verif", re.IGNORECASE)


@pytest.mark.parametrize(("framework", "task"), CASES)
def test_the_project_speaks_of_itself_only(rendered: dict[tuple[str, str], Path], framework: str, task: str):
    """src/ and tests/ name neither the generator, its templates nor its verify (provenance files and the
    README's "generated by" line are elsewhere)."""
    project = rendered[framework, task]
    for path in [*(project / "src").rglob("*"), *(project / "tests").rglob("*")]:
        if path.is_file():
            found = GENERATOR_WORDS.findall(path.read_text(encoding="utf-8", errors="replace"))
            assert not found, f"{path.relative_to(project)}: {sorted(set(found))}"


ENGINE_PROBE = re.compile(r"\b(?:getattr|hasattr)\(\s*(?:engine|trainer|self\.trainer|engine\.Trainer)\b")


@pytest.mark.parametrize(("framework", "task"), CASES)
def test_the_project_never_probes_its_engine(rendered: dict[tuple[str, str], Path], framework: str, task: str):
    """What an engine has is known when the project is rendered (CONTRACT.md): no getattr/hasattr on it."""
    project = rendered[framework, task]
    for path in project.rglob("*.py"):
        found = ENGINE_PROBE.findall(path.read_text(encoding="utf-8"))
        assert not found, f"{path.relative_to(project)}: {found}"


@pytest.mark.parametrize(("framework", "task"), CASES)
def test_no_function_in_the_project_is_over_60_lines(rendered: dict[tuple[str, str], Path], framework: str, task: str):
    project = rendered[framework, task]
    long = [
        f"{path.relative_to(project)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in project.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > 60
    ]
    assert not long, long


# The framework's own calls that write and read a run's checkpoint (templates/CONTRACT.md); the frameworks
# whose templates keep no native format write the shared checkpoint.npz.
CHECKPOINT_CALLS = {
    "pytorch": ("torch.save(", "engine.read_saved("),  # the engine's one bounded torch.load(weights_only=True)
    "tensorflow": ("with_optimizer.save_weights", "with_optimizer.load_weights(", "h5py.File("),  # Keras's .weights.h5
    "jax": ("ocp.CheckpointManager(", "ocp.args.StandardSave(", "ocp.args.StandardRestore("),
}
NPZ_CALLS = ("np.savez(", "config_mod.read_npz(")
CHECKPOINT_WORDS = ("CheckpointManager", "ocp.", "np.savez", "torch.save(", "torch.load(", "read_npz", "check_meta")


@pytest.mark.parametrize(("framework", "task"), CASES)
def test_train_py_is_the_loop_and_checkpoint_py_the_frameworks_checkpoint(
    rendered: dict[tuple[str, str], Path], framework: str, task: str
):
    """train.py keeps the loop, the step, the smoke and training paths and main, in at most 200 lines; the
    checkpoint (save, the checks of a run folder from someone else, load, restore) is checkpoint.py's, with the
    framework's own save and load calls, and neither train.py nor engine.py writes or reads it."""
    package = rendered[framework, task] / "src" / "every_case"
    train = (package / "train.py").read_text(encoding="utf-8")
    assert len(train.splitlines()) <= 200, f"train.py: {len(train.splitlines())} lines"
    assert "checkpoint.save(" in train and "checkpoint.restore(" in train and "checkpoint.load(" in train
    checkpoint = (package / "checkpoint.py").read_text(encoding="utf-8")
    for call in CHECKPOINT_CALLS.get(framework, NPZ_CALLS):
        assert call in checkpoint, f"checkpoint.py: no {call}"
    for word in ("def save(", "def load(", "def restore(", "def check_meta("):
        assert word in checkpoint, f"checkpoint.py: no {word}"
    assert not [word for word in CHECKPOINT_WORDS if word in train], "train.py writes or reads the checkpoint"
    engine = (package / "engine.py").read_text(encoding="utf-8")
    assert not [word for word in ("CheckpointManager", "ocp.", "def save_checkpoint") if word in engine], "engine.py"


TASK_ID = re.compile("|".join(re.escape(f'"{task}"') for task in TASK_GROUP))


@pytest.mark.parametrize(("framework", "task"), CASES)
def test_no_branch_for_another_task(rendered: dict[tuple[str, str], Path], framework: str, task: str):
    """The renderer keeps the project's own task's code only: no other task's id in its sources, config.py
    included (its schema, a pydantic model's fields or Caffe's table, has this task's keys only), and no other
    task's setting in its config."""
    project = rendered[framework, task]
    for path in [*(project / "src").rglob("*.py"), *(project / "tests").rglob("*.py")]:
        found = {match for match in TASK_ID.findall(path.read_text(encoding="utf-8")) if match != f'"{task}"'}
        assert not found, f"{path.relative_to(project)}: {sorted(found)}"
    config = next((project / "src").rglob("config.py")).read_text(encoding="utf-8")
    default = (project / "configs" / "default.yaml").read_text(encoding="utf-8")
    for group, keys in TASK_KEYS.items():
        if group != TASK_GROUP[task]:
            declared = [key for key in keys if f'"{key}"' in config or re.search(rf"^ +{key}:", config, re.M)]
            assert not declared, f"config.py: a key of {group} tasks"
            assert not [key for key in keys if f"  {key}:" in default], f"default.yaml: a key of {group} tasks"


# Words for what only some tasks have: their data, their outputs, their explanations.
TASK_WORDS = {
    "tabular": r"\b(?:tabular|feature_names)\b",
    "image": r"\b(?:images?|pixels?)\b",
    "text": r"\b(?:tokens?|vocabulary|reviews?)\b",
    "regression": r"\b(?:regress\w*|residuals?|target's (?:own )?units)\b",
    "classification": r"\b(?:class probabilities|classifiers?|stratif\w*|confusion|softmax)\b",
}
TASK_KINDS = {
    "tabular-regression": {"tabular", "regression"},
    "tabular-classification": {"tabular", "classification"},
    "image-classification": {"image", "classification"},
    "text-classification": {"text", "classification"},
}


@pytest.mark.parametrize(("framework", "task"), CASES)
def test_the_projects_code_and_prose_speak_of_its_own_task_only(
    rendered: dict[tuple[str, str], Path], framework: str, task: str
):
    """A reader of an image project meets no tokens, residuals or feature names, in code or in a docstring:
    the words of another task's data and outputs are left out with its code."""
    project = rendered[framework, task]
    found = []
    for path in sorted([*(project / "src").rglob("*.py"), *(project / "tests").rglob("*.py")]):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for kind, pattern in TASK_WORDS.items():
                if kind not in TASK_KINDS[task] and re.search(pattern, line, re.IGNORECASE):
                    found.append(f"{path.relative_to(project)}:{number}: {kind}: {line.strip()[:100]}")
    assert not found, "\n".join(found[:10])


def test_every_rendered_project_names_no_argument_it_does_not_use(rendered: dict[tuple[str, str], Path]):
    """A parameter only another task or framework needs is left out with that task's code: ruff's
    unused-argument rules (ARG) find none in any rendered case."""
    ruff(rendered, "check", "--select=ARG", "--output-format=concise")


# The settings of some tasks only (configs/default.yaml, config.py's schema).
TASK_KEYS = {
    "tabular": ("target",),
    "image": ("image_size", "smoke_image_size", "backbone"),
    "text": ("text_column", "label_column", "max_tokens", "vocab_size", "embedding_dim"),
}


def test_the_readmes_links_point_at_something_real(tmp_path: Path):
    """A new user follows the generated README's links: each relative one names a file of the project,
    and none names a package page that does not exist (dlpick is installed from a clone or a wheel)."""
    import re

    project = render.render("pytorch", "image-classification", tmp_path / "p").project_dir
    readme = (project / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert links
    for link in links:
        if not link.startswith(("http://", "https://", "#")):
            assert (project / link.split("#")[0]).exists(), link
    assert "pypi.org/project/dlpick" not in readme


def test_the_gitignore_keeps_the_projects_own_sample_only(rendered: dict[tuple[str, str], Path]):
    """git ignores the sample a project makes on demand and tracks the one it ships (text projects'
    reviews.csv); no project's .gitignore speaks of another task's sample."""
    for (framework, task), project in rendered.items():
        subprocess.run(["git", "init", "-q", str(project)], check=True)
        text = (project / ".gitignore").read_text()
        ignored = subprocess.run(
            ["git", "check-ignore", "data/sample/reviews.csv", "data/sample/class_0/0.png", "data/sample/x.csv"],
            cwd=project, capture_output=True, text=True,
        )  # fmt: skip
        if task == "text-classification":
            tracked = subprocess.run(["git", "check-ignore", "-q", "data/sample/reviews.csv"], cwd=project)
            assert tracked.returncode == 1, (framework, task, "the shipped sample is ignored")
        else:
            assert "reviews.csv" not in text, (framework, task)
            assert len(ignored.stdout.split()) == 3, (framework, task, "the generated sample is not ignored")
