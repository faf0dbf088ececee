"""The one runner's capture mode: what bench, hardware detection, git and the probes use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

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


def _finished(pid: int) -> bool:
    """Gone, or a zombie nobody has reaped yet (it runs nothing)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32", reason="POSIX signals")
def test_a_step_that_ignores_sigterm_past_its_limit_is_killed_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM is ignored from the step's first instruction (an ignored signal is inherited), so the
    polite stop can never work; run_step must SIGKILL it once the grace period is over, not hang."""
    monkeypatch.setattr(processes, "KILL_GRACE", 0.5)
    pidfile = tmp_path / "step.pid"
    code = f"import os, pathlib, time; pathlib.Path({str(pidfile)!r}).write_text(str(os.getpid())); time.sleep(600)"
    got: dict[str, processes.Ran] = {}
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        worker = threading.Thread(
            target=lambda: got.update(ran=processes.run_step([sys.executable, "-c", code], tmp_path, 0.5)), daemon=True
        )
        worker.start()
        worker.join(120)  # not a timing: only a hang would take this long
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not worker.is_alive(), "dlpick hangs on a step that ignores SIGTERM"
    assert got["ran"].returncode is None  # stopped at its limit, reported as a time-out
    if pidfile.exists():
        assert _finished(int(pidfile.read_text()))


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX sessions")
def test_an_interrupted_steps_tree_is_gone_without_a_subreaper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A grandchild in a session of its own escapes the step's process group; without a subreaper it is
    re-parented to init when the step dies, so it must be found (and killed) before."""
    monkeypatch.setattr(processes, "become_subreaper", lambda: False)
    monkeypatch.setattr(processes, "_subreaper", False)
    pidfile = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], start_new_session=True,"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
        "print('started', flush=True)\n"
        "time.sleep(600)\n"
    )

    def interrupt(kind: str, line: object) -> None:
        if kind == "output" and line == "started":
            raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            processes.run_step([sys.executable, "-c", code], tmp_path, 120, on_event=interrupt)
        grandchild = int(pidfile.read_text())
        assert _finished(grandchild), "the step's grandchild outlived the interrupt"
    finally:
        if pidfile.exists() and not _finished(int(pidfile.read_text())):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_a_signal_inside_the_deferred_block_is_delivered_after_it() -> None:
    before = signal.getsignal(signal.SIGTERM)
    finished = []
    with pytest.raises(processes.Interrupted) as info:
        with processes.signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGHUP)
            finished.append("the block ran to its end")
    assert finished == ["the block ran to its end"]
    assert info.value.signum == signal.SIGTERM  # the first that came
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_deferred_block_leaves_an_ignored_signal_ignored() -> None:
    """nohup's SIGHUP: ignored before the block, ignored inside it, and not delivered after it."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        try:
            with processes.signals_deferred():
                os.kill(os.getpid(), signal.SIGHUP)
        except processes.Interrupted:
            pytest.fail("a SIGHUP the caller ignores was delivered after the deferred block")
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_step_is_stopped_even_when_a_signal_left_its_popen_lock_taken():
    """A signal raised as `Interrupted` inside `proc.wait(0.2)` just after Popen took its wait lock, and
    before its `try`, leaves that lock taken for good (CPython's bpo-29988 race). Stopping the step must
    not wait on that lock: `dlpick verify` once hung there after a SIGTERM (seen in tests/faults/test_signals)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    proc._waitpid_lock.acquire()  # what the race leaves behind
    stopped = threading.Event()
    stopper = threading.Thread(target=lambda: (processes.kill_tree(proc, grace=None), stopped.set()), daemon=True)
    try:
        stopper.start()
        assert stopped.wait(60), "kill_tree waited on the Popen's lock that the signal left taken"
        assert proc.returncode == -signal.SIGKILL
    finally:
        proc._waitpid_lock.release()
        proc.kill()
        stopper.join(10)


def test_reap_times_out_on_a_running_step_and_returns_its_status_once_it_ends():
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read(); sys.exit(3)"], stdin=subprocess.PIPE)
    assert processes.reap(proc, 0.05) is None and proc.returncode is None
    proc.stdin.close()
    assert processes.reap(proc) == 3 == proc.returncode


def test_a_step_started_while_another_thread_ends_one_is_never_taken_for_an_orphan(monkeypatch: pytest.MonkeyPatch):
    """A step that ends kills dlpick's new children it did not start (orphans). One that another thread is
    starting at that moment is no orphan: `verify`'s server, started while the offline --predict-example
    ended, was killed before its registration (and its reaped exit read as status 0, with no output)."""
    if not processes.become_subreaper():
        pytest.skip("needs Linux's child subreaper")
    real = subprocess.Popen
    before = set(processes._direct_children())
    ending: list[threading.Thread] = []

    def popen(*args, **kwargs):
        proc = real(*args, **kwargs)
        # Another thread's step ends now, between the fork and the registration of this one.
        ending.append(threading.Thread(target=processes.kill_orphans, args=(before, time.time() - 60)))
        ending[0].start()
        ending[0].join(1)  # a step that may run now has run; one that waits for the registration waits
        return proc

    monkeypatch.setattr(subprocess, "Popen", popen)
    proc = processes._start([sys.executable, "-c", "import time; time.sleep(60)"], None, None, subprocess.PIPE)
    monkeypatch.undo()
    try:
        ending[0].join(30)
        assert not ending[0].is_alive()
        assert proc.poll() is None, f"the step being started was killed as an orphan (status {proc.returncode})"
    finally:
        processes.kill_tree(proc, grace=None)
        with processes._active_lock:
            processes._active.discard(proc.pid)
