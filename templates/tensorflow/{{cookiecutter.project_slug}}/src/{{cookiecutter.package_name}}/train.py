{% raw %}"""Train: `python -m PACKAGE.train [--smoke] [--device auto|cpu|cuda|gpu] [--out RUN]`.

One process on the CPU or a GPU; MirroredStrategy over several local GPUs; MultiWorkerMirroredStrategy
across machines when TF_CONFIG is set (start the same command on every worker).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import config as config_mod
from . import data, datasets, metrics
from . import model as model_mod


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pick_device(name: str) -> str:
    """auto: TensorFlow's visible GPU(s), else the CPU. Must run before TensorFlow starts its runtime."""
    gpus = tf.config.list_physical_devices("GPU")
    if name == "cpu":
        if gpus:
            tf.config.set_visible_devices([], "GPU")
        return "cpu"
    if not gpus:
        if name == "auto":
            return "cpu"
        raise SystemExit(
            f"error: --device {name} but TensorFlow sees no GPU "
            "(install the CUDA build: pip install -e '.[gpu]'; see the README)"
        )
    for gpu in gpus:  # take GPU memory as needed instead of all of it up front
        tf.config.experimental.set_memory_growth(gpu, True)
    # TensorFlow calls every GPU "GPU"; on Linux that is CUDA (Apple's tensorflow-metal GPU is not).
    return "cuda" if tf.test.is_built_with_cuda() else "gpu"


def precision_policy(device: str, enabled: bool) -> str:
    """Mixed precision on GPUs only: bfloat16 from Ampere (compute capability 8.0) on, else float16."""
    if device == "cpu" or not enabled:
        return "float32"
    details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
    capability = details.get("compute_capability")
    return "mixed_bfloat16" if capability and capability >= (8, 0) else "mixed_float16"


def pick_strategy() -> tuple[tf.distribute.Strategy, int, int]:
    """(strategy, rank, number of workers). Create it before any other TensorFlow operation."""
    if os.environ.get("TF_CONFIG"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        resolver = strategy.cluster_resolver
        spec = resolver.cluster_spec().as_dict()
        has_chief = "chief" in spec
        workers = len(spec.get("worker", [])) + int(has_chief)
        rank = 0 if resolver.task_type == "chief" else resolver.task_id + int(has_chief)
        return strategy, rank, workers
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy(), 0, 1
    return tf.distribute.get_strategy(), 0, 1  # the default: no distribution


class Progress(keras.callbacks.Callback):
    """One line per epoch on stderr (Keras' own progress bar writes to stdout)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        steps = int(self.model.optimizer.iterations.numpy())
        log(
            f"{self.unit} {epoch + 1}: train loss {logs.get('loss', math.nan):.4f}, "
            f"validation loss {logs.get('val_loss', math.nan):.4f} ({steps} steps)"
        )


def fit(
    net: keras.Model,
    train_data: tf.data.Dataset,
    val_data: tf.data.Dataset,
    train_cfg: dict,
    out: Path | None = None,
    max_steps: int | None = None,
    verbose: bool = True,
) -> dict:
    """Train a compiled model. With `max_steps` (smoke) run that many steps, else epochs with early
    stopping on the validation loss, ending with the best weights. With `out`, keep the best
    checkpoint (out/checkpoint.keras) and TensorBoard logs (out/tensorboard)."""
    callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TerminateOnNaN()]
    if out is not None:
        callbacks += [
            keras.callbacks.ModelCheckpoint(out / "checkpoint.keras", monitor="val_loss", save_best_only=True),
            keras.callbacks.TensorBoard(log_dir=str(out / "tensorboard")),
        ]
    if max_steps is None:
        epochs, steps_per_epoch, unit = train_cfg["epochs"], None, "epoch"
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=train_cfg["patience"], restore_best_weights=True)
        )
    else:
        # Smoke runs log the mean loss of each tenth of the steps (Keras averages the loss over an
        # "epoch"), so first-vs-last compares trends, not the noise of single batches.
        steps_per_epoch = max(1, max_steps // 10)
        epochs, unit = max(1, max_steps // steps_per_epoch), "steps block"
        train_data = train_data.repeat()
    if verbose:
        callbacks.append(Progress(unit))
    # shuffle=False: the tf.data pipeline shuffles (seeded) already.
    history = net.fit(
        train_data,
        validation_data=val_data,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        shuffle=False,
        verbose=0,
    ).history
    losses = [float(value) for value in history.get("loss", [])]
    if not losses or not np.isfinite(losses).all():
        raise SystemExit(f"error: the training loss is not finite ({losses[-1:]}); lower train.learning_rate")
    validation = [float(value) for value in history.get("val_loss", []) if np.isfinite(value)]
    return {
        "loss_history": losses,
        "best_validation_loss": min(validation) if validation else None,
        "steps": int(net.optimizer.iterations.numpy()),
        "epochs": len(losses),
    }


def predict(net: keras.Model, x: np.ndarray, preprocess: dict, batch_size: int = 256) -> np.ndarray:
    """Class probabilities, or predictions in the target's own units for regression.

    Calls the model directly (no tf.function tracing, no tf.distribute), so any worker can run it alone.
    """
    out = np.concatenate(
        [net(x[start : start + batch_size], training=False).numpy() for start in range(0, len(x), batch_size)]
    ).astype(np.float32)
    if preprocess["task"] == "tabular-regression":
        return datasets.unscale_target(out[:, 0], preprocess["stats"])
    return out


def weights_sha256(net: keras.Model) -> str:
    digest = hashlib.sha256()
    for variable in sorted(net.weights, key=lambda v: v.path):
        digest.update(variable.path.encode())
        digest.update(np.ascontiguousarray(variable.numpy()).tobytes())
    return digest.hexdigest()


def export_check(run: Path) -> int:
    """`export --run RUN --check` in this process: the framework is imported (and its kernels compiled) once."""
    from . import export

    return export.main(["--run", str(run), "--check"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the model.")
    config_mod.add_train_args(parser, resume=False)  # --config, --set, --epochs (no --resume here yet)
    parser.add_argument("--smoke", action="store_true", help="a few steps on the bundled sample, then evaluate")
    # cuda, gpu and mps all mean "TensorFlow's GPU" (CUDA on Linux, tensorflow-metal on Apple).
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "gpu", "mps"])
    parser.add_argument("--out", type=Path, help="run folder (default runs/<timestamp>)")
    parser.add_argument(
        "--export-check",
        action="store_true",
        help="then export the run and check the export in this process (export --check without "
        "a second framework import; what `dlpick verify` runs)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = config_mod.train_config(args)
    device = pick_device(args.device)
    strategy, rank, workers = pick_strategy()
    if workers > 1:
        if args.out is None:
            raise SystemExit("error: multi-worker training needs --out (the same folder on every worker)")
        log(
            "note: Keras 3's model.fit fails with several workers up to at least Keras 3.15 "
            "(https://github.com/keras-team/keras/issues/20585); if it does, train on one machine"
        )
    keras.utils.set_random_seed(config["seed"])  # Python, NumPy and TensorFlow
    policy = precision_policy(device, config["train"].get("mixed_precision", True))
    keras.mixed_precision.set_global_policy(policy)
    run = args.out or Path("runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    chief = rank == 0
    if chief:
        config_mod.write_run_start(run, config, ["tensorflow", "tensorflow-cpu", "keras", "tensorboard"])
    run.mkdir(parents=True, exist_ok=True)
    # Every worker must save (saving reads distributed variables): the others into a scratch folder.
    out = run if chief else Path(tempfile.mkdtemp(prefix=f"worker-{rank}-"))
    start = time.perf_counter()

    train, val, test, preprocess = data.prepare(config)
    replicas = strategy.num_replicas_in_sync
    batch = config["train"]["batch_size"] * replicas  # batch_size is per replica, as in DDP
    train_data = data.pipeline(train, preprocess, batch, True, config["seed"])
    val_data = data.pipeline(val, preprocess, batch, False, config["seed"])
    with strategy.scope():
        net = model_mod.compile_model(model_mod.build(preprocess, config), config["task"], config["train"])
    if chief:
        log(
            f"training {config['task']} on {device} ({len(train.y)} train / {len(val.y)} validation / "
            f"{len(test.y)} test examples, {replicas} replica{'s' * (replicas > 1)} on {workers} "
            f"worker{'s' * (workers > 1)}, {policy})"
        )
    max_steps = config["train"]["smoke_steps"] if args.smoke else None
    history = fit(net, train_data, val_data, config["train"], out, max_steps, verbose=chief)
    net.save(out / "model.keras")

    (run / f"rank-{rank}.json").write_text(json.dumps({"rank": rank, "weights_sha256": weights_sha256(net)}) + "\n")
    if chief:
        output = predict(net, data.inputs(test.x, preprocess), preprocess)
        result = {
            "framework": "tensorflow",
            "task": config["task"],
            "device": device,
            "seconds": round(time.perf_counter() - start, 3),
            "smoke": args.smoke,
            "processes": workers,
            "replicas": replicas,
            "precision": policy,
            **history,
            "eval": metrics.evaluate(config["task"], test.y, output),
        }
        config_mod.write_json(run / "preprocess.json", preprocess)
        config_mod.write_json(run / "metrics.json", result)
        # Keras' TensorBoard callback logged the losses and the learning rate per epoch; add the test metrics.
        with tf.summary.create_file_writer(str(run / "tensorboard" / "test")).as_default():
            for name, value in result["eval"].items():
                if isinstance(value, float):
                    tf.summary.scalar(name, value, step=history["epochs"])
        scores = ", ".join(f"{k} {v:.3f}" for k, v in result["eval"].items() if isinstance(v, float))
        log(f"done in {result['seconds']:.1f} s: test {scores}; run folder {run}")
    return export_check(run) if args.export_check and chief else 0


if __name__ == "__main__":
    sys.exit(main()){% endraw %}
