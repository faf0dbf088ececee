"""/health latency of a generated project's FastAPI server under slow clients and heavy predictions.

Renders the PyTensor tabular-classification template (or takes `--project DIR`, e.g. one rendered from
an older dlpick, to compare), starts its `serve` with a stub model (no framework: each prediction
busy-loops `--work` seconds of CPU in Python, holding the GIL as a heavy request does) on 127.0.0.1,
then: N clients that send a request head a byte every 0.5 s, and K predictions at once, while /health
is timed every 0.25 s. Prints the /health latencies (median, max, failed) and how many slow clients
the server still holds at the end; asserts nothing. Loopback only.

    python benchmarks/serve_slow_clients.py [--slow 200] [--predicts 42] [--work 2] [--seconds 15] [--project DIR]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dlpick.project import render  # noqa: E402

STUB = """
import json, sys, time
import numpy as np
from bench import serve
work = float(sys.argv[1])

def load_forward(run):
    outputs = json.loads((run / "preprocess.json").read_text())["n_outputs"]

    def forward(x):
        end = time.perf_counter() + work
        while time.perf_counter() < end:
            pass
        return np.zeros((len(x), outputs))
    return "stub", forward

serve.load_forward = load_forward
sys.exit(serve.main(sys.argv[2:]))
"""
PREPROCESS = {
    "task": "tabular-classification",
    "classes": ["a", "b"],
    "feature_names": ["f0", "f1", "f2"],
    "vocabulary": {},
    "stats": {"mean": [0.0] * 3, "std": [1.0] * 3},
    "input_shape": [3],
    "n_outputs": 2,
}


def health(port: int, timeout: float = 30) -> float | None:
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        return time.perf_counter() - start if response.status == 200 else None
    except OSError:
        return None
    finally:
        connection.close()


def free_port() -> int:  # a benchmark, not a test: a race here costs a rerun
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=200, help="clients sending a byte every 0.5 s")
    parser.add_argument("--predicts", type=int, default=42, help="predictions at once")
    parser.add_argument("--work", type=float, default=2.0, help="CPU seconds of each prediction")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long /health is timed under load")
    parser.add_argument("--project", type=Path, help="a rendered tabular-classification project named Bench")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dlpick-slow-clients-") as folder:
        project = args.project or render.render("pytensor", "tabular-classification", Path(folder) / "bench",
                                                name="Bench").project_dir  # fmt: skip
        run = Path(folder) / "run"
        run.mkdir()
        (run / "config.yaml").write_text((project / "configs" / "default.yaml").read_text())
        (run / "preprocess.json").write_text(json.dumps(PREPROCESS))
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(project / "src")}
        command = [sys.executable, "-c", STUB, str(args.work), "--run", str(run), "--port", str(port)]
        server = subprocess.Popen(command, cwd=project, env=env, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while health(port, 2) is None:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.1)
            idle = [health(port) for _ in range(20)]
            slow = []
            for _ in range(args.slow):
                try:
                    slow.append(socket.create_connection(("127.0.0.1", port), timeout=5))
                except OSError:
                    break
            body = json.dumps({"instances": [[1.0, 2.0, 3.0]]}).encode()
            statuses: list[int] = []

            def predict() -> None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                try:
                    connection.request("POST", "/v1/models/bench:predict", body, {"Content-Type": "application/json"})
                    statuses.append(connection.getresponse().status)
                except OSError:
                    statuses.append(0)
                finally:
                    connection.close()

            threads = [threading.Thread(target=predict, daemon=True) for _ in range(args.predicts)]
            for thread in threads:
                thread.start()
            head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"x" * 1000
            loaded: list[float | None] = []
            end, sent = time.monotonic() + args.seconds, 0
            while time.monotonic() < end:
                for client in slow:
                    try:
                        client.send(head[sent % len(head) : sent % len(head) + 1])
                    except OSError:
                        pass
                sent += 1
                loaded.append(health(port))
                time.sleep(max(0.0, 0.25 - (loaded[-1] or 0)))
            still = 0
            for client in slow:
                try:
                    client.send(b"x")
                    client.setblocking(False)
                    still += client.recv(1) != b""
                except BlockingIOError:
                    still += 1
                except OSError:
                    pass
                client.close()
            for thread in threads:
                thread.join(args.work * args.predicts + 60)
        finally:
            server.terminate()
            server.wait(10)
    ok = [t for t in loaded if t is not None]
    median = statistics.median(ok) * 1000 if ok else float("nan")
    longest = max(ok) * 1000 if ok else float("nan")
    print(f"idle /health: median {statistics.median([t for t in idle if t]) * 1000:.1f} ms")
    print(
        f"under {len(slow)} slow clients + {args.predicts} predictions of {args.work:g} s CPU, /health every 0.25 s "
        f"for {args.seconds:g} s: {len(ok)} answered, median {median:.1f} ms, max {longest:.1f} ms, "
        f"{len(loaded) - len(ok)} failed"
    )
    print(f"slow clients still connected at the end: {still} of {len(slow)}")
    print(f"predictions: {statuses.count(200)} x 200, {statuses.count(503)} x 503, "
          f"{len(statuses) - statuses.count(200) - statuses.count(503)} other/failed")  # fmt: skip


if __name__ == "__main__":
    main()
