"""TensorFlow's image template with a keras.applications backbone (`model.backbone`, `model.weights`):
it trains, exports and reloads; ImageNet weights that cannot be downloaded fail in one line; a
weights file (written here by the test) is what the backbone starts from; a wrong file or name is
one line too (slow: trains)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dlpick.project import render

# Whether TensorFlow is installed, without importing it: an import at collection cost every run,
# integration or not, about 10 s (the tests themselves run TensorFlow in subprocesses).
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow is not installed"),
]

BACKBONE = "model.backbone=MobileNetV3Small"
# What TensorFlow and absl print on import whatever TF_CPP_MIN_LOG_LEVEL says.
IMPORT_LOG = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} |To enable the following instructions)")

# Builds the model for the config and `--set` items in argv[3:], with seed argv[1]; prints the SHA-256
# of its backbone's weights, and saves them to argv[2] unless it is "-".
DIGEST = """
import hashlib, sys
from PKG import config, data, engine
cfg = config.load_config(overrides=sys.argv[3:])
preprocess = data.prepare(cfg)[-1]
engine.seed(int(sys.argv[1]))
backbone = engine.build(preprocess, cfg).get_layer("backbone")
if sys.argv[2] != "-":
    backbone.save_weights(sys.argv[2])
print(hashlib.sha256(b"".join(w.tobytes() for w in backbone.get_weights())).hexdigest())
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render.render(
        "tensorflow", "image-classification", tmp_path_factory.mktemp("tf") / "tf-backbone"
    ).project_dir


def _run(project: Path, args: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": "src",
        "PYTHONDONTWRITEBYTECODE": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "KERAS_HOME": str(tmp / "keras-home"),  # no weights downloaded before
        "HTTPS_PROXY": "http://127.0.0.1:9",  # nothing listens there: a download fails at once, online or not
        "https_proxy": "http://127.0.0.1:9",
    }
    return subprocess.run([sys.executable, *args], cwd=project, env=env, capture_output=True, text=True, timeout=600)


def _package(project: Path) -> str:
    return json.loads((project / ".cookiecutter.json").read_text())["package_name"]


def _one_error_line(ran: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in ran.stderr.splitlines() if line.strip() and not IMPORT_LOG.match(line)]
    assert ran.returncode == 2 and len(lines) == 1, ran.stderr[-3000:]
    return lines[0]


def test_a_backbone_trains_exports_and_reloads(project: Path, tmp_path: Path):
    train = ["-m", f"{_package(project)}.train", "--smoke", "--export-check", "--out", str(tmp_path / "run")]
    ran = _run(project, [*train, "--device", "cpu", "--set", BACKBONE], tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    checks = json.loads((tmp_path / "run" / "export.json").read_text())["checks"]
    assert checks and all(check["passed"] for check in checks), checks
    evaluate = _run(project, ["-m", f"{_package(project)}.evaluate", "--run", str(tmp_path / "run")], tmp_path)
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]


def test_imagenet_weights_that_cannot_be_downloaded_fail_in_one_line(project: Path, tmp_path: Path):
    train = ["-m", f"{_package(project)}.train", "--smoke", "--out", str(tmp_path / "run")]
    ran = _run(project, [*train, "--set", BACKBONE, "model.weights=imagenet"], tmp_path)
    line = _one_error_line(ran)
    assert line.startswith("error: model.weights: imagenet: cannot download MobileNetV3Small's ImageNet weights"), line
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_the_backbone_starts_from_a_weights_file(project: Path, tmp_path: Path):
    script = ["-c", DIGEST.replace("PKG", _package(project))]
    saved = tmp_path / "backbone.weights.h5"

    def digest(seed: int, *settings: str, save: str = "-") -> str:
        ran = _run(project, [*script, str(seed), save, BACKBONE, *settings], tmp_path)
        assert ran.returncode == 0, ran.stderr[-3000:]
        return ran.stdout.split()[-1]

    written = digest(0, save=str(saved))
    assert digest(1) != written  # another seed, other new weights ...
    assert digest(1, f"model.weights={saved}") == written  # ... unless they come from the file

    other = tmp_path / "other.weights.h5"
    _run(project, [*script, "0", str(other), "model.backbone=EfficientNetB0"], tmp_path)
    for settings, expected in [
        ([f"model.weights={other}"], f"error: model.weights: {other}: not weights of MobileNetV3Small at 32 px"),
        ([f"model.weights={tmp_path / 'none.h5'}"], "no such file"),
        (["model.backbone=ResNet9"], "error: model.backbone: 'ResNet9' is not one of cnn, MobileNetV3Small"),
    ]:
        ran = _run(project, [*script, "0", "-", BACKBONE, *settings], tmp_path)
        line = _one_error_line(ran)
        assert expected in line, line
