"""`dlpick bench` for the engine frameworks: their template's own code, in a cached rendered project,
and with --isolated in the project's own environment (a real JAX run at tiny sizes)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from dlpick.cli.app import app
from dlpick.kb import knowledge
from dlpick.machine import bench as bench_mod
from dlpick.machine import bench_engine, bench_projects, bench_worker

runner = CliRunner()
KB = knowledge.load()
ENGINES = {"pytorch", "tensorflow", "jax", "paddlepaddle", "mindspore", "mxnet", "theano", "pytensor", "caffe"}


def test_every_template_has_an_engine_and_is_benchmarked_by_it():
    from dlpick.project import render

    assert bench_projects.engine_frameworks() == ENGINES == set(render.list_templates())


def test_the_engine_worker_imports_only_the_standard_library_at_module_level():
    """It runs under the project's interpreter, where dlpick is not installed (its copy of bench_worker is)."""
    tree = ast.parse(Path(bench_engine.__file__).read_text(encoding="utf-8"))
    top = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = {alias.name.split(".")[0] for node in top if isinstance(node, ast.Import) for alias in node.names}
    names |= {(node.module or "").split(".")[0] for node in top if isinstance(node, ast.ImportFrom)}
    assert names <= set(sys.stdlib_module_names) | {"__future__"}, names
    chosen = [node for node in tree.body if isinstance(node, ast.If) and "__package__" in ast.unparse(node.test)]
    assert chosen, "as a script it imports the copy of bench_worker beside it, not an installed dlpick's"


def test_plan_an_engine_framework_needs_no_install_with_isolated(monkeypatch):
    from dlpick.machine import doctor

    monkeypatch.setattr(doctor, "installed_frameworks", lambda frameworks, system=None, arch=None: [])
    here = {run.framework: run for run in bench_mod.plan(KB.frameworks, ["jax", "pytorch"])}
    assert here["jax"].status == "not installed" and "--isolated" in (here["jax"].error or "")
    assert here["pytorch"].status == "not installed" and "--isolated" in (here["pytorch"].error or "")
    assert here["jax"].worker == here["pytorch"].worker == bench_engine.WORKER
    isolated = {run.framework: run for run in bench_mod.plan(KB.frameworks, ["jax", "pytorch"], isolated=True)}
    assert isolated["jax"].status == isolated["pytorch"].status == "pending"


def test_the_project_is_rendered_once_per_template_and_again_when_missing(tmp_path: Path):
    project = bench_projects.bench_project("jax", "mlp", tmp_path)
    made = bench_engine.identity(project)
    assert made["framework"] == "jax" and made["task"] == "tabular-classification" and made["dlpick"]
    assert (project / bench_projects.WORKER_FOLDER / "bench_engine.py").is_file()
    assert (project / bench_projects.WORKER_FOLDER / "bench_worker.py").is_file()
    config = project / "configs" / "default.yaml"
    config.write_text(config.read_text() + "# kept\n")
    assert bench_projects.bench_project("jax", "mlp", tmp_path) == project and "# kept" in config.read_text()
    # The re-render removes that one project folder (inside the cache root it was given), nothing beside it.
    neighbours = [tmp_path / "user-file.txt", project.parent / "other-file.txt"]
    for path in neighbours:
        path.write_text("kept")
    (project / ".cookiecutter.json").unlink()  # an unfinished render: rendered again
    assert bench_projects.bench_project("jax", "mlp", tmp_path) == project and "# kept" not in config.read_text()
    assert project.is_relative_to(tmp_path) and all(path.read_text() == "kept" for path in neighbours)
    cnn = bench_projects.bench_project("jax", "cnn", tmp_path)
    assert bench_engine.identity(cnn)["task"] == "image-classification" and cnn.parent == project.parent


def test_isolated_bench_runs_the_engine_in_the_project_and_describes_it(monkeypatch, tmp_path: Path):
    """The worker gets the project and its environment's python; the JSON says which code ran."""
    from dlpick.machine import doctor

    monkeypatch.setattr(doctor, "installed_frameworks", lambda frameworks, system=None, arch=None: [])
    monkeypatch.setattr(bench_projects, "projects_dir", lambda: tmp_path / "projects")
    monkeypatch.setattr(bench_projects, "engine_python", lambda *a: ("/env/bin/python", "/env"))
    calls: list[tuple[str, Any, Any]] = []

    modules = []

    def run_worker(framework, model, spec, device, timeout, python=None, project=None, module=None):
        calls.append((model, python, project))
        modules.append(module)  # where the worker reads the version: the knowledge base's import name
        parameters = {"mlp": 5251, "cnn": 38282}[model]
        return {"status": "ok", "version": "0.1", "device": "cpu", "device_name": None, "import_s": 1.0,
                "steps_per_s": 10.0, "samples_per_s": 10.0 * spec.batch, "peak_rss_mb": 1.0, "repeats": 5,
                "spread": 0.01, "worker": bench_engine.WORKER, "parameters": parameters}  # fmt: skip

    monkeypatch.setattr(bench_mod, "run_worker", run_worker)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    result = runner.invoke(app, ["bench", "jax", "--isolated", "--quick", "--json", "--no-save"])
    assert result.exit_code == 0, result.output
    assert [(m, py, p.name) for m, py, p in calls] == [
        ("mlp", "/env/bin/python", "jax-tabular-classification"),
        ("cnn", "/env/bin/python", "jax-image-classification"),
    ]
    assert modules == ["jax", "jax"]
    data = json.loads(result.stdout)
    jax = data["frameworks"][0]
    assert jax["status"] == "measured" and jax["worker"] == bench_engine.WORKER and jax["env"] == "/env"
    assert data["worker"]["isolated"] is True and data["worker"]["version"] == bench_worker.VERSION == 6
    mlp = data["models"]["mlp"]
    assert mlp["parameters"] is None and mlp["layer_parameters"] is None  # only worker version < 4 had them
    assert mlp["parameters_by_framework"] == {"jax": 5251} and mlp["template_task"] == "tabular-classification"
    table = runner.invoke(app, ["bench", "jax", "--isolated", "--quick", "--no-save"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "templates: jax 5,251" in " ".join(table.stdout.split()), table.stdout


def test_an_environment_that_cannot_be_built_is_not_measured(monkeypatch, tmp_path: Path):
    from dlpick.machine import doctor
    from dlpick.verify.envs import EnvError

    def cannot(*args):
        raise EnvError("building a Debian root needs root", hint="use the project's Dockerfile")

    monkeypatch.setattr(doctor, "installed_frameworks", lambda frameworks, system=None, arch=None: [])
    monkeypatch.setattr(bench_projects, "projects_dir", lambda: tmp_path / "projects")
    monkeypatch.setattr(bench_projects, "engine_python", cannot)
    result = runner.invoke(app, ["bench", "caffe", "--isolated", "--quick", "--json", "--no-save"])
    assert result.exit_code == 3, result.output
    caffe = json.loads(result.stdout)["frameworks"][0]
    assert caffe["status"] == "not installed" and caffe["install"] == "use the project's Dockerfile"
    assert "building a Debian root needs root" in caffe["error"] and list(caffe["models"]) == ["mlp"]


# --- a real run: JAX's template engine in its project's isolated environment --------------------


@pytest.mark.integration
@pytest.mark.needs_index
def test_isolated_jax_bench_times_the_template_engine(tmp_path: Path, envs_root: Path):
    data = bench_mod.bench(KB.frameworks, ["jax"], quick=True, steps=2, repeats=3, batch=16, device="cpu",
                           isolated=True, envs_root=envs_root, projects_root=tmp_path / "projects")  # fmt: skip
    jax = data["frameworks"][0]
    assert jax["status"] == "measured", jax["error"]
    assert jax["worker"] == bench_engine.WORKER and jax["version"] and Path(jax["env"]).parent == envs_root
    for model, task in bench_engine.TASKS.items():
        m = jax["models"][model]
        assert m["status"] == "ok" and m["worker"] == bench_engine.WORKER and m["device"] == "cpu"
        assert m["worker_version"] == bench_worker.VERSION and m["repeats"] == 3 and len(m["repeat_s"]) == 3
        # each rounded as printed (samples/s to 0.1, steps/s to 0.01): no relative tolerance for slow figures
        assert m["samples_per_s"] == pytest.approx(m["steps_per_s"] * 16, abs=0.05 + 0.005 * 16) and m["spread"] >= 0
        assert m["template"]["framework"] == "jax" and m["template"]["task"] == task
        assert m["template"]["dlpick"] and m["template"]["engine"] == "JAX/Flax"
        assert data["models"][model]["parameters_by_framework"] == {"jax": m["parameters"]}
        # The timed model is the project's: the count of the model its own engine builds, counted by Flax.
        assert m["parameters"] == flax_parameters(Path(m["template"]["project"]), jax["python"])
    # the template's sizes: wine (13 features, 3 classes), hidden 64; digits at 16x16, 10 classes
    assert jax["models"]["mlp"]["parameters"] == 13 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3
    cnn = 9 * 16 + 16 + 9 * 16 * 32 + 32 + 32 * 4 * 4 * 64 + 64 + 64 * 10 + 10
    assert jax["models"]["cnn"]["parameters"] == cnn


def flax_parameters(project: Path, python: str) -> int:
    package = json.loads((project / ".cookiecutter.json").read_text())["package_name"]
    script = (
        "import jax\nfrom flax import nnx\n"
        f"from {package} import config, data, engine\n"
        "c = config.load_config(); engine.seed(c['seed']); *_, pre = data.prepare(c)\n"
        "print(sum(leaf.size for leaf in jax.tree_util.tree_leaves(nnx.state(engine.build(pre, c), nnx.Param))))\n"
    )
    env = {**os.environ, "PYTHONPATH": "src", "JAX_PLATFORMS": "cpu"}
    ran = subprocess.run([python, "-c", script], cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    return int(ran.stdout.split()[-1])
