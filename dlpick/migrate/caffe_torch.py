"""Writes a readable PyTorch module for a Caffe net: one attribute per Caffe layer, named after it.

`generate` needs the net (from the prototxt) and what Caffe reported after loading it (the shapes of the
parameter blobs and of every blob); it returns the source and how each Caffe blob fills the state_dict.
Caffe's semantics that differ from PyTorch's defaults are kept explicitly: pooling rounds up (ceil_mode)
and average pooling divides by the window clipped to the padded input (count_include_pad); InnerProduct
flattens from its axis; BatchNorm stores its statistics multiplied by a scale factor (divided out here).
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlpick.errors import BadInput
from dlpick.migrate.caffe_net import Layer, Net
from dlpick.migrate.prototxt import Message

RESERVED = {"self", "torch", "nn", "F", "forward", "training", "eval", "train", "type", "float", "double", "half"}

HELPERS = {
    "Scale": '''
class Scale(nn.Module):
    """Caffe's Scale: multiplies by a learned blob (or by a second input) spanning `axis`.., plus a bias."""

    def __init__(self, shape: tuple[int, ...], axis: int, bias: bool, learned: bool = True) -> None:
        super().__init__()
        self.axis = axis
        self.weight = nn.Parameter(torch.ones(shape)) if learned else None
        self.bias = nn.Parameter(torch.zeros(shape)) if bias else None

    def _spread(self, value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        trailing = x.dim() - self.axis - value.dim()
        return value.reshape(*([1] * self.axis), *value.shape, *([1] * trailing))

    def forward(self, x: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        factor = scale if scale is not None else self.weight
        y = x * self._spread(factor, x)
        return y + self._spread(self.bias, x) if self.bias is not None else y
''',
    "Eltwise": '''
class Eltwise(nn.Module):
    """Caffe's Eltwise: SUM (with coefficients), PROD or MAX of its inputs."""

    def __init__(self, operation: str, coeffs: tuple[float, ...] = ()) -> None:
        super().__init__()
        self.operation, self.coeffs = operation, coeffs

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        if self.operation == "PROD":
            y = xs[0]
            for x in xs[1:]:
                y = y * x
            return y
        if self.operation == "MAX":
            y = xs[0]
            for x in xs[1:]:
                y = torch.maximum(y, x)
            return y
        coeffs = self.coeffs or (1.0,) * len(xs)
        y = xs[0] * coeffs[0] if coeffs[0] != 1.0 else xs[0]
        for c, x in zip(coeffs[1:], xs[1:]):
            y = y + (x * c if c != 1.0 else x)
        return y
''',
    "Concat": '''
class Concat(nn.Module):
    """Caffe's Concat along `axis`."""

    def __init__(self, axis: int) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return torch.cat(xs, dim=self.axis)
''',
    "Reshape": '''
class Reshape(nn.Module):
    """Caffe's Reshape: dims 0 copy the input's, -1 is inferred; replaces axes axis..axis+num_axes."""

    def __init__(self, dims: tuple[int, ...], axis: int = 0, num_axes: int = -1) -> None:
        super().__init__()
        self.dims, self.axis, self.num_axes = dims, axis, num_axes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        start = self.axis if self.axis >= 0 else x.dim() + self.axis + 1
        end = x.dim() if self.num_axes == -1 else start + self.num_axes
        middle = [x.shape[start + i] if d == 0 else d for i, d in enumerate(self.dims)]
        return x.reshape(*x.shape[:start], *middle, *x.shape[end:])
''',
    "WithinChannelLRN": '''
class WithinChannelLRN(nn.Module):
    """Caffe's LRN with norm_region WITHIN_CHANNEL: x / (1 + alpha * mean of x^2 over a size x size window)^beta."""

    def __init__(self, size: int, alpha: float, beta: float) -> None:
        super().__init__()
        self.size, self.alpha, self.beta = size, alpha, beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = (self.size - 1) // 2
        mean = nn.functional.avg_pool2d(x * x, self.size, 1, pad, count_include_pad=True)
        return x * (1 + self.alpha * mean) ** -self.beta
''',
}


@dataclass
class Generated:
    source: str
    attributes: dict[str, str]  # Caffe layer name -> attribute
    fill: dict[str, Callable[[list[np.ndarray]], dict[str, np.ndarray]]] = field(default_factory=dict)

    def state_dict(self, params: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
        """The module's state from Caffe's parameter blobs (layer name -> blobs)."""
        state: dict[str, np.ndarray] = {}
        for layer, fill in self.fill.items():
            for key, value in fill(params.get(layer, [])).items():
                state[f"{self.attributes[layer]}.{key}"] = np.ascontiguousarray(value, dtype=np.float32)
        return state


def identifier(name: str, taken: set[str]) -> str:
    """A Python identifier for a Caffe name: other characters become _, clashes get a suffix."""
    base = re.sub(r"\W", "_", name) or "_"
    if base[0].isdigit():
        base = f"_{base}"
    if keyword.iskeyword(base) or base in RESERVED:
        base = f"{base}_"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    taken.add(candidate)
    return candidate


def _pair(param: Message, name: str, default: int, dims: int) -> tuple[int, ...]:
    """Caffe's kernel_size / pad / stride / dilation: repeated, or NAME_h and NAME_w."""
    base = name.replace("_size", "")
    if param.has(f"{base}_h") or param.has(f"{base}_w"):
        return (int(param.get(f"{base}_h", default)), int(param.get(f"{base}_w", default)))
    values = [int(v) for v in param.all(name)] or [default]
    return tuple(values) if len(values) == dims else (values[0],) * dims


def _layer_code(layer: Layer, blobs: list[tuple[int, ...]], bottom: list[int], helpers: set[str]) -> tuple[str, Any]:
    """(constructor expression, how Caffe's blobs fill the state) for one layer."""
    kind, p = layer.type, layer.params
    if kind in ("Convolution", "Deconvolution"):
        c = p.msg("convolution_param")
        weight = blobs[0]
        dims = len(weight) - 2
        group = int(c.get("group", 1))
        bias = bool(c.get("bias_term", True))
        pad, stride, dilation = (_pair(c, n, d, dims) for n, d in (("pad", 0), ("stride", 1), ("dilation", 1)))
        kernel = tuple(weight[2:])
        if kind == "Convolution":
            ctor = f"nn.Conv{dims}d({weight[1] * group}, {weight[0]}"
        else:
            ctor = f"nn.ConvTranspose{dims}d({weight[0]}, {weight[1] * group}"
        ctor += f", kernel_size={kernel}, stride={stride}, padding={pad}"
        ctor += f"{f', dilation={dilation}' if set(dilation) != {1} else ''}{f', groups={group}' if group != 1 else ''}"
        ctor += f"{'' if bias else ', bias=False'})"
        return ctor, lambda b: {"weight": b[0], **({"bias": b[1].reshape(-1)} if bias else {})}
    if kind == "InnerProduct":
        ip = p.msg("inner_product_param")
        transpose = bool(ip.get("transpose", False))
        bias = bool(ip.get("bias_term", True))
        out = int(ip.get("num_output"))
        count = int(np.prod(blobs[0]))
        ctor = f"nn.Linear({count // out}, {out}{'' if bias else ', bias=False'})"

        def fill(b: list[np.ndarray]) -> dict[str, np.ndarray]:
            w = b[0].reshape((count // out, out) if transpose else (out, count // out))
            return {"weight": w.T if transpose else w, **({"bias": b[1].reshape(-1)} if bias else {})}

        return ctor, fill
    if kind == "Pooling":
        pp = p.msg("pooling_param")
        average = pp.get("pool", "MAX") in ("AVE", 1)
        name = "Avg" if average else "Max"
        dims = len(bottom) - 2
        if pp.get("global_pooling", False):
            return f"nn.Adaptive{name}Pool{dims}d(1)", None
        kernel, stride, pad = (_pair(pp, n, d, dims) for n, d in (("kernel_size", 0), ("stride", 1), ("pad", 0)))
        ceil = pp.get("round_mode", "CEIL") in ("CEIL", 0)
        extra = ", count_include_pad=True" if average else ""
        return f"nn.{name}Pool{dims}d({kernel}, stride={stride}, padding={pad}, ceil_mode={ceil}{extra})", None
    if kind == "ReLU":
        slope = float(p.msg("relu_param").get("negative_slope", 0.0))
        return ("nn.ReLU()" if slope == 0 else f"nn.LeakyReLU({slope!r})"), None
    if kind == "PReLU":
        count = int(np.prod(blobs[0])) if blobs[0] else 1
        return f"nn.PReLU({count})", lambda b: {"weight": b[0].reshape(-1)}
    if kind == "Sigmoid":
        return "nn.Sigmoid()", None
    if kind == "TanH":
        return "nn.Tanh()", None
    if kind == "LRN":
        lrn = p.msg("lrn_param")
        size, alpha, beta = int(lrn.get("local_size", 5)), float(lrn.get("alpha", 1.0)), float(lrn.get("beta", 0.75))
        if lrn.get("norm_region", "ACROSS_CHANNELS") in ("WITHIN_CHANNEL", 1):
            helpers.add("WithinChannelLRN")
            return f"WithinChannelLRN({size}, {alpha!r}, {beta!r})", None
        return f"nn.LocalResponseNorm({size}, alpha={alpha!r}, beta={beta!r}, k={float(lrn.get('k', 1.0))!r})", None
    if kind == "BatchNorm":
        eps = float(p.msg("batch_norm_param").get("eps", 1e-5))
        dims = {2: 1, 3: 1, 4: 2, 5: 3}.get(len(bottom), 2)

        def fill_bn(b: list[np.ndarray]) -> dict[str, np.ndarray]:
            factor = float(b[2].reshape(-1)[0]) if len(b) > 2 else 1.0
            scale = 0.0 if factor == 0 else 1.0 / factor
            return {
                "running_mean": b[0].reshape(-1) * scale,
                "running_var": b[1].reshape(-1) * scale,
                "num_batches_tracked": np.zeros((), np.int64),
            }

        return f"nn.BatchNorm{dims}d({blobs[0][0]}, eps={eps!r}, affine=False)", fill_bn
    if kind == "Scale":
        sp = p.msg("scale_param")
        helpers.add("Scale")
        axis = int(sp.get("axis", 1))
        axis = axis if axis >= 0 else len(bottom) + axis
        bias = bool(sp.get("bias_term", False))
        if len(layer.bottoms) > 1:
            return f"Scale((), {axis}, bias=False, learned=False)", None
        shape = tuple(blobs[0])
        return f"Scale({shape}, {axis}, bias={bias})", lambda b: {
            "weight": b[0].reshape(shape),
            **({"bias": b[1].reshape(shape)} if bias else {}),
        }
    if kind == "Eltwise":
        ep = p.msg("eltwise_param")
        helpers.add("Eltwise")
        operation = {0: "PROD", 1: "SUM", 2: "MAX"}.get(ep.get("operation", "SUM"), ep.get("operation", "SUM"))
        coeffs = tuple(float(c) for c in ep.all("coeff"))
        return f"Eltwise({str(operation)!r}{f', {coeffs}' if coeffs else ''})", None
    if kind == "Concat":
        cp = p.msg("concat_param")
        helpers.add("Concat")
        return f"Concat({int(cp.get('axis', cp.get('concat_dim', 1)))})", None
    if kind == "Flatten":
        fp = p.msg("flatten_param")
        return f"nn.Flatten({int(fp.get('axis', 1))}, {int(fp.get('end_axis', -1))})", None
    if kind == "Reshape":
        rp = p.msg("reshape_param")
        helpers.add("Reshape")
        dims_ = tuple(int(d) for d in rp.msg("shape").all("dim"))
        return f"Reshape({dims_}, axis={int(rp.get('axis', 0))}, num_axes={int(rp.get('num_axes', -1))})", None
    if kind == "Dropout":
        return "nn.Identity()  # the identity at inference (Caffe scales while training)", None
    if kind == "Softmax":
        return f"nn.Softmax(dim={int(p.msg('softmax_param').get('axis', 1))})", None
    raise BadInput(f"layer '{layer.name}': no PyTorch translation for {kind}")  # caffe_net refuses it first


def generate(net: Net, report: dict[str, Any], prototxt_name: str) -> Generated:
    """The PyTorch source for `net`, given Caffe's report (caffe_dump.py's result.json)."""
    param_shapes: dict[str, list[tuple[int, ...]]] = {}
    params_by_layer: dict[str, list[tuple[int, ...]]] = report.get("param_shapes", {})
    for name, shapes in params_by_layer.items():
        param_shapes[name] = [tuple(s) for s in shapes]
    blob_shapes = {name: tuple(shape) for name, shape in report["shapes"].items()}
    taken: set[str] = set()
    attributes = {layer.name: identifier(layer.name, taken) for layer in net.layers}
    variables: dict[str, str] = {}
    var_taken: set[str] = set()

    def var(blob: str) -> str:
        if blob not in variables:
            variables[blob] = identifier(blob, var_taken)
        return variables[blob]

    inputs = [var(name) for name in report["inputs"]]
    helpers: set[str] = set()
    init_lines, forward_lines, fills = [], [], {}
    for layer in net.layers:
        ctor, fill = _layer_code(
            layer, param_shapes.get(layer.name, []), list(blob_shapes.get(layer.bottoms[0], ())), helpers
        )
        init_lines.append(f"        # {layer.type} '{layer.name}' (prototxt line {layer.line})")
        init_lines.append(f"        self.{attributes[layer.name]} = {ctor}")
        args = ", ".join(var(b) for b in layer.bottoms)
        if layer.type == "InnerProduct":
            axis = int(layer.params.msg("inner_product_param").get("axis", 1))
            args = f"{var(layer.bottoms[0])}.flatten({axis})"
        forward_lines.append(f"        {var(layer.tops[0])} = self.{attributes[layer.name]}({args})")
        if fill is not None:
            fills[layer.name] = fill
    outputs = [var(name) for name in report["outputs"]]
    returned = outputs[0] if len(outputs) == 1 else f"({', '.join(outputs)})"
    renamed = {name: attr for name, attr in attributes.items() if name != attr}
    declared = {name: tuple(shape) for name, shape in net.inputs.items() if shape}
    signature = ", ".join(f"{name}: torch.Tensor" for name in inputs)
    result = "torch.Tensor" if len(outputs) == 1 else f"tuple[{', '.join(['torch.Tensor'] * len(outputs))}]"
    source = f'''"""PyTorch port of the Caffe net "{net.name}" ({prototxt_name}), written by `dlpick migrate caffe`.

One attribute per Caffe layer, named after it (CAFFE_NAMES lists the names that had to change to be
Python identifiers). The weights are in model.pt (a state_dict): `load()` returns the net ready for
inference. Kept from Caffe: pooling rounds its output size up (ceil_mode) and average pooling counts
the padding; InnerProduct flattens its input from its axis; BatchNorm uses Caffe's stored statistics.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

INPUTS = {declared!r}  # Caffe input blob -> the shape declared in the prototxt
OUTPUTS = {tuple(report["outputs"])!r}
CAFFE_NAMES = {renamed!r}  # Caffe layer name -> attribute, where they differ
{"".join(HELPERS[name] for name in HELPERS if name in helpers)}

class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
{chr(10).join(init_lines)}

    def forward(self, {signature}) -> {result}:
{chr(10).join(forward_lines)}
        return {returned}


def load(weights: str | Path = Path(__file__).with_name("model.pt")) -> Net:
    """The net with its migrated weights, in inference mode."""
    net = Net()
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return net.eval()
'''
    return Generated(source, attributes, fills)
