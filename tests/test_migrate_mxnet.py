"""`dlpick migrate mxnet` in MXNet's environment (integration): a symbol with every supported kind of
operator and random params, the MXNet template's trained models, and bad input (exit 2, one line,
nothing written). The symbol reader's refusals are quick tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlpick.errors import BadInput
from dlpick.migrate import mxnet_torch

ROOT = Path(__file__).resolve().parent.parent

# Run in MXNet's venv: a symbol of many operators, random params (BatchNorm's variances positive).
MAKE = """\
import sys
import mxnet as mx, numpy as np
data = mx.sym.Variable("data")
c1 = mx.sym.Convolution(data, num_filter=8, kernel=(3, 3), pad=(1, 1), name="conv1")
bn = mx.sym.BatchNorm(c1, fix_gamma=False, eps=1e-5, name="bn1")
a1 = mx.sym.Activation(bn, act_type="relu", name="relu1")
c2 = mx.sym.Convolution(a1, num_filter=8, kernel=(3, 3), pad=(2, 2), dilate=(2, 2), num_group=2, name="conv2")
l2 = mx.sym.LeakyReLU(c2, act_type="prelu", name="prelu2")
p1 = mx.sym.Pooling(l2, kernel=(2, 2), stride=(2, 2), pool_type="max", pooling_convention="full", name="pool_max")
p2 = mx.sym.Pooling(l2, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg", name="pool_avg")
add = mx.sym.elemwise_add(p1, p2, name="add")
mul = mx.sym.broadcast_mul(add, mx.sym.Activation(p1, act_type="sigmoid", name="sig"), name="mul")
cat = mx.sym.Concat(add, mx.sym.Activation(mul, act_type="tanh", name="tanh"), dim=1, name="cat")
dec = mx.sym.Deconvolution(cat, num_filter=4, kernel=(4, 4), stride=(2, 2), pad=(1, 1), name="deconv")
leaky = mx.sym.LeakyReLU(dec, act_type="leaky", slope=0.1, name="leaky")
gp = mx.sym.Pooling(leaky, kernel=(1, 1), global_pool=True, pool_type="avg", name="gap")
flat = mx.sym.Flatten(leaky, name="flat")
drop = mx.sym.Dropout(flat, p=0.5, name="drop")
fc1 = mx.sym.FullyConnected(drop, num_hidden=24, name="fc1")
rs = mx.sym.Reshape(fc1, shape=(0, 4, -1), name="rs")
fc2 = mx.sym.FullyConnected(rs, num_hidden=5, name="fc2")
both = mx.sym.Concat(fc2, mx.sym.Flatten(gp, name="gflat"), dim=1, name="both")
out = mx.sym.softmax(mx.sym.Activation(both, act_type="softrelu", name="softplus"), axis=1, name="prob")
shapes, _, aux = out.infer_shape(data=(2, 3, 14, 14))
rng = np.random.default_rng(1)
params = {}
for name, shape in zip(out.list_arguments(), shapes):
    if name != "data":
        params["arg:" + name] = mx.nd.array(rng.standard_normal(shape) * 0.3)
for name, shape in zip(out.list_auxiliary_states(), aux):
    value = rng.standard_normal(shape) * 0.3
    params["aux:" + name] = mx.nd.array(np.abs(value) + 0.5 if name.endswith("var") else value)
out.save(sys.argv[1] + "-symbol.json")
mx.nd.save(sys.argv[1] + "-0000.params", params)
"""


def test_the_symbol_reader_refuses_unsupported_operators_and_bad_json(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        '{"nodes": [{"op": "null", "name": "data", "inputs": []},\n'
        ' {"op": "ROIPooling", "name": "roi", "inputs": [[0, 0, 0]]}], "heads": [[1, 0, 0]]}'
    )
    with pytest.raises(BadInput, match=r"node 'roi' is the operator 'ROIPooling', which `migrate mxnet` does not"):
        mxnet_torch.read_symbol(path)
    path.write_text('{"nodes": [\n  {"op": "null",}\n]}')
    with pytest.raises(BadInput, match=rf"^{path}:2: not valid JSON"):
        mxnet_torch.read_symbol(path)


@pytest.fixture
def mxnet_env(envs_root: Path, monkeypatch: pytest.MonkeyPatch):
    from dlpick.migrate import mxnet

    monkeypatch.setenv("DLPICK_ENVS", str(envs_root))
    return mxnet.mxnet_env()


def dlpick(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlpick", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture
def many_ops(mxnet_env, tmp_path: Path) -> tuple[Path, Path]:
    work = tmp_path / "model"
    work.mkdir()
    (work / "make.py").write_text(MAKE)
    ran = subprocess.run([mxnet_env.python, "make.py", "net"], cwd=work, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    return work / "net-symbol.json", work / "net-0000.params"


@pytest.mark.integration
@pytest.mark.needs_index  # builds the framework's environment when the cache lacks it
def test_a_symbol_of_many_operators_migrates_within_1e_4(many_ops: tuple[Path, Path], tmp_path: Path) -> None:
    symbol, params = many_ops
    started = time.monotonic()
    ran = dlpick(
        "migrate",
        "mxnet",
        str(symbol),
        str(params),
        "--to",
        "pytorch",
        "--input-shape",
        "2,3,14,14",
        "--dest",
        str(tmp_path / "out"),
        "--json",
    )
    seconds = time.monotonic() - started
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    report = json.loads(ran.stdout)
    assert report["passed"] and report["from"] == "mxnet" and report["to"] == "pytorch"
    assert {o["name"] for o in report["outputs"]} == {"prob", "onnx:prob"}
    assert all(d["passed"] for d in report["outputs"] + report["layers"])
    types = {layer["type"] for layer in report["layers"]}
    assert types >= {
        "Convolution",
        "BatchNorm",
        "Activation",
        "LeakyReLU",
        "Pooling",
        "elemwise_add",
        "broadcast_mul",
        "Concat",
        "Deconvolution",
        "Flatten",
        "Dropout",
        "FullyConnected",
        "Reshape",
        "softmax",
    }, types
    assert {"model.py", "model.pt", "model.onnx", "MIGRATION.md"} <= set(report["files"])
    print(
        f"\nmxnet many-ops symbol: {seconds:.1f} s, max |diff| {report['measures']['max_abs_diff']:.2g}, "
        f"model.py {report['measures']['model_py_lines']} lines"
    )


@pytest.mark.integration
@pytest.mark.needs_index  # builds the framework's environment when the cache lacks it
@pytest.mark.parametrize("task", ["tabular-classification", "image-classification"])
def test_the_mxnet_templates_trained_model_migrates(mxnet_env, task: str, tmp_path: Path) -> None:
    from dlpick.migrate import mxnet
    from dlpick.project.render import render

    project = tmp_path / "proj"
    render("mxnet", task, project)
    env = {**os.environ, "PYTHONPATH": "src"}
    for step in (["proj.train", "--smoke", "--out", "runs/smoke"], ["proj.export", "--run", "runs/smoke"]):
        ran = subprocess.run(
            [mxnet_env.python, "-m", *step], cwd=project, env=env, capture_output=True, text=True, timeout=900
        )
        assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    run = project / "runs" / "smoke"
    shape = (4, *json.loads((run / "preprocess.json").read_text())["input_shape"])
    started = time.monotonic()
    request = mxnet.MxnetRequest(run / "model-symbol.json", run / "model-0000.params", tmp_path / "out", shape)
    result = mxnet.migrate(request)
    assert result.passed, [d.to_json() for d in [*result.outputs, *result.layers] if not d.passed]
    print(
        f"\nmxnet {task}: {time.monotonic() - started:.1f} s, max |diff| {result.measures['max_abs_diff']:.2g}, "
        f"symbol {result.measures['symbol_bytes']} bytes / model.py {result.measures['model_py_lines']} lines"
    )


@pytest.mark.integration
@pytest.mark.needs_index  # builds the framework's environment when the cache lacks it
def test_params_of_another_symbol_exit_2_and_write_nothing(many_ops: tuple[Path, Path], tmp_path: Path) -> None:
    symbol, params = many_ops
    other = symbol.parent / "other-symbol.json"
    graph = json.loads(symbol.read_text())
    for node in graph["nodes"]:
        node["name"] = node["name"].replace("conv", "layer")
    other.write_text(json.dumps(graph))
    cases = [
        (other, params, "has no value for 'layer1_weight' of the symbol"),
        (symbol, symbol, "not an MXNet params file"),
    ]
    for sym, par, message in cases:
        ran = dlpick(
            "migrate", "mxnet", str(sym), str(par), "--input-shape", "2,3,14,14", "--dest", str(tmp_path / "o")
        )
        lines = ran.stderr.strip().splitlines()
        assert ran.returncode == 2 and len(lines) == 1 and message in lines[0], ran.stderr
        assert lines[0].startswith(f"dlpick: error: {par}: ")
        assert not (tmp_path / "o").exists()
    wrong = dlpick(
        "migrate", "mxnet", str(symbol), str(params), "--input-shape", "2,5,14,14", "--dest", str(tmp_path / "o")
    )
    assert wrong.returncode == 2 and f"{params}: 'conv1_weight' has shape (8, 3, 3, 3)" in wrong.stderr, wrong.stderr
