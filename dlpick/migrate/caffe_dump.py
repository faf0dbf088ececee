"""Run inside the Caffe environment (Debian bullseye's python3-caffe, Python 3.9), never imported by dlpick.

    python3 caffe_dump.py WORK

WORK holds net.prototxt, model.caffemodel, inputs.npz (one array per input blob and case, keyed
"CASE/INPUT" by index in request.json) and request.json. The script checks that the caffemodel
fits the net (Caffe itself would keep random weights for a missing layer, or abort on a shape
mismatch), then writes params.npz (every parameter blob), blobs.npz (every layer's top blobs per
case, run one layer at a time) and result.json. A problem with the user's files ends it with status
2 and {"error": {"file": "prototxt"|"caffemodel", "message": ...}} in result.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np  # noqa: E402


def _fail(work: str, which: str, message: str) -> None:
    with (Path(work) / "result.json").open("w") as handle:
        json.dump({"error": {"file": which, "message": message}}, handle)
    sys.exit(2)


def _blob_shape(blob) -> tuple:
    if blob.HasField("shape"):
        return tuple(int(d) for d in blob.shape.dim)
    legacy = [blob.num, blob.channels, blob.height, blob.width]
    return tuple(int(d) for d in legacy)


def _squeezed(shape: tuple) -> tuple:
    shape = tuple(shape)
    while len(shape) > 1 and shape[0] == 1:
        shape = shape[1:]
    return shape


def _check_model(work: str, net, caffe_pb2) -> None:
    model = caffe_pb2.NetParameter()
    try:
        with (Path(work) / "model.caffemodel").open("rb") as handle:
            model.ParseFromString(handle.read())
    except Exception as exc:  # noqa: BLE001 - any decode error means the same to the user
        _fail(work, "caffemodel", f"not a binary Caffe model (NetParameter): {str(exc)[:200]}")
    stored = {}
    for layer in list(model.layer) + list(model.layers):
        if len(layer.blobs):
            stored[layer.name] = [_blob_shape(b) for b in layer.blobs]
    needed = {name: [tuple(b.data.shape) for b in blobs] for name, blobs in net.params.items()}
    if needed and not set(needed) & set(stored):
        _fail(
            work,
            "caffemodel",
            f"holds weights for none of the net's {len(needed)} layers with parameters "
            f"(it has {', '.join(sorted(stored)[:5]) or 'no weights at all'}): the weights of another net?",
        )
    for name, shapes in needed.items():
        if name not in stored:
            _fail(work, "caffemodel", f"has no weights for layer '{name}' of the prototxt")
        have = stored[name]
        if len(have) != len(shapes):
            _fail(
                work,
                "caffemodel",
                f"layer '{name}' has {len(have)} parameter blobs, the prototxt's needs {len(shapes)}",
            )
        for index, (got, want) in enumerate(zip(have, shapes)):  # noqa: B905 (Python 3.9)
            if _squeezed(got) != _squeezed(want):
                _fail(work, "caffemodel", f"layer '{name}' blob {index} has shape {got}, the prototxt's needs {want}")


def main(work: str) -> None:
    with (Path(work) / "request.json").open() as handle:
        request = json.load(handle)
    import caffe
    from caffe.proto import caffe_pb2
    from google.protobuf import text_format

    caffe.set_mode_cpu()
    with (Path(work) / "net.prototxt").open() as handle:
        try:
            text_format.Merge(handle.read(), caffe_pb2.NetParameter())
        except text_format.ParseError as exc:
            _fail(work, "prototxt", f"Caffe cannot read it: {exc}")
    net = caffe.Net(str(Path(work) / "net.prototxt"), caffe.TEST)  # a bad net aborts here (glog)
    _check_model(work, net, caffe_pb2)
    net.copy_from(str(Path(work) / "model.caffemodel"))

    params: dict = {}
    param_index: list = []
    for name, layer_blobs in net.params.items():
        for number, blob in enumerate(layer_blobs):
            key = f"p{len(param_index)}"
            params[key] = blob.data.copy()
            param_index.append([name, number, key])
    np.savez(str(Path(work) / "params.npz"), **params)

    names = list(net._layer_names)
    types = [layer.type for layer in net.layers]
    inputs = np.load(str(Path(work) / "inputs.npz"))
    blobs: dict = {}
    blob_index: list = []
    for case_number, case in enumerate(request["cases"]):
        for input_number, name in enumerate(net.inputs):
            value = inputs[f"c{case_number}i{input_number}"]
            net.blobs[name].reshape(*value.shape)
        net.reshape()
        for input_number, name in enumerate(net.inputs):
            net.blobs[name].data[...] = inputs[f"c{case_number}i{input_number}"]
        for layer_number, name in enumerate(names):
            if types[layer_number] != "Input":
                net._forward(layer_number, layer_number)
            for top in net.top_names[name]:
                key = f"b{len(blob_index)}"
                blobs[key] = net.blobs[top].data.copy()
                blob_index.append([case, name, top, key])
    np.savez(str(Path(work) / "blobs.npz"), **blobs)
    result = {
        "layers": [
            {"name": n, "type": t, "tops": list(net.top_names[n]), "bottoms": list(net.bottom_names[n])}
            for n, t in zip(names, types)  # noqa: B905 (Python 3.9)
        ],
        "inputs": list(net.inputs),
        "outputs": list(net.outputs),
        "shapes": {name: list(blob.data.shape) for name, blob in net.blobs.items()},
        "params": param_index,
        "blobs": blob_index,
        "caffe": getattr(caffe, "__version__", "?"),
    }
    with (Path(work) / "result.json").open("w") as handle:
        json.dump(result, handle)


if __name__ == "__main__":
    main(sys.argv[1])
