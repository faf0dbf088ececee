"""`dlpick show`: one framework's facts, each with its source and date."""

from __future__ import annotations

from typing import Annotated

import typer

from dlpick.cli.options import JsonOpt, KnowledgeOpt, session

HELP = """Show one framework's facts, each with its source and date.

Examples:

  dlpick show pytorch
  dlpick show theano --json
"""


def show(
    ctx: typer.Context,
    framework: Annotated[str, typer.Argument(help="Framework id, e.g. pytorch.", show_default=False)],
    as_json: JsonOpt = False,
    knowledge_dir: KnowledgeOpt = None,
) -> None:
    from dlpick.cli import output

    kb = session(ctx, knowledge_dir).knowledge
    fw = kb.framework(framework)
    if as_json:
        output.print_json(fw.to_json())
    else:
        output.render_show(fw, kb.origin.get(framework, ""))
