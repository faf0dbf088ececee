"""Side-by-side facts of several frameworks, each cell with its source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from dlpick.kb.model import Feature, Framework, Measure, Releases, Sourced, Vocabulary

if TYPE_CHECKING:

    class SourceJson(TypedDict):
        source: str
        as_of: str

    class Cell(TypedDict):
        value: str
        sources: list[SourceJson]


def _cell(value: str, *facts: Sourced) -> Cell:
    return {"value": value, "sources": [{"source": f.source, "as_of": f.as_of} for f in facts]}


def _features(items: Sequence[Feature]) -> Cell:
    return _cell(", ".join(i.name for i in items) or "-", *items)


def _measure(fact: Measure) -> str:
    if not isinstance(fact, Releases):
        return f"{fact.value:,.0f}"
    from dlpick.advise.criteria import feature_releases

    features = feature_releases(fact)
    known = "versions not listed" if features is None else f"{features} feature (major/minor)"
    return f"{fact.value:,.0f} ({known})"


def rows(frameworks: Sequence[Framework], vocabulary: Vocabulary) -> list[tuple[str, list[Cell]]]:
    """(label, one cell per framework) for every fact that feeds a score."""

    def status(fw: Framework) -> Cell:
        s = fw.status
        text = s.value + (f" since {s.since}" if s.since else "")
        return _cell(text + (f"; successor {s.successor}" if s.successor else ""), s)

    table: list[tuple[str, list[Cell]]] = [
        ("release", [_cell(f"{f.release.version} ({f.release.date})", f.release) for f in frameworks]),
        ("status", [status(f) for f in frameworks]),
        ("python", [_cell(", ".join(f.python.versions), f.python) for f in frameworks]),
    ]
    for hardware in vocabulary.hardware:
        cells = []
        for fw in frameworks:
            support = fw.hardware.get(hardware)
            cells.append(_cell(f"{support.level}: {support.mechanism}", support) if support else _cell("none known"))
        table.append((f"hardware: {hardware}", cells))
    for target in vocabulary.deployment:
        cells = []
        for fw in frameworks:
            paths = fw.deployment.get(target, ())
            text = "; ".join(f"{p.tool} ({p.level})" for p in paths) or "none known"
            cells.append(_cell(text, *paths))
        table.append((f"deploy: {target}", cells))
    table.append(
        (
            "distributed",
            [_cell(f"{f.distributed.level}: {', '.join(f.distributed.tools)}", f.distributed) for f in frameworks],
        )
    )
    for task in vocabulary.tasks:
        evidence = [fw.tasks.get(task, ()) for fw in frameworks]
        if any(evidence):
            table.append(
                (f"task: {task}", [_cell(", ".join(e.name for e in items) or "-", *items) for items in evidence])
            )
    for measure in ("github_stars", "pypi_download_rank", "releases_last_year"):
        cells = []
        for fw in frameworks:
            fact: Measure | None = getattr(fw.community, measure)
            cells.append(_cell(_measure(fact), fact) if fact else _cell("- (no source)"))
        table.append((measure.replace("_", " "), cells))
    table.append(("performance", [_features(f.performance) for f in frameworks]))
    table.append(("ecosystem", [_features(f.ecosystem) for f in frameworks]))
    table.append(("ease of use", [_features(f.ease_of_use) for f in frameworks]))
    return table


def to_json(frameworks: Sequence[Framework], vocabulary: Vocabulary) -> dict[str, Any]:
    ids = [f.id for f in frameworks]
    return {
        "frameworks": ids,
        "rows": [
            {"field": label, "values": dict(zip(ids, cells, strict=True))}
            for label, cells in rows(frameworks, vocabulary)
        ],
    }


def footnoted(frameworks: Sequence[Framework], vocabulary: Vocabulary) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """Rows as text with [n] markers, and the numbered list of 'source (as of)' they point to."""
    numbers: dict[str, int] = {}
    text_rows = []
    for label, cells in rows(frameworks, vocabulary):
        texts = []
        for cell in cells:
            marks = []
            for src in cell["sources"]:
                key = f"{src['source']} (as of {src['as_of']})"
                numbers.setdefault(key, len(numbers) + 1)
                marks.append(f"[{numbers[key]}]")
            texts.append(cell["value"] + (" " + "".join(dict.fromkeys(marks)) if marks else ""))
        text_rows.append((label, texts))
    return text_rows, list(numbers)
