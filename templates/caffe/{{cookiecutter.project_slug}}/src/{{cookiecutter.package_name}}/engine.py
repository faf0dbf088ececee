"""Caffe engine: the nets are declared with `caffe.NetSpec` and written as prototxt files (a train
net with its loss, a deploy net without), trained by Caffe's Adam solver one `solver.step(1)` at a
time on batches copied into the nets' Input blobs.

Caffe 1.0 (BVLC, 2017) is retired. Debian 11 bullseye's `python3-caffe` (a 2018 snapshot, built
CPU_ONLY, Python 3.9) is the environment this project was tested in; see the README.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

# Caffe logs every net it builds to stderr through glog; 2 keeps errors only. Set before import.
os.environ.setdefault("GLOG_minloglevel", "2")

import caffe  # noqa: E402
import numpy as np  # noqa: E402
from caffe import layers as L  # noqa: E402
from caffe import params as P  # noqa: E402
from caffe.proto import caffe_pb2  # noqa: E402

from . import portable  # noqa: E402

FRAMEWORK = "{{ cookiecutter.__framework }}"
NAME = "Caffe"
PACKAGES = (FRAMEWORK,)  # distributions whose versions run.json records
DEVICES = ("auto", "cuda", "cpu")
EXPORT_FORMATS = ("deploy.prototxt + model.caffemodel", "weights.npz with a NumPy forward pass")
_device = "cpu"


def _cuda_build() -> bool:
    """Whether this Caffe was built with CUDA: a CUDA build loads the CUDA libraries with it."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    return any(lib in maps for lib in ("libcudart", "libcublas", "libcurand"))


def _gpu_answers() -> bool:
    """Try GPU 0 in a child process: a failing CUDA call makes Caffe abort the whole process."""
    probe = "import caffe; caffe.set_device(0); caffe.set_mode_gpu()"
    env = {**os.environ, "GLOG_minloglevel": "3"}
    try:
        done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def select_device(name: str) -> str:
    global _device
    if name in ("auto", "cuda"):
        if _cuda_build() and _gpu_answers():
            caffe.set_device(0)
            caffe.set_mode_gpu()
            _device = "cuda"
            return _device
        if name == "cuda":
            why = (
                "no GPU answered (caffe.set_device(0) failed)"
                if _cuda_build()
                else "this Caffe is a CPU_ONLY build (Debian's python3-caffe is); --device cuda needs a CUDA "
                "build of Caffe (Debian 10 buster's caffe-cuda, or built from source)"
            )
            raise SystemExit(f"error: --device cuda: {why}")
    caffe.set_mode_cpu()
    _device = "cpu"
    return _device


def seed(value: int) -> None:
    """Seeds Caffe's RNG, which the weight fillers draw from."""
    caffe.set_random_seed(value)


def _fill() -> dict:
    # Glorot/Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)); zero biases.
    return {
        "weight_filler": dict(type="xavier", variance_norm=P.Filler.AVERAGE),
        "bias_filler": dict(type="constant", value=0),
    }


def net_spec(preprocess: dict, config: dict, train: bool) -> caffe_pb2.NetParameter:
    """The net as a NetParameter: inputs, layers named as in weights.npz, and in train nets the loss.

    The batch size in the Input shapes is 1; `_feed` reshapes the Input blobs to each batch."""
    shape, outputs = list(preprocess["input_shape"]), preprocess["n_outputs"]
    hidden = config["model"]["hidden"]
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[1, *shape]))
    if train:
        # [task: tabular-regression]
        n.label = L.Input(shape=dict(dim=[1, 1]))
        # [end task]
        # [task: tabular-classification image-classification text-classification]
        n.label = L.Input(shape=dict(dim=[1]))
        # [end task]
    # [task: image-classification]
    n.conv1 = L.Convolution(n.data, num_output=16, kernel_size=3, pad=1, **_fill())
    n.relu1 = L.ReLU(n.conv1, in_place=True)
    n.pool1 = L.Pooling(n.relu1, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    n.conv2 = L.Convolution(n.pool1, num_output=32, kernel_size=3, pad=1, **_fill())
    n.relu2 = L.ReLU(n.conv2, in_place=True)
    n.pool2 = L.Pooling(n.relu2, pool=P.Pooling.MAX, kernel_size=2, stride=2)
    n.dense1 = L.InnerProduct(n.pool2, num_output=hidden, **_fill())  # flattens (C, H, W)
    n.relu3 = L.ReLU(n.dense1, in_place=True)
    n.out = L.InnerProduct(n.relu3, num_output=outputs, **_fill())
    # [end task]
    # [task: tabular-regression tabular-classification]
    n.dense1 = L.InnerProduct(n.data, num_output=hidden, **_fill())
    n.relu1 = L.ReLU(n.dense1, in_place=True)
    n.dense2 = L.InnerProduct(n.relu1, num_output=hidden, **_fill())
    n.relu2 = L.ReLU(n.dense2, in_place=True)
    n.out = L.InnerProduct(n.relu2, num_output=outputs, **_fill())
    # [end task]
    if train:
        # [task: tabular-regression]
        # EuclideanLoss is sum((a - b)^2) / (2 N): weight 2 makes it the mean squared error.
        n.loss = L.EuclideanLoss(n.out, n.label, loss_weight=2.0)
        # [end task]
        # [task: tabular-classification image-classification text-classification]
        n.loss = L.SoftmaxWithLoss(n.out, n.label)
        # [end task]
    return n.to_proto()


class Model:
    """A deploy net (no loss) and the prototxt files it was made from (in a temporary folder)."""

    def __init__(self, preprocess: dict, config: dict, weights: Path | None = None) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="caffe-")
        self.folder = Path(self._folder.name)
        self.deploy = self.folder / "deploy.prototxt"
        self.deploy.write_text(str(net_spec(preprocess, config, train=False)))
        self.train_net = self.folder / "train.prototxt"
        self.train_net.write_text(str(net_spec(preprocess, config, train=True)))
        if weights is None:  # new weights from the fillers
            self.net = caffe.Net(str(self.deploy), caffe.TEST)
        else:
            self.net = caffe.Net(str(self.deploy), caffe.TEST, weights=str(weights))

    def weights(self) -> dict[str, np.ndarray]:
        """Copies of the weights in portable.py's layout (dense w: (in, out); conv w: (out, in, 3, 3))."""
        weights = {}
        for layer, blobs in self.net.params.items():
            w = blobs[0].data
            weights[f"{layer}.w"] = (w.T if w.ndim == 2 else w).copy()
            weights[f"{layer}.b"] = blobs[1].data.copy()
        return weights


def build(preprocess: dict, config: dict) -> Model:
    return Model(preprocess, config)


def _feed(net, x: np.ndarray, y: np.ndarray | None = None) -> None:
    """Reshape the Input blobs to the batch, then copy the batch into them."""
    net.blobs["data"].reshape(*x.shape)
    if y is not None:
        net.blobs["label"].reshape(*((len(y), 1) if net.blobs["label"].data.ndim == 2 else (len(y),)))
    net.reshape()
    net.blobs["data"].data[...] = x
    if y is not None:
        net.blobs["label"].data[...] = y.reshape(net.blobs["label"].data.shape)


class Trainer:
    """Caffe's Adam solver over the train net, whose weights the model's deploy net shares."""

    def __init__(self, model: Model, train_cfg: dict) -> None:
        self.model = model
        solver = caffe_pb2.SolverParameter(
            net=str(model.train_net),
            type="Adam",
            base_lr=train_cfg["learning_rate"],
            lr_policy="fixed",
            momentum=0.9,
            momentum2=0.999,
            delta=1e-8,
            weight_decay=0.0,
            solver_mode=caffe_pb2.SolverParameter.GPU if _device == "cuda" else caffe_pb2.SolverParameter.CPU,
            snapshot_prefix=str(model.folder / "snapshots" / "solver"),  # state(): Caffe's own snapshot
        )
        (model.folder / "snapshots").mkdir()
        path = model.folder / "solver.prototxt"
        path.write_text(str(solver))
        self.solver = caffe.get_solver(str(path))  # an AdamSolver with a freshly filled train net
        self.net = self.solver.net
        for layer, blobs in model.net.params.items():  # start from the model's weights ...
            for target, source in zip(self.net.params[layer], blobs):  # noqa: B905 (Python 3.9)
                target.data[...] = source.data
        model.net.share_with(self.net)  # ... then let the deploy net use the trained blobs
        self.loss_weight = self.net.blob_loss_weights["loss"]

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        _feed(self.net, x, y)
        self.solver.step(1)  # forward, backward, Adam update
        return float(self.net.blobs["loss"].data) * self.loss_weight

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        _feed(self.net, x, y)
        return float(self.net.forward()["loss"]) * self.loss_weight

    def state(self) -> dict[str, np.ndarray]:
        """What training continues from: the weights, and the Adam solver's state as Caffe snapshots
        it (`solver.snapshot()`): its iteration, which Adam's bias correction counts, and the moments it
        keeps per parameter blob (history 0..n-1 the first moments, n..2n-1 the second)."""
        self.solver.snapshot()  # writes <prefix>_iter_<iter>.caffemodel and .solverstate
        folder = self.model.folder / "snapshots"
        saved = caffe_pb2.SolverState()
        saved.ParseFromString(next(folder.glob("*.solverstate")).read_bytes())
        for file in folder.iterdir():
            file.unlink()
        state = {
            f"weights/{layer}/{i}": blob.data.copy()
            for layer, blobs in self.net.params.items()
            for i, blob in enumerate(blobs)
        }
        for i, blob in enumerate(saved.history):
            state[f"optimizer/history/{i:03d}"] = np.array(blob.data, np.float32).reshape(tuple(blob.shape.dim))
        state["optimizer/iter"] = np.array(saved.iter, np.int64)
        state["optimizer/current_step"] = np.array(saved.current_step, np.int64)
        return state

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Puts back what `state()` returned: the weights into the nets, the rest through `solver.restore`."""
        for layer, blobs in self.net.params.items():
            for i, blob in enumerate(blobs):
                blob.data[...] = state[f"weights/{layer}/{i}"]
        saved = caffe_pb2.SolverState(
            iter=int(state["optimizer/iter"]), current_step=int(state["optimizer/current_step"])
        )
        for name in sorted(key for key in state if key.startswith("optimizer/history/")):
            blob = saved.history.add()
            blob.shape.dim.extend(state[name].shape)
            blob.data.extend(state[name].astype(np.float32).ravel().tolist())
        path = self.model.folder / "snapshots" / "restore.solverstate"  # no learned_net: weights are set above
        path.write_bytes(saved.SerializeToString())
        self.solver.restore(str(path))
        path.unlink()

    def snapshot(self) -> dict[str, list[np.ndarray]]:
        return {layer: [blob.data.copy() for blob in blobs] for layer, blobs in self.model.net.params.items()}

    def restore(self, snapshot: dict[str, list[np.ndarray]]) -> None:
        for layer, values in snapshot.items():
            for blob, value in zip(self.model.net.params[layer], values):  # noqa: B905
                blob.data[...] = value


def _run(net, x: np.ndarray) -> np.ndarray:
    _feed(net, np.ascontiguousarray(x, dtype=np.float32))
    return net.forward()["out"].copy()


def forward(model: Model, x: np.ndarray) -> np.ndarray:
    return _run(model.net, x)


def save(model: Model, run: Path) -> None:
    """The Caffe pair: the deploy net's definition and its trained weights (binary protobuf)."""
    (run / "deploy.prototxt").write_text(model.deploy.read_text())
    model.net.save(str(run / "model.caffemodel"))


def load(run: Path, preprocess: dict, config: dict) -> Model:
    return Model(preprocess, config, weights=run / "model.caffemodel")


def export(model: Model, x: np.ndarray, run: Path) -> dict:
    """deploy.prototxt + model.caffemodel, reloaded with `caffe.Net` from the files (as pycaffe,
    the `caffe` tool or OpenCV's readNetFromCaffe would load them); and weights.npz, run by
    `portable.forward` in plain NumPy: the framework-neutral copy for a port to PyTorch."""
    save(model, run)
    reloaded = caffe.Net(str(run / "deploy.prototxt"), caffe.TEST, weights=str(run / "model.caffemodel"))
    np.savez(run / "weights.npz", **model.weights())
    with np.load(run / "weights.npz") as weights:
        portable_output = portable.forward(dict(weights), x)
    return {
        "caffe": {"file": "model.caffemodel", "output": _run(reloaded, x)},
        "numpy": {"file": "weights.npz", "output": portable_output},
    }
