{% raw %}"""Train: `python -m PACKAGE.train [--smoke] [--device auto|cpu|cuda|mps] [--out RUN]`.

Runs as one process, or under `torchrun` with DistributedDataParallel (one process per device).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

from . import config as config_mod
from . import data, metrics
from . import model as model_mod


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """auto: CUDA, then Apple MPS, then the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but no CUDA device is visible")
    return torch.device("cuda", local_rank) if name == "cuda" else torch.device(name)


def loss_function(task: str) -> nn.Module:
    return nn.MSELoss() if task == "tabular-regression" else nn.CrossEntropyLoss()


def _batches(loader, sampler_epoch: int) -> Iterator:
    if hasattr(loader.sampler, "set_epoch"):
        loader.sampler.set_epoch(sampler_epoch)
    yield from loader


def _autocast(device: torch.device, enabled: bool):
    """Mixed precision on CUDA only: bfloat16 where supported, else float16 (with a grad scaler)."""
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return torch.autocast("cuda", dtype=dtype), scaler


def _loss_on(model: nn.Module, loader, criterion: nn.Module, device: torch.device, task: str) -> float:
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            out = model(x.to(device))
            out = out.squeeze(-1) if task == "tabular-regression" else out
            total += criterion(out.float(), y.to(device)).item() * len(y)
            count += len(y)
    return total / max(count, 1)


def fit(model: nn.Module, train_loader, val_loader, task: str, device: torch.device, train_cfg: dict,
        run: Path | None = None, max_steps: int | None = None, writer=None, rank: int = 0) -> dict:
    """Train with AdamW; with `max_steps` stop after that many steps (smoke), else epochs with
    early stopping on the validation loss, keeping the best weights (saved to run/model.pt)."""
    criterion = loss_function(task)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train_cfg["learning_rate"])
    autocast, scaler = _autocast(device, train_cfg.get("mixed_precision", True))
    history: list[float] = []
    window: list[float] = []
    # Smoke runs log the mean loss of each tenth of the steps, so first-vs-last is not batch noise.
    log_every = max(1, (max_steps or 0) // 10)
    best, best_state, stale, step, epoch = math.inf, None, 0, 0, 0
    epochs = train_cfg["epochs"] if max_steps is None else 10**9
    while epoch < epochs and (max_steps is None or step < max_steps):
        model.train()
        epoch_losses = []
        for x, y in _batches(train_loader, epoch):
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            with autocast:
                out = model(x)
                out = out.squeeze(-1) if task == "tabular-regression" else out
                loss = criterion(out.float(), y)
            if not torch.isfinite(loss):
                raise SystemExit(f"error: loss became {loss.item()} at step {step}")
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            step += 1
            epoch_losses.append(loss.item())
            if max_steps is not None:
                window.append(loss.item())
                if len(window) == log_every:
                    history.append(float(np.mean(window)))
                    window = []
                if step >= max_steps:
                    break
        val_loss = _loss_on(model, val_loader, criterion, device, task)
        train_loss = float(np.mean(epoch_losses)) if epoch_losses else math.nan
        if max_steps is None:
            history.append(train_loss)
        if writer is not None:
            writer.add_scalar("loss/train", train_loss, epoch)
            writer.add_scalar("loss/validation", val_loss, epoch)
        if rank == 0:
            log(f"epoch {epoch + 1}: train loss {train_loss:.4f}, validation loss {val_loss:.4f} ({step} steps)")
        if val_loss < best:
            best, stale = val_loss, 0
            best_state = {k: v.detach().clone() for k, v in _unwrap(model).state_dict().items()}
            if run is not None and rank == 0:
                torch.save(best_state, run / "model.pt")
        else:
            stale += 1
            if max_steps is None and stale >= train_cfg["patience"]:
                if rank == 0:
                    log(f"early stop: no better validation loss for {stale} epochs")
                break
        if run is not None and rank == 0:  # the last state, to inspect or resume from
            torch.save({"model": _unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
                        "epoch": epoch, "step": step}, run / "checkpoint.pt")
        epoch += 1
    if window:
        history.append(float(np.mean(window)))
    if max_steps is None and best_state is not None:
        _unwrap(model).load_state_dict(best_state)
    return {"loss_history": history, "best_validation_loss": best if math.isfinite(best) else None,
            "steps": step, "epochs": epoch}


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


def predict(model: nn.Module, x: torch.Tensor, preprocess: dict, device: torch.device | str = "cpu",
            batch_size: int = 256) -> np.ndarray:
    """Class probabilities, or predictions in the target's own units for regression."""
    model = _unwrap(model).eval().to(device)
    outputs = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            outputs.append(model(x[start : start + batch_size].to(device)).float().cpu())
    out = torch.cat(outputs)
    if preprocess["task"] == "tabular-regression":
        from .datasets import unscale_target

        return unscale_target(out.squeeze(-1).numpy(), preprocess["stats"])
    return torch.softmax(out, dim=1).numpy()


def weights_sha256(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(_unwrap(model).state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; starts the process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, 0
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    torch.distributed.init_process_group(backend)
    return torch.distributed.get_rank(), world, local_rank


def _run_dir(out: Path | None, world: int) -> Path:
    name = out or Path("runs") / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    if world > 1:  # every rank must write into the same folder: rank 0 decides
        shared = [str(name)]
        torch.distributed.broadcast_object_list(shared, src=0)
        name = Path(shared[0])
    return Path(name)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the model.")
    parser.add_argument("--config", type=Path, default=config_mod.DEFAULT_CONFIG)
    parser.add_argument("--smoke", action="store_true", help="a few steps on the bundled sample, then evaluate")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--out", type=Path, help="run folder (default runs/<timestamp>)")
    parser.add_argument("--epochs", type=config_mod.positive_int, help="override train.epochs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = config_mod.load_config(args.config)
    if args.epochs:
        config["train"]["epochs"] = args.epochs
    rank, world, local_rank = _distributed()
    config_mod.seed_everything(config["seed"])
    torch.manual_seed(config["seed"])
    device = pick_device(args.device, local_rank)
    run = _run_dir(args.out, world)
    run.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    train, val, test, preprocess = data.prepare(config)
    batch = config["train"]["batch_size"]
    train_loader = data.loader(train, preprocess, batch, True, config["seed"], distributed=world > 1)
    val_loader = data.loader(val, preprocess, batch, False, config["seed"])
    net = model_mod.build(preprocess, config).to(device)
    if world > 1:
        net = nn.parallel.DistributedDataParallel(net, device_ids=[local_rank] if device.type == "cuda" else None)
    writer = None
    if rank == 0:
        log(f"training {config['task']} on {device} ({len(train.y)} train / {len(val.y)} validation / "
            f"{len(test.y)} test examples, {world} process{'es' * (world > 1)})")
    if rank == 0 and not args.smoke:  # smoke runs skip TensorBoard: its import can take seconds
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(log_dir=str(run / "tensorboard"))
        except ImportError:
            log("tensorboard is not installed: no TensorBoard logs")
    max_steps = config["train"]["smoke_steps"] if args.smoke else None
    history = fit(net, train_loader, val_loader, config["task"], device, config["train"], run, max_steps, writer, rank)
    if writer is not None:
        writer.close()

    (run / f"rank-{rank}.json").write_text(json.dumps({"rank": rank, "weights_sha256": weights_sha256(net)}) + "\n")
    if world > 1:
        torch.distributed.barrier()
    if rank == 0:
        torch.save(_unwrap(net).state_dict(), run / "model.pt")
        output = predict(net, data.inputs(test.x, preprocess), preprocess, device)
        result = {
            "framework": "pytorch",
            "task": config["task"],
            "device": device.type,
            "seconds": round(time.perf_counter() - start, 3),
            "smoke": args.smoke,
            "processes": world,
            **history,
            "eval": metrics.evaluate(config["task"], test.y, output),
        }
        (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        config_mod.write_json(run / "preprocess.json", preprocess)
        config_mod.write_json(run / "metrics.json", result)
        scores = ", ".join(f"{k} {v:.3f}" for k, v in result["eval"].items() if isinstance(v, float))
        log(f"done in {result['seconds']:.1f} s: test {scores}; run folder {run}")
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
{% endraw %}