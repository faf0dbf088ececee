"""verify's `serve` check: start the project's HTTP server on the trained run, wait for /health,
predict the metadata's example, compare with `serve --predict-example` offline (started with the
server, so the two imports overlap), stop the server.

The server runs through processes.background (its whole tree is stopped however the check ends);
dlpick talks to it with urllib and never imports the framework.
"""

from __future__ import annotations

import json
import math
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dlpick import processes

TOLERANCE = 1e-6  # HTTP and offline run the same code: only JSON's number round trip may differ


class Failed(Exception):
    """The check failed; the message is its detail."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def request(url: str, body: bytes | None = None, timeout: float = 30) -> tuple[int, Any]:
    """(status, parsed JSON) of one request; an HTTP error status is an answer, not an exception."""
    headers = {"Content-Type": "application/json"} if body is not None else {}
    req = urllib.request.Request(url, data=body, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310 (localhost only)
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        raise Failed(f"{url} answered {status} with a body that is not JSON: {raw[:80]!r}") from None


SERVING = re.compile(r"serving .* on http://[^\s:]+:([0-9]{1,5}) ")


def binds_its_own_port(project_path: Path, package: str) -> bool:
    """The project's server takes `--port 0` and says the port it bound (projects since templates 0.2.0)."""
    try:
        text = (project_path / "src" / package / "serve.py").read_text(encoding="utf-8")
    except OSError:
        return False
    return re.search(r"^def port_number\(", text, re.MULTILINE) is not None


def _bound_port(server: processes.Background, timeout: float) -> int:
    """The port a server started with `--port 0` printed: no port is picked, then bound by another process
    (another program could take it in between)."""
    start = time.monotonic()
    while True:
        for line in list(server.tail):
            found = SERVING.search(line)
            if found:
                return int(found.group(1))
        if not server.alive():
            raise Failed(f"the server exited with status {server.proc.returncode}: {server.last()}")
        if time.monotonic() - start > timeout:
            raise Failed(f"the server said no port within {timeout:g} s: {server.last()}")
        time.sleep(0.1)


def _wait_healthy(base: str, server: processes.Background, timeout: float) -> tuple[float, dict]:
    start = time.monotonic()
    while True:
        if not server.alive():
            raise Failed(f"the server exited with status {server.proc.returncode}: {server.last()}")
        try:
            status, health = request(f"{base}/health", timeout=5)
            if status == 200 and isinstance(health, dict):
                return time.monotonic() - start, health
        except (OSError, Failed):
            pass  # not listening yet
        if time.monotonic() - start > timeout:
            raise Failed(f"no healthy /health within {timeout:g} s: {server.last()}")
        time.sleep(0.25)


def same_predictions(served: Any, offline: Any) -> str:
    """'' if the two prediction lists agree (labels equal, numbers within TOLERANCE), else why not."""
    if not isinstance(served, list) or not isinstance(offline, list) or len(served) != len(offline):
        return f"{json.dumps(served)[:120]} vs offline {json.dumps(offline)[:120]}"

    def numbers(value: Any, path: str) -> list[tuple[str, Any]]:
        if isinstance(value, dict):
            return [item for key in sorted(value) for item in numbers(value[key], f"{path}.{key}")]
        if isinstance(value, list):
            return [item for i, v in enumerate(value) for item in numbers(v, f"{path}[{i}]")]
        return [(path, value)]

    left, right = numbers(served, "predictions"), numbers(offline, "predictions")
    if [path for path, _ in left] != [path for path, _ in right]:
        return "the served and offline predictions have different fields"
    for (path, a), (_, b) in zip(left, right, strict=True):
        both_numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
        if both_numbers and not math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
            return f"{path}: {a!r} served, {b!r} offline"
        if not both_numbers and a != b:
            return f"{path}: {a!r} served, {b!r} offline"
    return ""


def _shown(predictions: list[Any]) -> str:
    first = predictions[0] if predictions else None
    if isinstance(first, dict) and "label" in first:
        probability = (first.get("probabilities") or {}).get(first["label"])
        return f"label {first['label']}" + (f" (p {probability:.3f})" if isinstance(probability, float) else "")
    if isinstance(first, dict) and "value" in first:
        return f"value {first['value']:.4g}" if isinstance(first["value"], float) else f"value {first['value']}"
    return json.dumps(first)[:60]


def check_serve(
    project_path: Path,
    package: str,
    run: Path,
    python: str,
    env: dict[str, str],
    timeout: float,
    on_event: Callable[[str, Any], None] | None = None,
) -> tuple[bool, str]:
    """(passed, detail) of the serve check of a project that has serve.py."""
    own_port = binds_its_own_port(project_path, package)
    port = 0 if own_port else free_port()  # older projects: a free port picked here
    if on_event:
        on_event("step", f"serving the run on 127.0.0.1 and predicting its metadata example (up to {timeout:g} s)")
    module = f"{package}.serve"
    cmd = [python, "-m", module, "--run", str(run), "--host", "127.0.0.1", "--port", str(port)]
    # The offline answer to the same example starts with the server, so their imports overlap.
    offline_cmd = [python, "-m", module, "--run", str(run), "--predict-example"]
    with ThreadPoolExecutor(max_workers=1) as pool:
        offline_run = pool.submit(processes.capture, offline_cmd, timeout, cwd=project_path, env=env)
        try:
            with processes.background(cmd, project_path, env) as server:
                base = f"http://127.0.0.1:{_bound_port(server, timeout) if own_port else port}"
                took, health = _wait_healthy(base, server, timeout)
                status, metadata = request(f"{base}/v1/models/{package}/metadata")
                if status != 200 or not isinstance(metadata, dict) or not isinstance(metadata.get("example"), dict):
                    raise Failed(f"GET /v1/models/{package}/metadata: {status} {json.dumps(metadata)[:160]}")
                example = json.dumps(metadata["example"]).encode()
                status, answer = request(f"{base}/v1/models/{package}:predict", example)
                if status != 200 or not isinstance(answer, dict) or not isinstance(answer.get("predictions"), list):
                    raise Failed(
                        f"POST /v1/models/{package}:predict with the example: {status} {json.dumps(answer)[:160]}"
                    )
            ran = offline_run.result()
            try:
                offline = json.loads(ran.stdout.strip().splitlines()[-1])
                offline_example, offline_predictions = offline["example"], offline["predictions"]
            except (ValueError, IndexError, KeyError, TypeError):
                why = "timed out" if ran.returncode is None else f"exit status {ran.returncode}: {ran.first_line()}"
                raise Failed(f"serve --predict-example (offline) gave no predictions ({why})") from None
            if offline_example != metadata["example"]:
                raise Failed("the served metadata example differs from the one serve --predict-example answers")
            difference = same_predictions(answer["predictions"], offline_predictions)
            if difference:
                raise Failed(f"served predictions differ from offline ones: {difference}")
        except Failed as exc:
            offline_run.result()  # the offline process ends (or times out) before the check does
            return False, str(exc)
    runtime = health.get("runtime", "?")
    return True, (
        f"healthy after {took:.1f} s ({runtime}); the metadata example predicted {_shown(answer['predictions'])} "
        "over HTTP, equal to serve --predict-example offline; server stopped"
    )
