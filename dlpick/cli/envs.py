"""`dlpick envs`: the isolated environments that `verify --isolated` built, listed and removed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

envs_app = typer.Typer(
    help="List or remove the isolated environments built by `dlpick verify --isolated` (in dlpick's cache; "
    "DLPICK_ENVS overrides where).",
    no_args_is_help=False,
    invoke_without_command=True,
)
Opt = typer.Option


def _human(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


@envs_app.callback()
def list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, Opt("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the environments (the default)."""
    if ctx.invoked_subcommand is not None:
        return
    from dlpick.cli import output
    from dlpick.core import envs

    found = envs.list_envs()
    if as_json:
        output.print_json({"root": str(envs.envs_dir()), "environments": found})
        return
    if not found:
        typer.echo(f"no isolated environments in {envs.envs_dir()}")
        return
    for env in found:
        state = "" if env["complete"] else "  (incomplete: rebuilt on next use)"
        what = f"{env['kind']} python {env['python']}" if env["kind"] == "venv" else env["kind"] or "?"
        typer.echo(f"{env['name']}  {_human(env['bytes'])}  {what}  built {env['built'] or '?'}{state}")
    total = sum(env["bytes"] or 0 for env in found)
    typer.echo(f"{len(found)} environment(s), {_human(total)} in {envs.envs_dir()}")


@envs_app.command("remove")
def remove_command(
    names: Annotated[list[str] | None, typer.Argument(help="Environment names (from `dlpick envs`).")] = None,
    all_: Annotated[bool, Opt("--all", help="Remove every environment.")] = False,
) -> None:
    """Remove environments; the next `verify --isolated` of such a project builds its environment again."""
    from dlpick.core import envs
    from dlpick.errors import BadInput

    if not names and not all_:
        raise BadInput("name the environments to remove, or pass --all", hint="`dlpick envs` lists them")
    known = {env["name"]: Path(env["path"]) for env in envs.list_envs(sizes=False)}
    chosen = list(known) if all_ else names or []
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise BadInput(f"no environment named {unknown[0]!r}", hint="`dlpick envs` lists them")
    for name in chosen:
        envs.remove(known[name])
        typer.echo(f"removed {name}")
