"""A generated project's server with a stub model (no framework): the router's 4xx answers to hostile
bodies, the command line's one-line errors, and (FastAPI + uvicorn, loopback only) clients that send
their headers a byte at a time are cut off while /health keeps answering, also with every prediction
thread busy. Issues 24 and 27."""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import queue
import selectors
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlpick.project import render

PACKAGE = "serve_router"
PREDICT = f"/v1/models/{PACKAGE}:predict"
TABLE = {
    "task": "tabular-classification",
    "classes": ["a", "b"],
    "feature_names": ["f0", "f1", "f2"],
    "vocabulary": {},
    "stats": {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
    "input_shape": [3],
    "n_outputs": 2,
}
IMAGE = {**TABLE, "task": "image-classification", "feature_names": [], "stats": {}, "input_shape": [1, 8, 8]}

# The real serve.main with load_forward replaced by a stub: each prediction waits for RELEASE to exist.
STUB_SERVER = """
import json, sys, threading, time
from pathlib import Path
import numpy as np
from serve_router import serve

serve.HEAD_TIMEOUT = serve.BODY_TIMEOUT = float(sys.argv[1])
release = Path(sys.argv[2])

def load_forward(run):
    outputs = json.loads((run / "preprocess.json").read_text())["n_outputs"]

    def forward(x):
        (release.parent / f"started-{threading.get_ident()}-{time.monotonic_ns()}").touch()
        while not release.exists():
            time.sleep(0.01)
        return np.zeros((len(x), outputs))
    return "stub", forward

serve.load_forward = load_forward
sys.exit(serve.main(sys.argv[3:]))
"""


def make_run(project: Path, run: Path, preprocess: dict) -> Path:
    run.mkdir(parents=True)
    (run / "config.yaml").write_text((project / "configs" / "default.yaml").read_text())
    (run / "preprocess.json").write_text(json.dumps(preprocess))
    return run


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    parent = tmp_path_factory.mktemp("serve-router")
    tasks = ("tabular-classification", "image-classification")
    projects = {task: render.render("pytensor", task, parent / task, name="Serve router").project_dir for task in tasks}
    # Caffe's project serves on http.server (its Debian environment has no FastAPI); the stub model needs no Caffe
    projects["caffe"] = render.render("caffe", tasks[0], parent / "caffe", name="Serve router").project_dir
    return projects


@pytest.fixture
def service(projects, tmp_path, monkeypatch):
    """`serve.Service` of a tabular project in this process, its model a stub."""
    yield from _service(projects["tabular-classification"], TABLE, tmp_path, monkeypatch)


@pytest.fixture
def image_service(projects, tmp_path, monkeypatch):
    yield from _service(projects["image-classification"], IMAGE, tmp_path, monkeypatch)


def _service(project: Path, preprocess: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import numpy as np

    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project / "src"))
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        monkeypatch.delitem(sys.modules, name)
    from serve_router import serve

    monkeypatch.setattr(serve, "load_forward", lambda run: ("stub", lambda x: np.zeros((len(x), 2))))
    service = serve.Service(make_run(project, tmp_path / "run", preprocess))
    service.load()
    assert service.model is not None, service.error
    yield serve, service
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def post(service, body: bytes) -> tuple[int, dict]:
    return service[1].route("POST", PREDICT, body)


ROW = [1.0, 2.0, 3.0]
BAD_TABLES = {
    "1e999 (infinity)": (b'{"instances": [[1e999, 2, 3]]}', 400),
    "-1e999 in an object": (b'{"instances": [{"f0": -1e999, "f1": 2, "f2": 3}]}', 400),
    "1e999 alone": (b'{"instances": [1e999]}', 400),
    "a 401-digit integer": (b'{"instances": [[' + b"9" * 401 + b", 2, 3]]}", 400),
    "a 5000-digit integer": (b'{"instances": [[' + b"9" * 5000 + b", 2, 3]]}", 400),
    "deep JSON": (b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400),
    "ragged rows": (json.dumps({"instances": [ROW, ROW[:2]]}).encode(), 400),
    "a row too long": (json.dumps({"instances": [ROW, [*ROW, 4.0]]}).encode(), 400),
    "rows of rows": (json.dumps({"instances": [[ROW, ROW, ROW]]}).encode(), 400),
    "a column of lists": (json.dumps({"instances": [{"f0": [1], "f1": 2, "f2": 3}]}).encode(), 400),
    "one instance too many": (json.dumps({"instances": [ROW] * 1025}).encode(), 413),
}


@pytest.mark.parametrize("case", sorted(BAD_TABLES))
def test_hostile_bodies_get_4xx_with_one_line(service, case: str):
    body, expected = BAD_TABLES[case]
    status, answer = post(service, body)
    assert status == expected, (case, status, answer)
    assert isinstance(answer["error"], str) and "\n" not in answer["error"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
    | st.sampled_from([10**400, -(10**400), 1e308, "f0", "b64"]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.sampled_from(["f0", "f1", "f2", "x", "b64"]), inner,
                                                                max_size=4),
    max_leaves=20,
)  # fmt: skip
raw = st.sampled_from([b"1e999", b"-1e999", b"NaN", b"Infinity", b"[" * 5000, b"\xff", b'{"instances": [1e999]}'])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values.map(lambda v: json.dumps({"instances": v}).encode()),
                      json_values.map(lambda v: json.dumps(v).encode()), raw))  # fmt: skip
def test_any_body_gets_200_or_a_4xx_with_one_line(service, body: bytes):
    status, answer = post(service, body)
    assert status in (200, 400, 413), (status, answer)
    if status != 200:
        assert isinstance(answer["error"], str) and "\n" not in answer["error"]


def test_the_most_instances_still_get_answers(service):
    status, answer = post(service, json.dumps({"instances": [ROW] * 1024}).encode())
    assert status == 200 and len(answer["predictions"]) == 1024


def png(size: int) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (size, size), 7).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_request_has_a_pixel_budget_over_all_its_images(image_service, monkeypatch):
    serve, _ = image_service
    monkeypatch.setattr(serve, "MAX_REQUEST_PIXELS", 3 * 64 * 64)
    assert post(image_service, json.dumps({"instances": [png(64)] * 3}).encode())[0] == 200
    status, answer = post(image_service, json.dumps({"instances": [png(64)] * 4}).encode())
    assert status == 413 and "instances[3]" in answer["error"], answer


# --- the command line ---------------------------------------------------------------------------------


def serve_command(project: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": "src", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", f"{PACKAGE}.serve", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    # argparse's usage lines may come first, as for any option
    lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith(("usage:", " "))]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_a_bad_port_is_one_line(projects, tmp_path: Path, port: str):
    project = projects["tabular-classification"]
    run = make_run(project, tmp_path / "run", TABLE)
    assert "--port" in one_line(serve_command(project, "--run", str(run), "--port", port))


def test_a_busy_port_is_one_line(projects, tmp_path: Path):
    project = projects["tabular-classification"]
    run = make_run(project, tmp_path / "run", TABLE)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert "cannot listen" in one_line(serve_command(project, "--run", str(run), "--port", str(port)))


@pytest.mark.parametrize("what", ["missing", "folder", "fifo"])
def test_predict_of_what_is_no_file_is_one_line(projects, tmp_path: Path, what: str):
    project = projects["tabular-classification"]
    run = make_run(project, tmp_path / "run", TABLE)
    target = tmp_path / "request"
    if what == "folder":
        target.mkdir()
    elif what == "fifo":
        os.mkfifo(target)
    assert "--predict" in one_line(serve_command(project, "--run", str(run), "--predict", str(target)))


# --- slow clients and load (FastAPI + uvicorn, and Caffe's http.server; loopback) ----------------------------


class Server:
    """The stub server in a child process on a port the kernel picked (--port 0: no race for a free port)."""

    def __init__(self, project: Path, run: Path, head_timeout: float, *options: str) -> None:
        self.release = run / "release"
        env = {**os.environ, "PYTHONPATH": "src", "PYTHONDONTWRITEBYTECODE": "1"}
        command = [sys.executable, "-c", STUB_SERVER, str(head_timeout), str(self.release), "--run", str(run),
                   "--port", "0", *options]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=project, env=env, stderr=subprocess.PIPE, text=True)
        # Its log is read line by line in a thread: select() on the pipe, then readline(), would miss
        # a line that arrived in the same chunk as the one before (it waits in Python's buffer, and
        # select() sees an empty pipe), which a loaded machine makes likely.
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.port = self._port()
        deadline = time.monotonic() + 60
        while health(self.port, timeout=5)[0] != 200:  # the model loads in the background
            assert time.monotonic() < deadline and self.process.poll() is None

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put("")  # the server ended

    def _port(self) -> int:
        deadline = time.monotonic() + 60
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("the server did not say where it listens within 60 s") from None
            assert line, "the server ended before it listened"
            if " on http://" in line:
                self.backend = line.rstrip("\n").rsplit(" (", 1)[-1].rstrip(")")  # a whole line: log() writes once
                return int(line.split(" on http://", 1)[1].split()[0].rsplit(":", 1)[1])

    def stop(self) -> None:
        self.release.touch()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(10)  # the pipe ends with the server
        self.process.stderr.close()


def health(port: int, timeout: float = 10) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/health")
        response = connection.getresponse()
        return response.status, response.read().decode()
    except OSError as exc:
        return 0, repr(exc)
    finally:
        connection.close()


@pytest.fixture(params=["FastAPI + uvicorn", "http.server"])
def stub_server(projects, tmp_path: Path, request):
    if request.param == "FastAPI + uvicorn":  # the quick suites on other Pythons install dlpick's test needs only
        pytest.importorskip("fastapi")
        pytest.importorskip("uvicorn")
    project = projects["tabular-classification" if request.param == "FastAPI + uvicorn" else "caffe"]
    server = Server(project, make_run(project, tmp_path / "run", TABLE), 1.0)
    assert server.backend == request.param
    yield server
    server.stop()


HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"x" * 300 + b"\r\n\r\n"


def test_clients_that_send_headers_byte_by_byte_are_cut_off_while_health_answers(stub_server: Server):
    """Four clients send a byte of their request head every 50 ms (it would take 18 s): the server
    closes each, without an answer, once its head deadline (1 s here) has passed; /health answers
    200 all along. Bounded: at most len(HEAD) rounds."""
    slow = [socket.create_connection(("127.0.0.1", stub_server.port), timeout=10) for _ in range(4)]
    open_ = {client: 0 for client in slow}  # bytes sent
    answers: list[bytes] = []
    with selectors.DefaultSelector() as selector:
        for client in slow:
            selector.register(client, selectors.EVENT_READ)
        for _ in range(len(HEAD)):
            if not open_:
                break
            for client in list(open_):
                try:
                    client.sendall(HEAD[open_[client] : open_[client] + 1])
                    open_[client] += 1
                except OSError:  # reset: closed by the server
                    del open_[client]
            for key, _ in selector.select(timeout=0.05):  # waits for the server to close one, at most 50 ms
                data = key.fileobj.recv(4096)
                answers.append(data)
                if key.fileobj in open_:
                    del open_[key.fileobj]
                selector.unregister(key.fileobj)
            assert health(stub_server.port)[0] == 200
    for client in slow:
        client.close()
    assert not open_, f"{len(open_)} slow clients still connected after sending their whole head"
    assert not any(answers), answers  # closed, never answered


def test_health_answers_while_every_prediction_thread_is_busy(stub_server: Server):
    """50 predictions that block (more than the server's prediction threads and than anyio's default
    pool of 40): /health still answers 200; once released, every prediction gets 200 or 503 (busy)."""
    results: list[int] = []
    body = json.dumps({"instances": [ROW]}).encode()

    def predict() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", stub_server.port, timeout=60)
        try:
            connection.request("POST", PREDICT, body, {"Content-Type": "application/json"})
            results.append(connection.getresponse().status)
        except OSError:
            results.append(0)
        finally:
            connection.close()

    threads = [threading.Thread(target=predict) for _ in range(50)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(list(stub_server.release.parent.glob("started-*"))) < 4:  # the prediction threads are all busy
        assert time.monotonic() < deadline, "no prediction started within 30 s"
        time.sleep(0.01)
    try:
        status, text = health(stub_server.port, timeout=10)
        assert status == 200, text
    finally:
        stub_server.release.touch()
        for thread in threads:
            thread.join(60)
    assert len(results) == 50 and set(results) <= {200, 503}, results


def test_a_body_that_does_not_come_gets_408_and_health_answers(projects, tmp_path: Path):
    """FastAPI: a client that sends its head and 5 of 100 body bytes, then nothing: 408 after the body
    deadline (1 s here), the connection closed; /health answers meanwhile."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    project = projects["tabular-classification"]
    server = Server(project, make_run(project, tmp_path / "run", TABLE), 1.0)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as client:
            client.sendall(f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n".encode() + b'{"ins')
            assert health(server.port)[0] == 200
            answer = b""
            while chunk := client.recv(4096):  # until the server closes it (or the 30 s socket timeout)
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    finally:
        server.stop()


@pytest.mark.parametrize("framework", sorted(render.list_templates()))
def test_a_project_carries_the_one_server_its_environment_installs(framework: str, tmp_path: Path):
    """A project serves on FastAPI + uvicorn when its requirements install them, else (Caffe's Debian root)
    on http.server: never both, and never a fallback chosen at run time."""
    template = render.list_templates()[framework]
    project = render.render(framework, template.tasks[0], tmp_path / framework, name="Serve router").project_dir
    serve = (project / "src" / PACKAGE / "serve.py").read_text()
    installs = any("fastapi" in path.read_text() for path in project.glob("requirements*.txt"))
    assert ("def serve_fastapi(" in serve) == installs, framework
    assert ("def serve_stdlib(" in serve) != installs, framework
    assert ("http.server" in serve) != installs and "find_spec" not in serve and "--stdlib" not in serve
