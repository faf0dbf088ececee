"""Safe YAML loading that can say on which line a problem is.

Every YAML file dlpick reads (answers, team profiles, knowledge files and overlays) goes through
`load`, which refuses before building anything what would crash, hang or mislead:

- nesting deeper than MAX_DEPTH (checked on the event stream: the C composer recurses in C and a
  deep enough document kills the interpreter);
- aliases (`*name`): none of dlpick's files needs them, and expanding them is how a small file
  becomes billions of objects;
- duplicate keys (YAML says they are an error; PyYAML silently keeps the last);
- values whose construction fails (`!!timestamp 2026-13-45`, `!!int x`, a 5,000-digit integer).

Dates are not constructed: `2026-11-01` stays a string, and the fields that are dates (the
knowledge base's `as_of`, `since` ...) are parsed and checked by the schema, with a line number.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from dlpick.errors import BadInput

MAX_DEPTH = 100
MAX_BYTES = 10 * 1024 * 1024
TIMESTAMP = "tag:yaml.org,2002:timestamp"


def read_text(path: Path, limit: int = MAX_BYTES) -> str:
    """A regular file's text (never a pipe or device, which could block or never end), bounded."""
    from dlpick.jsonfile import read_regular

    data = read_regular(path, limit, "YAML file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


@functools.cache
def _loader() -> Any:
    """A safe loader (the C one when available) without timestamps, with duplicate-key and value checks."""
    import yaml
    from yaml.constructor import ConstructorError
    from yaml.resolver import Resolver

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[valid-type, misc]
        yaml_implicit_resolvers = {
            first: [(tag, regexp) for tag, regexp in resolvers if tag != TIMESTAMP]
            for first, resolvers in Resolver.yaml_implicit_resolvers.items()
        }

        def construct_object(self, node: Any, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep=deep)
            except yaml.YAMLError:
                raise
            except (ValueError, TypeError, KeyError, OverflowError, ArithmeticError) as exc:
                problem = f"cannot read this {node.tag.rsplit(':', 1)[-1]} value: {exc}"
                raise ConstructorError(None, None, problem, node.start_mark) from None

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                first: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    line = key_node.start_mark.line + 1
                    try:
                        seen = first.get(key)
                    except TypeError:
                        continue  # unhashable: the base class says so, with its line
                    if seen is not None:
                        problem = f"duplicate key {key!r} (first at line {seen})"
                        raise ConstructorError(None, None, problem, key_node.start_mark)
                    first[key] = line
            return super().construct_mapping(node, deep=deep)

    # A value constructed by an explicit `!!timestamp` tag stays the text it was written as.
    Loader.add_constructor(TIMESTAMP, lambda loader, node: loader.construct_scalar(node))
    return Loader


def _check_events(text: str, path: Path, loader: Any) -> None:
    """Refuse deep nesting and aliases from the event stream, before anything is composed."""
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=loader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise BadInput(f"{path}:{line}: nested deeper than {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            raise BadInput(f"{path}:{line}: aliases (*{event.anchor}) are not allowed; write the value out")


def load(path: Path) -> Any:
    """Safely load a YAML file; every problem becomes one line `FILE:LINE: what` (BadInput)."""
    import yaml

    text = read_text(path)
    loader = _loader()
    try:
        _check_events(text, path, loader)
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        what = one_line(exc.problem or exc.context or "invalid YAML")
        if "maximum nesting depth" in what:  # newer PyYAML stops deep nesting itself: say it the same way
            what = f"nested deeper than {MAX_DEPTH} levels"
        if "could not determine a constructor" in what:
            what = "tags that construct objects are not allowed (" + what.split("tag ")[-1] + ")"
        raise BadInput(f"{path}{line}: {what}") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: invalid YAML: {one_line(str(exc))}") from None
    except (ValueError, TypeError, KeyError, OverflowError, ArithmeticError, RecursionError) as exc:
        raise BadInput(f"{path}: invalid YAML: {one_line(str(exc)) or type(exc).__name__}") from None


def line_of(path: Path, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the node at `loc` (keys / indices), or of its nearest parent."""
    import yaml

    try:
        node = yaml.compose(read_text(path), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, BadInput, RecursionError):
        return None
    best = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    child = value
                    best = key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            best = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return best


_PLAIN = re.compile(r"[\w.@/+-]{1,60}", re.ASCII)


def field_path(loc: tuple[int | str, ...]) -> str:
    """'tasks.speech.0.package'; a key that is not a plain word is quoted, so a message stays one line."""
    return ".".join(str(p) if _PLAIN.fullmatch(str(p)) else _short_repr(str(p)) for p in loc) or "(top level)"


def _short_repr(text: str, limit: int = 60) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


def one_line(text: str) -> str:
    """Whitespace runs (newlines included) become one space; other control characters are escaped."""
    text = " ".join(text.split())
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def validation_problems(path: Path, error: Any) -> list[str]:
    """pydantic ValidationError -> ['file:line: field.path: message', ...]."""
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        line = line_of(path, loc)
        field = field_path(loc)
        where = f"{path}:{line}" if line else str(path)
        message = one_line(str(item["msg"]))
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(f"{where}: {field}: {message}")
    return problems
