"""The package's shape, checked on its source: imports point down, no circles, small modules.

The rules come from DESIGN.md ("A shape that fits") and issue 12: a fact and a job live in one
place, so a module that grows past what one reader can hold, a command module that reaches into
another command, or two modules that import each other fail here, not in review.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dlpick"
MAX_MODULE_LINES = 600
MAX_CLI_FUNCTION_LINES = 60
UI_LIBRARIES = ("typer", "rich", "questionary", "click")
# cli/ holds one module per command or command group, named after it, and this shared plumbing.
COMMANDS = {
    "recommend",
    "show",
    "compare",
    "kb",
    "scaffold",
    "verify",
    "update",
    "envs",
    "doctor",
    "bench",
    "init",
    "migrate",
}
CLI_SHARED = {"app", "options", "output", "output_text", "output_verify", "prompts", "questionnaire", "__init__"}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """Every dlpick module `path` imports (at any depth, lazy ones too), with its line."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield (full if full in known else base), node.lineno


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    edges: dict[str, set[str]] = {name: set() for name in found}
    for name, path in found.items():
        for target, _ in imports(path, known):
            if target in known and target != name and target != "dlpick":
                edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle() -> None:
    assert cycles(graph()) == []


def test_nothing_below_cli_imports_the_cli_or_a_terminal_library() -> None:
    found = modules()
    problems = []
    for name, path in found.items():
        if name.startswith("dlpick.cli") or name == "dlpick.__main__":
            continue
        for target, line in imports(path, set(found)):
            if target.startswith("dlpick.cli") or target.split(".")[0] in UI_LIBRARIES:
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {target}")
    assert problems == []


def test_every_command_has_its_own_module() -> None:
    names = {path.stem for path in (PACKAGE / "cli").glob("*.py")}
    assert COMMANDS <= names
    assert names - COMMANDS <= CLI_SHARED, names - COMMANDS - CLI_SHARED


def test_no_command_module_imports_another() -> None:
    found = modules()
    commands = {f"dlpick.cli.{name}" for name in COMMANDS}
    problems = [
        f"{found[name].relative_to(PACKAGE.parent)}:{line}: imports {target}"
        for name in sorted(commands)
        for target, line in imports(found[name], set(found))
        if target in commands and target != name
    ]
    assert problems == []


def test_no_module_over_the_limit() -> None:
    long = {
        str(path.relative_to(PACKAGE.parent)): count
        for path in modules().values()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


@pytest.mark.parametrize("path", sorted((PACKAGE / "cli").glob("*.py")), ids=lambda p: p.name)
def test_cli_functions_are_short(path: Path) -> None:
    """The CLI parses, calls one workflow and renders: a long function there holds logic that belongs below."""
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_CLI_FUNCTION_LINES
    ]
    assert long == []
