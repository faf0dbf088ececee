"""Safe YAML loading that can say on which line a problem is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlpick.errors import BadInput


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, expected a YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None


def load(path: Path) -> Any:
    """yaml.safe_load a file; syntax errors and object-constructing tags become one-line errors."""
    import yaml

    text = read_text(path)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        what = (exc.problem or exc.context or "invalid YAML").strip()
        if "could not determine a constructor" in what:
            what = "tags that construct objects are not allowed (" + what.split("tag ")[-1] + ")"
        raise BadInput(f"{path}{line}: {what}") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: invalid YAML: {exc}") from None


def line_of(path: Path, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the node at `loc` (keys / indices), or of its nearest parent."""
    import yaml

    try:
        node = yaml.compose(read_text(path), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, BadInput):
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


def validation_problems(path: Path, error: Any) -> list[str]:
    """pydantic ValidationError -> ['file:line: field.path: message', ...]."""
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        line = line_of(path, loc)
        field = ".".join(str(p) for p in loc) or "(top level)"
        where = f"{path}:{line}" if line else str(path)
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        problems.append(f"{where}: {field}: {message}")
    return problems
