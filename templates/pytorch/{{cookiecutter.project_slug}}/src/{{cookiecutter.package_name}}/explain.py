{% raw %}"""Explain a run: `python -m PACKAGE.explain --run RUN` -> importance.png and importance.json.

Tables and images: permutation importance. Text: token occlusion (each token masked in turn).
"""

from __future__ import annotations

import sys

from . import config as config_mod
from . import data, metrics
from .evaluate import load_model, test_split
from .train import log, predict


def main(argv: list[str] | None = None) -> int:
    args = config_mod.run_parser("Importance of the inputs on the test split (text: token occlusion).").parse_args(argv)
    net, config, preprocess = load_model(args.run)
    test = test_split(config)

    def model_output(x):
        return predict(net, data.inputs(x, preprocess), preprocess)

    path = metrics.explain(
        config["task"],
        model_output,
        test.x,
        test.y,
        preprocess["feature_names"],
        args.run,
        config["seed"],
        preprocess.get("vocabulary"),
        preprocess.get("classes"),
    )
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main()){% endraw %}
