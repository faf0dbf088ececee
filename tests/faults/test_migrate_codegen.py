"""`migrate caffe|mxnet` write model.py from names in the user's model file, then import it: no name may become
code (issue 24, item 1). Names reach the source only through repr() or as checked identifiers; each hostile
name below gives a module that parses, has exactly the statements the net needs, runs no payload, and still
computes the net."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlpick.errors import BadInput
from dlpick.migrate import caffe_net, caffe_torch, core, into_project, mxnet_torch, torch_port

from . import migrate_fakes as fakes

SENTINEL = "/tmp/dlpick-migrate-payload-ran"  # noqa: S108 - what a payload would create
PAYLOADS = [
    f"x\nimport os; os.system('touch {SENTINEL}')",
    f"x'\n        __import__('pathlib').Path({SENTINEL!r}).touch()\n        #",
    f'x"""\n__import__("pathlib").Path({SENTINEL!r}).touch()\n"""',
    f"x'''\n__import__('pathlib').Path({SENTINEL!r}).touch()\n'''",
    "x\\",
    "x\\\n__import__('os')",
    "x\r__import__('os')",
    "\"quoted\" and 'single'",
    '"""',
    "ünïcödé 名字",
    "ﬁ",  # NFKC-folds to "fi" in Python identifiers
    "x²",  # a \w character that is no identifier character
    "x\u2028y\x0cz\x00",
    "__mangled",
    "parameters",  # nn.Module's own method
    "class",
    "",
    "1st layer",
]
BAD_NAMES = ("os", "system", "__import__", "exec", "eval", "open", "compile", "getattr", "pathlib")


def _structure(source: str, layers: int) -> None:
    """The module has only the statements the generator writes: one docstring, the four imports, constants,
    classes, load(); Net.__init__: super().__init__() and one attribute per layer; forward: one line per
    layer and a return; and no name a payload would use."""
    tree = ast.parse(source)
    assert sum(isinstance(node, ast.Expr) for node in tree.body) == 1  # the docstring
    imports = [ast.unparse(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    assert imports == [
        "from __future__ import annotations",
        "from pathlib import Path",
        "import torch",
        "from torch import nn",
    ]
    assert all(
        isinstance(node, ast.Expr | ast.Import | ast.ImportFrom | ast.Assign | ast.ClassDef | ast.FunctionDef)
        for node in tree.body
    )
    net = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Net")
    init, forward = (
        next(f for f in net.body if isinstance(f, ast.FunctionDef) and f.name == n) for n in ("__init__", "forward")
    )
    assert len(init.body) == 1 + layers and all(isinstance(s, ast.Assign) for s in init.body[1:])
    assert len(forward.body) == layers + 1 and isinstance(forward.body[-1], ast.Return)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id not in BAD_NAMES, node.id
        if isinstance(node, ast.Attribute):
            assert node.attr not in ("system", "popen", "touch", "Path"), node.attr
            assert node.attr == "__init__" or not node.attr.startswith("__"), node.attr
    for target in init.body[1:]:
        attribute = target.targets[0]
        assert isinstance(attribute, ast.Attribute) and attribute.attr.isascii() and attribute.attr.isidentifier()


def _runs(source: str, tmp_path: Path, state: dict, x: np.ndarray, attributes: dict[str, str]) -> None:
    """Import the module, build the net, run it: no payload ran and the net computes the tiny net."""
    pytest.importorskip("torch")
    Path(SENTINEL).unlink(missing_ok=True)
    path = tmp_path / "model.py"
    path.write_text(source, encoding="utf-8")
    net = torch_port.build(torch_port.load_module(path), state)
    outs, recorded = torch_port.run(net, [x], attributes)
    assert not Path(SENTINEL).exists(), "a name in the model file ran as code"
    np.testing.assert_allclose(outs[0], fakes.forward(x)[1], rtol=1e-5, atol=1e-6)
    assert set(recorded) == set(attributes.values())


@pytest.mark.parametrize("name", PAYLOADS)
def test_caffe_names_never_become_code(name: str, tmp_path: Path) -> None:
    proto = tmp_path / "deploy.prototxt"
    proto.write_text(fakes.prototxt(net=name, fc=name, relu=name + "!", blob=name), encoding="utf-8")
    net = caffe_net.load(proto)
    assert [layer.name for layer in net.layers] == [name, name + "!"]
    x = np.random.default_rng(0).standard_normal(fakes.SHAPE).astype(np.float32)
    report = fakes.caffe_report(name, name + "!", name, [[x]])
    generated = caffe_torch.generate(net, report, name + ".prototxt")
    _structure(generated.source, 2)
    namespace: dict = {}
    constants = ast.parse(generated.source)
    exec(
        compile(
            ast.Module(
                [
                    n
                    for n in constants.body
                    if isinstance(n, ast.Assign)  # noqa: S102
                    and isinstance(n.value, ast.Constant | ast.Dict | ast.Tuple)
                ],
                [],
            ),
            "c",
            "exec",
        ),
        namespace,
    )
    assert namespace["NET_NAME"] == name and namespace["SOURCE"] == name + ".prototxt"
    _runs(generated.source, tmp_path, generated.state_dict(report["param_arrays"]), x, generated.attributes)


@pytest.mark.parametrize("name", [*PAYLOADS, "x\ud800"])
def test_mxnet_names_never_become_code(name: str, tmp_path: Path) -> None:
    graph = fakes.symbol(fc=name, relu=name + "!", input_name=name + "?")
    x = np.random.default_rng(0).standard_normal(fakes.SHAPE).astype(np.float32)
    report = fakes.mxnet_report(graph, [x], name + "?")
    generated = mxnet_torch.generate(graph, report, name + "?", name + "-symbol.json")
    _structure(generated.source, 2)
    from dlpick.migrate.mxnet import _params_by_node

    _runs(generated.source, tmp_path, generated.state_dict(_params_by_node(graph, report)), x, generated.attributes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.text(min_size=0, max_size=12), min_size=3, max_size=3, unique=True))
def test_any_names_give_a_module_of_the_same_shape(names: list[str]) -> None:
    """Property: whatever the three names (net/layer, second layer, input), the module parses to the same
    statements; distinct names never share an attribute."""
    fc, relu, data = names
    if f"{fc}_weight" == data or f"{fc}_bias" == data or relu == fc:
        return
    graph = fakes.symbol(fc=fc, relu=relu, input_name=data)
    x = np.zeros(fakes.SHAPE, np.float32)
    generated = mxnet_torch.generate(graph, fakes.mxnet_report(graph, [x], data), data, fc)
    _structure(generated.source, 2)
    assert len(set(generated.attributes.values())) == 2


def test_numbers_in_the_model_file_must_be_finite(tmp_path: Path) -> None:
    """`negative_slope: nan` would write `nn.LeakyReLU(nan)`: a NameError on import (a traceback), not code."""
    proto = tmp_path / "deploy.prototxt"
    proto.write_text(fakes.prototxt().replace('type: "ReLU"', 'type: "ReLU" relu_param { negative_slope: nan }'))
    net = caffe_net.load(proto)
    report = fakes.caffe_report("fc", "relu", "fc", [[np.zeros(fakes.SHAPE, np.float32)]])
    with pytest.raises(BadInput, match="negative_slope is nan, not a finite number"):
        caffe_torch.generate(net, report, "deploy.prototxt")
    graph = fakes.symbol()
    graph["nodes"][4] = {"op": "LeakyReLU", "name": "relu", "attrs": {"slope": "inf"}, "inputs": [[3, 0, 0]]}
    with pytest.raises(BadInput, match="slope is 'inf', not a finite number"):
        mxnet_torch.generate(graph, fakes.mxnet_report(graph, [np.zeros(fakes.SHAPE, np.float32)]), "data", "s")
    graph["nodes"][4] = {"op": "Concat", "name": "c", "attrs": {"dim": "'1'"}, "inputs": [[3, 0, 0]]}
    with pytest.raises(BadInput, match="dim is '1', expected integers"):
        mxnet_torch.generate(graph, fakes.mxnet_report(graph, [np.zeros(fakes.SHAPE, np.float32)]), "data", "s")


def test_a_migration_record_names_its_source_only_from_a_known_list(tmp_path: Path) -> None:
    """`scaffold --from-migration` wrote the record's "from" into a docstring of the project's code."""
    folder = tmp_path / "migration"
    folder.mkdir()
    for name in ("model.py", "model.pt", core.REFERENCE):
        (folder / name).write_bytes(b"")
    payload = 'Caffe"""\nimport os\nos.system("touch ' + SENTINEL + '")\n"""'
    record = {"from": payload, "to": "pytorch", "passed": True, "reference": {"inputs": [], "outputs": []}}
    (folder / core.RECORD).write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(BadInput, match="not a migration from caffe or mxnet"):
        into_project.check(folder)
    project = tmp_path / "project"
    (project / "src" / "pkg").mkdir(parents=True)
    with pytest.raises(BadInput):
        into_project.add(folder, project, "pkg")
    assert not (project / "src" / "pkg" / "migrated").exists()
    record["from"] = "caffe"
    (folder / core.RECORD).write_text(json.dumps(record), encoding="utf-8")
    written = into_project.add(folder, project, "pkg")
    for path in written:
        if path.endswith(".py") and "model.py" not in path:
            ast.parse((project / path).read_text(encoding="utf-8"))


def test_a_module_with_every_helper_passes_the_generators_own_check(tmp_path: Path) -> None:
    """The generator checks its output statement by statement; a graph that uses the helper classes (Eltwise,
    Concat, Reshape) and parameterised layers must pass that check, import and run."""
    pytest.importorskip("torch")  # the generated module is a torch.nn.Module

    def node(op: str, name: str, inputs: list[int], **attrs: str) -> dict:
        return {"op": op, "name": name, "attrs": attrs, "inputs": [[i, 0, 0] for i in inputs]}

    nodes = [
        node("null", "data", []),
        node("null", "conv_weight", []),
        node("null", "conv_bias", []),
        node("Convolution", "conv", [0, 1, 2], kernel="(3, 3)", pad="(1, 1)", num_filter="4"),
        *(node("null", f"bn_{r}", []) for r in ("gamma", "beta", "moving_mean", "moving_var")),
        node("BatchNorm", "bn", [3, 4, 5, 6, 7], eps="1e-5"),
        node("Activation", "relu", [8], act_type="relu"),
        node("Pooling", "pool", [9], kernel="(2, 2)", stride="(2, 2)", pool_type="max", pooling_convention="full"),
        node("elemwise_add", "add", [10, 10]),
        node("Concat", "cat", [11, 10], dim="1"),
        node("Reshape", "rs", [12], shape="(0, -1)"),
        node("null", "fc_weight", []),
        node("null", "fc_bias", []),
        node("FullyConnected", "fc", [13, 14, 15], num_hidden="3"),
        node("softmax", "prob", [16], axis="1"),
    ]
    graph = {"nodes": nodes, "heads": [[17, 0, 0]]}
    shapes = {"conv_weight": (4, 2, 3, 3), "conv_bias": (4,), "fc_weight": (3, 128), "fc_bias": (3,)}
    shapes.update({f"bn_{r}": (4,) for r in ("gamma", "beta", "moving_mean", "moving_var")})
    report = {
        "param_shapes": shapes,
        "blob_ndim": {"data": 4, "conv": 4, "bn": 4, "relu": 4, "pool": 4, "add": 4, "cat": 4, "rs": 2, "fc": 2},
        "outputs": ["prob_output"],
    }
    generated = mxnet_torch.generate(graph, report, "data", "many-symbol.json")
    _structure(generated.source, 9)
    assert {"class Eltwise", "class Concat", "class Reshape"} <= {
        line.split("(")[0] for line in generated.source.splitlines()
    }
    rng = np.random.default_rng(0)
    arrays = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}
    arrays["bn_moving_var"] = np.abs(arrays["bn_moving_var"]) + 0.5
    from dlpick.migrate.mxnet import _params_by_node

    path = tmp_path / "model.py"
    path.write_text(generated.source, encoding="utf-8")
    state = generated.state_dict(_params_by_node(graph, {"param_arrays": arrays}))
    net = torch_port.build(torch_port.load_module(path), state)
    outs, recorded = torch_port.run(net, [rng.standard_normal((2, 2, 8, 8)).astype(np.float32)], generated.attributes)
    assert outs[0].shape == (2, 3) and np.allclose(outs[0].sum(axis=1), 1, atol=1e-5)
    assert len(recorded) == 9
