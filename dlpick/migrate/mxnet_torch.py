"""Writes a readable PyTorch module for an MXNet symbol graph (model-symbol.json): one attribute per
MXNet operator node, named after it. MXNet's semantics kept: Pooling's "full" convention rounds up
(ceil_mode), average pooling counts the padding unless count_include_pad is false, BatchNorm's
fix_gamma (the default in the symbol API) means gamma is 1, FullyConnected flattens unless told not to.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import numpy as np

from dlpick.errors import BadInput
from dlpick.migrate.caffe_torch import HELPERS, Generated, checked, identifier, integers, number

SUPPORTED = (
    "Convolution",
    "Deconvolution",
    "FullyConnected",
    "Activation",
    "LeakyReLU",
    "Pooling",
    "BatchNorm",
    "Flatten",
    "Dropout",
    "softmax",
    "log_softmax",
    "SoftmaxActivation",
    "SoftmaxOutput",
    "elemwise_add",
    "broadcast_add",
    "_Plus",
    "_plus",
    "elemwise_mul",
    "broadcast_mul",
    "_Mul",
    "_mul",
    "Concat",
    "concat",
    "Reshape",
    "reshape",
    "_copy",
    "identity",
)
ACTIVATIONS = {"relu": "nn.ReLU()", "sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()", "softrelu": "nn.Softplus()"}


def _value(text: Any, default: Any = None) -> Any:
    if text is None:
        return default
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    try:
        return ast.literal_eval(str(text)[:10_000])
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


MAX_SYMBOL_BYTES = 64 * 2**20  # symbols of the largest published models are a few MB


def read_symbol(path: Path) -> dict[str, Any]:
    """The symbol's JSON; BadInput (file, line) when it is not JSON, not a symbol graph, or has an
    unsupported operator. Read bounded: size, nesting, and every field the migration uses has its type."""
    try:
        if not path.is_file():
            raise BadInput(f"{path}: not a regular file (SYMBOL_JSON)")
        if path.stat().st_size > MAX_SYMBOL_BYTES:
            raise BadInput(f"{path}: larger than {MAX_SYMBOL_BYTES // 2**20} MiB: not an MXNet symbol file")
        graph = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise BadInput(f"{path}: nested too deeply to be an MXNet symbol file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read it as text ({exc})") from None
    _check_graph(path, graph)
    for node in graph["nodes"]:
        op = node["op"]
        if op != "null" and op not in SUPPORTED:
            raise BadInput(
                f"{path}: node {node['name']!r} is the operator {op!r}, which `migrate mxnet` does not support "
                f"(supported: {', '.join(SUPPORTED)})"
            )
        attrs = _attrs(node)
        if op == "Pooling" and _value(attrs.get("pool_type"), "max") not in ("max", "avg"):
            raise BadInput(f"{path}: node {node['name']!r} pools with {attrs.get('pool_type')!r}: not supported")
        if op == "Pooling" and _value(attrs.get("pooling_convention"), "valid") not in ("valid", "full"):
            raise BadInput(f"{path}: node {node['name']!r} uses the {attrs.get('pooling_convention')!r} convention")
    return graph


def _attrs(node: dict[str, Any]) -> dict[str, Any]:
    return node.get("attrs") or node.get("attr") or node.get("param") or {}


def _check_graph(path: Path, graph: Any) -> None:
    """The shape of a symbol graph: nodes (objects with a text op and name, inputs [[index, output, ...]]
    pointing to earlier nodes, attrs of text values) and heads pointing to nodes."""
    if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list) or "heads" not in graph:
        raise BadInput(f"{path}: not an MXNet symbol file (no nodes and heads)")
    nodes = graph["nodes"]

    def edges(value: Any, limit: int, what: str) -> None:
        if not isinstance(value, list) or not all(
            isinstance(e, list) and e and all(type(i) is int for i in e) and 0 <= e[0] < limit for e in value
        ):
            raise BadInput(f"{path}: {what} is not a list of [node, output] pairs of earlier nodes")

    for index, node in enumerate(nodes):
        where = f"node {index}"
        if not isinstance(node, dict) or not isinstance(node.get("op"), str) or not isinstance(node.get("name"), str):
            raise BadInput(f"{path}: {where} is not an object with a text op and name")
        edges(node.get("inputs", []), index, f"{where}'s inputs")
        attrs = _attrs(node)
        if not isinstance(attrs, dict) or not all(isinstance(v, str | int | float) for v in attrs.values()):
            raise BadInput(f"{path}: {where}'s attrs are not an object of text values")
    edges(graph["heads"], len(nodes), "heads")
    if not graph["heads"]:
        raise BadInput(f"{path}: has no heads (outputs)")


def _tuple(attrs: dict[str, Any], name: str, default: int, dims: int) -> tuple[int, ...]:
    value = integers(_value(attrs.get(name), ()), name)
    return value if len(value) == dims else (default,) * dims


def _int(attrs: dict[str, Any], name: str, default: int) -> int:
    return integers(_value(attrs.get(name), default), name)[0]


def _code(op: str, attrs: dict[str, Any], params: dict[str, tuple[int, ...]], ndim: int, helpers: set[str]) -> Any:
    """(constructor, how the named params fill the state) for one node; params: role -> shape."""
    if op in ("Convolution", "Deconvolution"):
        weight = params["weight"]
        dims, group = len(weight) - 2, _int(attrs, "num_group", 1)
        bias = "bias" in params  # a bias input (Deconvolution has none by default)
        stride, dilate, pad = (_tuple(attrs, n, d, dims) for n, d in (("stride", 1), ("dilate", 1), ("pad", 0)))
        kernel = tuple(weight[2:])
        if op == "Convolution":
            ctor = f"nn.Conv{dims}d({weight[1] * group}, {weight[0]}"
        else:
            ctor = f"nn.ConvTranspose{dims}d({weight[0]}, {weight[1] * group}"
            adj = _tuple(attrs, "adj", 0, dims)
            ctor += f", output_padding={adj}" if set(adj) != {0} else ""
        ctor += f", kernel_size={kernel}, stride={stride}, padding={pad}"
        ctor += f"{f', dilation={dilate}' if set(dilate) != {1} else ''}{f', groups={group}' if group != 1 else ''}"
        return ctor + ("" if bias else ", bias=False") + ")", {"weight": "weight", **({"bias": "bias"} if bias else {})}
    if op == "FullyConnected":
        out, inp = params["weight"]
        bias = "bias" in params  # a bias input (Deconvolution has none by default)
        return f"nn.Linear({inp}, {out}{'' if bias else ', bias=False'})", {
            "weight": "weight",
            **({"bias": "bias"} if bias else {}),
        }
    if op == "Activation":
        kind = _value(attrs.get("act_type"), "relu")
        if kind not in ACTIVATIONS and kind != "softsign":
            raise BadInput(f"Activation {kind} is not supported")
        return ACTIVATIONS.get(kind, "nn.Softsign()"), {}
    if op == "LeakyReLU":
        kind, slope = _value(attrs.get("act_type"), "leaky"), number(_value(attrs.get("slope"), 0.25), "slope")
        if kind == "prelu":
            return f"nn.PReLU({int(np.prod(params['gamma']))})", {"gamma": "weight"}
        known = {
            "leaky": f"nn.LeakyReLU({slope})",
            "elu": f"nn.ELU({slope})",
            "selu": "nn.SELU()",
            "gelu": "nn.GELU()",
        }
        if kind not in known:
            raise BadInput(f"LeakyReLU {kind} is not supported")
        return known[kind], {}
    if op == "Pooling":
        dims = ndim - 2
        average = _value(attrs.get("pool_type"), "max") == "avg"
        name = "Avg" if average else "Max"
        if _value(attrs.get("global_pool"), False):
            return f"nn.Adaptive{name}Pool{dims}d(1)", {}
        kernel = _tuple(attrs, "kernel", 1, dims)
        stride, pad = _tuple(attrs, "stride", 1, dims), _tuple(attrs, "pad", 0, dims)
        ceil = _value(attrs.get("pooling_convention"), "valid") == "full"
        extra = f", count_include_pad={bool(_value(attrs.get('count_include_pad'), True))}" if average else ""
        return f"nn.{name}Pool{dims}d({kernel}, stride={stride}, padding={pad}, ceil_mode={ceil}{extra})", {}
    if op == "BatchNorm":
        eps = number(_value(attrs.get("eps"), 1e-3), "eps")
        if _int(attrs, "axis", 1) != 1:
            raise BadInput("BatchNorm over an axis other than 1 is not supported")
        dims = {2: 1, 3: 1, 4: 2, 5: 3}.get(ndim, 2)
        fixed = bool(_value(attrs.get("fix_gamma"), True))
        roles = {"beta": "bias", "moving_mean": "running_mean", "moving_var": "running_var"}
        return f"nn.BatchNorm{dims}d({int(params['beta'][0])}, eps={eps})", {
            **roles,
            "gamma": "weight" if not fixed else "weight=1",
        }
    if op == "Flatten":
        return "nn.Flatten()", {}
    if op == "Dropout":
        return "nn.Identity()  # Dropout: the identity at inference", {}
    if op in ("softmax", "log_softmax"):
        axis = _int(attrs, "axis", -1)
        return f"nn.{'Softmax' if op == 'softmax' else 'LogSoftmax'}(dim={axis})", {}
    if op in ("SoftmaxActivation", "SoftmaxOutput"):
        return "nn.Softmax(dim=1)  # " + op + " at inference", {}
    if op in ("elemwise_add", "broadcast_add", "_Plus", "_plus", "elemwise_mul", "broadcast_mul", "_Mul", "_mul"):
        helpers.add("Eltwise")
        return f"Eltwise({'SUM' if 'add' in op.lower() or 'plus' in op.lower() else 'PROD'!r})", {}
    if op in ("Concat", "concat"):
        helpers.add("Concat")
        return f"Concat({_int(attrs, 'dim', 1)})", {}
    if op in ("Reshape", "reshape"):
        shape = integers(_value(attrs.get("shape"), ()), "shape")
        if any(d < -1 for d in shape) or _value(attrs.get("reverse"), False):
            raise BadInput(f"Reshape {shape}: the special codes -2, -3, -4 and reverse are not supported")
        helpers.add("Reshape")
        return f"Reshape({shape})", {}
    if op in ("_copy", "identity"):
        return "nn.Identity()", {}
    raise BadInput(f"the operator {op!r} is not supported")


def generate(graph: dict[str, Any], report: dict[str, Any], input_name: str, symbol_name: str) -> Generated:
    """The PyTorch source for the symbol; report: mxnet_dump.py's result with param and blob shapes."""
    nodes = graph["nodes"]
    param_shapes: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in report["param_shapes"].items()}
    blob_ndim: dict[str, int] = report["blob_ndim"]
    attributes: dict[str, str] = {}
    taken: set[str] = set()
    variables: dict[int, str] = {}
    var_taken: set[str] = set()
    helpers: set[str] = set()
    init, forward, fills = [], [], {}
    _input_index(nodes, input_name)
    for index, node in enumerate(nodes):
        if node["op"] == "null":
            if node["name"] == input_name:
                variables[index] = identifier(input_name, var_taken)
            continue
        attrs = _attrs(node)
        sources = [nodes[i] for i, *_ in node["inputs"]]
        data = [(i, s) for (i, *_), s in zip(node["inputs"], sources, strict=True) if not _is_param(s, param_shapes)]
        data = [(i, s) for i, s in data if not s["name"].endswith("_label")]
        unknown = [s["name"] for i, s in data if i not in variables]
        if unknown or not data:
            what = f"its input {unknown[0]!r} is neither" if unknown else "it has no input: it needs"
            raise BadInput(f"node {node['name']!r} ({node['op']}): {what} the symbol's input, a parameter or a node")
        params = {
            _role(s["name"], node["name"]): param_shapes[s["name"]] for s in sources if _is_param(s, param_shapes)
        }
        names = {_role(s["name"], node["name"]): s["name"] for s in sources if _is_param(s, param_shapes)}
        first = nodes[data[0][0]]
        ndim = blob_ndim.get(first["name"], 4)
        try:
            ctor, roles = _code(node["op"], attrs, params, ndim, helpers)
        except (BadInput, KeyError, ValueError, TypeError, IndexError) as exc:
            raise BadInput(f"node {node['name']!r} ({node['op']}): {exc}") from None
        attribute = attributes[node["name"]] = identifier(node["name"], taken)
        # Names from the symbol appear in the source only as repr() (a comment cannot hold a newline then).
        init += [f"        # {node['op']} {node['name']!r}", f"        self.{attribute} = {ctor}"]
        args = ", ".join(variables[i] for i, _ in data)
        if node["op"] == "FullyConnected" and _value(attrs.get("flatten"), True):
            args = f"{variables[data[0][0]]}.flatten(1)"
        variables[index] = identifier(node["name"], var_taken)
        forward.append(f"        {variables[index]} = self.{attribute}({args})")
        if roles:
            fills[node["name"]] = _filler(roles, names)
    heads = [variables[i] for i, *_ in graph["heads"]]
    returned = heads[0] if len(heads) == 1 else f"({', '.join(heads)})"
    result = "torch.Tensor" if len(heads) == 1 else f"tuple[{', '.join(['torch.Tensor'] * len(heads))}]"
    renamed = {name: attr for name, attr in attributes.items() if name != attr}
    source = f'''"""PyTorch port of the MXNet symbol SOURCE, written by `dlpick migrate mxnet`.

One attribute per MXNet operator, named after its node (MXNET_NAMES lists the names that had to change).
The weights are in model.pt (a state_dict): `load()` returns the net ready for inference. Kept from
MXNet: Pooling's "full" convention rounds up (ceil_mode); BatchNorm with fix_gamma uses gamma = 1;
FullyConnected flattens its input unless the node says flatten=False.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

SOURCE = {symbol_name!r}
INPUT = {input_name!r}
OUTPUTS = {tuple(report["outputs"])!r}
MXNET_NAMES = {renamed!r}  # MXNet node name -> attribute, where they differ
{"".join(HELPERS[name] for name in HELPERS if name in helpers)}

class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
{chr(10).join(init)}

    def forward(self, {variables[_input_index(nodes, input_name)]}: torch.Tensor) -> {result}:
{chr(10).join(forward)}
        return {returned}


def load(weights: str | Path = Path(__file__).with_name("model.pt")) -> Net:
    """The net with its migrated weights, in inference mode."""
    net = Net()
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return net.eval()
'''
    return Generated(checked(source, len(attributes)), attributes, fills)


def _input_index(nodes: list[dict[str, Any]], name: str) -> int:
    found = [i for i, node in enumerate(nodes) if node["op"] == "null" and node["name"] == name]
    if not found:
        raise BadInput(f"the symbol has no input named {name!r} (--input-name)")
    return found[0]


def _is_param(node: dict[str, Any], params: dict[str, Any]) -> bool:
    return node["op"] == "null" and node["name"] in params


def _role(param: str, node: str) -> str:
    """weight / bias / gamma / beta / moving_mean / moving_var from a parameter's name."""
    for role in ("moving_mean", "moving_var", "running_mean", "running_var", "weight", "bias", "gamma", "beta"):
        if param.endswith(role):
            return role.replace("running_", "moving_")
    return param


def _filler(roles: dict[str, str], names: dict[str, str]) -> Any:
    """Caffe-style filler: from the node's blobs in MXNet's order to state_dict entries."""

    def fill(blobs: list[np.ndarray]) -> dict[str, np.ndarray]:
        by_role = dict(zip(list(names), blobs, strict=True))
        state: dict[str, np.ndarray] = {}
        for role, key in roles.items():
            if key == "weight=1":
                state["weight"] = np.ones_like(by_role["beta"])
            else:
                state[key] = by_role[role]
        if "running_mean" in state:
            state["num_batches_tracked"] = np.zeros((), np.int64)
        return state

    return fill
