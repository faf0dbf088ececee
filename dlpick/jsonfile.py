"""Reading JSON files dlpick did not write itself (bench results, a project's metrics.json) safely.

`json.loads` recurses once per nesting level (a RecursionError deep enough), turns NaN and
Infinity (and 1e999) into floats that make every later comparison false, and keeps the last of
duplicate keys. `load` refuses all of these with one line naming the file: BadInput (exit 2).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

from dlpick.errors import BadInput

MAX_DEPTH = 100
MAX_BYTES = 64 * 1024 * 1024
# A JSON string (skipped whole: brackets inside it do not count) or a bracket.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class _Refused(ValueError):
    pass


def nesting_depth(text: str, limit: int = MAX_DEPTH) -> int:
    """The deepest bracket nesting outside strings, counting no further than limit + 1."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        elif token in "]}":
            depth -= 1
    return deepest


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"{text} is out of range for a number")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 100:
        raise _Refused(f"an integer of {len(text.lstrip('-'))} digits is out of range")
    return int(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"duplicate key {key[:60]!r}")
        out[key] = value
    return out


def loads(text: str, where: str = "JSON", allow_nan: bool = False) -> Any:
    """Parse JSON text; BadInput(f"{where}: ...") for anything that is not plain, finite, shallow JSON.

    `allow_nan`: NaN and Infinity are read as floats (a diverged training's honest metrics.json)."""
    if nesting_depth(text) > MAX_DEPTH:
        raise BadInput(f"{where}: nested deeper than {MAX_DEPTH} levels")
    numbers: dict[str, Any] = {} if allow_nan else {"parse_constant": _constant, "parse_float": _float}
    try:
        return json.loads(text, parse_int=_int, object_pairs_hook=_object, **numbers)
    except _Refused as exc:
        raise BadInput(f"{where}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{where}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:
        raise BadInput(f"{where}: not valid JSON: {' '.join(str(exc).split()) or type(exc).__name__}") from None


def read_regular(path: Path, limit: int, what: str = "file") -> bytes:
    """At most `limit` bytes of a regular file; BadInput for anything else (a folder, a named pipe, a
    device such as /dev/zero), for a larger file, and for an unreadable one. Opening never blocks."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, expected a {what}") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    kind = os.fstat(fd).st_mode
    if not stat.S_ISREG(kind):
        os.close(fd)
        if stat.S_ISDIR(kind):
            raise BadInput(f"{path}: is a directory, expected a {what}")
        raise BadInput(f"{path}: not a regular file (a pipe, socket or device), expected a {what}")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise BadInput(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise BadInput(f"{path}: larger than {limit / (1024 * 1024):g} MiB; not a {what}")
    return data


def load(path: Path, what: str = "JSON file", allow_nan: bool = False, limit: int = MAX_BYTES) -> Any:
    """Read and parse a JSON file; every problem is BadInput(f"{path}: ...") on one line."""
    data = read_regular(Path(path), limit, what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not a {what}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return loads(text, str(path), allow_nan)
