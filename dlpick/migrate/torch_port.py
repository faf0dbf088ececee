"""The PyTorch side of a migration: load the written module, fill its weights, run it with every layer's
output recorded, save the state_dict (and safetensors when installed) and an ONNX export checked in
ONNX Runtime. torch, onnx and onnxruntime are imported here, inside the functions, only."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import sys
import warnings
from pathlib import Path
from typing import Any

from dlpick.errors import MissingTool


def require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise MissingTool("PyTorch is not installed here", hint="pip install torch (or dlpick[torch])") from None


def load_module(path: Path, name: str = "dlpick_migrated_model") -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def build(module: Any, state: dict[str, Any]) -> Any:
    """module.Net() with `state` (numpy arrays) loaded strictly, in eval mode."""
    import torch

    net = module.Net()
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()}, strict=True)
    return net.eval()


def run(net: Any, inputs: list[Any], layers: dict[str, str]) -> tuple[list[Any], dict[str, Any]]:
    """Outputs (numpy) and every named layer's output (attribute -> numpy), recorded by forward hooks."""
    import torch

    recorded: dict[str, Any] = {}
    handles = []
    for attribute in layers.values():
        module = getattr(net, attribute)

        def hook(_m: Any, _args: Any, out: Any, attribute: str = attribute) -> None:
            recorded[attribute] = out.detach().clone().numpy() if isinstance(out, torch.Tensor) else None

        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            out = net(*(torch.from_numpy(x.copy()) for x in inputs))
    finally:
        for handle in handles:
            handle.remove()
    outs = list(out) if isinstance(out, tuple | list) else [out]
    return [o.numpy() for o in outs], recorded


def save_weights(net: Any, folder: Path) -> list[str]:
    """model.pt (state_dict) and, when the safetensors package is installed, model.safetensors."""
    import torch

    torch.save(net.state_dict(), folder / "model.pt")
    written = ["model.pt"]
    try:
        from safetensors.torch import save_file  # type: ignore[import-not-found]
    except ImportError:
        return written
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "model.safetensors"))
    return [*written, "model.safetensors"]


def export_onnx(net: Any, inputs: list[Any], input_names: list[str], output_names: list[str], path: Path) -> str:
    """Export to ONNX (TorchScript exporter, else torch.export's); '' when done, else why not."""
    import torch

    args = tuple(torch.from_numpy(x.copy()) for x in inputs)
    axes = {name: {0: "batch"} for name in [*input_names, *output_names]}
    errors = []
    for dynamo in (False, True):
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    net,
                    args,
                    str(path),
                    input_names=input_names,
                    output_names=output_names,
                    dynamic_axes=axes,
                    dynamo=dynamo,
                )
            return ""
        except Exception as exc:  # noqa: BLE001 - the exporter's errors are many; the report says which
            errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300])
            path.unlink(missing_ok=True)
    return "; ".join(errors)


def run_onnx(path: Path, inputs: dict[str, Any]) -> list[Any] | str:
    """The ONNX model's outputs in ONNX Runtime, or why it could not run."""
    try:
        import onnxruntime as ort
    except ImportError:
        return "onnxruntime is not installed (pip install onnxruntime)"
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return list(session.run(None, inputs))
    except Exception as exc:  # noqa: BLE001
        return f"ONNX Runtime cannot run it: {str(exc).splitlines()[0][:300]}"


def check_onnx(
    path: Path, inputs: list[str], outputs: list[str], cases: list, expected: list[list[Any]], result: Any
) -> list[Any]:
    """model.onnx in ONNX Runtime on every case against the original's outputs: one Diff per output and case
    (a model that does not run, or has fewer outputs than the original, fails by name)."""
    from dlpick.migrate import core

    diffs: list[core.Diff] = []
    for number, case in enumerate(cases):
        got = run_onnx(path, dict(zip(inputs, case, strict=True)))
        if isinstance(got, str) and got.startswith("onnxruntime is not installed"):
            result.needs_human.append(f"model.onnx was not checked: {got}")
            return []
        if isinstance(got, str):
            return [core.Diff(f"onnx:{name}", math.inf, False, detail=got, max_rel_diff=math.inf) for name in outputs]
        for index, name in enumerate(outputs):
            if index >= len(got):
                why = f"model.onnx has {len(got)} output(s), the original {len(outputs)}"
                diffs.append(core.Diff(f"onnx:{name}", math.inf, False, detail=why, max_rel_diff=math.inf))
                continue
            diffs.append(core.compare(f"onnx:{name}", expected[number][index], got[index], result.tolerance))
    return diffs
