"""Every template renders every task it lists, and the result byte-compiles and passes ruff (quick: no framework)."""

from __future__ import annotations

import compileall
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


def test_every_rendered_project_passes_ruff(rendered: dict[tuple[str, str], Path]):
    folders = [str(path) for path in rendered.values()]
    ran = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *folders], capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]


def test_every_rendered_project_is_ruff_formatted(rendered: dict[tuple[str, str], Path]):
    """As generated, `ruff format` (each project's own pyproject settings) would change nothing."""
    folders = [str(path) for path in rendered.values()]
    ran = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--diff", "--no-cache", *folders],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]


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
