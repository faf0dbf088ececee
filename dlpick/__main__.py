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
        from dlpick.core.processes import stopped

        name, code = stopped(getattr(exc, "signum", 2))
        sys.stderr.write(f"\ndlpick: {name}; nothing was written\n")
        sys.exit(code)


if __name__ == "__main__":
    main()
