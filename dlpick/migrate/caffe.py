"""`migrate caffe`: a Caffe deploy net and its weights to a PyTorch module, its state_dict and ONNX, proven.

Caffe runs in the Debian bullseye root that `verify --isolated` builds for Caffe projects (the Caffe
template's debian-packages.txt names it; an existing one is reused): `caffe_dump.py` loads the user's
net there, checks the weights fit it, and dumps every parameter and every layer's output on the
inputs. dlpick then writes the module, loads the weights into it and compares layer by layer.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlpick import processes
from dlpick.errors import BadInput
from dlpick.migrate import caffe_net, caffe_torch, core, torch_port
from dlpick.verify.envs import EnvError

DUMP = Path(__file__).with_name("caffe_dump.py")
RUN_TIMEOUT = 1800.0
OnEvent = Callable[[str, Any], None]


@dataclass
class CaffeRequest:
    prototxt: Path
    caffemodel: Path
    dest: Path
    to: str = "pytorch"
    tolerance: float = core.DEFAULT_TOLERANCE
    input_shape: tuple[int, ...] | None = None
    sample: Path | None = None
    seed: int = 0
    rtol: float = core.DEFAULT_RTOL

    @property
    def limits(self) -> core.Tolerance:
        return core.Tolerance(self.tolerance, self.rtol)


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise BadInput(f"--input-shape {text[:80]}: expected positive integers separated by commas, e.g. 1,3,224,224")
    return core.check_shape(shape, "--input-shape")


def _check_sources(request: CaffeRequest) -> None:
    if request.to != "pytorch":
        raise BadInput(f"--to {request.to}: a Caffe net migrates to pytorch (with an ONNX export)")
    for path, what in ((request.prototxt, "PROTOTXT"), (request.caffemodel, "CAFFEMODEL")):
        if not path.is_file():
            raise BadInput(f"{path}: no such file ({what})")
    request.limits.check()


def _cases(net: caffe_net.Net, request: CaffeRequest) -> tuple[list[str], list[list[Any]]]:
    """Input cases: random normal inputs of the declared shapes, plus --sample (a .npy, one input)."""
    import numpy as np

    shapes = dict(net.inputs)
    if request.input_shape is not None:
        if len(shapes) != 1:
            raise BadInput(f"--input-shape: the net has {len(shapes)} inputs; declare their shapes in the prototxt")
        shapes = {name: request.input_shape for name in shapes}
    missing = [name for name, shape in shapes.items() if not shape]
    if missing:
        raise BadInput(f"{net.source}: input {missing[0]!r} has no declared shape; pass --input-shape")
    for name, shape in shapes.items():
        core.check_shape(tuple(shape or ()), f"input {name!r}'s shape")
    rng = np.random.default_rng(request.seed)
    names, cases = (
        [f"random normal inputs (seed {request.seed})"],
        [[rng.standard_normal(shape).astype(np.float32) for shape in shapes.values() if shape]],
    )
    if request.sample is not None:
        if len(shapes) != 1:
            raise BadInput("--sample: the net has several inputs; --sample gives one")
        shape = next(iter(shapes.values()))
        assert shape is not None
        sample = core.load_sample(request.sample, tuple(shape))
        names.append(f"the sample {request.sample.name}")
        cases.append([sample])
    return names, cases


def caffe_env(on_event: OnEvent | None = None) -> Any:
    """The Caffe Debian root (built once, cached; the Caffe template documents it)."""
    from dlpick.project.render import templates_dir
    from dlpick.verify import envs

    project = templates_dir() / "caffe" / "{{cookiecutter.project_slug}}"
    return envs.ensure(envs.spec_for(project, "caffe"), on_event)


def _run_caffe(request: CaffeRequest, cases: list[list[Any]], work: Path, on_event: OnEvent | None) -> dict:
    import numpy as np

    shutil.copyfile(request.prototxt, work / "net.prototxt")
    shutil.copyfile(request.caffemodel, work / "model.caffemodel")
    shutil.copyfile(DUMP, work / "caffe_dump.py")
    arrays = {f"c{c}i{i}": x for c, case in enumerate(cases) for i, x in enumerate(case)}
    np.savez(work / "inputs.npz", **arrays)
    (work / "request.json").write_text(json.dumps({"cases": list(range(len(cases)))}), encoding="utf-8")
    env = caffe_env(on_event)
    ran = processes.capture([env.python, "caffe_dump.py", str(work)], RUN_TIMEOUT, cwd=work)
    result_file = work / "result.json"
    report = json.loads(result_file.read_text(encoding="utf-8")) if result_file.is_file() else {}
    if "error" in report:
        error = report["error"]
        path = request.prototxt if error.get("file") == "prototxt" else request.caffemodel
        message = str(error.get("message"))
        if (where := re.match(r"Caffe cannot read it: (\d+):\d+ : (.*)", message)) is not None:
            raise BadInput(f"{path}:{where.group(1)}: {where.group(2)}")
        raise BadInput(f"{path}: {message}")
    if ran.returncode == 125 or ran.returncode is None:
        why = "timed out" if ran.returncode is None else "could not enter the Debian root"
        raise EnvError(f"Caffe's environment {why}: {ran.first_line()}", hint="run as root on Linux (chroot)")
    if ran.returncode != 0 or not report:
        fatal = [line for line in ran.stderr.splitlines() if line.startswith(("F", "E")) and "]" in line]
        last = ran.stderr.strip().splitlines()[-1:] or ["?"]
        text = fatal[-1].split("] ", 1)[-1] if fatal else last[0]
        raise BadInput(f"{request.prototxt}: Caffe cannot build the net: {text[:300]}")
    with np.load(work / "params.npz") as params, np.load(work / "blobs.npz") as blobs:
        report["param_arrays"] = {}
        for layer, _number, key in report["params"]:
            report["param_arrays"].setdefault(layer, []).append(params[key])
        report["param_shapes"] = {k: [list(a.shape) for a in v] for k, v in report["param_arrays"].items()}
        report["blob_arrays"] = {(case, layer, top): blobs[key] for case, layer, top, key in report["blobs"]}
    return report


def migrate(request: CaffeRequest, on_event: OnEvent | None = None) -> core.Result:
    """Migrate, prove and place the result in request.dest (a full disk: one line, nothing placed)."""
    with core.disk_errors(request.dest):
        return _migrate(request, on_event)


def _migrate(request: CaffeRequest, on_event: OnEvent | None = None) -> core.Result:
    """Migrate, prove and place the result in request.dest (see the module's docstring)."""
    started = time.monotonic()
    _check_sources(request)
    core.check_dest(request.dest, [request.prototxt, request.caffemodel])
    net = caffe_net.load(request.prototxt)
    names, cases = _cases(net, request)
    torch_port.require_torch()
    with tempfile.TemporaryDirectory(prefix="dlpick-migrate-caffe-") as scratch:
        caffe_started = time.monotonic()
        report = _run_caffe(request, cases, Path(scratch), on_event)
        caffe_seconds = time.monotonic() - caffe_started
    generated = caffe_torch.generate(net, report, request.prototxt.name)
    with core.staging(request.dest) as stage:
        result = core.Result("caffe", request.to, request.dest, request.limits, inputs=names)
        (stage / "model.py").write_text(generated.source, encoding="utf-8")
        module = torch_port.load_module(stage / "model.py")
        try:
            torch_net = torch_port.build(module, generated.state_dict(report["param_arrays"]))
        except Exception as exc:  # noqa: BLE001 - a generated module that does not take its weights is a bug to report
            raise BadInput(f"{request.prototxt}: the written PyTorch module does not take the weights: {exc}") from None
        _prove(result, net, report, generated, torch_net, cases)
        blobs = report["blob_arrays"]
        recorded = [
            (case, [blobs[(number, _last_writer(report, name), name)] for name in report["outputs"]])
            for number, case in enumerate(cases)
        ]
        names_ = (list(report["inputs"]), list(report["outputs"]))
        result.extra["reference"] = core.write_reference(stage, names_, recorded)
        result.files = torch_port.save_weights(torch_net, stage)
        _onnx(result, report, torch_net, cases, stage)
        result.notes += [
            f"read {request.prototxt.name} and {request.caffemodel.name} with pycaffe in Caffe's Debian root "
            f"({report.get('caffe', '?')}); wrote model.py (class Net, load()), model.pt (state_dict)"
            + (", model.safetensors" if "model.safetensors" in result.files else " (no safetensors: not installed)")
            + " and model.onnx",
            f"{len(net.layers)} layers: "
            + ", ".join(f"{t} x{n}" for t, n in _counts(layer.type for layer in net.layers).items()),
        ]
        if generated.attributes != {name: name for name in generated.attributes}:
            result.needs_human.append("some layer names were not Python identifiers: model.CAFFE_NAMES maps them")
        prototxt_size = request.prototxt.stat().st_size
        code = generated.source
        result.measures.update(
            {
                "seconds": round(time.monotonic() - started, 2),
                "caffe_seconds": round(caffe_seconds, 2),
                "prototxt_bytes": prototxt_size,
                "prototxt_lines": len(request.prototxt.read_text(encoding="utf-8").splitlines()),
                "model_py_bytes": len(code.encode()),
                "model_py_lines": len(code.splitlines()),
            }
        )
        return core.finish(result, stage, f"Caffe to PyTorch: {net.name}", started)


def _counts(items: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def _prove(result: core.Result, net: caffe_net.Net, report: dict, generated: Any, torch_net: Any, cases: list) -> None:
    blobs = report["blob_arrays"]
    outputs, layers = [], []
    for number, case in enumerate(cases):
        outs, recorded = torch_port.run(torch_net, case, generated.attributes)
        for name, got in zip(report["outputs"], outs, strict=True):
            last = _last_writer(report, name)
            outputs.append(core.compare(name, blobs[(number, last, name)], got, result.tolerance))
        for layer in net.layers:
            expected = blobs.get((number, layer.name, layer.tops[0]))
            got = recorded.get(generated.attributes[layer.name])
            if expected is not None and got is not None:
                layers.append(core.compare(layer.name, expected, got, result.tolerance, layer.type))
    result.outputs, result.layers = core.merge(outputs), core.merge(layers)
    result.measures["max_abs_diff"] = max((d.max_abs_diff for d in result.outputs), default=0.0)


def _last_writer(report: dict, blob: str) -> str:
    """The last layer whose top is `blob` (in-place layers write a blob several times)."""
    return [layer["name"] for layer in report["layers"] if blob in layer["tops"]][-1]


def _onnx(result: core.Result, report: dict, torch_net: Any, cases: list, stage: Path) -> None:
    inputs, outputs = list(report["inputs"]), list(report["outputs"])
    why = torch_port.export_onnx(torch_net, cases[0], inputs, outputs, stage / "model.onnx")
    if why:
        result.needs_human.append(f"no ONNX export: {why}")
        return
    blobs = report["blob_arrays"]
    expected = [[blobs[(n, _last_writer(report, name), name)] for name in outputs] for n in range(len(cases))]
    result.outputs = core.merge(
        [*result.outputs, *torch_port.check_onnx(stage / "model.onnx", inputs, outputs, cases, expected, result)]
    )
