{% raw %}"""Export a run: `python -m PACKAGE.export --run RUN [--check]`.

ONNX (torch.onnx), a torch.export program (.pt2) and a dynamically int8-quantised ONNX model
(ONNX Runtime). `--check` reloads each with its runtime and compares predictions with PyTorch's.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np
import torch

from . import config as config_mod
from . import data
from .evaluate import load_model, test_split
from .train import log

# Float exports must match PyTorch closely. int8 trades accuracy for size: it is judged on the
# largest difference in class probabilities (or in the standardised target, for regression) and,
# for classifiers, on how often it predicts the same class.
FLOAT_TOLERANCE = 1e-4
INT8_TOLERANCE = 0.25
INT8_MIN_AGREEMENT = 0.9


def export_all(net: torch.nn.Module, example: torch.Tensor, run: Path) -> dict[str, str]:
    batch = torch.export.Dim("batch", min=1)
    shapes = ({0: batch},)
    with contextlib.redirect_stdout(sys.stderr):  # the exporters print progress
        torch.onnx.export(
            net, (example,), run / "model.onnx", input_names=["input"], output_names=["output"], dynamic_shapes=shapes
        )
        program = torch.export.export(net, (example,), dynamic_shapes=shapes)
    torch.export.save(program, run / "model.pt2")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(run / "model.onnx", run / "model.int8.onnx", weight_type=QuantType.QInt8)
    return {"onnx": "model.onnx", "torch.export": "model.pt2", "onnx-int8": "model.int8.onnx"}


def _onnx(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def check_all(net: torch.nn.Module, x: torch.Tensor, run: Path, task: str) -> list[dict]:
    with torch.no_grad():
        reference = net(x).numpy()
    checks = []
    for name, output in (
        ("onnx", _onnx(run / "model.onnx", x.numpy())),
        ("torch.export", torch.export.load(run / "model.pt2").module()(x).detach().numpy()),
    ):
        diff = float(np.max(np.abs(output - reference)))
        checks.append(
            {"name": name, "max_abs_diff": diff, "tolerance": FLOAT_TOLERANCE, "passed": diff <= FLOAT_TOLERANCE}
        )
    quantised = _onnx(run / "model.int8.onnx", x.numpy())
    if task == "tabular-regression":
        diff = float(np.max(np.abs(quantised - reference)))
        checks.append(
            {"name": "onnx-int8", "max_abs_diff": diff, "tolerance": INT8_TOLERANCE, "passed": diff <= INT8_TOLERANCE}
        )
    else:
        probabilities = torch.softmax(torch.from_numpy(reference), dim=1).numpy()
        quantised_probabilities = torch.softmax(torch.from_numpy(quantised), dim=1).numpy()
        diff = float(np.max(np.abs(quantised_probabilities - probabilities)))
        agreement = float(np.mean(quantised.argmax(axis=1) == reference.argmax(axis=1)))
        checks.append(
            {
                "name": "onnx-int8",
                "max_abs_diff": diff,
                "tolerance": INT8_TOLERANCE,
                "agreement": agreement,
                "min_agreement": INT8_MIN_AGREEMENT,
                "passed": diff <= INT8_TOLERANCE and agreement >= INT8_MIN_AGREEMENT,
            }
        )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = config_mod.run_parser("Export a trained run (ONNX, torch.export, int8 ONNX).")
    parser.add_argument("--check", action="store_true", help="reload each export and compare its predictions")
    args = parser.parse_args(argv)
    net, config, preprocess = load_model(args.run)
    x = data.inputs(test_split(config).x, preprocess)
    formats = export_all(net, x[:2], args.run)
    result: dict = {"formats": formats}
    passed = True
    if args.check:
        result["checks"] = check_all(net, x, args.run, config["task"])
        passed = all(check["passed"] for check in result["checks"])
        for check in result["checks"]:
            agrees = f", class agreement {check['agreement']:.3f}" if "agreement" in check else ""
            log(
                f"{check['name']}: {'ok' if check['passed'] else 'MISMATCH'} "
                f"(max |diff| {check['max_abs_diff']:.2e}{agrees}, tolerance {check['tolerance']})"
            )
    config_mod.write_json(args.run / "export.json", result)
    log(f"exported {', '.join(formats.values())} to {args.run}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main()){% endraw %}
