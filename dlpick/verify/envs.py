"""Isolated environments for `dlpick verify --isolated`, built from the project's own files.

A project says how to build its environment in one of two ways (templates/CONTRACT.md):

- `requirements.txt`: a virtual environment made with `python -m venv`, then
  `pip install -r requirements.txt pytest` (with the caller's pip constraint files);
- `debian-packages.txt` (first line `# debian: <suite>`): a Debian root made with
  `debootstrap --variant=minbase --include=<packages>`, run through `chroot` (Caffe, whose only
  working build is Debian bullseye's package). Needs root, `debootstrap` and `unshare`.

Environments live in dlpick's cache (`DLPICK_ENVS` overrides), one folder per hash of what
built them, so projects with the same requirements share one and a second verify reuses it.
A folder counts as built only once its marker file exists: an interrupted build is redone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlpick import processes
from dlpick.errors import MISSING_TOOL, BadInput, DlpickError
from dlpick.verify import env_use, requirements, wheels

MARKER = ".dlpick-env.json"  # inside a folder: its build completed
OWNER = ".dlpick-owner.json"  # beside a folder (NAME.dlpick-owner.json): dlpick made it, before building
NAME_RE = re.compile(r"[a-z0-9_]+-(venv|debian)-[0-9a-f]{16}")
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BUILD_TIMEOUT = 3600.0
OnEvent = Callable[[str, Any], None]

# Runs the root's python3 in a private mount namespace: the project folder (the current one)
# and the temporary folder are bind-mounted at the same paths, so absolute paths still hold.
WRAPPER = """#!/bin/sh
# python3 of the Debian root {root} (made by dlpick for `verify --isolated`).
exec unshare --mount --propagation private -- sh -c '
root=$1; shift
here=$(pwd -P)
for dir in /tmp "${{TMPDIR:-/tmp}}" "$here"; do
  mkdir -p "$root$dir" && mount --bind "$dir" "$root$dir" || exit 125
done
mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" || exit 125
exec chroot "$root" /bin/sh -c "cd \\"\\$0\\" && exec /usr/bin/python3 \\"\\$@\\"" "$here" "$@"
' sh {root_quoted} "$@"
"""


class EnvError(DlpickError):
    """The environment could not be built: why, and what the user can do instead."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message, hint)

    exit_code = MISSING_TOOL


@dataclass(frozen=True)
class EnvSpec:
    """What an environment is built from; its hash names the cache folder."""

    kind: str  # "venv" | "debian"
    framework: str
    requirements: tuple[str, ...]  # requirement lines, or Debian packages
    source: str  # the project file they came from
    suite: str = ""  # Debian suite
    constraints: tuple[tuple[str, str], ...] = ()  # (file name, content) of pip constraint files
    python: str = sys.executable  # base interpreter of a venv

    def python_version(self) -> str:
        if self.kind != "venv":
            return ""
        if Path(self.python).resolve() == Path(sys.executable).resolve():
            return platform.python_version()
        ran = processes.capture([self.python, "-c", "import platform; print(platform.python_version())"], 60)
        return ran.stdout.strip() if ran.returncode == 0 else ""

    def key(self) -> str:
        data = [
            self.kind,
            self.requirements,
            self.suite,
            [c for _, c in self.constraints],
            self.python_version(),
            platform.machine(),
        ]
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]

    def describe(self) -> str:
        if self.kind == "debian":
            return f"Debian {self.suite} root with {len(self.requirements)} packages from {self.source}"
        extra = f" and {len(self.constraints)} constraint file(s)" if self.constraints else ""
        return f"virtual environment from {self.source} ({len(self.requirements)} requirements{extra})"


@dataclass
class Env:
    path: Path
    python: str  # what to run as the project's Python
    spec: EnvSpec
    reused: bool
    seconds: float


def envs_dir() -> Path:
    if os.environ.get("DLPICK_ENVS"):
        return Path(os.environ["DLPICK_ENVS"]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("dlpick")) / "envs"


def _lines(path: Path) -> list[str]:
    """Requirement lines with pip's options (a requirements file), or Debian package names."""
    return requirements.read_lines(path, keep_options=True)


def requirements_file(project: Path, device: str = "cpu") -> Path:
    """requirements-gpu.txt for `--device cuda` where the project has one (a framework whose CPU and GPU
    packages conflict, e.g. tensorflow-cpu and tensorflow[and-cuda]), else requirements.txt."""
    gpu = project / "requirements-gpu.txt"
    return gpu if device == "cuda" and gpu.is_file() else project / "requirements.txt"


def spec_for(
    project: Path,
    framework: str,
    constraints: Sequence[Path] = (),
    python: str = sys.executable,
    device: str = "cpu",
) -> EnvSpec:
    """The environment the project documents: debian-packages.txt, else its requirements file."""
    debian = project / "debian-packages.txt"
    if debian.is_file():
        first = debian.read_text(encoding="utf-8").splitlines()[:1]
        suite = first[0].split(":", 1)[1].strip() if first and first[0].startswith("# debian:") else ""
        if not suite:
            raise BadInput(f"{debian}: the first line must name the Debian suite, e.g. '# debian: bullseye'")
        packages = _lines(debian)
        bad = [p for p in packages if not all(c.isalnum() or c in "+-.:" for c in p)]
        if bad or not packages:
            raise BadInput(f"{debian}: expected one Debian package name per line, got {bad[0] if bad else 'none'!r}")
        return EnvSpec("debian", framework, tuple(packages), debian.name, suite=suite)
    requirements = requirements_file(project, device)
    if not requirements.is_file():
        raise BadInput(
            f"{project}: no requirements.txt or debian-packages.txt, so no isolated environment can be built from it",
            hint="verify without --isolated in an environment you installed",
        )
    loaded = []
    for path in [*constraints, *wheels.user_constraints()]:
        try:
            loaded.append((Path(path).name, Path(path).read_text(encoding="utf-8")))
        except OSError as exc:
            raise BadInput(f"{path}: cannot read the constraint file ({exc.strerror or exc})") from None
    return EnvSpec(
        "venv", framework, tuple(_lines(requirements)), requirements.name, constraints=tuple(loaded), python=python
    )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[int | None]:
    """One builder per environment folder at a time (other dlpick processes wait).

    Yields the lock's file descriptor: the build's children inherit it, so a pip still running
    after dlpick itself was SIGKILLed keeps the lock and the next build waits for it.
    """
    with path.open("a") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no lock; builds of one environment at once are unlikely
            yield None
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield handle.fileno()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _usable_root(root: Path) -> Path:
    """The cache folder, created if needed; one that cannot hold environments is 'not verified'."""
    hint = "set DLPICK_ENVS to a folder you can write to"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise EnvError(f"{root} (the environments folder) is a file, not a folder", hint) from None
    except OSError as exc:
        raise EnvError(f"cannot create the environments folder {root}: {exc.strerror or exc}", hint) from None
    if not root.is_dir():
        raise EnvError(f"{root} (the environments folder) is not a folder", hint)
    if not os.access(root, os.W_OK | os.X_OK):
        raise EnvError(f"cannot write to the environments folder {root}", hint)
    return root


def owner_file(path: Path) -> Path:
    return path.parent / f"{path.name}{OWNER}"


def built_by_dlpick(path: Path, root: Path, count_lock: bool = True) -> bool:
    """True only for a real folder directly in `root` that dlpick made: its owner file (written
    before the build started) names it, or (environments of older dlpick versions) it carries the
    completion marker and dlpick's name pattern. Symbolic links are never dlpick's. `count_lock`:
    a lock file beside it counts as evidence (not when the caller just created that lock itself)."""
    if path.is_symlink() or not path.is_dir() or path.parent.resolve() != root.resolve():
        return False
    if not NAME_RE.fullmatch(path.name):
        return False
    try:
        owner = json.loads(owner_file(path).read_text(encoding="utf-8"))
        if isinstance(owner, dict) and owner.get("name") == path.name:
            return True
    except (OSError, ValueError):
        pass
    if (path / MARKER).is_file() and not (path / MARKER).is_symlink():
        return True
    # An unfinished build of an older dlpick: only its lock or Debian wrapper beside it says whose it is.
    suffixes = (".lock", ".python") if count_lock else (".python",)
    return any(Path(f"{path}{suffix}").is_file() for suffix in suffixes)


def _python_of(path: Path, spec: EnvSpec) -> str:
    if spec.kind == "debian":
        return str(path.parent / f"{path.name}.python")
    return str(path / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))


def ensure(
    spec: EnvSpec, on_event: OnEvent | None = None, root: Path | None = None, timeout: float = BUILD_TIMEOUT
) -> Env:
    """The environment for `spec`: reused when built before, else built now (streaming its log)."""
    start = time.monotonic()
    root = _usable_root(root or envs_dir())
    path = root / f"{spec.framework}-{spec.kind}-{spec.key()}"
    had_lock = (root / f"{path.name}.lock").is_file()  # else the lock below is no evidence of an old build
    with _locked(root / f"{path.name}.lock") as lock:
        keep = () if lock is None else (lock,)
        if (path / MARKER).is_file() and Path(_python_of(path, spec)).exists():
            with contextlib.suppress(OSError):
                os.utime(path / MARKER)  # last used: `dlpick envs prune` removes the least recently used first
            if spec.kind == "venv":
                _compile_bytecode_once(path, on_event, keep)
            env_use.use(path)  # `envs remove` leaves it alone while this process lives
            return Env(path, _python_of(path, spec), spec, True, time.monotonic() - start)
        if path.exists() or path.is_symlink():  # an interrupted or failed build
            if not built_by_dlpick(path, root, count_lock=had_lock):
                raise EnvError(
                    f"{path} exists but dlpick did not build it; not touching it", hint="move it out of the way"
                )
            _remove_tree(path)
        owner = {"name": path.name, "key": spec.key(), "framework": spec.framework, "kind": spec.kind}
        owner_file(path).write_text(json.dumps(owner) + "\n", encoding="utf-8")
        unfinished = f"the unfinished isolated environment {path.name} was removed"
        try:
            with processes.doing(unfinished):
                if spec.kind == "debian":
                    _build_debian(spec, path, on_event, timeout, keep)
                else:
                    _build_venv(spec, path, on_event, timeout, keep)
        except BaseException:
            _remove_tree(path)
            owner_file(path).unlink(missing_ok=True)
            raise
        record = {
            "spec": {
                "kind": spec.kind,
                "framework": spec.framework,
                "requirements": list(spec.requirements),
                "suite": spec.suite,
                "constraints": [name for name, _ in spec.constraints],
                "python": spec.python_version(),
            },
            "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds": round(time.monotonic() - start, 1),
            "bytecode": spec.kind == "venv",  # the installer compiled it (Debian's packages compile their own)
        }
        (path / MARKER).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        env_use.use(path)
        return Env(path, _python_of(path, spec), spec, False, time.monotonic() - start)


def _compile_bytecode_once(path: Path, on_event: OnEvent | None, keep: tuple[int, ...]) -> None:
    """Compile the Python bytecode of a venv built before the installer was asked to (uv does not by
    default). verify runs the project with PYTHONDONTWRITEBYTECODE, so without it every import of every
    step compiles the framework's modules again. Only a speed-up: a failure is no error."""
    marker = path / MARKER
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(record, dict) or record.get("bytecode"):
        return
    if on_event:
        on_event("step", f"compiling the Python bytecode of {path.name} (once; later imports are faster)")
    python = str(path / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
    lib = path / ("Lib" if os.name == "nt" else "lib")
    with contextlib.suppress(EnvError):  # a module that does not compile (a Python 2 test file) is skipped
        _run([python, "-m", "compileall", "-q", "-j", "0", str(lib)], None, BUILD_TIMEOUT, "compileall", keep=keep)
    record["bytecode"] = True
    with contextlib.suppress(OSError):
        marker.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _run(
    cmd: list[str],
    on_event: OnEvent | None,
    timeout: float,
    what: str,
    env: dict[str, str] | None = None,
    keep: tuple[int, ...] = (),
) -> None:
    if on_event:
        on_event("output", "$ " + shlex.join(cmd))
    env = env or {**os.environ, "PYTHONUNBUFFERED": "1"}
    ran = processes.run_step(cmd, Path.cwd(), timeout, on_event, env=env, pass_fds=keep)
    if ran.returncode is None:
        raise EnvError(f"{what} timed out after {timeout:g} s", hint="retry with a faster network, or raise the limit")
    if ran.returncode != 0:
        raise EnvError(
            f"{what} failed (exit status {ran.returncode}): {ran.last(2)}",
            hint="fix requirements.txt, or pass --constraint",
        )


INSTALLER_VAR = "DLPICK_INSTALLER"  # "uv" or "pip": how venvs are built (default: uv when installed)
# pip's settings that decide what gets installed, and the uv option that says the same.
PIP_TO_UV = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
    "trusted-host": "--allow-insecure-host",
}


def installer() -> tuple[str, str | None]:
    """("uv", its path) when uv is installed (on PATH or as the `uv` package), else ("pip", None).

    $DLPICK_INSTALLER=pip always uses pip; =uv requires uv.
    """
    wanted = os.environ.get(INSTALLER_VAR, "").strip().lower()
    if wanted not in ("", "uv", "pip"):
        raise BadInput(f"{INSTALLER_VAR}={wanted}: expected uv or pip")
    if wanted == "pip":
        return "pip", None
    found = shutil.which("uv")
    if found is None:
        with contextlib.suppress(Exception):
            from uv import find_uv_bin  # type: ignore[import-not-found]

            found = find_uv_bin()
    if found is None and wanted == "uv":
        raise EnvError(f"{INSTALLER_VAR}=uv but uv is not installed", hint="pip install uv, or unset it")
    return ("uv", found) if found else ("pip", None)


def pip_settings(python: str) -> tuple[list[str], dict[str, str]]:
    """pip's configuration (files and PIP_* variables) as uv options, so both install the same thing.

    Indexes, find-links, constraint files and trusted hosts are what change the result. `pip config
    list` prints each file setting merged as `SECTION.NAME` and each PIP_* variable as `:env:.NAME`;
    pip's precedence holds: a variable over the `[install]` section over `[global]`. uv is told to
    weigh every index the way pip does. Returns the options and the environment uv needs (pip's
    `cert` is uv's SSL_CERT_FILE).
    """
    # Any interpreter with pip reads the same files and variables; a venv made by uv may have no pip.
    base = Path(sys.base_prefix) / ("python.exe" if os.name == "nt" else "bin/python3")
    pythons = [python, sys.executable, getattr(sys, "_base_executable", sys.executable), str(base)]
    for candidate in dict.fromkeys(pythons):
        ran = processes.capture([candidate, "-m", "pip", "config", "list"], 60)
        if ran.returncode == 0:
            break
    rank = {"global": 0, "install": 1, ":env:": 2}
    found: dict[str, tuple[int, str]] = {}
    for line in ran.stdout.splitlines() if ran.returncode == 0 else []:
        key, sep, value = line.partition("=")
        section, _, name = key.rpartition(".")
        if sep and section in rank and name in (*PIP_TO_UV, "no-index", "cert"):
            if name not in found or rank[section] >= found[name][0]:
                found[name] = (rank[section], value.strip().strip("'\""))
    values = {name: value for name, (_, value) in found.items()}
    options = ["--index-strategy", "unsafe-best-match"]
    for name, flag in PIP_TO_UV.items():
        for value in values.get(name, "").split():
            options += [flag, value]
    if values.get("no-index", "").lower() in ("1", "true", "yes", "on"):
        options.append("--no-index")
    env = {"SSL_CERT_FILE": values["cert"]} if values.get("cert") and not os.environ.get("SSL_CERT_FILE") else {}
    return options, env


def _build_venv(spec: EnvSpec, path: Path, on_event: OnEvent | None, timeout: float, keep: tuple[int, ...]) -> None:
    tool, uv = installer()
    if on_event:
        on_event("step", f"building an isolated {spec.describe()} with {tool} (first time only)")
    if uv:
        _run([uv, "venv", "--seed", "--python", spec.python, str(path)], on_event, 300, "uv venv", keep=keep)
    else:
        _run([spec.python, "-m", "venv", str(path)], on_event, 300, "python -m venv", keep=keep)
    (path / "requirements.txt").write_text("\n".join(spec.requirements) + "\n", encoding="utf-8")
    python = _python_of(path, spec)
    extra: dict[str, str] = {}
    if uv:
        options, extra = pip_settings(spec.python)
        # Bytecode now, as pip does: verify's steps run with PYTHONDONTWRITEBYTECODE and would compile every import.
        cmd = [uv, "pip", "install", "--no-progress", "--compile-bytecode", "--python", python, *options]
    else:
        cmd = [python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"]
    choice = wheels.torch_choice() if wheels.needs_torch(spec.requirements) else None
    if choice is not None:
        if on_event:
            on_event("step", f"PyTorch builds: {choice.why}")
        cmd += wheels.choice_options(choice)
    cmd += ["-r", str(path / "requirements.txt"), "pytest"]
    for number, (name, content) in enumerate(spec.constraints):
        copy = path / f"constraints-{number}-{name}"
        copy.write_text(content, encoding="utf-8")
        cmd += ["-c", str(copy)]
    # The installer's temporary folders go inside the environment, so an interrupted build takes them along.
    scratch = path / ".tmp"
    scratch.mkdir()
    env = {
        **os.environ,
        **extra,
        "PYTHONUNBUFFERED": "1",
        "TMPDIR": str(scratch),
        "TEMP": str(scratch),
        "TMP": str(scratch),
    }
    if wheels.may_take_cuda(spec.requirements):
        try:
            cmd += wheels.cpu_only(cmd, choice, path, env, on_event, timeout)
        except wheels.Refused as exc:
            raise EnvError(exc.message, exc.hint or "") from None
    _run(cmd, on_event, timeout, f"{tool} install", env=env, keep=keep)
    shutil.rmtree(scratch, ignore_errors=True)


def debian_tools_missing() -> str:
    """Why this machine cannot build a Debian root ("" if it can)."""
    if os.name != "posix" or sys.platform != "linux":
        return "building a Debian root needs Linux"
    if os.geteuid() != 0:
        return "building and entering a Debian root (debootstrap, chroot) needs root"
    missing = [tool for tool in ("debootstrap", "unshare", "chroot") if shutil.which(tool) is None]
    return f"{', '.join(missing)} not found (apt-get install debootstrap)" if missing else ""


def _build_debian(spec: EnvSpec, path: Path, on_event: OnEvent | None, timeout: float, keep: tuple[int, ...]) -> None:
    problem = debian_tools_missing()
    if problem:
        raise EnvError(
            problem,
            hint="run `dlpick verify --isolated` as root on Linux with debootstrap installed "
            "(apt-get install debootstrap), or use the project's Dockerfile: "
            "docker build -t NAME . && docker run --rm NAME",
        )
    if on_event:
        on_event("step", f"building an isolated {spec.describe()} with debootstrap (first time only, minutes)")
    mirror = os.environ.get("DLPICK_DEBIAN_MIRROR", DEBIAN_MIRROR)
    cmd = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(spec.requirements)}",
        spec.suite,
        str(path),
        mirror,
    ]
    _run(cmd, on_event, timeout, "debootstrap", keep=keep)
    wrapper = Path(_python_of(path, spec))
    wrapper.write_text(WRAPPER.format(root=path, root_quoted=shlex.quote(str(path))), encoding="utf-8")
    wrapper.chmod(0o755)


def _mounts_under(path: Path) -> list[str]:
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    prefix = str(path.resolve())
    points = [line.split()[4].replace("\\040", " ") for line in lines if len(line.split()) > 4]
    return sorted((p for p in points if p == prefix or p.startswith(prefix + "/")), key=len, reverse=True)


def _remove_tree(path: Path) -> None:
    """Delete a build folder, never through a mount: debootstrap mounts /proc (and may bind /dev)
    inside the root while it works, and deleting through those would reach the host's."""
    for point in _mounts_under(path):
        processes.capture(["umount", "--lazy", point], 60)
    left = _mounts_under(path)
    if left:
        raise EnvError(f"{path} still has {left[0]} mounted; not deleting it", hint=f"umount {left[0]}, then retry")
    shutil.rmtree(path, ignore_errors=True)


def remove(path: Path, root: Path | None = None) -> None:
    """Delete an environment dlpick built (and a Debian root's wrapper, its lock and owner files).

    Anything else in the cache folder, and anything a symbolic link points to, is left alone."""
    root = root or envs_dir()
    if not built_by_dlpick(path, root):
        why = "a symbolic link" if path.is_symlink() else "not an environment dlpick built"
        raise BadInput(f"{path}: {why}; left alone")
    with env_use.unused(path, Path(f"{path}.lock")):  # not while another dlpick builds or uses it
        _remove_tree(path)
        for extra in (Path(f"{path}.python"), Path(f"{path}.lock"), owner_file(path), env_use.use_file(path)):
            if not extra.is_dir():
                extra.unlink(missing_ok=True)


def _size(path: Path) -> int:
    total = 0
    for folder, dirs, files in os.walk(path):
        if folder == str(path / "proc"):  # a Debian root's mount point, empty when idle
            dirs.clear()
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(folder) / name).lstat().st_size
    return total


def _used(path: Path) -> str | None:
    """When the environment was last built or reused (its marker's modification time)."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime((path / MARKER).stat().st_mtime))
    except OSError:
        return None


def list_envs(root: Path | None = None, sizes: bool = True) -> list[dict[str, Any]]:
    """The environments dlpick built in the cache: name, path, what built them, size, complete?"""
    root = root or envs_dir()
    found = []
    entries = sorted(root.iterdir()) if root.is_dir() else []
    for path in (p for p in entries if built_by_dlpick(p, root)):
        try:
            record = json.loads((path / MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        record = record if isinstance(record, dict) else {}
        spec: dict[str, Any] = record["spec"] if isinstance(record.get("spec"), dict) else {}
        found.append(
            {
                "name": path.name,
                "path": str(path),
                "complete": bool(record),
                "framework": spec.get("framework", path.name.split("-")[0]),
                "kind": spec.get("kind", path.name.split("-")[-2]),
                "python": spec.get("python", ""),
                "requirements": spec.get("requirements", []),
                "built": record.get("built"),
                "used": _used(path),
                "bytes": _size(path) if sizes else None,
            }
        )
    return found


def foreign(root: Path | None = None) -> list[str]:
    """Entries of the cache folder that dlpick did not build (never listed as environments nor removed)."""
    root = root or envs_dir()
    if not root.is_dir():
        return []
    ours = {p.name for p in root.iterdir() if built_by_dlpick(p, root)}
    extras = {f"{name}{suffix}" for name in ours for suffix in (".python", ".lock", OWNER, env_use.SUFFIX)}
    leftovers = (".lock", ".python", OWNER, env_use.SUFFIX)  # files of environments since removed
    return sorted(
        p.name
        for p in root.iterdir()
        if p.name not in ours and p.name not in extras and not (p.is_file() and p.name.endswith(leftovers))
    )
