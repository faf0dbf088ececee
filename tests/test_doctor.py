"""`dlpick doctor` and the hardware detection behind it: parsers, builds, findings, the command."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from dlpick.cli.app import app
from dlpick.machine import doctor, hardware
from dlpick.machine.hardware import Accelerator, Machine
from tests import test_imports
from tests.test_imports import FRAMEWORK_MODULES, probe

if TYPE_CHECKING:
    from dlpick.kb.model import Framework

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "doctor"
ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
trap = test_imports.trap_dir  # the fixture: framework packages that fail loudly when imported


def fixture(name: str) -> str:
    """A recorded output without its `#` header lines (which say where it came from)."""
    lines = (FIXTURES / name).read_text().splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


@pytest.fixture(scope="module")
def kb_frameworks() -> Mapping[str, Framework]:
    from dlpick.kb import knowledge

    return knowledge.load().frameworks


def machine(*accelerators: Accelerator, python: str = "3.11.7") -> Machine:
    return Machine(
        "Linux", "6.8", "x86_64", "Test CPU", 8, 4, 16000, 12000, python, sys.executable, True, list(accelerators)
    )


H100 = Accelerator("nvidia-gpu", "NVIDIA H100 80GB HBM3", 81559, "550.54.15", "CUDA 12.4", "nvidia-smi")
MI300 = Accelerator("amd-gpu", "AMD Instinct MI300X", 196288, runtime="ROCm 6.2.0", source="rocm-smi")


class FakeDist:
    def __init__(self, version: str, requires: list[str] | None = None) -> None:
        self.version = version
        self.requires = requires


@pytest.fixture
def fake_packages(monkeypatch: pytest.MonkeyPatch):
    """Replace importlib.metadata's installed distributions with the given {name: version or FakeDist}."""

    def install(**packages: str | FakeDist) -> None:
        table = {name.lower().replace("_", "-"): value for name, value in packages.items()}

        def distribution(name: str) -> FakeDist:
            found = table.get(name.lower().replace("_", "-"))
            if found is None:
                raise metadata.PackageNotFoundError(name)
            return found if isinstance(found, FakeDist) else FakeDist(found)

        monkeypatch.setattr(metadata, "distribution", distribution)

    return install


def report_for(kb_frameworks, box: Machine) -> list[doctor.Finding]:
    """The findings for `box` with the (fake) installed packages."""
    installed = doctor.installed_frameworks(kb_frameworks, box.os, box.arch)
    libraries = {name: info[0] for name in doctor.LIBRARIES if (info := doctor._distribution(name))}
    return doctor.analyse(box, installed, kb_frameworks, libraries)


# --- parsers on recorded outputs -------------------------------------------------------------


def test_nvidia_smi_query_and_header():
    gpus = hardware.parse_nvidia_query(fixture("nvidia-smi-query.csv"))
    assert [(g.kind, g.name, g.memory_mib, g.driver) for g in gpus] == [
        ("nvidia-gpu", "NVIDIA H100 80GB HBM3", 81559, "550.54.15")
    ] * 2
    assert hardware.parse_nvidia_cuda_version(fixture("nvidia-smi.txt")) == "12.4"
    assert hardware.parse_nvidia_cuda_version("NVIDIA-SMI has failed because it couldn't communicate") is None
    assert hardware.parse_nvidia_query("No devices were found\n") == []


def test_nvidia_smi_query_unsupported_fields():
    [gpu] = hardware.parse_nvidia_query("NVIDIA GeForce RTX 3060, [N/A], [Not Supported]\n")
    assert (gpu.name, gpu.memory_mib, gpu.driver) == ("NVIDIA GeForce RTX 3060", None, None)


def test_rocm_smi_json_and_text():
    gpus = hardware.parse_rocm_smi(fixture("rocm-smi.json"))
    assert [(g.kind, g.name, g.memory_mib) for g in gpus] == [("amd-gpu", "AMD Instinct MI300X", 196288)] * 2
    [old] = hardware.parse_rocm_smi(fixture("rocm-smi.txt"))
    assert (old.name, old.memory_mib) == ("AMD Instinct MI250X", 65520)
    # Some versions print warnings before the JSON document.
    assert (
        len(
            hardware.parse_rocm_smi(
                "WARNING: AMD GPU device(s) is/are in a low-power state\n" + fixture("rocm-smi.json")
            )
        )
        == 2
    )
    assert hardware.parse_rocm_smi("") == []


def test_npu_smi_info():
    npus = hardware.parse_npu_smi(fixture("npu-smi-info.txt"))
    assert [(n.kind, n.name, n.memory_mib, n.driver) for n in npus] == [
        ("ascend-npu", "Ascend 910B3", 65536, "23.0.rc3")
    ] * 2


def test_xpu_smi_discovery():
    gpus = hardware.parse_xpu_smi(fixture("xpu-smi-discovery.txt"))
    assert [(g.kind, g.name) for g in gpus] == [("intel-gpu", "Intel(R) Data Center GPU Max 1550")] * 2


def test_cpuinfo_and_meminfo():
    assert hardware.parse_cpuinfo(fixture("cpuinfo.txt")) == ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", 1)
    assert hardware.parse_meminfo(fixture("meminfo.txt")) == (15921, 12746)
    assert hardware.parse_cpuinfo("") == ("", None)


# --- builds from version strings and metadata ------------------------------------------------


@pytest.mark.parametrize(
    ("version", "requires", "system", "label", "targets"),
    [
        ("2.13.0+cpu", [], "Linux", "CPU only", {"cpu"}),
        ("2.1.0+cpu.cxx11.abi", [], "Linux", "CPU only", {"cpu"}),
        ("2.6.0+cu126", [], "Linux", "CUDA 12.6", {"cpu", "nvidia-gpu"}),
        ("2.4.1+cu118", [], "Windows", "CUDA 11.8", {"cpu", "nvidia-gpu"}),
        ("2.9.0+cu130", [], "Linux", "CUDA 13.0", {"cpu", "nvidia-gpu"}),
        ("2.5.1+rocm6.2", [], "Linux", "ROCm 6.2", {"cpu", "amd-gpu"}),
        ("2.7.0+xpu", [], "Linux", "Intel XPU", {"cpu", "intel-gpu"}),
        (
            "2.8.0",
            ['nvidia-cuda-runtime-cu12==12.8.90; platform_system == "Linux"', "nvidia-cudnn-cu12==9.10.2.21"],
            "Linux",
            "CUDA 12.8 (PyPI wheel with nvidia-* libraries)",
            {"cpu", "nvidia-gpu"},
        ),
        ("2.8.0", ["filelock", 'nvidia-cudnn-cu12; extra == "cuda"'], "Linux", "CPU only", {"cpu"}),
        ("2.8.0", ["filelock"], "Darwin", "CPU + MPS (macOS wheel)", {"cpu", "apple-silicon"}),
        ("2.8.0", [], "Windows", "CPU only", {"cpu"}),
    ],
)
def test_torch_build(version, requires, system, label, targets):
    build = doctor.torch_build(version, requires, system)
    assert (build.label, build.targets) == (label, frozenset(targets))


@pytest.mark.parametrize(
    ("name", "version", "system", "targets"),
    [
        ("tensorflow-cpu", "2.21.0", "Linux", {"cpu"}),
        ("tensorflow_cpu", "2.21.0", "Linux", {"cpu"}),
        ("tensorflow", "2.21.0", "Linux", {"cpu", "nvidia-gpu"}),
        ("tensorflow", "2.21.0", "Windows", {"cpu"}),
        ("tensorflow", "2.21.0", "Darwin", {"cpu"}),
        ("tensorflow-metal", "1.2.0", "Darwin", {"apple-silicon"}),
        ("paddlepaddle", "3.2.0", "Linux", {"cpu"}),
        ("paddlepaddle-gpu", "2.6.1.post120", "Linux", {"cpu", "nvidia-gpu"}),
        ("mxnet-cu112", "1.9.1", "Linux", {"cpu", "nvidia-gpu"}),
        ("jaxlib", "0.10.2", "Linux", {"cpu"}),
        ("jax-cuda12-plugin", "0.10.2", "Linux", {"nvidia-gpu"}),
        ("libtpu", "0.0.20", "Linux", {"tpu"}),
    ],
)
def test_package_build(name, version, system, targets):
    assert doctor.package_build(name, version, [], system).targets == frozenset(targets)


def test_package_build_labels_name_the_cuda_version():
    assert doctor.package_build("mxnet-cu112", "1.9.1").label == "CUDA 11.2"
    assert doctor.package_build("paddlepaddle-gpu", "2.6.1.post120").label == "CUDA 12.0"
    assert doctor.package_build("flax", "0.12.0").targets is None


# --- findings, with fake importlib.metadata --------------------------------------------------


def test_cpu_only_torch_with_an_nvidia_gpu(kb_frameworks, fake_packages):
    fake_packages(torch="2.13.0+cpu", numpy="2.4.6")
    [finding] = report_for(kb_frameworks, machine(H100))
    assert finding.framework == "pytorch" and finding.severity == "warning"
    assert "CPU-only" in finding.problem and "NVIDIA H100" in finding.problem
    cuda = kb_frameworks["pytorch"].install_command("nvidia-gpu")
    assert finding.fix == f"pip uninstall -y torch && {cuda}"


def test_cpu_only_builds_with_an_amd_gpu(kb_frameworks, fake_packages):
    fake_packages(torch="2.13.0+cpu", tensorflow_cpu="2.21.0")
    findings = report_for(kb_frameworks, machine(MI300))
    assert [f.framework for f in findings] == ["pytorch"]  # the knowledge base has no pip command for TF on ROCm
    assert "rocm" in findings[0].fix


def test_gpu_builds_on_the_matching_gpu_are_fine(kb_frameworks, fake_packages):
    fake_packages(torch="2.6.0+cu124", tensorflow="2.21.0", **{"nvidia-cudnn-cu12": "9.3.0.75"})
    assert report_for(kb_frameworks, machine(H100)) == []


def test_tensorflow_cpu_and_jax_without_plugin_on_nvidia(kb_frameworks, fake_packages):
    fake_packages(tensorflow_cpu="2.21.0", jax="0.10.2", jaxlib="0.10.2")
    findings = {f.framework: f for f in report_for(kb_frameworks, machine(H100))}
    assert findings["tensorflow"].fix.startswith("pip uninstall -y tensorflow-cpu && ")
    assert "and-cuda" in findings["tensorflow"].fix
    assert findings["jax"].fix == kb_frameworks["jax"].install_command("nvidia-gpu")  # a plugin: no uninstall


def test_numpy_too_new_for_mxnet(kb_frameworks, fake_packages):
    fake_packages(mxnet="1.9.1", numpy="1.26.4")
    [finding] = report_for(kb_frameworks, machine())
    assert (finding.severity, finding.framework, finding.fix) == ("error", "mxnet", "pip install 'numpy<1.24'")
    fake_packages(mxnet="1.9.1", numpy="1.23.5")
    assert report_for(kb_frameworks, machine()) == []


def test_numpy_too_new_for_theano_and_mindspore(kb_frameworks, fake_packages):
    fake_packages(Theano="1.0.5", mindspore="2.7.0", numpy="2.1.0")
    findings = {f.framework: f for f in report_for(kb_frameworks, machine())}
    assert findings["theano"].severity == "error"
    assert (findings["mindspore"].severity, findings["mindspore"].fix) == ("warning", "pip install 'numpy<2'")


def test_unsupported_python(kb_frameworks, fake_packages):
    fake_packages(torch="2.15.0+cpu")
    [finding] = report_for(kb_frameworks, machine(python="3.10.14"))
    assert finding.fix == "pip install 'torch==2.14.1'" and "3.10" in finding.problem
    fake_packages(torch="2.13.0+cpu")  # an older release that still supported 3.10
    assert report_for(kb_frameworks, machine(python="3.10.14")) == []
    fake_packages(Theano="1.0.5", numpy="1.23.5")
    [theano] = report_for(kb_frameworks, machine(python="3.12.3"))
    assert theano.fix.startswith("use Python 3.11")


def test_two_builds_of_one_framework(kb_frameworks, fake_packages):
    fake_packages(tensorflow="2.21.0", tensorflow_cpu="2.21.0")
    [finding] = report_for(kb_frameworks, machine())
    assert finding.fix.startswith("pip uninstall -y tensorflow tensorflow-cpu && ")


def test_cuda_build_newer_than_the_driver(kb_frameworks, fake_packages):
    old_driver = Accelerator("nvidia-gpu", "NVIDIA GeForce RTX 3060", 12288, "470.182.03", "CUDA 11.4", "nvidia-smi")
    fake_packages(torch="2.9.0+cu128")
    [finding] = report_for(kb_frameworks, machine(old_driver))
    assert finding.severity == "error" and "CUDA 12" in finding.problem


def test_cuda_torch_without_a_gpu_and_tf_without_cuda_libraries(kb_frameworks, fake_packages):
    fake_packages(torch=FakeDist("2.8.0", ["nvidia-cuda-runtime-cu12==12.8.90"]))
    [finding] = report_for(kb_frameworks, machine())
    assert finding.severity == "info" and finding.fix.startswith("pip uninstall -y torch && ")
    fake_packages(tensorflow="2.21.0")
    [finding] = report_for(kb_frameworks, machine(H100))
    assert finding.severity == "info" and "and-cuda" in finding.fix


def test_driver_missing_and_module_without_metadata(kb_frameworks, fake_packages, tmp_path, monkeypatch):
    fake_packages()
    (tmp_path / "caffe").mkdir()
    (tmp_path / "caffe" / "__init__.py").write_text("raise SystemExit('caffe was imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    installed = doctor.installed_frameworks({"caffe": kb_frameworks["caffe"]})
    assert [(i.framework, i.version) for i in installed] == [("caffe", "unknown")]
    assert "no package metadata" in installed[0].packages[0].build.label
    pci_only = Accelerator("nvidia-gpu", "NVIDIA GPU (driver not working)", source="PCI bus")
    findings = doctor.analyse(machine(pci_only), [], kb_frameworks, {})
    assert "nvidia-smi" in findings[0].problem


# --- install commands and hardware ids -------------------------------------------------------


def test_install_command_for_the_detected_hardware(kb_frameworks):
    torch = doctor.install_command(kb_frameworks["pytorch"], "pytorch", ["cpu", "nvidia-gpu"], "3.12")
    cuda = kb_frameworks["pytorch"].install_command("nvidia-gpu")
    assert (torch.hardware, torch.command) == ("nvidia-gpu", cuda)
    tf = doctor.install_command(kb_frameworks["tensorflow"], "tensorflow", ["cpu", "amd-gpu"], "3.12")
    assert tf.hardware == "cpu" and "no amd-gpu install" in tf.note
    jax = doctor.install_command(kb_frameworks["jax"], "jax", ["cpu"], "3.11")
    assert "0.10.2" in jax.note


@pytest.mark.parametrize(
    ("command", "major"),
    [
        ("pip3 install torch torchvision --index-url https://download.pytorch.org/whl/cu130", 13),
        ('pip install -U "jax[cuda13]"', 13),
        ("python -m pip install paddlepaddle-gpu -i https://www.paddlepaddle.org.cn/packages/stable/cu126/", 12),
        ("pip install mxnet-cu112", 11),
        ("apt-get install caffe-cuda", None),
        ("pip install mindspore  # install CUDA 11.1 or 11.6 and cuDNN separately", None),
    ],
)
def test_command_cuda_major(command, major):
    assert doctor.command_cuda_major(command) == major


def test_install_note_when_the_driver_is_older_than_the_build(kb_frameworks):
    torch = doctor.install_command(kb_frameworks["pytorch"], "pytorch", ["cpu", "nvidia-gpu"], "3.12", "12.4")
    assert "needs a driver for CUDA 13" in torch.note
    mxnet = doctor.install_command(kb_frameworks["mxnet"], "mxnet", ["cpu", "nvidia-gpu"], "3.11", "12.4")
    assert "driver" not in mxnet.note


def test_detected_hardware_ids():
    assert hardware.detected_hardware_ids([]) == ["cpu"]
    tpu = Accelerator("tpu", "v5litepod-8")
    assert hardware.detected_hardware_ids([tpu, MI300, H100, H100]) == ["cpu", "nvidia-gpu", "amd-gpu", "tpu"]
    assert hardware.detected_hardware_ids(machine(H100)) == ["cpu", "nvidia-gpu"]


def test_tpu_evidence(tmp_path):
    assert hardware.detect_tpu({}, tmp_path) is None
    assert hardware.detect_tpu({"TPU_ACCELERATOR_TYPE": "v5litepod-8"}, tmp_path).name == "v5litepod-8"
    (tmp_path / "accel").mkdir()  # the kernel accel subsystem's folder (other NPUs): not a TPU
    assert hardware.detect_tpu({}, tmp_path) is None
    for node in ("accel0", "accel1", "accel2", "accel3"):
        (tmp_path / node).write_text("")
    assert hardware.detect_tpu({}, tmp_path).name == "Google Cloud TPU (4 chips)"
    google_nic, google_tpu = ("0x1ae0", "0x020000"), ("0x1ae0", "0x120000")
    assert hardware.detect_tpu({}, tmp_path / "none", [google_nic]) is None
    assert hardware.detect_tpu({}, tmp_path / "none", [google_nic, google_tpu]) is not None


# --- vendor tools run for real (fake executables on PATH) ------------------------------------


@pytest.fixture
def fake_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An `nvidia-smi` on PATH that prints the recorded outputs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "query.csv").write_text(fixture("nvidia-smi-query.csv"))
    (bin_dir / "plain.txt").write_text(fixture("nvidia-smi.txt"))
    script = bin_dir / "nvidia-smi"
    script.write_text(
        f'#!/bin/sh\ncase "$1" in --query-gpu*) cat "{bin_dir}/query.csv";; *) cat "{bin_dir}/plain.txt";; esac\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def test_detect_accelerators_runs_the_tools(fake_nvidia_smi):
    accelerators, probes, _ = hardware.detect_accelerators(timeout=10, env={})
    nvidia = [a for a in accelerators if a.kind == "nvidia-gpu"]
    assert [(a.name, a.runtime) for a in nvidia] == [("NVIDIA H100 80GB HBM3", "CUDA 12.4")] * 2
    status = {p.tool: p.status for p in probes}
    assert status["nvidia-smi"] == "ok" and status["npu-smi"] == "not found"
    assert hardware.quick_hardware_ids()[:2] == ["cpu", "nvidia-gpu"]


def test_run_tools_times_out_and_reports_failures(tmp_path, monkeypatch):
    for name, body in (("slow-tool", "sleep 5"), ("bad-tool", "echo broken >&2; exit 3")):
        path = tmp_path / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    results = hardware.run_tools({"slow": ["slow-tool"], "bad": ["bad-tool"], "none": ["no-such-tool-here"]}, 0.3)
    assert results["slow"][0].startswith("timed out")
    assert results["bad"][0] == "failed (exit 3): broken"
    assert results["none"] == ("not found", "")


def test_quick_hardware_ids_never_fails(monkeypatch):
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("nvidia-smi exploded")

    monkeypatch.setattr(hardware, "detect_accelerators", broken)
    assert hardware.quick_hardware_ids() == ["cpu"]
    monkeypatch.setenv("DLPICK_NO_DETECT", "1")
    assert hardware.quick_hardware_ids() == ["cpu"]


def test_questionnaire_prefills_the_detected_hardware(monkeypatch):
    import questionary

    from dlpick.cli import questionnaire
    from dlpick.kb import knowledge

    class Prompt:
        def __init__(self, default: Any) -> None:
            self.default = default

        def unsafe_ask(self) -> Any:
            return self.default

    def checkbox(message: str, choices: list[Any], **kwargs: Any) -> Prompt:
        return Prompt([c.value for c in choices if c.checked])

    monkeypatch.setattr(questionary, "select", lambda message, choices, **kw: Prompt(choices[0].value))
    monkeypatch.setattr(questionary, "checkbox", checkbox)
    monkeypatch.setattr(questionary, "text", lambda message, default="", **kw: Prompt(default))
    monkeypatch.setattr(questionary, "confirm", lambda message, default=False, **kw: Prompt(default))
    monkeypatch.setattr(hardware, "quick_hardware_ids", lambda: ["cpu", "nvidia-gpu"])
    vocabulary = knowledge.load().vocabulary
    assert questionnaire.ask(vocabulary, {})["hardware"] == ["cpu", "nvidia-gpu"]
    assert questionnaire.ask(vocabulary, {"hardware": ["tpu"]})["hardware"] == ["tpu"]


# --- the command ----------------------------------------------------------------------------


def test_doctor_json_here():
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {
        "machine",
        "accelerators",
        "hardware_ids",
        "probes",
        "libraries",
        "frameworks",
        "findings",
        "install",
        "knowledge",
    }
    assert data["hardware_ids"][0] == "cpu"
    assert data["machine"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert {entry["framework"] for entry in data["install"]} >= {"pytorch", "tensorflow", "jax"}
    for finding in data["findings"]:
        assert set(finding) == {"severity", "framework", "problem", "fix"} and finding["fix"]


def test_doctor_flags_cpu_torch_when_nvidia_smi_finds_a_gpu(fake_nvidia_smi, fake_packages):
    fake_packages(torch="2.13.0+cpu", numpy="2.4.6")
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["hardware_ids"][:2] == ["cpu", "nvidia-gpu"]
    assert [f["framework"] for f in data["findings"]] == ["pytorch"]
    assert next(i for i in data["install"] if i["framework"] == "pytorch")["hardware"] == "nvidia-gpu"


def squeezed(text: str) -> str:
    return " ".join(text.split())


def test_doctor_tables_show_the_values(fake_nvidia_smi, fake_packages, monkeypatch):
    """The tables print what doctor found: the recorded GPUs, the fake torch build, the finding, each install
    command, and the knowledge date, one table row per line (a wide terminal), each the same as --json says."""
    from dlpick.kb import knowledge

    monkeypatch.setenv("COLUMNS", "1000")
    fake_packages(torch="2.13.0+cpu", numpy="2.4.6")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    lines = [squeezed(line) for line in result.stdout.splitlines()]
    data = json.loads(runner.invoke(app, ["doctor", "--json"]).stdout)
    for heading in ("Machine", "Accelerators", "Installed frameworks", "Problems"):
        assert heading in lines
    m = data["machine"]
    assert m["python"] == ".".join(map(str, sys.version_info[:3])) and m["python_executable"] == sys.executable
    venv = "virtual environment" if m["virtualenv"] else "not in a virtual environment"
    for row in (
        f"system {m['os']} {m['os_release']} ({m['arch']})",
        f"python {m['python']} at {m['python_executable']} ({venv})",
        "numpy 2.4.6",
        "hardware ids cpu, nvidia-gpu",
    ):
        assert row in lines, row
    # The two recorded H100s: 81559 MiB is 79.6 GiB; driver and CUDA version from nvidia-smi.
    h100 = "nvidia-gpu NVIDIA H100 80GB HBM3 79.6 GiB 550.54.15 CUDA 12.4 nvidia-smi"
    assert lines.count(h100) == 2
    assert "checked " + ", ".join(f"{p['tool']}: {p['status']}" for p in data["probes"]) in lines
    assert "pytorch torch 2.13.0+cpu CPU only cpu" in lines
    # The finding: the CPU-only torch on a machine with an NVIDIA GPU, and its fix.
    (finding,) = data["findings"]
    assert finding["problem"].startswith("PyTorch 2.13.0+cpu is a CPU-only build") and "cu1" in finding["fix"]
    assert squeezed(f"{finding['severity']} pytorch {finding['problem']} {finding['fix']}") in lines
    assert "No problems found." not in lines
    # Every install command, for the GPU, with its note.
    assert "Install commands for this machine (cpu, nvidia-gpu)" in lines
    assert sorted(entry["framework"] for entry in data["install"]) == sorted(knowledge.load().frameworks)
    for entry in data["install"]:
        note = "; ".join(
            p for p in (f"installed {entry['installed']}" if entry["installed"] else "", entry["note"]) if p
        )
        label = f"{entry['framework']} ({entry['hardware']})"
        command = f"$ {entry['command']}" if entry["command"] else "-"
        rows = [squeezed(f"{label} {note}"), squeezed(command)] if note else [squeezed(f"{label} {command}")]
        at = lines.index(rows[0])
        assert lines[at : at + len(rows)] == rows, rows
    (pytorch,) = [line for line in lines if line.startswith("pytorch (nvidia-gpu)")]
    assert "installed 2.13.0+cpu" in pytorch
    kb = knowledge.load()
    assert data["knowledge"] == {"as_of": kb.as_of, "version": kb.version}
    footer = f"Knowledge as of {kb.as_of} ({kb.version}); `dlpick show FRAMEWORK` lists the sources."
    assert lines[-1] == footer


def test_doctor_help_and_bad_knowledge_folder(tmp_path):
    help_text = runner.invoke(app, ["doctor", "--help"]).stdout
    assert "dlpick doctor --json" in help_text and "(env: DLPICK_KNOWLEDGE)" in help_text
    result = runner.invoke(app, ["doctor", "--knowledge", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "knowledge folder not found" in result.stderr


def test_doctor_json_loads_no_framework(tmp_path, trap):
    proc, modules = probe(["doctor", "--json"], trap, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["install"]
    assert not modules & set(FRAMEWORK_MODULES)
    assert not modules & {"rich", "questionary"}


def test_python_m_dlpick_doctor_imports_no_framework(tmp_path, trap):
    env = {**os.environ, "PYTHONPATH": f"{trap}{os.pathsep}{ROOT}", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dlpick", "doctor", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    json.loads(proc.stdout)
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "dlpick" in imported
    assert not imported & set(FRAMEWORK_MODULES)
    assert "rich" not in imported


@pytest.mark.parametrize("columns", ["80", "100"])
def test_commands_and_urls_are_never_split(columns, fake_nvidia_smi, monkeypatch):
    """A narrow terminal wraps prose, never an install command or a URL: each is copied whole from one line."""
    import re

    monkeypatch.setenv("COLUMNS", columns)
    data = json.loads(runner.invoke(app, ["doctor", "--json"]).stdout)
    text = runner.invoke(app, ["doctor"]).stdout
    for entry in data["install"]:
        if entry["command"]:
            assert any(line.rstrip().endswith(f"$ {entry['command']}") for line in text.splitlines()), entry["command"]
    shown = runner.invoke(app, ["show", "pytorch"]).stdout
    monkeypatch.setenv("COLUMNS", "1000")
    wide = runner.invoke(app, ["show", "pytorch"]).stdout
    urls = set(re.findall(r"https?://\S+", wide))
    commands = [line.strip() for line in wide.splitlines() if line.strip().startswith("$ ")]
    assert len(urls) > 20 and len(commands) > 5
    lines = [line.strip() for line in shown.splitlines()]
    for url in urls:
        assert any(url in line for line in lines), url
    for command in commands:
        assert command in lines, command
