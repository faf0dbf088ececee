"""The `dlpick` command: wires the sub-commands and maps errors to exit codes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from dlpick import __version__, errors

HELP = """Pick a deep-learning framework for your project, scaffold it, prove it trains.

Examples:

  dlpick recommend                       # answer a few questions
  dlpick recommend --task image-classification --hardware nvidia-gpu --deploy mobile
  dlpick recommend --answers team.yaml --json
  dlpick scaffold --answers team.yaml --dest vision   # the top pick's starter, smoke-trained
  dlpick scaffold pytorch --task text-classification --dest reviews
  dlpick verify vision --json
  dlpick show pytorch
  dlpick compare pytorch tensorflow jax
  dlpick kb validate my-knowledge/
  dlpick init                            # write a team profile, dlpick.yaml

A team profile (./dlpick.yaml, or --profile FILE) gives every command its defaults:
answers, a knowledge folder and template settings; an answers file and flags override it.
Colour follows the terminal; set NO_COLOR=1 to turn it off.
"""

_state = {"debug": bool(os.environ.get("DLPICK_DEBUG"))}


class _Stopped(BaseException):  # noqa: N818 - carries a signal past typer, which turns Ctrl-C into a silent 130
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class DlpickGroup(TyperGroup):
    """Runs commands with one error policy: one line on stderr, the exit code from DESIGN.md."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Stopped(getattr(exc, "signum", 2)) from exc

    def main(
        self,
        args: Any = None,
        prog_name: Any = None,
        complete_var: Any = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:  # type: ignore[override]
        from typer._click.exceptions import ClickException

        from dlpick import processes

        processes.install_signal_handlers()
        if (output := sys.modules.get("dlpick.cli.output")) is not None:
            output.json_printed = False  # type: ignore[attr-defined]  # an earlier run in this process (tests)
        as_json = "--json" in (sys.argv[1:] if args is None else list(args))
        code: int
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except errors.DlpickError as exc:
            if _state["debug"]:
                raise
            code = exc.exit_code
            _fail(str(exc), code, as_json)
        except ClickException as exc:
            command = f"{exc.ctx.command_path} --help" if getattr(exc, "ctx", None) else "dlpick --help"
            code = errors.BAD_INPUT
            _fail(f"{exc.format_message()} (see `{command}`)", code, as_json)
        except (KeyboardInterrupt, typer.Abort, _Stopped) as exc:
            processes.kill_all_descendants()
            name, code = processes.stopped(getattr(exc, "signum", 2))
            _fail(f"{name}; {processes.outcome()}", code, as_json, prefix="\ndlpick: ")
        if standalone_mode:
            sys.exit(code)
        return code


def _fail(message: str, code: int, as_json: bool, prefix: str = "dlpick: error: ") -> None:
    """One line on stderr; with --json also {"error", "exit_code"} on stdout, so scripts always get JSON."""
    sys.stderr.write(f"{prefix}{message}\n")
    output = sys.modules.get("dlpick.cli.output")
    if as_json and not getattr(output, "json_printed", False):
        import json

        sys.stdout.write(json.dumps({"error": message, "exit_code": code}) + "\n")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dlpick {__version__}")
        raise typer.Exit()


app = typer.Typer(
    cls=DlpickGroup,
    help=HELP,
    no_args_is_help=True,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            help="No notes or progress on stderr (errors still).",
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="More detail on stderr: the profile and knowledge folders used.",
        ),
    ] = False,
    profile: Annotated[
        Path | None,
        typer.Option(
            "--profile",
            help="Team profile (default: ./dlpick.yaml when it exists): answers, knowledge folder, template defaults.",
            show_default=False,
        ),
    ] = None,
) -> None:
    from dlpick.cli import output, team

    if debug:
        _state["debug"] = True
    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose exclude each other")
    output.verbosity = -1 if quiet else 1 if verbose else 0
    team.reset(profile)


def _register() -> None:
    from dlpick.cli import envs, init, inspect, machine, recommend, scaffold, verify

    app.command("recommend", help=recommend.HELP, no_args_is_help=False)(recommend.recommend)
    app.command("show", help=inspect.SHOW_HELP)(inspect.show)
    app.command("compare", help=inspect.COMPARE_HELP)(inspect.compare)
    app.add_typer(inspect.kb_app, name="kb")
    app.command("scaffold", help=scaffold.HELP, no_args_is_help=False)(scaffold.scaffold)
    app.command("verify", help=verify.HELP)(verify.verify)
    app.add_typer(envs.envs_app, name="envs")
    app.command("doctor", help=machine.DOCTOR_HELP)(machine.doctor)
    app.command("bench", help=machine.BENCH_HELP)(machine.bench)
    app.command("init", help=init.HELP)(init.init)


_register()


def main() -> None:
    app()
