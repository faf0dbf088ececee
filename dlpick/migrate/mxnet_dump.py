"""Run inside the MXNet environment (mxnet 1.9.1), never imported by dlpick.

    python mxnet_dump.py WORK

WORK holds model-symbol.json, model-0000.params, inputs.npz (c<case>i0) and request.json ({"input": name,
"shape": [...], "cases": n}). Checks that the params fit the symbol (names and shapes), runs the graph
with every node's output, exports ONNX with MXNet's own exporter (mx.onnx.export_model, dynamic batch)
and writes params.npz, blobs.npz, model.onnx and result.json. A problem with the user's files ends it
with status 2 and {"error": {"file": "symbol"|"params", "message": ...}} in result.json.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

# MKLDNN's subgraph backend fuses e.g. Convolution + Activation: the fused node's intermediate outputs
# are then not what the graph says, and the per-node comparison would blame the port for it.
os.environ["MXNET_SUBGRAPH_BACKEND"] = "NONE"

import numpy as np  # noqa: E402


def _fail(work: Path, which: str, message: str) -> None:
    (work / "result.json").write_text(json.dumps({"error": {"file": which, "message": message}}))
    sys.exit(2)


def main(work: Path) -> None:
    request = json.loads((work / "request.json").read_text())
    import mxnet as mx

    try:
        symbol = mx.sym.load(str(work / "model-symbol.json"))
    except Exception as exc:  # noqa: BLE001 - MXNetError or a JSON error: either way not a symbol
        _fail(work, "symbol", f"not an MXNet symbol file: {str(exc).splitlines()[0][:200]}")
    try:
        loaded = mx.nd.load(str(work / "model-0000.params"))
    except Exception as exc:  # noqa: BLE001
        _fail(work, "params", f"not an MXNet params file: {str(exc).splitlines()[0][:200]}")
    if not isinstance(loaded, dict):
        _fail(work, "params", "holds a list of arrays without names; save it with names (export or save_parameters)")
    args: dict = {}
    auxs: dict = {}
    for key, value in loaded.items():
        kind, _, name = key.partition(":")
        if kind in ("arg", "aux") and name:
            (args if kind == "arg" else auxs)[name] = value
        else:
            (auxs if key in symbol.list_auxiliary_states() else args)[key] = value
    data = request["input"]
    labels = [n for n in symbol.list_arguments() if n.endswith("_label")]  # SoftmaxOutput's: unused at inference
    needed_args = [n for n in symbol.list_arguments() if n != data and n not in labels]
    needed_aux = symbol.list_auxiliary_states()
    if data not in symbol.list_arguments():
        _fail(work, "symbol", f"has no input named '{data}' (its inputs: {', '.join(symbol.list_arguments()[:5])})")
    known = set(args) | set(auxs)
    if (needed_args or needed_aux) and not known & set(needed_args + needed_aux):
        _fail(
            work,
            "params",
            f"holds none of the symbol's {len(needed_args) + len(needed_aux)} parameters "
            f"(it has {', '.join(sorted(known)[:4]) or 'nothing'}): the params of another symbol?",
        )
    for name in needed_args + needed_aux:
        if name not in known:
            _fail(work, "params", f"has no value for '{name}' of the symbol")
    try:
        arg_shapes, _, aux_shapes = symbol.infer_shape(**{data: tuple(request["shape"])})
    except Exception as exc:  # noqa: BLE001
        _fail(
            work,
            "symbol",
            f"does not take an input of shape {tuple(request['shape'])}: {str(exc).splitlines()[0][:200]}",
        )
    for names, shapes, values in ((symbol.list_arguments(), arg_shapes, args), (needed_aux, aux_shapes, auxs)):
        for name, shape in zip(names, shapes):  # noqa: B905
            if name != data and name not in labels and tuple(values[name].shape) != tuple(shape):
                _fail(
                    work, "params", f"'{name}' has shape {tuple(values[name].shape)}, the symbol needs {tuple(shape)}"
                )

    params: dict = {}
    param_index: list = []
    for name in needed_args + needed_aux:
        key = f"p{len(param_index)}"
        params[key] = (args[name] if name in args else auxs[name]).asnumpy()
        param_index.append([name, key])
    np.savez(str(work / "params.npz"), **params)

    internals = symbol.get_internals()
    names = [n for n in internals.list_outputs() if not n.endswith(("_weight", "_bias", "_gamma", "_beta"))]
    names = [n for n in names if n not in symbol.list_arguments() and n not in needed_aux]
    names = [n for n in names if n.endswith("_output")]
    group = mx.sym.Group([internals[n] for n in names])
    inputs = np.load(str(work / "inputs.npz"))
    blobs: dict = {}
    blob_index: list = []
    for case in range(request["cases"]):
        value = inputs[f"c{case}i0"]
        bound = {k: mx.nd.array(v.asnumpy()) for k, v in args.items() if k in needed_args}
        bound[data] = mx.nd.array(value)
        shapes = dict(zip(symbol.list_arguments(), symbol.infer_shape(**{data: value.shape})[0]))  # noqa: B905
        bound.update({label: mx.nd.zeros(shapes[label]) for label in labels})
        executor = group.bind(mx.cpu(), args=bound, aux_states={k: auxs[k] for k in needed_aux}, grad_req="null")
        outs = executor.forward(is_train=False)
        for name, out in zip(names, outs):  # noqa: B905
            key = f"b{len(blob_index)}"
            blobs[key] = out.asnumpy()
            blob_index.append([case, name, key])
    np.savez(str(work / "blobs.npz"), **blobs)

    onnx_error = ""
    try:
        import onnx

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mx.onnx.export_model(
                str(work / "model-symbol.json"),
                str(work / "model-0000.params"),
                in_shapes=[tuple(request["shape"])],
                in_types=[np.float32],
                onnx_file_path=str(work / "model.onnx"),
                dynamic=True,
                dynamic_input_shapes=[(None, *request["shape"][1:])],
            )
        proto = onnx.load(str(work / "model.onnx"))  # keep only the real input (not the weights)
        weights = {tensor.name for tensor in proto.graph.initializer}
        real = [value for value in proto.graph.input if value.name not in weights]
        del proto.graph.input[:]
        proto.graph.input.extend(real)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(work / "model.onnx"))
    except Exception as exc:  # noqa: BLE001 - reported, the PyTorch port does not depend on it
        onnx_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
    graph = json.loads((work / "model-symbol.json").read_text())
    result = {
        "nodes": graph["nodes"],
        "heads": graph["heads"],
        "outputs": symbol.list_outputs(),
        "params": param_index,
        "blobs": blob_index,
        "onnx_error": onnx_error,
        "mxnet": mx.__version__,
    }
    (work / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
