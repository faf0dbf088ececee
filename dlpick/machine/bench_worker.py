"""The timing and reporting half of `dlpick bench`'s worker (bench_engine.py imports it).

Every framework is measured with its template's own code: bench_engine.py, run in a project rendered
from the template (bench_projects.py), times the project's `engine.Trainer.step` on its own data
pipeline. This module holds what that worker shares with dlpick: how steps are timed (`_timed`), how
repeats become figures (`aggregate`), the peak memory, and the one JSON line it prints (`report`),
with an import that failed for want of a module reported as "missing" (`missing_module`). Only the
standard library is imported, so the copy beside bench_engine.py runs under the project's own
interpreter (an isolated environment where dlpick is not installed); NumPy and the framework come in
through the project, which declares them (NumPy is a dependency of every generated project).

Timing: `warmup` untimed steps, then `repeats` timed repeats of `steps` steps each (the device
synchronised at each repeat's ends); bench_engine.py first times one more untimed round and raises
`steps` so that a repeat lasts at least MIN_REPEAT_S (`_timed_at_least`). A figure is the median over
the repeats; its spread is (max - min) / median of the repeats' throughputs (`aggregate`).
"""

from __future__ import annotations

import json
import math
import re
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

DEVICES = ("auto", "cpu", "cuda", "mps")
REPEATS = 5  # timed repeats after the warm-up
MIN_REPEAT_S = 0.2  # a timed repeat runs at least this long (more steps than asked for if need be) ...
MAX_STEPS_FACTOR = 100  # ... but at most this many times the steps asked for
# What ran: raise it whenever the models, the data or the timing change, so saved results say which.
# 1: one timed pass (dlpick before repeats); 2: repeats, median and spread, data without NumPy;
# 3: the engine frameworks (JAX, PaddlePaddle, ...) time their template's engine (bench_engine.py), not a
# model written here, so their figures and sizes differ from a version-2 run; 4: PyTorch and TensorFlow
# too (their templates have engines now): no hand-written model is left; 5: a repeat runs at least
# MIN_REPEAT_S (more steps than asked for where steps are that fast); 6: cnn is timed at the image project's
# smoke-run size (PyTorch's image model is now a ResNet18, 32 px for --smoke, 224 px otherwise).
VERSION = 6


def _peak_rss_mb() -> float | None:
    """The process's peak resident set size (MiB): imports, data and training together."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / 2**20 if sys.platform == "darwin" else peak / 1024, 1)  # bytes on macOS, KiB elsewhere


def _timed(
    step: Callable[[int], Any], sync: Callable[[], Any], warmup: int, steps: int, repeats: int
) -> tuple[list[float], float]:
    """(seconds of each of `repeats` repeats of `steps` steps, after `warmup` untimed ones; the last loss)."""
    loss: Any = None
    for i in range(warmup):
        loss = step(i)
    sync()
    seconds = []
    done = warmup
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            loss = step(done)
            done += 1
        sync()
        seconds.append(time.perf_counter() - start)
    return seconds, float(loss)


def _timed_at_least(
    step: Callable[[int], Any], sync: Callable[[], Any], warmup: int, steps: int, repeats: int, min_repeat_s: float
) -> tuple[list[float], float, int]:
    """`_timed` with each repeat long enough to measure (timeit's autorange): one more untimed round of
    `steps` steps after the warm-up times a step, and a repeat then takes at least `min_repeat_s`
    (a few ms repeats are mostly timer and scheduler noise). Returns the steps per repeat used too."""
    for i in range(warmup):
        step(i)
    sync()
    start = time.perf_counter()
    for i in range(warmup, warmup + steps):
        step(i)
    sync()
    done = warmup + steps
    per_step = max((time.perf_counter() - start) / steps, 1e-9)
    steps = min(max(steps, math.ceil(min_repeat_s / per_step)), steps * MAX_STEPS_FACTOR)
    seconds, loss = _timed(lambda i: step(done + i), sync, 0, steps, repeats)
    return seconds, loss, steps


def aggregate(repeat_s: list[float], steps: int, batch: int) -> dict[str, Any]:
    """The figures of one measurement from its repeats' seconds: the median throughput, and its spread,
    (max - min) / median of the repeats' steps/s (0.10: the slowest and fastest repeat differ by a tenth)."""
    if not repeat_s or any(not (math.isfinite(s) and s > 0) for s in repeat_s):
        raise ValueError(f"timings must be positive seconds, got {repeat_s}")
    rates = [steps / s for s in repeat_s]
    median = statistics.median(rates)
    return {
        "repeats": len(rates),
        "repeat_s": [round(s, 5) for s in repeat_s],
        "repeat_steps_per_s": [round(r, 2) for r in rates],
        "timed_s": round(sum(repeat_s), 4),
        "steps_per_s": round(median, 2),
        "samples_per_s": round(median * batch, 1),
        "spread": round((max(rates) - min(rates)) / median, 4),
    }


def missing_module(exc: BaseException) -> str | None:
    """The top-level module whose absence caused `exc` (through its causes), or None: an import that
    failed for another reason (a broken build, a version clash) is a failure, not a missing module."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ImportError):
            name = error.name if isinstance(error, ModuleNotFoundError) else None
            found = re.match(r"No module named '?([A-Za-z_][\w.]*)", str(error))
            name = name or (found.group(1) if found else None)
            if name:
                return name.split(".")[0]
        error = error.__cause__ or error.__context__
    return None


class NoDevice(Exception):
    """The device asked for is not there (for this framework): "no device", not measured, never "failed"."""


def report(
    head: dict[str, Any], measure: Callable[[], dict[str, Any]], errors: tuple[type[BaseException], ...] = (Exception,)
) -> int:
    """Print the one JSON line of a worker (`head` with the measurement, or the error as data: the parent
    shows it, never a number) and return the exit status: 0 ok, 3 a module or the device is missing,
    1 failed. A SystemExit among `errors` (an engine's one-line error) is reported by its message alone."""
    try:
        result = {**head, "status": "ok", **measure()}
    except NoDevice as exc:
        result = {**head, "status": "no device", "error": str(exc).strip()}
    except errors as exc:
        text = str(exc) if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
        result = {**head, "status": "failed", "error": text.strip()}
        module = missing_module(exc)
        if module:
            result.update(status="missing", module=module)
    sys.stdout.flush()
    print(json.dumps(result), flush=True)
    return {"ok": 0, "missing": 3, "no device": 3}.get(result["status"], 1)
