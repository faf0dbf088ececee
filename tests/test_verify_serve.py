"""verify's `serve` check against fake projects whose serve.py uses only the standard library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dlpick.verify import checks as verify
from dlpick.verify import serving
from tests.test_verify import KB, check, make_project, names

SERVE = '''"""Fake serve: KServe V1 on http.server; MODE says how it misbehaves."""
import argparse, json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

MODE = %r
PREDICTIONS = [{"label": "b", "probabilities": {"a": 0.25, "b": 0.75}}]

parser = argparse.ArgumentParser()
parser.add_argument("--run", required=True)
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=8080)
parser.add_argument("--predict-example", action="store_true")
args = parser.parse_args()
EXAMPLE = {"instances": [[1.0, 2.0]]}
if args.predict_example:
    offline = [{"label": "a", "probabilities": {"a": 0.6, "b": 0.4}}] if MODE == "differs" else PREDICTIONS
    example = {"instances": [[9.0, 9.0]]} if MODE == "another example" else EXAMPLE
    print(json.dumps({"example": example, "predictions": offline}))
    sys.exit(0)
if MODE == "dies":
    print("cannot load the model", flush=True)
    sys.exit(3)
Path(args.run, "serve.pid").write_text(str(__import__("os").getpid()))


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            self._send(200, {"status": "ok", "model": "fake_project", "runtime": "fake"})
        else:
            self._send(200, {"name": "fake_project", "example": EXAMPLE})

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self._send(200, {"predictions": PREDICTIONS})

    def log_message(self, *args):
        pass


server = HTTPServer((args.host, args.port), Handler)
if MODE == "own port":  # as generated projects do: it binds what it is given (0: any) and says which
    print(f"[serve] serving fake_project on http://{args.host}:{server.server_address[1]} (http.server)", flush=True)
server.serve_forever()
'''


def fake_serving_project(root: Path, mode: str = "") -> Path:
    project = make_project(root)
    (project / "src" / "fake_project" / "serve.py").write_text(SERVE % mode)
    return project


def run(project: Path, **kwargs: Any) -> verify.VerifyResult:
    return verify.verify(project, kb=KB, **kwargs)


def test_a_project_that_serves_passes_and_its_server_is_stopped(tmp_path: Path):
    project = fake_serving_project(tmp_path)
    run_dir = tmp_path / "run"
    result = run(project, run_dir=run_dir)
    assert result.passed, result.checks
    assert list(names(result)) == ["framework", "smoke-train", "metrics", "loss", "export", "serve", "project tests"]
    detail = check(result, "serve").detail
    assert "label b (p 0.750)" in detail and "equal to serve --predict-example offline" in detail, detail
    pid = int((run_dir / "serve.pid").read_text())
    psutil = pytest.importorskip("psutil")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("differs", "served predictions differ from offline ones"),
        ("another example", "the served metadata example differs"),
        ("dies", "the server exited with status 3"),
    ],
)
def test_a_server_that_disagrees_or_dies_fails_the_check(tmp_path: Path, mode: str, expected: str):
    result = run(fake_serving_project(tmp_path, mode))
    serve = check(result, "serve")
    assert not serve.passed and expected in serve.detail, serve.detail
    assert not result.passed


def test_a_project_without_serve_py_has_no_serve_check(tmp_path: Path):
    """Its template predates serving: nothing was served, so no `serve` check is reported (not a passed one)."""
    result = run(make_project(tmp_path))
    assert result.passed and "serve" not in names(result)


def test_a_failed_export_is_not_served(tmp_path: Path):
    project = fake_serving_project(tmp_path)
    (project / "src" / "fake_project" / "export.py").write_text("import sys\nsys.exit(1)\n")
    serve = check(run(project), "serve")
    assert not serve.passed and "no passing export" in serve.detail


def test_same_predictions_compares_labels_exactly_and_numbers_closely():
    one = [{"label": "a", "probabilities": {"a": 0.5, "b": 0.5}}]
    assert serving.same_predictions(one, json.loads(json.dumps(one))) == ""
    assert "label" in serving.same_predictions(one, [{"label": "b", "probabilities": {"a": 0.5, "b": 0.5}}])
    assert serving.same_predictions([{"value": 1.0}], [{"value": 1.0 + 1e-9}]) == ""
    assert serving.same_predictions([{"value": 1.0}], [{"value": 1.1}]) != ""
    assert serving.same_predictions([{"value": 1.0}], []) != ""


WAITING_TESTS = """import json, os, time
from pathlib import Path


def test_the_run_verify_trains_is_named_and_marked_done():
    run = Path(os.environ["DLPICK_VERIFY_RUN"])
    done = run / ".dlpick-verify.json"
    while not done.is_file():
        time.sleep(0.05)
    Path(os.environ["SEEN"]).write_text(json.dumps({"done": json.loads(done.read_text()),
                                                    "metrics": (run / "metrics.json").is_file()}))
"""


@pytest.mark.parametrize("export_passes", [True, False], ids=["export passed", "export failed"])
def test_the_project_tests_get_verifys_run_once_its_export_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, export_passes: bool
):
    """The project's serve tests reuse verify's run instead of training again: verify names it in
    DLPICK_VERIFY_RUN and writes `.dlpick-verify.json` once the export is checked, also when it failed
    (so a waiting test ends at once instead of hanging)."""
    project = make_project(tmp_path, tests=WAITING_TESTS, export_exit=None if export_passes else 1)
    seen = tmp_path / "seen.json"
    monkeypatch.setenv("SEEN", str(seen))
    result = run(project, run_dir=tmp_path / "run", tests_timeout=60)  # a missing mark: a failure, not a hang
    assert check(result, "project tests").passed, check(result, "project tests").detail
    assert check(result, "export").passed is export_passes
    assert json.loads(seen.read_text()) == {"done": {"export": export_passes}, "metrics": True}


SERVE_RUN_TESTS = """import json, os
from pathlib import Path


def test_the_given_run_is_exported_before_these_tests_start():
    run = Path(os.environ["SERVE_TEST_RUN"])
    seen = {"export.json": (run / "export.json").is_file(), "marker": (run / ".dlpick-verify.json").exists()}
    Path(os.environ["SEEN"]).write_text(json.dumps(seen))
"""
OTHER_TESTS = """import os


def test_the_other_tests_get_no_run():
    assert "SERVE_TEST_RUN" not in os.environ and "DLPICK_VERIFY_RUN" not in os.environ
"""


@pytest.mark.parametrize("export_passes", [True, False], ids=["export passed", "export failed"])
def test_the_serve_tests_get_verifys_run_in_serve_test_run_once_it_is_exported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, export_passes: bool
):
    """A project whose tests/test_serve.py reads SERVE_TEST_RUN (its README's variable) gets verify's run there,
    after the export check (passed or not: the test decides), and no marker file; its other tests run beside
    the training with no run named."""
    project = make_project(tmp_path, tests=OTHER_TESTS, export_exit=None if export_passes else 1)
    (project / "tests" / "test_serve.py").write_text(SERVE_RUN_TESTS)
    seen = tmp_path / "seen.json"
    monkeypatch.setenv("SEEN", str(seen))
    monkeypatch.delenv("SERVE_TEST_RUN", raising=False)
    result = run(project, run_dir=tmp_path / "run", tests_timeout=60)
    tests = check(result, "project tests")
    assert tests.passed and "tests/test_serve.py: 1 passed" in tests.detail, tests.detail
    assert check(result, "export").passed is export_passes
    assert json.loads(seen.read_text()) == {"export.json": True, "marker": False}


def test_failing_serve_tests_fail_the_project_tests(tmp_path: Path):
    project = make_project(tmp_path, tests=OTHER_TESTS)
    (project / "tests" / "test_serve.py").write_text("# SERVE_TEST_RUN\ndef test_serving():\n    assert False\n")
    tests = check(run(project, run_dir=tmp_path / "run", tests_timeout=60), "project tests")
    assert not tests.passed and "tests/test_serve.py" in tests.detail, tests.detail


def test_a_server_that_binds_its_own_port_is_asked_for_port_0_and_found_where_it_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """No port is picked by verify and then bound by the server (another program could take it between)."""

    def no_picking() -> int:
        raise AssertionError("verify picked a port for a server that binds its own")

    monkeypatch.setattr(serving, "free_port", no_picking)
    project = fake_serving_project(tmp_path, "own port")
    serve = project / "src" / "fake_project" / "serve.py"
    text = serve.read_text().replace('"--port", type=int', '"--port", type=port_number')
    serve.write_text(text.replace("MODE = ", "def port_number(text):\n    return int(text)\n\n\nMODE = ", 1))
    result = run(project)
    assert check(result, "serve").passed, check(result, "serve").detail
