"""`dlpick verify`: smoke-train a generated project and check it honestly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlpick.cli.options import ConstraintOpt, DeviceOpt, IsolatedOpt, KnowledgeOpt, TimeoutOpt, session

HELP = """Prove a generated project works: smoke-train it, check the metrics and the loss, export \
the model and compare its predictions, serve it over HTTP (start its server, predict the example of \
its metadata, compare with the offline prediction, stop it), run the project's own tests.

With --isolated, dlpick first builds the environment the project documents (its requirements.txt \
in a virtual environment, or its debian-packages.txt in a Debian root made with debootstrap) in its \
cache, reuses it next time, and runs every check there: one machine can verify projects whose pins \
conflict. --constraint passes pip constraint files to that install (e.g. to keep a CPU build of torch).

Exit status: 0 passed, 1 a check failed, 3 the framework is not installed or the isolated environment \
could not be built (reported as not verified, with what to do; never as passed).

Examples:

  dlpick verify flowers
  dlpick verify flowers --device cuda --timeout 600
  dlpick verify flowers --json > verify.json
  dlpick verify old-theano-project --isolated
  dlpick verify flowers --isolated --constraint cpu-torch.txt
"""


def verify(
    ctx: typer.Context,
    project: Annotated[Path, typer.Argument(help="The generated project's folder.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (stable format) instead of a table.")] = False,
    device: DeviceOpt = "auto",
    timeout: TimeoutOpt = 300.0,
    knowledge_dir: KnowledgeOpt = None,
    isolated: IsolatedOpt = False,
    constraint: ConstraintOpt = None,
) -> None:
    from dlpick.cli import output, output_verify
    from dlpick.workflows import verify as flow

    request = flow.VerifyRequest(project, device, timeout, isolated, constraint or [])
    with output_verify.progress() as on_event:
        result = flow.verify(session(ctx, knowledge_dir), request, on_event=on_event)
    if as_json:
        output.print_json(flow.to_json(result))
    else:
        output_verify.report(result)
    if (error := flow.failure(result)) is not None:
        raise error
