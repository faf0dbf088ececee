"""Render a framework's cookiecutter template into a new project, all or nothing.

The project is rendered into a temporary folder next to the destination (same file system)
and renamed into place in one step, so an error or Ctrl-C never leaves half a project, and
an existing folder is replaced (with `force`) only after the new one rendered completely.
"""

from __future__ import annotations

import contextlib
import json
import keyword
import os
import re
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlpick.errors import BadInput

TEMPLATES_ENV = "DLPICK_TEMPLATES"
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9 _-]*")
NAME_MAX = 64
# Packages a generated project imports: a package of the same name would shadow them.
SHADOWED = {
    "torch", "torchvision", "torchaudio", "tensorflow", "keras", "tf_keras", "jax", "jaxlib", "flax", "optax",
    "numpy", "scipy", "pandas", "sklearn", "yaml", "matplotlib", "PIL", "onnx", "onnxruntime", "pytest",
    "tensorboard", "mxnet", "paddle", "mindspore", "pytensor", "theano", "caffe", "setuptools", "pip", "dlpick",
    "test", "tests", "src", "conftest",
}  # fmt: skip


@dataclass(frozen=True)
class Template:
    """One framework's template: where it is and what it can generate."""

    framework: str
    path: Path
    tasks: tuple[str, ...]


@dataclass(frozen=True)
class ProjectName:
    name: str
    slug: str
    package: str


@dataclass(frozen=True)
class Rendered:
    """What `render` produced."""

    project_dir: Path
    framework: str
    task: str
    name: ProjectName
    replaced: bool  # an existing folder was replaced (force)

    def to_json(self) -> dict[str, Any]:
        return {
            "project": str(self.project_dir),
            "framework": self.framework,
            "task": self.task,
            "project_name": self.name.name,
            "project_slug": self.name.slug,
            "package_name": self.name.package,
            "replaced": self.replaced,
        }


def templates_dir() -> Path:
    """The templates shipped with dlpick (inside the wheel, or the source tree's `templates/`)."""
    if override := os.environ.get(TEMPLATES_ENV):
        return Path(override).expanduser()
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_data" / "templates", here.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise BadInput(f"{here}: dlpick's templates are missing (broken install?)")


def list_templates(root: Path | None = None) -> dict[str, Template]:
    """framework id -> template, for every folder of `root` holding a cookiecutter.json."""
    root = root or templates_dir()
    found: dict[str, Template] = {}
    for path in sorted(p for p in root.iterdir() if (p / "cookiecutter.json").is_file()):
        try:
            data = json.loads((path / "cookiecutter.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BadInput(f"{path / 'cookiecutter.json'}: unreadable template ({exc})") from None
        tasks = data.get("task", [])
        tasks = tuple(tasks) if isinstance(tasks, list) else (str(tasks),)
        framework = str(data.get("__framework") or path.name)
        found[framework] = Template(framework, path, tasks)
    return found


def get_template(framework: str, root: Path | None = None) -> Template:
    templates = list_templates(root)
    if framework not in templates:
        available = ", ".join(templates) or "none"
        raise BadInput(f"no template for framework {framework!r}", hint=f"templates exist for: {available}")
    return templates[framework]


def check_task(template: Template, task: str) -> str:
    if task not in template.tasks:
        raise BadInput(
            f"the {template.framework} template has no {task!r} starter",
            hint=f"tasks it supports: {', '.join(template.tasks)}",
        )
    return task


def pick_template(ranked: list[str], task: str, templates: dict[str, Template]) -> tuple[str, str | None]:
    """The best-ranked framework with a template for `task`, and a note when that is not the top pick."""
    for place, framework in enumerate(ranked, 1):
        template = templates.get(framework)
        if template and task in template.tasks:
            if place == 1:
                return framework, None
            return framework, (
                f"{ranked[0]} ranks first but dlpick has no {ranked[0]} template for {task}; "
                f"scaffolding {framework} (ranked #{place}) instead"
            )
    with_task = [fid for fid, template in templates.items() if task in template.tasks]
    if with_task:
        raise BadInput(
            f"none of the recommended frameworks has a template for {task}",
            hint=f"name one: {', '.join(with_task)}",
        )
    supported = sorted({t for template in templates.values() for t in template.tasks})
    raise BadInput(f"no template supports {task!r}", hint=f"templates cover: {', '.join(supported)}")


def project_name(name: str) -> ProjectName:
    """Check a human project name and derive the folder slug and Python package name from it."""
    text = name.strip()
    if not text:
        raise BadInput("the project name is empty", hint="e.g. --name 'Churn model'")
    if not NAME_RE.fullmatch(text) or len(text) > NAME_MAX:
        raise BadInput(
            f"invalid project name {name!r}",
            hint=f"use letters, digits, spaces, - and _, starting with a letter, at most {NAME_MAX} characters",
        )
    slug = re.sub(r"-{2,}", "-", re.sub(r"[\s_]+", "-", text.lower())).strip("-")
    package = slug.replace("-", "_")
    if keyword.iskeyword(package) or keyword.issoftkeyword(package):
        raise BadInput(f"project name {name!r} gives the package {package!r}, a Python keyword", hint="pick another")
    if package in SHADOWED or package in sys.stdlib_module_names or package in sys.builtin_module_names:
        raise BadInput(
            f"project name {name!r} gives the package {package!r}, which would shadow the module of that name",
            hint=f"pick another, e.g. --name '{text} project'",
        )
    return ProjectName(text, slug, package)


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C while a few renames and the clean-up run, then deliver it."""
    if sys.platform == "win32" or not _main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _make_parents(path: Path) -> list[Path]:
    """Create the missing parents of `path`; return the ones created (deepest last)."""
    missing = []
    for parent in path.parents:
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        parent.mkdir()
    return list(reversed(missing))


def _with_includes(template: Path, staging: Path) -> Path:
    """The template with its include folder (`templates -> ../_shared`) present.

    Wheels cannot hold symbolic links, so an installed template may lack the link; render a
    copy that has the shared folder in its place.
    """
    shared = template.parent / "_shared"
    if (template / "templates").is_dir() or not shared.is_dir():
        return template
    copy = staging / "template" / template.name
    shutil.copytree(template, copy, symlinks=True)
    shutil.copytree(shared, copy / "templates")
    return copy


def _cookiecutter(template: Path, output_dir: Path, context: dict[str, str]) -> Path:
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.main import cookiecutter
    from jinja2 import TemplateError

    # Our own config: the user's ~/.cookiecutterrc does not change the output, and the replay
    # file cookiecutter always writes lands in the temporary folder instead of the home folder.
    config = output_dir / ".cookiecutterrc"
    config.write_text(
        json.dumps({"replay_dir": str(output_dir / ".replay"), "cookiecutters_dir": str(output_dir / ".cc")}),
        encoding="utf-8",
    )
    source = _with_includes(template, output_dir)
    project = output_dir / "project"
    project.mkdir()
    try:
        result = cookiecutter(
            str(source), no_input=True, extra_context=context, output_dir=str(project), config_file=str(config)
        )
    except (CookiecutterException, TemplateError) as exc:
        raise BadInput(f"{template}: the template failed to render: {exc}") from exc
    return Path(result)


def _record_places(project: Path, dest: Path, template: Path) -> None:
    """`.cookiecutter.json` names the final output folder and the real template, not temporary copies."""
    answers = project / ".cookiecutter.json"
    try:
        data = json.loads(answers.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(data, dict):
        places = {"_output_dir": str(dest.parent), "_template": str(template), "_repo_dir": str(template)}
        data.update({key: value for key, value in places.items() if key in data})
        answers.write_text(json.dumps(data, indent=4, sort_keys=True) + "\n", encoding="utf-8")


def render(
    framework: str,
    task: str,
    dest: str | os.PathLike[str],
    name: str | None = None,
    force: bool = False,
    python_version: str | None = None,
    templates_root: Path | None = None,
) -> Rendered:
    """Render `framework`'s template for `task` into the folder `dest`, atomically.

    `name` defaults to the folder's name. An existing non-empty `dest` is refused unless
    `force`, and then replaced only once the new project rendered completely.
    """
    template = get_template(framework, templates_root)
    check_task(template, task)
    dest = Path(os.path.normpath(Path(dest).expanduser().absolute()))  # no "..", symlinks kept
    names = project_name(name if name is not None else dest.name)
    occupied = (dest.exists() or dest.is_symlink()) and not _is_empty_dir(dest)
    if occupied and not force:
        kind = "folder" if dest.is_dir() else "file"
        raise BadInput(f"{dest}: {kind} already exists and is not empty", hint="pick another --dest, or pass --force")
    if occupied and Path.cwd().resolve().is_relative_to(dest.resolve()):
        raise BadInput(f"{dest}: refusing to replace the current folder or one above it", hint="pick another --dest")
    python_version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    context = {
        "project_name": names.name,
        "project_slug": names.slug,
        "package_name": names.package,
        "task": task,
        "python_version": python_version,
    }
    created_parents: list[Path] = []
    staging: Path | None = None
    done = False
    try:
        created_parents = _make_parents(dest)
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.dlpick-", dir=dest.parent))
        project = _cookiecutter(template.path, staging, context)
        _record_places(project, dest, template.path)
        with _interrupts_deferred():
            _move_into_place(project, dest, staging, occupied)
            done = True
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        where = exc.filename or dest
        raise BadInput(f"{where}: cannot create the project: {exc.strerror or exc}") from exc
    finally:
        if not done:
            with _interrupts_deferred():
                if staging is not None:
                    shutil.rmtree(staging, ignore_errors=True)
                for parent in reversed(created_parents):
                    with contextlib.suppress(OSError):
                        parent.rmdir()
    return Rendered(dest, template.framework, task, names, replaced=occupied)


def _fill_empty(project: Path, dest: Path) -> None:
    """Move the project's entries into the user's empty folder (kept: it may be the shell's current one)."""
    moved: list[Path] = []
    try:
        for entry in sorted(project.iterdir()):
            target = dest / entry.name
            if target.exists() or target.is_symlink():
                raise FileExistsError(17, "appeared while rendering", str(target))
            entry.rename(target)
            moved.append(target)
    except BaseException:
        for target in moved:  # the folder was empty: empty it again
            _remove(target)
        raise


def _move_into_place(project: Path, dest: Path, staging: Path, replace: bool) -> None:
    if not replace:
        if _is_empty_dir(dest):
            _fill_empty(project, dest)
        else:
            project.rename(dest)  # fails (and changes nothing) if something appeared at dest meanwhile
        return
    old = staging / "replaced"
    dest.rename(old)
    try:
        project.rename(dest)
    except BaseException:
        old.rename(dest)
        raise
    _remove(old)
