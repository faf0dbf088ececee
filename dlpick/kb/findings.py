"""A finding of `dlpick kb audit`, and the helpers its checks share to read the knowledge base and the
registry snapshot (dlpick/kb/audit.py runs the checks; dlpick/kb/audit_notes.py holds those on notes)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DORMANT_AFTER_DAYS = 730  # criteria.yaml, evidence_status.dormant: "no release for two years or more"
REGISTRY_PAGE = (
    (re.compile(r"https://pypi\.org/project/([^/#?]+)"), "pypi"),
    (re.compile(r"https://www\.npmjs\.com/package/((?:@[^/#?]+/)?[^/#?]+)"), "npm"),
)


def registry_key(url: str) -> str | None:
    """'pypi:NAME' / 'npm:NAME' for a registry page URL (how the snapshot names a library), else None."""
    for pattern, registry in REGISTRY_PAGE:
        match = pattern.match(url)
        if match:
            return f"{registry}:{match[1]}"
    return None


def normalise(name: str) -> str:
    """A PyPI name as PEP 503 compares them: torch_xla and Torch-XLA are torch-xla."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Finding:
    kind: str
    framework: str
    where: str
    message: str
    source: str | None = None

    @property
    def id(self) -> str:
        return f"{self.kind} {self.framework} {self.where}"


def snapshot_entry(snapshot: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The snapshot's entry for 'pypi:NAME' (names compared as PyPI compares them) or 'npm:NAME'."""
    registry, _, name = key.partition(":")
    if registry != "pypi":
        return snapshot["packages"].get(key)  # type: ignore[no-any-return]
    if "_pypi" not in snapshot:
        snapshot["_pypi"] = {
            normalise(k.partition(":")[2]): v for k, v in snapshot["packages"].items() if k.startswith("pypi:")
        }
    return snapshot["_pypi"].get(normalise(name))  # type: ignore[no-any-return]


def _label(item: dict[str, Any]) -> str:
    return str(item.get("package") or item.get("tool") or item.get("name") or item.get("kind") or "?")


def _facts(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, fact) for every mapping with an `as_of` under `node`."""
    if isinstance(node, dict):
        if "as_of" in node:
            yield path or "(top level)", node
        for key, value in node.items():
            if isinstance(value, dict):
                yield from _facts(value, f"{path}.{key}" if path else str(key))
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        yield from _facts(item, f"{path}.{key}[{_label(item)}]" if path else f"{key}[{_label(item)}]")


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
