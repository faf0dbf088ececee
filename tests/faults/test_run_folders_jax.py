"""JAX's training checkpoint is Orbax's (`RUN/checkpoints/EPOCH/{state,best,meta}`), and a run folder may
come from someone else: `train --resume` runs no code of theirs, reads nothing unbounded (only folders and
regular files, within a size the model bounds, arrays only where Orbax's metadata gives this model's
shapes and dtypes, each stored in one chunk of its shape) and answers each broken or foreign checkpoint
with one line and exit status 2, never a traceback. Needs JAX: every case runs in the project's isolated
environment, all in one process (slow: builds it once)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from dlpick.project import render

pytestmark = pytest.mark.needs_index

PACKAGE = "orbax_run"

# Run in the project's environment, from its root: sets each case up in a run folder of its own, then
# does what `train --resume RUN` does with it (checkpoint.load, then checkpoint.restore into a fresh trainer).
SCRIPT = r"""
import contextlib, io, json, os, shutil, sys
from pathlib import Path

import numpy as np

from orbax_run import checkpoint, config, engine

TAB = {"task": "tabular-classification", "input_shape": [3], "n_outputs": 2, "stats": {}}


def trainer(hidden=4):
    return engine.Trainer(engine.build(TAB, {"model": {"hidden": hidden}}), {"learning_rate": 0.01})


def meta(**changes):
    record = {"epoch": 1, "step": 2, "best": 0.5, "stale": 0, "loss_history": [0.7], "rows": ["h"],
              "rng": np.random.default_rng(0).bit_generator.state, "global_rng": config.rng_state()}
    return {**record, **changes}


def good(run, hidden=4, **changes):
    fresh = trainer(hidden)
    checkpoint.save(run, fresh, fresh.state(), meta(**changes))
    return run / "checkpoints" / str(meta(**changes)["epoch"])


def data_files(folder):  # the array data: TensorStore's OCDBT files, in folders named d
    return [path for path in folder.rglob("*") if path.is_file() and path.parent.name == "d"]


def truncated(run):
    for data in data_files(good(run) / "state"):
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def big_chunks(run):
    # dense1's bias (4 floats) rewritten in one chunk of 2**28: 1 GiB decompressed on reading, from a few bytes
    import tensorstore as ts

    state = (good(run) / "state").absolute()
    store = {"driver": "ocdbt", "base": f"file://{state}/", "path": "model.dense1.bias.value/"}
    metadata = {"shape": [4], "chunks": [1 << 28], "dtype": "<f4", "compressor": {"id": "zstd", "level": 1}}
    spec = {"driver": "zarr", "kvstore": store, "metadata": metadata}
    ts.open(spec, create=True, delete_existing=True).result()[...] = np.ones(4, np.float32)


def pipe(run):
    os.mkfifo(good(run) / "state" / "d" / "fifo")


def link_out(run):
    os.symlink("/etc/passwd", data_files(good(run) / "state")[0].with_name("elsewhere"))


def json_meta(run, text):
    (good(run) / "meta" / "metadata").write_text(text)


def large_file(run):
    with open(good(run) / "state" / "padding", "wb") as handle:
        handle.truncate(64 << 20)  # sparse: 64 MiB by its size, nothing on the disk


def many_files(run):
    folder = good(run) / "state" / "many"
    folder.mkdir()
    for index in range(10_001):
        (folder / str(index)).touch()


def half_written(run):
    # A crash while Orbax saved epoch 2: its temporary folder, beside the complete epoch 1.
    (good(run).parent / "2.orbax-checkpoint-tmp-1").mkdir()
    shutil.copytree(run / "checkpoints" / "1" / "state", run / "checkpoints" / "2.orbax-checkpoint-tmp-1" / "state")


CASES = {
    "a good checkpoint": good,
    "a crash while saving the next one": half_written,
    "a later run into the same folder": lambda run: (good(run, epoch=3), good(run, epoch=1)),
    "a truncated array file": truncated,
    "another model's checkpoint": lambda run: good(run, hidden=7),
    "arrays larger than the model's": lambda run: good(run, hidden=64),
    "an array stored in chunks larger than itself": big_chunks,
    "a named pipe": pipe,
    "a link leading out": link_out,
    "more bytes than the model could need": large_file,
    "too many files": many_files,
    "no meta": lambda run: shutil.rmtree(good(run) / "meta"),
    "meta not JSON": lambda run: json_meta(run, "{not json"),
    "meta of wrong types": lambda run: json_meta(run, json.dumps(meta(epoch="one"))),
    "meta that is no record": lambda run: json_meta(run, "[1, 2]"),
    "no complete checkpoint": lambda run: (run / "checkpoints").mkdir(),
    "checkpoints is a file": lambda run: (run / "checkpoints").write_text("x"),
    "the earlier checkpoint.npz": lambda run: np.savez(run / "checkpoint.npz", meta=np.array("{}")),
}

results = {}
for index, (name, prepare) in enumerate(CASES.items()):
    run = Path(sys.argv[1]) / str(index)
    run.mkdir()
    prepare(run)
    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        try:
            loop, best = checkpoint.restore(trainer(), np.random.default_rng(), checkpoint.load(run))
            code, detail = 0, [loop["epoch"], loop["step"], best is not None]
        except SystemExit as exc:
            code, detail = exc.code, None
        except BaseException as exc:  # what the promise rules out: a traceback
            code, detail = "traceback", f"{type(exc).__name__}: {exc}"
    results[name] = {"code": code, "err": said.getvalue().strip().splitlines(), "detail": detail}
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def jax_project(tmp_path_factory: pytest.TempPathFactory, envs_root: Path) -> tuple[Path, Path]:
    """A rendered JAX project and the Python of its isolated environment."""
    from dlpick.verify import envs

    parent = tmp_path_factory.mktemp("orbax")
    project = render.render("jax", "tabular-classification", parent / "p", name=PACKAGE).project_dir
    return project, envs.ensure(envs.spec_for(project, "jax"), root=envs_root).python


@pytest.fixture(scope="module")
def results(jax_project: tuple[Path, Path]) -> dict:
    project, python = jax_project
    parent = project.parent
    (parent / "runs").mkdir()
    env = {**os.environ, "PYTHONPATH": "src", "PYTHONDONTWRITEBYTECODE": "1", "JAX_PLATFORMS": "cpu"}
    ran = subprocess.run([str(python), "-c", SCRIPT, str(parent / "runs")], cwd=project, env=env,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-4000:]
    return json.loads(ran.stdout.strip().splitlines()[-1])


def test_a_good_checkpoint_resumes(results: dict):
    assert results["a good checkpoint"] == {"code": 0, "err": [], "detail": [1, 2, True]}


def test_a_crash_while_saving_leaves_the_previous_checkpoint(results: dict):
    """Orbax writes an epoch into a temporary folder and renames it when complete: a half-written one is
    not taken, the complete one before it is."""
    assert results["a crash while saving the next one"] == {"code": 0, "err": [], "detail": [1, 2, True]}


def test_a_later_run_into_the_same_folder_replaces_its_checkpoints(results: dict):
    """Orbax skips saving a step at or before its latest: a new run into a run folder (its epoch 1 after
    the old run's 3) must still leave its own checkpoint, not resume the old run's."""
    assert results["a later run into the same folder"]["detail"] == [1, 2, True], results


# The checkpoint's problem, and what the one line says about it.
REFUSED = {
    "a truncated array file": "not a checkpoint of this model",
    "another model's checkpoint": "this model's is",
    "arrays larger than the model's": "this model's is",
    "an array stored in chunks larger than itself": "in chunks of (268435456,), not of its shape (4,)",
    "a named pipe": "neither a folder nor a regular file",
    "a link leading out": "neither a folder nor a regular file",
    "more bytes than the model could need": "more than this model's checkpoint could",
    "too many files": "more than 10000 files",
    "no meta": "not a checkpoint of this model",
    "meta not JSON": "not a checkpoint of this model",
    "meta of wrong types": "meta.epoch is missing or of the wrong type",
    "meta that is no record": "no readable meta record",
    "no complete checkpoint": "no complete checkpoint",
    "checkpoints is a file": "no checkpoints folder",
    "the earlier checkpoint.npz": "checkpoint.npz is of this project's earlier format",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_broken_or_foreign_checkpoint_is_one_line(results: dict, case: str):
    result = results[case]
    assert result["code"] == 2, result
    assert len(result["err"]) == 1 and REFUSED[case] in result["err"][0], result
    assert "Traceback" not in result["err"][0]


@pytest.mark.parametrize("linked", [False, True], ids=["a folder of yours", "a link to your folder"])
def test_training_into_a_folder_with_checkpoints_it_did_not_write_deletes_nothing(
    jax_project: tuple[Path, Path], tmp_path: Path, linked: bool
):
    """Orbax's CheckpointManager keeps the newest step in RUN/checkpoints and deletes the other numbered
    folders there: a new run refuses a --out whose checkpoints/ it did not write, in one line, before
    anything there changes."""
    from tests.faults.test_run_folders import train_into, yours

    project, python = jax_project
    files = yours(tmp_path / "run", tmp_path / "outside", linked)
    ran = train_into(str(python), project, PACKAGE, tmp_path / "run")
    assert ran.returncode == 2, ran.stderr[-2000:]
    assert "Traceback" not in ran.stderr
    assert ran.stderr.strip().splitlines()[-1] == (
        f"--out {tmp_path / 'run'}: it holds a checkpoints/ this run did not write; a new --out, or --resume it"
    )
    assert all(file.exists() for file in files)
