"""Options several commands share, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

KnowledgeOpt = Annotated[
    Path | None,
    typer.Option(
        "--knowledge", "-k", help="Extra knowledge folder overriding the built-in one (env: DLPICK_KNOWLEDGE)."
    ),
]
