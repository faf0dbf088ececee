"""`dlpick migrate caffe`: the prototxt reader and the destination rules (quick), then real migrations in
Caffe's Debian root (integration: a net with every supported layer, the Caffe template's trained models,
and every class of bad input, each exit 2 with one line and nothing written)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlpick.errors import BadInput
from dlpick.migrate import caffe_net, core, prototxt

ROOT = Path(__file__).resolve().parent.parent

EVERY_LAYER = """\
name: "every_layer"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 13 dim: 13 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 8 kernel_size: 3 pad: 1 } }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" }
layer { name: "scale1" type: "Scale" bottom: "conv1" top: "conv1" scale_param { bias_term: true } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "conv2/grouped" type: "Convolution" bottom: "conv1" top: "conv2"
  convolution_param { num_output: 8 kernel_size: 3 pad: 2 dilation: 2 group: 2 stride: 1 } }
layer { name: "prelu2" type: "PReLU" bottom: "conv2" top: "conv2" }
# 13 -> 7 with Caffe's ceil rounding (floor would give 6)
layer { name: "pool_max" type: "Pooling" bottom: "conv2" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "pool_ave" type: "Pooling" bottom: "conv2" top: "pool2"
  pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "lrn" type: "LRN" bottom: "pool1" top: "lrn" lrn_param { local_size: 3 alpha: 0.1 beta: 0.75 } }
layer { name: "lrn_w" type: "LRN" bottom: "pool2" top: "lrn_w"
  lrn_param { local_size: 3 alpha: 0.1 beta: 0.75 norm_region: WITHIN_CHANNEL } }
layer { name: "sum" type: "Eltwise" bottom: "lrn" bottom: "lrn_w" top: "sum"
  eltwise_param { operation: SUM coeff: 1 coeff: -0.5 } }
layer { name: "prod" type: "Eltwise" bottom: "lrn" bottom: "lrn_w" top: "prod" eltwise_param { operation: PROD } }
layer { name: "max" type: "Eltwise" bottom: "sum" bottom: "prod" top: "max" eltwise_param { operation: MAX } }
layer { name: "sig" type: "Sigmoid" bottom: "max" top: "sig" }
layer { name: "tanh" type: "TanH" bottom: "sum" top: "tanh" }
layer { name: "cat" type: "Concat" bottom: "sig" bottom: "tanh" top: "cat" concat_param { axis: 1 } }
layer { name: "deconv" type: "Deconvolution" bottom: "cat" top: "deconv"
  convolution_param { num_output: 4 kernel_size: 4 stride: 2 pad: 1 } }
layer { name: "flat" type: "Flatten" bottom: "deconv" top: "flat" }
layer { name: "drop" type: "Dropout" bottom: "flat" top: "flat" dropout_param { dropout_ratio: 0.5 } }
layer { name: "fc1" type: "InnerProduct" bottom: "flat" top: "fc1" inner_product_param { num_output: 24 } }
layer { name: "reshape" type: "Reshape" bottom: "fc1" top: "rs" reshape_param { shape { dim: 0 dim: 4 dim: -1 } } }
layer { name: "fc2" type: "InnerProduct" bottom: "rs" top: "fc2" inner_product_param { num_output: 5 } }
layer { name: "relu_leaky" type: "ReLU" bottom: "fc2" top: "fc2" relu_param { negative_slope: 0.1 } }
layer { name: "prob" type: "Softmax" bottom: "fc2" top: "prob" }
"""

# Run in Caffe's root: random weights for every parameter blob (BatchNorm: positive variances, a scale factor).
RANDOM_WEIGHTS = """\
import os, sys
os.environ["GLOG_minloglevel"] = "2"
import numpy as np, caffe
net = caffe.Net(sys.argv[1], caffe.TEST)
rng = np.random.default_rng(1)
for name, blobs in net.params.items():
    for blob in blobs:
        blob.data[...] = rng.standard_normal(blob.data.shape) * 0.3
    if net.layer_dict[name].type == "BatchNorm":
        blobs[1].data[...] = np.abs(blobs[1].data) + 0.5
        blobs[2].data[...] = 2.0
net.save(sys.argv[2])
"""


# -- quick: no Caffe needed ---------------------------------------------------------------------------------


def test_prototxt_reader_keeps_lines_and_values(tmp_path: Path) -> None:
    message = prototxt.parse(
        'name: "n"\n# comment\nlayer {\n  name: "a" type: "Pooling"\n  top: "x"\n'
        "  pooling_param { pool: AVE kernel_size: [2, 3] }\n}\n",
        "net.prototxt",
    )
    layer = message.get("layer")
    assert message.get("name") == "n" and message.line_of("layer") == 3
    assert layer.msg("pooling_param").get("pool") == "AVE"
    assert layer.msg("pooling_param").all("kernel_size") == [2, 3]


@pytest.mark.parametrize(
    ("text", "line"),
    [('layer {\n name: "a"\n type "ReLU"\n}\n', 3), ('layer {\n name: "a"\n', 2), ('name: "a"\n}\n', 2)],
)
def test_prototxt_syntax_errors_name_file_and_line(text: str, line: int) -> None:
    with pytest.raises(BadInput, match=rf"^net.prototxt:{line}: syntax error"):
        prototxt.parse(text, "net.prototxt")


def test_unsupported_layer_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_text(EVERY_LAYER.replace('name: "tanh" type: "TanH"', 'name: "tanh" type: "Crop"'))
    with pytest.raises(BadInput, match=rf"^{path}:24: layer 'tanh' has type 'Crop'"):
        caffe_net.load(path)


def test_net_reads_inputs_layers_and_skips_train_only_layers(tmp_path: Path) -> None:
    path = tmp_path / "net.prototxt"
    path.write_text(
        EVERY_LAYER + 'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc2" top: "loss" '
        "include { phase: TRAIN } }\n"
    )
    net = caffe_net.load(path)
    assert net.inputs == {"data": (2, 3, 13, 13)}
    assert [layer.name for layer in net.layers][:3] == ["conv1", "bn1", "scale1"]
    assert "loss" not in [layer.name for layer in net.layers]


def test_dest_must_be_new_or_empty(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep")
    with pytest.raises(BadInput, match="not empty"):
        core.check_dest(tmp_path / "full", [])
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadInput, match="not a folder"):
        core.check_dest(tmp_path / "file", [])
    with pytest.raises(BadInput, match="inside the source"):
        core.check_dest(tmp_path / "full" / "out", [tmp_path / "full"])
    (tmp_path / "empty").mkdir()
    core.check_dest(tmp_path / "empty", [])
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep"


def test_max_abs_diff_reports_shape_and_nan() -> None:
    import numpy as np

    assert core.max_abs_diff(np.ones((2, 3)), np.ones((2, 3)) + 1e-3)[0] == pytest.approx(1e-3)
    assert core.max_abs_diff(np.ones((2, 3)), np.ones((3, 3)))[1] == "shape (3, 3), expected (2, 3)"
    assert core.max_abs_diff(np.ones(2), np.array([1.0, np.nan]))[0] == float("inf")


# -- integration: Caffe in its Debian root --------------------------------------------------------------------


@pytest.fixture
def caffe_root(envs_root: Path, monkeypatch: pytest.MonkeyPatch):
    """The Caffe environment (DLPICK_TEST_ENVS keeps it across runs; else it is built, minutes)."""
    from dlpick.migrate import caffe
    from dlpick.verify import envs

    if envs.debian_tools_missing():
        pytest.skip(f"Caffe runs in a Debian root: {envs.debian_tools_missing()}")
    monkeypatch.setenv("DLPICK_ENVS", str(envs_root))
    return caffe.caffe_env()


def dlpick(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlpick", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
    )


def in_caffe(env, script: str, *args: str, cwd: Path) -> None:
    (cwd / "script.py").write_text(script)
    ran = subprocess.run([env.python, "script.py", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]


@pytest.fixture
def every_layer(caffe_root, tmp_path: Path) -> tuple[Path, Path]:
    work = tmp_path / "net"
    work.mkdir()
    (work / "net.prototxt").write_text(EVERY_LAYER)
    in_caffe(caffe_root, RANDOM_WEIGHTS, "net.prototxt", "net.caffemodel", cwd=work)
    (work / "script.py").unlink()
    return work / "net.prototxt", work / "net.caffemodel"


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.integration
@pytest.mark.needs_index  # builds the framework's environment when the cache lacks it
def test_every_supported_layer_migrates_within_1e_4(every_layer: tuple[Path, Path], tmp_path: Path) -> None:
    import numpy as np

    net, weights = every_layer
    before = snapshot(net.parent)
    np.save(tmp_path / "sample.npy", np.random.default_rng(5).uniform(-2, 2, (2, 3, 13, 13)).astype(np.float32))
    started = time.monotonic()
    ran = dlpick(
        "migrate",
        "caffe",
        str(net),
        str(weights),
        "--to",
        "pytorch",
        "--dest",
        str(tmp_path / "out"),
        "--sample",
        str(tmp_path / "sample.npy"),
        "--json",
    )
    seconds = time.monotonic() - started
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert report["passed"] and report["from"] == "caffe" and report["to"] == "pytorch"
    assert {o["name"] for o in report["outputs"]} == {"prob", "onnx:prob"}
    assert all(o["max_abs_diff"] <= 1e-4 for o in report["outputs"] + report["layers"])
    layer_types = {layer["type"] for layer in report["layers"]}
    assert layer_types == set(caffe_net.SUPPORTED), set(caffe_net.SUPPORTED) - layer_types
    assert {"model.py", "model.pt", "model.onnx", "MIGRATION.md", "migration.json"} <= set(report["files"])
    assert len(report["inputs"]) == 2  # random inputs and the sample
    assert snapshot(net.parent) == before  # the sources are untouched
    out = tmp_path / "out"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")] == []  # no staging left
    # The module stands alone: load() and a forward pass outside dlpick.
    probe = (
        "import sys, torch; sys.path.insert(0, sys.argv[1]); import model; "
        "print(tuple(model.load()(torch.randn(3, 3, 13, 13)).shape))"
    )
    alone = subprocess.run([sys.executable, "-c", probe, str(out)], capture_output=True, text=True, timeout=120)
    assert alone.stdout.strip() == "(3, 5)", alone.stderr
    assert "self.conv2_grouped = nn.Conv2d(8, 8" in (out / "model.py").read_text()
    measures = report["measures"]
    print(
        f"\nevery-layer net: {seconds:.1f} s, max |diff| {measures['max_abs_diff']:.2g}, "
        f"prototxt {measures['prototxt_lines']} lines / model.py {measures['model_py_lines']} lines"
    )


@pytest.mark.integration
@pytest.mark.needs_index  # builds the framework's environment when the cache lacks it
@pytest.mark.parametrize("task", ["tabular-classification", "image-classification"])
def test_the_caffe_templates_trained_model_migrates(caffe_root, task: str, tmp_path: Path) -> None:
    from dlpick.migrate import caffe
    from dlpick.project.render import render

    project = tmp_path / "proj"
    render("caffe", task, project)
    env = {**os.environ, "PYTHONPATH": "src"}
    train = [caffe_root.python, "-m", "proj.train", "--smoke", "--out", "runs/smoke"]
    ran = subprocess.run(train, cwd=project, env=env, capture_output=True, text=True, timeout=900)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    run = project / "runs" / "smoke"
    started = time.monotonic()
    result = caffe.migrate(caffe.CaffeRequest(run / "deploy.prototxt", run / "model.caffemodel", tmp_path / "out"))
    assert result.passed, [d.to_json() for d in [*result.outputs, *result.layers] if not d.passed]
    assert result.measures["max_abs_diff"] <= 1e-4
    print(
        f"\ncaffe {task}: {time.monotonic() - started:.1f} s, max |diff| {result.measures['max_abs_diff']:.2g}, "
        f"prototxt {result.measures['prototxt_lines']} lines / model.py {result.measures['model_py_lines']} lines"
    )


BAD_PROTOTXT = [
    (
        "syntax",
        lambda t: t.replace('layer { name: "tanh"', 'layer { name: "tanh" oops'),
        r"net.prototxt:24: syntax error",
    ),
    (
        "unsupported",
        lambda t: t.replace('type: "TanH"', 'type: "Crop"'),
        r"net.prototxt:24: layer 'tanh' has type 'Crop'",
    ),
    (
        "unknown field",
        lambda t: t.replace('top: "rs"', 'top: "rs" bottom_x: 3'),
        r'net.prototxt:31: .*no field named "bottom_x"',
    ),
    (
        "weights of another shape",
        lambda t: t.replace("num_output: 5 ", "num_output: 6 "),
        r"net.caffemodel: layer 'fc2' blob 0 has shape \(5, 24\), the prototxt's needs \(6, 24\)",
    ),
    (
        "a layer without weights",
        lambda t: t.replace('name: "fc2"', 'name: "fc_new"'),
        r"net.caffemodel: has no weights for layer 'fc_new'",
    ),
]


@pytest.mark.integration
@pytest.mark.needs_index  # builds the framework's environment when the cache lacks it
@pytest.mark.parametrize(("case", "edit", "message"), BAD_PROTOTXT, ids=[c[0] for c in BAD_PROTOTXT])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    every_layer: tuple[Path, Path], tmp_path: Path, case: str, edit, message: str
) -> None:
    net, weights = every_layer
    bad = net.parent / "bad" / "net.prototxt"
    bad.parent.mkdir()
    bad.write_text(edit(EVERY_LAYER))
    dest = tmp_path / "out"
    ran = dlpick("migrate", "caffe", str(bad), str(weights), "--dest", str(dest), "--json")
    assert ran.returncode == 2, ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dlpick: error: "), ran.stderr
    import re

    assert re.search(message, lines[0]), lines[0]
    assert json.loads(ran.stdout)["exit_code"] == 2
    assert not dest.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


@pytest.mark.integration
@pytest.mark.needs_index  # builds the framework's environment when the cache lacks it
def test_a_file_that_is_no_caffemodel_exits_2(every_layer: tuple[Path, Path], tmp_path: Path) -> None:
    net, _ = every_layer
    ran = dlpick("migrate", "caffe", str(net), str(net), "--dest", str(tmp_path / "out"))
    assert ran.returncode == 2
    assert ran.stderr.strip() == f"dlpick: error: {net}: not a binary Caffe model (NetParameter): Error parsing message"
    assert not (tmp_path / "out").exists()


@pytest.mark.integration
@pytest.mark.needs_index  # builds the framework's environment when the cache lacks it
def test_disagreement_exits_1_and_keeps_the_files(every_layer: tuple[Path, Path], tmp_path: Path) -> None:
    net, weights = every_layer
    dest = tmp_path / "out"
    dest.mkdir()  # an empty folder is fine
    ran = dlpick(
        "migrate", "caffe", str(net), str(weights), "--dest", str(dest), "--atol", "1e-12", "--rtol", "0", "--json"
    )
    assert ran.returncode == 1, ran.stderr
    report = json.loads(ran.stdout)
    assert not report["passed"] and "model.py" in report["files"]
    assert "the migrated model disagrees" in ran.stderr and "MIGRATION.md" in ran.stderr
    assert "DIFFERS" in (dest / "MIGRATION.md").read_text()
    again = dlpick("migrate", "caffe", str(net), str(weights), "--dest", str(dest))
    assert again.returncode == 2 and "not empty" in again.stderr  # never overwrites


@pytest.mark.integration
@pytest.mark.needs_index  # builds the framework's environment when the cache lacks it
def test_scaffold_pytorch_from_the_migration(every_layer: tuple[Path, Path], tmp_path: Path) -> None:
    net, weights = every_layer
    assert dlpick("migrate", "caffe", str(net), str(weights), "--dest", str(tmp_path / "out")).returncode == 0
    project = tmp_path / "proj"
    made = dlpick(
        "scaffold",
        "pytorch",
        "--task",
        "tabular-classification",
        "--dest",
        str(project),
        "--from-migration",
        str(tmp_path / "out"),
        "--no-verify",
        "--json",
    )
    assert made.returncode == 0, made.stderr
    assert any("proj.migrated import load" in step for step in json.loads(made.stdout)["next_steps"])
    assert (project / "src" / "proj" / "migrated" / "model.pt").is_file()
    env = {**os.environ, "PYTHONPATH": "src"}
    test = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_migrated_model.py"]
    ran = subprocess.run(test, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0 and "1 passed" in ran.stdout, ran.stdout[-3000:]
    refused = dlpick(
        "scaffold",
        "jax",
        "--task",
        "tabular-classification",
        "--dest",
        str(tmp_path / "p2"),
        "--from-migration",
        str(tmp_path / "out"),
        "--no-verify",
    )
    assert refused.returncode == 2 and "--from-migration" in refused.stderr and not (tmp_path / "p2").exists()


def test_legacy_inputs_and_v1_layers_are_read(tmp_path: Path) -> None:
    path = tmp_path / "old.prototxt"
    path.write_text(
        'name: "old"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\ninput_dim: 8\n'
        'layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv" convolution_param { num_output: 2 '
        "kernel_size: 3 } }\n"
        'layers { name: "relu" type: RELU bottom: "conv" top: "conv" }\n'
    )
    net = caffe_net.load(path)
    assert net.inputs == {"data": (1, 3, 8, 8)}
    assert [(layer.name, layer.type, layer.line) for layer in net.layers] == [
        ("conv", "Convolution", 7),
        ("relu", "ReLU", 8),
    ]
