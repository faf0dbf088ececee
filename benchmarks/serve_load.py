"""Bounded local load test of a generated project's HTTP server, beside its model in a bare loop.

Renders the PyTorch tabular-classification template, smoke-trains and exports it, starts
`python -m PACKAGE.serve` on 127.0.0.1 (through dlpick.processes, stopped however this ends) and
sends 2,000 predict requests (one instance each: the metadata example), 8 at a time over kept-alive
connections; then times the same model in a minimal ONNX Runtime loop (the floor: no HTTP, no JSON,
no preprocessing). Prints requests/s and p50/p99 latency of both; asserts nothing.

    python benchmarks/serve_load.py [--python PY] [--requests 2000] [--concurrency 8] [--stdlib]

`--python`: the interpreter of the project (torch, onnxruntime; fastapi + uvicorn for the FastAPI
server, else it runs on http.server). Localhost only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dlpick import processes  # noqa: E402
from dlpick.project import render  # noqa: E402
from dlpick.verify import serving  # noqa: E402

FLOOR = """
import json, sys, time
import numpy as np, onnxruntime
session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
x = np.zeros((1, int(sys.argv[3])), dtype=np.float32)
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    session.run(None, {name: x})
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def summary(label: str, times: list[float], wall: float) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"{label:<34} {len(times) / wall:9.0f} req/s   p50 {statistics.median(ordered) * 1000:7.3f} ms"
        f"   p99 {p99 * 1000:7.3f} ms   ({len(times)} requests)"
    )


def load(port: int, path: str, body: bytes, total: int, concurrency: int) -> tuple[list[float], float, int]:
    """`total` POSTs of `body`, `concurrency` threads each on its own kept-alive connection."""
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        while True:
            with lock:
                if next(counter, None) is None:
                    break
            start = time.perf_counter()
            connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 200:
                with lock:
                    errors[0] += 1
        connection.close()
        with lock:
            times.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, time.perf_counter() - start, errors[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the project's interpreter")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--stdlib", action="store_true", help="serve on http.server even if FastAPI is installed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dlpick-serve-load-") as folder:
        project = render.render("pytorch", "tabular-classification", Path(folder) / "bench", name="Bench").project_dir
        env = {**os.environ, "PYTHONPATH": str(project / "src"), "MPLBACKEND": "Agg"}
        run = project / "runs" / "smoke"
        train = [args.python, "-m", "bench.train", "--smoke", "--export-check", "--out", str(run), "--device", "cpu"]
        subprocess.run(train, cwd=project, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = serving.free_port()
        cmd = [args.python, "-m", "bench.serve", "--run", str(run), "--port", str(port), *(["--stdlib"] * args.stdlib)]
        with processes.background(cmd, project, env) as server:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                try:
                    status, health = serving.request(f"{base}/health", timeout=5)
                    if status == 200:
                        break
                except (OSError, serving.Failed):
                    pass
                if not server.alive() or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start: {server.last()}")
                time.sleep(0.2)
            _, metadata = serving.request(f"{base}/v1/models/bench/metadata")
            body = json.dumps(metadata["example"]).encode()
            kind = "http.server" if args.stdlib or "http.server" in server.last(20) else "FastAPI + uvicorn"
            load(port, "/v1/models/bench:predict", body, 100, args.concurrency)  # warm-up
            times, wall, errors = load(port, "/v1/models/bench:predict", body, args.requests, args.concurrency)
        features = len(metadata["inputs"]["instances"][0]["columns"])
        floor = subprocess.run(
            [args.python, "-c", FLOOR, str(run / "model.onnx"), str(args.requests), str(features)],
            capture_output=True,
            text=True,
            check=True,
        )
        floor_times = json.loads(floor.stdout)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"PyTorch tabular-classification, model.onnx in {health.get('runtime')}; {cores} CPU cores; localhost")
    print(summary(f"HTTP ({kind}, {args.concurrency} at a time)", times, wall) + f"   {errors} errors")
    print(summary("ONNX Runtime loop (floor, 1 at a time)", floor_times, sum(floor_times)))


if __name__ == "__main__":
    main()
