"""No generated program picks a free port and hands it to another process to bind (the kernel can give
that port to any other socket in between): the project's serve tests let the server bind port 0 and
read the port it says; JAX's launcher takes the coordinator port from outside the automatic range."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from dlpick.project import render
from tests import ports


@pytest.fixture(scope="module")
def jax_project(tmp_path_factory: pytest.TempPathFactory) -> render.Rendered:
    return render.render("jax", "tabular-classification", tmp_path_factory.mktemp("ports") / "port-demo")


def _launch_module(rendered: render.Rendered):
    path = rendered.project_dir / "src" / rendered.name.package / "launch.py"
    spec = importlib.util.spec_from_file_location(f"{rendered.name.package}.launch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Started:
    """Popen's stand-in: records each rank's environment and exits at once."""

    envs: list[dict] = []

    def __init__(self, command, env):
        self.envs.append(env)
        self.returncode = 0

    def poll(self):
        return 0

    def wait(self):
        return 0


def test_the_jax_launcher_gives_every_rank_one_coordinator_outside_the_automatic_range(jax_project, monkeypatch):
    launch = _launch_module(jax_project)
    _Started.envs = []
    monkeypatch.setattr(launch.subprocess, "Popen", _Started)
    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
    assert launch.main(["--processes", "3", "--out", "runs/x"]) == 0
    addresses = {env["JAX_COORDINATOR_ADDRESS"] for env in _Started.envs}
    assert len(_Started.envs) == 3 and len(addresses) == 1
    port = int(addresses.pop().rsplit(":", 1)[1])
    low, high = ports.ephemeral_range()
    assert not low <= port <= high, f"{port} is in the range the kernel hands out by itself"


def test_the_jax_launcher_keeps_a_coordinator_address_the_user_set(jax_project, monkeypatch):
    launch = _launch_module(jax_project)
    _Started.envs = []
    monkeypatch.setattr(launch.subprocess, "Popen", _Started)
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "10.0.0.5:23456")
    assert launch.main(["--processes", "2", "--out", "runs/x"]) == 0
    assert {env["JAX_COORDINATOR_ADDRESS"] for env in _Started.envs} == {"10.0.0.5:23456"}


@pytest.mark.parametrize("framework", ["pytorch", "jax", "caffe"])
def test_the_projects_serve_tests_let_the_server_bind_its_own_port(tmp_path: Path, framework: str):
    rendered = render.render(framework, "tabular-regression", tmp_path / "serve-demo")
    text = (rendered.project_dir / "tests" / "test_serve.py").read_text()
    assert '"--port", "0"' in text
    assert ".bind(" not in text and "socket.socket(" not in text, "a port is picked before the server binds it"


def test_the_port_said_is_read_from_the_servers_log(tmp_path: Path):
    rendered = render.render("pytorch", "tabular-regression", tmp_path / "serve-demo")
    sys.path.insert(0, str(rendered.project_dir / "src"))
    try:
        spec = importlib.util.spec_from_file_location("serve_tests", rendered.project_dir / "tests" / "test_serve.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(rendered.project_dir / "src"))
        for name in [name for name in sys.modules if name.split(".")[0] == rendered.name.package]:
            del sys.modules[name]
    log = tmp_path / "serve.log"
    log.write_text("[serve] loading\n")
    assert module._port_said(log) is None
    log.write_text("[serve] loading\n[serve] serving serve_demo on http://127.0.0.1:41234 (http.server)\n")
    assert module._port_said(log) == 41234
