"""Child processes started in their own session: stop the whole group, never leave it running."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def kill_group(proc: subprocess.Popen[str], drain: float = 1.0) -> None:
    """SIGKILL the process group of `proc` (started with start_new_session=True), then drain its pipes."""
    with contextlib.suppress(OSError):
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    # A grandchild that left the group may still hold a pipe open: give up after `drain` seconds.
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=drain)
