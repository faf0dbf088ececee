"""Side-by-side facts of several frameworks, each cell with its source."""

from __future__ import annotations

from typing import Any

Cell = dict[str, Any]  # {"value": str, "sources": [{"source": ..., "as_of": ...}]}


def _cell(value: str, *facts: dict[str, Any]) -> Cell:
    return {"value": value, "sources": [{"source": f["source"], "as_of": f["as_of"]} for f in facts]}


def _features(fw: dict[str, Any], section: str) -> Cell:
    items = fw.get(section, [])
    return _cell(", ".join(i["name"] for i in items) or "-", *items)


def _measure(name: str, fact: dict[str, Any]) -> str:
    if name != "releases_last_year":
        return f"{fact['value']:,.0f}"
    from dlpick.advise.scoring import feature_releases

    features = feature_releases(fact)
    known = "versions not listed" if features is None else f"{features} feature (major/minor)"
    return f"{fact['value']:,.0f} ({known})"


def rows(frameworks: list[dict[str, Any]], vocabulary: dict[str, Any]) -> list[tuple[str, list[Cell]]]:
    """(label, one cell per framework) for every fact that feeds a score."""

    def status(fw: dict[str, Any]) -> Cell:
        s = fw["status"]
        text = s["value"] + (f" since {s['since']}" if s.get("since") else "")
        return _cell(text + (f"; successor {s['successor']}" if s.get("successor") else ""), s)

    table: list[tuple[str, list[Cell]]] = [
        ("release", [_cell(f"{f['release']['version']} ({f['release']['date']})", f["release"]) for f in frameworks]),
        ("status", [status(f) for f in frameworks]),
        ("python", [_cell(", ".join(f["python"]["versions"]), f["python"]) for f in frameworks]),
    ]
    for hardware in vocabulary["hardware"]:
        cells = []
        for fw in frameworks:
            support = fw["hardware"].get(hardware)
            cells.append(
                _cell(f"{support['level']}: {support['mechanism']}", support) if support else _cell("none known")
            )
        table.append((f"hardware: {hardware}", cells))
    for target in vocabulary["deployment"]:
        cells = []
        for fw in frameworks:
            paths = fw["deployment"].get(target, [])
            text = "; ".join(f"{p['tool']} ({p['level']})" for p in paths) or "none known"
            cells.append(_cell(text, *paths))
        table.append((f"deploy: {target}", cells))
    table.append(
        (
            "distributed",
            [
                _cell(f"{f['distributed']['level']}: {', '.join(f['distributed'].get('tools', []))}", f["distributed"])
                for f in frameworks
            ],
        )
    )
    for task in vocabulary["tasks"]:
        evidence = [fw.get("tasks", {}).get(task, []) for fw in frameworks]
        if any(evidence):
            table.append(
                (f"task: {task}", [_cell(", ".join(e["name"] for e in items) or "-", *items) for items in evidence])
            )
    for measure in ("github_stars", "pypi_download_rank", "releases_last_year"):
        cells = []
        for fw in frameworks:
            fact = fw.get("community", {}).get(measure)
            cells.append(_cell(_measure(measure, fact), fact) if fact else _cell("- (no source)"))
        table.append((measure.replace("_", " "), cells))
    for section in ("performance", "ecosystem", "ease_of_use"):
        table.append((section.replace("_", " "), [_features(f, section) for f in frameworks]))
    return table


def to_json(frameworks: list[dict[str, Any]], vocabulary: dict[str, Any]) -> dict[str, Any]:
    ids = [f["id"] for f in frameworks]
    return {
        "frameworks": ids,
        "rows": [
            {"field": label, "values": dict(zip(ids, cells, strict=True))}
            for label, cells in rows(frameworks, vocabulary)
        ],
    }


def footnoted(
    frameworks: list[dict[str, Any]], vocabulary: dict[str, Any]
) -> tuple[list[tuple[str, list[str]]], list[str]]:
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
