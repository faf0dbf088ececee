"""`dlpick bench`'s projects: each framework's template rendered as a project, cached, and where it runs.

Every framework whose template has an `engine.py` (templates/CONTRACT.md, "Engine templates": all
nine, PyTorch and TensorFlow included) is measured with its template's own code (bench_engine.py):
its tabular-classification project for the mlp, its image-classification project for the cnn. Each
is rendered once into dlpick's cache (`projects_dir()`, one folder per dlpick version and hash of
the template's files, so a changed template renders anew), with the engine worker copied into it.
`--isolated` runs it in the project's own environment: the one `verify --isolated` builds from the
project's requirements (cached and shared with it, built the same way: `verify.envs.spec_for` and
`envs.ensure`, with the same constraint files), so a framework need not be installed beside dlpick to
be measured. Without it, `check_requirements` first reads what the projects declare (verify's check,
`verify.requirements`) and names every requirement the interpreter lacks, per framework, before any
worker starts.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlpick.machine import bench_engine, bench_worker

WORKER_FOLDER = ".dlpick-bench"  # in a cached project: the engine worker and the helpers it imports
NOTES = [
    f"worker {bench_engine.WORKER!r}: the framework's template rendered as a project (mlp: its "
    "tabular-classification project, cnn: its image-classification one at its smoke-run size), trained with "
    "the project's own model, optimiser, config and data pipeline; sizes differ between frameworks "
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


def engine_python(
    project: Path, framework: str, device: str, envs_root: Path | None, constraints: Sequence[Path] = ()
) -> tuple[str, str]:
    """(python, environment folder) of the project's isolated environment, built on first use by the
    builder `verify --isolated` uses (the same cache; `envs_root` overrides it; `constraints`: its
    --constraint files)."""
    from dlpick.verify import envs

    spec = envs.spec_for(project, framework, constraints, device="cuda" if device == "cuda" else "cpu")
    built = envs.ensure(spec, root=envs_root)
    return built.python, str(built.path)


@dataclass(frozen=True)
class Where:
    """Where engine frameworks run: their projects' cache, and (isolated) the environments' cache."""

    isolated: bool = False
    envs_root: Path | None = None  # None: the cache `verify --isolated` uses
    projects_root: Path | None = None  # None: projects_dir()
    constraints: tuple[Path, ...] = ()  # pip constraint files for the isolated environments


def _canonical(requirement: str) -> str:
    """A requirement line's distribution name, normalised as pip compares names (PEP 503)."""
    name = re.split(r"[\s\[<>=!~;@(]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def check_requirements(
    frameworks: Mapping[str, Any],
    runs: Iterable[Any],
    models: Iterable[str],
    device: str,
    python: str,
    asked: Iterable[str] = (),
    projects_root: Path | None = None,
) -> list[Any]:
    """Before any worker starts: every requirement each framework's projects declare (verify's check,
    without the dev extra: bench runs no tests) that `python` lacks.

    Checked: the frameworks about to run (installed: their own distributions are left to `plan`, where
    one build stands for another, tensorflow for tensorflow-cpu) and those in `asked` that are not
    installed. Each one short of something becomes "not installed" with `missing` (every requirement,
    as declared), its `error` (one line) and one `install` command: pip's, in `python`, of exactly
    the missing set (after the knowledge base's command for the framework itself where that is
    missing too). One installed at a version they exclude is a warning, not a stop: the benchmark
    uses a part of the project (no export, no server) and says which version it measured. Returns
    the runs short of something."""
    from dlpick.errors import DlpickError
    from dlpick.verify import requirements

    variant = "cuda" if device == "cuda" else "cpu"
    asked, engines = set(asked), engine_frameworks()
    short = []
    for run in runs:
        pending = run.status == "pending"
        if not pending and not (run.status == "not installed" and run.framework in asked & engines):
            continue
        try:
            projects = [bench_project(run.framework, model, projects_root) for model in dict.fromkeys(models)]
        except (DlpickError, OSError):
            continue  # the run reports it as its error (setup)
        own = {_canonical(name) for name in frameworks[run.framework].distributions}
        lines = [line for project in projects for line in requirements.declared(project, variant, dev=False)]
        lines = [line for line in dict.fromkeys(lines) if not (pending and _canonical(line) in own)]
        unmet = requirements.unmet(python, lines, projects[0]) if lines else []
        # A marker that held here (the probe skips the others) says nothing more: pip is given the bare line.
        unmet = [requirements.Unmet(item.requirement.split(";", 1)[0].strip(), item.installed) for item in unmet]
        other = [item.describe() for item in unmet if item.installed is not None]
        if other:  # it may well run (an export pin, say): measured, and the result says so
            run.warnings.append(f"its projects declare {', '.join(other)}; measured with the version installed")
        run.missing = [item.requirement for item in unmet if item.installed is None]
        if not run.missing:
            continue
        framework_too = any(_canonical(line) in own for line in run.missing) and not pending and run.install
        rest = [line for line in run.missing if not (framework_too and _canonical(line) in own)]
        commands = [run.install] if framework_too else []
        if rest:
            commands.append(" ".join([shlex.quote(python), "-m", "pip", "install", *map(shlex.quote, rest)]))
        run.status, run.install = "not installed", " && ".join(commands)
        run.error = f"its projects need {', '.join(run.missing)}, not installed"
        short.append(run)
    return short


def setup(run: Any, model: str, device: str, where: Where) -> tuple[Path | None, dict[str, Any] | None]:
    """(the project to run `model` in, None) or (None, the failed or missing result): rendering the
    project, and with --isolated building its environment (first time only)."""
    from dlpick.errors import DlpickError
    from dlpick.verify.envs import EnvError

    try:
        project = bench_project(run.framework, model, where.projects_root)
        if where.isolated and run.python is None:
            run.python, run.env = engine_python(project, run.framework, device, where.envs_root, where.constraints)
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
