{% raw %}"""Evaluate a run: `python -m PACKAGE.evaluate --run RUN [--kfold K]`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import keras

from . import config as config_mod
from . import data, datasets, metrics
from . import model as model_mod
from .train import fit, log, predict


def load_model(run: Path) -> tuple[keras.Model, dict, dict]:
    """The trained model of a run folder, with its config and preprocessing."""
    config, _ = config_mod.read_run(run)
    if not (run / "model.keras").is_file():
        raise SystemExit(f"error: {run} has no model.keras; train first")
    # json, not the YAML loader: YAML 1.1 reads JSON's 1e-05 as a string.
    preprocess = json.loads((run / "preprocess.json").read_text())
    return model_mod.load(run, preprocess, config), config, preprocess


def test_split(config: dict, preprocess: dict) -> datasets.Dataset:
    """The run's test split, re-read with its seed; refuses data that no longer matches the model."""
    *_, test, current = data.prepare(config)
    for key in ("classes", "vocabulary", "input_shape"):
        if current[key] != preprocess[key]:
            raise SystemExit(
                f"error: the data's {key} differ from the run's preprocess.json: "
                f"{config['data']['path']} changed since training"
            )
    return test


def cross_validate(config: dict, k: int, max_steps: int | None) -> dict:
    """Retrain from scratch on each of k folds of the whole data set; score the held-out fold."""
    dataset = datasets.load(config["task"], config["data"])
    batch, seed = config["train"]["batch_size"], config["seed"]
    folds = []
    for number, (train_index, test_index) in enumerate(
        metrics.kfold_indices(dataset.y, k, seed, dataset.is_classification), 1
    ):
        keras.backend.clear_session()  # free the previous fold's model
        keras.utils.set_random_seed(seed)
        train, held_out = dataset.subset(train_index), dataset.subset(test_index)
        preprocess = data.describe(dataset, train)
        net = model_mod.compile_model(model_mod.build(preprocess, config), config["task"], config["train"])
        # The held-out fold doubles as the early-stopping set: k-fold scores are slightly optimistic.
        train_data = data.pipeline(train, preprocess, batch, True, seed)
        fit(
            net,
            train_data,
            data.pipeline(held_out, preprocess, batch, False, seed),
            config["train"],
            max_steps=max_steps,
            verbose=False,
        )
        output = predict(net, data.inputs(held_out.x, preprocess), preprocess)
        folds.append(metrics.evaluate(config["task"], held_out.y, output))
        log(f"fold {number}/{k} done")
    return {"k": k, "folds": folds, "summary": metrics.summarise_folds(folds)}


def main(argv: list[str] | None = None) -> int:
    parser = config_mod.run_parser("Evaluate a trained run on the test split, or by k-fold cross-validation.")
    parser.add_argument("--kfold", type=int, help="retrain and score K folds (K >= 2)")
    args = parser.parse_args(argv)
    if args.kfold is not None and args.kfold < 2:
        raise SystemExit("error: --kfold needs at least 2 folds")
    net, config, preprocess = load_model(args.run)
    test = test_split(config, preprocess)
    output = predict(net, data.inputs(test.x, preprocess), preprocess)
    result = metrics.evaluate(config["task"], test.y, output)
    config_mod.write_json(args.run / "evaluation.json", result)
    metrics.plot(config["task"], test.y, output, args.run / "evaluation.png", preprocess["classes"])
    log("test split: " + ", ".join(f"{k} {v:.4f}" for k, v in result.items() if isinstance(v, float)))
    if args.kfold:
        _, summary = config_mod.read_run(args.run)
        # A smoke run's folds train for the smoke steps too, so the check stays quick.
        steps = config["train"]["smoke_steps"] if summary.get("smoke") else None
        folds = cross_validate(config, args.kfold, steps)
        config_mod.write_json(args.run / "kfold.json", folds)
        log("k-fold: " + ", ".join(f"{k} {v['mean']:.4f} ± {v['std']:.4f}" for k, v in folds["summary"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main()){% endraw %}
