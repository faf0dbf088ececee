{% raw %}"""PyTorch engine: `torch.nn` models trained eagerly with AdamW (mixed precision on CUDA), exported
to ONNX, a torch.export program and int8 ONNX.

Runs as one process, or as one of several started by `torchrun` (or any launcher that sets
WORLD_SIZE, RANK, MASTER_ADDR and MASTER_PORT, as Kubeflow's PyTorchJob does): `distributed` joins
the process group (NCCL on GPUs, Gloo on CPUs) and `Trainer` trains the model wrapped in
`DistributedDataParallel`, which starts every process from rank 0's weights and averages the
gradients of every process's share of the batch during `backward()`.
"""

from __future__ import annotations

import contextlib
import logging
import os
# [task: image-classification]
import pickle
# [end task]
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

{% endraw %}FRAMEWORK = "{{ cookiecutter.__framework }}"{% raw %}
NAME = "PyTorch"
DEVICES = ("auto", "cuda", "mps", "cpu")  # auto: CUDA, then Apple MPS, then the CPU
EXPORT_FORMATS = ("ONNX", "torch.export", "int8 ONNX")
# [task: image-classification]
PACKAGES = ("torch", "torchvision", "tensorboard")  # their versions go into run.json (torchvision: null when absent)
# [end task]
# [task: tabular-regression tabular-classification text-classification]
PACKAGES = ("torch", "tensorboard")  # their versions go into run.json
# [end task]
_device = torch.device("cpu")
_world = 1  # processes training together (distributed); 1: this one alone


def distributed(name: str) -> tuple[int, int]:
    """(rank, processes) from the launcher's environment (WORLD_SIZE, RANK, ...): joins the
    process group when there are several; NCCL when they train on CUDA, else Gloo."""
    global _world
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    cuda = name in ("auto", "cuda") and torch.cuda.is_available()
    torch.distributed.init_process_group("nccl" if cuda else "gloo")
    _world = torch.distributed.get_world_size()
    return torch.distributed.get_rank(), _world


def finish() -> None:
    """Leave the process group together, once training went well: each process waits here until every
    one arrives (rank 0 after writing the run), then all take the group down. One that took it down
    alone while another still used it could abort in Gloo's teardown. After a failure nobody calls
    this: the process exits, and the launcher (torchrun, srun --kill-on-bad-exit) stops the others."""
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def select_device(name: str) -> str:
    """auto: CUDA (this process's LOCAL_RANK device), then Apple MPS, then the CPU."""
    global _device
    cuda = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if name == "auto":
        mps = torch.backends.mps.is_available()
        _device = cuda if torch.cuda.is_available() else torch.device("mps" if mps else "cpu")
    elif name == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("error: --device cuda but no CUDA device is visible")
        _device = cuda
    elif name == "mps":
        if not torch.backends.mps.is_available():
            raise SystemExit("error: --device mps but PyTorch sees no Apple GPU")
        _device = torch.device("mps")
    else:
        _device = torch.device("cpu")
    return _device.type


def seed(value: int) -> None:
    """Seed the initial weights of the next `build` (and any random op in training)."""
    torch.manual_seed(value)


# [task: tabular-regression tabular-classification]
class MLP(nn.Module):
    def __init__(self, n_features: int, n_outputs: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


# [end task]
# [task: image-classification]
# ResNets of BasicBlocks (He et al., 2015), laid out as torchvision's: the same module and parameter
# names, so a state_dict saved from torchvision's model loads into this one and back.
RESNET_LAYERS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}  # blocks per stage
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm, added to the input (a 1x1 projection of it where the shape changes)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet(nn.Module):
    """A 7x7 stem, four stages of BasicBlocks (64 to 512 channels), global average pooling, `fc`."""

    def __init__(self, layers: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._stage(64, 64, layers[0], stride=1)
        self.layer2 = self._stage(64, 128, layers[1], stride=2)
        self.layer3 = self._stage(128, 256, layers[2], stride=2)
        self.layer4 = self._stage(256, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    @staticmethod
    def _stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
        rest = (BasicBlock(planes, planes) for _ in range(1, blocks))
        return nn.Sequential(BasicBlock(inplanes, planes, stride), *rest)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class ImageClassifier(nn.Module):
    """RGB pixels in [0, 1] (channels first, as `data.inputs` gives them), normalised with ImageNet's
    means and deviations as torchvision's pretrained weights expect, then `backbone`."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone((x - self.mean) / self.std)


def _setting_error(message: str) -> SystemExit:
    """A config value that cannot be used: one line, exit status 2 (as the config's own checks)."""
    print(f"error: {message}", file=sys.stderr)
    return SystemExit(2)


def _backbone(name: str, num_classes: int) -> nn.Module:
    """`model.backbone`: torchvision's model of that name where torchvision is installed, else this
    file's ResNet (resnet18, resnet34)."""
    try:
        import torchvision
    except ImportError:
        if name not in RESNET_LAYERS:
            raise _setting_error(
                f"model.backbone: {name!r} needs torchvision (pip install torchvision); without it: "
                + ", ".join(RESNET_LAYERS)
            ) from None
        return ResNet(RESNET_LAYERS[name], num_classes)
    if name not in torchvision.models.list_models(module=torchvision.models):
        raise _setting_error(f"model.backbone: {name!r} is not a torchvision classification model (e.g. resnet18)")
    return torchvision.models.get_model(name, num_classes=num_classes)


def _read_weights(path: Path) -> dict:
    """A weights file read as tensors only: .safetensors, or torch.save's format through
    torch.load(weights_only=True), which refuses anything that would run code."""
    if not path.is_file():  # a folder or a named pipe is never opened
        raise _setting_error(f"model.weights: {path}: no such file (none, or a file of the backbone's weights)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(path, device="cpu")
        else:
            state = read_saved(path)  # torch.load(weights_only=True) once its records are known to be bounded
    except pickle.UnpicklingError:
        raise _setting_error(
            f"model.weights: {path}: holds more than tensors, so it is not loaded (it could run code); "
            "save the state_dict: torch.save(model.state_dict(), FILE)"
        ) from None
    except Exception as exc:  # noqa: BLE001 (torch.load raises many kinds: RuntimeError, KeyError, EOFError ...)
        why = (str(exc).strip().splitlines() or [""])[0][:160]
        raise _setting_error(f"model.weights: {path}: not a weights file ({type(exc).__name__}: {why})") from None
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _setting_error(
            f"model.weights: {path}: not a state_dict (names to tensors: torch.save(model.state_dict(), FILE))"
        )
    return state


def load_weights(backbone: nn.Module, path: Path, name: str) -> None:
    """`model.weights` into `backbone`: every array must fit, but the classification head's when its
    shape differs (another number of classes: the head starts new); anything else is one line."""
    state, own = _read_weights(path), backbone.state_dict()
    head = [module for module, layer in backbone.named_modules() if isinstance(layer, nn.Linear)][-1]
    new_head = [k for k in own if k.startswith(f"{head}.") and k in state and state[k].shape != own[k].shape]
    problems = [f"no {k!r}" for k in own if k not in state]
    problems += [f"{k!r} is not in {name}" for k in state if k not in own]
    problems += [
        f"{k!r} is {list(state[k].shape)}, {name}'s is {list(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape and k not in new_head
    ]
    if problems:
        raise _setting_error(
            f"model.weights: {path}: not weights of {name} ({problems[0]}; {len(problems)} problems in all)"
        )
    backbone.load_state_dict({k: v for k, v in state.items() if k not in new_head}, strict=not new_head)


# [end task]
# [task: text-classification]
class TextClassifier(nn.Module):
    """Mean of the token embeddings (padding masked out), then a linear layer."""

    def __init__(self, vocab_size: int, dim: int, n_outputs: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.head = nn.Linear(dim, n_outputs)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        mask = (tokens > 0).unsqueeze(-1).to(self.embedding.weight.dtype)
        summed = (self.embedding(tokens) * mask).sum(dim=1)
        return self.head(summed / mask.sum(dim=1).clamp(min=1.0))


# [end task]
def _model(preprocess: dict, config: dict) -> nn.Module:
    outputs = preprocess["n_outputs"]
    # [task: image-classification]
    return ImageClassifier(_backbone(config["model"].get("backbone", "resnet18"), outputs))
    # [end task]
    # [task: text-classification]
    return TextClassifier(len(preprocess["vocabulary"]) + 2, config["model"]["embedding_dim"], outputs)
    # [end task]
    # [task: tabular-regression tabular-classification]
    return MLP(preprocess["input_shape"][0], outputs, config["model"]["hidden"])
    # [end task]


def build(preprocess: dict, config: dict) -> nn.Module:
    model = _model(preprocess, config)
    # [task: image-classification]
    weights = config["model"].get("weights", "none")
    if weights != "none":  # the backbone's starting weights (model.weights)
        load_weights(model.backbone, Path(weights), config["model"].get("backbone", "resnet18"))
    # [end task]
    return model.to(_device)


def _autocast(enabled: bool):
    """Mixed precision on CUDA only: bfloat16 where supported, else float16 (with a gradient scaler)."""
    if not enabled or _device.type != "cuda":
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return torch.autocast("cuda", dtype=dtype), scaler


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy().copy()


class Trainer:
    """AdamW on the model's parameters and the task's loss; `step` is one eager update."""

    def __init__(self, model: nn.Module, train_cfg: dict) -> None:
        self.model = model
        # [task: tabular-regression]
        self.criterion = nn.MSELoss()
        # [end task]
        # [task: tabular-classification image-classification text-classification]
        self.criterion = nn.CrossEntropyLoss()
        # [end task]
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=train_cfg["learning_rate"])
        self.autocast, self.scaler = _autocast(train_cfg.get("mixed_precision", True))
        # Several processes: DDP broadcasts rank 0's weights now and averages the gradients in backward().
        self.ddp = nn.parallel.DistributedDataParallel(model) if _world > 1 else model

    def _loss(self, x: np.ndarray, y: np.ndarray, model: nn.Module | None = None) -> torch.Tensor:
        out = (model or self.model)(torch.from_numpy(x).to(_device))
        # [task: tabular-regression]
        out = out.squeeze(-1)  # one column: the standardised target
        # [end task]
        return self.criterion(out.float(), torch.from_numpy(y).to(_device))

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        """One update; with several processes, `x` and `y` are this process's share of the batch,
        the gradients are averaged across processes and the loss returned is their mean."""
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast:
            loss = self._loss(x, y, self.ddp)
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
        if _world > 1:  # the loss reported: the mean over processes
            loss = loss.detach().clone()
            torch.distributed.all_reduce(loss)
            loss /= _world
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        # [task: image-classification]
        if _world > 1:  # batch norm's running statistics saw this process's rows only: average them
            for name, buffer in self.model.named_buffers():
                if name.endswith(("running_mean", "running_var")):
                    torch.distributed.all_reduce(buffer)
                    buffer /= _world
        # [end task]
        return loss.item()

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        self.model.eval()
        with torch.no_grad():
            return self._loss(x, y).item()

    def learning_rate(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def snapshot(self) -> dict[str, np.ndarray]:
        return {name: _numpy(value) for name, value in self.model.state_dict().items()}

    def restore(self, snapshot: dict[str, np.ndarray]) -> None:
        self.model.load_state_dict({name: torch.from_numpy(value) for name, value in snapshot.items()})

    def state(self) -> dict:
        """All that training continues from, as the state_dicts `torch.save` writes (copies on the
        CPU): the model's, AdamW's (step counts and moments per parameter), the gradient scaler's
        (float16 on CUDA) and torch's random states."""
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        state["rng"] = {"torch": torch.get_rng_state()}
        if _device.type == "cuda":
            state["rng"]["cuda"] = torch.cuda.get_rng_state(_device)
        return _cpu_copy(state)

    def load_state(self, state: dict) -> None:
        """A `state()` back into this trainer; ValueError naming the first tensor that does not fit
        (a checkpoint of another model), before anything is changed."""
        own = self.model.state_dict()
        saved = state["model"]
        misfit = [f"no {name!r}" for name in own if name not in saved]
        misfit += [f"{name!r}, which this model has not" for name in saved if name not in own]
        misfit += [
            f"{name!r} of {list(saved[name].shape)}, this model's is {list(own[name].shape)}"
            for name in own
            if name in saved and (not isinstance(saved[name], torch.Tensor) or saved[name].shape != own[name].shape)
        ]
        if misfit:
            raise ValueError(f"its model has {misfit[0]} ({len(misfit)} misfits in all)")
        self.model.load_state_dict(saved)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and _device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], _device)


def _cpu_copy(value):
    """A nested state_dict with every tensor copied to the CPU (the live one changes as training goes on)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {key: _cpu_copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu_copy(item) for item in value)
    return value


def read_saved(path: Path) -> object:
    """A file torch.save wrote (model.pt, model.weights) read back as tensors, numbers, strings and
    containers only (`weights_only=True`: nothing in it can run code), on the CPU, once `check_saved`."""
    check_saved(path)
    return torch.load(path, map_location="cpu", weights_only=True)


def check_saved(path: Path) -> None:
    """Before torch.load reads a file that may come from someone else: torch.save's zip stores its records
    uncompressed, so a zip whose records are compressed, or add up to more than the file, is refused (it
    could unpack to any size). A file of torch.save's older format (a pickle, then its arrays) reads no
    more than its own bytes."""
    import zipfile

    if not path.is_file():  # a folder or a named pipe is never opened
        raise FileNotFoundError(f"{path.name} is not a file")
    with path.open("rb") as handle:
        zipped = handle.read(4) == b"PK\x03\x04"  # as torch.load tells the two formats apart
    if zipped:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if any(member.compress_type != zipfile.ZIP_STORED for member in members):
                raise ValueError("it has compressed records, which torch.save does not write")
            if sum(member.file_size for member in members) > path.stat().st_size:
                raise ValueError("its records add up to more than the file")


def forward(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The model's raw outputs as float32 NumPy."""
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(x)).to(_device)).float().cpu().numpy()


def save(model: nn.Module, run: Path) -> None:
    torch.save(model.state_dict(), run / "model.pt")


def load(run: Path, preprocess: dict, config: dict) -> nn.Module:
    """The run's model.pt in a freshly built model, on the CPU (tensors only: weights_only)."""
    global _device
    _device = torch.device("cpu")
    net, path = _model(preprocess, config), run / "model.pt"
    try:
        net.load_state_dict(read_saved(path))
    except Exception as exc:  # noqa: BLE001 (torch.load raises many kinds: UnpicklingError, RuntimeError, EOFError ...)
        from .config import fail

        why = (str(exc).strip().splitlines() or [""])[0][:160]
        fail(f"{path}: not this model's weights ({type(exc).__name__}: {why})")
    return net.eval()


def _onnx(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


@contextlib.contextmanager
def _quiet_exporters():
    """Keep the exporters' notes that say nothing about this model out of the terminal: torch.onnx's
    "torchvision is not installed. Skipping torchvision::nms" lines, its own FutureWarnings and ONNX
    Runtime's pre-processing tip (logged on the root logger). Errors still show; `export --check`
    compares every file's outputs with the model's."""
    loggers = [logging.getLogger(), logging.getLogger("torch.onnx")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore", FutureWarning)
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def export(model: nn.Module, x: np.ndarray, run: Path) -> dict:
    """model.onnx (torch.onnx, a dynamic batch), model.pt2 (torch.export) and model.int8.onnx (ONNX
    Runtime's dynamic int8 quantisation), each reloaded with its runtime and run on `x`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = model.cpu().eval()
    example = torch.from_numpy(np.ascontiguousarray(x[:2]))
    shapes = ({0: torch.export.Dim("batch", min=1)},)
    with _quiet_exporters():
        torch.onnx.export(
            model, (example,), run / "model.onnx", input_names=["input"], output_names=["output"],
            dynamic_shapes=shapes, verbose=False, external_data=False,  # one file with the weights (under 2 GB)
        )  # fmt: skip
        program = torch.export.export(model, (example,), dynamic_shapes=shapes)
        torch.export.save(program, run / "model.pt2")
        quantize_dynamic(run / "model.onnx", run / "model.int8.onnx", weight_type=QuantType.QInt8)
    with torch.no_grad():
        reloaded = torch.export.load(run / "model.pt2").module()(torch.from_numpy(x)).numpy()
    return {
        "onnx": {"file": "model.onnx", "output": _onnx(run / "model.onnx", x)},
        "torch.export": {"file": "model.pt2", "output": reloaded},
        "onnx-int8": {"file": "model.int8.onnx", "output": _onnx(run / "model.int8.onnx", x), "quantised": True},
    }


class _Writer:
    """TensorBoard scalars (torch.utils.tensorboard)."""

    def __init__(self, folder: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(folder))

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.writer.add_scalar(tag, value, step)

    def close(self) -> None:
        self.writer.close()


def writer(folder: Path) -> _Writer | None:
    """A TensorBoard writer into `folder`, or None (said once) without the tensorboard package."""
    try:
        return _Writer(folder)
    except ImportError:
        print("tensorboard is not installed: no TensorBoard logs", file=sys.stderr)
        return None{% endraw %}
