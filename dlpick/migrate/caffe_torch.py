"""Writes a readable PyTorch module for a Caffe net: one attribute per Caffe layer, named after it.

`generate` needs the net (from the prototxt) and what Caffe reported after loading it (the shapes of the
parameter blobs and of every blob); it returns the source and how each Caffe blob fills the state_dict.
Caffe's semantics that differ from PyTorch's defaults are kept explicitly: pooling rounds up (ceil_mode)
and average pooling divides by the window clipped to the padded input (count_include_pad); InnerProduct
flattens from its axis; BatchNorm stores its statistics multiplied by a scale factor (divided out here).
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlpick.errors import BadInput
from dlpick.migrate.caffe_net import Layer, Net
from dlpick.migrate.prototxt import Message

# Names a generated module already uses, and nn.Module's own attributes (an attribute of that name would be
# shadowed by the method, or replace the module's state).
RESERVED = {
    *("self", "torch", "nn", "F", "Path", "Net", "load", "annotations", "super", "training"),
    *("T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "compile"),
    *("cpu", "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer"),
    *("get_extra_state", "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules", "mtia"),
    *("named_buffers", "named_children", "named_modules", "named_parameters", "parameters"),
    *("register_backward_hook", "register_buffer", "register_forward_hook", "register_forward_pre_hook"),
    *("register_full_backward_hook", "register_full_backward_pre_hook", "register_load_state_dict_post_hook"),
    *("register_load_state_dict_pre_hook", "register_module", "register_parameter", "register_state_dict_post_hook"),
    *("register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule", "share_memory"),
    *("state_dict", "to", "to_empty", "train", "type", "xpu", "zero_grad"),
}

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
    """A Python identifier for a Caffe or MXNet name: ASCII letters, digits and _ only (other characters
    become _; Python would fold some non-ASCII letters together), starting with a letter (a leading _
    would be name-mangled or clash with nn.Module's own state), never a keyword or a name nn.Module
    uses; clashes get a suffix. The result is checked: only it, never the name, goes into source."""
    base = re.sub(r"[^0-9A-Za-z_]", "_", name)
    if not base or not base[0].isalpha():
        base = f"n_{base}"
    if keyword.iskeyword(base) or base in RESERVED:
        base = f"{base}_"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    if not (candidate.isidentifier() and candidate.isascii()):  # pragma: no cover - the rules above make it one
        raise BadInput(f"{name!r}: cannot be made a Python identifier")
    taken.add(candidate)
    return candidate


def number(value: Any, what: str) -> str:
    """A finite number from a model file, as Python source (repr): `nan` or `inf` would not be code."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise BadInput(f"{what} is {value!r}, not a number") from None
    if not math.isfinite(result):
        raise BadInput(f"{what} is {value!r}, not a finite number")
    return repr(result)


def integers(values: Any, what: str) -> tuple[int, ...]:
    """A tuple of integers from a model file (bool, float or text refused)."""
    items = tuple(values) if isinstance(values, tuple | list) else (values,)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise BadInput(f"{what} is {values!r}, expected integers")
    return tuple(int(v) for v in items)


def checked(source: str, layers: int) -> str:
    """The generated source, parsed and checked statement by statement before anything imports it: at the
    top one docstring, the four imports, constants, helper classes, Net and load(); in Net.__init__
    super().__init__() and one `self.ATTR = CALL` per layer; in forward one `NAME = self.ATTR(...)` per
    layer and a return. A name that became code would add or change a statement (or not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:  # pragma: no cover - a bug of the generator, reported as such
        raise BadInput(f"the written model.py does not parse (line {exc.lineno}: {exc.msg}): a bug") from None
    imports = [ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    top = (ast.Expr, ast.ImportFrom, ast.Import, ast.Assign, ast.ClassDef, ast.FunctionDef)
    net = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Net"]
    methods = {f.name: f for f in net[0].body if isinstance(f, ast.FunctionDef)} if net else {}
    init, forward = methods.get("__init__"), methods.get("forward")
    problems = [
        not all(isinstance(n, top) for n in tree.body),
        sum(isinstance(n, ast.Expr) for n in tree.body) != 1,
        imports
        != ["from __future__ import annotations", "from pathlib import Path", "import torch", "from torch import nn"],
        init is None or forward is None or len(init.body) != layers + 1 or len(forward.body) != layers + 1,
    ]
    if not any(problems):
        assert init is not None and forward is not None
        assigns = [*init.body[1:], *forward.body[:-1]]
        problems.append(not all(isinstance(a, ast.Assign) and isinstance(a.value, ast.Call) for a in assigns))
        problems.append(not isinstance(forward.body[-1], ast.Return))
    if any(problems):  # pragma: no cover - the tests feed hostile names; this guards the generator itself
        raise BadInput("the written model.py has statements the generator does not write: a bug, please report it")
    return source


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
        slope = number(p.msg("relu_param").get("negative_slope", 0.0), "negative_slope")
        return ("nn.ReLU()" if float(slope) == 0 else f"nn.LeakyReLU({slope})"), None
    if kind == "PReLU":
        count = int(np.prod(blobs[0])) if blobs[0] else 1
        return f"nn.PReLU({count})", lambda b: {"weight": b[0].reshape(-1)}
    if kind == "Sigmoid":
        return "nn.Sigmoid()", None
    if kind == "TanH":
        return "nn.Tanh()", None
    if kind == "LRN":
        lrn = p.msg("lrn_param")
        size = integers(lrn.get("local_size", 5), "local_size")[0]
        alpha, beta = number(lrn.get("alpha", 1.0), "alpha"), number(lrn.get("beta", 0.75), "beta")
        if lrn.get("norm_region", "ACROSS_CHANNELS") in ("WITHIN_CHANNEL", 1):
            helpers.add("WithinChannelLRN")
            return f"WithinChannelLRN({size}, {alpha}, {beta})", None
        return f"nn.LocalResponseNorm({size}, alpha={alpha}, beta={beta}, k={number(lrn.get('k', 1.0), 'k')})", None
    if kind == "BatchNorm":
        eps = number(p.msg("batch_norm_param").get("eps", 1e-5), "eps")
        dims = {2: 1, 3: 1, 4: 2, 5: 3}.get(len(bottom), 2)

        def fill_bn(b: list[np.ndarray]) -> dict[str, np.ndarray]:
            factor = float(b[2].reshape(-1)[0]) if len(b) > 2 else 1.0
            scale = 0.0 if factor == 0 else 1.0 / factor
            return {
                "running_mean": b[0].reshape(-1) * scale,
                "running_var": b[1].reshape(-1) * scale,
                "num_batches_tracked": np.zeros((), np.int64),
            }

        return f"nn.BatchNorm{dims}d({int(blobs[0][0])}, eps={eps}, affine=False)", fill_bn
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
        if operation not in ("PROD", "SUM", "MAX"):
            raise BadInput(f"layer {layer.name!r}: Eltwise operation {operation!r} is not PROD, SUM or MAX")
        coeffs = ", ".join(number(c, "coeff") for c in ep.all("coeff"))
        return f"Eltwise({operation!r}{f', ({coeffs},)' if coeffs else ''})", None
    if kind == "Concat":
        cp = p.msg("concat_param")
        helpers.add("Concat")
        return f"Concat({integers(cp.get('axis', cp.get('concat_dim', 1)), 'axis')[0]})", None
    if kind == "Flatten":
        fp = p.msg("flatten_param")
        axis, end = integers((fp.get("axis", 1), fp.get("end_axis", -1)), "Flatten's axes")
        return f"nn.Flatten({axis}, {end})", None
    if kind == "Reshape":
        rp = p.msg("reshape_param")
        helpers.add("Reshape")
        dims_ = integers(rp.msg("shape").all("dim"), "Reshape's dims")
        axis, count = integers((rp.get("axis", 0), rp.get("num_axes", -1)), "Reshape's axis and num_axes")
        return f"Reshape({dims_}, axis={axis}, num_axes={count})", None
    if kind == "Dropout":
        return "nn.Identity()  # the identity at inference (Caffe scales while training)", None
    if kind == "Softmax":
        return f"nn.Softmax(dim={integers(p.msg('softmax_param').get('axis', 1), 'axis')[0]})", None
    raise BadInput(f"layer {layer.name!r}: no PyTorch translation for {kind}")  # caffe_net refuses it first


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
        try:
            ctor, fill = _layer_code(
                layer, param_shapes.get(layer.name, []), list(blob_shapes.get(layer.bottoms[0], ())), helpers
            )
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            raise BadInput(f"line {layer.line}: layer {layer.name!r} ({layer.type}): unusable option ({exc})") from None
        # Names from the prototxt appear in the source only as repr() (a comment cannot hold a newline then).
        init_lines.append(f"        # {layer.type} {layer.name!r} (prototxt line {int(layer.line)})")
        init_lines.append(f"        self.{attributes[layer.name]} = {ctor}")
        args = ", ".join(var(b) for b in layer.bottoms)
        if layer.type == "InnerProduct":
            axis = integers(layer.params.msg("inner_product_param").get("axis", 1), "axis")[0]
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
    source = f'''"""PyTorch port of the Caffe net NET_NAME (from SOURCE), written by `dlpick migrate caffe`.

One attribute per Caffe layer, named after it (CAFFE_NAMES lists the names that had to change to be
Python identifiers). The weights are in model.pt (a state_dict): `load()` returns the net ready for
inference. Kept from Caffe: pooling rounds its output size up (ceil_mode) and average pooling counts
the padding; InnerProduct flattens its input from its axis; BatchNorm uses Caffe's stored statistics.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

NET_NAME = {net.name!r}
SOURCE = {prototxt_name!r}
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
    return Generated(checked(source, len(net.layers)), attributes, fills)
