"""Fakes of what Caffe and MXNet report to `dlpick migrate`, computed here with NumPy: the migration flows
(writing model.py, loading it, the proof, the ONNX check, the report) then run in seconds without either
framework. A tiny net: input (2, 6) -> fully connected (4 outputs) -> ReLU, with names chosen by the test.

`offsets` plant a wrong original: {case: value} adds `value` to one element of the output on that case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

SHAPE = (2, 6)
RNG = np.random.default_rng(7)
WEIGHT = RNG.standard_normal((4, 6)).astype(np.float32)
BIAS = RNG.standard_normal(4).astype(np.float32)


def forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fully connected, ReLU) of the tiny net."""
    fc = (x.astype(np.float64) @ WEIGHT.T.astype(np.float64) + BIAS).astype(np.float32)
    return fc, np.maximum(fc, 0)


def _planted(value: np.ndarray, offset: float) -> np.ndarray:
    value = value.copy()
    if offset:
        value.reshape(-1)[value.size // 2] += offset
    return value


def quote(text: str) -> str:
    """A protobuf text-format string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def prototxt(net: str = "tiny", fc: str = "fc", relu: str = "relu", blob: str = "fc", extra: str = "") -> str:
    return (
        f"name: {quote(net)}\n"
        'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 6 } } }\n'
        f'layer {{ name: {quote(fc)} type: "InnerProduct" bottom: "data" top: {quote(blob)}\n'
        "  inner_product_param { num_output: 4 } }\n"
        f'layer {{ name: {quote(relu)} type: "ReLU" bottom: {quote(blob)} top: {quote(blob)} }}\n' + extra
    )


def caffe_report(
    fc: str, relu: str, blob: str, cases: list[list[np.ndarray]], offsets: dict[int, float] | None = None
) -> dict[str, Any]:
    """What caffe.py's _run_caffe returns for the tiny net (ReLU in place, as Caffe nets write it)."""
    blobs: dict[tuple[int, str, str], np.ndarray] = {}
    for number, (x,) in enumerate(cases):
        dense, out = forward(x)
        blobs[(number, "data", "data")] = x
        blobs[(number, fc, blob)] = dense
        blobs[(number, relu, blob)] = _planted(out, (offsets or {}).get(number, 0.0))
    return {
        "layers": [
            {"name": "data", "type": "Input", "tops": ["data"], "bottoms": []},
            {"name": fc, "type": "InnerProduct", "tops": [blob], "bottoms": ["data"]},
            {"name": relu, "type": "ReLU", "tops": [blob], "bottoms": [blob]},
        ],
        "inputs": ["data"],
        "outputs": [blob],
        "shapes": {"data": list(SHAPE), blob: [SHAPE[0], 4]},
        "param_arrays": {fc: [WEIGHT, BIAS]},
        "param_shapes": {fc: [list(WEIGHT.shape), list(BIAS.shape)]},
        "blob_arrays": blobs,
        "caffe": "fake",
    }


def fake_caffe(monkeypatch: Any, names: dict[str, str] | None = None, offsets: dict[int, float] | None = None) -> None:
    """caffe._run_caffe answers from NumPy; names: fc, relu, blob (as in the prototxt)."""
    from dlpick.migrate import caffe

    chosen = {"fc": "fc", "relu": "relu", "blob": "fc", **(names or {})}

    def run(request: Any, cases: list, work: Path, on_event: Any) -> dict[str, Any]:
        return caffe_report(chosen["fc"], chosen["relu"], chosen["blob"], cases, offsets)

    monkeypatch.setattr(caffe, "_run_caffe", run)


def symbol(fc: str = "fc", relu: str = "relu", input_name: str = "data") -> dict[str, Any]:
    """The tiny net as an MXNet symbol (model-symbol.json)."""
    return {
        "nodes": [
            {"op": "null", "name": input_name, "inputs": []},
            {"op": "null", "name": f"{fc}_weight", "inputs": []},
            {"op": "null", "name": f"{fc}_bias", "inputs": []},
            {
                "op": "FullyConnected",
                "name": fc,
                "attrs": {"num_hidden": "4"},
                "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]],
            },
            {"op": "Activation", "name": relu, "attrs": {"act_type": "relu"}, "inputs": [[3, 0, 0]]},
        ],
        "arg_nodes": [0, 1, 2],
        "heads": [[4, 0, 0]],
    }


def mxnet_report(
    graph: dict[str, Any],
    cases: list[np.ndarray],
    input_name: str = "data",
    offsets: dict[int, float] | None = None,
    onnx: bytes | None = None,
) -> dict[str, Any]:
    """What mxnet.py's _run_mxnet returns for the tiny net; `onnx`: MXNet's exported model.onnx (None: none)."""
    fc, relu = graph["nodes"][3]["name"], graph["nodes"][4]["name"]
    blobs: dict[tuple[int, str], np.ndarray] = {}
    for number, x in enumerate(cases):
        dense, out = forward(x)
        blobs[(number, f"{fc}_output")] = dense
        blobs[(number, f"{relu}_output")] = _planted(out, (offsets or {}).get(number, 0.0))
    params = {f"{fc}_weight": WEIGHT, f"{fc}_bias": BIAS}
    report: dict[str, Any] = {
        "nodes": graph["nodes"],
        "heads": graph["heads"],
        "outputs": [f"{relu}_output"],
        "param_arrays": params,
        "param_shapes": {k: list(v.shape) for k, v in params.items()},
        "blob_arrays": blobs,
        "blob_ndim": {fc: 2, relu: 2, input_name: 2},
        "input_name": input_name,
        "onnx_error": "" if onnx is not None else "RuntimeError: the fake has no exporter",
        "mxnet": "fake",
    }
    if onnx is not None:
        report["onnx_bytes"] = onnx
    return report


def fake_mxnet(monkeypatch: Any, offsets: dict[int, float] | None = None, onnx: bytes | None = None) -> None:
    """mxnet._run_mxnet answers from NumPy (the symbol is read from the request's file)."""
    from dlpick.migrate import mxnet

    def run(request: Any, cases: list, work: Path, on_event: Any) -> dict[str, Any]:
        graph = json.loads(request.symbol.read_text(encoding="utf-8"))
        return mxnet_report(graph, cases, request.input_name, offsets, onnx)

    monkeypatch.setattr(mxnet, "_run_mxnet", run)


def onnx_model(shift: float = 0.0, outputs: int = 1, input_name: str = "data") -> bytes:
    """An ONNX model of the tiny net (+ `shift` on every output: an exporter that is wrong), `outputs` copies."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Gemm", [input_name, "w", "b"], ["dense"], transB=1),
        helper.make_node("Relu", ["dense"], ["relu"]),
        helper.make_node("Add", ["relu", "shift"], ["out0"]),
    ]
    nodes += [helper.make_node("Identity", ["out0"], [f"out{i}"]) for i in range(1, outputs)]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", 6])],
        [helper.make_tensor_value_info(f"out{i}", TensorProto.FLOAT, ["batch", 4]) for i in range(outputs)],
        [
            numpy_helper.from_array(WEIGHT, "w"),
            numpy_helper.from_array(BIAS, "b"),
            numpy_helper.from_array(np.full(4, shift, np.float32), "shift"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def write_mxnet_files(folder: Path, graph: dict[str, Any] | str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sym, params = folder / "model-symbol.json", folder / "model-0000.params"
    sym.write_text(graph if isinstance(graph, str) else json.dumps(graph), encoding="utf-8")
    params.write_bytes(b"fake params")
    return sym, params


def write_caffe_files(folder: Path, text: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    proto, model = folder / "deploy.prototxt", folder / "model.caffemodel"
    proto.write_text(text, encoding="utf-8")
    model.write_bytes(b"fake weights")
    return proto, model
