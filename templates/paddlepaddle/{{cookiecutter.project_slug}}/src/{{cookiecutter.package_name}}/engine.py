"""PaddlePaddle engine: `paddle.nn` layers trained in dynamic-graph (eager) mode with AdamW.

`export` turns the trained layer into a static inference program with `paddle.jit.save` and
reloads it twice, as a deployment would: with `paddle.jit.load` and with the Paddle Inference
predictor (`paddle.inference`).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

# Before Paddle is imported: keep glog's INFO lines ("New Executor is Running ...") out of the
# logs, and drop the import-time warning that ccache is missing (only needed to compile C++
# extensions, which this project does not). Set GLOG_minloglevel=0 to see everything again.
os.environ.setdefault("GLOG_minloglevel", "1")
warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)

import numpy as np  # noqa: E402
import paddle  # noqa: E402
import paddle.nn.functional as F  # noqa: E402
from paddle import inference, nn  # noqa: E402
from paddle.static import InputSpec  # noqa: E402

FRAMEWORK = "{{ cookiecutter.__framework }}"
NAME = "PaddlePaddle"
PACKAGES = (FRAMEWORK,)  # distributions whose versions run.json records
DEVICES = ("auto", "cuda", "cpu")
EXPORT_FORMATS = ("Paddle static inference model: inference.json + inference.pdiparams",)
EXPORT_PREFIX = "inference"


def _has_cuda() -> bool:
    return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


_world = 1  # processes training together (distributed); 1: this one alone


def distributed(name: str) -> tuple[int, int]:
    """(rank, processes). Under `python -m paddle.distributed.launch --nproc_per_node N` (or one
    launcher per node, `--nnodes`/`--master`) the processes join one collective group (NCCL on GPUs,
    gloo on CPUs); each computes the gradients of its share of every batch, summed across processes
    and divided by N before each update, so every process keeps the same weights."""
    global _world
    if int(os.environ.get("PADDLE_TRAINERS_NUM", "1")) <= 1:
        return 0, 1
    if name == "cpu" or not _has_cuda():
        paddle.set_device("cpu")
    paddle.distributed.init_parallel_env()
    _world = paddle.distributed.get_world_size()
    return paddle.distributed.get_rank(), _world


def finish() -> None:
    """Leave together, once training went well: each process waits here until every one arrives
    (rank 0 after writing the run), so none exits while another still talks to it."""
    if _world > 1:
        paddle.distributed.barrier()


def select_device(name: str) -> str:
    """`paddle.set_device`: "gpu" for --device cuda (or auto with a CUDA build and a GPU), else "cpu"."""
    if name in ("auto", "cuda") and _has_cuda():
        paddle.set_device("gpu")
        return "cuda"
    if name == "cuda":
        if paddle.device.is_compiled_with_cuda():
            raise SystemExit("error: --device cuda: this Paddle build has CUDA but sees no GPU")
        raise SystemExit(
            "error: --device cuda: this is the CPU build of Paddle (paddlepaddle); "
            "install paddlepaddle-gpu instead (see README, GPU)"
        )
    paddle.set_device("cpu")
    return "cpu"


def seed(value: int) -> None:
    paddle.seed(value)


# [task: tabular-regression tabular-classification]
class MLP(nn.Layer):
    def __init__(self, n_features: int, n_outputs: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_outputs),
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.layers(x)


# [end task]
# [task: image-classification]
class CNN(nn.Layer):
    def __init__(self, channels: int, size: int, n_outputs: int, hidden: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2D(channels, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2D(2),
            nn.Conv2D(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2D(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(32 * (size // 4) ** 2, hidden), nn.ReLU(), nn.Linear(hidden, n_outputs))

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.head(self.features(x))


# [end task]
# [task: text-classification]
class TextClassifier(nn.Layer):
    """Mean of the token embeddings (padding masked out), then a linear layer."""

    def __init__(self, vocab_size: int, dim: int, n_outputs: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.head = nn.Linear(dim, n_outputs)

    def forward(self, tokens: paddle.Tensor) -> paddle.Tensor:
        mask = (tokens > 0).astype(self.embedding.weight.dtype).unsqueeze(-1)
        summed = (self.embedding(tokens) * mask).sum(axis=1)
        return self.head(summed / mask.sum(axis=1).clip(min=1.0))


# [end task]
def build(preprocess: dict, config: dict) -> nn.Layer:
    task, shape, outputs = preprocess["task"], preprocess["input_shape"], preprocess["n_outputs"]
    # [task: image-classification]
    model = CNN(shape[0], shape[1], outputs, config["model"]["hidden"])
    # [end task]
    # [task: text-classification]
    model = TextClassifier(len(preprocess["vocabulary"]) + 2, config["model"]["embedding_dim"], outputs)
    # [end task]
    # [task: tabular-regression tabular-classification]
    model = MLP(shape[0], outputs, config["model"]["hidden"])
    # [end task]
    # What export needs to describe the input (plain attributes, not parameters).
    model.task, model.input_shape = task, list(shape)
    return model


def _loss(output: paddle.Tensor, y: paddle.Tensor) -> paddle.Tensor:
    output = output.astype("float32")
    # [task: tabular-regression]
    return F.mse_loss(output[:, 0], y)
    # [end task]
    # [task: tabular-classification image-classification text-classification]
    return F.cross_entropy(output, y)
    # [end task]


def _amp_dtype(train_cfg: dict) -> str | None:
    """Mixed precision on GPUs only: bfloat16 where supported, else float16 (with loss scaling)."""
    if not train_cfg.get("mixed_precision") or not paddle.get_device().startswith("gpu"):
        return None
    return "bfloat16" if paddle.amp.is_bfloat16_supported() else "float16"


class Trainer:
    """AdamW steps on numpy batches (eager mode), under `paddle.amp.auto_cast` on GPUs."""

    def __init__(self, model: nn.Layer, train_cfg: dict) -> None:
        self.model = model
        self.optimizer = paddle.optimizer.AdamW(learning_rate=train_cfg["learning_rate"], parameters=model.parameters())
        self.amp_dtype = _amp_dtype(train_cfg)
        self.scaler = paddle.amp.GradScaler() if self.amp_dtype == "float16" else None
        # Several processes: DataParallel broadcasts rank 0's weights now and averages the gradients in backward().
        self.parallel = paddle.DataParallel(model) if _world > 1 else model

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One update; with several processes, `x` and `y` are this process's share of the batch,
        the gradients are averaged across processes and the loss returned is their mean."""
        self.model.train()
        with paddle.amp.auto_cast(enable=self.amp_dtype is not None, dtype=self.amp_dtype or "float16"):
            loss = _loss(self.parallel(paddle.to_tensor(x)), paddle.to_tensor(y))
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
        if _world > 1:  # the loss reported: the mean over processes
            loss = loss.detach().clone()
            paddle.distributed.all_reduce(loss)
            loss = loss / _world
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.clear_grad()
        return float(loss)

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        self.model.eval()
        with paddle.no_grad():
            return float(_loss(self.model(paddle.to_tensor(x)), paddle.to_tensor(y)))

    def snapshot(self) -> dict[str, paddle.Tensor]:
        with paddle.no_grad():
            return {name: value.detach().clone() for name, value in self.model.state_dict().items()}

    def restore(self, snapshot: dict[str, paddle.Tensor]) -> None:
        self.model.set_state_dict(snapshot)

    def state(self) -> dict[str, np.ndarray]:
        """All that training continues from, as NumPy copies: the parameters (`model/<name>`),
        the optimiser's `state_dict()` (`optimizer/<parameter>/<accumulator>`: AdamW's moments and
        beta-power accumulators; any master weights; a learning-rate scheduler's state as JSON),
        the loss scaler's (float16 mixed precision) and the random generators' (what a dropout
        layer would draw from). Accumulators are stored under the parameters' structured names
        ("layers.0.weight"), not Paddle's global ones ("linear_0.w_0"), which depend on how many
        layers the process made before."""
        arrays = {f"model/{name}": np.array(value) for name, value in self.model.state_dict().items()}
        names = {parameter.name: name for name, parameter in self.model.named_parameters()}
        for key, value in self.optimizer.state_dict().items():
            if key == "LR_Scheduler":
                arrays["optimizer/LR_Scheduler"] = np.array(json.dumps(value, default=_plain))
            elif key == "master_weights":
                arrays.update({f"master_weights/{names[k]}": np.array(v) for k, v in value.items()})
            else:  # "linear_0.w_0_moment1_0": the parameter's name, then the accumulator's
                owner = max((name for name in names if key.startswith(name + "_")), key=len)
                arrays[f"optimizer/{names[owner]}/{key[len(owner) + 1 :]}"] = np.array(value)
        if self.scaler is not None:
            arrays["scaler"] = np.array(json.dumps(self.scaler.state_dict(), default=_plain))
        arrays["rng"] = np.array(json.dumps([generator.__getstate__() for generator in paddle.get_rng_state()]))
        return arrays

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.model.set_state_dict({name[6:]: value for name, value in state.items() if name.startswith("model/")})
        names = {name: parameter.name for name, parameter in self.model.named_parameters()}
        optimizer: dict = {}
        for key, value in state.items():
            if key == "optimizer/LR_Scheduler":
                optimizer["LR_Scheduler"] = json.loads(str(value))
            elif key.startswith("master_weights/"):
                optimizer.setdefault("master_weights", {})[names[key[15:]]] = paddle.to_tensor(value)
            elif key.startswith("optimizer/"):
                parameter, accumulator = key[10:].split("/")
                optimizer[f"{names[parameter]}_{accumulator}"] = value
        # Accumulators that do not exist yet (before the first step) are filled when AdamW makes them.
        self.optimizer.set_state_dict(optimizer)
        if self.scaler is not None and "scaler" in state:  # mixed precision may be switched on at resume
            self.scaler.load_state_dict(json.loads(str(state["scaler"])))
        generators = []
        for saved in json.loads(str(state["rng"])):
            generator = paddle.base.core.GeneratorState.__new__(paddle.base.core.GeneratorState)
            generator.__setstate__(tuple(saved))
            generators.append(generator)
        paddle.set_rng_state(generators)


def _plain(value: object) -> object:
    """A NumPy array or Paddle tensor in a state dict, as JSON can hold it."""
    return np.asarray(value).tolist()


def forward(model: nn.Layer, x: np.ndarray) -> np.ndarray:
    model.eval()
    with paddle.no_grad():
        return model(paddle.to_tensor(x)).numpy()


def save(model: nn.Layer, run: Path) -> None:
    """The weights as plain arrays (`model.npz`), not `paddle.save`'s pickle: loading a pickle runs
    whatever code it names, and a run folder may come from someone else."""
    np.savez(run / "model.npz", **{name: np.array(value) for name, value in model.state_dict().items()})


def load(run: Path, preprocess: dict, config: dict) -> nn.Layer:
    """The weights from `model.npz`, read as data only (`config.read_npz`: no pickle, bounded). A run
    folder with only a `model.pdparams` (a pickle) is refused, not unpickled."""
    from .config import fail, read_npz

    if not (run / "model.npz").exists() and (run / "model.pdparams").exists():
        fail(f"{run / 'model.pdparams'}: a pickle (paddle.save), which could run code, is not loaded; train again")
    model = build(preprocess, config)
    weights = read_npz(run / "model.npz")
    expected = {name: list(value.shape) for name, value in model.state_dict().items()}
    if {name: list(value.shape) for name, value in weights.items()} != expected:
        fail(f"{run / 'model.npz'}: its arrays do not fit this model (names and shapes: {expected})")
    model.set_state_dict(weights)
    model.eval()
    return model


def _input_spec(model: nn.Layer) -> list[InputSpec]:
    """A None batch dimension: the exported program takes any batch size."""
    # [task: text-classification]
    return [InputSpec([None, *model.input_shape], "int64", name="x")]  # token ids
    # [end task]
    # [task: tabular-regression tabular-classification image-classification]
    return [InputSpec([None, *model.input_shape], "float32", name="x")]
    # [end task]


def _predictor(model_file: Path, params_file: Path) -> inference.Predictor:
    config = inference.Config(str(model_file), str(params_file))
    config.disable_gpu()  # the CPU runtime, as on a serving machine without a GPU
    config.disable_glog_info()  # no log of the predictor's graph passes
    return inference.create_predictor(config)


def _predict(predictor: inference.Predictor, x: np.ndarray) -> np.ndarray:
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.reshape(list(x.shape))
    handle.copy_from_cpu(np.ascontiguousarray(x))
    predictor.run()
    return predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()


def serving(run: Path) -> tuple[str, object]:
    """What `serve` answers with: the Paddle Inference predictor on the exported program (the
    deployment runtime, as export's check uses it); one request at a time (a predictor is not
    thread-safe)."""
    import threading

    prefix = run / EXPORT_PREFIX
    program = next((p for p in (prefix.with_suffix(".json"), prefix.with_suffix(".pdmodel")) if p.exists()), None)
    if program is None:
        raise FileNotFoundError(f"{prefix}.json: no exported program; run export first")
    predictor, lock = _predictor(program, prefix.with_suffix(".pdiparams")), threading.Lock()

    def forward(x: np.ndarray) -> np.ndarray:
        with lock:
            return _predict(predictor, x)

    return f"paddle.inference: {program.name}", forward


def export(model: nn.Layer, x: np.ndarray, run: Path) -> dict:
    """`paddle.jit.save` writes the static inference program (inference.json with Paddle 3's PIR;
    inference.pdmodel if PIR is switched off) and its weights (inference.pdiparams). Both checks
    load those files: `paddle.jit.load` (a TranslatedLayer, eager) and the Paddle Inference
    predictor on the CPU (the C++ runtime that Paddle's deployment tools use)."""
    model.eval()
    prefix = run / EXPORT_PREFIX
    # paddle.jit.load unpickles this file where it exists; an old one is never read, only this export's.
    prefix.with_suffix(".pdiparams.info").unlink(missing_ok=True)
    paddle.jit.save(model, str(prefix), input_spec=_input_spec(model))
    program = next(p for p in (prefix.with_suffix(".json"), prefix.with_suffix(".pdmodel")) if p.exists())
    params = prefix.with_suffix(".pdiparams")

    loaded = paddle.jit.load(str(prefix))
    loaded.eval()
    with paddle.no_grad():
        jit_output = loaded(paddle.to_tensor(x)).numpy()
    predictor_output = _predict(_predictor(program, params), x)
    return {
        "paddle.jit": {"file": program.name, "output": jit_output},
        "paddle.inference": {"file": program.name, "output": predictor_output},
    }
