"""`dlpick compare`: frameworks side by side, every cell sourced."""

from __future__ import annotations

from typing import Annotated

import typer

from dlpick.cli.options import JsonOpt, KnowledgeOpt, session

HELP = """Compare frameworks side by side, every cell sourced.

Examples:

  dlpick compare pytorch tensorflow
  dlpick compare pytorch tensorflow jax mindspore --json
"""


def compare(
    ctx: typer.Context,
    frameworks: Annotated[list[str], typer.Argument(help="Two or more framework ids.", show_default=False)],
    as_json: JsonOpt = False,
    knowledge_dir: KnowledgeOpt = None,
) -> None:
    from dlpick.advise import compare as compare_mod
    from dlpick.cli import output
    from dlpick.errors import BadInput

    if len(frameworks) < 2:
        raise BadInput("compare needs at least two frameworks", hint="e.g. dlpick compare pytorch jax")
    kb = session(ctx, knowledge_dir).knowledge
    chosen = [kb.framework(fid) for fid in dict.fromkeys(frameworks)]
    if as_json:
        output.print_json(compare_mod.to_json(chosen, kb.vocabulary))
        return
    rows, sources = compare_mod.footnoted(chosen, kb.vocabulary)
    output.render_compare(rows, [fw.name for fw in chosen], sources)
