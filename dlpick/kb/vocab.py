"""Id checks with 'did you mean' suggestions."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from dlpick.errors import BadInput

MAX_SUGGESTIONS = 3


def candidates(value: str, valid: Iterable[str]) -> list[str]:
    """The valid ids a mistyped `value` most likely meant, best first.

    Ids that have it as a whole word ("gpu" -> nvidia-gpu, amd-gpu, intel-gpu), then ids that
    contain it ("nvid" -> nvidia-gpu); failing those, difflib's close matches ("pytorh" -> pytorch).
    """
    valid = list(valid)
    word = value.strip().lower()
    found: list[str] = []
    if len(word) >= 2:
        found += [v for v in valid if word in re.split(r"[-_.\s]+", v.lower())]
    if len(word) >= 3:
        found += [v for v in valid if word in v.lower()]
    if not found:
        found = difflib.get_close_matches(word, valid, n=1, cutoff=0.6)
    return list(dict.fromkeys(found))[:MAX_SUGGESTIONS]


def suggest(value: str, valid: Iterable[str]) -> str:
    """'; did you mean X?', '; did you mean X, Y or Z?' or '; valid: a, b, c'."""
    valid = list(valid)
    close = [repr(name) for name in candidates(value, valid)]
    if close:
        names = close[0] if len(close) == 1 else ", ".join(close[:-1]) + " or " + close[-1]
        return f"; did you mean {names}?"
    return "; valid: " + ", ".join(valid)


def check_id(kind: str, value: str, valid: Iterable[str], where: str = "") -> str:
    valid = list(valid)
    if value not in valid:
        prefix = f"{where}: " if where else ""
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise BadInput(f"{prefix}unknown {kind} {shown!r}{suggest(value[:200], valid)}")
    return value
