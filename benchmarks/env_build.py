"""Seconds to build a template's isolated environment with uv and with pip, cold caches, side by side.

Goal (issue 14): uv <= 0.3 x pip on the same requirements. Each build gets an empty
environment folder and empty installer caches (PIP_CACHE_DIR, UV_CACHE_DIR), and both installers
read the same pip configuration (indexes, find-links, constraints). `--warm` also times a second
build with the cache the first one filled (a second project, or a rebuilt environment): what is
left once the downloads are out of the figure. Prints figures; asserts nothing.
    python benchmarks/env_build.py [jax pytorch ...] [--task tabular-regression] [--warm]
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


def build(framework: str, task: str, tool: str, work: Path, envs_folder: str = "envs") -> tuple[float, str]:
    from dlpick.project import render
    from dlpick.verify import envs

    project_dir = work / "project"
    project = render.render(framework, task, project_dir).project_dir if not project_dir.exists() else project_dir
    os.environ.update(
        {envs.INSTALLER_VAR: tool, "PIP_CACHE_DIR": str(work / "pip-cache"), "UV_CACHE_DIR": str(work / "uv-cache")}
    )
    start = time.perf_counter()
    try:
        envs.ensure(envs.spec_for(project, framework), root=work / envs_folder)
    except Exception as exc:  # noqa: BLE001 - a figure that says why it is missing
        return time.perf_counter() - start, f"failed: {str(exc).splitlines()[0][:80]}"
    return time.perf_counter() - start, "ok"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frameworks", nargs="*", default=["jax", "pytorch"])
    parser.add_argument("--task", default="tabular-regression")
    parser.add_argument("--warm", action="store_true", help="also time a second build with the filled cache")
    args = parser.parse_args()
    print(f"{'framework':<14}{'cache':<7}{'pip s':>8}{'uv s':>8}{'uv/pip':>8}")
    for framework in args.frameworks:
        seconds: dict[tuple[str, str], float] = {}
        for tool in ("pip", "uv"):
            with tempfile.TemporaryDirectory(prefix=f"dlpick-envbench-{tool}-") as work:
                seconds["cold", tool], status = build(framework, args.task, tool, Path(work))
                if args.warm and status == "ok":
                    seconds["warm", tool], status = build(framework, args.task, tool, Path(work), "envs-again")
            if status != "ok":
                print(f"{framework}: {tool} {status}")
        for cache in ("cold", "warm") if args.warm else ("cold",):
            pip, uv = seconds.get((cache, "pip"), float("nan")), seconds.get((cache, "uv"), float("nan"))
            print(f"{framework:<14}{cache:<7}{pip:>8.1f}{uv:>8.1f}{uv / pip if pip else float('nan'):>8.2f}")


if __name__ == "__main__":
    main()
