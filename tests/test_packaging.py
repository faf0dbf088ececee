"""The wheel carries the knowledge base, and an installed dlpick works outside the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.needs_index  # pip builds the wheel with hatchling from the index


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        timeout=600,
    )
    return next(out.glob("dlpick-*.whl"))


def test_wheel_contains_knowledge(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {name for name in names if name.startswith("dlpick/_data/knowledge/")}
    expected = {
        f"dlpick/_data/knowledge/{p.relative_to(ROOT / 'knowledge')}" for p in (ROOT / "knowledge").rglob("*.yaml")
    }
    assert expected and expected <= shipped


def test_wheel_contains_templates(wheel: Path):
    """Every template file (the shared includes too) is in the wheel: an installed dlpick scaffolds."""
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"dlpick/_data/templates/{p.relative_to(ROOT / 'templates')}"
        for p in (ROOT / "templates").rglob("*")
        if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts
    }
    assert expected and expected <= names, sorted(expected - names)[:5]


def test_installed_dlpick_runs_from_anywhere(wheel: Path, tmp_path: Path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True,
        timeout=600,
    )
    env = {**os.environ, "PYTHONPATH": str(target), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    probe = "import dlpick.kb.knowledge as k; print(k.builtin_dir())"
    where = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert Path(where.stdout.strip()).is_relative_to(target), where.stdout + where.stderr
    shown = subprocess.run(
        [sys.executable, "-m", "dlpick", "show", "jax", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == "jax"


def test_installed_templates_render_with_their_shared_includes(wheel: Path, tmp_path: Path):
    """Wheels cannot hold the templates' `templates -> ../_shared` links: an installed dlpick still
    renders every template with the shared files (render puts the shared folder in place)."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True,
        timeout=600,
    )
    env = {**os.environ, "PYTHONPATH": str(target), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for template in sorted((ROOT / "templates").glob("*/cookiecutter.json")):
        framework = template.parent.name
        task = json.loads(template.read_text())["task"][0]
        made = subprocess.run(
            [sys.executable, "-m", "dlpick", "scaffold", framework, "-t", task, "-d", f"{framework}-app"]
            + ["--no-verify", "--json"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert made.returncode == 0, made.stdout + made.stderr
        project = tmp_path / f"{framework}-app"
        assert (project / "README.md").is_file() and (project / "configs" / "default.yaml").is_file(), framework
