"""The one runner's capture mode: what bench, hardware detection, git and the probes use."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from dlpick import processes


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_capture_keeps_stdout_and_stderr_apart() -> None:
    ran = processes.capture(
        [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"], 60
    )
    assert (ran.returncode, ran.stdout, ran.stderr, ran.error) == (3, "out\n", "err\n", None)
    assert ran.first_line() == "err"


def test_capture_kills_a_command_past_its_limit_and_what_it_started(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time\n"
        f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "time.sleep(60)\n"
    )
    ran = processes.capture([sys.executable, "-c", code], 3)
    assert ran.returncode is None  # killed at the limit, not left to finish its minute
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child), "the grandchild outlived the time limit"


def test_capture_kills_what_a_finished_command_left_running(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    code = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
    )
    ran = processes.capture([sys.executable, "-c", code], 30)
    assert ran.returncode == 0
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child), "a process the command left behind is still running"


def test_capture_all_runs_side_by_side_and_names_what_could_not_start(tmp_path: Path) -> None:
    """Each command waits for the other's flag: run one after the other, the first would wait alone."""

    def meet(me: str, other: str) -> list[str]:
        code = (
            "import pathlib, sys, time\n"
            f"pathlib.Path({str(tmp_path / me)!r}).touch()\n"
            "for _ in range(200):\n"
            f"    if pathlib.Path({str(tmp_path / other)!r}).exists(): print('met'); sys.exit()\n"
            "    time.sleep(0.05)\n"
            "print('alone')\n"
        )
        return [sys.executable, "-c", code]

    got = processes.capture_all({"a": meet("a", "b"), "b": meet("b", "a"), "c": ["/nonexistent/tool"]}, 60)
    assert [got[k].stdout for k in "ab"] == ["met\n", "met\n"]
    assert got["c"].returncode is None and "could not start /nonexistent/tool" in (got["c"].error or "")
    assert list(got) == ["a", "b", "c"]
