{% raw %}"""JAX/Flax engine: models are `flax.nnx` modules, trained with an optax AdamW step under `nnx.jit`
and exported as serialised StableHLO with `jax.export`.
# [task: image-classification]

Images arrive channels-first (N, C, H, W) and are transposed to the channels-last layout that
`nnx.Conv` expects inside the model, so the exported function takes the same input as `forward`.
# [end task]
# [task: text-classification]

Token ids are fed as int32 (JAX's default integer width).
# [end task]
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx, traverse_util

# XLA's compiled programs persist in the project's .cache/jax (git-ignored; JAX_COMPILATION_CACHE_DIR
# overrides it): a second run, and the tests beside a run, load them instead of compiling again.
# A cache is only a speed-up: an entry JAX cannot use is compiled again.
with contextlib.suppress(AttributeError, ValueError):  # options this JAX may not have
    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        jax.config.update("jax_compilation_cache_dir", str(Path(".cache", "jax").absolute()))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)

{% endraw %}FRAMEWORK = "{{ cookiecutter.__framework }}"{% raw %}
NAME = "JAX/Flax"
PACKAGES = (FRAMEWORK,)  # distributions whose versions run.json records
# --device choices: "auto" tries them in JAX's own backend order (GPU plugin, TPU, CPU).
DEVICES = ("auto", "cuda", "tpu", "cpu")
EXPORT_FORMATS = ("StableHLO via jax.export: model.stablehlo",)
WEIGHT_DECAY = 0.01  # AdamW, as torch.optim.AdamW's default
_PLATFORMS = {"cuda": "gpu", "tpu": "tpu", "cpu": "cpu"}
_seed = 0


_world = 1  # processes training together (distributed); 1: this one alone


def distributed(name: str) -> tuple[int, int]:
    """(rank, processes). Several processes train together when JAX_NUM_PROCESSES > 1 (with
    JAX_PROCESS_ID and JAX_COORDINATOR_ADDRESS, as `python -m PACKAGE.launch` sets them) or under a
    Slurm job of several tasks (jax.distributed finds the rest itself). Each process computes the
    gradients of its share of every batch; they are averaged across processes (over the global
    device mesh, gloo on CPUs) before each update, so every process keeps the same weights."""
    global _world
    processes = int(os.environ.get("JAX_NUM_PROCESSES") or os.environ.get("SLURM_NTASKS") or 1)
    if processes <= 1:
        return 0, 1
    if name == "cpu":
        jax.config.update("jax_platforms", "cpu")
    with contextlib.suppress(AttributeError, ValueError):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU collectives across processes
    if os.environ.get("JAX_NUM_PROCESSES"):
        jax.distributed.initialize(num_processes=processes, process_id=int(os.environ["JAX_PROCESS_ID"]))
    else:
        jax.distributed.initialize()  # Slurm: from the job's environment
    _world = jax.process_count()
    return jax.process_index(), _world


def finish() -> None:
    """Leave together, once training went well: jax.distributed.shutdown waits at the coordination
    service's shutdown barrier until every process arrives (rank 0 after writing the run)."""
    if _world > 1:
        jax.distributed.shutdown()


def select_device(name: str) -> str:
    """Make `name` JAX's default device; "auto" keeps JAX's choice (GPU, then TPU, then CPU)."""
    if name == "cpu":
        # Before JAX starts its back ends this also keeps it from initialising (and claiming) a GPU.
        jax.config.update("jax_platforms", "cpu")
    if name == "auto":
        device = jax.local_devices()[0]
    else:
        try:
            device = jax.local_devices(backend=_PLATFORMS[name])[0]
        except RuntimeError as error:
            raise SystemExit(f"error: --device {name}: JAX finds no {name} device ({error})") from None
    jax.config.update("jax_default_device", device)
    return "cuda" if device.platform == "gpu" else device.platform


def seed(value: int) -> None:
    """Seed for the initial weights (`nnx.Rngs`) of the next `build`."""
    global _seed
    _seed = int(value)


# [task: tabular-regression tabular-classification]
class MLP(nnx.Module):
    def __init__(self, n_features: int, hidden: int, n_outputs: int, *, rngs: nnx.Rngs) -> None:
        self.dense1 = nnx.Linear(n_features, hidden, rngs=rngs)
        self.dense2 = nnx.Linear(hidden, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, n_outputs, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = nnx.relu(self.dense1(x))
        x = nnx.relu(self.dense2(x))
        return self.out(x)


# [end task]
# [task: image-classification]
class CNN(nnx.Module):
    def __init__(self, channels: int, size: int, hidden: int, n_outputs: int, *, rngs: nnx.Rngs) -> None:
        self.conv1 = nnx.Conv(channels, 16, kernel_size=(3, 3), padding="SAME", rngs=rngs)
        self.conv2 = nnx.Conv(16, 32, kernel_size=(3, 3), padding="SAME", rngs=rngs)
        self.dense1 = nnx.Linear(32 * (size // 4) ** 2, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, n_outputs, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.transpose(x, (0, 2, 3, 1))  # NCHW -> NHWC
        x = nnx.max_pool(nnx.relu(self.conv1(x)), window_shape=(2, 2), strides=(2, 2))
        x = nnx.max_pool(nnx.relu(self.conv2(x)), window_shape=(2, 2), strides=(2, 2))
        x = x.reshape(x.shape[0], -1)
        return self.out(nnx.relu(self.dense1(x)))


# [end task]
# [task: text-classification]
class TextClassifier(nnx.Module):
    """Mean of the token embeddings (padding, id 0, masked out), then a linear layer."""

    def __init__(self, vocab_size: int, dim: int, n_outputs: int, *, rngs: nnx.Rngs) -> None:
        self.embedding = nnx.Embed(vocab_size, dim, rngs=rngs)
        self.out = nnx.Linear(dim, n_outputs, rngs=rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        mask = (tokens > 0)[..., None].astype(jnp.float32)
        summed = (self.embedding(tokens) * mask).sum(axis=1)
        return self.out(summed / jnp.maximum(mask.sum(axis=1), 1.0))


# [end task]
@functools.partial(nnx.jit, static_argnums=(0, 1))
def _init(kind: type, args: tuple, key: jax.Array) -> nnx.Module:
    """The initial weights as one compiled program (not one per initialiser and shape)."""
    return kind(*args, rngs=nnx.Rngs(key))


def build(preprocess: dict, config: dict) -> nnx.Module:
    outputs = preprocess["n_outputs"]
    # [task: image-classification]
    kind, args = CNN, (*preprocess["input_shape"][:2], config["model"]["hidden"], outputs)
    # [end task]
    # [task: text-classification]
    kind, args = TextClassifier, (len(preprocess["vocabulary"]) + 2, config["model"]["embedding_dim"], outputs)
    # [end task]
    # [task: tabular-regression tabular-classification]
    kind, args = MLP, (preprocess["input_shape"][0], config["model"]["hidden"], outputs)
    # [end task]
    return _init(kind, args, jax.random.key(_seed))


def _inputs(x: np.ndarray) -> np.ndarray:
    # [task: text-classification]
    return np.asarray(x, dtype=np.int32)  # token ids
    # [end task]
    # [task: tabular-regression tabular-classification image-classification]
    return np.asarray(x, dtype=np.float32)
    # [end task]


def _targets(y: np.ndarray) -> np.ndarray:
    # [task: tabular-regression]
    return np.asarray(y, dtype=np.float32)  # the standardised target
    # [end task]
    # [task: tabular-classification image-classification text-classification]
    return np.asarray(y, dtype=np.int32)  # class ids
    # [end task]


def _loss(model: nnx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    output = model(x)
    # [task: tabular-regression]
    return jnp.mean((output[:, 0] - y) ** 2)
    # [end task]
    # [task: tabular-classification image-classification text-classification]
    return optax.softmax_cross_entropy_with_integer_labels(output, y).mean()
    # [end task]


@nnx.jit
def _train_step(model: nnx.Module, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array):
    loss, grads = nnx.value_and_grad(_loss)(model, x, y)
    optimizer.update(model, grads)  # updates the model's nnx.Param variables in place
    return loss


# Several processes (distributed): the gradients of this process's share, averaged, then one update.
@nnx.jit
def _grads(model: nnx.Module, x: jax.Array, y: jax.Array):
    return nnx.value_and_grad(_loss)(model, x, y)


@nnx.jit
def _apply(model: nnx.Module, optimizer: nnx.Optimizer, grads: nnx.State) -> None:
    optimizer.update(model, grads)


def _mean_across_processes(tree):
    """The mean over processes of each array (every process gets the same result)."""
    from jax.experimental import multihost_utils

    return jax.tree.map(lambda stacked: np.mean(stacked, axis=0), multihost_utils.process_allgather(tree))


_eval_loss = nnx.jit(_loss)


@nnx.jit
def _forward(model: nnx.Module, x: jax.Array) -> jax.Array:
    return model(x)


def _weights(model: nnx.Module) -> dict[str, np.ndarray]:
    """The parameters as a flat {"dense1/kernel": array} dict of NumPy copies."""
    nested = nnx.to_pure_dict(nnx.state(model, nnx.Param))
    return {key: np.array(value) for key, value in traverse_util.flatten_dict(nested, sep="/").items()}


def _set_weights(model: nnx.Module, weights: dict[str, np.ndarray]) -> None:
    state = nnx.state(model, nnx.Param)
    nnx.replace_by_pure_dict(state, traverse_util.unflatten_dict(dict(weights), sep="/"))
    nnx.update(model, state)


class Trainer:
    """AdamW (optax) on the model's parameters; `step` runs one jitted update."""

    def __init__(self, model: nnx.Module, train_cfg: dict) -> None:
        self.model = model
        tx = optax.adamw(train_cfg["learning_rate"], weight_decay=WEIGHT_DECAY)
        self.optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One update; with several processes, `x` and `y` are this process's share of the batch and
        the loss returned is the mean over processes."""
        x, y = _inputs(x), _targets(y)
        if _world == 1:
            return float(_train_step(self.model, self.optimizer, x, y))
        loss, grads = _grads(self.model, x, y)
        loss, grads = _mean_across_processes((loss, grads))
        _apply(self.model, self.optimizer, grads)
        return float(loss)

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        x, y = _inputs(x), _targets(y)
        return float(_eval_loss(self.model, x, y))

    def snapshot(self) -> dict[str, np.ndarray]:
        return _weights(self.model)

    def restore(self, snapshot: dict[str, np.ndarray]) -> None:
        _set_weights(self.model, snapshot)

    def state(self) -> dict[str, nnx.State]:
        """All that training continues from, as Orbax saves it: the model's nnx state (weights, and the
        key and count of any `nnx.Rngs` a layer such as `nnx.Dropout` draws from) and the optimizer's
        (AdamW's step count and moments), as NumPy copies, which one process saves for all."""
        return jax.tree.map(_host, {"model": nnx.state(self.model), "optimizer": nnx.state(self.optimizer)})

    def load_state(self, state: dict[str, nnx.State]) -> None:
        for node, saved in ((self.model, state["model"]), (self.optimizer, state["optimizer"])):
            nnx.update(node, jax.tree.map(_device, saved, nnx.state(node)))


def _host(value: jax.Array) -> np.ndarray:
    """A NumPy copy; a typed random key (nnx.Rngs) as its raw bits."""
    if jnp.issubdtype(value.dtype, jax.dtypes.prng_key):
        value = jax.random.key_data(value)
    return np.array(value)


def _device(saved: np.ndarray, current: jax.Array) -> jax.Array:
    if jnp.issubdtype(current.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(saved, impl=jax.random.key_impl(current))
    return jnp.asarray(saved, dtype=current.dtype)


def forward(model: nnx.Module, x: np.ndarray) -> np.ndarray:
    return np.asarray(_forward(model, _inputs(x)))


def save(model: nnx.Module, run: Path) -> None:
    np.savez(run / "model.npz", **_weights(model))


def load(run: Path, preprocess: dict, config: dict) -> nnx.Module:
    """The model's structure from `nnx.eval_shape` (no initialisation), then the saved weights."""
    graphdef, state = nnx.split(nnx.eval_shape(lambda: build(preprocess, config)))
    from .config import read_npz  # data only: bounded, no pickle (a run folder may come from someone else)

    weights = read_npz(run / "model.npz")
    nested = traverse_util.unflatten_dict({key: jnp.asarray(value) for key, value in weights.items()}, sep="/")
    nnx.replace_by_pure_dict(state, nested)
    return nnx.merge(graphdef, state)


def export(model: nnx.Module, x: np.ndarray, run: Path) -> dict:
    """Serialise the jitted forward pass, weights included as constants, to StableHLO with a
    symbolic batch size, lowered for CPU and CUDA; reload it from the file and run it with
    `jax.export.deserialize(...).call`, as a deployment would."""
    graphdef, state = nnx.split(model)

    def predict(inputs: jax.Array) -> jax.Array:
        return nnx.merge(graphdef, state)(inputs)

    inputs = _inputs(x)
    shape = jax.export.symbolic_shape(", ".join(["b", *map(str, inputs.shape[1:])]))
    exported = jax.export.export(jax.jit(predict), platforms=("cpu", "cuda"))(jax.ShapeDtypeStruct(shape, inputs.dtype))
    (run / "model.stablehlo").write_bytes(exported.serialize())

    reloaded = jax.export.deserialize(bytearray((run / "model.stablehlo").read_bytes()))
    output = np.asarray(reloaded.call(inputs))
    return {"stablehlo": {"file": "model.stablehlo", "output": output}}{% endraw %}
