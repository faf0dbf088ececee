"""`migrate theano`: a Theano code base rewritten for PyTensor into DEST (SRC is only read), then proven by
its own tests: run under Theano (the original, in the Theano environment) and under PyTensor (the copy,
in the PyTensor environment); passed when every test that passed under Theano passes under PyTensor.

Both environments are the ones `verify --isolated` builds for the Theano and PyTensor templates
(their requirements.txt), reused from dlpick's cache. Tests run in scratch copies, so neither SRC nor
DEST gets a __pycache__ or a pytest cache.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpick import processes
from dlpick.errors import BadInput
from dlpick.migrate import core, theano_rewrite

COMPAT_SOURCE = Path(__file__).with_name("theano_compat.py")
SKIP = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".venv", "venv"}
CONFIG_FILES = {"pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "Dockerfile", "Makefile", "environment.yml"}
CONFIG_SUFFIXES = {".sh", ".cfg", ".ini", ".yml", ".yaml", ".toml", ".dockerfile"}
OnEvent = Callable[[str, Any], None]


@dataclass
class TheanoRequest:
    src: Path
    dest: Path
    to: str = "pytensor"
    run_tests: bool = True
    timeout: float = 1200.0


@dataclass
class Rewrite:
    changes: list[theano_rewrite.Change] = field(default_factory=list)
    human: list[str] = field(default_factory=list)
    compat_dirs: list[str] = field(default_factory=list)
    conv2d: list[str] = field(default_factory=list)
    prose: dict[str, int] = field(default_factory=dict)  # file -> mentions of Theano left in prose


def _pytensor_requirement() -> str:
    """The PyTensor pin of dlpick's PyTensor template (the version verified with it)."""
    from dlpick.project.render import templates_dir

    path = templates_dir() / "pytensor" / "{{cookiecutter.project_slug}}" / "requirements.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().lower().startswith("pytensor"):
            return line.strip()
    return "pytensor"


MAX_SOURCE_BYTES = 8 * 2**20  # a source file larger than this is not rewritten (reported)


def _special(path: str) -> bool:
    """A named pipe, socket or device: reading it could block forever or never end; never copied."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))


def copy_tree(src: Path, dest: Path, skipped: list[str] | None = None) -> None:
    """Copy SRC (symlinks as links; caches, bytecode and special files left out, the latter listed)."""

    def ignored(folder: str, names: list[str]) -> set[str]:
        left = {n for n in names if n in SKIP or n.endswith((".pyc", ".pyo"))}
        special = {n for n in names if n not in left and _special(str(Path(folder, n)))}
        if skipped is not None:
            skipped.extend(sorted(str(Path(folder, n).relative_to(src)) for n in special))
        return left | special

    shutil.copytree(src, dest, symlinks=True, ignore=ignored, dirs_exist_ok=True)


def _source_text(path: Path) -> tuple[str, str] | str:
    """(text, encoding) of a file to rewrite, or why it is not read: Python files by their PEP 263
    declaration (UTF-8 when none), other files as UTF-8; bounded in size."""
    import tokenize

    if path.stat().st_size > MAX_SOURCE_BYTES:
        return f"larger than {MAX_SOURCE_BYTES // 2**20} MiB"
    data = path.read_bytes()
    encoding = "utf-8"
    if path.suffix == ".py":
        try:
            encoding, _ = tokenize.detect_encoding(iter(data.splitlines(keepends=True)).__next__)
        except SyntaxError:  # not UTF-8 and no (usable) declaration
            return "not valid utf-8 and declares no usable encoding (PEP 263)"
    try:
        return data.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError):
        return f"not valid {encoding} (declare the file's encoding, PEP 263)"


def rewrite_tree(root: Path, pytensor: str) -> Rewrite:
    """Rewrite the copy at `root` in place (it is the staging folder, never the user's source)."""
    done = Rewrite()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        relative = str(path.relative_to(root))
        if ".git" in path.relative_to(root).parts:
            continue
        read = _source_text(path)
        if isinstance(read, str):
            if path.suffix == ".py" or _mentions_theano(path):
                done.human.append(f"{relative}: not rewritten: {read}")
            continue
        text, encoding = read
        name = path.name
        if path.suffix == ".py":
            result = theano_rewrite.rewrite_python(text, relative, (path.parent / "__init__.py").is_file())
        elif name.startswith("requirements") and path.suffix == ".txt":
            result = theano_rewrite.rewrite_requirements(text, relative, pytensor)
        elif name in CONFIG_FILES or path.suffix in CONFIG_SUFFIXES or name.startswith("Dockerfile"):
            result = theano_rewrite.rewrite_config(text, relative, pytensor)
        else:
            mentions = text.lower().count("theano")
            if mentions and path.suffix in (".md", ".rst", ".txt"):
                done.prose[relative] = mentions
            continue
        if result.text != text:
            path.write_text(result.text, encoding=encoding)
        done.changes += result.changes
        done.human += result.human
        done.conv2d += [f"{relative}:{line}" for line in result.conv2d_lines]
        if result.needs_compat and str(path.parent) not in done.compat_dirs:
            done.compat_dirs.append(str(path.parent))
    for folder in done.compat_dirs:
        target = Path(folder) / COMPAT_SOURCE.name
        if target.exists():
            raise BadInput(f"{target.relative_to(root)}: the project already has a file of that name")
        shutil.copyfile(COMPAT_SOURCE, target)
    for rc in sorted(root.rglob(".theanorc*")):
        moved = rc.with_name(rc.name.replace(".theanorc", ".pytensorrc"))
        if moved.exists() or moved.is_symlink():  # the project's own: never replaced
            done.human.append(
                f"{rc.relative_to(root)}: not renamed to {moved.name}: the project already has "
                f"{moved.relative_to(root)}; merge the two by hand (PyTensor reads only {moved.name})"
            )
            continue
        rc.rename(moved)
        relative = str(rc.relative_to(root))
        done.changes.append(theano_rewrite.Change(relative, 0, "config file", relative, str(moved.relative_to(root))))
    return done


def _mentions_theano(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return b"theano" in handle.read(MAX_SOURCE_BYTES).lower()
    except OSError:
        return False


def _tests_present(root: Path) -> bool:
    return any(
        p.name.startswith("test_") or p.name.endswith("_test.py")
        for p in root.rglob("*.py")
        if not SKIP & set(p.relative_to(root).parts)
    )


def _environment(framework: str, on_event: OnEvent | None) -> Any:
    from dlpick.project.render import templates_dir
    from dlpick.verify import envs

    project = templates_dir() / framework / "{{cookiecutter.project_slug}}"
    return envs.ensure(envs.spec_for(project, framework), on_event)


def _outcomes(report: Path) -> dict[str, str]:
    """test id -> passed | failed | error | skipped, from pytest's JUnit XML."""
    if not report.is_file():
        return {}
    found = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        kinds = {child.tag for child in case}
        found[name] = next((k for k in ("failure", "error", "skipped") if k in kinds), "passed")
        found[name] = {"failure": "failed"}.get(found[name], found[name])
    return found


# Theano 1.0.5's scan runs its loop in C compiled from theano/scan_module/c_code/scan_perform.c, which
# Cython 0.28.5 generated and which does not compile on Python 3.11 (measured: "fatal error: longintrepr.h:
# No such file or directory"; with that header's folder added by gcc.cxxflags, "cpython/frameobject.h:
# this header file must not be included directly"). The failure is an Exception scan does not catch, so
# every function with a scan failed and an RNN project had no baseline. Scan has its own Python loop
# (Scan.execute), used when importing scan_perform_ext raises ImportError: a module entry of None makes it so,
# and every other op keeps its C code. No flag does only that: `cxx=` turns off all C code, and then
# conv2d fails (measured: ConvOp's Python code imports scipy.signal.sigtools, which scipy 1.11 lacks);
# linker=py runs every op's Python code too. A sitecustomize on PYTHONPATH sets the entry in every
# Python the tests start, then runs the sitecustomize it hides, if any. Measured on a 3-test scan RNN:
# 3 failed -> 3 passed.
SCAN_SHIM = "dlpick-theano-scan"
SCAN_SITECUSTOMIZE = """\
# dlpick migrate theano: Theano 1.0.5's scan uses its Python loop (its C code does not compile on Python 3.11)
import importlib.machinery
import importlib.util
import os
import sys

sys.modules.setdefault("theano.scan_module.scan_perform_ext", None)
_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if os.path.abspath(p or ".") != _here]
)
if _spec is not None and _spec.loader is not None:
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["sitecustomize"] = _module
    _spec.loader.exec_module(_module)
"""


def theano_environ(env: dict[str, str], folder: Path) -> dict[str, str]:
    """ENV for the tests under Theano: FOLDER (made here) holds the sitecustomize that sends scan to its Python
    loop, first on PYTHONPATH. THEANO_FLAGS, the project's or the user's, are left as they are."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(SCAN_SITECUSTOMIZE, encoding="utf-8")
    rest = env.get("PYTHONPATH", "")
    return {**env, "PYTHONPATH": f"{folder}{os.pathsep}{rest}" if rest else str(folder)}


def run_tests(src: Path, stage: Path, timeout: float, on_event: OnEvent | None) -> tuple[dict, dict, list[str]]:
    """The tests under Theano (a copy of SRC) and under PyTensor (a copy of the migrated tree), side by side."""
    theano_env = _environment("theano", on_event)
    pytensor_env = _environment("pytensor", on_event)
    with tempfile.TemporaryDirectory(prefix="dlpick-migrate-theano-") as scratch:
        work = Path(scratch)
        copy_tree(src, work / "theano")
        copy_tree(stage, work / "pytensor")
        commands, env = {}, {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        environs = {"theano": theano_environ(env, work / SCAN_SHIM), "pytensor": env}
        for name, python in (("theano", theano_env.python), ("pytensor", pytensor_env.python)):
            junit = work / f"{name}.xml"
            commands[name] = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
        if on_event:
            on_event("step", "running the project's tests under Theano and under PyTensor")
        ran = {}
        for name, command in commands.items():  # one at a time: each compiles C code on every core it gets
            ran[name] = processes.capture(command, timeout, cwd=work / name, env=environs[name])
        notes = []
        for name, result in ran.items():
            if result.returncode is None:
                notes.append(f"the tests under {name} ran past {timeout:g} s and were stopped")
            elif result.returncode not in (0, 1):
                tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["?"]
                notes.append(f"pytest under {name} ended with status {result.returncode}: {tail[0][:300]}")
        return _outcomes(work / "theano.xml"), _outcomes(work / "pytensor.xml"), notes


def migrate(request: TheanoRequest, on_event: OnEvent | None = None) -> core.Result:
    """Migrate, prove and place the result in request.dest (a full disk: one line, nothing placed)."""
    with core.disk_errors(request.dest):
        return _migrate(request, on_event)


def _migrate(request: TheanoRequest, on_event: OnEvent | None = None) -> core.Result:
    started = time.monotonic()
    if request.to != "pytensor":
        raise BadInput(f"--to {request.to}: a Theano code base migrates to pytensor")
    if not request.src.is_dir():
        raise BadInput(f"{request.src}: not a folder (SRC_DIR is the Theano project)")
    core.check_dest(request.dest, [request.src])
    with core.staging(request.dest) as stage:
        special: list[str] = []
        copy_tree(request.src, stage, special)
        done = rewrite_tree(stage, _pytensor_requirement())
        if not done.changes:
            why = f" ({core.shown(done.human[0])})" if done.human else ""
            raise BadInput(f"{request.src}: no Theano import or flag found that could be rewritten{why}")
        result = core.Result("theano", "pytensor", request.dest, core.Tolerance(0.0, 0.0))
        _describe(result, done)
        result.needs_human += [f"{path}: a named pipe, socket or device: not copied" for path in special]
        if '"__framework": "theano"' in _read(stage / ".cookiecutter.json"):
            result.needs_human.append(
                ".cookiecutter.json and .cruft.json still name dlpick's Theano template: `dlpick verify` and "
                "`dlpick update` treat the project as a Theano one (the template's updates would undo the port)"
            )
        if (stage / ".git").is_dir():
            result.notes.append("the copy keeps SRC's .git: `git diff` in DEST shows every change")
        if request.run_tests and _tests_present(stage):
            before, after, notes = run_tests(request.src, stage, request.timeout, on_event)
            _judge(result, before, after, notes)
            result.notes.append(
                "under Theano, scan ran its Python loop (Theano 1.0.5's C code for scan does not compile on "
                "Python 3.11); every other op ran as the project's flags say"
            )
        else:
            result.checked = False
            why = "--no-tests" if not request.run_tests else "the project has no tests (test_*.py)"
            result.needs_human.append(f"nothing proves the migration: {why}; run the code under PyTensor")
        result.measures.update({"seconds": round(time.monotonic() - started, 2), "changes": len(done.changes)})
        return core.finish(result, stage, f"Theano to PyTensor: {request.src.name}", started)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _describe(result: core.Result, done: Rewrite) -> None:
    result.extra["changes"] = [c.to_json() for c in done.changes]
    files = sorted({c.file for c in done.changes})
    result.notes.append(f"{len(done.changes)} change(s) in {len(files)} file(s): {', '.join(files)}")
    if done.compat_dirs:
        result.notes.append(
            "theano_compat.py (Theano's conv2d, pool_2d, nnet activations and losses rebuilt on PyTensor) was "
            "added beside the modules that use APIs PyTensor removed"
        )
    for where in done.conv2d:
        result.needs_human.append(
            f"{where}: conv2d keeps Theano's semantics: filter_flip=True by default, a true convolution (the "
            "kernel flipped), unlike PyTorch's or Caffe's cross-correlation; theano_compat.conv2d runs it as "
            "shifted views (correct, not tuned: check the speed of large models)"
        )
    result.needs_human += done.human
    for path, count in done.prose.items():
        result.notes.append(f"{path}: {count} mention(s) of Theano in prose, not changed")


def kept(before: str, after: str) -> bool:
    """A test's verdict: one that passed under Theano must pass under PyTensor (skipped, failed, an error or
    gone is a regression); one that did not pass before proves nothing either way."""
    return before != "passed" or after == "passed"


def _judge(result: core.Result, before: dict[str, str], after: dict[str, str], notes: list[str]) -> None:
    """The before/after table of test outcomes. Passed: every test that passed under Theano passes under
    PyTensor, and at least one test passed under both (else nothing was proven: not checked, exit 1)."""
    tests = []
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name, "absent"), after.get(name, "absent")
        tests.append({"name": name, "theano": was, "pytensor": now, "passed": kept(was, now)})
    result.extra["tests"] = tests
    result.needs_human += notes
    proven = sum(1 for t in tests if t["theano"] == "passed" and t["pytensor"] == "passed")
    regressed = any(not t["passed"] for t in tests)  # a definite disagreement, even with nothing else proven
    result.checked = (proven > 0 or regressed) and not any("stopped" in n for n in notes)
    if not proven:
        result.needs_human.append(
            "no test passed under both Theano and PyTensor: nothing proves the migration (not checked)"
        )
    for test in tests:
        if not test["passed"]:
            detail = f"passed under Theano, {test['pytensor']} under PyTensor"
            result.outputs.append(core.Diff(f"test {test['name']}", float("inf"), False, detail=detail))
        elif test["theano"] != "passed":
            result.needs_human.append(
                f"test {test['name']}: {test['theano']} under Theano, {test['pytensor']} now (not part of the proof)"
            )
    passed = sum(1 for t in tests if t["pytensor"] == "passed")
    result.notes.append(
        f"tests: {sum(1 for t in tests if t['theano'] == 'passed')} of {len(tests)} passed under Theano, "
        f"{passed} under PyTensor, {proven} under both"
    )
    result.inputs.append(f"the project's {len(tests)} tests")
