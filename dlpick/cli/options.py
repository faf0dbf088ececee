"""Options several commands share, declared once, and the way a command gets its Session."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlpick.session import Session

Opt = typer.Option

KnowledgeOpt = Annotated[
    Path | None,
    Opt("--knowledge", "-k", help="Extra knowledge folder overriding the built-in one (env: DLPICK_KNOWLEDGE)."),
]
# recommend and scaffold
TaskOpt = Annotated[str | None, Opt("--task", "-t", help="Task id, e.g. image-classification.")]
NoInputOpt = Annotated[bool, Opt("--no-input", help="Never ask questions; fail if answers are missing.")]
JsonOpt = Annotated[bool, Opt("--json", help="Print JSON instead of a table.")]
# verify and scaffold --verify
DeviceOpt = Annotated[str, Opt("--device", help="auto, cpu, cuda or mps: passed to the project's train.")]
TimeoutOpt = Annotated[
    float,
    Opt("--timeout", min=1, help="Seconds the smoke-train and export check may take together (tests run beside them)."),
]
IsolatedOpt = Annotated[
    bool, Opt("--isolated", help="Verify in an environment built from the project's requirements (cached).")
]
ConstraintOpt = Annotated[
    list[Path] | None,
    Opt("--constraint", "-c", help="pip constraint file for --isolated (repeatable).", show_default=False),
]


def session(ctx: typer.Context, knowledge: Path | None = None) -> Session:
    """The session the root command built, with this command's --knowledge (a bare one in a lone command)."""
    found = ctx.find_object(Session)
    if found is None:
        found = ctx.ensure_object(Session)
    return found.use_knowledge(knowledge)
