"""Architecture decision records from a recommendation: Markdown, or one self-contained HTML file.

Both formats render the same `_Record`, so they never say different things. The HTML needs no
network and no JavaScript: inline CSS and an inline SVG chart of each framework's points.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlpick import __version__
from dlpick.errors import BadInput

if TYPE_CHECKING:
    from dlpick.core.scoring import Ranked, Recommendation

FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
NUM = ' class="num"'
# Tableau 10: distinct hues that stay apart for the common colour-vision deficiencies.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")


@dataclass
class _Record:
    title: str
    date: str
    context: list[tuple[str, str]]
    criteria: list[str]  # the applicable ones, in vocabulary order
    not_applicable: list[tuple[str, str]]
    ranking: list[Ranked]
    points: dict[str, dict[str, float]]  # framework -> applicable criterion -> points
    refs: dict[tuple[str, str], list[int]]  # (framework, criterion) -> fact numbers
    runners: list[tuple[Ranked, float, list[str]]]  # runner-up, points behind, why not
    excluded: list[tuple[str, list[str], list[int]]]
    change: list[str]
    facts: list[tuple[str, dict[str, Any]]]  # (framework name, fact)
    generated: list[tuple[str, str]]

    def details(self, ranked: Ranked) -> list[tuple[str, str, str, str, str, list[int], bool]]:
        """Per criterion: name, weight, score, points, because, fact numbers, applicable."""
        points = self.points[ranked.framework]
        return [
            (n, f"{c.weight:g}", f"{c.score:.0%}", f"{points[n]:.1f}", c.reason, self.refs[ranked.framework, n], True)
            if c.applicable
            else (n, "-", "n/a", "", c.reason, [], False)
            for n, c in ranked.criteria.items()
        ]


class _Facts:
    """Numbered facts, each (framework, fact, source, date) once."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self._numbers: dict[tuple[str, str, str, str], int] = {}

    def refs(self, owner: str, facts: list[dict[str, Any]]) -> list[int]:
        numbers = []
        for fact in facts:
            key = (owner, str(fact.get("fact", "")), str(fact.get("source", "")), str(fact.get("as_of", "")))
            if key not in self._numbers:
                self.items.append((owner, fact))
                self._numbers[key] = len(self.items)
            numbers.append(self._numbers[key])
        return list(dict.fromkeys(numbers))


def _points(ranked: Ranked) -> dict[str, float]:
    total = ranked.total_weight()
    return {n: float(c.to_json(total)["points"]) for n, c in ranked.criteria.items() if c.applicable}


def _why_not(top: Ranked, other: Ranked, points: dict[str, dict[str, float]]) -> list[str]:
    """Where the runner-up lost points to the decision (biggest gaps), then where it was ahead."""
    mine, theirs = points[top.framework], points[other.framework]
    gaps = sorted(((mine[n] - theirs[n], n) for n in mine), reverse=True)
    lost = [f"lost {gap:.1f} points on {n}: {other.criteria[n].reason}" for gap, n in gaps[:3] if gap >= 0.05]
    return lost + [f"ahead by {-gap:.1f} points on {n}" for gap, n in reversed(gaps) if gap <= -0.05]


def _context(result: Recommendation) -> list[tuple[str, str]]:
    answers = result.answers
    familiar = ", ".join(f"{fw} {level}/5" for fw, level in answers.familiarity.items())
    weights = ", ".join(
        f"{name} {weight:g}" + (" (set by the team)" if name in answers.priorities else "")
        for name, weight in result.weights.items()
    )
    return [
        ("Task", answers.task),
        ("Hardware", ", ".join(answers.hardware) or "not given (any)"),
        ("Deployment", ", ".join(answers.deployment) or "not given (no deployment constraint)"),
        ("Team familiarity", familiar or "none given"),
        ("Python", answers.python),
        ("Retired frameworks", "ranked" if answers.include_retired else "excluded"),
        ("Priorities (weights 0..5)", weights),
    ]


def build(result: Recommendation, today: str | None = None) -> _Record:
    """Everything a decision record says, in the order it says it."""
    facts = _Facts()
    ranking = result.ranking
    points = {r.framework: _points(r) for r in ranking}
    refs = {(r.framework, n): facts.refs(r.name, c.facts) for r in ranking for n, c in r.criteria.items()}
    excluded = [(e.name, e.reasons, facts.refs(e.name, e.facts)) for e in result.excluded]
    first = ranking[0] if ranking else None
    criteria = [n for n, c in first.criteria.items() if c.applicable] if first else []
    not_applicable = [(n, c.reason) for n, c in first.criteria.items() if not c.applicable] if first else []
    runners = [(r, ranking[0].score - r.score, _why_not(ranking[0], r, points)) for r in ranking[1:]]
    title = f"Use {first.name}" if first else "No framework meets the constraints"
    stability = result.stability.text
    change = [
        f"Stability: {stability}.",
        "Changing a hard constraint (hardware, deployment targets, Python version, include_retired) "
        "changes which frameworks are eligible: see Excluded options.",
        f"The facts are as of {result.knowledge.as_of}; newer facts can change the scores.",
    ]
    date = today or dt.date.today().isoformat()
    versions = [("dlpick", __version__), ("Knowledge base", result.knowledge.version)]
    generated = [*versions, ("Knowledge as of", result.knowledge.as_of), ("Generated on", date)]
    title = f"{title} for {result.answers.task}"
    context = _context(result)
    return _Record(
        title,
        date,
        context,
        criteria,
        not_applicable,
        ranking,
        points,
        refs,
        runners,
        excluded,
        change,
        facts.items,
        generated,
    )


# --- Markdown ---------------------------------------------------------------------------


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_refs(refs: list[int]) -> str:
    return " ".join(f"[{n}]" for n in refs)


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def render_markdown(result: Recommendation) -> str:
    rec = build(result)
    out = [f"# ADR: {rec.title}", "", "- Status: proposed", f"- Date: {rec.date}", "", "## Context", ""]
    out += [f"- {label}: {value}" for label, value in rec.context]
    out += ["", "## Options considered", ""]
    if rec.ranking:
        head = ["#", "Framework", "Score", *(f"`{n}`" for n in rec.criteria)]
        rows = [
            [str(i), r.name, f"{r.score:.1f}", *(f"{rec.points[r.framework][n]:.1f}" for n in rec.criteria)]
            for i, r in enumerate(rec.ranking, 1)
        ]
        out += ["Points per criterion (weight x score; they add up to the score out of 100):", ""]
        out += _md_table(head, rows)
    else:
        out.append("No framework meets every hard constraint.")
    if rec.not_applicable:
        out += ["", "Not applicable: " + "; ".join(f"`{n}` ({why})" for n, why in rec.not_applicable)]
    for ranked in rec.ranking:
        rows = [[f"`{n}`", w, s, p, why, _md_refs(refs)] for n, w, s, p, why, refs, _ in rec.details(ranked)]
        out += ["", f"### {ranked.name}: {ranked.score:.1f} / 100", ""]
        out += _md_table(["Criterion", "Weight", "Score", "Points", "Because", "Facts"], rows)
    out += ["", "## Decision", ""]
    top = rec.ranking[0] if rec.ranking else None
    if top:
        out += [f"We will use **{top.name}** (score {top.score:.1f} / 100), because:", ""]
        out += [f"- {reason}" for reason in top.reasons]
        out += ["", "## Consequences", ""]
        out += [f"- Accepting: {w}" for w in top.warnings] or [f"- No warnings for {top.name}."]
    else:
        out += ["None: no framework meets every hard constraint (see Excluded options).", "", "## Consequences"]
    out += ["", "### Runners-up and why not", ""]
    for ranked, behind, why_not in rec.runners:
        out.append(f"- **{ranked.name}** ({ranked.score:.1f}, {behind:.1f} points behind)")
        out += [f"  - {line}" for line in why_not] + [f"  - warning: {w}" for w in ranked.warnings]
    if not rec.runners:
        out.append("- None: no other framework is eligible.")
    out += ["", "## What would change the decision", ""] + [f"- {line}" for line in rec.change]
    out += ["", "## Facts used", ""]
    out += [
        f"{n}. {owner}: {fact.get('fact', '')} (source: {fact.get('source', '')}; as of {fact.get('as_of', '')})"
        for n, (owner, fact) in enumerate(rec.facts, 1)
    ]
    out += ["", "## Excluded options and why", ""]
    out += [f"- **{n}**: {'; '.join(why)} {_md_refs(refs)}".rstrip() for n, why, refs in rec.excluded] or ["- None."]
    out += ["", "## Generated by", ""] + [f"- {label}: {value}" for label, value in rec.generated]
    return "\n".join(out) + "\n"


# --- HTML -------------------------------------------------------------------------------

CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;max-width:1100px;margin:2em auto;
padding:0 1em}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ddd;padding:.25em .5em;vertical-align:top}
th{background:#f4f4f4;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#555}.status{display:inline-block;background:#fff3cd;border:1px solid #e0c36a;border-radius:3px;
padding:0 .4em}.na{color:#888}code{background:#f4f4f4;padding:0 .2em;border-radius:3px}
.warn{color:#8a5a00}svg text{font:12px system-ui,sans-serif;fill:#222}.chart{max-width:100%;height:auto}
li{overflow-wrap:anywhere}.wide{overflow-x:auto}.wide table{font-size:13px}.wide code{background:none;padding:0}
""".strip()


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _source(source: object) -> str:
    text = str(source)
    if text.startswith(("https://", "http://")):
        return f'<a href="{_e(text)}">{_e(text)}</a>'
    return _e(text)


def _html_refs(refs: list[int]) -> str:
    return " ".join(f'<a href="#fact-{n}">[{n}]</a>' for n in refs)


def _html_table(head: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """Cells are HTML already (escaped by the caller)."""
    numeric = numeric or set()
    header = "".join(f"<th>{h}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td{NUM * (i in numeric)}>{c}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _colours(rec: _Record, result: Recommendation) -> dict[str, str]:
    """One colour per criterion, fixed by its place in the vocabulary so reports compare."""
    names = list(result.knowledge.vocabulary["criteria"])
    return {n: PALETTE[names.index(n) % len(PALETTE)] for n in rec.criteria}


def render_chart(rec: _Record, colours: dict[str, str]) -> str:
    """A stacked horizontal bar per framework: the points each criterion adds to its score."""
    label_w, bar_w, row_h, bar_h, top, per_row = 150, 660, 30, 20, 28, 4
    width, scale = label_w + bar_w + 70, bar_w / 100
    legend_y = top + len(rec.ranking) * row_h + 16
    height = legend_y + ((len(rec.criteria) + per_row - 1) // per_row) * 22 + 8
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title chart-desc">',
        '<title id="chart-title">Points per criterion for each framework</title>',
        '<desc id="chart-desc">Stacked bars: each segment is the points one criterion adds to the '
        "framework's score out of 100.</desc>",
    ]
    for tick in range(0, 101, 25):
        x = label_w + tick * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{legend_y - 12}" stroke="#ddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{top - 10}" text-anchor="middle">{tick}</text>')
    for i, ranked in enumerate(rec.ranking):
        y, x, points = top + i * row_h, float(label_w), rec.points[ranked.framework]
        parts.append(f'<g class="bar" data-framework="{_e(ranked.framework)}">')
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_h - 5}" text-anchor="end">{_e(ranked.name)}</text>')
        for name in rec.criteria:
            w = max(points[name], 0.0) * scale
            tip = f"{ranked.name}, {name}: {points[name]:.1f} points"
            parts.append(
                f'<rect class="seg" data-criterion="{_e(name)}" x="{x:.2f}" y="{y}" width="{w:.2f}" '
                f'height="{bar_h}" fill="{colours[name]}"><title>{_e(tip)}</title></rect>'
            )
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + bar_h - 5}">{ranked.score:.1f}</text></g>')
    parts.append('<g class="legend">')
    for i, name in enumerate(rec.criteria):
        lx, ly = label_w + (i % per_row) * (bar_w / per_row), legend_y + (i // per_row) * 22
        parts.append(
            f'<rect class="swatch" x="{lx:.1f}" y="{ly}" width="14" height="14" fill="{colours[name]}">'
            f'<title>{_e(name)}</title></rect><text x="{lx + 20:.1f}" y="{ly + 12}">{_e(name)}</text>'
        )
    parts.append("</g></svg>")
    return "\n".join(parts)


def render_html(result: Recommendation) -> str:
    rec = build(result)
    out = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>ADR: {_e(rec.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>ADR: {_e(rec.title)}</h1>",
        f'<p class="meta">Status: <span class="status">proposed</span> &middot; Date: {_e(rec.date)}</p>',
        "<h2>Context</h2><ul>",
        *(f"<li><strong>{_e(label)}:</strong> {_e(value)}</li>" for label, value in rec.context),
        "</ul><h2>Options considered</h2>",
    ]
    if rec.ranking:
        head = ["#", "Framework", "Score", *(f"<code>{_e(n)}</code>" for n in rec.criteria)]
        rows = [
            [str(i), _e(r.name), f"{r.score:.1f}", *(f"{rec.points[r.framework][n]:.1f}" for n in rec.criteria)]
            for i, r in enumerate(rec.ranking, 1)
        ]
        out.append("<p>Points per criterion (weight &times; score; they add up to the score out of 100):</p>")
        out.append(f'<div class="wide">{_html_table(head, rows, numeric={0, *range(2, len(head))})}</div>')
        out.append(render_chart(rec, _colours(rec, result)))
    else:
        out.append("<p>No framework meets every hard constraint.</p>")
    if rec.not_applicable:
        items = "; ".join(f"<code>{_e(n)}</code> ({_e(why)})" for n, why in rec.not_applicable)
        out.append(f'<p class="na">Not applicable: {items}</p>')
    for ranked in rec.ranking:
        rows = [
            [f"<code>{_e(n)}</code>", w, s, p, _e(why), _html_refs(refs)]
            for n, w, s, p, why, refs, _ in rec.details(ranked)
        ]
        out.append(f"<h3>{_e(ranked.name)}: {ranked.score:.1f} / 100</h3>")
        out.append(_html_table(["Criterion", "Weight", "Score", "Points", "Because", "Facts"], rows, {1, 2, 3}))
    out.append("<h2>Decision</h2>")
    top = rec.ranking[0] if rec.ranking else None
    if top:
        out.append(f"<p>We will use <strong>{_e(top.name)}</strong> (score {top.score:.1f} / 100), because:</p>")
        out.append("<ul>" + "".join(f"<li>{_e(r)}</li>" for r in top.reasons) + "</ul><h2>Consequences</h2><ul>")
        out += [f'<li class="warn">Accepting: {_e(w)}</li>' for w in top.warnings]
        out.append("</ul>" if top.warnings else f"<li>No warnings for {_e(top.name)}.</li></ul>")
    else:
        out.append("<p>None: no framework meets every hard constraint (see Excluded options).</p>")
        out.append("<h2>Consequences</h2>")
    out.append("<h3>Runners-up and why not</h3><ul>")
    for ranked, behind, why_not in rec.runners:
        lines = [f"<li>{_e(line)}</li>" for line in why_not]
        lines += [f'<li class="warn">warning: {_e(w)}</li>' for w in ranked.warnings]
        out.append(
            f"<li><strong>{_e(ranked.name)}</strong> ({ranked.score:.1f}, {behind:.1f} points behind)"
            f"<ul>{''.join(lines)}</ul></li>"
        )
    if not rec.runners:
        out.append("<li>None: no other framework is eligible.</li>")
    out.append("</ul><h2>What would change the decision</h2><ul>")
    out += [f"<li>{_e(line)}</li>" for line in rec.change]
    out.append('</ul><h2>Facts used</h2><ol class="facts">')
    out += [
        f'<li id="fact-{n}">{_e(owner)}: {_e(fact.get("fact", ""))} (source: {_source(fact.get("source", ""))}; '
        f"as of {_e(fact.get('as_of', ''))})</li>"
        for n, (owner, fact) in enumerate(rec.facts, 1)
    ]
    out.append("</ol><h2>Excluded options and why</h2><ul>")
    excluded = [
        f"<li><strong>{_e(n)}</strong>: {_e('; '.join(why))} {_html_refs(refs)}</li>" for n, why, refs in rec.excluded
    ]
    out += excluded or ["<li>None.</li>"]
    out.append("</ul><h2>Generated by</h2><ul>")
    out += [f"<li>{_e(label)}: {_e(value)}</li>" for label, value in rec.generated]
    out.append("</ul></body></html>")
    return "\n".join(out) + "\n"


# --- files ------------------------------------------------------------------------------


def check_path(path: Path, overwrite: bool = False) -> tuple[Path, str]:
    """(absolute path, 'markdown' or 'html') for a report file that can be written; BadInput if not."""
    path = Path(path).expanduser()
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise BadInput(f"{path}: unknown report format {path.suffix or '(none)'!r}; use .md, .html or .htm")
    folder = path.parent.resolve()
    if not folder.is_dir():
        raise BadInput(f"{path}: directory {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInput(f"{path}: directory {folder} is not writable")
    if path.is_dir():
        raise BadInput(f"{path}: is a directory; give a file name ending in .md or .html")
    if path.exists() and not overwrite:
        raise BadInput(f"{path}: already exists (pass --force to overwrite)")
    return folder / path.name, kind


def write_report(result: Recommendation, path: Path, *, overwrite: bool = True) -> Path:
    """Write the record as Markdown (.md) or HTML (.html/.htm); return the absolute path written."""
    target, kind = check_path(path, overwrite)
    text = render_markdown(result) if kind == "markdown" else render_html(result)
    # Write beside the target, then rename: a failure never leaves a half-written report.
    temp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    try:
        temp.write_text(text, encoding="utf-8")
        temp.replace(target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise BadInput(f"{path}: cannot write the report ({exc.strerror or exc})") from None
    return target
