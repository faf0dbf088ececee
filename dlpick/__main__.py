"""The `dlpick` console script: a tiny entry point that owns the signals before anything is imported.

While the CLI's modules load (a few tenths of a second), SIGINT, SIGTERM and SIGHUP are held: a
signal then ends dlpick cleanly once the imports are done, instead of landing inside some library's
import (a traceback, or a half-imported module). After that they raise `Interrupted` (dlpick/processes.py).
"""

from __future__ import annotations

import _signal  # the built-in half of `signal`: already loaded, so holding starts at once
import sys

HELD = [getattr(_signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(_signal, name)]


def main() -> None:
    caught: list[int] = []
    for sig in HELD:
        if _signal.getsignal(sig) is not _signal.SIG_IGN:  # nohup's SIGHUP stays ignored
            _signal.signal(sig, lambda signum, frame: caught.append(signum))
    from dlpick import processes
    from dlpick.cli.app import main as app_main

    if caught:
        name, code = processes.stopped(caught[0])
        sys.stderr.write(f"\ndlpick: {name}; nothing was written\n")
        sys.exit(code)
    processes.install_signal_handlers()
    try:
        app_main()
    except KeyboardInterrupt as exc:  # before or after the command's own handler (typer builds the CLI first)
        processes.kill_all_descendants()
        name, code = processes.stopped(getattr(exc, "signum", 2))
        message = f"{name}; {processes.outcome()}"
        sys.stderr.write(f"\ndlpick: {message}\n")
        if "--json" in sys.argv[1:]:
            import json

            sys.stdout.write(json.dumps({"error": message, "exit_code": code}) + "\n")
        sys.exit(code)
    finally:
        processes.restore_default_signals()


if __name__ == "__main__":
    main()
