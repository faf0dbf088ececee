{% raw %}"""Evaluate a run: `python -m PACKAGE.evaluate --run RUN [--kfold K]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from . import config as config_mod
from . import data, datasets, metrics
from . import model as model_mod
from .train import fit, log, predict


def load_model(run: Path) -> tuple[torch.nn.Module, dict, dict]:
    """The trained model of a run folder, with its config and preprocessing."""
    config, _ = config_mod.read_run(run)
    preprocess = json.loads((run / "preprocess.json").read_text())
    net = model_mod.build(preprocess, config)
    net.load_state_dict(torch.load(run / "model.pt", map_location="cpu", weights_only=True))
    return net.eval(), config, preprocess


def test_split(config: dict) -> datasets.Dataset:
    return data.prepare(config)[2]


def cross_validate(config: dict, k: int, max_steps: int | None) -> dict:
    """Retrain from scratch on each of k folds of the whole data set; score the held-out fold."""
    dataset = datasets.load(config["task"], config["data"])
    folds = []
    for number, (train_index, test_index) in enumerate(
        metrics.kfold_indices(dataset.y, k, config["seed"], dataset.is_classification), 1
    ):
        torch.manual_seed(config["seed"])
        train, held_out = dataset.subset(train_index), dataset.subset(test_index)
        preprocess = {
            "task": config["task"],
            "classes": dataset.classes,
            "vocabulary": dataset.vocabulary,
            "stats": datasets.fit_scaler(train),
            "input_shape": list(dataset.x.shape[1:]),
            "n_outputs": len(dataset.classes) or 1,
        }
        batch = config["train"]["batch_size"]
        loader = data.loader(train, preprocess, batch, True, config["seed"])
        net = model_mod.build(preprocess, config)
        # The held-out fold doubles as the early-stopping set: k-fold scores are slightly optimistic.
        fit(
            net,
            loader,
            data.loader(held_out, preprocess, batch, False, config["seed"]),
            config["task"],
            torch.device("cpu"),
            config["train"],
            max_steps=max_steps,
        )
        output = predict(net, data.inputs(held_out.x, preprocess), preprocess)
        folds.append(metrics.evaluate(config["task"], held_out.y, output))
        log(f"fold {number}/{k} done")
    return {"k": k, "folds": folds, "summary": metrics.summarise_folds(folds)}


def main(argv: list[str] | None = None) -> int:
    parser = config_mod.run_parser("Evaluate a trained run on the test split, or by k-fold cross-validation.")
    parser.add_argument("--kfold", type=int, help="retrain and score K folds (K >= 2)")
    args = parser.parse_args(argv)
    net, config, preprocess = load_model(args.run)
    test = test_split(config)
    output = predict(net, data.inputs(test.x, preprocess), preprocess)
    result = metrics.evaluate(config["task"], test.y, output)
    config_mod.write_json(args.run / "evaluation.json", result)
    metrics.plot(config["task"], test.y, output, args.run / "evaluation.png", preprocess["classes"])
    log("test split: " + ", ".join(f"{k} {v:.4f}" for k, v in result.items() if isinstance(v, float)))
    if args.kfold:
        if args.kfold < 2:
            raise SystemExit("error: --kfold needs at least 2 folds")
        _, summary = config_mod.read_run(args.run)
        steps = config["train"]["smoke_steps"] if summary.get("smoke") else None
        folds = cross_validate(config, args.kfold, steps)
        config_mod.write_json(args.run / "kfold.json", folds)
        log("k-fold: " + ", ".join(f"{k} {v['mean']:.4f} ± {v['std']:.4f}" for k, v in folds["summary"].items()))
    np.set_printoptions(precision=4)
    return 0


if __name__ == "__main__":
    sys.exit(main()){% endraw %}
