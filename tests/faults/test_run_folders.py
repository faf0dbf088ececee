"""A run folder from someone else runs no code and reads nothing unbounded (issue 24): PaddlePaddle's
weights are plain arrays, never unpickled; every .npz a project reads (weights, checkpoint.npz) goes
through `config.read_npz`; `train --resume` refuses each kind of broken or foreign checkpoint with one
line. Quick: rendered projects, PaddlePaddle replaced by a stub (its `paddle.load` unpickles, as the
real one does), PyTorch for the checkpoint of a real Trainer."""

from __future__ import annotations

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


# --- checkpoint.npz on --resume: PyTorch's real Trainer, in this process -----------------------------


@pytest.fixture(scope="module")
def torch_project(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("torch")
    parent = tmp_path_factory.mktemp("torch")
    project = render.render("pytorch", "tabular-classification", parent / "t", name="Run folder").project_dir
    sys.path.insert(0, str(project / "src"))
    try:
        from run_folder import config, train  # noqa: F401

        yield project
    finally:
        sys.path.remove(str(project / "src"))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def good_checkpoint(run: Path) -> None:
    from run_folder import config as config_mod
    from run_folder import engine, train

    preprocess = {"task": "tabular-classification", "input_shape": [3], "n_outputs": 2, "stats": {}}
    cfg = {"model": {"hidden": 4}}
    trainer = engine.Trainer(engine.build(preprocess, cfg), preprocess, {"learning_rate": 0.01, "batch_size": 4})
    meta = {"epoch": 1, "step": 2, "best": 0.5, "stale": 0, "loss_history": [0.7], "rows": ["h"],
            "rng": np.random.default_rng(0).bit_generator.state, "global_rng": config_mod.rng_state()}  # fmt: skip
    train.save_checkpoint(run, trainer.state(), trainer.state(), meta)


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


def bomb(path: Path) -> None:
    """64 MiB of zeros deflated into a few KiB: read whole, the member would be 64 MiB."""
    zip_members(path, {"meta.npy": npy(np.array("{}")), "state/w.npy": npy(np.zeros(8 << 20))}, zipfile.ZIP_DEFLATED)


def without_meta(path: Path) -> None:
    npz(path, **{"state/w": np.zeros(3)})


def meta_not_json(path: Path) -> None:
    npz(path, meta=np.array("{not json"), **{"state/w": np.zeros(3)})


def meta_wrong_types(path: Path) -> None:
    npz(path, meta=np.array(json.dumps({"epoch": "one"})), **{"state/w": np.zeros(3)})


def foreign_state(path: Path) -> None:
    from run_folder import config as config_mod

    meta = {"epoch": 1, "step": 2, "best": 0.5, "stale": 0, "loss_history": [], "rows": [],
            "rng": np.random.default_rng(0).bit_generator.state, "global_rng": config_mod.rng_state()}  # fmt: skip
    npz(path, meta=np.array(json.dumps(meta)), **{"state/model/other.weight": np.zeros((7, 7), np.float32)})


def pickled_member(path: Path) -> None:
    npz(path, meta=np.array([{"a": 1}], dtype=object), **{"state/w": np.zeros(3)})


CORRUPT = {
    "empty file": lambda p: p.write_bytes(b""),
    "not a zip": lambda p: p.write_bytes(b"PK\x03\x04 but then nothing a zip has" * 10),
    "truncated": lambda p: (good_checkpoint(p.parent), p.write_bytes(p.read_bytes()[:300])),
    "decompression bomb": bomb,
    "pickled member": pickled_member,
    "no meta": without_meta,
    "meta not JSON": meta_not_json,
    "meta of wrong types": meta_wrong_types,
    "another model's state": foreign_state,
    "member that is no .npy": lambda p: zip_members(p, {"meta.npy": npy(np.array("{}")), "evil.txt": b"hi"}),
    "header larger than its data": lambda p: zip_members(p, {"meta.npy": npy(np.zeros(1)).replace(b"(1,)", b"(9,)")}),
    "a folder": lambda p: p.mkdir(),
    "a named pipe": lambda p: os.mkfifo(p),
}


def resume_error(run: Path) -> str:
    """`train --resume RUN`'s checkpoint reading and restoring, as main runs it: the one line it exits with."""
    from run_folder import engine, train

    with pytest.raises(SystemExit) as exit_:
        resume = train.load_checkpoint(run)
        preprocess = {"task": "tabular-classification", "input_shape": [3], "n_outputs": 2, "stats": {}}
        model = engine.build(preprocess, {"model": {"hidden": 4}})
        train.load_state(engine.Trainer(model, preprocess, {"learning_rate": 0.01, "batch_size": 4}), resume["state"])
    return str(exit_.value.code)


@pytest.mark.parametrize("kind", sorted(CORRUPT))
def test_a_broken_or_foreign_checkpoint_is_one_line(torch_project: Path, tmp_path: Path, capsys, kind: str):
    CORRUPT[kind](tmp_path / "checkpoint.npz")
    assert resume_error(tmp_path) == "2"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint.npz" in err[0] and "Traceback" not in err[0], err


def test_a_good_checkpoint_still_resumes(torch_project: Path, tmp_path: Path):
    from run_folder import engine, train

    good_checkpoint(tmp_path)
    resume = train.load_checkpoint(tmp_path)
    preprocess = {"task": "tabular-classification", "input_shape": [3], "n_outputs": 2, "stats": {}}
    trainer = engine.Trainer(engine.build(preprocess, {"model": {"hidden": 4}}), preprocess, {"learning_rate": 0.01})
    train.load_state(trainer, resume["state"])
    assert resume["meta"]["epoch"] == 1 and resume["best"]
