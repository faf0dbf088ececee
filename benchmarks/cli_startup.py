"""Median wall time of `dlpick --help` and `dlpick recommend --answers F --json`, beside bare Python.

Goal (issue 2): recommend within 0.25 s on the project machine. Prints figures; asserts nothing.
    python benchmarks/cli_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def median_seconds(command: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    answers = ROOT / "examples" / "team.yaml"
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "XDG_CACHE_HOME": cache}
        exe = shutil.which("dlpick")
        dlpick = [exe] if exe else [sys.executable, "-m", "dlpick"]
        subprocess.run(
            [*dlpick, "recommend", "--answers", str(answers), "--json"], check=True, stdout=subprocess.DEVNULL, env=env
        )  # warm the validated-knowledge cache
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("dlpick --help", [*dlpick, "--help"]),
            ("dlpick recommend --answers F --json", [*dlpick, "recommend", "--answers", str(answers), "--json"]),
        ]
        print(f"median of {args.runs} runs ({' '.join(dlpick)}), Python {sys.version.split()[0]}")
        base = None
        for label, command in rows:
            seconds = median_seconds(command, args.runs, env)
            base = seconds if base is None else base
            print(f"  {label:<38} {seconds * 1000:7.1f} ms   (+{(seconds - base) * 1000:6.1f} ms over bare Python)")
        cold = median_seconds(
            [*dlpick, "recommend", "--answers", str(answers), "--json"], 1, {**env, "DLPICK_NO_CACHE": "1"}
        )
        print(f"  {'recommend, knowledge cache disabled':<38} {cold * 1000:7.1f} ms   (validates every file)")
        print("goal: recommend within 250 ms")


if __name__ == "__main__":
    main()
