"""Scaffold, verify and training-throughput figures for the generated projects (prints, asserts nothing).

    python benchmarks/templates.py [--frameworks pytorch tensorflow jax ...] [--steps 200] [--repeats 5]

1. render: `dlpick`'s render beside plain cookiecutter on the same template (goal <= 1.1x);
2. verify: `dlpick verify` wall time beside the bare framework import (goal: import + 10 s on CPU);
   frameworks with conflicting pins are verified with --isolated (the environment is built once,
   then a second verify that reuses it is timed; the import is timed with that environment's Python);
   then the same project once more, with the compile caches a project keeps warm;
3. throughput: the generated project's training (the shared driver's loop on its engine.py) beside
   PyTorch Lightning's Trainer on the same model and data (PyTorch), or beside a plain Keras
   `model.fit` of the same model (TensorFlow); goal ratio >= 1.0.
Frameworks that are not installed are skipped and said so.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
MODULE = {
    "pytorch": "torch",
    "tensorflow": "tensorflow",
    "jax": "flax",
    "paddlepaddle": "paddle",
    "mindspore": "mindspore",
    "mxnet": "mxnet",
    "theano": "theano",
    "pytensor": "pytensor",
    "caffe": "caffe",
}
ISOLATED = {"jax", "paddlepaddle", "mindspore", "mxnet", "theano", "pytensor", "caffe"}
TASK = "image-classification"


def median_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_render(framework: str, repeats: int) -> None:
    from cookiecutter.main import cookiecutter

    from dlpick.project import render

    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10**6))

        def plain() -> None:
            cookiecutter(
                str(TEMPLATES / framework),
                no_input=True,
                output_dir=f"{tmp}/plain{next(counter)}",
                extra_context={"task": TASK},
            )

        def dlpick() -> None:
            render.render(framework, TASK, Path(tmp) / f"dl{next(counter)}", name="My DL Project")

        plain()  # warm imports and caches for both
        base, ours = median_time(plain, repeats), median_time(dlpick, repeats)
    print(
        f"  render     plain cookiecutter {base * 1000:7.1f} ms   dlpick {ours * 1000:7.1f} ms   "
        f"ratio {ours / base:.2f} (goal <= 1.10)"
    )


def _verify(project: Path, isolated: bool) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "dlpick", "verify", str(project), "--json", "--device", "cpu"]
    start = time.perf_counter()
    done = subprocess.run([*cmd, "--isolated"] if isolated else cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return seconds, json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}


def _import_seconds(python: str, module: str) -> float:
    # As the project imports it: Theano needs its flags set first (engine.py does the same).
    env = {**os.environ, "THEANO_FLAGS": "floatX=float32,blas.ldflags=", "GLOG_minloglevel": "2"}
    start = time.perf_counter()
    subprocess.run([python, "-c", f"import {module}"], check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def bench_verify(framework: str) -> None:
    module, isolated = MODULE[framework], framework in ISOLATED
    with tempfile.TemporaryDirectory() as tmp:
        projects = [Path(tmp) / "first", Path(tmp) / "second"]
        for project in projects:
            subprocess.run(
                [sys.executable, "-m", "dlpick", "scaffold", framework, "--task", TASK, "--dest", str(project),
                 "--no-input", "--no-verify"],
                check=True, capture_output=True,
            )  # fmt: skip
        seconds, report = _verify(projects[0], isolated)
        python = sys.executable
        if isolated:
            environment = next((c["detail"] for c in report.get("checks", []) if c["name"] == "environment"), "?")
            print(f"  verify     first --isolated verify {seconds:5.1f} s ({environment.split(': ')[-1]})")
            seconds, report = _verify(projects[1], isolated)  # a second project: the environment is reused
            if report.get("environment"):
                found = Path(report["environment"])
                python = (
                    str(found.parent / f"{found.name}.python") if framework == "caffe" else str(found / "bin/python")
                )
        imported = _import_seconds(python, module)
        # The same project again: the compile caches it keeps (JAX's .cache/jax) are warm now.
        again, report_again = _verify(projects[-1], isolated)
    print(
        f"  verify     bare `import {module}` {imported:5.1f} s   "
        f"dlpick verify{' --isolated' * isolated} {seconds:5.1f} s "
        f"(passed: {report.get('passed')}), again {again:5.1f} s (passed: {report_again.get('passed')})   "
        f"goal <= import + 10 s = {imported + 10:.1f} s"
    )


def _project(framework: str, tmp: str):
    """Render the template and import its package (src/ on sys.path)."""
    from cookiecutter.main import cookiecutter

    path = Path(
        cookiecutter(
            str(TEMPLATES / framework),
            no_input=True,
            output_dir=tmp,
            extra_context={"task": TASK, "project_name": f"bench {framework}"},
        )
    )
    sys.path.insert(0, str(path / "src"))
    os.chdir(path)
    package = f"bench_{framework}"
    return path, package


def _modules(package: str):
    """The rendered project's data, engine and train modules, its config, and its prepared splits."""
    import importlib

    config_mod, data, engine, train = (
        importlib.import_module(f"{package}.{name}") for name in ("config", "data", "engine", "train")
    )
    config = config_mod.load_config()
    train_split, val_split, _, preprocess = data.prepare(config)
    return data, engine, train, config, (train_split, val_split, preprocess)


def _ours(engine, train, config, splits, steps: int) -> None:
    """The generated project's own training (`train.fit`: epochs, each validated) on its engine: whole
    epochs, so at least `steps` steps (the comparison errs against the generated project)."""
    train_split, val_split, preprocess = splits
    per_epoch = -(-len(train_split.y) // config["train"]["batch_size"])
    train_cfg = {**config["train"], "epochs": -(-steps // per_epoch), "patience": 10**9}
    engine.seed(0)
    train.fit(engine.build(preprocess, config), train_split, val_split, preprocess, train_cfg)


def bench_torch_throughput(steps: int) -> None:
    import lightning
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        _, package = _project("pytorch", tmp)
        data, engine, train, config, splits = _modules(package)
        train_split, val_split, preprocess = splits
        engine.select_device("cpu")
        batch = config["train"]["batch_size"]
        samples = steps * batch

        def loader(split, shuffle: bool) -> torch.utils.data.DataLoader:
            tensors = [
                torch.from_numpy(data.inputs(split.x, preprocess)),
                torch.from_numpy(data.targets(split.y, preprocess)),
            ]
            return torch.utils.data.DataLoader(
                torch.utils.data.TensorDataset(*tensors), batch_size=batch, shuffle=shuffle
            )

        class Module(lightning.LightningModule):
            def __init__(self) -> None:
                super().__init__()
                self.net = engine.build(preprocess, config)
                self.loss = torch.nn.CrossEntropyLoss()

            def training_step(self, batch_, _index):
                x, y = batch_
                return self.loss(self.net(x), y)

            def validation_step(self, batch_, _index):
                x, y = batch_
                self.log("val_loss", self.loss(self.net(x), y))

            def configure_optimizers(self):
                return torch.optim.AdamW(self.parameters(), lr=config["train"]["learning_rate"])

        def reference() -> None:
            torch.manual_seed(0)
            trainer = lightning.Trainer(
                max_steps=steps,
                accelerator="cpu",
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
            )
            trainer.fit(Module(), loader(train_split, True), loader(val_split, False))

        def ours() -> None:
            _ours(engine, train, config, splits, steps)

        ours(), reference()  # warm-up
        mine, theirs = median_time(ours, 3), median_time(reference, 3)
    print(
        f"  throughput generated repo {samples / mine:8.0f} samples/s   Lightning Trainer {samples / theirs:8.0f} "
        f"samples/s   ratio {theirs / mine:.2f} (goal >= 1.0; {steps} steps, both validating each epoch)"
    )


def bench_tf_throughput(steps: int) -> None:
    import keras
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        _, package = _project("tensorflow", tmp)
        data, engine, train, config, splits = _modules(package)
        train_split, val_split, preprocess = splits
        engine.select_device("cpu")
        batch = config["train"]["batch_size"]
        samples = steps * batch

        def reference() -> None:
            # Plain Keras: the same model, compiled, numpy arrays straight into model.fit, same steps.
            keras.utils.set_random_seed(0)
            net = engine.build(preprocess, config)
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            net.compile(
                optimizer=keras.optimizers.AdamW(config["train"]["learning_rate"], weight_decay=0.01), loss=loss
            )
            x = data.inputs(train_split.x, preprocess)
            y = data.targets(train_split.y, preprocess)
            per_round = (steps // 10) * batch  # 10 epochs of steps/10 batches: `steps` steps in all
            repeats = -(-per_round // len(y))
            x_all, y_all = np.concatenate([x] * repeats)[:per_round], np.concatenate([y] * repeats)[:per_round]
            validation = (data.inputs(val_split.x, preprocess), data.targets(val_split.y, preprocess))
            net.fit(x_all, y_all, batch_size=batch, epochs=10, validation_data=validation, verbose=0)

        def ours() -> None:
            _ours(engine, train, config, splits, steps)

        ours(), reference()  # warm-up (graph tracing)
        mine, theirs = median_time(ours, 3), median_time(reference, 3)
    print(
        f"  throughput generated repo {samples / mine:8.0f} samples/s   plain Keras model.fit {samples / theirs:8.0f} "
        f"samples/s   ratio {theirs / mine:.2f} (goal >= 1.0; {steps} steps; validation: every epoch of the "
        "sample here, 10 rounds in fit)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", nargs="*", default=list(MODULE))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    here = Path.cwd()
    for framework in args.frameworks:
        os.chdir(here)  # the throughput runs work inside a rendered project
        print(f"{framework} ({TASK}, CPU)")
        if not (TEMPLATES / framework).is_dir():
            print("  skipped: no template yet")
            continue
        bench_render(framework, args.repeats)
        if framework in ISOLATED:
            bench_verify(framework)  # throughput is compared for PyTorch and TensorFlow only
            continue
        if importlib.util.find_spec(MODULE[framework]) is None:
            print(f"  verify/throughput skipped: {MODULE[framework]} is not installed")
            continue
        bench_verify(framework)
        if framework == "pytorch":
            if importlib.util.find_spec("lightning") is None:
                print("  throughput skipped: `pip install lightning` to compare with its Trainer")
            else:
                bench_torch_throughput(args.steps)
        else:
            bench_tf_throughput(args.steps)


if __name__ == "__main__":
    main()
