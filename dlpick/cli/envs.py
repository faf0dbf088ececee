"""`dlpick envs`: the isolated environments that `verify --isolated` built, listed and removed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

envs_app = typer.Typer(
    help="List (with sizes), prune or remove the isolated environments built by `dlpick verify --isolated` and "
    "`bench --isolated` (in dlpick's cache; DLPICK_ENVS overrides where).",
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
    rows = [("NAME", "SIZE", "KIND", "BUILT", "LAST USED", "")] if found else []
    for env in found:
        state = "" if env["complete"] else "(incomplete: rebuilt on next use)"
        what = f"{env['kind']} python {env['python']}" if env["kind"] == "venv" else env["kind"] or "?"
        day = (env["built"] or "?")[:10]
        rows.append((env["name"], _human(env["bytes"]), what, day, (env["used"] or "?")[:16].replace("T", " "), state))
    for line in _aligned(rows):
        typer.echo(line)
    if found:
        total = sum(env["bytes"] or 0 for env in found)
        typer.echo(f"{len(found)} environment(s), {_human(total)} in {envs.envs_dir()}")
    if left_alone:
        typer.echo(f"not built by dlpick, never touched: {', '.join(left_alone)}")


def _aligned(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell, sizes right-aligned: one environment a line, never wrapped."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.rjust(widths[i]) if i == 1 else cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        for row in rows
    ]


UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3, "GB": 1024**3}


def _size(text: str) -> int:
    import re

    from dlpick.errors import BadInput

    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?B?)\s*", text.upper())
    if not found:
        raise BadInput(f"--max-size: {text!r} is not a size", hint="e.g. 10GB, 500MB")
    return int(float(found.group(1)) * UNITS[found.group(2)])


@envs_app.command("prune")
def prune_command(
    max_size: Annotated[
        str, Opt("--max-size", help="Keep the cache within this size (e.g. 10GB, 500MB); 0 removes them all.")
    ] = "10GB",
    dry_run: Annotated[bool, Opt("--dry-run", help="List what would be removed; remove nothing.")] = False,
) -> None:
    """Remove the least recently used environments (unfinished builds first) until the cache fits in
    --max-size. Environments being built or checked right now, and folders dlpick did not build, stay."""
    from dlpick.verify import envs, envs_prune

    limit = _size(max_size)
    root = envs.envs_dir()
    found = envs.list_envs()
    busy = frozenset(env["name"] for env in found if envs_prune.busy(Path(env["path"])))
    chosen = envs_prune.prune_plan(found, limit, keep=busy)
    total = sum(env["bytes"] or 0 for env in found)
    from dlpick.errors import BadInput

    for env in chosen:
        if not dry_run:
            try:
                envs.remove(Path(env["path"]), root)
            except BadInput as exc:  # another dlpick took it up meanwhile
                typer.echo(f"kept {env['name']}: {exc.message}")
                continue
        total -= 0 if dry_run else env["bytes"] or 0
        typer.echo(f"{'would remove' if dry_run else 'removed'} {env['name']} ({_human(env['bytes'])})")
    if not chosen:
        typer.echo(f"nothing to remove: {_human(total)} in {root}, within {_human(limit)}")
    elif not dry_run:
        typer.echo(f"{_human(total)} left in {root}")


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
            from dlpick.kb.vocab import suggest

            close = suggest(name, known) if known else ""
            raise BadInput(
                f"no environment named {name!r}" + (close if close.startswith("; did you mean") else ""),
                hint="`dlpick envs` lists them",
            )
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
