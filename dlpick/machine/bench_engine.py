"""A rendered project's own engine, timed: `python bench_engine.py --project DIR --model mlp --json`.

`dlpick bench`'s worker for every framework (each template has an `engine.py`: PyTorch,
TensorFlow, JAX, PaddlePaddle, MindSpore, MXNet, Theano, PyTensor, Caffe). It times the code a
scaffolded project trains with (templates/CONTRACT.md, "Engine templates"): the project's `config.load_config()` (its
configs/default.yaml), `data.prepare`, `data.inputs`/`data.targets`, `engine.select_device`,
`engine.seed`, `engine.build(preprocess, config)` and `engine.Trainer(model,
train_cfg).step(x, y)` on batches from `data.batches(x, y, batch, rng, drop_last=True)`, drawn
inside the timed step as the project's training loop draws them.

- mlp: the template's tabular-classification project (its bundled sample, made on demand);
- cnn: its image-classification project (the bundled image sample, at the size its `--smoke` run trains at:
  `data.smoke_image_size` where the config has one, as PyTorch's 224 px ResNet does, else `data.image_size`).

The project's training rows are repeated (whole, in order) until one batch fits, so any --batch
works on the small bundled samples; batches are full (drop_last), so samples/s is steps/s x batch.
The learning rate, optimiser, hidden size and precision are the project's config (--batch replaces
its train.batch_size). The parameter count is the elements of the Trainer's `snapshot()` (the
weights it keeps for early stopping), counted before training.

Runs under the project's interpreter (its isolated environment, or dlpick's own): only the standard
library is imported at module level; the project's modules are imported from DIR/src with DIR the
working folder, NumPy and the framework through them. It is run as a script (copied next to
bench_worker.py, whose timing helpers it uses: `_timed`, `aggregate`) or as
`python -m dlpick.machine.bench_engine`. Output and exit status as bench_worker's: one JSON line,
0 measured, 1 failed, 3 a module or the device asked for is missing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__:  # python -m dlpick.machine.bench_engine, or imported
    from dlpick.machine import bench_worker
else:  # run as a script (`dlpick bench` runs the copy in the project): the copy beside it, never another dlpick's
    bench_worker = importlib.import_module("bench_worker")  # type: ignore[no-redef]

WORKER = "template engine"
TASKS = {"mlp": "tabular-classification", "cnn": "image-classification"}


def identity(project: Path) -> dict[str, Any]:
    """Which template rendered `project`: framework, task, package, dlpick version and commit."""
    context = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))
    base: dict[str, Any] = {}
    try:
        base = json.loads((project / ".dlpick" / "base.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    return {
        "framework": context["__framework"],
        "task": context["task"],
        "package": context["package_name"],
        "dlpick": base.get("dlpick"),
        "commit": base.get("commit"),
        "project": str(project),
    }


def count(value: Any) -> int:
    """Elements of an array, tensor (anything with a shape) or a list of them (Caffe's blobs)."""
    if isinstance(value, (list, tuple)):
        return sum(count(item) for item in value)
    return math.prod(int(n) for n in tuple(value.shape))


def _version(module_name: str) -> str | None:
    """The framework's version: its module's __version__ (the module the knowledge base names first in
    `import_names`, passed by the parent as --module), else the distribution of that name."""
    version = getattr(sys.modules.get(module_name), "__version__", None)
    if version is None:
        from importlib import metadata

        try:
            version = metadata.version(module_name)
        except metadata.PackageNotFoundError:
            return None
    return str(version)


def run(
    project: Path, model: str, steps: int, warmup: int, batch: int, device: str, repeats: int, module: str | None = None
) -> dict[str, Any]:
    """The measurement as a JSON-ready dict; raises on any failure."""
    project = project.resolve()
    made = identity(project)
    if made["task"] != TASKS[model]:
        raise RuntimeError(f"{project} is a {made['task']} project; --model {model} needs {TASKS[model]}")
    os.chdir(project)  # the config's and the sample's paths are relative to the project
    sys.path.insert(0, str(project / "src"))
    start = time.perf_counter()
    engine = importlib.import_module(f"{made['package']}.engine")  # the framework with it
    import_s = time.perf_counter() - start
    rss_after_import = bench_worker._peak_rss_mb()
    config_mod = importlib.import_module(f"{made['package']}.config")
    data = importlib.import_module(f"{made['package']}.data")
    import numpy as np

    if device not in engine.DEVICES:
        raise bench_worker.NoDevice(
            f"the {engine.NAME} template has no device {device!r} (it has {', '.join(engine.DEVICES)})"
        )
    config = config_mod.load_config()
    if hasattr(config_mod, "smoke_config"):  # an image project that trains --smoke at a smaller size
        config = config_mod.smoke_config(config)
    config_mod.seed_everything(config["seed"])
    try:
        kind = engine.select_device(device)
    except SystemExit as exc:  # the engine's one line: "--device cuda but no CUDA device is visible"
        raise bench_worker.NoDevice(str(exc).removeprefix("error: ")) from None
    engine.seed(config["seed"])
    train, _, _, preprocess = data.prepare(config)
    net = engine.build(preprocess, config)
    train_cfg = {**config["train"], "batch_size": batch}
    trainer = engine.Trainer(net, train_cfg)
    arrays = {str(name): count(value) for name, value in trainer.snapshot().items()}
    x, y = data.inputs(train.x, preprocess), data.targets(train.y, preprocess)
    rows = len(y)
    if rows < batch:  # the bundled samples are small: whole copies, in order, until a batch fits
        copies = -(-batch // rows)
        x, y = np.concatenate([x] * copies), np.concatenate([y] * copies)
    rng = np.random.default_rng(config["seed"])
    stream = [data.batches(x, y, batch, rng, True)]

    def step(i: int) -> Any:
        try:
            bx, by = next(stream[0])
        except StopIteration:  # the next epoch, reshuffled as the project's loop does
            stream[0] = data.batches(x, y, batch, rng, True)
            bx, by = next(stream[0])
        return trainer.step(bx, by)  # a Python float: the step has finished

    seconds, loss, steps = bench_worker._timed_at_least(
        step, lambda: None, warmup, steps, repeats, bench_worker.MIN_REPEAT_S
    )
    if not math.isfinite(loss):
        raise RuntimeError(f"the loss is {loss} after {warmup + steps * (repeats + 1)} steps")
    mixed = bool(config["train"].get("mixed_precision")) and kind != "cpu"
    return {
        "version": _version(module or made["framework"]),
        "import_s": round(import_s, 3),
        "import_rss_mb": rss_after_import,
        "loss": loss,
        "device": kind,
        "device_name": None,
        "peak_device_mb": None,
        "threads": None,
        "dtype": "mixed precision (the config's)" if mixed else "float32",
        "template": {**made, "engine": engine.NAME},
        "input_shape": list(preprocess["input_shape"]),
        "classes": int(preprocess["n_outputs"]),
        "train_rows": rows,
        "hidden": config.get("model", {}).get("hidden"),
        "learning_rate": config["train"].get("learning_rate"),
        "parameter_arrays": arrays,
        "parameters": sum(arrays.values()),
        "steps": steps,  # per repeat: at least the steps asked for, enough for MIN_REPEAT_S
        **bench_worker.aggregate(seconds, steps, batch),
        "peak_rss_mb": bench_worker._peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_engine.py", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="a project rendered from an engine template")
    parser.add_argument("--model", choices=sorted(TASKS), required=True)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=bench_worker.REPEATS)
    parser.add_argument("--device", choices=bench_worker.DEVICES, default="auto")
    parser.add_argument("--module", help="the framework's module, for its version (default: the framework id)")
    parser.add_argument("--json", action="store_true", help="accepted for symmetry: the output is always JSON")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.batch < 1 or args.repeats < 1:
        parser.error("--steps, --batch and --repeats must be at least 1, --warmup at least 0")
    head = {
        "framework": None,
        "model": args.model,
        "steps": args.steps,
        "warmup": args.warmup,
        "batch": args.batch,
        "requested_device": args.device,
        "dtype": "float32",
        "worker": WORKER,
        "worker_version": bench_worker.VERSION,
    }

    def measure() -> dict[str, Any]:
        head["framework"] = identity(args.project.resolve())["framework"]
        a = args
        return run(a.project, a.model, a.steps, a.warmup, a.batch, a.device, a.repeats, a.module)

    # An engine's SystemExit is its one-line error: reported as data too.
    return bench_worker.report(head, measure, (Exception, SystemExit))


if __name__ == "__main__":
    sys.exit(main())
