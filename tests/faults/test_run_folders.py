"""A run folder from someone else runs no code and reads nothing unbounded (issue 24): PaddlePaddle's
weights are plain arrays, never unpickled; every .npz a project reads (weights, checkpoint.npz) goes
through `config.read_npz`; `train --resume` refuses each kind of broken or foreign checkpoint with one
line. Quick: rendered projects, PaddlePaddle replaced by a stub (its `paddle.load` unpickles, as the
real one does), PyTorch and TensorFlow for their checkpoints of a real Trainer, and the shared
checkpoint.npz over an engine of NumPy arrays."""

from __future__ import annotations

import importlib
import io
import json
import os
import pickle
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dlpick.project import render

PACKAGE = "run_folder"

# Paddle, as much of it as the engine touches when it builds, saves and loads an MLP.
STUB = r"""
import pickle, sys, types
import numpy as np

def module(name, **attrs):
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    return mod

class Layer:
    def __init__(self, *args, **kwargs):
        self._weights = {}
    def state_dict(self):
        return {"layers.0.weight": np.ones((10, 4), np.float32), "layers.0.bias": np.zeros(4, np.float32)}
    def set_state_dict(self, weights):
        print("set_state_dict", sorted(weights), flush=True)
    def eval(self):
        pass

def part(*args, **kwargs):
    return None

def load(path):  # what paddle.load does with a .pdparams file: unpickle it
    with open(path, "rb") as handle:
        return pickle.load(handle)

nn = module("paddle.nn", Layer=Layer, Sequential=part, Linear=part, ReLU=part, Conv2D=part, MaxPool2D=part,
            Flatten=part, Embedding=part)
functional = module("paddle.nn.functional")
nn.functional = functional
paddle = module("paddle", nn=nn, load=load, save=lambda obj, path: pickle.dump(obj, open(path, "wb")),
                no_grad=lambda: (lambda f: f), Tensor=object, inference=module("paddle.inference"),
                static=module("paddle.static", InputSpec=object))
"""


class Payload:
    """Unpickling this runs `open(MARKER, "w")`: the attack on a pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def paddle_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("paddle")
    return render.render("paddlepaddle", "tabular-regression", parent / "p", name="Run folder").project_dir


def run_engine(project: Path, run: Path, call: str) -> subprocess.CompletedProcess[str]:
    code = STUB + f"\nfrom {PACKAGE} import engine\nfrom pathlib import Path\nrun = Path({str(run)!r})\n{call}\n"
    env = {**os.environ, "PYTHONPATH": "src", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


PREPROCESS = {"task": "tabular-regression", "input_shape": [10], "n_outputs": 1}
LOAD = f"engine.load(run, {PREPROCESS!r}, {{'model': {{'hidden': 4}}}})"


def test_a_pickled_pdparams_in_a_run_folder_is_not_unpickled(paddle_project: Path, tmp_path: Path):
    marker = tmp_path / "the-payload-ran"
    (tmp_path / "model.pdparams").write_bytes(pickle.dumps({"layers.0.weight": Payload(marker)}))
    done = run_engine(paddle_project, tmp_path, LOAD)
    assert not marker.exists(), "loading the run folder ran code from its model.pdparams"
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "model.pdparams" in lines[0] and "pickle" in lines[0], done.stderr


def test_paddle_weights_are_saved_as_plain_arrays_and_load_back(paddle_project: Path, tmp_path: Path):
    save = f"engine.save(engine.build({PREPROCESS!r}, {{'model': {{'hidden': 4}}}}), run)"
    done = run_engine(paddle_project, tmp_path, f"{save}\n{LOAD}")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "model.pdparams").exists()
    with zipfile.ZipFile(tmp_path / "model.npz") as archive:
        assert sorted(archive.namelist()) == ["layers.0.bias.npy", "layers.0.weight.npy"]
    assert "set_state_dict ['layers.0.bias', 'layers.0.weight']" in done.stdout


def test_a_paddle_npz_with_a_pickled_member_is_refused(paddle_project: Path, tmp_path: Path):
    marker = tmp_path / "the-payload-ran"
    np.savez(tmp_path / "model.npz", **{"layers.0.weight": np.array([Payload(marker)], dtype=object)})
    done = run_engine(paddle_project, tmp_path, LOAD)
    assert not marker.exists()
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Python objects" in done.stderr


# Every unpickling call a template could make on a run folder's file.
UNSAFE = [
    re.compile(r"\bpickle\.loads?\("),
    re.compile(r"\bpaddle\.load\("),
    re.compile(r"\bjoblib\.load\("),
    re.compile(r"allow_pickle\s*=\s*True"),
    re.compile(r"\bmx\.nd\.load\(|\bnd\.load\("),
    re.compile(r"\bdill\.|\bcloudpickle\."),
]


@pytest.mark.parametrize("framework", sorted(render.list_templates()))
def test_no_template_unpickles_a_run_folders_file(tmp_path: Path, framework: str):
    task = render.list_templates()[framework].tasks[0]
    project = render.render(framework, task, tmp_path / framework, name="Run folder").project_dir
    for source in (project / "src").rglob("*.py"):
        text = source.read_text()
        for pattern in UNSAFE:
            assert not pattern.search(text), f"{framework}: {source.name}: {pattern.pattern}"
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, f"{framework}: {source.name}: {call}"


# --- the checkpoint on --resume: each format with a real Trainer, in this process -----------------------
# PyTorch's checkpoint.pt (torch.save of state_dicts, read with weights_only); TensorFlow's checkpoint.json
# naming its epoch's Keras weights files in checkpoints/; the shared checkpoint.npz of the other engines, the project's
# checkpoint.py over NUMPY_ENGINE (no framework needed: the checks are checkpoint.py's).


def npz_framework() -> str:
    """A template whose projects still write the shared checkpoint.npz."""
    for framework, template in sorted(render.list_templates().items()):
        if '{% set checkpoint = "npz" %}' in next(template.path.glob("*/src/*/train.py")).read_text():
            return framework
    pytest.skip("no template writes checkpoint.npz")


FORMATS = {
    "checkpoint.pt": ("pytorch", "torch", "torch_run"),
    "checkpoint.json": ("tensorflow", "tensorflow", "tf_run"),
    "checkpoint.npz": (npz_framework, None, "npz_run"),
}
TAB = {"task": "tabular-classification", "input_shape": [3], "n_outputs": 2, "stats": {}}
NUMPY_ENGINE = '''"""An engine of NumPy arrays: a weight and a bias, and an optimiser's moment for each."""
import numpy as np

FRAMEWORK = "numpy"


def build(preprocess, config):
    hidden = config["model"]["hidden"]
    return {"w": np.ones((preprocess["input_shape"][0], hidden), np.float32), "b": np.zeros(hidden, np.float32)}


class Trainer:
    def __init__(self, model, train_cfg):
        self.model, self.moments = model, {name: np.zeros_like(value) for name, value in model.items()}

    def state(self):
        return {**{f"model/{k}": v.copy() for k, v in self.model.items()},
                **{f"optimizer/{k}": v.copy() for k, v in self.moments.items()}}

    def load_state(self, state):
        self.model = {k: state[f"model/{k}"] for k in self.model}
        self.moments = {k: state[f"optimizer/{k}"] for k in self.moments}
'''


@pytest.fixture(scope="module")
def checkpoint_project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(file name, the project's package) of a rendered project whose train and engine are importable."""
    framework, module, package = FORMATS[request.param]
    if module is None:
        framework = framework()
    else:
        pytest.importorskip(module)
    parent = tmp_path_factory.mktemp(framework)
    project = render.render(framework, "tabular-classification", parent / "t", name=package).project_dir
    if module is None:
        (project / "src" / package / "engine.py").write_text(NUMPY_ENGINE)
    sys.path.insert(0, str(project / "src"))
    try:
        assert importlib.import_module(f"{package}.checkpoint").NAME == request.param
        yield request.param, package
    finally:
        sys.path.remove(str(project / "src"))
        for name in [n for n in sys.modules if n == package or n.startswith(package + ".")]:
            del sys.modules[name]


def modules(package: str):
    return (importlib.import_module(f"{package}.{name}") for name in ("config", "engine", "checkpoint"))


def trainer(package: str, hidden: int = 4):
    """A fresh Trainer, as a new `train` process builds it (Keras names layers per process: its count starts again)."""
    _, engine, _ = modules(package)
    if engine.FRAMEWORK == "tensorflow":
        engine.keras.backend.clear_session()
    return engine.Trainer(
        engine.build(TAB, {"model": {"hidden": hidden}, "train": {"mixed_precision": True}}),
        {"learning_rate": 0.01, "batch_size": 4},
    )


def meta(package: str, **changes) -> dict:
    config_mod, _, _ = modules(package)
    record = {"epoch": 1, "step": 2, "best": 0.5, "stale": 0, "loss_history": [0.7], "rows": ["h"],
              "rng": np.random.default_rng(0).bit_generator.state, "global_rng": config_mod.rng_state()}  # fmt: skip
    return {**record, **changes}


def good_checkpoint(run: Path, package: str, hidden: int = 4, **changes) -> None:
    """The checkpoint this project's code writes after epoch 1 (TensorFlow's: checkpoints/epoch-1.*.h5)."""
    _, _, checkpoint = modules(package)
    fresh = trainer(package, hidden)
    checkpoint.save(run, fresh, fresh.state(), meta(package, **changes))


def torch_file(path: Path, value: object, **kwargs) -> None:
    import torch

    torch.save(value, path, **kwargs)


def npz(path: Path, **arrays: np.ndarray) -> None:
    np.savez(path, **arrays)


def zip_members(path: Path, members: dict[str, bytes], compress: int = zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compress) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def another_model(path: Path, package: str) -> None:
    """A checkpoint this project's code wrote, for a model of another size."""
    good_checkpoint(path.parent, package, hidden=7)


def torch_payload(path: Path, package: str) -> None:
    """A pickle whose loading runs `open(MARKER, "w")`, saved in torch.save's own format."""
    torch_file(path, {"model": {"w": Payload(path.parent / "the-payload-ran")}, "optimizer": {}, "rng": {},
                      "meta": meta(package)})  # fmt: skip


def torch_bomb(path: Path, value: dict) -> None:
    """torch.save's file of `value` with its records deflated: 64 MiB of zeros (`zeros()`) in a few KiB."""
    torch_file(path, value)
    with zipfile.ZipFile(path) as original:
        members = {info.filename: original.read(info) for info in original.infolist()}
    zip_members(path, members, zipfile.ZIP_DEFLATED)


def zeros():
    import torch

    return torch.zeros(16 << 20)


# Broken or foreign files in each format, and what each one's author may have wanted.
CORRUPT = {
    "checkpoint.pt": {
        "code to run on loading": torch_payload,
        "a decompression bomb": lambda p, pkg: torch_bomb(
            p, {"model": {"w": zeros()}, "optimizer": {}, "rng": {}, "meta": meta(pkg)}
        ),
        "torch.save's legacy format": lambda p, pkg: torch_file(p, {"meta": 1}, _use_new_zipfile_serialization=False),
        "only weights (a model.pt)": lambda p, pkg: torch_file(p, trainer(pkg).state()["model"]),
        "no meta": lambda p, pkg: torch_file(p, {k: v for k, v in trainer(pkg).state().items()}),
        "meta of wrong types": lambda p, pkg: torch_file(p, {**trainer(pkg).state(), "meta": meta(pkg, epoch="one")}),
        "a negative epoch": lambda p, pkg: torch_file(p, {**trainer(pkg).state(), "meta": meta(pkg, epoch=-1)}),
        "random states that cannot be restored": lambda p, pkg: torch_file(
            p, {**trainer(pkg).state(), "meta": meta(pkg, rng={"bit_generator": "nothing"})}
        ),
        "a best model of another shape": lambda p, pkg: torch_file(
            p, {**trainer(pkg).state(), "best": trainer(pkg, hidden=7).state(), "meta": meta(pkg)}
        ),
        "a model that is no dict": lambda p, pkg: torch_file(
            p, {**trainer(pkg).state(), "model": [1], "meta": meta(pkg)}
        ),
    },
    "checkpoint.npz": {
        "a decompression bomb": lambda p, pkg: zip_members(
            p, {"meta.npy": npy(np.array("{}")), "state/w.npy": npy(np.zeros(8 << 20))}, zipfile.ZIP_DEFLATED
        ),
        "a pickled member": lambda p, pkg: npz(p, meta=np.array([{"a": 1}], dtype=object), **{"state/w": np.zeros(3)}),
        "no meta": lambda p, pkg: npz(p, **{"state/w": np.zeros(3)}),
        "meta not JSON": lambda p, pkg: npz(p, meta=np.array("{not json"), **{"state/w": np.zeros(3)}),
        "meta of wrong types": lambda p, pkg: npz(
            p, meta=np.array(json.dumps({"epoch": "one"})), **{"state/w": np.zeros(3)}
        ),
        "member that is no .npy": lambda p, pkg: zip_members(p, {"meta.npy": npy(np.array("{}")), "evil.txt": b"hi"}),
        "header larger than its data": lambda p, pkg: zip_members(
            p, {"meta.npy": npy(np.zeros(1)).replace(b"(1,)", b"(9,)")}
        ),
        "another model's state": lambda p, pkg: npz(
            p, meta=np.array(json.dumps(meta(pkg))), **{"state/model/other.weight": np.zeros((7, 7), np.float32)}
        ),
    },
}


def tf_checkpoint(path: Path, package: str, change=None, **meta_changes) -> Path:
    """The project's own TensorFlow checkpoint of epoch 1 (`path`: its checkpoint.json), then `change`d:
    change(checkpoints folder, record) may alter the files or the record (a dict, written back, with its
    meta updated by `meta_changes`)."""
    good_checkpoint(path.parent, package)
    record = json.loads(path.read_text())
    record["meta"].update(meta_changes)
    if change is not None:
        change(path.parent / "checkpoints", record)
    path.write_text(json.dumps(record))
    return path


def cut(file: Path, size: int) -> None:
    with file.open("r+b") as handle:
        handle.truncate(size)


def replace_with_fifo(file: Path) -> None:
    file.unlink()
    os.mkfifo(file)


def h5(file: Path, change) -> None:
    """`change(h5py.File)` on a weights file, opened for writing."""
    import h5py

    with h5py.File(file, "r+") as opened:
        change(opened)


def foreign_weights(folder: Path, record: dict) -> None:
    """A Keras weights file of something else at the place of epoch 1's (a Keras user's own model's)."""
    import keras

    inputs = keras.Input((5,))
    other = keras.Model(inputs, keras.layers.Dense(9)(keras.layers.Dense(6)(inputs)))
    (folder / WEIGHTS).unlink()
    other.save_weights(folder / WEIGHTS)


def rewritten(name: str, **how):
    """A change rewriting dataset `name` with h5py's `create_dataset(**how)`: its own data unless `how` says."""

    def change(file) -> None:
        data = file[name][()]
        del file[name]
        file.create_dataset(name, **{"data": data, **how})

    return change


def linked(name: str, link):
    """A change putting `link(file)` (an h5py link) at the place of dataset `name`."""

    def change(file) -> None:
        del file[name]
        file[name] = link(file)

    return change


WEIGHTS, BEST = "epoch-1.weights.h5", "epoch-1.best.weights.h5"
KERNEL, MOMENT = "layers/dense/vars/0", "optimizer/vars/2"  # the first layer's kernel, AdamW's first moment
CORRUPT["checkpoint.json"] = {
    "a truncated weights file": lambda p, pkg: tf_checkpoint(p, pkg, lambda f, r: cut(f / WEIGHTS, 900)),
    "a truncated best weights file": lambda p, pkg: tf_checkpoint(p, pkg, lambda f, r: cut(f / BEST, 900)),
    "weights far larger than the model's (sparse)": lambda p, pkg: tf_checkpoint(
        p, pkg, lambda f, r: cut(f / WEIGHTS, 1 << 30)
    ),
    "weights that are a named pipe": lambda p, pkg: tf_checkpoint(p, pkg, lambda f, r: replace_with_fifo(f / WEIGHTS)),
    "best weights that are a named pipe": lambda p, pkg: tf_checkpoint(
        p, pkg, lambda f, r: replace_with_fifo(f / BEST)
    ),
    "weights linked to a device": lambda p, pkg: tf_checkpoint(
        p, pkg, lambda f, r: ((f / WEIGHTS).unlink(), (f / WEIGHTS).symlink_to("/dev/zero"))
    ),
    "no weights file": lambda p, pkg: tf_checkpoint(p, pkg, lambda f, r: (f / WEIGHTS).unlink()),
    "no best weights file": lambda p, pkg: tf_checkpoint(p, pkg, lambda f, r: (f / BEST).unlink()),
    "a foreign Keras weights file": lambda p, pkg: tf_checkpoint(p, pkg, foreign_weights),
    "a checkpoints folder that is a link": lambda p, pkg: tf_checkpoint(
        p, pkg, lambda f, r: (f.rename(f.parent / "elsewhere"), f.symlink_to(f.parent / "elsewhere"))
    ),
    "names weights outside checkpoints/": lambda p, pkg: tf_checkpoint(
        p, pkg, lambda f, r: r.update(checkpoint="../../elsewhere/epoch-1.weights.h5")
    ),
    "names the weights of another epoch": lambda p, pkg: tf_checkpoint(p, pkg, epoch=2),
    "names no checkpoint": lambda p, pkg: tf_checkpoint(p, pkg, lambda f, r: r.pop("checkpoint")),
    "no meta": lambda p, pkg: tf_checkpoint(p, pkg, lambda f, r: r.pop("meta")),
    "meta not JSON": lambda p, pkg: (tf_checkpoint(p, pkg), p.write_text('{"checkpoint": "x", "meta": {not json')),
    "meta of wrong types": lambda p, pkg: tf_checkpoint(p, pkg, epoch="one"),
    "a negative epoch": lambda p, pkg: tf_checkpoint(p, pkg, epoch=-1),
    "random states that cannot be restored": lambda p, pkg: tf_checkpoint(p, pkg, rng={"bit_generator": "nothing"}),
    "a record over the size limit (sparse)": lambda p, pkg: (tf_checkpoint(p, pkg), cut(p, 1 << 30)),
}
# Weights files that hold what Keras would read, but should not be read: each refused before Keras opens
# the file, with the line saying why (the words). Keras itself would decompress a filtered dataset, read
# a dataset of any declared size into memory, and skip an optimizer whose variables do not count right.
H5 = {
    "a compressed dataset": (WEIGHTS, rewritten(KERNEL, compression="gzip"), "filter"),
    "a shuffled, checksummed dataset": (BEST, rewritten(KERNEL, shuffle=True, fletcher32=True), "filter"),
    "an oversized dataset (declared, not stored)": (
        WEIGHTS,
        rewritten(KERNEL, data=None, shape=(1 << 16, 1 << 14), dtype="float32"),
        "this model's is",
    ),
    "an oversized dataset beside a loss scale's": (  # as if saved under mixed_float16, where the scale's go unread
        WEIGHTS,
        lambda file: (
            file.copy("optimizer/vars", "optimizer/inner_optimizer/vars"),
            file.create_dataset("optimizer/vars/99", shape=(1 << 30,), dtype="float32"),
        ),  # fmt: skip
        "bytes",
    ),
    "a dataset of another dtype": (WEIGHTS, rewritten(KERNEL, dtype="float64"), "this model's is"),
    "an extra optimizer variable": (
        WEIGHTS,
        lambda file: file.create_dataset("optimizer/vars/99", data=np.zeros(3, np.float32)),
        "which this model",
    ),
    "a missing optimizer variable": (WEIGHTS, lambda file: file.__delitem__(MOMENT), f"no {MOMENT}"),
    "a soft link": (
        WEIGHTS,
        linked(KERNEL, lambda file: __import__("h5py").SoftLink("/layers/dense/vars/1")),
        "SoftLink",
    ),
    "an external link": (
        BEST,
        linked(KERNEL, lambda file: __import__("h5py").ExternalLink("/etc/hostname", "/x")),
        "ExternalLink",
    ),
    "a group linked into itself": (
        WEIGHTS,
        lambda file: file["layers/dense"].__setitem__("loop", file["layers/dense"]),
        "groups and datasets",
    ),
}
BOTH = {
    "empty file": lambda p, pkg: p.write_bytes(b""),
    "not a zip": lambda p, pkg: p.write_bytes(b"PK\x03\x04 but then nothing a zip has" * 10),
    "truncated": lambda p, pkg: (good_checkpoint(p.parent, pkg), p.write_bytes(p.read_bytes()[:300])),
    "another model": another_model,
    "a folder": lambda p, pkg: p.mkdir(),
    "a named pipe": lambda p, pkg: os.mkfifo(p),
}
CASES = [(name, kind) for name in sorted(FORMATS) for kind in sorted({**CORRUPT[name], **BOTH})]
SAID = {"checkpoint.json": "checkpoint"}  # TensorFlow's line names checkpoint.json or the checkpoints/ file


def resume_error(run: Path, package: str) -> str:
    """`train --resume RUN`'s checkpoint reading and restoring, as main runs it: the code it exits with."""
    _, _, checkpoint = modules(package)
    with pytest.raises(SystemExit) as exit_:
        resume = checkpoint.load(run)
        checkpoint.restore(trainer(package), np.random.default_rng(), resume)
    return str(exit_.value.code)


@pytest.mark.parametrize(("checkpoint_project", "kind"), CASES, indirect=["checkpoint_project"])
def test_a_broken_or_foreign_checkpoint_is_one_line(checkpoint_project, tmp_path: Path, capsys, kind: str):
    name, package = checkpoint_project
    {**CORRUPT[name], **BOTH}[kind](tmp_path / name, package)
    capsys.readouterr()
    assert resume_error(tmp_path, package) == "2"
    assert not (tmp_path / "the-payload-ran").exists(), "reading the checkpoint ran code from it"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and SAID.get(name, name) in err[0] and "Traceback" not in err[0], err


@pytest.mark.parametrize("checkpoint_project", ["checkpoint.pt", "checkpoint.json"], indirect=True)
def test_a_run_with_the_earlier_checkpoint_npz_says_so(checkpoint_project, tmp_path: Path, capsys):
    """A run trained before PyTorch's checkpoints became checkpoint.pt, or TensorFlow's TensorFlow
    checkpoints: one line that names the old file."""
    _, package = checkpoint_project
    npz(tmp_path / "checkpoint.npz", meta=np.array("{}"))
    assert resume_error(tmp_path, package) == "2"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint.npz" in err[0] and "earlier format" in err[0], err


@pytest.mark.parametrize("checkpoint_project", sorted(FORMATS), indirect=True)
def test_a_good_checkpoint_still_resumes(checkpoint_project, tmp_path: Path):
    """The same checks pass the checkpoint the project itself writes, and put its state back."""
    name, package = checkpoint_project
    _, _, checkpoint = modules(package)
    good_checkpoint(tmp_path, package)
    resume = checkpoint.load(tmp_path)
    loop, best = checkpoint.restore(trainer(package), np.random.default_rng(), resume)
    assert loop["epoch"] == 1 and loop["step"] == 2 and best


class Crash(Exception):
    """The process killed at that point."""


def crash(*args, **kwargs):
    raise Crash


@pytest.mark.parametrize("checkpoint_project", ["checkpoint.json"], indirect=True)
@pytest.mark.parametrize("kind", sorted(H5))
def test_a_hostile_keras_weights_file_is_refused_before_keras_reads_it(
    checkpoint_project, tmp_path: Path, monkeypatch, capsys, kind: str
):
    """A weights file in a run folder whose datasets Keras would read (or skip) as they come: refused
    in one line that says why, and Keras never opens it."""
    _, package = checkpoint_project
    _, engine, _ = modules(package)
    file, change, words = H5[kind]
    tf_checkpoint(tmp_path / "checkpoint.json", package, lambda folder, record: h5(folder / file, change))
    capsys.readouterr()
    monkeypatch.setattr(engine.keras.Model, "load_weights", crash)
    assert resume_error(tmp_path, package) == "2"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and file in err[0] and words in err[0], err


@pytest.mark.parametrize("checkpoint_project", ["checkpoint.json"], indirect=True)
def test_a_run_with_the_earlier_tensorflow_checkpoint_says_so(checkpoint_project, tmp_path: Path, capsys):
    """A run of 0.4.0-0.5.0, whose checkpoint.json names a tf.train.Checkpoint (checkpoints/ckpt-N): one
    line, train it again."""
    import tensorflow as tf

    _, package = checkpoint_project
    own = trainer(package)
    tf.train.Checkpoint(model=own.model, optimizer=own.adamw).write(str(tmp_path / "checkpoints" / "ckpt-1"))
    (tmp_path / "checkpoint.json").write_text(json.dumps({"checkpoint": "ckpt-1", "meta": meta(package)}))
    assert resume_error(tmp_path, package) == "2"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ckpt-1" in err[0] and "earlier format" in err[0], err


@pytest.mark.parametrize("checkpoint_project", ["checkpoint.json"], indirect=True)
def test_a_tensorflow_checkpoint_is_keras_weights_with_the_optimizer(checkpoint_project, tmp_path: Path):
    """Each epoch keeps Keras weights files a Keras user loads: the compiled model's (weights and AdamW's
    variables, as keras.callbacks.BackupAndRestore keeps them) and the best epoch's weights, the
    previous epoch's removed once checkpoint.json names the new ones."""
    _, package = checkpoint_project
    _, engine, checkpoint = modules(package)
    first = trainer(package)
    first.step(np.ones((4, 3), np.float32), np.array([0, 1, 0, 1]))
    best = first.state()
    first.step(np.ones((4, 3), np.float32), np.array([1, 1, 0, 0]))
    checkpoint.save(tmp_path, first, best, meta(package))
    checkpoint.save(tmp_path, first, best, meta(package, epoch=2, step=4, stale=1))
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "epoch-2.best.weights.h5", "epoch-2.weights.h5"
    ]  # fmt: skip
    fresh = trainer(package)
    fresh.model.load_weights(tmp_path / "checkpoints" / "epoch-2.best.weights.h5")
    for name, value in best.items():
        np.testing.assert_array_equal(fresh.state()[name], value)
    fresh.with_optimizer.load_weights(tmp_path / "checkpoints" / "epoch-2.weights.h5")
    for before, after in zip(first.optimizer.variables, fresh.optimizer.variables, strict=True):
        np.testing.assert_array_equal(after.numpy(), before.numpy())
    assert int(fresh.adamw.iterations.numpy()) == 2


@pytest.mark.parametrize("checkpoint_project", ["checkpoint.json"], indirect=True)
@pytest.mark.parametrize("when", ["while Keras writes", "before a file is in place", "before the record names them"])
def test_a_crash_while_saving_leaves_the_previous_checkpoint(checkpoint_project, tmp_path: Path, monkeypatch, when):
    """Epoch 2's save dies half-way: --resume continues from epoch 1's checkpoint, its weights, best
    weights and meta."""
    _, package = checkpoint_project
    _, engine, checkpoint = modules(package)
    first = trainer(package)
    best = {name: value - 1.0 for name, value in first.state().items()}
    checkpoint.save(tmp_path, first, best, meta(package))
    second = trainer(package)
    for variable in second.model.weights:
        variable.assign(variable + 1.0)
    if when == "while Keras writes":  # epoch 2's weights file half there
        real_save = engine.keras.Model.save_weights

        def save_half(self, path, *args, **kwargs):
            real_save(self, path, *args, **kwargs)
            cut(Path(path), 900)
            raise Crash

        monkeypatch.setattr(engine.keras.Model, "save_weights", save_half)
    elif when == "before a file is in place":  # epoch 2's weights file complete under its partial name
        monkeypatch.setattr(checkpoint.os, "replace", crash)
    else:  # epoch 2's files in place, checkpoint.json not yet replaced
        real_replace = os.replace
        monkeypatch.setattr(
            checkpoint.os,
            "replace",
            lambda src, dst: crash() if Path(dst).name == "checkpoint.json" else real_replace(src, dst),
        )
    with pytest.raises(Crash):
        checkpoint.save(tmp_path, second, second.state(), meta(package, epoch=2, step=4))
    monkeypatch.undo()
    resumed = trainer(package)
    loop, resumed_best = checkpoint.restore(resumed, np.random.default_rng(), checkpoint.load(tmp_path))
    assert (loop["epoch"], loop["step"]) == (1, 2)
    for name, value in first.state().items():
        np.testing.assert_array_equal(resumed.state()[name], value)
        np.testing.assert_array_equal(resumed_best[name], best[name])


@pytest.mark.parametrize("checkpoint_project", ["checkpoint.json"], indirect=True)
@pytest.mark.parametrize(
    ("saved", "resumed"), [("mixed_float16", "float32"), ("float32", "mixed_float16"), ("mixed_float16",) * 2]
)
def test_a_tensorflow_run_resumes_under_another_precision_policy(
    checkpoint_project, tmp_path: Path, monkeypatch, saved: str, resumed: str
):
    """train.mixed_precision may change on --resume (a GPU run resumed on a CPU): mixed_float16's
    LossScaleOptimizer adds its loss scale to the weights file, with AdamW's variables inside it; the
    weights and AdamW's state come back either way."""
    _, package = checkpoint_project
    _, engine, checkpoint = modules(package)
    monkeypatch.setattr(engine, "_policy", lambda enabled: saved)
    first = trainer(package)
    first.step(np.ones((4, 3), np.float32), np.array([0, 1, 0, 1]))  # moments and a step count to restore
    checkpoint.save(tmp_path, first, first.state(), meta(package))
    monkeypatch.setattr(engine, "_policy", lambda enabled: resumed)
    second = trainer(package)
    checkpoint.restore(second, np.random.default_rng(), checkpoint.load(tmp_path))
    assert engine.keras.mixed_precision.global_policy().name == resumed
    assert int(second.adamw.iterations.numpy()) == 1
    for before, after in zip(first.adamw.variables, second.adamw.variables, strict=True):
        np.testing.assert_array_equal(after.numpy(), before.numpy())
    for name, value in first.state().items():
        np.testing.assert_array_equal(second.state()[name], value)
    if saved == resumed:  # the loss scale too
        assert second.optimizer.dynamic_scale.numpy() == first.optimizer.dynamic_scale.numpy()
        assert second.optimizer.step_counter.numpy() == first.optimizer.step_counter.numpy() == 1


MODEL_PT = {
    "code to run on loading": lambda p, pkg: torch_file(p, {"layers.0.weight": Payload(p.parent / "the-payload-ran")}),
    "a decompression bomb": lambda p, pkg: torch_bomb(p, {"w": zeros()}),
    "truncated": lambda p, pkg: (torch_file(p, trainer(pkg).state()["model"]), p.write_bytes(p.read_bytes()[:300])),
    "another model's weights": lambda p, pkg: torch_file(p, trainer(pkg, hidden=7).state()["model"]),
    "a folder": lambda p, pkg: p.mkdir(),
    "a named pipe": lambda p, pkg: os.mkfifo(p),
}


@pytest.mark.parametrize("checkpoint_project", ["checkpoint.pt"], indirect=True)
@pytest.mark.parametrize("kind", sorted(MODEL_PT))
def test_a_pytorch_model_pt_from_someone_else_is_one_line(checkpoint_project, tmp_path: Path, capsys, kind: str):
    """evaluate, export and serve load a run's model.pt through the engine: tensors only, bounded, one line."""
    _, package = checkpoint_project
    _, engine, _ = modules(package)
    config = {"model": {"hidden": 4}, "train": {"mixed_precision": True}}
    MODEL_PT[kind](tmp_path / "model.pt", package)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        engine.load(tmp_path, TAB, config)
    assert exit_.value.code == 2
    assert not (tmp_path / "the-payload-ran").exists(), "loading model.pt ran code from it"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.pt" in err[0] and "Traceback" not in err[0], err


@pytest.mark.parametrize("checkpoint_project", ["checkpoint.pt"], indirect=True)
def test_a_pytorch_model_pt_the_project_saved_loads(checkpoint_project, tmp_path: Path):
    _, package = checkpoint_project
    _, engine, _ = modules(package)
    config = {"model": {"hidden": 4}, "train": {"mixed_precision": True}}
    model = engine.build(TAB, config)
    engine.save(model, tmp_path)
    loaded = engine.load(tmp_path, TAB, config)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_array_equal(engine.forward(loaded, x), engine.forward(model, x))


def test_a_pytorch_weights_file_that_would_unpack_past_its_size_is_refused(tmp_path: Path, capsys):
    """model.weights (an image project's starting weights, often downloaded): a torch.save zip whose
    records are deflated is refused before torch.load unpacks them (5 KiB here would become 64 MiB)."""
    pytest.importorskip("torch")
    project = render.render("pytorch", "image-classification", tmp_path / "img", name="bomb_img").project_dir
    sys.path.insert(0, str(project / "src"))
    try:
        engine = importlib.import_module("bomb_img.engine")
        torch_bomb(tmp_path / "start.pt", {"w": zeros()})
        preprocess = {"task": "image-classification", "input_shape": [3, 32, 32], "n_outputs": 3, "stats": {}}
        config = {"model": {"backbone": "resnet18", "weights": str(tmp_path / "start.pt")}}
        with pytest.raises(SystemExit) as exit_:
            engine.build(preprocess, {**config, "train": {"mixed_precision": True}})
    finally:
        sys.path.remove(str(project / "src"))
        for name in [n for n in sys.modules if n == "bomb_img" or n.startswith("bomb_img.")]:
            del sys.modules[name]
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.weights" in err[0] and "compressed records" in err[0], err


def yours(run: Path, outside: Path, linked: bool) -> list[Path]:
    """A checkpoints/ in `run` that no run of the project wrote: a file of the user's, or a link to their
    folder of numbered folders (what a checkpoint manager keeps by the newest and deletes). Its files."""
    if linked:
        (outside / "1").mkdir(parents=True)
        (outside / "1" / "weights.bin").write_bytes(b"mine")
        run.mkdir()
        (run / "checkpoints").symlink_to(outside, target_is_directory=True)
        return [outside / "1" / "weights.bin"]
    (run / "checkpoints" / "1").mkdir(parents=True)
    (run / "checkpoints" / "1" / "notes.txt").write_text("mine")
    (run / "checkpoints" / "checkpoint").write_text('all_model_checkpoint_paths: "1/notes"\n')
    return [run / "checkpoints" / "1" / "notes.txt", run / "checkpoints" / "checkpoint"]


def train_into(python: str, project: Path, package: str, run: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": "src", "JAX_PLATFORMS": "cpu"}
    return subprocess.run([python, "-m", f"{package}.train", "--out", str(run), "--epochs", "2"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.mark.parametrize("linked", [False, True], ids=["a folder of yours", "a link to your folder"])
def test_training_into_a_folder_with_checkpoints_it_did_not_write_deletes_nothing(tmp_path: Path, linked: bool):
    """TensorFlow's checkpoint.save keeps the newest epoch's weights files in RUN/checkpoints and deletes the
    others: a new run refuses a --out whose checkpoints/ it did not write,
    in one line, before anything there changes."""
    pytest.importorskip("tensorflow")
    project = render.render("tensorflow", "tabular-regression", tmp_path / "p", name="Into").project_dir
    files = yours(tmp_path / "run", tmp_path / "outside", linked)
    ran = train_into(sys.executable, project, "into", tmp_path / "run")
    assert ran.returncode == 2, ran.stderr[-2000:]
    assert "Traceback" not in ran.stderr  # TensorFlow's own start-up lines come first
    assert ran.stderr.strip().splitlines()[-1] == (
        f"--out {tmp_path / 'run'}: it holds a checkpoints/ this run did not write; a new --out, or --resume it"
    )
    assert all(file.exists() for file in files)
