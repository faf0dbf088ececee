"""Shared by the fault tests: run the CLI in-process or in a child process, check the error contract."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def cli(*args: str) -> Any:
    from dlpick.cli.app import app

    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result: Any, code: int = 2) -> str:
    """The single `dlpick: error: ...` line of a failed in-process run."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dlpick: error: "), lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def ok_or_one_line_error(result: Any) -> str | None:
    """Either success (None) or exit 2 with one error line; never another exception."""
    if result.exit_code == 0:
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        return None
    return one_line_error(result, 2)


def run_child(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m dlpick ARGS` in a child process: a crash of the interpreter cannot take pytest down."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "dlpick", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def child_error(proc: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith("dlpick: error: ")
    return lines[0]


def deep_yaml(depth: int = 50_000, key: str = "task") -> str:
    return f"{key}: " + "[" * depth + "]" * depth + "\n"


def deep_json(depth: int = 50_000) -> str:
    return '{"format": "dlpick-bench/1", "frameworks": [], "x": ' + "[" * depth + "]" * depth + "}"


def ok(samples: float) -> dict[str, Any]:
    return {"status": "ok", "device": "cpu", "samples_per_s": samples, "steps_per_s": samples / 64}


def bench_result(**samples: tuple[float, float]) -> dict[str, Any]:
    """A saved bench run: framework id -> (mlp, cnn) samples/s."""
    frameworks: list[dict[str, Any]] = [
        {
            "framework": fid,
            "name": fid.title(),
            "status": "measured",
            "version": "1.0",
            "device": "cpu",
            "models": {"mlp": ok(mlp), "cnn": ok(cnn)},
        }
        for fid, (mlp, cnn) in samples.items()
    ]
    frameworks.append({"framework": "jax", "name": "JAX", "status": "not installed", "models": {}})
    return {
        "format": "dlpick-bench/1",
        "created": "2026-11-20T10:00:00Z",
        "machine": {"devices": ["cpu: Test CPU"]},
        "frameworks": frameworks,
    }
