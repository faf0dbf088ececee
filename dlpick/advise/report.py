"""Architecture decision records from a recommendation: Markdown, or one self-contained HTML file.

Both are Jinja2 templates (dlpick/advise/report_templates/) rendered from the same context, so they never
say different things; a team passes its own with `recommend --report-template FILE`. The context is
plain data (documented at the top of each built-in template). The HTML needs no network and no
JavaScript: inline CSS and an inline SVG chart of each framework's points.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlpick import __version__
from dlpick.errors import BadInput

if TYPE_CHECKING:
    from dlpick.advise.results import FactJson, Gap, Ranked
    from dlpick.advise.scoring import Recommendation

FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
TEMPLATES = Path(__file__).resolve().parent / "report_templates"
BUILTIN = {"markdown": "decision.md.j2", "html": "decision.html.j2"}
# Tableau 10: distinct hues that stay apart for the common colour-vision deficiencies.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")

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


class _Facts:
    """Numbered facts, each (framework, fact, source, date) once, with a link a reader can open."""

    def __init__(self, frameworks: Any = None) -> None:
        self.items: list[dict[str, Any]] = []
        self._numbers: dict[tuple[str, str, str, str], int] = {}
        self._frameworks = {fw.name: fw for fw in (frameworks or {}).values()}

    def refs(self, owner: str, facts: Sequence[FactJson]) -> list[int]:
        from dlpick.advise.record import package_of, where

        numbers = []
        for fact in facts:
            key = (owner, str(fact["fact"]), str(fact["source"]), str(fact["as_of"]))
            if key not in self._numbers:
                source = str(fact["source"])
                link, described = where(source, package_of(key[1], self._frameworks.get(owner)))
                self.items.append(
                    {
                        "number": len(self.items) + 1,
                        "owner": owner,
                        "fact": key[1],
                        "source": source,
                        "as_of": key[3],
                        "is_url": source.startswith(("https://", "http://")),
                        "link": link,
                        "described": described,
                    }
                )
                self._numbers[key] = len(self.items)
            numbers.append(self._numbers[key])
        return list(dict.fromkeys(numbers))


def _label(name: str) -> str:
    return name.replace("_", " ")


def _gap(gap: Gap) -> dict[str, Any]:
    return {
        "criterion": gap.criterion,
        "label": _label(gap.criterion),
        "points": round(gap.points, 1),
        "reason": gap.reason,
        "other": gap.other,
        "refs": [],
    }


def _view(ranked: Ranked, place: int, facts: _Facts) -> dict[str, Any]:
    """One framework as the templates see it."""
    total = ranked.total_weight()
    details = []
    for name, criterion in ranked.criteria.items():
        points = float(criterion.to_json(total)["points"]) if criterion.applicable else 0.0
        details.append(
            {
                "criterion": name,
                "label": _label(name),
                "applicable": criterion.applicable,
                "weight": criterion.weight,
                "score": criterion.score,
                "points": points,
                "reason": criterion.reason,
                "refs": facts.refs(ranked.name, criterion.facts) if criterion.applicable else [],
            }
        )
    return {
        "id": ranked.framework,
        "name": ranked.name,
        "place": place,
        "score": round(ranked.score, 1),
        "points": {d["criterion"]: d["points"] for d in details if d["applicable"]},
        "details": details,
        "reasons": list(ranked.reasons),
        "warnings": list(ranked.warnings),
    }


def _context_rows(result: Recommendation) -> list[tuple[str, str]]:
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


def context(result: Recommendation, today: str | None = None, deciders: str | None = None) -> dict[str, Any]:
    """Everything a decision record says, as plain data for a template."""
    from dlpick.advise import record
    from dlpick.advise.decision import decide

    kb = result.knowledge
    facts = _Facts(kb.frameworks)
    ranking = result.ranking
    decision = result.decision or decide(ranking, result.excluded)
    first = ranking[0] if ranking else None
    runner_ranked = ranking[1] if len(ranking) > 1 else None
    fw = kb.frameworks.get(first.framework) if first else None
    date = today or dt.date.today().isoformat()
    # The facts the decision rests on are numbered first: the deciding criteria's, then the risks'.
    deciding = []
    if first is not None and runner_ranked is not None:
        for place, gap in enumerate(decision.deciding[: record.SHOWN_GAPS]):
            view = _gap(gap)
            mine = record.cited_facts(gap, first.criteria[gap.criterion].facts, gap.reason)
            view["refs"] = facts.refs(first.name, mine)
            if place == 0:  # the margin hangs on both sides of the first
                theirs = record.cited_facts(gap, runner_ranked.criteria[gap.criterion].facts, gap.other)
                view["refs"] += facts.refs(runner_ranked.name, theirs)
            deciding.append(view)
    risk_items = record.risks(result, decision, facts.refs, fw, date)
    cited = len(facts.items)
    consequences = record.consequences(result, decision, facts.refs, fw)
    options = [_view(r, place, facts) for place, r in enumerate(ranking, 1)]
    for option, (pro, con) in zip(options, record.pros_cons(ranking), strict=True):
        option["pros"], option["cons"] = pro, con
    excluded = [
        {"name": e.name, "reasons": [record.plain(r) for r in e.reasons], "refs": facts.refs(e.name, e.facts)}
        for e in result.excluded
    ]
    pick = options[0] if options else None
    runner = options[1] if len(options) > 1 else None
    criteria = [n for n, c in first.criteria.items() if c.applicable] if first else []
    same = (
        [
            n
            for n in criteria
            if len(ranking) > 1 and all(r.criteria[n].score == first.criteria[n].score for r in ranking)
        ]
        if first
        else []
    )
    names = {fid: fw.name for fid, fw in kb.frameworks.items()}
    migration = [
        {
            "framework": m.framework,
            "name": m.name,
            "familiarity": m.level,
            "since": m.since,
            "successor": names.get(m.successor or "", m.successor),
            "target": names.get(m.target or "", m.target),
            "text": m.text,
            "carries_over": m.carries_over,
        }
        for m in decision.migration
    ]
    runners = [
        {**view, "behind": round(ranking[0].score - r.score, 1)}
        for view, r in zip(options[1:], ranking[1:], strict=True)
    ]
    title = (
        f"Use {first.name} for {result.answers.task}"
        if first
        else (f"No framework meets the constraints for {result.answers.task}")
    )
    stability = result.stability.text
    change = [
        f"Stability: {stability}.",
        "Changing a hard constraint (hardware, deployment targets, Python version, whether retired frameworks "
        "are ranked) changes which frameworks are eligible (see the options not considered).",
        f"The facts are as of {kb.as_of}; newer facts can change the scores.",
    ]
    names_by_vocab = list(kb.vocabulary.criteria)
    return {
        "title": title,
        "status": "proposed",
        "date": date,
        "deciders": deciders,
        "task": result.answers.task,
        "context": _context_rows(result),
        "problem": record.problem(result),
        "drivers": record.drivers(result),
        "pick": pick,
        "runner_up": runner,
        "decision": {
            "text": decision.text,
            "hangs_on": decision.hangs_on,
            "near_tie": decision.near_tie,
            "margin": round(decision.margin, 1),
            "deciding": deciding + [_gap(g) for g in decision.deciding[record.SHOWN_GAPS :]],
            "shown": len(deciding),
            "gives_up": [_gap(g) for g in decision.gives_up],
        },
        "migration": migration,
        "consequences": consequences,
        "risks": [item["text"] for item in risk_items],
        "risk_items": risk_items,
        "stability": stability,
        "change": change,
        "criteria": criteria,
        "not_applicable": [(n, c.reason) for n, c in first.criteria.items() if not c.applicable] if first else [],
        "same_for_all": same,
        "options": options,
        "runners": runners,
        "excluded": excluded,
        "facts": facts.items,
        "sources": facts.items[:cited],
        "colours": {n: PALETTE[names_by_vocab.index(n) % len(PALETTE)] for n in criteria if n in names_by_vocab},
        "knowledge": {"as_of": kb.as_of, "version": kb.version},
        "generated": [
            ("dlpick", __version__),
            ("Knowledge base", kb.version),
            ("Knowledge as of", kb.as_of),
            ("Generated on", date),
        ],
        "css": CSS,
    }


# --- rendering ---------------------------------------------------------------------------


def _md_cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _refs(numbers: list[int], kind: str = "markdown") -> str:
    if kind == "html":
        return " ".join(f'<a href="#fact-{n}">[{n}]</a>' for n in numbers)
    return " ".join(f"[{n}]" for n in numbers)


def _environment(kind: str, folder: Path) -> Any:
    """A sandboxed Jinja2 environment: a team's own template may not reach into Python."""
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=kind == "html",
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = _md_cell
    env.filters["refs"] = lambda numbers: (
        jinja2.filters.Markup(_refs(numbers, "html")) if kind == "html" else _refs(numbers)
    )
    env.filters["pct"] = lambda value: f"{value:.0%}"
    env.filters["num"] = lambda value: f"{value:.1f}"
    return env


def render(
    result: Recommendation,
    kind: str,
    template: Path | None = None,
    today: str | None = None,
    deciders: str | None = None,
) -> str:
    """The record as `kind` ('markdown' or 'html') from the built-in template, or from `template`;
    `deciders` (e.g. the profile's team) fills the record's Deciders field."""
    import jinja2

    data = context(result, today, deciders)
    data["chart"] = jinja2.filters.Markup(render_chart(data)) if kind == "html" and data["options"] else ""
    if kind == "html":
        data["css"] = jinja2.filters.Markup(CSS)  # a style sheet is not text: it must not be escaped
    folder, name = (template.parent, template.name) if template else (TEMPLATES, BUILTIN[kind])
    env = _environment(kind, folder)
    try:
        return str(env.get_template(name).render(**data))
    except jinja2.TemplateSyntaxError as exc:
        raise BadInput(f"{template or name}:{exc.lineno}: template syntax error: {exc.message}") from None
    except jinja2.TemplateNotFound:
        raise BadInput(f"{template or name}: report template not found") from None
    except (jinja2.UndefinedError, jinja2.exceptions.SecurityError, TypeError, ValueError) as exc:
        raise BadInput(f"{template or name}: cannot render the report template: {exc}") from None


def render_markdown(result: Recommendation, template: Path | None = None) -> str:
    return render(result, "markdown", template)


def render_html(result: Recommendation, template: Path | None = None) -> str:
    return render(result, "html", template)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def render_chart(data: dict[str, Any]) -> str:
    """A stacked horizontal bar per framework: the points each criterion adds to its score."""
    options, criteria, colours = data["options"], data["criteria"], data["colours"]
    label_w, bar_w, row_h, bar_h, top, per_row = 150, 660, 30, 20, 28, 4
    width, scale = label_w + bar_w + 70, bar_w / 100
    legend_y = top + len(options) * row_h + 16
    height = legend_y + ((len(criteria) + per_row - 1) // per_row) * 22 + 8
    parts = [
        f'<svg class="chart" id="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title chart-desc">',
        '<title id="chart-title">Points per criterion for each framework</title>',
        '<desc id="chart-desc">Stacked bars: each segment is the points one criterion adds to the '
        "framework's score out of 100.</desc>",
    ]
    for tick in range(0, 101, 25):
        x = label_w + tick * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{legend_y - 12}" stroke="#ddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{top - 10}" text-anchor="middle">{tick}</text>')
    for i, option in enumerate(options):
        y, x, points = top + i * row_h, float(label_w), option["points"]
        parts.append(f'<g class="bar" data-framework="{_e(option["id"])}">')
        parts.append(f'<text x="{label_w - 8}" y="{y + bar_h - 5}" text-anchor="end">{_e(option["name"])}</text>')
        for name in criteria:
            w = max(points[name], 0.0) * scale
            tip = f"{option['name']}, {name}: {points[name]:.1f} points"
            parts.append(
                f'<rect class="seg" data-criterion="{_e(name)}" x="{x:.2f}" y="{y}" width="{w:.2f}" '
                f'height="{bar_h}" fill="{colours[name]}"><title>{_e(tip)}</title></rect>'
            )
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + bar_h - 5}">{option["score"]:.1f}</text></g>')
    parts.append('<g class="legend">')
    for i, name in enumerate(criteria):
        lx, ly = label_w + (i % per_row) * (bar_w / per_row), legend_y + (i // per_row) * 22
        parts.append(
            f'<rect class="swatch" x="{lx:.1f}" y="{ly}" width="14" height="14" fill="{colours[name]}">'
            f'<title>{_e(name)}</title></rect><text x="{lx + 20:.1f}" y="{ly + 12}">{_e(name)}</text>'
        )
    parts.append("</g></svg>")
    return "\n".join(parts)


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


def check_template(path: Path) -> Path:
    """An existing, readable template file; BadInput if not."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BadInput(
            f"{path}: report template not found (give a Jinja2 file, e.g. a copy of {TEMPLATES / BUILTIN['markdown']})"
        )
    return path.resolve()


def write_report(
    result: Recommendation,
    path: Path,
    *,
    overwrite: bool = True,
    template: Path | None = None,
    deciders: str | None = None,
) -> Path:
    """Write the record as Markdown (.md) or HTML (.html/.htm), from `template` when given; return the
    absolute path written."""
    target, kind = check_path(path, overwrite)
    text = render(result, kind, check_template(template) if template else None, deciders=deciders)
    # Write beside the target, then rename: a failure never leaves a half-written report.
    temp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    try:
        temp.write_text(text, encoding="utf-8")
        temp.replace(target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise BadInput(f"{path}: cannot write the report ({exc.strerror or exc})") from None
    return target
