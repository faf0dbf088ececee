"""What this machine offers for deep learning, found without importing any framework.

Where each fact comes from (all read-only, vendor tools run with a short timeout):

- CPU and memory: /proc/cpuinfo, /proc/meminfo, os.cpu_count(); `sysctl` on macOS.
- NVIDIA: `nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader`, and the plain
  `nvidia-smi` header for the CUDA version the driver supports. Without a working nvidia-smi, PCI display
  devices of vendor 0x10de (/sys/bus/pci/devices) are reported as "driver missing".
- AMD: `rocm-smi --showproductname --showmeminfo vram --json` (its text form is parsed too), ROCm version
  from /opt/rocm/.info/version. Radeon integrated GPUs share AMD's PCI vendor id, so no PCI fallback.
- Huawei Ascend: `npu-smi info`; without it, /dev/davinci<N> device nodes.
- Intel data-center GPUs: `xpu-smi discovery`.
- Apple Silicon: platform.system() == "Darwin" on arm64, or an x86_64 Python under Rosetta 2
  (`sysctl -n sysctl.proc_translated` prints 1).
- Google TPU: the TPU_ACCELERATOR_TYPE, TPU_NAME, TPU_WORKER_ID or COLAB_TPU_ADDR environment variables
  (Cloud TPU VMs, GKE TPU pods, Colab), /dev/accel<N> nodes directly under /dev (the TPU driver's; the
  kernel's /dev/accel/ directory belongs to other NPUs), and Google PCI devices (vendor 0x1ae0) of class
  0x12 "processing accelerator" (newer TPU VMs bind these to vfio; Google's NICs and disks are other classes).
(Installed frameworks and their builds: see `dlpick.machine.doctor`.)

Parsers are pure functions of a tool's text output so tests can feed recorded outputs.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dlpick import processes

# Vocabulary hardware ids, in the order detected ids are listed (cpu is always first).
HARDWARE_ORDER = ("cpu", "nvidia-gpu", "amd-gpu", "apple-silicon", "intel-gpu", "tpu", "ascend-npu", "kunlun-xpu")
GPU_KINDS = frozenset({"nvidia-gpu", "amd-gpu", "intel-gpu"})
TPU_ENV = ("TPU_ACCELERATOR_TYPE", "TPU_NAME", "TPU_WORKER_ID", "COLAB_TPU_ADDR")
TOOLS: dict[str, list[str]] = {
    "nvidia-smi --query-gpu": ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
    "nvidia-smi": ["nvidia-smi"],
    "rocm-smi": ["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json"],
    "npu-smi": ["npu-smi", "info"],
    "xpu-smi": ["xpu-smi", "discovery"],
}


@dataclass
class Accelerator:
    kind: str  # a vocabulary hardware id
    name: str
    memory_mib: int | None = None
    driver: str | None = None
    runtime: str | None = None  # e.g. "CUDA 12.4", "ROCm 6.2.0", "CANN"
    source: str = ""  # the tool or file it was found with

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Probe:
    tool: str
    status: str  # "ok", "not found", "failed ...", "timed out ..."

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Machine:
    os: str
    os_release: str
    arch: str
    cpu_model: str
    logical_cores: int | None
    physical_cores: int | None
    memory_total_mib: int | None
    memory_available_mib: int | None
    python: str
    python_executable: str
    virtualenv: bool
    accelerators: list[Accelerator] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    rosetta: bool = False

    @property
    def python_minor(self) -> str:
        return ".".join(self.python.split(".")[:2])

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["accelerators"] = [a.to_json() for a in self.accelerators]
        data["probes"] = [p.to_json() for p in self.probes]
        return data


def hardware_rank(hardware_id: str) -> int:
    return HARDWARE_ORDER.index(hardware_id) if hardware_id in HARDWARE_ORDER else len(HARDWARE_ORDER)


def _int(text: str | None) -> int | None:
    match = re.search(r"\d+", text or "")
    return int(match.group()) if match else None


def version_tuple(version: str) -> tuple[int, ...]:
    """The leading release numbers: '2.13.0+cpu' -> (2, 13, 0); '1.24.0rc1' -> (1, 24, 0)."""
    match = re.match(r"\d+(?:\.\d+)*", version.strip())
    return tuple(int(part) for part in match.group().split(".")) if match else ()


# --- parsers (pure) --------------------------------------------------------------------------------


def parse_cpuinfo(text: str) -> tuple[str, int | None]:
    """(CPU model, physical cores) from /proc/cpuinfo; cores are None where the file does not say."""
    model = ""
    cores: set[tuple[str, str]] = set()
    physical = ""
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key in ("model name", "Hardware", "cpu model", "uarch") and not model:
            model = value
        elif key == "physical id":
            physical = value
        elif key == "core id":
            cores.add((physical, value))
    return model, len(cores) or None


def parse_meminfo(text: str) -> tuple[int | None, int | None]:
    """(total, available) MiB from /proc/meminfo."""
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        values[key.strip()] = _int(value)
    total, available = values.get("MemTotal"), values.get("MemAvailable")
    return (total // 1024 if total else None), (available // 1024 if available else None)


def parse_nvidia_query(text: str) -> list[Accelerator]:
    """`nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader`, one GPU a line."""
    gpus = []
    for line in text.splitlines():
        parts = [part.strip() for part in line.rsplit(",", 2)]
        if len(parts) != 3 or not parts[0]:
            continue
        name, memory, driver = parts
        gpus.append(
            Accelerator("nvidia-gpu", name, _int(memory), None if "[" in driver else driver, source="nvidia-smi")
        )
    return gpus


def parse_nvidia_cuda_version(text: str) -> str | None:
    """The CUDA version the driver supports, from the plain `nvidia-smi` header."""
    match = re.search(r"CUDA Version:\s*([\d.]+)", text)
    return match.group(1) if match else None


def parse_rocm_smi(text: str) -> list[Accelerator]:
    """`rocm-smi --showproductname --showmeminfo vram --json`, or the same flags' text output."""
    start = text.find("{")
    cards: dict[str, dict[str, str]] = {}
    if start >= 0:
        try:
            data = json.loads(text[start:])
            cards = {
                k: {str(f).lower(): str(v) for f, v in d.items()}
                for k, d in data.items()
                if k.lower().startswith("card") and isinstance(d, dict)
            }
        except ValueError:
            cards = {}
    if not cards:  # text form: "GPU[0]		: Card series: 		AMD Instinct MI250X"
        for line in text.splitlines():
            match = re.match(r"\s*GPU\[(\d+)\]\s*:\s*(.+?):\s*(.*)$", line)
            if match:
                cards.setdefault(f"card{match.group(1)}", {})[match.group(2).strip().lower()] = match.group(3).strip()
    gpus = []
    for _card, fields in sorted(cards.items(), key=lambda item: _int(item[0]) or 0):
        name = fields.get("card series") or fields.get("card model") or fields.get("card sku") or "AMD GPU"
        vram = _int(fields.get("vram total memory (b)"))
        gpus.append(Accelerator("amd-gpu", name, vram // 2**20 if vram else None, source="rocm-smi"))
    return gpus


def parse_npu_smi(text: str) -> list[Accelerator]:
    """`npu-smi info`: a name row (NPU id, name | health | ...) then a chip row ending in HBM used / total."""
    npus: list[Accelerator] = []
    version = re.search(r"Version:\s*(\S+)", text)
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3:
            continue
        head = re.fullmatch(r"(\d+)\s+(\S.*)", cells[0])
        if head and re.fullmatch(r"[A-Za-z]+", cells[1]):
            npus.append(
                Accelerator(
                    "ascend-npu",
                    f"Ascend {head.group(2)}",
                    None,
                    version.group(1) if version else None,
                    "CANN",
                    "npu-smi",
                )
            )
        elif npus and re.match(r"[0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:", cells[1]):
            pairs = re.findall(r"(\d+)\s*/\s*(\d+)", cells[2])
            if pairs and npus[-1].memory_mib is None:
                npus[-1].memory_mib = int(pairs[-1][1]) or None
    return npus


def parse_xpu_smi(text: str) -> list[Accelerator]:
    """`xpu-smi discovery`: one bordered block per device with 'Device Name: ...' lines."""
    gpus: list[Accelerator] = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        key, _, value = cells[1].partition(":")
        if key.strip() == "Device Name":
            gpus.append(Accelerator("intel-gpu", value.strip(), source="xpu-smi"))
        elif key.strip() == "Memory Physical Size" and gpus:
            size = re.search(r"([\d.]+)\s*(GiB|MiB)", value)
            if size:
                gpus[-1].memory_mib = int(float(size.group(1)) * (1024 if size.group(2) == "GiB" else 1))
        elif key.strip() == "Driver Version" and gpus:
            gpus[-1].driver = value.strip()
    return gpus


# --- detection -------------------------------------------------------------------------------------


def run_tools(commands: Mapping[str, list[str]], timeout: float) -> dict[str, tuple[str, str]]:
    """Run the tools that are on PATH side by side: {key: (status, stdout)}."""
    results: dict[str, tuple[str, str]] = {}
    found: dict[str, list[str]] = {}
    for key, argv in commands.items():
        exe = shutil.which(argv[0])
        if exe is None:
            results[key] = ("not found", "")
        else:
            found[key] = [exe, *argv[1:]]
    for key, ran in processes.capture_all(found, timeout).items():
        if ran.error:
            results[key] = (f"failed: {ran.error}", "")
        elif ran.returncode is None:
            results[key] = (f"timed out after {timeout:g} s", "")
        elif ran.returncode == 0:
            results[key] = ("ok", ran.stdout)
        else:
            results[key] = (f"failed (exit {ran.returncode}): {ran.first_line()}", ran.stdout)
    return {key: results[key] for key in commands}


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def pci_devices(root: Path = Path("/sys/bus/pci/devices")) -> list[tuple[str, str]]:
    """(vendor, class) of each PCI device, as the kernel writes them: ('0x10de', '0x030200')."""
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return []
    return [(_read(d / "vendor").strip(), _read(d / "class").strip()) for d in entries]


def detect_tpu(
    env: Mapping[str, str], dev: Path = Path("/dev"), pci: Iterable[tuple[str, str]] = ()
) -> Accelerator | None:
    """A Cloud TPU host, from its environment, /dev/accel<N> nodes or Google accelerator PCI devices."""
    evidence = [f"${name}" for name in TPU_ENV if env.get(name)]
    nodes = [p for p in (dev.glob("accel[0-9]*") if dev.is_dir() else []) if p.name[5:].isdigit()]
    chips = [vendor for vendor, cls in pci if vendor == "0x1ae0" and cls.startswith("0x12")]
    evidence += [f"{len(nodes)} x {dev}/accelN"] if nodes else []
    evidence += [f"{len(chips)} Google PCI accelerator(s)"] if chips else []
    if not evidence:
        return None
    name = env.get("TPU_ACCELERATOR_TYPE") or "Google Cloud TPU"
    count = len(nodes) or len(chips)
    return Accelerator("tpu", name + (f" ({count} chips)" if count > 1 else ""), source=", ".join(evidence))


def _sysctl(name: str) -> str:
    ran = processes.capture(["sysctl", "-n", name], 2)
    return ran.stdout.strip() if ran.returncode == 0 else ""


def detect_accelerators(
    timeout: float = 10.0, env: Mapping[str, str] | None = None
) -> tuple[list[Accelerator], list[Probe], bool]:
    """(accelerators, the tools tried, whether Python runs under Rosetta 2)."""
    env = os.environ if env is None else env
    system, arch = platform.system(), platform.machine().lower()
    results = run_tools(TOOLS, timeout) if system in ("Linux", "Windows") else {}
    probes = [Probe(key, status) for key, (status, _out) in results.items()]
    found: list[Accelerator] = []

    nvidia = parse_nvidia_query(results.get("nvidia-smi --query-gpu", ("", ""))[1])
    cuda = parse_nvidia_cuda_version(results.get("nvidia-smi", ("", ""))[1])
    for gpu in nvidia:
        gpu.runtime = f"CUDA {cuda}" if cuda else None
    found += nvidia
    pci = pci_devices() if system == "Linux" else []
    if not nvidia and any(v == "0x10de" and c.startswith("0x03") for v, c in pci):
        found.append(
            Accelerator(
                "nvidia-gpu", "NVIDIA GPU (driver not working: nvidia-smi missing or failing)", source="PCI bus"
            )
        )
    amd = parse_rocm_smi(results.get("rocm-smi", ("", ""))[1])
    rocm = _read("/opt/rocm/.info/version").strip()
    for gpu in amd:
        gpu.runtime = f"ROCm {rocm}" if rocm else "ROCm"
    found += amd
    npus = parse_npu_smi(results.get("npu-smi", ("", ""))[1])
    if not npus and system == "Linux":
        nodes = sorted(p.name for p in Path("/dev").glob("davinci[0-9]*"))
        npus = [Accelerator("ascend-npu", f"Ascend NPU {node[7:]}", source="/dev/davinciN") for node in nodes]
    found += npus
    found += parse_xpu_smi(results.get("xpu-smi", ("", ""))[1])
    tpu = detect_tpu(env, pci=pci) if system == "Linux" else None
    found += [tpu] if tpu else []

    rosetta = False
    if system == "Darwin":
        rosetta = arch == "x86_64" and _sysctl("sysctl.proc_translated") == "1"
        if arch == "arm64" or rosetta:
            memory = _int(_sysctl("hw.memsize"))
            found.append(
                Accelerator(
                    "apple-silicon",
                    _sysctl("machdep.cpu.brand_string") or "Apple Silicon",
                    memory // 2**20 if memory else None,
                    runtime="Metal",
                    source="platform",
                )
            )
            probes.append(Probe("sysctl", "ok" + (" (Python runs under Rosetta 2)" if rosetta else "")))
    return found, probes, rosetta


def detect_machine(timeout: float = 10.0, env: Mapping[str, str] | None = None) -> Machine:
    system = platform.system()
    model, physical = parse_cpuinfo(_read("/proc/cpuinfo"))
    total, available = parse_meminfo(_read("/proc/meminfo"))
    if system == "Darwin":
        model = model or _sysctl("machdep.cpu.brand_string")
        physical = physical or _int(_sysctl("hw.physicalcpu"))
    accelerators, probes, rosetta = detect_accelerators(timeout, env)
    if total is None and system == "Darwin":
        memory = _int(_sysctl("hw.memsize"))
        total = memory // 2**20 if memory else None
    return Machine(
        os=system,
        os_release=platform.release(),
        arch=platform.machine(),
        cpu_model=model or platform.processor() or platform.machine(),
        logical_cores=os.cpu_count(),
        physical_cores=physical,
        memory_total_mib=total,
        memory_available_mib=available,
        python=platform.python_version(),
        python_executable=sys.executable,
        virtualenv=sys.prefix != sys.base_prefix or bool(os.environ.get("CONDA_PREFIX")),
        accelerators=accelerators,
        probes=probes,
        rosetta=rosetta,
    )


def detected_hardware_ids(found: Machine | Iterable[Accelerator]) -> list[str]:
    """Vocabulary hardware ids for what was found: always cpu, then each accelerator kind."""
    accelerators = found.accelerators if isinstance(found, Machine) else list(found)
    kinds = {"cpu", *(a.kind for a in accelerators)}
    return sorted(kinds, key=hardware_rank)


def quick_hardware_ids(timeout: float = 5.0) -> list[str]:
    """detected_hardware_ids for prompts: never fails (["cpu"] on any error); DLPICK_NO_DETECT=1 skips it."""
    if os.environ.get("DLPICK_NO_DETECT"):
        return ["cpu"]
    try:
        return detected_hardware_ids(detect_accelerators(timeout)[0])
    except Exception:  # detection is a convenience: a prompt must never fail because of it
        return ["cpu"]
