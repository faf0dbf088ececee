"""`dlpick bench`'s projects: each framework's template rendered as a project, cached, and where it runs.

Every framework whose template has an `engine.py` (templates/CONTRACT.md, "Engine templates": all
nine, PyTorch and TensorFlow included) is measured with its template's own code (bench_engine.py):
its tabular-classification project for the mlp, its image-classification project for the cnn. Each
is rendered once into dlpick's cache (`projects_dir()`, one folder per dlpick version and hash of
the template's files, so a changed template renders anew), with the engine worker copied into it.
`--isolated` runs it in the project's own environment: the one `verify --isolated` builds from the
project's requirements (cached and shared with it), so a framework need not be installed beside
dlpick to be measured.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlpick.machine import bench_engine, bench_worker

WORKER_FOLDER = ".dlpick-bench"  # in a cached project: the engine worker and the helpers it imports
NOTES = [
    f"worker {bench_engine.WORKER!r}: the framework's template rendered as a project (mlp: its "
    "tabular-classification project, cnn: its image-classification one), trained with the project's own "
    "model, optimiser, config and data pipeline; sizes differ between frameworks "
    "(models.*.parameters_by_framework; each figure's template and parameter_arrays)",
]


def engine_frameworks() -> set[str]:
    """The frameworks whose template has an engine module (templates/CONTRACT.md, "Engine templates")."""
    from dlpick.project import render

    engine = Path("{{cookiecutter.project_slug}}", "src", "{{cookiecutter.package_name}}", "engine.py")
    return {fid for fid, template in render.list_templates().items() if (template.path / engine).is_file()}


def projects_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("dlpick")) / "bench-projects"


def _template_key(framework: str) -> str:
    """dlpick's version and a hash of the template's files: a changed template renders a new project."""
    import hashlib

    from dlpick import __version__
    from dlpick.project import render

    root = render.get_template(framework).path
    digest = hashlib.sha256()
    for folder, _, files in sorted(os.walk(root, followlinks=True)):
        for name in sorted(files):
            path = Path(folder, name)
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return f"{__version__}-{digest.hexdigest()[:12]}"


def bench_project(framework: str, model: str, root: Path | None = None) -> Path:
    """The project `framework`'s template renders for `model`'s task, rendered once into the cache
    (again when missing or unfinished), with the engine worker copied in."""
    import shutil

    from dlpick.project import render

    task = bench_engine.TASKS[model]
    folder = (root or projects_dir()) / _template_key(framework)
    project = folder / f"{framework}-{task}"
    if not (project / ".cookiecutter.json").is_file():
        if project.exists():
            shutil.rmtree(project)
        render.render(framework, task, project)
    workers = project / WORKER_FOLDER
    workers.mkdir(exist_ok=True)
    for module in (bench_engine, bench_worker):
        shutil.copyfile(str(module.__file__), workers / Path(str(module.__file__)).name)
    return project


def engine_python(project: Path, framework: str, device: str, envs_root: Path | None) -> tuple[str, str]:
    """(python, environment folder) of the project's isolated environment, built on first use (the
    cache `verify --isolated` uses; `envs_root` overrides it)."""
    from dlpick.verify import envs

    spec = envs.spec_for(project, framework, device="cuda" if device == "cuda" else "cpu")
    built = envs.ensure(spec, root=envs_root)
    return built.python, str(built.path)


@dataclass(frozen=True)
class Where:
    """Where engine frameworks run: their projects' cache, and (isolated) the environments' cache."""

    isolated: bool = False
    envs_root: Path | None = None  # None: the cache `verify --isolated` uses
    projects_root: Path | None = None  # None: projects_dir()


def setup(run: Any, model: str, device: str, where: Where) -> tuple[Path | None, dict[str, Any] | None]:
    """(the project to run `model` in, None) or (None, the failed or missing result): rendering the
    project, and with --isolated building its environment (first time only)."""
    from dlpick.errors import DlpickError
    from dlpick.verify.envs import EnvError

    try:
        project = bench_project(run.framework, model, where.projects_root)
        if where.isolated and run.python is None:
            run.python, run.env = engine_python(project, run.framework, device, where.envs_root)
    except EnvError as exc:
        module = "its isolated environment"
        return None, {"status": "missing", "module": module, "error": exc.message, "install": exc.hint}
    except (DlpickError, OSError) as exc:
        return None, {"status": "failed", "error": f"the template's project: {exc}"}
    return project, None


def models_header(chosen: Mapping[str, Any], runs: Iterable[Any], descriptions: Mapping[str, str]) -> dict[str, Any]:
    """What each model is: the templates' task project it comes from, and each measured framework's
    parameter count as its worker counted it. `parameters` and `layer_parameters` (the sizes of the
    hand-written models that workers before version 4 trained) stay in the format, null."""
    runs = list(runs)
    engines = [run.framework for run in runs if run.worker == bench_engine.WORKER]
    header = {}
    for model, spec in chosen.items():
        header[model] = {
            "description": f"{descriptions[model]} ({', '.join(engines)})" if engines else descriptions[model],
            "layer_parameters": None,
            "parameters": None,
            "parameters_by_framework": {
                run.framework: run.models[model]["parameters"]
                for run in runs
                if run.models.get(model, {}).get("status") == "ok" and "parameters" in run.models[model]
            },
            "template_task": bench_engine.TASKS[model],
            "batch": spec.batch,
            "steps": spec.steps,
            "warmup": spec.warmup,
            "repeats": spec.repeats,
            "dtype": "float32",
        }
    return header
