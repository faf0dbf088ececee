"""Apache MXNet engine: Gluon `HybridBlock`s, hybridized into a symbolic graph, trained with
`autograd.record()` and a `gluon.Trainer` ("adam").

MXNet 1.9.1 (May 2022) is the last release; the project is retired (Apache Attic). It imports
only with numpy<1.24 (see requirements.txt). `export` writes the hybridized graph (`net.export`:
symbol JSON + params) and an ONNX model (`mx.onnx.export_model`), and reloads each with its
runtime: `gluon.SymbolBlock.imports` and ONNX Runtime.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from mxnet.gluon import nn

FRAMEWORK = "{{ cookiecutter.__framework }}"
NAME = "Apache MXNet"
PACKAGES = (FRAMEWORK,)  # distributions whose versions run.json records
DEVICES = ("auto", "cuda", "cpu")
EXPORT_FORMATS = ("MXNet symbol (model-symbol.json + model-0000.params)", "ONNX (model.onnx)")
EXPORT_PREFIX = "model"

_ctx = mx.cpu()


def _gpu_count() -> int:
    try:
        return mx.context.num_gpus()  # 0 with the CPU build (mxnet); mxnet-cu112 counts the GPUs
    except mx.base.MXNetError:  # a CUDA build without a usable driver
        return 0


def select_device(name: str) -> str:
    """The MXNet context every array and parameter lives in: mx.gpu(0) or mx.cpu()."""
    global _ctx
    if name in ("auto", "cuda") and _gpu_count() > 0:
        _ctx = mx.gpu(0)
        return "cuda"
    if name == "cuda":
        if mx.runtime.Features().is_enabled("CUDA"):
            raise SystemExit("error: --device cuda: this MXNet build has CUDA but sees no GPU")
        raise SystemExit(
            "error: --device cuda: this is the CPU build of MXNet (mxnet); "
            "install mxnet-cu112 instead (see README, GPU)"
        )
    _ctx = mx.cpu()
    return "cpu"


def seed(value: int) -> None:
    """Seeds MXNet's generator on every device: parameter initialisation draws from it."""
    mx.random.seed(value)


# [task: text-classification]
class TextClassifier(nn.HybridBlock):
    """Mean of the token embeddings (padding, id 0, masked out), then a dense layer."""

    def __init__(self, vocab_size: int, dim: int, n_outputs: int) -> None:
        super().__init__()
        with self.name_scope():
            self.embedding = nn.Embedding(vocab_size, dim)
            self.head = nn.Dense(n_outputs, in_units=dim)

    def hybrid_forward(self, F, tokens):  # noqa: N803 (F: mx.nd or mx.sym, Gluon 1.x convention)
        mask = F.expand_dims(F.cast(tokens > 0, "float32"), axis=2)  # (n, tokens, 1)
        summed = F.sum(F.broadcast_mul(self.embedding(tokens), mask), axis=1)
        count = F.maximum(F.sum(mask, axis=1), 1.0)
        return self.head(F.broadcast_div(summed, count))


# [end task]
def build(preprocess: dict, config: dict) -> gluon.HybridBlock:
    """The model, its parameters initialised (Xavier) on the selected context and hybridized.
    Input sizes are given explicitly, so nothing waits for a first batch (no deferred init)."""
    task, shape, outputs = preprocess["task"], preprocess["input_shape"], preprocess["n_outputs"]
    # [task: text-classification]
    net = TextClassifier(len(preprocess["vocabulary"]) + 2, config["model"]["embedding_dim"], outputs)
    # [end task]
    # [task: tabular-regression tabular-classification image-classification]
    hidden = config["model"]["hidden"]
    net = nn.HybridSequential()
    with net.name_scope():
        # [task: image-classification]
        net.add(
            nn.Conv2D(16, 3, padding=1, in_channels=shape[0], activation="relu"),
            nn.MaxPool2D(2),
            nn.Conv2D(32, 3, padding=1, in_channels=16, activation="relu"),
            nn.MaxPool2D(2),
            nn.Flatten(),
            nn.Dense(hidden, in_units=32 * (shape[1] // 4) ** 2, activation="relu"),
        )
        # [end task]
        # [task: tabular-regression tabular-classification]
        net.add(
            nn.Dense(hidden, in_units=shape[0], activation="relu"),
            nn.Dense(hidden, in_units=hidden, activation="relu"),
        )
        # [end task]
        net.add(nn.Dense(outputs, in_units=hidden))
    # [end task]
    net.initialize(mx.init.Xavier(), ctx=_ctx)
    net.hybridize()
    # What the loss and export need (plain attributes, not parameters).
    net.task, net.input_shape = task, list(shape)
    return net


def _array(x: np.ndarray) -> mx.nd.NDArray:
    """A numpy batch as an NDArray on the selected context, dtype kept. `from_numpy(copy)` rather than
    `mx.nd.array`: the latter checks every call for a `scipy.sparse.csr` matrix, which SciPy >= 1.8
    answers with a DeprecationWarning."""
    return mx.nd.from_numpy(np.ascontiguousarray(x), zero_copy=False).as_in_context(_ctx)


def _loss_fn() -> gluon.loss.Loss:
    # [task: tabular-regression]
    # L2Loss is weight / 2 * (pred - label)^2 per example (label reshaped like pred, so
    # output[:, 0]): weight 2 makes it the squared error, and its mean the MSE.
    return gluon.loss.L2Loss(weight=2.0)
    # [end task]
    # [task: tabular-classification image-classification text-classification]
    return gluon.loss.SoftmaxCrossEntropyLoss()
    # [end task]


class Trainer:
    """Adam steps on numpy batches: forward under `autograd.record()`, `backward()`, then
    `gluon.Trainer.step(batch_size)` (which divides the summed gradient by the batch size)."""

    def __init__(self, model: gluon.HybridBlock, train_cfg: dict) -> None:
        self.model = model
        self.loss_fn = _loss_fn()
        self.trainer = gluon.Trainer(model.collect_params(), "adam", {"learning_rate": train_cfg["learning_rate"]})

    def _targets(self, y: np.ndarray) -> mx.nd.NDArray:
        return _array(y.astype(np.float32))  # class ids as float32, as Gluon's losses expect

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        data, label = _array(x), self._targets(y)
        with autograd.record():
            loss = self.loss_fn(self.model(data), label)
        loss.backward()
        self.trainer.step(len(y))
        return float(loss.mean().asscalar())

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(self.loss_fn(self.model(_array(x)), self._targets(y)).mean().asscalar())

    def snapshot(self) -> dict[str, mx.nd.NDArray]:
        return {name: param.data().copy() for name, param in self.model.collect_params().items()}

    def restore(self, snapshot: dict[str, mx.nd.NDArray]) -> None:
        for name, param in self.model.collect_params().items():
            param.set_data(snapshot[name])

    def state(self) -> dict[str, np.ndarray]:
        """All that training continues from, as NumPy copies: the parameters (`model/<name>`) and
        Adam's state per parameter (`optimizer/<name>/0` and `/1`: the moments; `/count`: the
        updates so far, for the bias correction) and its overall update count. MXNet's random
        generator cannot be read back (only seeded); nothing in these models draws from it after
        initialisation (no dropout)."""
        arrays = {f"model/{name}": param.data().asnumpy() for name, param in self.model.collect_params().items()}
        optimizer, updater = self.trainer._optimizer, self.trainer._updaters[0]
        for index, param in enumerate(self.trainer._params):
            for position, array in enumerate(updater.states.get(index, ())):
                arrays[f"optimizer/{param.name}/{position}"] = array.asnumpy()
            if index in optimizer._index_update_count:
                arrays[f"optimizer/{param.name}/count"] = np.array(optimizer._index_update_count[index])
        arrays["optimizer/num_update"] = np.array(optimizer.num_update)
        return arrays

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        for name, param in self.model.collect_params().items():
            param.set_data(mx.nd.array(state[f"model/{name}"], ctx=_ctx, dtype=state[f"model/{name}"].dtype))
        # gluon.Trainer's private state (its save_states/load_states pickle the same objects to a file).
        optimizer, updater = self.trainer._optimizer, self.trainer._updaters[0]
        for index, param in enumerate(self.trainer._params):
            prefix = f"optimizer/{param.name}/"
            if prefix + "0" in state:
                moments = (state[prefix + "0"], state[prefix + "1"])
                updater.states[index] = tuple(mx.nd.array(m, ctx=_ctx, dtype=m.dtype) for m in moments)
                updater.states_synced[index] = True
            if prefix + "count" in state:
                optimizer._index_update_count[index] = int(state[prefix + "count"])
        optimizer.num_update = int(state["optimizer/num_update"])


def forward(model: gluon.HybridBlock, x: np.ndarray) -> np.ndarray:
    return model(_array(x)).asnumpy()


def save(model: gluon.HybridBlock, run: Path) -> None:
    model.save_parameters(str(run / "model.params"))


def load(run: Path, preprocess: dict, config: dict) -> gluon.HybridBlock:
    model = build(preprocess, config)
    model.load_parameters(str(run / "model.params"), ctx=_ctx)
    return model


def _onnx(symbol_file: Path, params_file: Path, x: np.ndarray, run: Path) -> dict:
    """`mx.onnx.export_model` converts the exported symbol + params (batch dimension dynamic);
    ONNX Runtime loads the file and runs it on the CPU."""
    import onnx
    import onnxruntime as ort

    path = run / "model.onnx"
    mx.onnx.export_model(
        str(symbol_file),
        str(params_file),
        in_shapes=[x.shape],
        in_types=[x.dtype],
        onnx_file_path=str(path),
        dynamic=True,
        dynamic_input_shapes=[(None, *x.shape[1:])],
    )
    # mx2onnx also lists the weights as graph inputs, which makes ONNX Runtime treat them as
    # overridable (no constant folding, one warning per weight): keep only the real input.
    proto = onnx.load(str(path))
    weights = {tensor.name for tensor in proto.graph.initializer}
    inputs = [value for value in proto.graph.input if value.name not in weights]
    del proto.graph.input[:]
    proto.graph.input.extend(inputs)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    output = session.run(None, {session.get_inputs()[0].name: x})[0]
    return {"file": path.name, "output": output}


def export(model: gluon.HybridBlock, x: np.ndarray, run: Path) -> dict:
    """`HybridBlock.export` writes the cached graph (model-symbol.json) and its weights
    (model-0000.params); it needs a forward pass of the hybridized model first."""
    model(_array(x[:1]))
    prefix = run / EXPORT_PREFIX
    model.export(str(prefix), epoch=0)
    symbol_file, params_file = Path(f"{prefix}-symbol.json"), Path(f"{prefix}-0000.params")

    with warnings.catch_warnings():
        # The symbol file does not record the input's dtype, so imports() warns ("Cannot decide
        # type for the following arguments ... data: None") and takes float32 for the weights,
        # which they are.
        warnings.filterwarnings("ignore", message="Cannot decide type", category=UserWarning)
        imported = gluon.SymbolBlock.imports(str(symbol_file), ["data"], str(params_file), ctx=_ctx)
    return {
        "mxnet-symbol": {"file": symbol_file.name, "output": imported(_array(x)).asnumpy()},
        "onnx": _onnx(symbol_file, params_file, x, run),
    }
