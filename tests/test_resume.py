"""`train --resume RUN` ends with the same weights as one uninterrupted run (within 1e-6; on one CPU
they are bit-identical), and the README's --set and --resume commands work as shown (slow: trains)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlpick.project import render

pytestmark = pytest.mark.integration

TOLERANCE = 1e-6


def train(project: Path, *args: str, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": "src", "PYTHONDONTWRITEBYTECODE": "1"}
    package = json.loads((project / ".cookiecutter.json").read_text())["package_name"]
    return subprocess.run([python, "-m", f"{package}.train", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip


def readme_commands(project: Path) -> list[list[str]]:
    """The README's training commands that use --set, --resume or write runs/first (they go together)."""
    section = (project / "README.md").read_text().split("## Train", 1)[1].split("\n## ", 1)[0]
    commands = []
    for line in section.splitlines():
        command = line.split("#", 1)[0].split()
        if command[:2] == ["python", "-m"] and {"--set", "--resume", "runs/first"} & set(command):
            commands.append(command[3:])  # after `python -m PACKAGE.train`
    return commands


def max_difference(first: dict, second: dict) -> float:
    assert sorted(first) == sorted(second)
    return max((float(np.max(np.abs(np.asarray(first[k], np.float64) - np.asarray(second[k], np.float64))))
                for k in first), default=0.0)  # fmt: skip


# The frameworks installed beside dlpick (not isolated): module, distributions (one of them is installed),
# a name in their checkpoint that only the optimiser's state has (AdamW's moments), so the test sees that
# the optimiser state is saved, not only the weights, and where the best epoch's weights are. PyTorch's is
# torch.save's checkpoint.pt of state_dicts (the optimizer's as torch.optim writes it), TensorFlow's
# Keras weights files (the compiled model's optimizer's variables by their index; the best epoch's file).
IN_PLACE = {
    "pytorch": ("torch", ("torch",), r"^optimizer/state/\d+/exp_avg$", "best/model/"),
    "tensorflow": (
        "tensorflow",
        ("tensorflow", "tensorflow-cpu"),
        r"^optimizer/vars/\d+$",
        "best/",
    ),
}


def checkpoint(run: Path) -> dict[str, np.ndarray]:
    """A run's checkpoint as {name: array}, but its meta record: checkpoint.npz's arrays, checkpoint.pt's
    tensors and numbers (read with weights_only) named by their place in it (optimizer/state/0/exp_avg),
    or the datasets of the Keras weights files that checkpoint.json names (the best epoch's as best/...),
    the only files in the run's checkpoints/."""
    if (run / "checkpoint.json").exists():
        import h5py

        record = json.loads((run / "checkpoint.json").read_text())
        assert sorted(p.name for p in (run / "checkpoints").iterdir()) == sorted([record["checkpoint"], record["best"]])
        flat = {}
        for prefix, name in (("", record["checkpoint"]), ("best/", record["best"])):
            with h5py.File(run / "checkpoints" / name, "r") as file:
                names: list[str] = []
                file.visit(names.append)
                flat.update({prefix + path: file[path][()] for path in names if isinstance(file[path], h5py.Dataset)})
        return flat
    if not (run / "checkpoint.pt").exists():
        with np.load(run / "checkpoint.npz") as saved:
            return {k: saved[k] for k in saved.files if k != "meta"}
    import torch

    flat: dict[str, np.ndarray] = {}

    def walk(value: object, name: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{name}/{key}" if name else str(key))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(item, f"{name}/{index}")
        elif isinstance(value, torch.Tensor):
            flat[name] = value.numpy()
        elif isinstance(value, int | float):
            flat[name] = np.asarray(value)

    saved = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
    walk({k: v for k, v in saved.items() if k != "meta"}, "")
    return flat


@pytest.mark.parametrize("framework", sorted(IN_PLACE))
def test_resume_equals_one_run_and_the_readme_commands_work(tmp_path: Path, framework: str):
    """PyTorch (checkpoint.pt) and TensorFlow (Keras .weights.h5 and checkpoint.json) resume bit-identically,
    in dlpick's own environment; the README's --set, --epochs and --resume commands run as shown.
    Measured on one CPU: bit-identical (max |diff| 0.0) for both."""
    module, distributions, moments, best = IN_PLACE[framework]
    pytest.importorskip(module)
    project = render.render(framework, "tabular-regression", tmp_path / "resume-demo").project_dir
    commands = readme_commands(project)
    assert [c[0] for c in commands] == ["--set", "--epochs", "--resume"], commands
    for command in commands:  # as shown: --set ... --out runs/tuned; --epochs 3 --out runs/first; --resume runs/first
        ran = train(project, *command)
        assert ran.returncode == 0, ran.stderr[-3000:]
    tuned = (project / "runs" / "tuned" / "config.yaml").read_text()
    assert re.search(r"learning_rate: 0\.001\b", tuned) and "batch_size: 64" in tuned, tuned
    first = project / "runs" / "first"
    assert "resumed after epoch 3" in ran.stderr, ran.stderr
    epochs = int(commands[-1][commands[-1].index("--epochs") + 1])
    whole = train(project, "--epochs", str(epochs), "--out", "runs/whole")
    assert whole.returncode == 0, whole.stderr[-3000:]
    one_go = project / "runs" / "whole"

    resumed_metrics, whole_metrics = (json.loads((run / "metrics.json").read_text()) for run in (first, one_go))
    assert resumed_metrics["epochs"] == whole_metrics["epochs"] == epochs
    assert resumed_metrics["steps"] == whole_metrics["steps"]
    assert resumed_metrics["loss_history"] == pytest.approx(whole_metrics["loss_history"], abs=TOLERANCE)
    assert (first / "history.csv").read_text() == (one_go / "history.csv").read_text()
    # The last state (weights, the optimiser's moments and step count, random states) and the best
    # epoch's, which the run ends with.
    last = [checkpoint(run) for run in (first, one_go)]
    assert any(re.search(moments, name) for name in last[0]), sorted(last[0])
    assert any(name.startswith(best) for name in last[0]), sorted(last[0])
    assert last[0].keys() == last[1].keys()
    assert max_difference(*last) <= TOLERANCE
    # The final (best) weights as saved for evaluate and export: equal predictions on the test split.
    assert resumed_metrics["eval"] == pytest.approx(whole_metrics["eval"], abs=TOLERANCE)

    record = json.loads((first / "run.json").read_text())
    assert record["resumed_from"] == "runs/first" and record["previous"]["seed"] == 42, record
    assert any(record["packages"].get(name) for name in distributions), record
    # The resumed run's TensorBoard logs go on from epoch 4, and have the learning rate and test metrics;
    # they lie in the run folder, so `tensorboard --logdir runs` names the run "first".
    assert len(list(first.glob("events.out.tfevents.*"))) == 2
    logged = tensorboard_tags(first)
    assert {"loss/train", "loss/validation", "learning_rate", "steps", "test/mse"} <= logged.keys(), logged
    assert sorted(logged["loss/train"]) == list(range(1, epochs + 1)), logged["loss/train"]

    again = train(project, "--resume", "runs/first", "--set", "model.hidden=8")
    # TensorFlow's C++ runtime logs a few lines when it is imported, whatever TF_CPP_MIN_LOG_LEVEL says.
    said = [line for line in again.stderr.splitlines() if not line.startswith(TF_IMPORT_LOG)]
    assert again.returncode == 2 and len(said) == 1, again.stderr
    assert "model.hidden is 64 in the run but 8 now" in again.stderr


TF_IMPORT_LOG = ("WARNING: All log messages before absl::InitializeLog()", "I0000 ")


def tensorboard_tags(folder: Path) -> dict[str, list[int]]:
    """Every scalar tag in a TensorBoard folder's event files, with the steps it was written at."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: dict[str, list[int]] = {}
    for events in sorted(folder.glob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0, "tensors": 0})
        accumulator.Reload()
        found = accumulator.Tags()
        for tag in found.get("scalars", []):
            tags.setdefault(tag, []).extend(event.step for event in accumulator.Scalars(tag))
        for tag in found.get("tensors", []):  # tf.summary writes scalars as tensors
            tags.setdefault(tag, []).extend(event.step for event in accumulator.Tensors(tag))
    return tags


# Engine templates whose Trainer has state(), and a name in their checkpoint that only the optimiser's
# moments have (so the test sees that the optimiser state is saved, not only the weights).
RESUMABLE_ENGINES = {
    "pytensor": r"\.m$",  # Adam's first moment of each shared variable
    "jax": r"^state/optimizer/opt_state/0/mu/",  # optax AdamW's first moments (in Orbax's checkpoint)
    "paddlepaddle": r"^state/optimizer/.+/moment1_0$",  # AdamW's accumulators, per parameter
    "mxnet": r"^state/optimizer/.+/0$",  # gluon.Trainer's Adam: the first moment, per parameter
    "mindspore": r"^state/optimizer/moment1\.",  # nn.Adam's first moments
    "caffe": r"^state/optimizer/history/",  # the Adam solver's moments, from its own snapshot
}


# JAX's checkpoint is Orbax's (checkpoints/EPOCH/{state,best,meta}): its arrays read back, in the project's
# environment, without a target, as {"state/model/dense1/kernel/value": array, ...}.
ORBAX_ARRAYS = r"""
import sys
import jax
import numpy as np
import orbax.checkpoint as ocp
from pathlib import Path

folder = Path(sys.argv[1]).absolute()
(step,) = [path for path in folder.iterdir() if path.name.isdigit()]  # one kept
arrays = {}
for item in ("state", "best"):
    tree = ocp.StandardCheckpointer().restore(step / item)
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        arrays[f"{item}/{jax.tree_util.keystr(path, simple=True, separator='/')}"] = np.asarray(leaf)
np.savez(sys.argv[2], **arrays)
"""


def engine_checkpoint(run: Path, python: Path) -> dict[str, np.ndarray]:
    """A run's checkpoint as {name: array}, but its meta record: checkpoint.npz, or Orbax's (JAX)."""
    if (run / "checkpoints").is_dir():
        flat = run / "checkpoint-arrays.npz"
        ran = subprocess.run([str(python), "-c", ORBAX_ARRAYS, str(run / "checkpoints"), str(flat)],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert ran.returncode == 0, ran.stderr[-3000:]
        with np.load(flat) as saved:
            return dict(saved)
    with np.load(run / "checkpoint.npz") as saved:
        return {k: saved[k] for k in saved.files if k != "meta"}


@pytest.mark.needs_index
@pytest.mark.parametrize("framework", sorted(RESUMABLE_ENGINES))
def test_engine_template_resume_equals_one_run(tmp_path: Path, envs_root: Path, framework: str):
    """The shared driver's checkpoint.npz (JAX: Orbax's checkpoints/EPOCH), through the engine's
    Trainer.state()/load_state(), in the project's own isolated environment (the one `verify --isolated`
    builds and the other tests share).
    On one CPU each is bit-identical (measured max |diff| 0.0 for PyTensor, JAX under XLA,
    PaddlePaddle, MXNet and MindSpore; by hand also on the image and text tasks): a resumed step is
    the same computation on the same values (JAX's and MindSpore's compiled again, deterministically).
    TOLERANCE (the PyTorch test's 1e-6) leaves room for threaded kernels that reduce in a varying
    order on other machines."""
    from dlpick.verify import envs

    project = render.render(framework, "tabular-regression", tmp_path / "resume-demo").project_dir
    python = envs.ensure(envs.spec_for(project, framework), root=envs_root).python
    runs = [train(project, *args, python=python) for args in (["--epochs", "3", "--out", "runs/first"],
                                               ["--resume", "runs/first", "--epochs", "6"],
                                               ["--epochs", "6", "--out", "runs/whole"])]  # fmt: skip
    for ran in runs:
        assert ran.returncode == 0, ran.stderr[-3000:]
    assert "resumed after epoch 3" in runs[1].stderr, runs[1].stderr
    first, one_go = project / "runs" / "first", project / "runs" / "whole"
    resumed_metrics, whole_metrics = (json.loads((run / "metrics.json").read_text()) for run in (first, one_go))
    assert resumed_metrics["epochs"] == whole_metrics["epochs"] == 6
    assert resumed_metrics["steps"] == whole_metrics["steps"]
    assert resumed_metrics["loss_history"] == pytest.approx(whole_metrics["loss_history"], abs=TOLERANCE)
    assert (first / "history.csv").read_text() == (one_go / "history.csv").read_text()
    checkpoints = [engine_checkpoint(run, python) for run in (first, one_go)]
    names = sorted(checkpoints[0])
    assert any(re.search(RESUMABLE_ENGINES[framework], name) for name in names), names
    # The last state (weights, optimiser, random keys) and the best epoch's, which the run ends with.
    assert checkpoints[0].keys() == checkpoints[1].keys()
    numbers = [{k: v for k, v in c.items() if v.dtype.kind in "biuf"} for c in checkpoints]
    assert max_difference(*numbers) <= TOLERANCE
    for name in checkpoints[0].keys() - numbers[0].keys():  # a random generator's state as JSON (Paddle)
        assert checkpoints[0][name] == checkpoints[1][name], name
    if (first / "model.npz").exists():  # the final (best) weights, where the engine saves .npz
        with np.load(first / "model.npz") as a, np.load(one_go / "model.npz") as b:
            assert max_difference(dict(a), dict(b)) <= TOLERANCE
