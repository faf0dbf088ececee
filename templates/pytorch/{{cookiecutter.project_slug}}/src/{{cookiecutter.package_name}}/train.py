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


def fit(
    model: nn.Module,
    train_loader,
    val_loader,
    task: str,
    device: torch.device,
    train_cfg: dict,
    run: Path | None = None,
    max_steps: int | None = None,
    writer=None,
    rank: int = 0,
    resume: dict | None = None,
) -> dict:
    """Train with AdamW; with `max_steps` stop after that many steps (smoke), else epochs with
    early stopping on the validation loss, keeping the best weights (saved to run/model.pt). After
    each epoch run/checkpoint.pt holds everything to continue from, which `resume` (its contents) does."""
    criterion = loss_function(task)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train_cfg["learning_rate"])
    autocast, scaler = _autocast(device, train_cfg.get("mixed_precision", True))
    history: list[float] = []
    window: list[float] = []
    # Smoke runs log the mean loss of each tenth of the steps, so first-vs-last is not batch noise.
    log_every = max(1, (max_steps or 0) // 10)
    best, best_state, stale, step, epoch = math.inf, None, 0, 0, 0
    epochs = train_cfg["epochs"] if max_steps is None else 10**9
    if resume is not None:
        _unwrap(model).load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        if scaler is not None and resume.get("scaler"):
            scaler.load_state_dict(resume["scaler"])
        best_state = resume["best_model"]
        best, stale, step, epoch, history = (resume[k] for k in ("best", "stale", "step", "epoch", "loss_history"))
        _set_rng_state(resume["rng"], train_loader)
        if rank == 0:
            log(f"resumed after epoch {epoch} ({step} steps, best validation loss {best:.4f})")
    stopped = max_steps is None and epoch > 0 and stale >= train_cfg["patience"]
    while not stopped and epoch < epochs and (max_steps is None or step < max_steps):
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
        if writer is not None:  # every per-epoch number the run computes, and the learning rate
            writer.add_scalar("loss/train", train_loss, epoch + 1)
            writer.add_scalar("loss/validation", val_loss, epoch + 1)
            writer.add_scalar("learning_rate", optimizer.param_groups[0]["lr"], epoch + 1)
            writer.add_scalar("steps", step, epoch + 1)
        if rank == 0:
            log(f"epoch {epoch + 1}: train loss {train_loss:.4f}, validation loss {val_loss:.4f} ({step} steps)")
        if val_loss < best:
            best, stale = val_loss, 0
            best_state = {k: v.detach().clone() for k, v in _unwrap(model).state_dict().items()}
            if run is not None and rank == 0:
                torch.save(best_state, run / "model.pt")
        else:
            stale += 1
            stopped = max_steps is None and stale >= train_cfg["patience"]
        epoch += 1
        if run is not None and rank == 0:  # the last state, to inspect or resume from
            checkpoint = {
                "model": _unwrap(model).state_dict(),
                "optimizer": optimizer.state_dict(),
                "scaler": scaler.state_dict() if scaler is not None else None,
                "scheduler": None,
                "epoch": epoch,
                "step": step,
                "best": best,
                "stale": stale,
                "best_model": best_state,
                "loss_history": history,
                "rng": _rng_state(train_loader),
            }
            torch.save(checkpoint, run / "checkpoint.partial.pt")
            os.replace(run / "checkpoint.partial.pt", run / "checkpoint.pt")  # never a half-written one
        if stopped and rank == 0:
            log(f"early stop: no better validation loss for {stale} epochs")
    if window:
        history.append(float(np.mean(window)))
    if max_steps is None and best_state is not None:
        _unwrap(model).load_state_dict(best_state)
    return {
        "loss_history": history,
        "best_validation_loss": best if math.isfinite(best) else None,
        "steps": step,
        "epochs": epoch,
    }


def _rng_state(train_loader) -> dict:
    """Every random state training draws from: Python's, NumPy's, torch's (CPU, CUDA) and the shuffling's."""
    state = {"global": config_mod.rng_state(), "torch": torch.get_rng_state(), "cuda": None, "loader": None}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if getattr(train_loader, "generator", None) is not None:
        state["loader"] = train_loader.generator.get_state()
    return state


def _set_rng_state(state: dict, train_loader) -> None:
    config_mod.set_rng_state(state["global"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if state["loader"] is not None and getattr(train_loader, "generator", None) is not None:
        train_loader.generator.set_state(state["loader"])


def load_checkpoint(run: Path) -> dict:
    """A run's checkpoint.pt, on the CPU (tensors and plain Python values only: weights_only)."""
    if not (run / "checkpoint.pt").is_file():
        config_mod.fail(f"--resume {run}: no checkpoint.pt (written after each full epoch)")
    return torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


def predict(
    model: nn.Module, x: torch.Tensor, preprocess: dict, device: torch.device | str = "cpu", batch_size: int = 256
) -> np.ndarray:
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


def export_check(run: Path) -> int:
    """`export --run RUN --check` in this process: the framework is imported (and its kernels compiled) once."""
    from . import export

    return export.main(["--run", str(run), "--check"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train the model.")
    config_mod.add_train_args(parser)  # --config, --set, --epochs, --resume
    parser.add_argument("--smoke", action="store_true", help="a few steps on the bundled sample, then evaluate")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--out", type=Path, help="run folder (default runs/<timestamp>; with --resume, that run's)")
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
    resume = load_checkpoint(args.resume) if args.resume is not None else None
    rank, world, local_rank = _distributed()
    config_mod.seed_everything(config["seed"])
    torch.manual_seed(config["seed"])
    device = pick_device(args.device, local_rank)
    run = _run_dir(args.out or args.resume, world)
    if rank == 0:
        config_mod.write_run_start(run, config, ["torch", "tensorboard"], resumed_from=args.resume)
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
        log(
            f"training {config['task']} on {device} ({len(train.y)} train / {len(val.y)} validation / "
            f"{len(test.y)} test examples, {world} process{'es' * (world > 1)})"
        )
    if rank == 0 and not args.smoke:  # smoke runs skip TensorBoard: its import can take seconds
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(log_dir=str(run / "tensorboard"))
        except ImportError:
            log("tensorboard is not installed: no TensorBoard logs")
    max_steps = config["train"]["smoke_steps"] if args.smoke else None
    history = fit(
        net, train_loader, val_loader, config["task"], device, config["train"], run, max_steps, writer, rank, resume
    )

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
        config_mod.write_json(run / "preprocess.json", preprocess)
        config_mod.write_json(run / "metrics.json", result)
        if writer is not None:  # the test metrics of the final (best) weights, at the last epoch
            for name, value in result["eval"].items():
                if isinstance(value, float):
                    writer.add_scalar(f"test/{name}", value, history["epochs"])
            writer.close()
        scores = ", ".join(f"{k} {v:.3f}" for k, v in result["eval"].items() if isinstance(v, float))
        log(f"done in {result['seconds']:.1f} s: test {scores}; run folder {run}")
    if world > 1:
        torch.distributed.destroy_process_group()
    return export_check(run) if args.export_check and rank == 0 else 0


if __name__ == "__main__":
    sys.exit(main()){% endraw %}
