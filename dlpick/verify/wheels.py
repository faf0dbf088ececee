"""Which builds of a framework an install may take: never a CUDA build on a machine without an NVIDIA GPU.

On Linux a plain `pip install torch` from PyPI is the CUDA build (several GB of nvidia-* packages).
Every install dlpick makes (an isolated environment; `python -m dlpick.verify.wheels install ...`, which
scripts/demo.sh and scripts/test.sh use) goes through three steps, as PyTorch's install selector does:

1. Where PyTorch comes from: $DLPICK_TORCH_INDEX (a wheel index URL, or `pip` for pip's configuration
   as is) when set; else, with an NVIDIA GPU found, pip's configuration (the CUDA builds); else PyTorch's
   CPU index, https://download.pytorch.org/whl/cpu, added as an extra index when it answers.
2. A dry run resolves the install. With no NVIDIA GPU, a plan holding a CUDA build (nvidia-* packages,
   a `+cu`/`+rocm` version) is retried with the newest CPU build (`+cpu`) that pip's indexes offer pinned,
   so a machine whose pip configuration holds CPU wheels (a local folder, a mirror) keeps working
   where the CPU index cannot be reached.
3. Still a CUDA build: nothing is installed; one line says why and what to set. $DLPICK_ALLOW_CUDA=1
   installs it anyway.

Constraint files the user gives ($DLPICK_CONSTRAINT, `--constraint`, pip's own PIP_CONSTRAINT and
pip.conf) apply to the dry run and the install alike. Standard library only: scripts run this module
before anything else is installed.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlpick.errors import MissingTool

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
INDEX_VAR = "DLPICK_TORCH_INDEX"
ALLOW_VAR = "DLPICK_ALLOW_CUDA"
CONSTRAINT_VAR = "DLPICK_CONSTRAINT"
TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
CUDA_NAMES = re.compile(r"^(nvidia-.*|cuda-toolkit|cuda-bindings|jax-cuda.*|cupy-cuda.*|paddlepaddle-gpu)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class Refused(MissingTool):
    """The install would take a CUDA build here, or could not be resolved: nothing installed (exit 3)."""


@dataclass(frozen=True)
class Choice:
    """Where PyTorch's wheels come from for one install, and why."""

    extra_index: tuple[str, ...]
    gpu: bool
    why: str


def nvidia_gpu() -> bool:
    from dlpick.machine import hardware

    return "nvidia-gpu" in hardware.quick_hardware_ids()


@functools.cache
def reachable(url: str, timeout: float = 5.0) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):  # noqa: S310
            return True
    except Exception:
        return False


def allowed_cuda() -> bool:
    return os.environ.get(ALLOW_VAR, "").strip().lower() in ("1", "true", "yes")


def torch_choice(gpu: bool | None = None) -> Choice:
    """Step 1: the extra wheel index for PyTorch's packages, if any."""
    from dlpick.errors import BadInput

    wanted = os.environ.get(INDEX_VAR, "").strip()
    found = nvidia_gpu() if gpu is None else gpu
    if wanted.lower() == "pip":
        return Choice((), found, f"{INDEX_VAR}=pip: pip's configuration as is")
    if wanted:
        if not re.match(r"^(https?|file)://", wanted):
            raise BadInput(f"{INDEX_VAR}={wanted}: expected a wheel index URL (https://..., file://...) or `pip`")
        return Choice((wanted,), found, f"{INDEX_VAR}={wanted}")
    if found:
        return Choice((), True, "an NVIDIA GPU was found: pip's configuration (PyTorch's CUDA builds)")
    if reachable(CPU_INDEX):
        return Choice((CPU_INDEX,), False, f"no NVIDIA GPU found: PyTorch's CPU builds from {CPU_INDEX}")
    return Choice((), False, f"no NVIDIA GPU found and {CPU_INDEX} does not answer: CPU builds from pip's indexes")


def needs_torch(requirements: Sequence[str]) -> bool:
    names = {canonical(re.split(r"[\s\[<>=!~;@]", line.strip(), maxsplit=1)[0]) for line in requirements}
    return bool(names & set(TORCH_FAMILY))


def may_take_cuda(requirements: Sequence[str]) -> bool:
    """Requirements whose plain install can be a CUDA build: PyTorch's packages, or a line naming CUDA or a
    GPU variant (tensorflow[and-cuda], jax[cuda12], paddlepaddle-gpu). Others skip the dry run."""
    return needs_torch(requirements) or any(re.search(r"cuda|-gpu", line.lower()) for line in requirements)


def cuda_builds(plan: Sequence[tuple[str, str]]) -> list[str]:
    """The packages of a resolved install that are CUDA (or ROCm) builds."""
    return [
        f"{name}=={version}"
        for name, version in plan
        if CUDA_NAMES.match(canonical(name)) or re.search(r"\+(cu|rocm)\d", version)
    ]


def newest_cpu_build(versions: Sequence[str]) -> str | None:
    """The highest `X+cpu` among versions as `pip index versions` lists them (newest first)."""
    return next((v for v in versions if v.endswith("+cpu")), None)


def user_constraints() -> list[Path]:
    """$DLPICK_CONSTRAINT: constraint files for every environment build (os.pathsep between several)."""
    from dlpick.errors import BadInput

    paths = [Path(p).expanduser() for p in os.environ.get(CONSTRAINT_VAR, "").split(os.pathsep) if p.strip()]
    for path in paths:
        if not path.is_file():
            raise BadInput(f"{CONSTRAINT_VAR}: {path}: constraint file not found")
    return paths


def index_versions(python: str, name: str, options: Sequence[str] = ()) -> list[str]:
    """The versions of `name` that pip's configured indexes (and `options`) offer, newest first."""
    ran = subprocess.run(
        [python, "-m", "pip", "index", "versions", name, *options],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    found = re.search(r"^Available versions: (.*)$", ran.stdout, re.MULTILINE)
    return [v.strip() for v in found.group(1).split(",")] if found else []


def cpu_pins(python: str, plan: Sequence[tuple[str, str]], options: Sequence[str] = ()) -> list[str]:
    """`name==X+cpu` for each PyTorch package in the plan whose CPU build pip's indexes offer."""
    pins = []
    for name, _ in plan:
        if canonical(name) in TORCH_FAMILY:
            version = newest_cpu_build(index_versions(python, name, options))
            if version:
                pins.append(f"{canonical(name)}=={version}")
    return pins


def refusal(cuda: Sequence[str], choice: Choice) -> tuple[str, str]:
    """The one-line error (and its hint) for a CUDA build refused on a machine without an NVIDIA GPU."""
    shown = ", ".join(cuda[:3]) + (f" (+{len(cuda) - 3} more)" if len(cuda) > 3 else "")
    return (
        f"no NVIDIA GPU here, but the install would take CUDA builds ({shown}); nothing installed ({choice.why})",
        f"set {INDEX_VAR} to a CPU wheel index (e.g. {CPU_INDEX}), or give a constraint file pinning a CPU build "
        f"({CONSTRAINT_VAR}=FILE or --constraint FILE, e.g. a line torch==2.5.1+cpu), or {ALLOW_VAR}=1 to install them",
    )


def _pip_plan(python: str, args: Sequence[str], scratch: Path) -> list[tuple[str, str]]:
    report = scratch / "dlpick-pip-report.json"
    ran = subprocess.run(
        [python, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report), *args],
        timeout=3600,
        check=False,
    )
    if ran.returncode != 0:
        raise SystemExit(ran.returncode)
    items = json.loads(report.read_text(encoding="utf-8")).get("install", [])
    report.unlink(missing_ok=True)
    return [(i["metadata"]["name"], i["metadata"]["version"]) for i in items]


def pip_version() -> tuple[int, ...]:
    """The (major, minor) of the pip beside this Python; (0, 0) when there is none (a uv venv)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return tuple(int(part) for part in re.findall(r"\d+", version("pip"))[:2])
    except PackageNotFoundError:
        return (0, 0)


def install(args: Sequence[str]) -> int:
    """`pip install ARGS` with the current Python, never taking a CUDA build without an NVIDIA GPU."""
    import tempfile

    if pip_version() < (22, 2):  # `pip install --dry-run --report`
        print(
            f"dlpick: error: pip 22.2 or newer is needed here (run: {sys.executable} -m pip install -U pip)",
            file=sys.stderr,
        )
        return 3
    choice = torch_choice()
    options = choice_options(choice)
    options += [f for path in user_constraints() for f in ("-c", str(path))]
    print(f"dlpick: PyTorch builds: {choice.why}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="dlpick-wheels-") as scratch:
        full = [*options, *args]
        plan = [] if choice.gpu or allowed_cuda() else _pip_plan(sys.executable, full, Path(scratch))
        cuda = cuda_builds(plan)
        if cuda:
            pins = cpu_pins(sys.executable, plan, choice_options(choice))
            if pins:
                pinned = Path(scratch) / "cpu-builds.txt"
                pinned.write_text("\n".join(pins) + "\n", encoding="utf-8")
                full = [*full, "-c", str(pinned)]
                print(f"dlpick: pinned the CPU build{'s' if len(pins) > 1 else ''}: {' '.join(pins)}", file=sys.stderr)
                cuda = cuda_builds(_pip_plan(sys.executable, full, Path(scratch)))
        if cuda:
            message, hint = refusal(cuda, choice)
            print(f"dlpick: error: {message} ({hint})", file=sys.stderr)
            return 3
        return subprocess.run([sys.executable, "-m", "pip", "install", *full], check=False).returncode


def choice_options(choice: Choice) -> list[str]:
    return [f for index in choice.extra_index for f in ("--extra-index-url", index)]


def plan(cmd: list[str], env: dict[str, str], timeout: float) -> list[tuple[str, str]]:
    """What `cmd` (a uv or pip install) would install, as (name, version), from a dry run."""
    uv = "-m" not in cmd[1:3]
    report = Path(env["TMPDIR"]) / "dlpick-plan.json"
    dry = [*cmd, "--dry-run"] if uv else [*cmd, "--dry-run", "--quiet", "--report", str(report)]
    from dlpick import processes

    ran = processes.capture(dry, timeout, env=env)
    if ran.returncode != 0:
        last = " | ".join([line for line in (ran.stderr + ran.stdout).splitlines() if line.strip()][-2:])
        what = "resolving the install " + ("failed" if ran.returncode is not None else "timed out")
        raise Refused(f"{what}: {last or ran.error or 'no output'}", hint="fix requirements.txt, or pass --constraint")
    if uv:
        return re.findall(r"^ \+ (\S+)==(\S+)$", ran.stderr + ran.stdout, re.MULTILINE)
    items = json.loads(report.read_text(encoding="utf-8")).get("install", [])
    return [(item["metadata"]["name"], item["metadata"]["version"]) for item in items]


def cpu_only(
    cmd: list[str],
    choice: Choice | None,
    path: Path,
    env: dict[str, str],
    on_event: Callable[[str, Any], None] | None,
    timeout: float,
) -> list[str]:
    """Options that keep a CUDA build out where no NVIDIA GPU was found (steps 2 and 3 above): the CPU
    builds pip's indexes offer, pinned; none to be had is an error before anything is downloaded."""
    if allowed_cuda() or (choice.gpu if choice is not None else nvidia_gpu()):
        return []
    planned = plan(cmd, env, timeout)
    cuda = cuda_builds(planned)
    added: list[str] = []
    if cuda:
        options = choice_options(choice) if choice is not None else []
        pins = cpu_pins(sys.executable, planned, options)
        if pins:
            pinned = path / "constraints-cpu-builds.txt"
            pinned.write_text("\n".join(pins) + "\n", encoding="utf-8")
            added = ["-c", str(pinned)]
            if on_event:
                on_event("step", f"no NVIDIA GPU: pinned the CPU build {' '.join(pins)}")
            cuda = cuda_builds(plan([*cmd, *added], env, timeout))
    if cuda:
        why = choice or Choice((), False, "no NVIDIA GPU found")
        raise Refused(*refusal(cuda, why))
    return added


if __name__ == "__main__":
    if sys.argv[1:2] != ["install"]:
        sys.stderr.write("usage: python -m dlpick.verify.wheels install PIP_INSTALL_ARGS...\n")
        raise SystemExit(2)
    raise SystemExit(install(sys.argv[2:]))
