"""Render a framework's cookiecutter template into a new project, all or nothing.

The project is rendered into a staging folder next to the destination (same file system) and
moved into place only once complete, so an error or a signal never leaves half a project. With
`force`, only the files the template produces are written into an existing folder: nothing
else in it is touched (project/overlay.py).
"""

from __future__ import annotations

import contextlib
import json
import keyword
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlpick import processes
from dlpick.errors import BadInput
from dlpick.project import overlay, record


class NeedsConfirmation(BadInput):
    """--force into a folder that holds no generated project (or a home folder, a root): a second
    --force, or a yes in a terminal, is needed."""


TEMPLATES_ENV = "DLPICK_TEMPLATES"
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9 _-]*")
NAME_MAX = 64
PYTHON_RE = re.compile(r"3\.[0-9]{1,2}")  # the generated project's Python: "3.11"
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
    install: tuple[str, ...] = ()  # `_install`: the commands that install a project on a CPU, in order
    min_python: str = "3.10"  # `_min_python`: the oldest Python its projects' code and pinned frameworks run on


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
    replaced: bool  # written into an existing folder (force)
    overwritten: tuple[str, ...] = ()  # files of that folder the template's replaced
    backup: Path | None = None  # where the old versions git cannot give back were kept
    kept_staging: tuple[Path, ...] = ()  # stale staging folders left because they hold a user's files
    left_over: tuple[str, ...] = ()  # force: files the previous render made that this one does not (kept)
    install: tuple[str, ...] = ()  # the template's install commands (its README and CI workflow show the same)

    def to_json(self) -> dict[str, Any]:
        return {
            "project": str(self.project_dir),
            "framework": self.framework,
            "task": self.task,
            "project_name": self.name.name,
            "project_slug": self.name.slug,
            "package_name": self.name.package,
            "replaced": self.replaced,
            "overwritten": list(self.overwritten),
            "backup": str(self.backup) if self.backup else None,
            "left_over": list(self.left_over),
        }


def templates_dir() -> Path:
    """The templates shipped with dlpick (inside the wheel, or the source tree's `templates/`), or the
    folder DLPICK_TEMPLATES names (one sub-folder per framework, each a cookiecutter template)."""
    if override := os.environ.get(TEMPLATES_ENV):
        path = Path(override).expanduser()
        if not path.is_dir():
            raise BadInput(f"{TEMPLATES_ENV}={override}: no such folder", hint="unset it to use dlpick's own templates")
        return path
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
        install = data.get("_install", [])
        if not isinstance(install, list) or not all(isinstance(step, str) for step in install):
            raise BadInput(f"{path / 'cookiecutter.json'}: _install must be a list of commands")
        min_python = data.get("_min_python", Template.min_python)
        if not isinstance(min_python, str) or not PYTHON_RE.fullmatch(min_python):
            raise BadInput(f'{path / "cookiecutter.json"}: _min_python must be a version like "3.10"')
        found[framework] = Template(framework, path, tasks, tuple(install), min_python)
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
    from slugify import slugify  # the filter the templates' cookiecutter.json uses: one rule for both

    slug = slugify(text)
    package = slug.replace("-", "_")
    if keyword.iskeyword(package) or keyword.issoftkeyword(package):
        raise BadInput(f"project name {name!r} gives the package {package!r}, a Python keyword", hint="pick another")
    if package in SHADOWED or package in sys.stdlib_module_names or package in sys.builtin_module_names:
        raise BadInput(
            f"project name {name!r} gives the package {package!r}, which would shadow the module of that name",
            hint=f"pick another, e.g. --name '{text} project'",
        )
    return ProjectName(text, slug, package)


def check_python(version: str) -> str:
    """A Python version for the project's metadata ("3.11"): it is written into pyproject.toml and CI."""
    if not isinstance(version, str) or not PYTHON_RE.fullmatch(version):
        raise BadInput(f"invalid Python version {version!r}", hint="e.g. 3.11")
    return version


def _minor(version: str) -> int:
    """3.9 -> 9: the minor version of a checked "3.MINOR"."""
    return int(version.split(".")[1])


def context_for(names: ProjectName, task: str, python_version: str) -> dict[str, str]:
    """The only values a template is rendered with, each already validated."""
    return {
        "project_name": names.name,
        "project_slug": names.slug,
        "package_name": names.package,
        "task": task,
        "python_version": check_python(python_version),
    }


def recorded_context(template: Template, context: Any, where: str) -> dict[str, str]:
    """The answers a project recorded (`.dlpick/base.json`), validated exactly as scaffold validates a
    user's: the record may come from someone else, and its values are rendered into source files."""
    if not isinstance(context, dict):
        raise BadInput(f"{where}: context: not a mapping", hint="restore it from git")
    values = {}
    for key in ("project_name", "task", "python_version"):
        value = context.get(key)
        if not isinstance(value, str):
            raise BadInput(f"{where}: context.{key}: missing or not text", hint="restore it from git")
        values[key] = value
    try:
        names = project_name(values["project_name"])
        check_task(template, values["task"])
        result = context_for(names, values["task"], values["python_version"])
    except BadInput as exc:
        raise BadInput(f"{where}: {exc}", hint="restore it from git") from None
    for key in ("project_slug", "package_name"):
        if key in context and context[key] != result[key]:
            raise BadInput(
                f"{where}: context.{key} is {context[key]!r}, but the project name gives {result[key]!r}",
                hint="restore it from git",
            )
    return result


def _is_empty_dir(path: Path) -> bool:
    """An empty folder, or a symbolic link to one (it is filled through the link)."""
    return path.is_dir() and not any(path.iterdir())


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


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


@contextlib.contextmanager
def _sandboxed() -> Iterator[None]:
    """Cookiecutter renders in Jinja's sandbox: a value that reaches a template cannot reach Python
    (`{{ cycler.__init__.__globals__ }}`), on top of every value being validated before it gets here."""
    from cookiecutter import generate, hooks, prompt
    from cookiecutter.environment import ExtensionLoaderMixin
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    class SandboxedStrict(ExtensionLoaderMixin, SandboxedEnvironment):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(undefined=StrictUndefined, **kwargs)

    def create_env_with_context(context: dict[str, Any]) -> SandboxedStrict:
        envvars = context.get("cookiecutter", {}).get("_jinja2_env_vars", {})
        return SandboxedStrict(context=context, keep_trailing_newline=True, **envvars)

    modules = (generate, hooks, prompt)
    previous = [module.create_env_with_context for module in modules]
    for module in modules:
        module.create_env_with_context = create_env_with_context  # type: ignore[assignment]
    try:
        yield
    finally:
        for module, original in zip(modules, previous, strict=True):
            module.create_env_with_context = original  # type: ignore[assignment]


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
    # cookiecutter writes each hook to a temporary file: put it in the staging folder, so a signal
    # while a hook runs leaves nothing in the system's temporary folder.
    previous, tempfile.tempdir = tempfile.tempdir, str(output_dir)
    try:
        with _sandboxed():
            result = cookiecutter(
                str(source), no_input=True, extra_context=context, output_dir=str(project), config_file=str(config)
            )
    except (CookiecutterException, TemplateError) as exc:
        raise BadInput(f"{template}: the template failed to render: {exc}") from exc
    finally:
        tempfile.tempdir = previous
    return Path(result)


def _record_places(project: Path) -> None:
    """`.cookiecutter.json` keeps the answers, not this machine's folders (temporary ones at that):
    `.cruft.json` says where the template comes from (project/record.py)."""
    answers = project / record.ANSWERS_FILE
    try:
        data = json.loads(answers.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(data, dict):
        answers.write_text(json.dumps(record.answers(data), indent=4, sort_keys=True) + "\n", encoding="utf-8")


def render_tree(template: Template, staging: Path, context: dict[str, str]) -> Path:
    """Render `template` with `context` inside `staging`, with its records (.cruft.json, .dlpick/)."""
    project = _cookiecutter(template.path, staging, context)
    _record_places(project)
    record.write(project, template.framework, template.path, context)
    return project


def render(
    framework: str,
    task: str,
    dest: str | os.PathLike[str],
    name: str | None = None,
    force: int = 0,
    python_version: str | None = None,
    templates_root: Path | None = None,
) -> Rendered:
    """Render `framework`'s template for `task` into the folder `dest`, all or nothing.

    `name` defaults to the folder's name. An existing non-empty `dest` is refused unless `force`;
    then only the files the template produces are written into it (project/overlay.py), and a home
    folder, a filesystem root or a folder that holds no generated project needs `force=2`.
    """
    template = get_template(framework, templates_root)
    check_task(template, task)
    dest = Path(os.path.normpath(Path(dest).expanduser().absolute()))  # no "..", symlinks kept
    names = project_name(name if name is not None else dest.name)
    if (dest.exists() or dest.is_symlink()) and not dest.is_dir():
        what = "a broken symbolic link" if not dest.exists() else "a file"
        raise BadInput(f"{dest}: {what} is in the way; nothing written", hint="pick another --dest")
    occupied = dest.is_dir() and not _is_empty_dir(dest)
    if occupied and not force:
        raise BadInput(
            f"{dest}: folder already exists and is not empty",
            hint="pick another --dest, or pass --force to write the template's files into it (nothing else is touched)",
        )
    if occupied and force < 2 and (why := overlay.risky(dest)):
        raise NeedsConfirmation(
            f"{dest}: {why}; refusing --force there",
            hint="pass --force twice to write the template's files into it anyway; no other file is touched",
        )
    python_version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    context = context_for(names, task, python_version)
    if _minor(python_version) < _minor(template.min_python):
        raise BadInput(
            f"a {framework} project needs Python {template.min_python} or newer, not {python_version}; nothing written",
            hint=f'set python: "{template.min_python}" or newer in the answers file or the team profile',
        )
    created_parents: list[Path] = []
    staging: Path | None = None
    held: int | None = None
    placed = overlay.Placed()
    left_over: list[str] = []
    done = False
    try:
        created_parents = _make_parents(dest)
        staging, held, kept = overlay.make_staging(dest)
        project = render_tree(template, staging, context)
        with overlay.locked(dest.parent):  # one scaffold at a time writes into this folder
            if occupied:
                left_over = _left_over(dest, project)
                placed = _overlay(project, dest, staging)
            else:
                placed.created = overlay.files_of(project)
                with processes.signals_deferred():
                    _move_into_place(project, dest)
                    processes.record(f"the project is complete at {dest}")
            done = True
    except OSError as exc:
        where = exc.filename or dest
        raise BadInput(f"{where}: cannot create the project: {exc.strerror or exc}") from exc
    finally:
        with processes.signals_deferred():
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            overlay.release(held)
            if not done:
                for parent in reversed(created_parents):
                    with contextlib.suppress(OSError):
                        parent.rmdir()
    return Rendered(
        dest,
        template.framework,
        task,
        names,
        replaced=occupied,
        overwritten=tuple(placed.overwritten),
        backup=placed.backup,
        kept_staging=tuple(kept),
        install=template.install,
        left_over=tuple(left_over),
    )


def _left_over(dest: Path, project: Path) -> list[str]:
    """Files the project's previous render made (its recorded base) that the new render does not, and
    that are still there: never deleted (they may be the user's now), but listed, e.g. TensorFlow's
    requirement files after `scaffold pytorch --force` over a TensorFlow project."""
    try:
        previous = record.read(dest).base
    except BadInput:
        return []  # no record, or an unreadable one: nothing is known about earlier renders
    fresh = set(overlay.files_of(project))
    return sorted(rel for rel in previous if rel not in fresh and (dest / rel).is_file())


def _overlay(project: Path, dest: Path, staging: Path) -> overlay.Placed:
    """--force: the template's files into the existing folder, refusing to touch uncommitted work."""
    placed = overlay.plan(project, dest)
    in_git, dirty, ignored = overlay.git_state(dest, placed.overwritten)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise BadInput(
            f"{dest}: refusing to overwrite files with uncommitted changes: {shown}",
            hint="commit or stash them, then run again",
        )
    # Git can give back the committed versions of tracked files; keep the old versions of the rest.
    overlay.overlay(
        project,
        dest,
        staging,
        placed,
        backup=ignored if in_git else placed.overwritten,
        written=f"the project is complete at {dest} ({len(placed.created + placed.overwritten)} file(s) written)",
    )
    return placed


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


def _move_into_place(project: Path, dest: Path) -> None:
    if dest.exists() and not _is_empty_dir(dest):
        raise BadInput(f"{dest}: appeared while rendering (another scaffold?); nothing written", hint="run again")
    if _is_empty_dir(dest):
        _fill_empty(project, dest)
    else:
        project.rename(dest)  # fails (and changes nothing) if something appeared at dest meanwhile
