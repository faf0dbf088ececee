{% raw %}"""Export a run: `python -m PACKAGE.export --run RUN [--check]`.

model.keras, a TensorFlow SavedModel (model.export), TFLite float32 and TFLite with post-training
dynamic-range quantisation (int8 weights). `--check` reloads the SavedModel with TensorFlow and the
TFLite models with the LiteRT interpreter and compares their predictions with Keras'.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from . import config as config_mod
from . import data
from .evaluate import load_model, test_split
from .train import log

# Float exports compute the same float32 graph (TFLite may fuse and reorder operations), so they
# must match Keras closely. Dynamic-range quantisation stores weights in int8 and quantises
# activations on the fly: its outputs may move by a few hundredths, so it gets a loose bound on
# the output (class probabilities, or the regression target in standardised units, as the model
# predicts it) and, for classification, must also agree on the predicted class.
FLOAT_TOLERANCE = 1e-4
INT8_TOLERANCE = 0.25
INT8_MIN_AGREEMENT = 0.9


def tflite_interpreter(content: bytes):
    """The LiteRT interpreter (ai-edge-litert), else the older tf.lite.Interpreter; and its name."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter(model_content=content), "ai_edge_litert"
    except ImportError:  # no LiteRT wheel for this platform (Windows)
        return tf.lite.Interpreter(model_content=content), "tf.lite"


def export_all(net: keras.Model, run: Path) -> dict[str, str]:
    net.save(run / "model.keras")  # float32 whatever the training precision (see model.load)
    shutil.rmtree(run / "saved_model", ignore_errors=True)
    with contextlib.redirect_stdout(sys.stderr):  # the exporters print progress
        net.export(run / "saved_model", format="tf_saved_model", verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(run / "saved_model"))
    (run / "model.tflite").write_bytes(converter.convert())
    converter = tf.lite.TFLiteConverter.from_saved_model(str(run / "saved_model"))
    # Optimize.DEFAULT without a representative data set = dynamic-range quantisation. Layers with
    # fewer than 1024 weights stay float.
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    (run / "model.int8.tflite").write_bytes(converter.convert())
    return {
        "keras": "model.keras",
        "saved_model": "saved_model",
        "tflite": "model.tflite",
        "tflite-int8": "model.int8.tflite",
    }


def run_tflite(path: Path, x: np.ndarray) -> tuple[np.ndarray, str]:
    interpreter, runtime = tflite_interpreter(path.read_bytes())
    source = interpreter.get_input_details()[0]
    # The converter fixes the batch at 1 (shape_signature keeps -1): resize to the whole split.
    interpreter.resize_tensor_input(source["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(source["index"], x.astype(source["dtype"]))
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]).copy(), runtime


def check_all(net: keras.Model, x: np.ndarray, run: Path, task: str) -> list[dict]:
    reference = net(x, training=False).numpy()
    saved = tf.saved_model.load(str(run / "saved_model"))
    outputs = [("saved_model", saved.serve(tf.constant(x)).numpy(), "tensorflow")]
    outputs.append(("tflite", *run_tflite(run / "model.tflite", x)))
    checks = []
    for name, output, runtime in outputs:
        diff = float(np.max(np.abs(output - reference)))
        checks.append(
            {
                "name": name,
                "runtime": runtime,
                "max_abs_diff": diff,
                "tolerance": FLOAT_TOLERANCE,
                "passed": diff <= FLOAT_TOLERANCE,
            }
        )
    quantised, runtime = run_tflite(run / "model.int8.tflite", x)
    diff = float(np.max(np.abs(quantised - reference)))
    check = {
        "name": "tflite-int8",
        "runtime": runtime,
        "max_abs_diff": diff,
        "tolerance": INT8_TOLERANCE,
        "passed": diff <= INT8_TOLERANCE,
    }
    if task != "tabular-regression":
        agreement = float(np.mean(quantised.argmax(axis=1) == reference.argmax(axis=1)))
        check.update(
            agreement=agreement,
            min_agreement=INT8_MIN_AGREEMENT,
            passed=check["passed"] and agreement >= INT8_MIN_AGREEMENT,
        )
    return [*checks, check]


def main(argv: list[str] | None = None) -> int:
    parser = config_mod.run_parser("Export a trained run (Keras, SavedModel, TFLite, dynamic-range int8 TFLite).")
    parser.add_argument("--check", action="store_true", help="reload each export and compare its predictions")
    args = parser.parse_args(argv)
    net, config, preprocess = load_model(args.run)
    x = data.inputs(test_split(config, preprocess).x, preprocess)
    formats = export_all(net, args.run)
    result: dict = {"formats": formats}
    passed = True
    if args.check:
        result["checks"] = check_all(net, x, args.run, config["task"])
        passed = all(check["passed"] for check in result["checks"])
        for check in result["checks"]:
            agrees = "agreement" in check
            extra = f", class agreement {check['agreement']:.3f} >= {check['min_agreement']}" if agrees else ""
            log(
                f"{check['name']} ({check['runtime']}): {'ok' if check['passed'] else 'MISMATCH'} "
                f"(max |diff| {check['max_abs_diff']:.2e}{extra}, tolerance {check['tolerance']})"
            )
    config_mod.write_json(args.run / "export.json", result)
    log(f"exported {', '.join(formats.values())} to {args.run}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main()){% endraw %}
