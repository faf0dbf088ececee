"""`dlpick doctor`'s analysis: installed framework builds, problems with fixes, install commands.

Reads package metadata only (importlib.metadata): no framework is imported. The machine itself
is found by `dlpick.machine.hardware`.
"""

from __future__ import annotations

import importlib.util
import platform
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any

from dlpick.kb.model import INSTALL_PREFERENCE, install_order
from dlpick.machine.hardware import (
    GPU_KINDS,
    Machine,
    detect_machine,
    detected_hardware_ids,
    hardware_rank,
    version_tuple,
)

if TYPE_CHECKING:
    from dlpick.kb.model import Framework

__all__ = ["INSTALL_PREFERENCE", "analyse", "doctor", "install_command", "installed_frameworks", "package_build"]

# A framework's builds and plugins (`Framework.distributions`), which of them clash
# (`.exclusive_builds`) and which CPU builds a GPU build replaces (`.cpu_builds`) are in
# knowledge/builds.yaml; the install command is `Framework.install_choice`'s (knowledge/frameworks).

# Libraries whose versions the findings read.
LIBRARIES = ("numpy", "nvidia-cudnn-cu12", "nvidia-cudnn-cu13")


@dataclass(frozen=True)
class Build:
    label: str  # for people: "CPU only", "CUDA 12.6", ...
    targets: frozenset[str] | None  # hardware ids it can use; None: metadata does not tell


@dataclass
class Package:
    distribution: str
    version: str
    build: Build

    def to_json(self) -> dict[str, Any]:
        targets = sorted(self.build.targets, key=hardware_rank) if self.build.targets is not None else None
        return {
            "distribution": self.distribution,
            "version": self.version,
            "build": self.build.label,
            "targets": targets,
        }


@dataclass
class InstalledFramework:
    framework: str
    name: str
    packages: list[Package]

    @property
    def targets(self) -> frozenset[str] | None:
        known = [p.build.targets for p in self.packages if p.build.targets is not None]
        return frozenset(t for targets in known for t in targets) if known else None

    @property
    def version(self) -> str:
        return self.packages[0].version if self.packages else "unknown"

    def to_json(self) -> dict[str, Any]:
        targets = self.targets
        return {
            "framework": self.framework,
            "name": self.name,
            "version": self.version,
            "targets": sorted(targets, key=hardware_rank) if targets is not None else None,
            "packages": [p.to_json() for p in self.packages],
        }


@dataclass
class Finding:
    severity: str  # "error" (it will not work), "warning" (works badly), "info"
    framework: str | None
    problem: str
    fix: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class InstallCommand:
    framework: str
    hardware: str
    command: str | None
    level: str | None
    note: str = ""
    installed: str | None = None  # the version installed now, if any

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    machine: Machine
    hardware_ids: list[str]
    libraries: dict[str, str]
    frameworks: list[InstalledFramework]
    findings: list[Finding]
    install: list[InstallCommand]

    def to_json(self) -> dict[str, Any]:
        machine = self.machine.to_json()
        return {
            "machine": {k: v for k, v in machine.items() if k not in ("accelerators", "probes")},
            "accelerators": machine["accelerators"],
            "hardware_ids": self.hardware_ids,
            "probes": machine["probes"],
            "libraries": self.libraries,
            "frameworks": [f.to_json() for f in self.frameworks],
            "findings": [f.to_json() for f in self.findings],
            "install": [i.to_json() for i in self.install],
        }


def torch_build(version: str, requires: Iterable[str] = (), system: str = "Linux") -> Build:
    """torch's build from its version suffix (+cpu, +cu126, +rocm6.2, +xpu) or its CUDA wheel requirements."""
    local = version.partition("+")[2].lower()
    if local.startswith("cpu"):
        return Build("CPU only", frozenset({"cpu"}))
    if cuda := re.fullmatch(r"cu(\d+)(\d)", local):
        return Build(f"CUDA {cuda.group(1)}.{cuda.group(2)}", frozenset({"cpu", "nvidia-gpu"}))
    if rocm := re.fullmatch(r"rocm([\d.]+)", local):
        return Build(f"ROCm {rocm.group(1)}", frozenset({"cpu", "amd-gpu"}))
    if local.startswith("xpu"):
        return Build("Intel XPU", frozenset({"cpu", "intel-gpu"}))
    if local:
        return Build(f"custom build (+{local})", None)
    nvidia = [r for r in requires if r.lower().startswith("nvidia-") and "extra" not in r.partition(";")[2]]
    if nvidia:
        runtime = next((re.search(r"==\s*(\d+)\.(\d+)", r) for r in nvidia if "cuda-runtime" in r.lower()), None)
        cuda_version = f" {runtime.group(1)}.{runtime.group(2)}" if runtime else ""
        return Build(f"CUDA{cuda_version} (PyPI wheel with nvidia-* libraries)", frozenset({"cpu", "nvidia-gpu"}))
    if system == "Darwin":
        return Build("CPU + MPS (macOS wheel)", frozenset({"cpu", "apple-silicon"}))
    return Build("CPU only", frozenset({"cpu"}))


def package_build(
    name: str, version: str, requires: Iterable[str] = (), system: str = "Linux", arch: str = "x86_64"
) -> Build:
    """What one installed distribution can run on, from its name, version and metadata alone."""
    n = name.lower().replace("_", "-")
    cpu, nvidia = frozenset({"cpu"}), frozenset({"cpu", "nvidia-gpu"})
    if n == "torch":
        return torch_build(version, requires, system)
    if n in ("tensorflow", "tf-nightly"):
        if system == "Linux" and arch in ("x86_64", "amd64"):
            return Build("CUDA-capable (GPU needs the CUDA libraries: tensorflow[and-cuda])", nvidia)
        if system == "Windows":
            return Build("CPU only (no native Windows GPU builds since 2.11; use WSL2)", cpu)
        return Build("CPU" + (" (GPU via tensorflow-metal)" if system == "Darwin" else ""), cpu)
    suffix = re.search(r"(?:cu|post)(\d+)(\d)$", n if n.startswith("mxnet") else version)
    cuda = f"CUDA {suffix.group(1)}.{suffix.group(2)}" if suffix else "CUDA"
    known: dict[str, Build] = {
        "tensorflow-cpu": Build("CPU only", cpu),
        "tensorflow-gpu": Build("CUDA (deprecated tensorflow-gpu package)", nvidia),
        "tensorflow-rocm": Build("ROCm", frozenset({"cpu", "amd-gpu"})),
        "tensorflow-macos": Build("macOS (GPU via tensorflow-metal)", cpu),
        "tensorflow-metal": Build("Metal GPU plugin", frozenset({"apple-silicon"})),
        "jaxlib": Build("CPU", cpu),
        "libtpu": Build("TPU runtime", frozenset({"tpu"})),
        "jax-metal": Build("Metal plugin", frozenset({"apple-silicon"})),
        "paddlepaddle": Build("CPU only", cpu),
        "paddlepaddle-gpu": Build(cuda, nvidia),
        "paddlepaddle-xpu": Build("Kunlun XPU", frozenset({"cpu", "kunlun-xpu"})),
        "paddle-custom-npu": Build("Ascend NPU plugin", frozenset({"ascend-npu"})),
        "mxnet": Build("CPU only", cpu),
        "mxnet-mkl": Build("CPU only (MKL-DNN)", cpu),
        "mxnet-native": Build("CPU only", cpu),
        "torch-npu": Build("Ascend NPU plugin", frozenset({"ascend-npu"})),
        "torch-xla": Build("XLA (TPU) plugin", frozenset({"tpu"})),
        "theano": Build("CPU (GPU needs pygpu)", cpu),
        "pygpu": Build("libgpuarray (CUDA)", frozenset({"nvidia-gpu"})),
    }
    if n in known:
        return known[n]
    if n.startswith("mxnet-cu"):
        return Build(cuda, nvidia)
    if cuda_plugin := re.fullmatch(r"jax-cuda(\d+)-(?:plugin|pjrt)", n):
        return Build(f"CUDA {cuda_plugin.group(1)} plugin", frozenset({"nvidia-gpu"}))
    if n.startswith("jax-rocm"):
        return Build("ROCm plugin", frozenset({"amd-gpu"}))
    if n == "intel-extension-for-pytorch":
        xpu = "+xpu" in version
        return Build("Intel XPU" if xpu else "CPU", frozenset({"cpu", "intel-gpu"} if xpu else {"cpu"}))
    return Build("", None)


def _distribution(name: str) -> tuple[str, list[str]] | None:
    """(version, Requires-Dist) of an installed distribution, or None."""
    try:
        dist = metadata.distribution(name)
    except Exception:  # not installed (PackageNotFoundError), or damaged metadata that must not stop the report
        return None
    return dist.version, list(dist.requires or [])


def installed_frameworks(
    frameworks: Mapping[str, Framework], system: str | None = None, arch: str | None = None
) -> list[InstalledFramework]:
    """Each knowledge-base framework with at least one distribution installed (or an importable module)."""

    system = system or platform.system()
    arch = (arch or platform.machine()).lower()
    found = []
    for fid, fw in frameworks.items():
        packages = []
        for name in fw.distributions:
            info = _distribution(name)
            if info:
                packages.append(Package(name, info[0], package_build(name, info[0], info[1], system, arch)))
        if not packages:
            for module in fw.import_names:
                try:
                    spec = importlib.util.find_spec(module) if "." not in module else None
                except (ImportError, ValueError):
                    spec = None
                if spec is not None:
                    where = spec.origin or ", ".join(spec.submodule_search_locations or [])
                    packages.append(Package(module, "unknown", Build(f"no package metadata ({where})", None)))
                    break
        if packages:
            found.append(InstalledFramework(fid, fw.name, packages))
    return found


def _own_install(fw: Framework, hardware: str) -> tuple[str | None, str | None]:
    """(command, level) of the knowledge base's install command for `hardware` itself (no CPU fallback)."""
    chosen, command = fw.install_choice((hardware,))
    support = fw.hardware.get(hardware)
    return (command if chosen == hardware else None), (support.level if support is not None else None)


def _closest_python(versions: list[str], running: str) -> str:
    minor = version_tuple(running)[1]
    return min(versions, key=lambda v: (abs(version_tuple(v)[1] - minor), -version_tuple(v)[1]))


def _python_finding(fw: Framework, installed: InstalledFramework, python: str) -> Finding | None:
    versions = list(fw.python.versions)
    if not versions or python in versions:
        return None
    name, last = fw.name, fw.python.last_release_for.get(python)
    version = installed.version
    if last:
        if version != "unknown" and version_tuple(version) <= version_tuple(last):
            return None  # an older release that still supported this Python
        package = installed.packages[0].distribution
        return Finding(
            "warning",
            installed.framework,
            f"{name} {version} does not support Python {python}; its last release for it is {last}",
            f"pip install '{package}=={last}'",
        )
    best = _closest_python(versions, python)
    return Finding(
        "warning",
        installed.framework,
        f"{name} supports Python {', '.join(versions)}, not the running {python}",
        f"use Python {best}: python{best} -m venv .venv && . .venv/bin/activate, then reinstall {name}",
    )


def analyse(
    machine: Machine,
    installed: list[InstalledFramework],
    frameworks: Mapping[str, Framework],
    libraries: Mapping[str, str],
) -> list[Finding]:
    """Problems a newcomer hits, each with a one-line fix."""
    findings: list[Finding] = []
    hardware = detected_hardware_ids(machine)
    python = machine.python_minor
    if any(a.kind == "nvidia-gpu" and a.source == "PCI bus" for a in machine.accelerators):
        findings.append(
            Finding(
                "warning",
                None,
                "an NVIDIA GPU is on the PCI bus but nvidia-smi does not work",
                "install the NVIDIA driver (nvidia.com/drivers); in a container, run with --gpus all",
            )
        )
    if machine.rosetta:
        findings.append(
            Finding(
                "warning",
                None,
                "this Python is x86_64 running under Rosetta 2: no Metal/MPS, slow",
                "install an arm64 Python (python.org or `brew install python`) and reinstall",
            )
        )
    for item in installed:
        fw = frameworks.get(item.framework)
        if fw is None:  # not in this knowledge base: nothing is known about its builds
            continue
        name = fw.name
        builds = {p.distribution for p in item.packages} & fw.exclusive_builds
        if len(builds) > 1:
            again = install_command(fw, item.framework, hardware).command
            listed = " ".join(sorted(builds))
            findings.append(
                Finding(
                    "warning",
                    item.framework,
                    f"{len(builds)} builds of {name} are installed ({listed}) and overwrite each other's files",
                    f"pip uninstall -y {listed}" + (f" && {again}" if again else ""),
                )
            )
        targets = item.targets
        for kind in hardware:
            command, level = _own_install(fw, kind)
            if kind == "cpu" or targets is None or kind in targets or fw.retired or not command:
                continue
            if level not in ("primary", "official", "vendor"):
                continue
            cpu_only = [p.distribution for p in item.packages if p.build.targets == frozenset({"cpu"})]
            replace = [d for d in cpu_only if d in fw.cpu_builds] if kind in GPU_KINDS else []
            fix = (f"pip uninstall -y {' '.join(replace)} && " if replace else "") + command
            what = "a CPU-only build" if targets <= {"cpu"} else f"a build without {kind} support"
            findings.append(
                Finding(
                    "warning",
                    item.framework,
                    f"{name} {item.version} is {what} but this machine has {kind} ({_accelerator_name(machine, kind)})",
                    fix,
                )
            )
        findings += _cuda_findings(machine, item, fw, libraries)
        if finding := _python_finding(fw, item, python):
            findings.append(finding)
    numpy = libraries.get("numpy")
    if numpy and version_tuple(numpy) >= (1, 24):
        old = " (NumPy 1.23 has wheels only up to Python 3.11)" if version_tuple(python) > (3, 11) else ""
        for item in installed:
            if item.framework in ("mxnet", "theano"):
                known = frameworks.get(item.framework)
                name = known.name if known is not None else item.framework
                findings.append(
                    Finding(
                        "error",
                        item.framework,
                        f"NumPy {numpy} removed the np.bool/np.int aliases {name} uses: importing it fails",
                        f"pip install 'numpy<1.24'{old}",
                    )
                )
    if numpy and version_tuple(numpy) >= (2,) and any(i.framework == "mindspore" for i in installed):
        findings.append(
            Finding("warning", "mindspore", f"MindSpore prints warnings with NumPy {numpy}", "pip install 'numpy<2'")
        )
    return findings


def _cuda_findings(
    machine: Machine, item: InstalledFramework, fw: Framework, libraries: Mapping[str, str]
) -> list[Finding]:
    """CUDA builds without an NVIDIA GPU, builds newer than the driver, TensorFlow without CUDA libraries."""
    findings = []
    gpus = [a for a in machine.accelerators if a.kind == "nvidia-gpu"]
    for package in item.packages:
        targets, label = package.build.targets or frozenset(), package.build.label
        if package.distribution == "torch" and "nvidia-gpu" in targets and not gpus:
            command = fw.install_command("cpu")
            findings.append(
                Finding(
                    "info",
                    item.framework,
                    f"torch {package.version} is a {label} build but no NVIDIA GPU was found: it "
                    "runs on the CPU with gigabytes of unused CUDA libraries",
                    f"pip uninstall -y torch && {command}" if command else "use the CPU wheels",
                )
            )
        built = re.match(r"CUDA (\d+)\.", label)
        driver = re.match(r"CUDA (\d+)\.", gpus[0].runtime or "") if gpus else None
        if built and driver and int(built.group(1)) > int(driver.group(1)):
            findings.append(
                Finding(
                    "error",
                    item.framework,
                    f"{package.distribution} {package.version} needs CUDA {built.group(1)} but the "
                    f"NVIDIA driver supports only {gpus[0].runtime}",
                    f"update the NVIDIA driver, or install a build for CUDA {driver.group(1)}.x",
                )
            )
        if (
            package.distribution in ("tensorflow", "tf-nightly")
            and gpus
            and "nvidia-gpu" in targets
            and not any(name.startswith("nvidia-cudnn") for name in libraries)
        ):
            command = _own_install(fw, "nvidia-gpu")[0] or "python3 -m pip install 'tensorflow[and-cuda]'"
            findings.append(
                Finding(
                    "info",
                    item.framework,
                    "TensorFlow uses the GPU only with the CUDA/cuDNN libraries, and none were "
                    "installed with pip (a system CUDA install may still provide them)",
                    command,
                )
            )
    return findings


def _accelerator_name(machine: Machine, kind: str) -> str:
    return next((a.name for a in machine.accelerators if a.kind == kind), kind)


def command_cuda_major(command: str) -> int | None:
    """The CUDA major version an install command asks for: '.../whl/cu130' -> 13, 'jax[cuda13]' -> 13."""
    match = re.search(r"\bcu(\d{2,3})\b|cuda(\d+)\b", command)
    if not match:
        return None
    return int(match.group(2)) if match.group(2) else int(match.group(1)[:-1])


def install_command(
    fw: Framework,
    framework_id: str,
    hardware: list[str],
    python: str | None = None,
    driver_cuda: str | None = None,
) -> InstallCommand:
    """The knowledge base's install command for the strongest detected hardware that has one, else cpu
    (`Framework.install_choice`), with notes on what it does not cover."""
    chosen_hw, command = fw.install_choice(hardware)
    notes = []
    for hw in install_order(hardware):
        if command is not None and hw == chosen_hw:
            break
        if hw != "cpu":
            notes.append(f"no {hw} install in the knowledge base")
    support = fw.hardware.get(chosen_hw)
    level = support.level if command is not None and support is not None else None
    chosen = InstallCommand(framework_id, chosen_hw, command, level)
    if chosen.command is None:
        notes.append(f"see `dlpick show {framework_id}`")
    wants = command_cuda_major(chosen.command or "") if chosen.hardware == "nvidia-gpu" else None
    if wants and driver_cuda and version_tuple(driver_cuda)[:1] < (wants,):
        notes.append(
            f"needs a driver for CUDA {wants}, this one supports CUDA {driver_cuda}: update the driver "
            f"or pick a CUDA {version_tuple(driver_cuda)[0]} build"
        )
    versions = fw.python.versions
    if python and versions and python not in versions:
        last = fw.python.last_release_for.get(python)
        notes.append(
            f"on Python {python} pip gets {last}, the last release for it"
            if last
            else f"no release for Python {python} (supported: {', '.join(versions)})"
        )
    if fw.status.value in ("retired", "maintenance"):
        notes.append(fw.status.value)
    chosen.note = "; ".join(notes)
    return chosen


def doctor(frameworks: Mapping[str, Framework], timeout: float = 10.0) -> Report:
    """Everything `dlpick doctor` shows, for the knowledge base's frameworks."""
    machine = detect_machine(timeout)
    hardware = detected_hardware_ids(machine)
    libraries = {name: info[0] for name in LIBRARIES if (info := _distribution(name))}
    installed = installed_frameworks(frameworks, machine.os, machine.arch)
    findings = analyse(machine, installed, frameworks, libraries)
    runtimes = [a.runtime or "" for a in machine.accelerators if a.kind == "nvidia-gpu"]
    cuda = next((r.split()[-1] for r in runtimes if r.startswith("CUDA ")), None)
    install = [install_command(fw, fid, hardware, machine.python_minor, cuda) for fid, fw in frameworks.items()]
    versions = {item.framework: item.version for item in installed}
    for entry in install:
        entry.installed = versions.get(entry.framework)
    return Report(machine, hardware, libraries, installed, findings, install)
