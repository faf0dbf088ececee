"""The one way dlpick starts, time-limits and stops child processes, and how it meets signals.

- Every step runs in a session of its own; stopping it kills the whole tree: its process group,
  every descendant seen while it ran, and, on Linux, any orphan it left behind (dlpick makes
  itself a child subreaper, so a grandchild that called `setsid` is re-parented to dlpick
  instead of init, where it can still be found and killed).
- SIGINT, SIGTERM and SIGHUP all become `Interrupted` (a KeyboardInterrupt) in the main
  thread, so every `finally` that removes a temporary folder runs alike for Ctrl-C, a
  cancelled CI job, `timeout`, `docker stop` and a closed terminal; the exit status is
  128 + the signal number (130, 143, 129).
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

KILL_GRACE = 5.0
PR_SET_CHILD_SUBREAPER = 36
HANDLED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
OnEvent = Callable[[str, Any], None]
K = TypeVar("K")

_active: set[int] = set()  # pids of the steps running now (any thread)
_active_lock = threading.Lock()
_subreaper = False
_outcome: list[str] = []  # what a command has done so far, said if a signal stops it
_received: list[int] = []  # the signals `_raise` turned into `Interrupted`, first first


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP arrived; `exit_code` is 128 + the signal number."""

    def __init__(self, signum: int = int(signal.SIGINT)) -> None:
        super().__init__(signum)
        self.signum = signum


def stopped(signum: int) -> tuple[str, int]:
    """What a signal did to dlpick, in a word, and the exit status it gives (DESIGN.md: 130, 143, 129)."""
    word = {2: "interrupted", 15: "terminated", 1: "hung up"}.get(signum, f"stopped by signal {signum}")
    return word, 128 + signum


def record(done: str) -> None:
    """Note what is done and stays done (e.g. "the project is complete at DIR"), for an interrupt's message."""
    _outcome.append(done)


@contextlib.contextmanager
def doing(unfinished: str) -> Iterator[None]:
    """If the block is stopped, the interrupt's message says `unfinished` (e.g. what was cleaned up)."""
    _outcome.append(unfinished)
    yield  # an exception leaves the note for the message
    with contextlib.suppress(ValueError):
        _outcome.remove(unfinished)


def outcome() -> str:
    """What was done before an interrupt: the recorded notes, or that nothing was written."""
    return "; ".join(_outcome) or "nothing was written"


def _raise(signum: int, frame: Any) -> None:
    if frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        # Inside the import system an exception may land in a module lock's weakref callback, where
        # Python prints it and goes on: the signal would be lost. Deliver it again a moment later.
        again = threading.Timer(0.05, os.kill, (os.getpid(), signum))
        again.daemon = True  # never a thread that interpreter shutdown waits for
        again.start()
        return
    _received.append(signum)
    raise Interrupted(signum)


def received() -> int | None:
    """The first signal delivered as `Interrupted` in this process, if any: where a library swallowed the
    exception (typer turns one in its argument parsing into a silent exit 130), the caller still knows."""
    return _received[0] if _received else None


def install_signal_handlers() -> None:
    """SIGINT, SIGTERM and SIGHUP raise `Interrupted` in the main thread (call from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in HANDLED:
        with contextlib.suppress(OSError, ValueError):
            if signal.getsignal(sig) is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored
                signal.signal(sig, _raise)


def restore_default_signals() -> None:
    """Once the command has finished (or stopped), a late signal ends the process as the system does:
    nothing is left to clean up, and it must not land in the interpreter's own shutdown as a traceback."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in HANDLED:
        with contextlib.suppress(OSError, ValueError):
            if signal.getsignal(sig) is _raise:
                signal.signal(sig, signal.SIG_DFL)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP while a few renames run, then deliver the first that came."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for sig in HANDLED:
        with contextlib.suppress(OSError, ValueError):
            if signal.getsignal(sig) is not signal.SIG_IGN:  # an ignored signal stays ignored
                previous[sig] = signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if caught:
        raise Interrupted(caught[0])


def become_subreaper() -> bool:
    """Linux: orphaned descendants are re-parented to this process, so they can be found and killed."""
    global _subreaper
    if _subreaper or sys.platform != "linux":
        return _subreaper
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        _subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        _subreaper = False
    return _subreaper


def _descendants(pid: int) -> list[Any]:
    try:
        import psutil

        return list(psutil.Process(pid).children(recursive=True))
    except Exception:  # noqa: BLE001 - psutil missing or the process gone: nothing to add
        return []


def _kill_processes(processes: Sequence[Any]) -> None:
    """SIGKILL psutil processes (their own children first found), and reap what is ours."""
    if not processes:
        return
    import psutil

    everything = {p.pid: p for p in processes}
    for process in processes:
        with contextlib.suppress(psutil.Error):
            everything.update({child.pid: child for child in process.children(recursive=True)})
    for process in everything.values():
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(list(everything.values()), timeout=3)


def _direct_children() -> dict[int, Any]:
    try:
        import psutil

        return {p.pid: p for p in psutil.Process().children()}
    except Exception:  # noqa: BLE001 - psutil missing
        return {}


def kill_orphans(before: set[int], since: float) -> None:
    """Kill the orphans a step left: processes re-parented to dlpick (a subreaper) while it ran.

    They are dlpick's children that it did not start itself: new since the step began (`before`
    holds the children there were then, `since` its start on the `time.time()` clock) and
    not a step that is running now.
    """
    if not _subreaper:
        return
    import psutil

    orphans = []
    # Under the lock `_start` holds from fork to registration: a step another thread is starting is
    # either not a child yet or already active, never a child that looks like an orphan.
    with _active_lock:
        for pid, process in _direct_children().items():
            with contextlib.suppress(psutil.Error):
                if pid not in before and pid not in _active and process.create_time() >= since - 1:
                    orphans.append(process)
    _kill_processes(orphans)


def kill_all_descendants() -> None:
    """On the way out (an interrupt, an error): nothing dlpick started survives it."""
    _kill_processes(_descendants(os.getpid()))


def kill_tree(proc: subprocess.Popen[Any], seen: Sequence[Any] = (), grace: float | None = KILL_GRACE) -> None:
    """Stop a step: SIGTERM its process group (politely, `grace` seconds), then SIGKILL the group
    and every descendant seen while it ran."""
    group = proc.pid if hasattr(os, "killpg") else None
    # Its descendants now, while they are still its: once it dies, one in a session of its own is
    # re-parented (to init, without a subreaper) and no longer found under it.
    found = [*seen, *_descendants(proc.pid)]
    signals = [(signal.SIGTERM, grace), (signal.SIGKILL, None)] if grace else [(signal.SIGKILL, None)]
    for sig, wait in signals:
        if group is None:
            proc.kill()
            break
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            break
        if wait is not None:
            reap(proc, wait)
    reap(proc)
    _kill_processes([p for p in [*found, *_descendants(proc.pid)] if _alive(p)])
    if group is not None:  # SIGKILL is delivered asynchronously; let the group go
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(0.02)


def reap(proc: subprocess.Popen[Any], timeout: float | None = None) -> int | None:
    """`proc.wait(timeout)` (None on a time-out) without Popen's own lock. A signal that lands inside an
    earlier `proc.wait(t)` or `proc.poll()`, just after it took that lock and before its `try`, raises
    `Interrupted` there and leaves the lock taken for good (the race of CPython's bpo-29988); the next
    `proc.wait()` then blocks forever. Seen once: `dlpick verify` hung after a SIGTERM in a loaded run of
    tests/faults/test_signals.py."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while proc.returncode is None:
        try:
            pid, status = os.waitpid(proc.pid, 0 if deadline is None else os.WNOHANG)
        except ChildProcessError:  # reaped already (by Popen, in another thread)
            return proc.poll()
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
        elif deadline is not None and time.monotonic() >= deadline:
            return None
        else:
            time.sleep(0.01)
    return proc.returncode


def _alive(process: Any) -> bool:
    try:
        return bool(process.is_running())
    except Exception:  # noqa: BLE001
        return False


def kill_group(proc: subprocess.Popen[Any], drain: float = 1.0) -> None:
    """SIGKILL a child started with start_new_session=True and all it started, then drain its pipes."""
    kill_tree(proc, grace=None)
    # A process that escaped everything may still hold a pipe open: give up after `drain` seconds.
    with contextlib.suppress(subprocess.TimeoutExpired, ValueError, OSError):
        proc.communicate(timeout=drain)


# Terminal escape sequences (CSI, OSC, two-byte) and control characters other than tab.
ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: window titles, links
    r"|\x1b[@-Z\\-_]"  # other two-byte sequences
    r"|[\x00-\x08\x0a-\x1f\x7f]"  # control characters but tab
)


def plain(text: str) -> str:
    """A child's output line without colours, cursor moves or other control characters."""
    return ESCAPES.sub("", text)


def _start(
    cmd: Sequence[str], cwd: Path | None, env: dict[str, str] | None, stderr: int, pass_fds: Sequence[int] = ()
) -> subprocess.Popen[str]:
    """Start `cmd` in a session of its own (so its whole tree can be stopped), as a running step.

    It is registered as active under the same lock `kill_orphans` holds: a step that another thread
    ends meanwhile cannot take this new child, seen before its registration, for an orphan."""
    with _active_lock:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            errors="replace",
            start_new_session=True,
            pass_fds=tuple(pass_fds),
        )
        _active.add(proc.pid)
    return proc


@dataclass
class Captured:
    """A finished command's output, stdout and stderr apart."""

    returncode: int | None  # None: killed after the time limit, or never started (see `error`)
    stdout: str = ""
    stderr: str = ""
    error: str | None = None  # why it could not start

    def first_line(self) -> str:
        return next((line.strip() for line in (self.stderr or self.stdout).splitlines() if line.strip()), "")


def capture_all(
    commands: Mapping[K, Sequence[str]],
    timeout: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    drain: float = 1.0,
) -> dict[K, Captured]:
    """Run `commands` side by side to their end (all within `timeout` seconds), capturing their output.

    Each runs in its own session; one that runs past the limit, and everything of each one's tree
    still running when it ends or when a signal stops dlpick, is killed like a step's.
    """
    become_subreaper()
    started = time.time()
    before = set(_direct_children()) if _subreaper else set()
    results: dict[K, Captured] = {}
    running: dict[K, subprocess.Popen[str]] = {}
    try:
        for key, cmd in commands.items():
            try:
                running[key] = _start(cmd, cwd, env, subprocess.PIPE)
            except OSError as exc:
                results[key] = Captured(None, error=f"could not start {cmd[0]}: {exc}")
        deadline = time.monotonic() + timeout
        for key, proc in running.items():
            try:
                out, err = proc.communicate(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_tree(proc, grace=None)
                out, err = "", ""
                with contextlib.suppress(subprocess.TimeoutExpired, ValueError, OSError):
                    out, err = proc.communicate(timeout=drain)
                results[key] = Captured(None, out or "", err or "")
                continue
            kill_tree(proc, grace=None)  # whatever it left running in its group
            results[key] = Captured(proc.returncode, out, err)
    except BaseException:
        for proc in running.values():
            kill_tree(proc, grace=None)
        raise
    finally:
        with _active_lock:
            _active.difference_update(proc.pid for proc in running.values())
        kill_orphans(before, started)
    return {key: results[key] for key in commands}


def capture(
    cmd: Sequence[str], timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None, drain: float = 1.0
) -> Captured:
    """Run one command to its end within `timeout` seconds, capturing stdout and stderr apart."""
    return capture_all({0: cmd}, timeout, cwd, env, drain)[0]


@dataclass
class Ran:
    returncode: int | None  # None: killed after the time limit
    seconds: float
    tail: list[str]

    def last(self, count: int = 3) -> str:
        lines = [line for line in self.tail if line.strip()]
        return " | ".join(lines[-count:]) or "no output"


def run_step(
    cmd: list[str],
    cwd: Path,
    timeout: float,
    on_event: OnEvent | None = None,
    cancel: threading.Event | None = None,
    env: dict[str, str] | None = None,
    pass_fds: Sequence[int] = (),
) -> Ran:
    """Run `cmd` in a new session, streaming its output lines to `on_event("output", line)`.

    Its whole tree is killed after `timeout` seconds, on a signal, or when `cancel` is set (a step
    running in another thread has no signal of its own); when it ends, whatever it left running
    is killed too. `pass_fds` stay open in the child (a lock it must keep holding if dlpick dies).
    """
    become_subreaper()
    start, started = time.monotonic(), time.time()
    before = set(_direct_children()) if _subreaper else set()
    proc = _start(cmd, cwd, env, subprocess.STDOUT, pass_fds)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def read() -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in stdout:
                lines.put(plain(line.rstrip("\n").rsplit("\r", 1)[-1]))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    tail: deque[str] = deque(maxlen=200)
    seen: dict[int, Any] = {}

    def drain() -> None:
        while True:
            try:
                line = lines.get_nowait()
            except queue.Empty:
                return
            tail.append(line)
            if on_event:
                on_event("output", line)

    timed_out = False
    try:
        while proc.poll() is None:
            drain()
            seen.update({p.pid: p for p in _descendants(proc.pid)})
            if cancel is not None and cancel.is_set():
                raise Interrupted(int(signal.SIGINT))
            if time.monotonic() - start > timeout:
                timed_out = True
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(0.2)
        # Finished or timed out: nothing it started may outlive it (politely only on a time-out).
        kill_tree(proc, list(seen.values()), grace=KILL_GRACE if timed_out else None)
    except BaseException:
        kill_tree(proc, list(seen.values()), grace=None)
        raise
    finally:
        with _active_lock:
            _active.discard(proc.pid)
        kill_orphans(before, started)
    reader.join(KILL_GRACE)
    drain()
    if not reader.is_alive():  # else a process outside the tree still holds the pipe
        stdout.close()
    return Ran(None if timed_out else proc.returncode, time.monotonic() - start, list(tail))


@dataclass
class Background:
    """A command running beside dlpick (a server): its process and its last output lines."""

    proc: subprocess.Popen[str]
    tail: deque[str]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def last(self, count: int = 3) -> str:
        return Ran(self.proc.returncode, 0.0, list(self.tail)).last(count)


@contextlib.contextmanager
def background(cmd: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Iterator[Background]:
    """Run `cmd` in a session of its own for the body of the `with` (its output kept, the last 200
    lines); leaving the body, however it is left, stops its whole tree as a step's is stopped."""
    become_subreaper()
    started = time.time()
    before = set(_direct_children()) if _subreaper else set()
    proc = _start(cmd, cwd, env, subprocess.STDOUT)
    assert proc.stdout is not None
    stdout = proc.stdout
    tail: deque[str] = deque(maxlen=200)

    def read() -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in stdout:
                tail.append(plain(line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield Background(proc, tail)
    finally:
        try:
            kill_tree(proc, grace=KILL_GRACE)
        finally:
            with _active_lock:
                _active.discard(proc.pid)
            kill_orphans(before, started)
            reader.join(KILL_GRACE)
