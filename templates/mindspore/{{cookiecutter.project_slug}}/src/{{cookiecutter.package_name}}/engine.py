"""MindSpore engine: `nn.Cell` models, a training step from `mindspore.value_and_grad` and
`nn.Adam` compiled with `mindspore.jit` (the rest runs eagerly, in PyNative mode), checkpoints
with `save_checkpoint` / `load_checkpoint`, and MindIR and ONNX exports.
"""

from __future__ import annotations

import os
from pathlib import Path

# MindSpore logs through glog and its own Python logger; both read GLOG_v at import time. At the
# default level (2, warnings) every run prints lines that are not the user's concern, such as
# "'FusedSparseAdam' is deprecated" from inside `nn.Adam`, and one "Backend GPU/Ascend is not
# available" pair per probe on machines without them. 3 keeps errors only; GLOG_v=2 brings
# warnings back (GLOG_v=1 for info).
os.environ.setdefault("GLOG_v", "3")

import mindspore as ms  # noqa: E402
import numpy as np  # noqa: E402
from mindspore import nn, ops  # noqa: E402
# [task: text-classification]
from mindspore.common.initializer import Normal, initializer  # noqa: E402
# [end task]

FRAMEWORK = "{{ cookiecutter.__framework }}"
NAME = "MindSpore"
PACKAGES = (FRAMEWORK,)  # distributions whose versions run.json records
DEVICES = ("auto", "ascend", "cuda", "cpu")
EXPORT_FORMATS = ("MindIR", "ONNX")

_TARGETS = {"ascend": "Ascend", "cuda": "GPU", "cpu": "CPU"}
_DEVICE_CONTEXT = {"ascend": ms.device_context.ascend, "cuda": ms.device_context.gpu, "cpu": ms.device_context.cpu}


def _available(name: str) -> bool:
    """Whether this MindSpore build loaded the back end (plug-in and driver libraries) and sees a device."""
    context = _DEVICE_CONTEXT[name]
    if not context.is_available():
        return False
    if name == "cpu":
        return True
    try:
        return context.device_count() > 0
    except RuntimeError:
        return False


_world = 1  # processes training together (distributed); 1: this one alone
_selected: str | None = None  # the device, once set (MindSpore sets it once per process)


def distributed(name: str) -> tuple[int, int]:
    """(rank, processes). Under `msrun --worker_num N --local_worker_num N` (MS_WORKER_NUM > 1) the
    processes join one communication group (HCCL on Ascend, NCCL on GPUs, MindSpore's own on CPUs);
    each computes the gradients of its share of every batch, averaged across processes
    (nn.DistributedGradReducer) before each update, so every process keeps the same weights."""
    global _world
    if int(os.environ.get("MS_WORKER_NUM", "1")) <= 1:
        return 0, 1
    from mindspore.communication import get_group_size, get_rank, init

    select_device(name)  # before init: the group is made for the device
    init()
    _world = get_group_size()
    return get_rank(), _world


def finish() -> None:
    """Release the communication group once training went well (MindSpore has no barrier on CPUs:
    msrun waits for every worker before it returns)."""
    if _world > 1:
        from mindspore.communication import release

        release()


def select_device(name: str) -> str:
    global _selected
    if _selected is not None:
        return _selected
    if name == "auto":
        name = next(device for device in DEVICES[1:] if _available(device))
    elif not _available(name):
        raise SystemExit(
            f"error: --device {name}: this MindSpore installation cannot use {_TARGETS[name]} "
            "(no such device, or the wheel's back end for it did not load; see README, GPU)"
        )
    ms.set_device(_TARGETS[name])
    _selected = name
    return name


def seed(value: int) -> None:
    """Seeds MindSpore's global RNG, which the weight initialisers draw from."""
    ms.set_seed(value)


# [task: tabular-regression tabular-classification]
class MLP(nn.Cell):
    def __init__(self, n_features: int, n_outputs: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.SequentialCell(
            nn.Dense(n_features, hidden),
            nn.ReLU(),
            nn.Dense(hidden, hidden),
            nn.ReLU(),
            nn.Dense(hidden, n_outputs),
        )

    def construct(self, x):
        return self.layers(x)


# [end task]
# [task: image-classification]
class CNN(nn.Cell):
    def __init__(self, channels: int, size: int, n_outputs: int, hidden: int) -> None:
        super().__init__()
        # nn.Conv2d defaults to pad_mode="same" without a bias; written out as PyTorch's Conv2d(padding=1).
        self.features = nn.SequentialCell(
            nn.Conv2d(channels, 16, 3, pad_mode="pad", padding=1, has_bias=True),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(16, 32, 3, pad_mode="pad", padding=1, has_bias=True),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Flatten(),
        )
        self.head = nn.SequentialCell(nn.Dense(32 * (size // 4) ** 2, hidden), nn.ReLU(), nn.Dense(hidden, n_outputs))

    def construct(self, x):
        return self.head(self.features(x))


# [end task]
# [task: text-classification]
class TextClassifier(nn.Cell):
    """Mean of the token embeddings (padding, id 0, left out), then a dense layer.

    The lookup is `ops.gather` on an embedding table whose padding row is multiplied by 0: the
    same outputs as `nn.Embedding` plus a padding mask, but `nn.Embedding` and `expand_dims`
    write the batch size into the exported ONNX graph (a fixed Reshape) and this does not.
    """

    def __init__(self, vocab_size: int, dim: int, n_outputs: int) -> None:
        super().__init__()
        self.embedding = ms.Parameter(initializer(Normal(0.1), (vocab_size, dim), ms.float32), name="embedding")
        keep = np.ones((vocab_size, 1), np.float32)
        keep[0] = 0
        self.keep = ms.Tensor(keep)
        self.head = nn.Dense(dim, n_outputs)

    def construct(self, tokens):
        summed = ops.gather(self.embedding * self.keep, tokens, 0).sum(axis=1)
        count = (tokens > 0).astype(ms.float32).sum(axis=1, keepdims=True)
        return self.head(summed / ops.maximum(count, ms.Tensor(1.0, ms.float32)))


# [end task]
def build(preprocess: dict, config: dict) -> nn.Cell:
    outputs = preprocess["n_outputs"]
    # [task: image-classification]
    return CNN(*preprocess["input_shape"][:2], outputs, config["model"]["hidden"])
    # [end task]
    # [task: text-classification]
    return TextClassifier(len(preprocess["vocabulary"]) + 2, config["model"]["embedding_dim"], outputs)
    # [end task]
    # [task: tabular-regression tabular-classification]
    return MLP(preprocess["input_shape"][0], outputs, config["model"]["hidden"])
    # [end task]


def _tensor(x: np.ndarray) -> ms.Tensor:
    return ms.Tensor(np.ascontiguousarray(x))


class Trainer:
    """`nn.Adam` on the model's parameters; `step` is one jit-compiled forward, backward and update."""

    def __init__(self, model: nn.Cell, train_cfg: dict) -> None:
        self.model = model
        self.optimizer = nn.Adam(model.trainable_params(), learning_rate=train_cfg["learning_rate"])

        def loss_fn(x, y):
            output = model(x)
            # [task: tabular-regression]
            return ((output[:, 0] - y) ** 2).mean()
            # [end task]
            # [task: tabular-classification image-classification text-classification]
            return ops.cross_entropy(output, y)
            # [end task]

        grad_fn = ms.value_and_grad(loss_fn, None, self.optimizer.parameters)
        optimizer = self.optimizer
        if _world > 1:  # several processes: gradients and the loss reported, averaged across them
            reducer = nn.DistributedGradReducer(self.optimizer.parameters, mean=True, degree=_world)
            all_reduce = ops.AllReduce()

            @ms.jit
            def train_step(x, y):
                loss, grads = grad_fn(x, y)
                optimizer(reducer(grads))
                return all_reduce(loss) / _world

        else:

            @ms.jit
            def train_step(x, y):
                loss, grads = grad_fn(x, y)
                optimizer(grads)
                return loss

        self._loss = loss_fn
        self._step = train_step

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self._step(_tensor(x), _tensor(y)))

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self._loss(_tensor(x), _tensor(y)))

    def snapshot(self) -> dict[str, np.ndarray]:
        return {param.name: param.asnumpy().copy() for param in self.model.trainable_params()}

    def restore(self, snapshot: dict[str, np.ndarray]) -> None:
        for param in self.model.trainable_params():
            param.set_data(ms.Tensor(snapshot[param.name]))

    def state(self) -> dict[str, np.ndarray]:
        """All that training continues from, as NumPy copies: the model's parameters (`model/<name>`),
        the optimiser's own (`optimizer/...`: Adam's `moment1.<name>` and `moment2.<name>`, the beta
        powers, `global_step`, the learning rate). No random state: MindSpore's dropout draws from
        per-operator seeds that cannot be read back (`get_rng_state` does not cover them), and
        nothing in these models draws after initialisation."""
        arrays = {f"model/{param.name}": param.asnumpy().copy() for param in self.model.get_parameters()}
        for param in self._optimiser_params():
            arrays[f"optimizer/{param.name}"] = param.asnumpy().copy()
        return arrays

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        for param in self.model.get_parameters():
            param.set_data(ms.Tensor(state[f"model/{param.name}"]))
        for param in self._optimiser_params():
            param.set_data(ms.Tensor(state[f"optimizer/{param.name}"]))

    def _optimiser_params(self) -> list:
        """The optimiser's parameters that are not the model's (it holds those too)."""
        own = {id(param) for param in self.model.get_parameters()}
        return [param for param in self.optimizer.get_parameters() if id(param) not in own]


def forward(model: nn.Cell, x: np.ndarray) -> np.ndarray:
    return model(_tensor(x)).asnumpy()


def save(model: nn.Cell, run: Path) -> None:
    ms.save_checkpoint(model, str(run / "model.ckpt"))


def load(run: Path, preprocess: dict, config: dict) -> nn.Cell:
    model = build(preprocess, config)
    missing, unused = ms.load_param_into_net(model, ms.load_checkpoint(str(run / "model.ckpt")), strict_load=True)
    if missing or unused:
        raise SystemExit(f"error: {run / 'model.ckpt'} does not fit the model (missing {missing}, unused {unused})")
    return model


def export(model: nn.Cell, x: np.ndarray, run: Path) -> dict:
    """MindIR (MindSpore's own format, for MindSpore and MindSpore Lite) and ONNX, both with a
    dynamic batch dimension. Each is reloaded from its file and run on `x` in two batches of
    other sizes than the one exported with, which checks that the batch size is free."""
    chunks = [x[:1], x[1:]] if len(x) > 1 else [x]
    dtype = ms.int64 if x.dtype == np.int64 else ms.float32
    ms.export(
        model, ms.Tensor(shape=[None, *x.shape[1:]], dtype=dtype), file_name=str(run / "model"), file_format="MINDIR"
    )
    graph = nn.GraphCell(ms.load(str(run / "model.mindir")))
    result = {
        "mindir": {
            "file": "model.mindir",
            "output": np.concatenate([graph(_tensor(chunk)).asnumpy() for chunk in chunks]),
        }
    }

    import onnxruntime

    # dynamic_axes applies to inputs only: the graph's declared output shape keeps len(x) rows, and
    # onnxruntime warns (but computes correctly) for other batch sizes unless its log level is raised.
    ms.onnx.export(
        model,
        _tensor(x),
        file_name=str(run / "model.onnx"),
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}},
    )
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(run / "model.onnx"), options, providers=["CPUExecutionProvider"])
    result["onnx"] = {
        "file": "model.onnx",
        "output": np.concatenate([session.run(None, {"input": chunk})[0] for chunk in chunks]),
    }
    return result
