"""One framework, one model, in its own process: `python -m dlpick.machine.bench_worker pytorch --model mlp --json`.

The hand-written models: `dlpick bench` runs them for PyTorch and TensorFlow, whose templates have no
engine.py yet. Every framework whose template has one (JAX and PaddlePaddle included) is measured with
its template's own code instead (bench_engine.py, which uses `_timed` and `aggregate` from here); the
JAX and PaddlePaddle models below still run from this command line, for comparison.

Prints one JSON line (the last line of stdout) and exits 0 when the measurement worked, 1 when it
did not (the line then carries the error, never a number), 3 when a module the benchmark needs is not
installed (status "missing", with the module's name: not measured, never "failed"). Only the standard
library is imported at module level, so the file also runs under another environment's interpreter;
each framework is imported inside its function, timed with perf_counter. Nothing but the framework
itself is needed: the synthetic data are drawn with the standard library's `random` (the same values
in every framework) and turned into the framework's own tensors, so PyTorch runs without NumPy.

Timing: `warmup` untimed steps, then `repeats` timed repeats of `steps` steps each (the device
synchronised at each repeat's ends). A figure is the median over the repeats; its spread is
(max - min) / median of the repeats' throughputs (`aggregate`).

The models are the same in every framework (fp32, no dropout or batch norm, each framework's default
initialisers, SGD with momentum 0.9, softmax cross-entropy on 10 classes):

- mlp: 32 -> dense 256 -> relu -> dense 256 -> relu -> dense 10 (76,810 parameters)
- cnn: 1x28x28 -> conv 3x3 16 ('same') -> relu -> maxpool 2 -> conv 3x3 32 ('same') -> relu ->
  maxpool 2 -> flatten (32x7x7) -> dense 10 (20,490 parameters)

Each framework runs its ordinary training step: PyTorch and PaddlePaddle an eager loop (forward,
backward, optimizer step), Keras 3 `train_on_batch` (a compiled tf.function; XLA only where Keras
turns it on by default), JAX a jax.jit-compiled Flax (linen) + Optax step. Data are synthetic, drawn
from a fixed seed, in a few fixed batches that are cycled. CPU runs leave `device_name` empty: the
parent fills in the CPU model.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

MLP = (32, 256, 256, 10)  # input features, hidden, hidden, classes
CNN_IMAGE = (1, 28, 28)  # channels, height, width
CNN_CHANNELS = (16, 32)
KERNEL, POOL, CLASSES = 3, 2, 10
SEED = 0
BATCHES = 4  # distinct synthetic batches, cycled
LR, MOMENTUM = 0.01, 0.9
DEVICES = ("auto", "cpu", "cuda", "mps")
REPEATS = 5  # timed repeats after the warm-up
# What ran: raise it whenever the models, the data or the timing change, so saved results say which.
# 1: one timed pass (dlpick before repeats); 2: repeats, median and spread, data without NumPy;
# 3: the engine frameworks (JAX, PaddlePaddle, ...) time their template's engine (bench_engine.py), not a
# model written here, so their figures and sizes differ from a version-2 run.
VERSION = 3


def layer_parameters(model: str) -> list[int]:
    """Each trainable layer's parameter count, from the sizes above (what every framework must match)."""
    if model == "mlp":
        return [a * b + b for a, b in zip(MLP, MLP[1:], strict=False)]
    channels = (CNN_IMAGE[0], *CNN_CHANNELS)
    convs = [KERNEL * KERNEL * a * b + b for a, b in zip(channels, channels[1:], strict=False)]
    side = CNN_IMAGE[1] // POOL ** len(CNN_CHANNELS)  # 'same' padding: only the pools shrink the image
    return [*convs, CNN_CHANNELS[-1] * side * side * CLASSES + CLASSES]


def _data(model: str, batch: int) -> list[tuple[list[float], list[int], tuple[int, ...]]]:
    """A few fixed synthetic batches: (inputs flat in NCHW / row order, labels, input shape), drawn with
    the standard library so every framework trains on the same values and none needs NumPy."""
    rng = random.Random(SEED)
    shape = (batch, MLP[0]) if model == "mlp" else (batch, *CNN_IMAGE)
    size = math.prod(shape)
    return [
        ([rng.gauss(0.0, 1.0) for _ in range(size)], [rng.randrange(CLASSES) for _ in range(batch)], shape)
        for _ in range(BATCHES)
    ]


def _channels_last(x: Any, transpose: Callable[[Any, tuple[int, ...]], Any]) -> Any:
    """NCHW -> NHWC for an image batch (Keras' and Flax's layout); other inputs as they are."""
    return transpose(x, (0, 2, 3, 1)) if len(x.shape) == 4 else x


def _peak_rss_mb() -> float | None:
    """The process's peak resident set size (MiB): imports, data and training together."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / 2**20 if sys.platform == "darwin" else peak / 1024, 1)  # bytes on macOS, KiB elsewhere


def _timed(
    step: Callable[[int], Any], sync: Callable[[], Any], warmup: int, steps: int, repeats: int
) -> tuple[list[float], float]:
    """(seconds of each of `repeats` repeats of `steps` steps, after `warmup` untimed ones; the last loss)."""
    loss: Any = None
    for i in range(warmup):
        loss = step(i)
    sync()
    seconds = []
    done = warmup
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            loss = step(done)
            done += 1
        sync()
        seconds.append(time.perf_counter() - start)
    return seconds, float(loss)


def aggregate(repeat_s: list[float], steps: int, batch: int) -> dict[str, Any]:
    """The figures of one measurement from its repeats' seconds: the median throughput, and its spread,
    (max - min) / median of the repeats' steps/s (0.10: the slowest and fastest repeat differ by a tenth)."""
    if not repeat_s or any(not (math.isfinite(s) and s > 0) for s in repeat_s):
        raise ValueError(f"timings must be positive seconds, got {repeat_s}")
    rates = [steps / s for s in repeat_s]
    median = statistics.median(rates)
    return {
        "repeats": len(rates),
        "repeat_s": [round(s, 5) for s in repeat_s],
        "repeat_steps_per_s": [round(r, 2) for r in rates],
        "timed_s": round(sum(repeat_s), 4),
        "steps_per_s": round(median, 2),
        "samples_per_s": round(median * batch, 1),
        "spread": round((max(rates) - min(rates)) / median, 4),
    }


# --- frameworks -----------------------------------------------------------------------------------


def bench_pytorch(model: str, steps: int, warmup: int, batch: int, device: str, repeats: int) -> dict[str, Any]:
    start = time.perf_counter()
    import torch

    import_s = time.perf_counter() - start
    rss_after_import = _peak_rss_mb()
    from torch import nn

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"torch {torch.__version__} sees no CUDA device")
    if device == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(f"torch {torch.__version__} sees no MPS device")
    dev = torch.device(device)
    torch.manual_seed(SEED)
    if model == "mlp":
        layers: list[nn.Module] = []
        for a, b in zip(MLP, MLP[1:], strict=False):
            layers += [nn.Linear(a, b), nn.ReLU()]
        net = nn.Sequential(*layers[:-1])
    else:
        c0, (c1, c2) = CNN_IMAGE[0], CNN_CHANNELS
        side = CNN_IMAGE[1] // POOL ** len(CNN_CHANNELS)
        net = nn.Sequential(
            nn.Conv2d(c0, c1, KERNEL, padding="same"),
            nn.ReLU(),
            nn.MaxPool2d(POOL),
            nn.Conv2d(c1, c2, KERNEL, padding="same"),
            nn.ReLU(),
            nn.MaxPool2d(POOL),
            nn.Flatten(),
            nn.Linear(c2 * side * side, CLASSES),
        )
    net = net.to(dev)
    params = [sum(p.numel() for p in m.parameters()) for m in net if any(True for _ in m.parameters())]
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    data = [
        (torch.tensor(x, dtype=torch.float32).reshape(shape).to(dev), torch.tensor(y, dtype=torch.int64).to(dev))
        for x, y, shape in _data(model, batch)
    ]

    def step(i: int) -> Any:
        x, y = data[i % len(data)]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    seconds, loss = _timed(step, sync, warmup, steps, repeats)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else None
    return {
        "version": torch.__version__,
        "import_s": import_s,
        "import_rss_mb": rss_after_import,
        "seconds": seconds,
        "loss": loss,
        "device": device,
        "device_name": name,
        "peak_device_mb": round(torch.cuda.max_memory_allocated(dev) / 2**20, 1) if dev.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "layer_parameters": params,
    }


def bench_tensorflow(model: str, steps: int, warmup: int, batch: int, device: str, repeats: int) -> dict[str, Any]:
    os.environ["KERAS_BACKEND"] = "tensorflow"  # the "tensorflow" framework is Keras 3 on TensorFlow
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    if device == "mps":
        raise RuntimeError("TensorFlow has no MPS device (tensorflow-metal registers as a GPU: use auto)")
    start = time.perf_counter()
    import keras
    import tensorflow as tf

    import_s = time.perf_counter() - start
    rss_after_import = _peak_rss_mb()
    if int(keras.__version__.split(".")[0]) < 3:
        raise RuntimeError(f"Keras {keras.__version__} is installed; the benchmark needs Keras 3")
    gpus = tf.config.list_physical_devices("GPU")
    if device == "cuda" and not gpus:
        raise RuntimeError(f"TensorFlow {tf.__version__} sees no GPU (a CUDA build needs tensorflow[and-cuda])")
    on_gpu = bool(gpus) and device != "cpu"
    keras.utils.set_random_seed(SEED)
    from keras import layers

    if model == "mlp":
        net = keras.Sequential(
            [keras.Input((MLP[0],))]
            + [layers.Dense(size, activation="relu") for size in MLP[1:-1]]
            + [layers.Dense(MLP[-1])]
        )
    else:
        c, h, w = CNN_IMAGE
        net = keras.Sequential(
            [
                keras.Input((h, w, c)),
                *(
                    layer
                    for channels in CNN_CHANNELS
                    for layer in (
                        layers.Conv2D(channels, KERNEL, padding="same", activation="relu"),
                        layers.MaxPooling2D(POOL),
                    )
                ),
                layers.Flatten(),
                layers.Dense(CLASSES),
            ]
        )
    params = [layer.count_params() for layer in net.layers if layer.count_params()]
    net.compile(
        optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    data = [
        (_channels_last(tf.reshape(tf.constant(x, tf.float32), shape), tf.transpose), tf.constant(y, tf.int64))
        for x, y, shape in _data(model, batch)
    ]

    def step(i: int) -> Any:
        x, y = data[i % len(data)]
        return net.train_on_batch(x, y)  # returns the loss as a NumPy value: already synchronised

    seconds, loss = _timed(step, lambda: None, warmup, steps, repeats)
    name = None
    peak_device = None
    if on_gpu:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = details.get("device_name", "GPU:0")
        peak_device = round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20, 1)
    return {
        "version": tf.__version__,
        "keras": keras.__version__,
        "import_s": import_s,
        "import_rss_mb": rss_after_import,
        "seconds": seconds,
        "loss": loss,
        "device": "cuda" if on_gpu else "cpu",
        "device_name": name,
        "peak_device_mb": peak_device,
        "threads": None,
        "layer_parameters": params,
    }


def bench_jax(model: str, steps: int, warmup: int, batch: int, device: str, repeats: int) -> dict[str, Any]:
    if device == "mps":
        raise RuntimeError("JAX has no MPS device here (jax-metal registers as METAL: use auto)")
    if device in ("cpu", "cuda"):
        os.environ["JAX_PLATFORMS"] = device
    start = time.perf_counter()
    import flax
    import jax
    import optax
    from flax import linen as nn

    import_s = time.perf_counter() - start
    rss_after_import = _peak_rss_mb()
    dev = jax.devices()[0]
    kind = {"gpu": "cuda"}.get(dev.platform, dev.platform)

    class Mlp(nn.Module):
        @nn.compact
        def __call__(self, x: Any) -> Any:
            for size in MLP[1:-1]:
                x = nn.relu(nn.Dense(size)(x))
            return nn.Dense(MLP[-1])(x)

    class Cnn(nn.Module):
        @nn.compact
        def __call__(self, x: Any) -> Any:  # NHWC, Flax's layout
            for channels in CNN_CHANNELS:
                x = nn.relu(nn.Conv(channels, (KERNEL, KERNEL), padding="SAME")(x))
                x = nn.max_pool(x, (POOL, POOL), strides=(POOL, POOL))
            return nn.Dense(CLASSES)(x.reshape((x.shape[0], -1)))

    net = Mlp() if model == "mlp" else Cnn()
    data = [
        (
            jax.device_put(_channels_last(jax.numpy.asarray(x, "float32").reshape(shape), jax.numpy.transpose), dev),
            jax.device_put(jax.numpy.asarray(y, "int32"), dev),
        )
        for x, y, shape in _data(model, batch)
    ]
    params = jax.device_put(net.init(jax.random.key(SEED), data[0][0])["params"], dev)
    layer_params = [
        sum(leaf.size for leaf in jax.tree_util.tree_leaves(params[name])) for name in sorted(params, key=_layer_order)
    ]
    tx = optax.sgd(LR, momentum=MOMENTUM)

    @jax.jit
    def train_step(params: Any, opt_state: Any, x: Any, y: Any) -> Any:
        def loss_fn(p: Any) -> Any:
            return optax.softmax_cross_entropy_with_integer_labels(net.apply({"params": p}, x), y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    state = [params, tx.init(params)]

    def step(i: int) -> Any:
        x, y = data[i % len(data)]
        state[0], state[1], loss = train_step(state[0], state[1], x, y)
        return loss

    seconds, loss = _timed(step, lambda: jax.block_until_ready(state[0]), warmup, steps, repeats)
    stats = dev.memory_stats() if kind != "cpu" else None
    peak = (stats or {}).get("peak_bytes_in_use")
    return {
        "version": jax.__version__,
        "flax": flax.__version__,
        "optax": optax.__version__,
        "import_s": import_s,
        "import_rss_mb": rss_after_import,
        "seconds": seconds,
        "loss": loss,
        "device": kind,
        "device_name": None if kind == "cpu" else dev.device_kind,
        "peak_device_mb": round(peak / 2**20, 1) if peak else None,
        "threads": None,
        "layer_parameters": layer_params,
    }


def _layer_order(name: str) -> tuple[int, int]:
    """Flax names layers Conv_0, Conv_1, Dense_0 ...: convolutions come first, then by index."""
    kind, _, index = name.rpartition("_")
    return (0 if kind == "Conv" else 1, int(index) if index.isdigit() else 0)


def bench_paddlepaddle(model: str, steps: int, warmup: int, batch: int, device: str, repeats: int) -> dict[str, Any]:
    if device == "mps":
        raise RuntimeError("PaddlePaddle has no MPS device")
    start = time.perf_counter()
    import paddle

    import_s = time.perf_counter() - start
    rss_after_import = _peak_rss_mb()
    from paddle import nn

    has_gpu = paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    if device == "cuda" and not has_gpu:
        raise RuntimeError(f"paddle {paddle.__version__} sees no CUDA device")
    kind = "cuda" if has_gpu and device != "cpu" else "cpu"
    paddle.set_device("gpu" if kind == "cuda" else "cpu")
    paddle.seed(SEED)
    if model == "mlp":
        layers: list[Any] = []
        for a, b in zip(MLP, MLP[1:], strict=False):
            layers += [nn.Linear(a, b), nn.ReLU()]
        net = nn.Sequential(*layers[:-1])
    else:
        c0, (c1, c2) = CNN_IMAGE[0], CNN_CHANNELS
        side = CNN_IMAGE[1] // POOL ** len(CNN_CHANNELS)
        net = nn.Sequential(
            nn.Conv2D(c0, c1, KERNEL, padding=KERNEL // 2),  # 'same' for an odd kernel at stride 1
            nn.ReLU(),
            nn.MaxPool2D(POOL),
            nn.Conv2D(c1, c2, KERNEL, padding=KERNEL // 2),
            nn.ReLU(),
            nn.MaxPool2D(POOL),
            nn.Flatten(),
            nn.Linear(c2 * side * side, CLASSES),
        )
    params = [
        sum(math.prod(p.shape) for p in layer.parameters()) for layer in net.children() if list(layer.parameters())
    ]
    optimizer = paddle.optimizer.Momentum(learning_rate=LR, momentum=MOMENTUM, parameters=net.parameters())
    loss_fn = nn.CrossEntropyLoss()
    data = [
        (paddle.to_tensor(x, dtype="float32").reshape(list(shape)), paddle.to_tensor(y, dtype="int64"))
        for x, y, shape in _data(model, batch)
    ]

    def step(i: int) -> Any:
        x, y = data[i % len(data)]
        loss = loss_fn(net(x), y)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        return loss.detach()

    def sync() -> None:
        if kind == "cuda":
            paddle.device.synchronize()

    seconds, loss = _timed(step, sync, warmup, steps, repeats)
    peak = paddle.device.cuda.max_memory_allocated() if kind == "cuda" else None
    return {
        "version": paddle.__version__,
        "import_s": import_s,
        "import_rss_mb": rss_after_import,
        "seconds": seconds,
        "loss": loss,
        "device": kind,
        "device_name": paddle.device.cuda.get_device_name() if kind == "cuda" else None,
        "peak_device_mb": round(peak / 2**20, 1) if peak else None,
        "threads": None,
        "layer_parameters": params,
    }


# What a benchmark needs beyond the framework's own packages.
NEEDS = {"jax": ("flax", "optax")}

# Knowledge-base ids -> benchmark. MindSpore and MXNet have none yet: an installed one is reported as
# "no benchmark", never guessed.
FRAMEWORKS: dict[str, Callable[[str, int, int, int, str, int], dict[str, Any]]] = {
    "pytorch": bench_pytorch,
    "tensorflow": bench_tensorflow,
    "jax": bench_jax,
    "paddlepaddle": bench_paddlepaddle,
}


def run(
    framework: str, model: str, steps: int, warmup: int, batch: int, device: str, repeats: int = REPEATS
) -> dict[str, Any]:
    """The measurement as a JSON-ready dict; raises on any failure."""
    measured = FRAMEWORKS[framework](model, steps, warmup, batch, device, repeats)
    if not math.isfinite(measured["loss"]):
        raise RuntimeError(f"the loss is {measured['loss']} after {warmup + steps * repeats} steps")
    expected = layer_parameters(model)
    if measured["layer_parameters"] != expected:
        raise RuntimeError(f"the {model} has layer parameters {measured['layer_parameters']}, expected {expected}")
    seconds = measured.pop("seconds")
    return {
        **measured,
        "import_s": round(measured["import_s"], 3),
        **aggregate(seconds, steps, batch),
        "peak_rss_mb": _peak_rss_mb(),
        "parameters": sum(measured["layer_parameters"]),
    }


def missing_module(exc: BaseException) -> str | None:
    """The top-level module whose absence caused `exc` (through its causes), or None: an import that
    failed for another reason (a broken build, a version clash) is a failure, not a missing module."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ImportError):
            name = error.name if isinstance(error, ModuleNotFoundError) else None
            found = re.match(r"No module named '?([A-Za-z_][\w.]*)", str(error))
            name = name or (found.group(1) if found else None)
            if name:
                return name.split(".")[0]
        error = error.__cause__ or error.__context__
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlpick.machine.bench_worker", description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=sorted(FRAMEWORKS))
    parser.add_argument("--model", choices=("mlp", "cnn"), required=True)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--json", action="store_true", help="accepted for symmetry: the output is always JSON")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.batch < 1 or args.repeats < 1:
        parser.error("--steps, --batch and --repeats must be at least 1, --warmup at least 0")
    head = {
        "framework": args.framework,
        "model": args.model,
        "steps": args.steps,
        "warmup": args.warmup,
        "batch": args.batch,
        "requested_device": args.device,
        "dtype": "float32",
        "worker_version": VERSION,
    }
    return report(
        head, lambda: run(args.framework, args.model, args.steps, args.warmup, args.batch, args.device, args.repeats)
    )


def report(
    head: dict[str, Any], measure: Callable[[], dict[str, Any]], errors: tuple[type[BaseException], ...] = (Exception,)
) -> int:
    """Print the one JSON line of a worker (`head` with the measurement, or the error as data: the parent
    shows it, never a number) and return the exit status: 0 ok, 3 a module is missing, 1 failed.
    A SystemExit among `errors` (an engine's one-line error) is reported by its message alone."""
    try:
        result = {**head, "status": "ok", **measure()}
    except errors as exc:
        text = str(exc) if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
        result = {**head, "status": "failed", "error": text.strip()}
        module = missing_module(exc)
        if module:
            result.update(status="missing", module=module)
    sys.stdout.flush()
    print(json.dumps(result), flush=True)
    return {"ok": 0, "missing": 3}.get(result["status"], 1)


if __name__ == "__main__":
    sys.exit(main())
