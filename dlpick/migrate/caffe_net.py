"""A Caffe deploy net read on the host from its prototxt: inputs, layers (TEST phase), each with its line.

Only what `migrate` needs to refuse early (an unsupported layer, a net without declared inputs) and to
write the PyTorch module; Caffe itself (in its Debian root) loads the net and its weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dlpick.errors import BadInput
from dlpick.migrate import prototxt
from dlpick.migrate.prototxt import Message

SUPPORTED = (
    "Convolution",
    "Deconvolution",
    "Pooling",
    "InnerProduct",
    "ReLU",
    "PReLU",
    "Sigmoid",
    "TanH",
    "LRN",
    "BatchNorm",
    "Scale",
    "Eltwise",
    "Concat",
    "Flatten",
    "Reshape",
    "Dropout",
    "Softmax",
)
# V1 nets (`layers { type: CONVOLUTION }`): Caffe upgrades them; these are the ones migrate knows.
V1_TYPES = {
    "CONVOLUTION": "Convolution",
    "DECONVOLUTION": "Deconvolution",
    "POOLING": "Pooling",
    "INNER_PRODUCT": "InnerProduct",
    "RELU": "ReLU",
    "SIGMOID": "Sigmoid",
    "TANH": "TanH",
    "LRN": "LRN",
    "ELTWISE": "Eltwise",
    "CONCAT": "Concat",
    "FLATTEN": "Flatten",
    "DROPOUT": "Dropout",
    "SOFTMAX": "Softmax",
}


@dataclass
class Layer:
    name: str
    type: str
    bottoms: list[str]
    tops: list[str]
    params: Message
    line: int


@dataclass
class Net:
    name: str
    source: Path
    inputs: dict[str, tuple[int, ...] | None] = field(default_factory=dict)  # blob -> declared shape
    input_lines: dict[str, int] = field(default_factory=dict)
    layers: list[Layer] = field(default_factory=list)


def _in_test_phase(layer: Message) -> bool:
    """Caffe's NetStateRule for a TEST net: an `include` must allow TEST, an `exclude` must not name it."""
    includes = [rule for rule in layer.all("include") if isinstance(rule, Message)]
    excludes = [rule for rule in layer.all("exclude") if isinstance(rule, Message)]
    if includes and not any(rule.get("phase", "TEST") == "TEST" for rule in includes):
        return False
    return not any(rule.get("phase") == "TEST" for rule in excludes)


def _shape(message: Message) -> tuple[int, ...]:
    return tuple(int(d) for d in message.all("dim"))


def load(path: Path) -> Net:
    """The net in `path`; BadInput naming the file and line for a syntax error or an unsupported layer."""
    root = prototxt.read(path)
    try:
        return _load(path, root)
    except (TypeError, ValueError) as exc:  # a value of the wrong kind: `dim: "x"`, `axis: MAX`
        raise BadInput(f"{path}: a value of the wrong type ({exc})") from None


def _load(path: Path, root: Message) -> Net:
    net = Net(str(root.get("name", path.stem)), path)
    # Legacy inputs: `input: "data"` with `input_shape { dim: ... }` or four `input_dim`s.
    legacy = [str(name) for name in root.all("input")]
    shapes = [_shape(s) for s in root.all("input_shape") if isinstance(s, Message)]
    dims = [int(d) for d in root.all("input_dim")]
    for number, name in enumerate(legacy):
        shape = shapes[number] if number < len(shapes) else None
        if shape is None and len(dims) >= 4 * (number + 1):
            shape = tuple(dims[4 * number : 4 * number + 4])
        net.inputs[name] = shape
        net.input_lines[name] = root.line_of("input")
    kinds = [key for key, _, _ in root.fields if key in ("layer", "layers")]
    if "layer" in kinds and "layers" in kinds:
        raise BadInput(f"{path}:{root.line_of('layers')}: mixes `layer` and V1 `layers` entries")
    for key, layer, line in root.fields:
        if key not in ("layer", "layers") or not isinstance(layer, Message) or not _in_test_phase(layer):
            continue
        name = str(layer.get("name", f"layer{len(net.layers)}"))
        kind = str(layer.get("type", ""))
        if key == "layers":
            kind = V1_TYPES.get(kind, kind)
        bottoms, tops = [str(b) for b in layer.all("bottom")], [str(t) for t in layer.all("top")]
        if kind == "Input":
            param = layer.msg("input_param")
            shapes = [_shape(s) for s in param.all("shape") if isinstance(s, Message)]
            for number, top in enumerate(tops):
                net.inputs[top] = shapes[min(number, len(shapes) - 1)] if shapes else None
                net.input_lines[top] = line
            continue
        if kind not in SUPPORTED:
            what = f"type '{kind}'" if kind else "no type"
            raise BadInput(
                f"{path}:{line}: layer '{name}' has {what}, which `migrate caffe` does not support "
                f"(supported: {', '.join(SUPPORTED)})"
            )
        if len(tops) != 1:
            raise BadInput(f"{path}:{line}: layer '{name}' ({kind}) has {len(tops)} tops; migrate supports one")
        wanted = 2 if kind in ("Eltwise", "Concat") else 1
        if len(bottoms) < wanted or (kind not in ("Eltwise", "Concat", "Scale") and len(bottoms) != 1):
            raise BadInput(f"{path}:{line}: layer '{name}' ({kind}) has {len(bottoms)} bottoms")
        _check_options(path, name, kind, layer, line)
        net.layers.append(Layer(name, kind, bottoms, tops, layer, line))
    if not net.inputs:
        raise BadInput(f"{path}: declares no input (an Input layer or `input:`): migrate needs a deploy net")
    if not net.layers:
        raise BadInput(f"{path}: has no layers to migrate")
    return net


def _check_options(path: Path, name: str, kind: str, layer: Message, line: int) -> None:
    """Options of a supported layer that migrate does not translate: refused, not silently dropped."""
    problem = ""
    if kind == "Pooling" and layer.msg("pooling_param").get("pool", "MAX") not in ("MAX", "AVE", 0, 1):
        problem = "STOCHASTIC pooling"
    elif kind in ("Convolution", "Deconvolution") and layer.msg("convolution_param").get("axis", 1) != 1:
        problem = "a convolution axis other than 1"
    elif kind == "Scale" and len(layer.all("bottom")) > 1 and layer.msg("scale_param").get("bias_term", False):
        problem = "a Scale of two bottoms with a bias"
    elif kind == "BatchNorm" and layer.msg("batch_norm_param").get("use_global_stats", True) in (False, "false"):
        problem = "use_global_stats: false (statistics of each batch at inference, not the stored ones)"
    elif kind == "InnerProduct" and layer.msg("inner_product_param").get("axis", 1) < 0:
        problem = "a negative InnerProduct axis"
    if problem:
        raise BadInput(f"{path}:{line}: layer '{name}' uses {problem}, which `migrate caffe` does not support")
