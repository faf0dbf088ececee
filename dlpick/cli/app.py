"""The `dlpick` command: wires the sub-commands and maps errors to exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from dlpick import __version__, errors
from dlpick.cli.output import JSON_PRINTED
from dlpick.session import Session

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
  dlpick migrate caffe deploy.prototxt weights.caffemodel --to pytorch --dest ported

A team profile (./dlpick.yaml, or --profile FILE) gives every command its defaults:
answers, a knowledge folder and template settings; an answers file and flags override it.
Colour follows the terminal; set NO_COLOR=1 to turn it off.
"""


AS_JSON = "dlpick.as_json"  # in the context's meta: the command line asks for JSON, errors included


def _env_debug() -> bool:
    return bool(os.environ.get("DLPICK_DEBUG"))


class _Stopped(BaseException):  # noqa: N818 - carries a signal past typer, which turns Ctrl-C into a silent 130
    def __init__(self, signum: int, json_printed: bool = False) -> None:
        super().__init__(signum)
        self.signum = signum
        self.json_printed = json_printed


# Command name -> (module under dlpick.cli, attribute), in the order `dlpick --help` lists them. A command's
# module is imported when the command runs (or help lists it): `dlpick recommend` loads no other command.
COMMANDS: dict[str, tuple[str, str]] = {
    "recommend": ("recommend", "recommend"),
    "show": ("show", "show"),
    "compare": ("compare", "compare"),
    "kb": ("kb", "kb_app"),
    "scaffold": ("scaffold", "scaffold"),
    "verify": ("verify", "verify"),
    "update": ("update", "update"),
    "migrate": ("migrate", "migrate_app"),
    "envs": ("envs", "envs_app"),
    "doctor": ("doctor", "doctor"),
    "bench": ("bench", "bench"),
    "init": ("init", "init"),
}


def _load_command(name: str) -> Any:
    """The click command for `name`, built from its module on first use."""
    import importlib

    module_name, attribute = COMMANDS[name]
    module = importlib.import_module(f"dlpick.cli.{module_name}")
    target = getattr(module, attribute)
    if isinstance(target, typer.Typer):  # a command group: kb, envs
        group = typer.main.get_group(target)
        group.name = name
        return group
    single = typer.Typer(add_completion=False)
    single.command(name, help=module.HELP)(target)
    return typer.main.get_command(single)


class _Commands(MutableMapping[str, Any]):
    """The root group's commands: every name known at once, each command built when first looked up."""

    def __init__(self, built: Mapping[str, Any]) -> None:
        self._built = dict(built)

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = _load_command(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*COMMANDS, *(name for name in self._built if name not in COMMANDS)])

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self._built))


class DlpickGroup(TyperGroup):
    """Runs commands with one error policy: one line on stderr, the exit code from DESIGN.md."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _Commands(self.commands)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta[AS_JSON] = "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        """The root command and the sub-command; their errors end here while the session is at hand."""
        as_json = bool(ctx.meta.get(AS_JSON))
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Stopped(getattr(exc, "signum", 2), bool(ctx.meta.get(JSON_PRINTED))) from exc
        except errors.DlpickError as exc:
            session = ctx.obj if isinstance(ctx.obj, Session) else None
            if session.debug if session is not None else _env_debug():
                _traceback()  # --debug adds the traceback; the message, JSON and exit code stay the same
            _fail(str(exc), exc.exit_code, as_json and not ctx.meta.get(JSON_PRINTED))
            return exc.exit_code

    def main(  # type: ignore[override]  # always standalone: dlpick maps every error to its exit code
        self,
        args: Any = None,
        prog_name: Any = None,
        complete_var: Any = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from typer._click.exceptions import ClickException

        from dlpick import processes

        processes.install_signal_handlers()
        as_json = "--json" in (sys.argv[1:] if args is None else list(args))
        code: int
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
            if code == 130 and (signum := processes.received()) is not None:
                raise _Stopped(signum)  # typer made the signal a silent 130 (one outside `invoke`): say it
        except errors.DlpickError as exc:  # outside a command (an option's callback)
            if _debug_asked(args):
                _traceback()
            code = exc.exit_code
            _fail(str(exc), code, as_json)
        except ClickException as exc:
            if _debug_asked(args):
                _traceback()
            where = getattr(exc, "ctx", None)  # usage errors carry the command they happened in
            command = f"{where.command_path} --help" if where is not None else "dlpick --help"
            code = errors.BAD_INPUT
            _fail(f"{exc.format_message()} (see `{command}`)", code, as_json)
        except (KeyboardInterrupt, typer.Abort, _Stopped) as exc:
            processes.kill_all_descendants()
            name, code = processes.stopped(getattr(exc, "signum", 2))
            printed = getattr(exc, "json_printed", False)
            _fail(f"{name}; {processes.outcome()}", code, as_json and not printed, prefix="\ndlpick: ")
        if standalone_mode:
            sys.exit(code)
        return code


def _debug_asked(args: Any) -> bool:
    """--debug before the sub-command (the root's option), or DLPICK_DEBUG: read from the command line
    itself, since an error in parsing may come before the root callback built the session."""
    words = sys.argv[1:] if args is None else list(args)
    return _env_debug() or "--debug" in words


def _traceback() -> None:
    import traceback

    traceback.print_exc(file=sys.stderr)


def _fail(message: str, code: int, as_json: bool, prefix: str = "dlpick: error: ") -> None:
    """One line on stderr; with --json (and no JSON result printed yet) also {"error", "exit_code"} on stdout,
    so scripts always get one JSON document."""
    sys.stderr.write(f"{prefix}{message}\n")
    if as_json:
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
    ctx: typer.Context,
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
    # The invocation's Session, built once here: every command gets it as ctx.obj.
    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose exclude each other")
    from dlpick.cli import output

    verbosity = -1 if quiet else 1 if verbose else 0
    ctx.obj = Session(profile, verbosity=verbosity, debug=debug or _env_debug(), on_detail=output.stderr_line)


def main() -> None:
    app()
