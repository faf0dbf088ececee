"""A small reader of protobuf text format (Caffe's .prototxt) that keeps every field's line number.

It reads the syntax only (no schema): a message is an ordered list of fields, each a scalar (number,
string, enum name, bool) or a nested message. Errors name the file and line, so `migrate` can say
where an unsupported layer or a typo is before it runs Caffe at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpick.errors import BadInput

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r]+) | (?P<newline>\n) | (?P<comment>\#[^\n]*)
    | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)[fF]?|[-+]?inf(?:inity)?\b|nan\b)
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    | (?P<punct>[{}:<>\[\],;])
    """,
    re.VERBOSE,
)
MAX_DEPTH = 100  # Caffe nets nest messages 3 or 4 deep
MAX_BYTES = 64 * 2**20
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}


@dataclass
class Message:
    """One message: fields in file order, `line` where it opened (1 for the file)."""

    line: int = 1
    fields: list[tuple[str, Any, int]] = field(default_factory=list)

    def all(self, name: str) -> list[Any]:
        return [value for key, value, _ in self.fields if key == name]

    def get(self, name: str, default: Any = None) -> Any:
        found = self.all(name)
        return found[-1] if found else default

    def msg(self, name: str) -> Message:
        """The nested message `name`, or an empty one (every field then takes its default)."""
        value = self.get(name)
        return value if isinstance(value, Message) else Message(self.line)

    def line_of(self, name: str) -> int:
        return next((line for key, _, line in self.fields if key == name), self.line)

    def has(self, name: str) -> bool:
        return any(key == name for key, _, _ in self.fields)


@dataclass
class _Token:
    kind: str
    text: str
    line: int


def _tokens(text: str, source: str) -> Iterator[_Token]:
    line, pos = 1, 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise BadInput(f"{source}:{line}: syntax error: unexpected character {text[pos]!r}")
        kind = match.lastgroup or ""
        if kind == "newline":
            line += 1
        elif kind not in ("space", "comment"):
            yield _Token(kind, match.group(), line)
        pos = match.end()


def _unquote(text: str) -> str:
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            out.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _scalar(token: _Token) -> Any:
    if token.kind == "string":
        return _unquote(token.text)
    if token.kind == "number":
        text = token.text.rstrip("fF") if not token.text.lower().endswith("inf") else token.text
        try:
            return int(text)
        except ValueError:
            return float(text)
    if token.text in ("true", "True"):
        return True
    if token.text in ("false", "False"):
        return False
    return token.text  # an enum value, e.g. MAX


def parse(text: str, source: str) -> Message:
    """The top-level message of `text`; BadInput `SOURCE:LINE: ...` on a syntax error."""
    tokens = list(_tokens(text, source))
    last_line = tokens[-1].line if tokens else 1
    pos = 0

    def peek() -> _Token | None:
        return tokens[pos] if pos < len(tokens) else None

    def fail(message: str, token: _Token | None) -> BadInput:
        where = token.line if token else last_line
        got = f"{token.text!r}" if token else "the end of the file"
        return BadInput(f"{source}:{where}: syntax error: {message}, got {got}")

    def body(closer: str | None, line: int, depth: int = 0) -> Message:
        nonlocal pos
        if depth > MAX_DEPTH:
            raise BadInput(f"{source}:{line}: messages nested more than {MAX_DEPTH} deep: not a Caffe net")
        message = Message(line)
        while True:
            token = peek()
            if token is None:
                if closer is None:
                    return message
                raise fail(f"expected '{closer}' to close the message opened on line {line}", None)
            if closer is not None and token.text == closer:
                pos += 1
                return message
            if token.kind != "word":
                raise fail("expected a field name", token)
            pos += 1
            name = token.text
            nxt = peek()
            colon = nxt is not None and nxt.text == ":"
            if colon:
                pos += 1
                nxt = peek()
            if nxt is not None and nxt.text in ("{", "<"):
                pos += 1
                value: Any = body("}" if nxt.text == "{" else ">", token.line, depth + 1)
                message.fields.append((name, value, token.line))
            elif not colon:
                raise fail(f"expected ':' or '{{' after {name}", nxt)
            elif nxt is not None and nxt.text == "[":
                pos += 1
                while True:
                    item = peek()
                    if item is None or item.kind not in ("string", "number", "word"):
                        raise fail(f"expected a value in the list of {name}", item)
                    message.fields.append((name, _scalar(item), item.line))
                    pos += 1
                    sep = peek()
                    if sep is not None and sep.text == ",":
                        pos += 1
                        continue
                    if sep is not None and sep.text == "]":
                        pos += 1
                        break
                    raise fail(f"expected ',' or ']' in the list of {name}", sep)
            elif nxt is not None and nxt.kind in ("string", "number", "word"):
                pos += 1
                value = _scalar(nxt)
                while nxt.kind == "string" and (more := peek()) is not None and more.kind == "string":
                    value += _unquote(more.text)  # adjacent strings concatenate
                    pos += 1
                message.fields.append((name, value, token.line))
            else:
                raise fail(f"expected a value for {name}", nxt)
            sep = peek()
            if sep is not None and sep.text in (",", ";"):
                pos += 1

    return body(None, 1)


def read(path: Path) -> Message:
    try:
        if not path.is_file():
            raise BadInput(f"{path}: not a regular file (a prototxt is protobuf text format)")
        if path.stat().st_size > MAX_BYTES:
            raise BadInput(f"{path}: larger than {MAX_BYTES // 2**20} MiB: not a Caffe deploy net")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not a text file (a prototxt is protobuf text format)") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read it ({exc.strerror or exc})") from None
    return parse(text, str(path))
