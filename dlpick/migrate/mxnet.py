"""`migrate mxnet`: an MXNet symbol (model-symbol.json) and its params to a PyTorch module, its state_dict
and ONNX, proven node by node against MXNet.

MXNet runs in the virtual environment `verify --isolated` builds for MXNet projects (the MXNet
template's requirements.txt; an existing one is reused): `mxnet_dump.py` checks the params fit the
symbol, runs every node on the inputs and exports ONNX with MXNet's own exporter (model.onnx, checked
in ONNX Runtime against MXNet). The PyTorch module is written from the symbol graph (readable, one
attribute per node; onnx2torch is not a dependency of dlpick) and compared node by node.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlpick import processes
from dlpick.errors import BadInput
from dlpick.migrate import core, mxnet_torch, torch_port
from dlpick.verify.envs import EnvError

DUMP = Path(__file__).with_name("mxnet_dump.py")
RUN_TIMEOUT = 1800.0
OnEvent = Callable[[str, Any], None]


@dataclass
class MxnetRequest:
    symbol: Path
    params: Path
    dest: Path
    input_shape: tuple[int, ...] | None = None
    to: str = "pytorch"
    tolerance: float = core.DEFAULT_TOLERANCE
    sample: Path | None = None
    input_name: str = "data"
    seed: int = 0
    rtol: float = core.DEFAULT_RTOL

    @property
    def limits(self) -> core.Tolerance:
        return core.Tolerance(self.tolerance, self.rtol)


def mxnet_env(on_event: OnEvent | None = None) -> Any:
    from dlpick.project.render import templates_dir
    from dlpick.verify import envs

    project = templates_dir() / "mxnet" / "{{cookiecutter.project_slug}}"
    return envs.ensure(envs.spec_for(project, "mxnet"), on_event)


def _check(request: MxnetRequest) -> None:
    if request.to != "pytorch":
        raise BadInput(f"--to {request.to}: an MXNet model migrates to pytorch (with an ONNX export)")
    for path, what in ((request.symbol, "SYMBOL_JSON"), (request.params, "PARAMS")):
        if not path.is_file():
            raise BadInput(f"{path}: no such file ({what})")
    if request.input_shape is None:
        raise BadInput(f"{request.symbol}: an MXNet symbol does not record its input's shape; pass --input-shape")
    request.limits.check()


def _cases(request: MxnetRequest) -> tuple[list[str], list[Any]]:
    import numpy as np

    assert request.input_shape is not None
    rng = np.random.default_rng(request.seed)
    names = [f"random normal inputs (seed {request.seed})"]
    cases = [rng.standard_normal(request.input_shape).astype(np.float32)]
    if request.sample is not None:
        sample = core.load_sample(request.sample, tuple(request.input_shape))
        names.append(f"the sample {request.sample.name}")
        cases.append(sample)
    return names, cases


def _run_mxnet(request: MxnetRequest, cases: list[Any], work: Path, on_event: OnEvent | None) -> dict:
    import numpy as np

    shutil.copyfile(request.symbol, work / "model-symbol.json")
    shutil.copyfile(request.params, work / "model-0000.params")  # mx.onnx reads the epoch from the name
    shutil.copyfile(DUMP, work / DUMP.name)  # run from WORK: beside this module, `import mxnet` would find it
    np.savez(work / "inputs.npz", **{f"c{i}i0": x for i, x in enumerate(cases)})
    assert request.input_shape is not None
    request_json = {"input": request.input_name, "shape": list(request.input_shape), "cases": len(cases)}
    (work / "request.json").write_text(json.dumps(request_json), encoding="utf-8")
    env = mxnet_env(on_event)
    ran = processes.capture([env.python, DUMP.name, str(work)], RUN_TIMEOUT, cwd=work)
    result_file = work / "result.json"
    report = json.loads(result_file.read_text(encoding="utf-8")) if result_file.is_file() else {}
    if "error" in report:
        error = report["error"]
        path = request.symbol if error.get("file") == "symbol" else request.params
        raise BadInput(f"{path}: {error.get('message')}")
    if ran.returncode is None:
        raise EnvError("MXNet timed out", hint="a smaller --input-shape, or a faster machine")
    if ran.returncode != 0 or not report:
        last = (ran.stderr.strip().splitlines() or ["?"])[-1]
        raise BadInput(f"{request.symbol}: MXNet cannot run it with these params: {last[:300]}")
    with np.load(work / "params.npz") as params, np.load(work / "blobs.npz") as blobs:
        report["param_arrays"] = {name: params[key] for name, key in report["params"]}
        report["param_shapes"] = {k: list(v.shape) for k, v in report["param_arrays"].items()}
        report["blob_arrays"] = {(case, name): blobs[key] for case, name, key in report["blobs"]}
    report["blob_ndim"] = {name.rsplit("_output", 1)[0]: a.ndim for (c, name), a in report["blob_arrays"].items()}
    report["blob_ndim"][request.input_name] = len(request.input_shape)
    report["input_name"] = request.input_name
    if (work / "model.onnx").is_file():
        report["onnx_bytes"] = (work / "model.onnx").read_bytes()
    return report


def migrate(request: MxnetRequest, on_event: OnEvent | None = None) -> core.Result:
    """Migrate, prove and place the result in request.dest (a full disk: one line, nothing placed)."""
    with core.disk_errors(request.dest):
        return _migrate(request, on_event)


def _migrate(request: MxnetRequest, on_event: OnEvent | None = None) -> core.Result:
    started = time.monotonic()
    _check(request)
    core.check_dest(request.dest, [request.symbol, request.params])
    graph = mxnet_torch.read_symbol(request.symbol)
    names, cases = _cases(request)
    torch_port.require_torch()
    with tempfile.TemporaryDirectory(prefix="dlpick_migrate_mxnet_") as scratch:
        mxnet_started = time.monotonic()
        report = _run_mxnet(request, cases, Path(scratch), on_event)
        mxnet_seconds = time.monotonic() - mxnet_started
    try:
        generated = mxnet_torch.generate(graph, report, request.input_name, request.symbol.name)
    except BadInput as exc:
        raise BadInput(f"{request.symbol}: {exc}") from None
    with core.staging(request.dest) as stage:
        result = core.Result("mxnet", "pytorch", request.dest, request.limits, inputs=names)
        (stage / "model.py").write_text(generated.source, encoding="utf-8")
        module = torch_port.load_module(stage / "model.py")
        by_node = _params_by_node(graph, report)
        try:
            net = torch_port.build(module, generated.state_dict(by_node))
        except Exception as exc:  # noqa: BLE001 - reported as what it is
            raise BadInput(f"{request.symbol}: the written PyTorch module does not take the params: {exc}") from None
        _prove(result, graph, report, generated, net, cases)
        heads = [graph["nodes"][i]["name"] for i, *_ in graph["heads"]]
        recorded = [
            ([case], [report["blob_arrays"][(number, f"{name}_output")] for name in heads])
            for number, case in enumerate(cases)
        ]
        result.extra["reference"] = core.write_reference(stage, ([request.input_name], heads), recorded)
        result.files = torch_port.save_weights(net, stage)
        _onnx(result, report, net, cases, stage)
        result.notes.append(
            f"ran {request.symbol.name} with {request.params.name} in MXNet {report.get('mxnet', '?')}; wrote "
            "model.py (class Net, load()), model.pt (state_dict) and model.onnx"
        )
        code = generated.source
        result.measures.update(
            {
                "mxnet_seconds": round(mxnet_seconds, 2),
                "symbol_bytes": request.symbol.stat().st_size,
                "model_py_bytes": len(code.encode()),
                "model_py_lines": len(code.splitlines()),
            }
        )
        return core.finish(result, stage, f"MXNet to PyTorch: {request.symbol.name}", started)


def _params_by_node(graph: dict[str, Any], report: dict[str, Any]) -> dict[str, list[Any]]:
    """node name -> its parameter arrays, in the order of its inputs (the filler's order)."""
    nodes, arrays = graph["nodes"], report["param_arrays"]
    found: dict[str, list[Any]] = {}
    for node in nodes:
        if node["op"] != "null":
            found[node["name"]] = [arrays[nodes[i]["name"]] for i, *_ in node["inputs"] if nodes[i]["name"] in arrays]
    return found


def _prove(result: core.Result, graph: dict, report: dict, generated: Any, net: Any, cases: list) -> None:
    blobs = report["blob_arrays"]
    heads = [graph["nodes"][i]["name"] for i, *_ in graph["heads"]]
    outputs, layers = [], []
    for number, case in enumerate(cases):
        outs, recorded = torch_port.run(net, [case], generated.attributes)
        for name, got in zip(heads, outs, strict=True):
            outputs.append(core.compare(name, blobs[(number, f"{name}_output")], got, result.tolerance))
        for node in graph["nodes"]:
            expected = blobs.get((number, f"{node['name']}_output"))
            got = recorded.get(generated.attributes.get(node["name"], ""))
            if expected is not None and got is not None:
                layers.append(core.compare(node["name"], expected, got, result.tolerance, node["op"]))
    result.outputs, result.layers = core.merge(outputs), core.merge(layers)
    result.measures["max_abs_diff"] = max((d.max_abs_diff for d in result.outputs), default=0.0)


def _onnx(result: core.Result, report: dict, net: Any, cases: list, stage: Path) -> None:
    """model.onnx from MXNet's own exporter when ONNX Runtime runs it and it agrees with MXNet; else (the
    exporter fails on some graphs, and is wrong for others, e.g. BatchNorm with fix_gamma) from the PyTorch
    port, when the port agrees, and the report says so."""
    heads = list(report["outputs"])
    names = [name.rsplit("_output", 1)[0] for name in heads]
    expected = [[report["blob_arrays"][(number, head)] for head in heads] for number in range(len(cases))]
    inputs, path = [report["input_name"]], stage / "model.onnx"
    case_inputs = [[case] for case in cases]
    port_agrees = result.passed
    if not report.get("onnx_error") and "onnx_bytes" in report:
        path.write_bytes(report["onnx_bytes"])
        diffs = torch_port.check_onnx(path, inputs, names, case_inputs, expected, result)
        wrong = next((d for d in diffs if not d.passed), None)
        if wrong is None or not port_agrees:
            result.notes.append("model.onnx comes from MXNet's own exporter (mx.onnx.export_model)")
            result.files.append("model.onnx")
            result.outputs = core.merge([*result.outputs, *diffs])
            return
        what = wrong.detail or f"max |diff| {wrong.max_abs_diff:.3g}"
        why = f"MXNet's own ONNX export does not agree with MXNet ({core.shown(wrong.name)}: {what})"
        path.unlink()
    else:
        why = f"MXNet's ONNX exporter failed ({report.get('onnx_error') or 'no model.onnx'})"
    failed = torch_port.export_onnx(net, cases[:1], inputs, names, path)
    if failed:
        result.needs_human.append(f"no ONNX export: {why}, and PyTorch's exporter failed too: {failed}")
        return
    result.notes.append(f"{why}: model.onnx was exported from the PyTorch port instead")
    result.files.append("model.onnx")
    diffs = torch_port.check_onnx(path, inputs, names, case_inputs, expected, result)
    result.outputs = core.merge([*result.outputs, *diffs])
