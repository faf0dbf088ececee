"""The `dlpick` console script: a tiny entry point that handles signals before anything is imported.

Ctrl-C (or SIGTERM / SIGHUP) while the CLI's modules load would otherwise print a traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from dlpick.core import processes

        processes.install_signal_handlers()
        from dlpick.cli.app import main as app_main

        app_main()
    except KeyboardInterrupt as exc:  # only before the app's own handler is in place
        signum = getattr(exc, "signum", 2)
        name = {2: "interrupted", 15: "terminated", 1: "hung up"}.get(signum, f"stopped by signal {signum}")
        sys.stderr.write(f"\ndlpick: {name}; nothing was written\n")
        sys.exit(128 + signum)


if __name__ == "__main__":
    main()
