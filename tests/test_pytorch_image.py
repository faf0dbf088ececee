"""PyTorch's image starter: a ResNet on RGB images at a realistic size by default (the sample small
enough for a quick smoke run), starting from a local weights file when `model.weights` names one,
read without running code; torchvision's model where torchvision imports. Validation accuracy per
epoch in TensorBoard and a confusion-matrix plot beside the ROC plot (the last test trains: slow)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dlpick.project import render

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")

# Builds the model for the config and `--set` items in argv[3:] with seed argv[1]; prints the outputs on
# the first four training images as JSON, and saves the backbone's state_dict to argv[2] unless it is "-".
PREDICT = """
import json, sys
import torch
from PKG import config, data, engine
cfg = config.smoke_config(config.load_config(overrides=sys.argv[3:]))
train, _, _, preprocess = data.prepare(cfg)
engine.seed(int(sys.argv[1]))
model = engine.build(preprocess, cfg)
if sys.argv[2] != "-":
    torch.save(model.backbone.state_dict(), sys.argv[2])
print(json.dumps({"backbone": type(model.backbone).__name__,
                  "outputs": engine.forward(model, data.inputs(train.x[:4], preprocess)).tolist()}))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render.render(
        "pytorch", "image-classification", tmp_path_factory.mktemp("pt") / "pt-image", name="pt image"
    ).project_dir


def _python(project: Path, code: str, *args: str, path: str = "src") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", code.replace("PKG", "pt_image"), *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _module(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": "src", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )


def _predict(project: Path, seed: int, save: str = "-", *overrides: str) -> dict:
    ran = _python(project, PREDICT, str(seed), save, *overrides)
    assert ran.returncode == 0, ran.stderr[-3000:]
    return json.loads(ran.stdout.splitlines()[-1])


def test_the_default_config_trains_a_resnet_on_rgb_images_at_a_realistic_size(project: Path):
    config = yaml.safe_load((project / "configs" / "default.yaml").read_text())
    assert config["model"]["backbone"] == "resnet18" and config["model"]["weights"] == "none"
    assert config["data"]["image_size"] == 224 and config["data"]["smoke_image_size"] == 32
    engine = (project / "src" / "pt_image" / "engine.py").read_text()
    assert "class BasicBlock(nn.Module):" in engine and "import torchvision" in engine
    assert "torchvision" not in (project / "requirements.txt").read_text()  # it would pull a CUDA torch
    assert "torchvision" in (project / "README.md").read_text()  # which model a run uses is said


def test_the_sample_is_rgb_and_read_as_three_channels(project: Path):
    pytest.importorskip("sklearn", reason="the sample is drawn from scikit-learn's digits")
    pytest.importorskip("PIL", reason="the images are written and read with Pillow")
    code = (
        "from pathlib import Path\nfrom PIL import Image\nfrom PKG import config, datasets\n"
        "cfg = config.load_config()\n"
        "train = datasets.load(config.smoke_config(cfg)['data'])\n"
        "first = sorted(Path('data/sample/images').glob('*/*.png'))[0]\n"
        "print(Image.open(first).mode, Image.open(first).size, train.x.shape[1:])"
    )
    ran = _python(project, code)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.split() == ["RGB", "(32,", "32)", "(3,", "32,", "32)"]


@needs_torch
def test_the_projects_own_resnets_have_torchvisions_layout(project: Path):
    """Parameter counts with 1000 classes as torchvision documents them (ResNet18_Weights.IMAGENET1K_V1 and
    ResNet34_Weights.IMAGENET1K_V1: "num_params"), and its names, so its state_dicts load here."""
    code = (
        "from PKG import engine\n"
        "for name in ('resnet18', 'resnet34'):\n"
        "    net = engine.ResNet(engine.RESNET_LAYERS[name], 1000)\n"
        "    state = net.state_dict()\n"
        "    print(name, sum(p.numel() for p in net.parameters()), len(state), list(state)[0],\n"
        "          list(state['layer2.0.downsample.0.weight'].shape), list(state['fc.weight'].shape))"
    )
    ran = _python(project, code)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.splitlines() == [
        "resnet18 11689512 122 conv1.weight [128, 64, 1, 1] [1000, 512]",
        "resnet34 21797672 218 conv1.weight [128, 64, 1, 1] [1000, 512]",
    ]


@needs_torch
def test_a_weights_file_is_where_the_backbone_starts(project: Path, tmp_path: Path):
    weights = tmp_path / "backbone.pt"
    saved = _predict(project, 1, str(weights))
    assert saved["backbone"] == "ResNet"  # engine.py's own (torchvision is not importable here)
    fresh = _predict(project, 2)
    started = _predict(project, 2, "-", f"model.weights={weights}")
    assert fresh["outputs"] != saved["outputs"]  # another seed, other initial weights
    numpy = pytest.importorskip("numpy")
    numpy.testing.assert_allclose(started["outputs"], saved["outputs"], atol=1e-5)


@needs_torch
def test_weights_of_another_model_or_a_code_pickle_are_one_line_and_exit_2(project: Path, tmp_path: Path):
    other = tmp_path / "resnet34.pt"
    _predict(project, 0, str(other), "model.backbone=resnet34")
    ran = _module(project, "pt_image.train", "--smoke", "--out", str(tmp_path / "a"), "--set", f"model.weights={other}")
    assert ran.returncode == 2 and "Traceback" not in ran.stderr
    assert ran.stderr.strip().splitlines()[-1].startswith(f"error: model.weights: {other}: not weights of resnet18 (")

    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pt"
    code = (
        "import os, pickle, sys\n"
        "class Payload:\n"
        "    def __reduce__(self):\n"
        "        return (os.system, (f'touch {sys.argv[2]}',))\n"
        "pickle.dump(Payload(), open(sys.argv[1], 'wb'))"
    )
    assert subprocess.run([sys.executable, "-c", code, str(evil), str(marker)], check=False).returncode == 0
    ran = _module(project, "pt_image.train", "--smoke", "--out", str(tmp_path / "b"), "--set", f"model.weights={evil}")
    assert ran.returncode == 2 and "Traceback" not in ran.stderr, ran.stderr[-2000:]
    assert ran.stderr.strip().splitlines()[-1].startswith(f"error: model.weights: {evil}: holds more than tensors")
    assert not marker.exists()  # the pickle's code never ran


@needs_torch
def test_torchvision_is_used_where_it_imports(project: Path, tmp_path: Path):
    """A stand-in torchvision package on the path: the backbone is what its get_model returns."""
    models = tmp_path / "fake" / "torchvision" / "models"
    models.mkdir(parents=True)
    (models.parent / "__init__.py").write_text("from . import models\n")
    (models / "__init__.py").write_text(
        "from torch import nn\n"
        "def list_models(module=None):\n    return ['tiny_net']\n"
        "class TinyNet(nn.Sequential):\n"
        "    def __init__(self, num_classes):\n"
        "        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, num_classes))\n"
        "def get_model(name, num_classes):\n    return TinyNet(num_classes)\n"
    )
    ran = _python(project, PREDICT, "0", "-", "model.backbone=tiny_net", path=f"src{os.pathsep}{tmp_path / 'fake'}")
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert json.loads(ran.stdout.splitlines()[-1])["backbone"] == "TinyNet"
    without = _module(project, "pt_image.train", "--smoke", "--set", "model.backbone=tiny_net")
    assert without.returncode == 2 and "needs torchvision" in without.stderr.strip().splitlines()[-1]


@needs_torch
@pytest.mark.integration
def test_tensorboard_has_accuracy_per_epoch_and_evaluate_plots_the_confusion_matrix(project: Path, tmp_path: Path):
    run = tmp_path / "run"
    ran = _module(project, "pt_image.train", "--epochs", "2", "--set", "data.image_size=32", "--out", str(run))
    assert ran.returncode == 0, ran.stderr[-3000:]
    ran = _module(project, "pt_image.evaluate", "--run", str(run))
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert (run / "confusion_matrix.png").read_bytes().startswith(b"\x89PNG") and (run / "evaluation.png").is_file()
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    events = accumulator.EventAccumulator(str(run))  # the events file is in the run folder
    events.Reload()
    accuracy = events.Scalars("accuracy/validation")
    assert [event.step for event in accuracy] == [1, 2]
    assert all(0.0 <= event.value <= 1.0 for event in accuracy)
