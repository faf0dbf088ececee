{% raw %}"""Explain a run: `python -m PACKAGE.explain --run RUN` -> importance.png (permutation importance)."""

from __future__ import annotations

import sys

from . import config as config_mod
from . import data, metrics
from .evaluate import load_model, test_split
from .train import log, predict


def main(argv: list[str] | None = None) -> int:
    args = config_mod.run_parser("Permutation importance of the inputs on the test split.").parse_args(argv)
    net, config, preprocess = load_model(args.run)
    test = test_split(config, preprocess)
    task = config["task"]

    def model_output(x):
        # x is in the loaders' layout (images channels-first); data.inputs converts for Keras.
        return predict(net, data.inputs(x, preprocess), preprocess)

    groups, labels = metrics.importance_groups(test.x, task)
    values = metrics.permutation_importance(model_output, test.x, test.y, task, groups, seed=config["seed"])
    image_shape = None
    if task == "image-classification":
        side = int(len(groups) ** 0.5)
        image_shape = (side, side)
        title = "Pixel-block importance (accuracy drop when shuffled)"
    elif task == "text-classification":
        labels = [f"token {i + 1}" for i in range(len(groups))]
        title = "Token-position importance (accuracy drop when shuffled)"
    else:
        labels = preprocess["feature_names"]
        title = "Feature importance (score drop when shuffled)"
    path = metrics.plot_importance(values, labels, args.run / "importance.png", title, image_shape)
    config_mod.write_json(args.run / "importance.json", {"labels": labels or [str(i) for i in range(len(values))],
                                                         "importance": values.tolist()})
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
{% endraw %}
