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
    from dlpick.verify import envs

    found = envs.list_envs()
    left_alone = envs.foreign()
    if as_json:
        output.print_json({"root": str(envs.envs_dir()), "environments": found, "not_dlpicks": left_alone})
        return
    if not found:
        typer.echo(f"no isolated environments in {envs.envs_dir()}")
    for env in found:
        state = "" if env["complete"] else "  (incomplete: rebuilt on next use)"
        what = f"{env['kind']} python {env['python']}" if env["kind"] == "venv" else env["kind"] or "?"
        typer.echo(f"{env['name']}  {_human(env['bytes'])}  {what}  built {env['built'] or '?'}{state}")
    if found:
        total = sum(env["bytes"] or 0 for env in found)
        typer.echo(f"{len(found)} environment(s), {_human(total)} in {envs.envs_dir()}")
    if left_alone:
        typer.echo(f"not built by dlpick, never touched: {', '.join(left_alone)}")


@envs_app.command("remove")
def remove_command(
    names: Annotated[list[str] | None, typer.Argument(help="Environment names (from `dlpick envs`).")] = None,
    all_: Annotated[bool, Opt("--all", help="Remove every environment dlpick built (asks first).")] = False,
    yes: Annotated[bool, Opt("--yes", "-y", help="Do not ask (needed for --all without a terminal).")] = False,
) -> None:
    """Remove environments dlpick built; the next `verify --isolated` of such a project builds its
    environment again. Folders dlpick did not build, and symbolic links, are never removed."""
    import sys

    from dlpick.errors import BadInput
    from dlpick.verify import envs

    if not names and not all_:
        raise BadInput("name the environments to remove, or pass --all", hint="`dlpick envs` lists them")
    root = envs.envs_dir()
    found = envs.list_envs(sizes=all_)
    known = {env["name"]: Path(env["path"]) for env in found}
    chosen = list(known) if all_ else list(dict.fromkeys(names or []))
    for name in chosen:
        if name not in known:
            path = root / name
            if path.exists() or path.is_symlink():
                why = "a symbolic link" if path.is_symlink() else "not an environment dlpick built"
                raise BadInput(f"{path}: {why}; left alone", hint="dlpick removes only environments it built")
            raise BadInput(f"no environment named {name!r}", hint="`dlpick envs` lists them")
    if all_ and chosen and not yes:
        size = _human(sum(env["bytes"] or 0 for env in found))
        if not sys.stdin.isatty():
            raise BadInput(
                f"--all would remove {len(chosen)} environment(s) ({size}) from {root}",
                hint="pass --yes to confirm (there is no terminal to ask in)",
            )
        import questionary

        question = questionary.confirm(f"Remove {len(chosen)} environment(s) ({size}) from {root}?", default=False)
        if not question.unsafe_ask():
            typer.echo("nothing removed")
            return
    for name in chosen:
        envs.remove(known[name], root)
        typer.echo(f"removed {name}")
    if all_ and not chosen:
        typer.echo(f"no isolated environments in {root}")
