"""Id checks with 'did you mean' suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from dlpick.errors import BadInput


def suggest(value: str, valid: Iterable[str]) -> str:
    """'; did you mean X?' or '; valid: a, b, c'."""
    valid = list(valid)
    close = difflib.get_close_matches(value.lower(), valid, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return "; valid: " + ", ".join(valid)


def check_id(kind: str, value: str, valid: Iterable[str], where: str = "") -> str:
    valid = list(valid)
    if value not in valid:
        prefix = f"{where}: " if where else ""
        raise BadInput(f"{prefix}unknown {kind} {value!r}{suggest(value, valid)}")
    return value
