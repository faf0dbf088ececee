"""Seconds to build a template's isolated environment with uv and with pip, cold caches, side by side.

Goal (issue 14): uv <= 0.3 x pip on the same requirements. Each build gets an empty
environment folder and empty installer caches (PIP_CACHE_DIR, UV_CACHE_DIR), and both installers
read the same pip configuration (indexes, find-links, constraints). Prints figures; asserts nothing.
    python benchmarks/env_build.py [jax pytorch ...] [--task tabular-regression]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(framework: str, task: str, tool: str, work: Path) -> tuple[float, str]:
    from dlpick.project import render
    from dlpick.verify import envs

    project = render.render(framework, task, work / "project").project_dir
    os.environ.update(
        {envs.INSTALLER_VAR: tool, "PIP_CACHE_DIR": str(work / "pip-cache"), "UV_CACHE_DIR": str(work / "uv-cache")}
    )
    start = time.perf_counter()
    try:
        envs.ensure(envs.spec_for(project, framework), root=work / "envs")
    except Exception as exc:  # noqa: BLE001 - a figure that says why it is missing
        return time.perf_counter() - start, f"failed: {str(exc).splitlines()[0][:80]}"
    return time.perf_counter() - start, "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frameworks", nargs="*", default=["jax", "pytorch"])
    parser.add_argument("--task", default="tabular-regression")
    args = parser.parse_args()
    print(f"{'framework':<14}{'pip s':>8}{'uv s':>8}{'uv/pip':>8}")
    for framework in args.frameworks:
        seconds = {}
        for tool in ("pip", "uv"):
            with tempfile.TemporaryDirectory(prefix=f"dlpick-envbench-{tool}-") as work:
                seconds[tool], status = build(framework, args.task, tool, Path(work))
            if status != "ok":
                print(f"{framework}: {tool} {status}")
        ratio = seconds["uv"] / seconds["pip"] if seconds["pip"] else float("nan")
        print(f"{framework:<14}{seconds['pip']:>8.1f}{seconds['uv']:>8.1f}{ratio:>8.2f}")


if __name__ == "__main__":
    main()
