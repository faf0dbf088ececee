"""From (answers, knowledge) to a ranking: hard constraints, weighted criteria, stability.

Pure functions over plain data. Each criterion scores a framework 0..1 from sourced facts;
the total is the weighted mean of the applicable criteria, x 100.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dlpick.advise.answers import LEVEL_MAX, Answers
from dlpick.errors import BadInput
from dlpick.kb.knowledge import Knowledge

if TYPE_CHECKING:
    from dlpick.machine.bench import Throughput

MAX_WEIGHT = 5.0


@dataclass
class CriterionScore:
    score: float  # 0..1
    weight: float
    reason: str
    facts: list[dict[str, Any]] = field(default_factory=list)
    applicable: bool = True

    def to_json(self, total_weight: float) -> dict[str, Any]:
        points = self.weight * self.score / total_weight * 100 if total_weight and self.applicable else 0.0
        return {
            "score": round(self.score * 100, 1),
            "weight": self.weight,
            "points": round(points, 2),
            "applicable": self.applicable,
            "reason": self.reason,
            "facts": self.facts,
        }


@dataclass
class Ranked:
    framework: str
    name: str
    score: float
    criteria: dict[str, CriterionScore]
    reasons: list[str]
    warnings: list[str]

    def total_weight(self) -> float:
        return sum(c.weight for c in self.criteria.values() if c.applicable)

    def to_json(self) -> dict[str, Any]:
        total = self.total_weight()
        return {
            "framework": self.framework,
            "name": self.name,
            "score": round(self.score, 1),
            "breakdown": {name: c.to_json(total) for name, c in self.criteria.items()},
            "reasons": self.reasons,
            "warnings": self.warnings,
        }


@dataclass
class Excluded:
    framework: str
    name: str
    reasons: list[str]
    facts: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"framework": self.framework, "name": self.name, "reasons": self.reasons, "facts": self.facts}


@dataclass
class Stability:
    stable: bool
    text: str
    criterion: str | None = None
    from_weight: float | None = None
    to_weight: float | None = None
    new_top: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "stable": self.stable,
            "text": self.text,
            "criterion": self.criterion,
            "from_weight": self.from_weight,
            "to_weight": None if self.to_weight is None else round(self.to_weight, 2),
            "new_top": self.new_top,
        }


class Gap:
    """One criterion where two frameworks differ, in points of the 0..100 score.

    (Plain classes, not dataclasses, from here on: `recommend` pays for every class it creates at start-up.)
    """

    __slots__ = ("criterion", "points", "reason", "other")

    def __init__(self, criterion: str, points: float, reason: str, other: str) -> None:
        self.criterion = criterion
        self.points = points  # the first framework's lead (negative: it trails)
        self.reason = reason  # the first framework's side, in words
        self.other = other  # the second framework's side

    def __repr__(self) -> str:
        return f"Gap({self.criterion!r}, {self.points:.2f})"

    def to_json(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "points": round(self.points, 2),
            "reason": self.reason,
            "other": self.other,
        }


class Migration:
    """Advice for a team that knows a retired framework, shown whether or not it is ranked."""

    __slots__ = ("framework", "name", "level", "since", "successor", "text", "carries_over", "target")

    def __init__(
        self,
        framework: str,
        name: str,
        level: int,
        since: str | None,
        successor: str | None,
        text: str | None,
        carries_over: list[str],
        target: str | None,
    ) -> None:
        self.framework, self.name, self.level, self.since = framework, name, level, since
        self.successor = successor
        self.text = text  # the knowledge base's migration advice
        self.carries_over = carries_over  # libraries it used that the target has too (from the task evidence)
        self.target = target  # where to move: the successor, else the top active pick

    def to_json(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "familiarity": self.level,
            "retired_since": self.since,
            "successor": self.successor,
            "migration": self.text,
            "carries_over": self.carries_over,
            "target": self.target,
        }


class Decision:
    """Why the top pick beats the runner-up, and whether it is close."""

    __slots__ = ("pick", "runner_up", "margin", "near_tie", "deciding", "gives_up", "text", "hangs_on", "migration")

    def __init__(
        self,
        pick: str | None,
        runner_up: str | None,
        margin: float,
        near_tie: bool,
        deciding: list[Gap],
        gives_up: list[Gap],
        text: str,
        hangs_on: str,
    ) -> None:
        self.pick, self.runner_up = pick, runner_up
        self.margin = margin  # points between them
        self.near_tie = near_tie  # closer than one familiarity level, or one weight step swaps them
        self.deciding = deciding  # where the pick leads, biggest first
        self.gives_up = gives_up  # where the runner-up leads, biggest first
        self.text = text  # one sentence that says it
        self.hangs_on = hangs_on  # the fact the pick hangs on
        self.migration: list[Migration] = []

    def __repr__(self) -> str:
        return f"Decision({self.text!r})"

    def to_json(self) -> dict[str, Any]:
        return {
            "pick": self.pick,
            "runner_up": self.runner_up,
            "margin": round(self.margin, 2),
            "near_tie": self.near_tie,
            "text": self.text,
            "hangs_on": self.hangs_on,
            "deciding": [g.to_json() for g in self.deciding],
            "gives_up": [g.to_json() for g in self.gives_up],
            "migration": [m.to_json() for m in self.migration],
        }


@dataclass
class Recommendation:
    ranking: list[Ranked]
    excluded: list[Excluded]
    answers: Answers
    weights: dict[str, float]
    stability: Stability
    knowledge: Knowledge
    bench: dict[str, Any] | None = None  # which `dlpick bench` run fed the performance criterion
    decision: Decision | None = None

    def to_json(self, top: int | None = None) -> dict[str, Any]:
        ranking = self.ranking[:top] if top else self.ranking
        data = {
            "ranking": [r.to_json() for r in ranking],
            "excluded": [e.to_json() for e in self.excluded],
            "answers": self.answers.to_dict(),
            "weights": self.weights,
            "stability": self.stability.to_json(),
            "knowledge": {"as_of": self.knowledge.as_of, "version": self.knowledge.version},
        }
        if self.bench is not None:
            data["bench"] = self.bench
        if self.decision is not None:
            data["decision"] = self.decision.to_json()
        return data


def _fact(what: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"fact": what, "source": item["source"], "as_of": item["as_of"]}


def weights_for(answers: Answers, knowledge: Knowledge) -> dict[str, float]:
    weights = {
        name: float(knowledge.criteria["default_weights"].get(name, 0)) for name in knowledge.vocabulary["criteria"]
    }
    weights.update({name: float(w) for name, w in answers.priorities.items()})
    return weights


# --- hard constraints -------------------------------------------------------------------


def constraints(fw: dict[str, Any], answers: Answers) -> tuple[list[str], list[dict[str, Any]]]:
    """Reasons the framework cannot be used at all by this team (empty list: it can)."""
    reasons: list[str] = []
    facts: list[dict[str, Any]] = []
    status = fw["status"]
    if status["value"] == "retired" and not answers.include_retired:
        reasons.append(_retired_text(fw) + " (pass --include-retired to rank it anyway)")
        facts.append(_fact(f"status: retired since {status.get('since')}", status))
    python = fw["python"]
    if answers.python not in python["versions"] and answers.python not in python.get("last_release_for", {}):
        supported = sorted([*python["versions"], *python.get("last_release_for", {})], key=_minor)
        reasons.append(f"does not support Python {answers.python} (supports {', '.join(supported)})")
        facts.append(_fact(f"Python versions {', '.join(python['versions'])}", python))
    for hardware in answers.hardware:
        if hardware not in fw["hardware"]:
            reasons.append(f"no known way to run on {hardware}")
    for target in answers.deployment:
        if not fw["deployment"].get(target):
            reasons.append(f"no known deployment path to {target}")
        elif not usable_paths(fw, target, answers.hardware):
            shown = ", ".join(sorted({h for p in fw["deployment"][target] for h in p.get("hardware", [])}))
            reasons.append(f"no known deployment path to {target} on {', '.join(answers.hardware)} (only on {shown})")
    return reasons, facts


def on_hardware(item: dict[str, Any], hardware: list[str]) -> bool:
    """Whether an item shown on particular hardware (`hardware:`) counts for a team on `hardware`: it
    does when it names none, when the team named none, or when they share one."""
    shown_on = item.get("hardware") or []
    return not shown_on or not hardware or bool(set(shown_on) & set(hardware))


def usable_paths(fw: dict[str, Any], target: str, hardware: list[str]) -> list[dict[str, Any]]:
    """A framework's paths to `target` that run on the team's hardware (a path documented only on other
    hardware does not count, like a missing one)."""
    return [p for p in fw["deployment"].get(target, []) if on_hardware(p, hardware)]


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def _retired_text(fw: dict[str, Any]) -> str:
    status = fw["status"]
    text = f"retired since {status.get('since')}"
    if status.get("successor"):
        text += f"; successor {status['successor']}"
    return text


# --- criteria ---------------------------------------------------------------------------


# Feature kinds that are measurements on particular hardware, not capabilities: absence of a result on
# the team's hardware says who submitted one, not how fast the framework runs, so it is unknown.
MEASURED = frozenset({"mlperf-training"})
DAYS_PER_YEAR = 365.25


def recency(item: dict[str, Any], today: dt.date | None, half_life: float | None) -> tuple[float, float | None]:
    """How much of a measurement still counts: 1/2 per `half_life` years from its round's date to `today`
    (the knowledge's date), and its age in years. 1 (age None) for an item without a round, or no date given."""
    published = (item.get("round") or {}).get("date")
    if not published or today is None or not half_life:
        return 1.0, None
    age = max(0.0, (today - dt.date.fromisoformat(str(published))).days / DAYS_PER_YEAR)
    return 0.5 ** (age / half_life), age


def _features(
    items: list[dict[str, Any]],
    values: dict[str, float],
    label: str,
    hardware: list[str],
    carry: tuple[float, str] = (1.0, ""),
    today: dt.date | None = None,
    half_life: float | None = None,
) -> CriterionScore:
    """Each feature kind counts once. A feature shown on particular hardware counts only for teams on
    that hardware (or teams that named none). A measured kind (an MLPerf result) with no result on the
    team's hardware is unknown: it leaves the denominator, so it counts neither for nor against. A result
    counts as far as it is recent (`recency`): the rest of its value is unknown too, so an old result
    weighs less than a new one and never less than none."""
    present: dict[str, dict[str, Any]] = {}
    elsewhere: dict[str, list[str]] = {}

    def fresh(item: dict[str, Any]) -> float:
        return recency(item, today, half_life)[0]

    for item in items:
        shown_on = item.get("hardware", [])
        if hardware and shown_on and not set(shown_on) & set(hardware):
            shown = elsewhere.setdefault(item["kind"], [])
            shown += [h for h in shown_on if h not in shown]
            continue
        held = present.get(item["kind"])
        # One of each kind counts: one shown on the team's hardware first, then the most recent.
        if held is None or (bool(shown_on), fresh(item)) > (bool(held.get("hardware")), fresh(held)):
            present[item["kind"]] = item
    unknown = [kind for kind in values if kind in MEASURED and kind not in present]
    share = {kind: fresh(item) if kind in MEASURED else 1.0 for kind, item in present.items()}
    known = min(1.0, sum(value * share.get(kind, 1.0) for kind, value in values.items() if kind not in unknown))
    # A feature shown on the team's hardware counts fully; one shown nowhere in particular carries over.
    got = sum(
        values[kind] * share[kind] * (1.0 if item.get("hardware") else carry[0]) for kind, item in present.items()
    )
    score = _clamp(got / known) if known else 0.0
    names = []
    for kind, item in present.items():
        weight, age = recency(item, today, half_life) if kind in MEASURED else (1.0, None)
        names.append(item["name"] if age is None else f"{item['name']} ({age:.1f} years old: counts {weight:.0%})")
    reason = ", ".join(names) or f"no sourced {label} features"
    if carry[0] < 1 and any(not item.get("hardware") for item in present.values()):
        reason += f"; {carry[1]}"
    other = [f"{_kind_text(k)} (shown on {', '.join(elsewhere[k])})" for k in elsewhere if k not in present]
    if other:
        reason += "; not counted, other hardware: " + ", ".join(other)
    if unknown:
        reason += (
            f"; no {' or '.join(_kind_text(k) for k in unknown)} on {', '.join(hardware) or 'any hardware'}: unknown"
        )
    facts = [_fact(f"{kind}: {item['name']}", item) for kind, item in present.items()]
    for kind, item in present.items():
        if kind in MEASURED and item.get("round") and today is not None:
            rnd = item["round"]
            facts.append(_fact(f"{kind}: round {rnd['version']} results of {rnd['date']}", rnd))
    return CriterionScore(score, 0, reason, facts)


def _kind_text(kind: str) -> str:
    return {"mlperf-training": "MLPerf Training result"}.get(kind, kind.replace("-", " "))


def rank_score(rank: float | None, best: float, worst: float) -> float:
    """1 at `best` rank or better, 0 at `worst` or unranked, log scale between."""
    if not rank:
        return 0.0
    return _clamp((math.log10(worst) - math.log10(max(rank, 1))) / (math.log10(worst) - math.log10(best)))


# Evidence kinds whose worth rests on other people's adoption: a third-party library or a hub counts
# as far as it is installed. An official library or model zoo is the framework project's own work, and
# PyPI ranks undercount libraries installed from mirrors and vendor indexes (MindCV, PaddleTS), so its
# rank is shown, not scored.
ADOPTION_KINDS = frozenset({"third-party-library", "hub"})


def _task_fit(
    fw: dict[str, Any], answers: Answers, knowledge: Knowledge, carry: tuple[float, str] = (1.0, "")
) -> CriterionScore:
    """The strongest evidence item, plus `breadth_bonus` of each further one. An item documented only on
    other hardware does not count; one documented on the team's hardware counts fully; the rest carry
    over as far as the hardware support (`carry`). The score is capped at the strongest item's share."""
    everything = fw.get("tasks", {}).get(answers.task, [])
    evidence = [item for item in everything if on_hardware(item, answers.hardware)]
    elsewhere = [item for item in everything if item not in evidence]
    if not evidence:
        reason = f"no sourced evidence for {answers.task}"
        if elsewhere:
            reason += " on " + ", ".join(answers.hardware) + "; not counted, other hardware: " + _shown(elsewhere)
        return CriterionScore(0.0, 0, reason)
    values = knowledge.criteria["task_evidence"]
    statuses = knowledge.criteria["evidence_status"]
    scale = knowledge.criteria["adoption"]
    ranks = knowledge.adoption["pypi_download_rank"]
    retired = _retired(fw)
    items = []
    for item in evidence:
        rank = ranks.get(item.get("package", ""))
        status = item.get("status", "active")
        if retired and statuses["dormant"] < statuses[status]:
            status = "dormant"  # a retired framework gets no releases: its libraries cannot move on either
        factor = 1.0 if item.get("hardware") else carry[0]
        value = values[item["kind"]] * statuses[status] * factor
        if item["kind"] in ADOPTION_KINDS:
            adoption = rank_score(rank, scale["best_rank"], scale["worst_rank"])
            value *= scale["base"] + (1 - scale["base"]) * adoption
        details = [item["kind"].replace("-", " ")] + ([status] if status != "active" else [])
        if retired and status == "dormant" and item.get("status", "active") != "dormant":
            details[-1] = "dormant: its framework is retired"
        if rank:
            details.append(f"PyPI download rank {rank:,}")
        elif item.get("package"):
            details.append("not among the top 15,000 PyPI packages")
        label = f"{item['name']} ({', '.join(details)})"
        facts = [_fact(f"{answers.task}: {item['name']} ({item['kind']})", item)]
        facts += _state_facts(fw, item, None)
        if item.get("package"):
            facts.append(_fact(f"{item['package']}: PyPI download rank {rank or 'beyond 15,000'}", knowledge.adoption))
        if item.get("hardware"):
            label += f" (shown on {', '.join(item['hardware'])})"
        items.append((value, label, facts, factor))
    items.sort(key=lambda entry: -entry[0])
    total = items[0][0] + values["breadth_bonus"] * sum(entry[0] for entry in items[1:])
    score = min(items[0][3], total)  # the cap: what the strongest item's hardware support allows
    reason = f"{answers.task}: " + "; ".join(entry[1] for entry in items)
    if any(entry[3] < 1 for entry in items):
        reason += f"; {carry[1]}"
    if elsewhere:
        reason += "; not counted, other hardware: " + _shown(elsewhere)
    return CriterionScore(score, 0, reason, [f for entry in items for f in entry[2]])


def _shown(items: list[dict[str, Any]]) -> str:
    """'MaxText (tpu, nvidia-gpu)' for items documented on particular hardware."""
    return ", ".join(f"{item.get('name') or item.get('tool')} ({', '.join(item['hardware'])})" for item in items)


def _state_facts(fw: dict[str, Any], item: dict[str, Any], levels: dict[str, float] | None) -> list[dict[str, Any]]:
    """The pages that say why an item counts less: its last release (dormant), its framework's retirement."""
    facts = []
    last = item.get("last_release")
    if last and item.get("status") in ("dormant", "maintenance"):
        facts.append(
            _fact(f"{item.get('name') or item.get('tool')}: last release {last['version']} ({last['date']})", last)
        )
    retired_cap = levels is None or levels[item["level"]] > levels["legacy"]
    if _retired(fw) and retired_cap:
        facts.append(_fact(_retired_text(fw), fw["status"]))
    return facts


def _retired(fw: dict[str, Any]) -> bool:
    return bool(fw["status"]["value"] == "retired")


def _familiarity(fw: dict[str, Any], answers: Answers, knowledge: Knowledge) -> CriterionScore:
    own = answers.familiarity.get(fw["id"], 0)
    score, reason, facts = own / 5, f"team familiarity {own}/5", []
    transfer = knowledge.criteria["successor_familiarity_transfer"]
    for other_id, other in knowledge.frameworks.items():
        level = answers.familiarity.get(other_id, 0)
        if other["status"].get("successor") == fw["id"] and level and transfer * level / 5 > score:
            score = transfer * level / 5
            reason = (
                f"team familiarity {own}/5; {other['name']} familiarity {level}/5 counts "
                f"{transfer:.0%} toward its successor {fw['name']}"
            )
            facts.append(_fact(f"{other['name']} successor: {fw['name']}", other["status"]))
    return CriterionScore(score, 0, reason, facts)


FEATURE_RELEASE = re.compile(r"[0-9]+\.[0-9]+(\.0+)*", re.ASCII)  # 2.10.0, 3.3, 1.0.0.0: not 2.7.2, 0.12.0.1


def feature_releases(measure: dict[str, Any]) -> int | None:
    """Major and minor releases (X.Y.0) among the versions a `releases_last_year` fact lists; None
    (unknown) when it lists none, so patch churn can never stand for feature work."""
    if not measure["value"]:
        return 0
    versions = measure.get("versions")
    if not isinstance(versions, list):
        return None
    return sum(bool(FEATURE_RELEASE.fullmatch(str(v))) for v in versions)


def _community(fw: dict[str, Any], criteria: dict[str, Any]) -> CriterionScore:
    """The mean of the popularity measures that have a source; a measure without one is left out
    (unknown), not counted as 0. The download snapshot covers the top 15,000, so a package outside it is known."""
    scale = criteria["community"]
    measures = fw.get("community", {})
    parts, texts, facts, unknown = [], [], [], []

    stars = measures.get("github_stars")
    if stars:
        low, high = scale["github_stars"]["low"], scale["github_stars"]["high"]
        value = max(stars["value"], 1)
        parts.append(_clamp((math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))))
        texts.append(f"{stars['value']:,.0f} GitHub stars")
        facts.append(_fact(f"{stars['value']:,.0f} GitHub stars", stars))
    else:
        unknown.append("GitHub stars")
    rank = measures.get("pypi_download_rank")
    if rank:
        ranks = scale["pypi_download_rank"]
        parts.append(rank_score(rank["value"], ranks["best"], ranks["worst"]))
        texts.append(f"PyPI download rank {rank['value']:,.0f}")
        facts.append(_fact(f"PyPI download rank {rank['value']:,.0f}", rank))
    elif fw.get("packages"):
        parts.append(0.0)
        texts.append("not among the 15,000 most-downloaded PyPI packages")
    else:
        unknown.append("PyPI downloads (not on PyPI)")
    releases = measures.get("releases_last_year")
    features = feature_releases(releases) if releases else None
    if releases and features is not None:
        low, high = scale["releases_last_year"]["low"], scale["releases_last_year"]["high"]
        parts.append(_clamp((features - low) / (high - low)))
        total = int(releases["value"])
        patches = f" (+{_plural(total - features, 'patch release')})" if total > features else ""
        texts.append(f"{_plural(features, 'feature release')} in the last year{patches}")
        facts.append(
            _fact(f"{_plural(total, 'release')} in the last year, {features} of them major or minor", releases)
        )
    elif releases:
        unknown.append(f"release cadence ({_plural(int(releases['value']), 'release')}, versions not listed)")
    else:
        unknown.append("release cadence")
    if unknown and parts and unknown != ["GitHub stars"]:  # no framework has a dated star count: not news
        texts.append("left out, no source: " + ", ".join(u for u in unknown if u != "GitHub stars"))
    if not parts:
        return CriterionScore(0.0, 0, "no sourced community measure", facts)
    return CriterionScore(sum(parts) / len(parts), 0, "; ".join(texts), facts)


def _plural(count: float, word: str) -> str:
    suffix = "es" if word.endswith("ch") else "s"
    return f"{count:,.0f} {word}{suffix * (count != 1)}"


def _level(fw: dict[str, Any], level: str, levels: dict[str, float]) -> tuple[float, str]:
    """A support level's value, and its words. A retired framework's paths work only with its last
    release: each counts as `legacy` at most."""
    value = levels[level]
    if _retired(fw) and value > levels["legacy"]:
        return levels["legacy"], f"{level}, counted as legacy: retired, last release {fw['release']['version']}"
    return value, level


def _hardware(fw: dict[str, Any], answers: Answers, levels: dict[str, float]) -> CriterionScore:
    if not answers.hardware:
        return CriterionScore(0.0, 0, "no hardware given", applicable=False)
    scores, texts, facts = [], [], []
    for hardware in answers.hardware:
        support = fw["hardware"].get(hardware)
        if support is None:  # only reached for frameworks that are excluded anyway
            scores.append(0.0)
            texts.append(f"{hardware}: none")
            continue
        value, words = _level(fw, support["level"], levels)
        scores.append(value)
        texts.append(f"{hardware}: {words} via {support['mechanism']}")
        facts.append(_fact(f"{hardware}: {support['level']} ({support['mechanism']})", support))
        if value < levels[support["level"]]:
            facts.append(_fact(_retired_text(fw), fw["status"]))
    return CriterionScore(sum(scores) / len(scores), 0, "; ".join(texts), facts)


def _path_value(fw: dict[str, Any], path: dict[str, Any], criteria: dict[str, Any]) -> float:
    """Its level, times its own state (a dormant runtime counts as a dormant library), times
    `partial_path` when it needs something most devices of the target lack."""
    value = _level(fw, path["level"], criteria["support_levels"])[0]
    value *= criteria["evidence_status"][path.get("status") or "active"]
    return value * criteria["partial_path"] if path.get("requires") else value


def _path_words(fw: dict[str, Any], path: dict[str, Any], criteria: dict[str, Any]) -> str:
    words = _level(fw, path["level"], criteria["support_levels"])[1]
    if path.get("status") and path["status"] != "active":
        last = path.get("last_release")
        words += f", {path['status']}" + (f" (last release {last['version']}, {last['date']})" if last else "")
    if path.get("requires"):
        words += f", only on devices with {path['requires']}"
    return words


def best_path(
    fw: dict[str, Any], target: str, criteria: dict[str, Any], hardware: list[str] | None = None
) -> dict[str, Any] | None:
    """The framework's best-scoring path to a deployment target on the team's `hardware` (None: it has none)."""
    paths = usable_paths(fw, target, hardware or [])
    return max(paths, key=lambda p: _path_value(fw, p, criteria)) if paths else None


# Targets served from the team's own hardware (the answers' `hardware` is what it trains and serves on):
# their paths are built for the framework's own builds and carry over like its libraries.
ON_TEAM_HARDWARE = ("server", "batch")


def _deployment(
    fw: dict[str, Any], answers: Answers, criteria: dict[str, Any], carry: tuple[float, str] = (1.0, "")
) -> CriterionScore:
    if not answers.deployment:
        return CriterionScore(0.0, 0, "no deployment target given", applicable=False)
    scores, texts, facts = [], [], []
    for target in answers.deployment:
        best = best_path(fw, target, criteria, answers.hardware)
        elsewhere = [p for p in fw["deployment"].get(target, []) if not on_hardware(p, answers.hardware)]
        if best is None:
            scores.append(0.0)
            texts.append(f"{target}: none" + (f" on this hardware (only {_shown(elsewhere)})" if elsewhere else ""))
            continue
        # A path documented on the team's hardware counts fully; one built for the framework's own builds carries over.
        factor = carry[0] if target in ON_TEAM_HARDWARE and not best.get("hardware") else 1.0
        scores.append(_path_value(fw, best, criteria) * factor)
        served = f"; {carry[1]}" if factor < 1 else ""
        shown = f", shown on {', '.join(best['hardware'])}" if best.get("hardware") else ""
        skipped = f"; not counted, other hardware: {_shown(elsewhere)}" if elsewhere else ""
        texts.append(f"{target}: {best['tool']} ({_path_words(fw, best, criteria)}{shown}){served}{skipped}")
        facts.append(_fact(f"{target}: {best['tool']} ({best['level']})", best))
        facts += _state_facts(fw, best, criteria["support_levels"])
    return CriterionScore(sum(scores) / len(scores), 0, "; ".join(texts), facts)


def _distributed(fw: dict[str, Any], levels: dict[str, float]) -> CriterionScore:
    info = fw["distributed"]
    tools = ", ".join(info.get("tools", [])) or "no tools"
    return CriterionScore(
        levels[info["level"]], 0, f"{info['level']} ({tools})", [_fact(f"distributed: {info['level']}", info)]
    )


# Which answers hardware ids a bench device stands for.
DEVICE_HARDWARE = {"cpu": ("cpu",), "cuda": ("nvidia-gpu", "amd-gpu"), "mps": ("apple-silicon",)}


def _measured_performance(
    kb_score: CriterionScore, measured: Throughput | None, bench: Mapping[str, Any], answers: Answers
) -> CriterionScore:
    """The performance criterion from `dlpick bench`: samples/s relative to the fastest measured framework."""
    from dlpick.machine import bench as bench_mod

    if measured is None:
        return CriterionScore(kb_score.score, 0, f"{kb_score.reason}; not measured here", kb_score.facts)
    if measured.others:
        # "1.3x the throughput of JAX, 2.9x PaddlePaddle"
        ratios = sorted(measured.others.items(), key=lambda item: item[1])
        against = ", ".join(f"{r:.2g}x {'the throughput of ' * (i == 0)}{name}" for i, (name, r) in enumerate(ratios))
    else:
        against = "the only framework measured"
    figures = " and ".join(f"{model} {value:,.0f}" for model, value in measured.samples_per_s.items())
    reason = f"measured here: {against} ({figures} samples/s on {measured.device})"
    devices = {kind for part in measured.device.split(", ") for kind in DEVICE_HARDWARE.get(part, (part,))}
    if answers.hardware and not devices & set(answers.hardware):
        reason += f"; the team named {', '.join(answers.hardware)}, not {measured.device}"
    source, date = bench_mod.source(bench, measured.device), bench_mod.run_date(bench)
    facts = [
        {"fact": f"{model}: {value:,.1f} samples/s on {measured.device}", "source": source, "as_of": date}
        for model, value in measured.samples_per_s.items()
    ]
    return CriterionScore(_clamp(measured.relative), 0, reason, facts)


def carry_over(fw: dict[str, Any], answers: Answers, levels: dict[str, float]) -> tuple[float, str]:
    """How much of a framework's libraries and tools carry over to the team's hardware: they are built and
    tested on the framework's own builds (`official`), so through a vendor plugin, a legacy, experimental
    or CPU-only path they count in proportion to that level (vendor/official); 1 on official or primary
    support, or when the team named no hardware. The mean over the team's hardware."""
    if not answers.hardware:
        return 1.0, ""
    ratios, weak = [], []
    for hardware in answers.hardware:
        support = fw["hardware"].get(hardware)
        value = _level(fw, support["level"], levels)[0] if support else 0.0
        ratio = min(1.0, value / levels["official"]) if levels["official"] else 1.0
        ratios.append(ratio)
        if ratio < 1:
            weak.append(f"{hardware} ({support['level'] if support else 'none'})")
    factor = sum(ratios) / len(ratios)
    return factor, (f"x{factor:.2f} for {', '.join(weak)} support: built for its own builds" if weak else "")


def _carried(criterion: CriterionScore, factor: float, text: str) -> CriterionScore:
    if factor >= 1:
        return criterion
    return CriterionScore(criterion.score * factor, 0, f"{criterion.reason}; {text}", criterion.facts)


def _usability_items(fw: dict[str, Any]) -> list[dict[str, Any]]:
    """Ease-of-use features; a fit()/Trainer-style trainer from the framework's ecosystem (PyTorch
    Lightning, Keras on the JAX backend) serves as its high-level API when the project has none itself."""
    items = list(fw.get("ease_of_use", []))
    if not any(item["kind"] == "high-level-api" for item in items):
        trainers = [item for item in fw.get("ecosystem", []) if item["kind"] == "high-level-trainer"]
        items += [
            {**t, "kind": "high-level-api", "name": f"{t['name']}, its ecosystem's trainer"} for t in trainers[:1]
        ]
    return items


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def criterion_scores(
    fw: dict[str, Any],
    answers: Answers,
    knowledge: Knowledge,
    bench: Mapping[str, Any] | None = None,
    measured: Mapping[str, Throughput] | None = None,
    today: dt.date | None = None,
) -> dict[str, CriterionScore]:
    """Every criterion's 0..1 score for one framework (weights not applied).

    With a `dlpick bench` result, performance is the measured throughput (`measured`, computed from
    `bench` when not given) for the frameworks it measured; the others keep the knowledge base's.
    An MLPerf result's age is counted up to `today`: by default the knowledge's date (its newest `as_of`),
    so the same knowledge gives the same ranking on any day.
    """
    criteria = knowledge.criteria
    levels = criteria["support_levels"]
    carry = carry_over(fw, answers, levels)
    today = today or knowledge_date(knowledge)
    half_life = criteria.get("mlperf_half_life_years")
    features = {
        name: _features(
            items, criteria[f"{name}_features"], name.replace("_", " "), answers.hardware, factor, today, half_life
        )
        for name, items, factor in (
            ("performance", fw.get("performance", []), carry),
            ("ecosystem", fw.get("ecosystem", []), carry),
            ("ease_of_use", _usability_items(fw), (1.0, "")),  # the API is the same on any hardware
        )
    }
    if bench is not None:
        from dlpick.machine import bench as bench_mod

        measured = bench_mod.relative_throughput(bench) if measured is None else measured
        features["performance"] = _measured_performance(features["performance"], measured.get(fw["id"]), bench, answers)
    scores = {
        "task_fit": _task_fit(fw, answers, knowledge, carry),
        "performance": features["performance"],
        "familiarity": _familiarity(fw, answers, knowledge),
        "community": _community(fw, criteria),
        "ecosystem": features["ecosystem"],
        "ease_of_use": features["ease_of_use"],
        "hardware": _hardware(fw, answers, levels),
        "deployment": _deployment(fw, answers, criteria, carry),
        "distributed": _carried(_distributed(fw, criteria["distributed_levels"]), *carry),
    }
    # Criteria a team's knowledge adds to the vocabulary without a scorer count as not applicable.
    return {
        name: scores.get(name, CriterionScore(0.0, 0, "no scorer for this criterion", applicable=False))
        for name in knowledge.vocabulary["criteria"]
    }


def knowledge_date(knowledge: Knowledge) -> dt.date | None:
    """The knowledge's date (its newest `as_of`): the day an MLPerf result's age is counted to."""
    try:
        return dt.date.fromisoformat(knowledge.as_of)
    except ValueError:  # "unknown": no fact has a date
        return None


def total(criteria: dict[str, CriterionScore], weights: dict[str, float]) -> float:
    used = [(weights[name], c.score) for name, c in criteria.items() if c.applicable]
    weight_sum = sum(w for w, _ in used)
    return 100 * sum(w * s for w, s in used) / weight_sum if weight_sum else 0.0


# --- reasons and warnings ---------------------------------------------------------------


def _strongest(criteria: dict[str, CriterionScore]) -> list[str]:
    """The criteria that carried most of the score, strongest first (when there is nothing to compare with)."""
    strongest = sorted(
        ((n, c) for n, c in criteria.items() if c.applicable and c.weight > 0),
        key=lambda nc: -nc[1].weight * nc[1].score,
    )
    return [f"{n.replace('_', ' ')} {c.score:.0%}: {c.reason}" for n, c in strongest[:4]]


FEATURE_CRITERIA = ("performance", "ecosystem", "ease_of_use")
TEAM_CRITERIA = ("task_fit", "hardware", "deployment", "familiarity")  # judged against the team's own answers
SHOWN = 0.05  # points: smaller gaps are rounding, not a difference worth a line
GENERAL_LINE = 1.0  # points: a smaller lead on a general criterion is left to the tables, not the reasons


def _side(name: str, mine: CriterionScore, theirs: CriterionScore, other: str) -> str:
    """One framework's side of a criterion: for feature lists, what it has that the other lacks."""
    if name in FEATURE_CRITERIA:
        kinds = {str(f["fact"]).split(": ", 1)[0] for f in theirs.facts}
        extra = [str(f["fact"]).split(": ", 1)[1] for f in mine.facts if str(f["fact"]).split(": ", 1)[0] not in kinds]
        if extra:
            return f"{', '.join(extra)} ({other} has no counterpart)"
    return mine.reason


def gaps(a: Ranked, b: Ranked) -> list[Gap]:
    """Per applicable criterion, `a`'s lead over `b` in points of the score, biggest first."""
    total = a.total_weight()
    found = []
    for name, mine in a.criteria.items():
        theirs = b.criteria[name]
        if not mine.applicable or not total:
            continue
        points = 100 * mine.weight * (mine.score - theirs.score) / total
        found.append(Gap(name, points, _side(name, mine, theirs, b.name), _side(name, theirs, mine, a.name)))
    return sorted(found, key=lambda g: -g.points)


def near_tie(a: Ranked, b: Ranked) -> bool:
    """True when `b` is closer to `a` than one level of team familiarity is worth (one more level of
    experience with `b` would put it level), or when one step (1) on one weight, kept within
    0..MAX_WEIGHT, would put `b` level with `a`: the smallest changes a team can make to its answers."""
    applicable = [n for n, c in a.criteria.items() if c.applicable]
    margin = sum(a.criteria[n].weight * (a.criteria[n].score - b.criteria[n].score) for n in applicable)
    familiarity = a.criteria.get("familiarity")
    level = familiarity.weight / LEVEL_MAX if familiarity is not None and familiarity.applicable else 0.0
    if margin <= level:
        return True
    for name in applicable:
        gap = a.criteria[name].score - b.criteria[name].score
        if gap:
            delta = -margin / gap
            if abs(delta) <= 1 and 0 <= a.criteria[name].weight + delta <= MAX_WEIGHT:
                return True
    return False


def _label(name: str) -> str:
    return name.replace("_", " ")


def decide(ranking: list[Ranked], excluded: list[Excluded]) -> Decision:
    """The decision in words: what separates the pick from the runner-up, and whether it is close."""
    if not ranking:
        return Decision(None, None, 0.0, False, [], [], "no framework meets every hard constraint", "")
    top = ranking[0]
    if len(ranking) == 1:
        others = ", ".join(e.name for e in excluded) or "none"
        text = f"{top.name} is the only eligible framework (excluded: {others})"
        return Decision(top.framework, None, 0.0, False, [], [], text, "the hard constraints: see the exclusions")
    second = ranking[1]
    found = gaps(top, second)
    deciding = [g for g in found if g.points >= SHOWN]
    gives_up = sorted((g for g in found if g.points <= -SHOWN), key=lambda g: g.points)
    margin = top.score - second.score
    tie = near_tie(top, second)
    if not deciding:
        text = f"{top.name} and {second.name} score the same on every criterion; the order is alphabetical"
        return Decision(top.framework, second.framework, margin, True, [], gives_up, text, "nothing: it is a tie")
    first = deciding[0]
    if tie:
        text = (
            f"{top.name} and {second.name} are {margin:.1f} points apart: a near tie; {_label(first.criterion)} decides"
        )
    else:
        text = f"{top.name} leads {second.name} by {margin:.1f} points, most of it on {_label(first.criterion)}"
    hangs_on = f"{_label(first.criterion)}: {top.name}: {first.reason}; {second.name}: {first.other}"
    return Decision(top.framework, second.framework, margin, tie, deciding, gives_up, text, hangs_on)


def _reasons_against(ranked: Ranked, top: Ranked) -> list[str]:
    """A runner-up's reasons: where it trails the pick most, then where it leads."""
    found = gaps(ranked, top)
    behind = sorted((g for g in found if g.points <= -SHOWN), key=lambda g: g.points)[:3]
    ahead = [g for g in found if g.points >= SHOWN][:2]
    lines = [f"behind {top.name} by {-g.points:.1f} on {_label(g.criterion)}: {g.reason}" for g in behind]
    lines += [f"ahead of {top.name} by {g.points:.1f} on {_label(g.criterion)}: {g.reason}" for g in ahead]
    return lines or [f"level with {top.name} on every criterion"]


def explain(ranking: list[Ranked], decision: Decision) -> None:
    """Set each framework's `reasons`: the pick's deciding criteria, the others' gaps to the pick."""
    if not ranking:
        return
    top = ranking[0]
    if len(ranking) == 1:
        top.reasons = [decision.text, *_strongest(top.criteria)]
        return
    second = ranking[1]
    # The team's own criteria (its task, hardware, targets, experience) first; a general one (community,
    # ecosystem ...) only when it moves the score by a point or more: reasons stay about the team.
    shown = [g for g in decision.deciding if g.criterion in TEAM_CRITERIA or g.points >= GENERAL_LINE]
    shown = sorted(shown, key=lambda g: g.criterion not in TEAM_CRITERIA)[:3] or decision.deciding[:1]
    lines = [decision.text]
    lines += [f"{_label(g.criterion)} +{g.points:.1f} over {second.name}: {g.reason}" for g in shown]
    top.reasons = lines
    for ranked in ranking[1:]:
        ranked.reasons = _reasons_against(ranked, top)


def _key(item: dict[str, Any]) -> str:
    """What names a library across frameworks: its PyPI package, else the first word of its name."""
    return str(item.get("package") or re.split(r"[^0-9A-Za-z]+", item["name"].strip())[0]).lower()


def migrations(answers: Answers, knowledge: Knowledge, ranking: list[Ranked]) -> list[Migration]:
    """For each retired framework the team knows: its migration advice, successor, and the libraries it
    used there that the target framework (its successor, else the top active pick) also has."""
    found = []
    active = [r.framework for r in ranking if not _retired(knowledge.frameworks[r.framework])]
    for fid, level in answers.familiarity.items():
        fw = knowledge.frameworks.get(fid)
        if not fw or not level or not _retired(fw):
            continue
        status = fw["status"]
        target = status.get("successor") or (active[0] if active else None)
        carries: list[str] = []
        if target in knowledge.frameworks:
            theirs = {_key(i): i for items in knowledge.frameworks[target].get("tasks", {}).values() for i in items}
            for items in fw.get("tasks", {}).values():
                for item in items:
                    match = theirs.get(_key(item))
                    line = f"{item['name']} -> {match['name']}" if match else ""
                    if match and line not in carries:
                        carries.append(line)
        found.append(
            Migration(
                fid,
                fw["name"],
                int(level),
                status.get("since"),
                status.get("successor"),
                status.get("migration"),
                carries,
                target,
            )
        )
    return found


WEAK_LEVELS = ("conversion", "community", "experimental", "legacy", "cpu-fallback")


def _warnings(
    fw: dict[str, Any], answers: Answers, criteria: dict[str, CriterionScore], model: dict[str, Any]
) -> list[str]:
    warnings = []
    status = fw["status"]
    if status["value"] == "retired":
        warnings.append(
            _retired_text(fw)
            + f"; its hardware and deployment paths count as legacy (last release {fw['release']['version']})"
            + (f". {status['migration']}" if status.get("migration") else "")
        )
    elif status["value"] == "maintenance":
        warnings.append(f"in maintenance mode since {status.get('since')}: fixes only, no new features")
    older = fw["python"].get("last_release_for", {}).get(answers.python)
    if answers.python not in fw["python"]["versions"] and older:
        warnings.append(
            f"Python {answers.python}: the newest release supporting it is {older}; "
            f"{fw['release']['version']} needs {', '.join(fw['python']['versions'])}"
        )
    for hardware in answers.hardware:
        support = fw["hardware"].get(hardware)
        if support and support["level"] in ("experimental", "cpu-fallback", "community"):
            warnings.append(f"{hardware}: only {support['level']} support ({support['mechanism']})")
    for target in answers.deployment:
        best = best_path(fw, target, model, answers.hardware)
        if best is None:
            continue
        others = [p for p in usable_paths(fw, target, answers.hardware) if p is not best]
        if best.get("requires"):
            rest = [
                f"{p['tool']} ({p['level']}{', needs ' + p['requires'] if p.get('requires') else ''})" for p in others
            ]
            warnings.append(
                f"{target}: the best path, {best['tool']}, runs only on devices with {best['requires']}, which "
                f"most {target} devices lack; " + ("otherwise only " + "; ".join(rest) if rest else "no other path")
            )
        elif best["level"] in WEAK_LEVELS:
            tools = ", ".join(f"{p['tool']} ({p['level']})" for p in [best, *others])
            warnings.append(f"{target}: only through {tools}")
    if criteria["task_fit"].score == 0:
        warnings.append(f"no sourced evidence of {answers.task} libraries or models")
    return warnings


# --- ranking and stability --------------------------------------------------------------


def recommend(answers: Answers, knowledge: Knowledge, bench: Mapping[str, Any] | None = None) -> Recommendation:
    """Rank the eligible frameworks; `bench` (a loaded `dlpick bench` result) replaces the knowledge
    base's performance figures with the throughput measured on this machine."""
    weights = weights_for(answers, knowledge)
    measured = None
    if bench is not None:
        from dlpick.machine import bench as bench_mod

        measured = bench_mod.relative_throughput(bench)
    ranking: list[Ranked] = []
    excluded: list[Excluded] = []
    today = knowledge_date(knowledge)
    for framework_id, fw in knowledge.frameworks.items():
        reasons, facts = constraints(fw, answers)
        if reasons:
            excluded.append(Excluded(framework_id, fw["name"], reasons, facts))
            continue
        criteria = criterion_scores(fw, answers, knowledge, bench, measured, today)
        for name, criterion in criteria.items():
            criterion.weight = weights[name]
        if not any(c.applicable and c.weight > 0 for c in criteria.values()):
            raise BadInput("priorities: every applicable criterion has weight 0; give at least one a weight above 0")
        warnings = _warnings(fw, answers, criteria, knowledge.criteria)
        ranking.append(Ranked(framework_id, fw["name"], total(criteria, weights), criteria, [], warnings))
    ranking.sort(key=lambda r: (-round(r.score, 9), r.framework))
    excluded.sort(key=lambda e: e.framework)
    decision = decide(ranking, excluded)
    decision.migration = migrations(answers, knowledge, ranking)
    explain(ranking, decision)
    for ranked in ranking:
        performance = ranked.criteria.get("performance")
        if measured is not None and performance and performance.weight > 0:
            # A measurement is news: say it even when performance is not among the deciding criteria.
            ranked.reasons.append(f"performance {performance.score:.0%}: {performance.reason}")
    used = _bench_summary(bench, measured) if bench is not None and measured is not None else None
    return Recommendation(ranking, excluded, answers, weights, stability(ranking, weights), knowledge, used, decision)


def _bench_summary(bench: Mapping[str, Any], measured: Mapping[str, Throughput]) -> dict[str, Any]:
    return {
        "file": bench.get("file"),
        "created": bench.get("created"),
        "devices": bench.get("machine", {}).get("devices", []),
        "measured": {fid: round(t.relative, 4) for fid, t in sorted(measured.items())},
    }


def stability(ranking: list[Ranked], weights: dict[str, float]) -> Stability:
    """The smallest change to one weight (kept within 0..5) that puts another framework on top.

    With weighted means, top A stays ahead of B while sum_i w_i (a_i - b_i) > 0; changing w_c by d
    adds d (a_c - b_c), so the flip point is d = -D / (a_c - b_c), solved exactly per pair.
    """
    if not ranking:
        return Stability(True, "no framework is eligible: each is excluded by a hard constraint, whatever the weights")
    if len(ranking) == 1:
        only = ranking[0].framework
        return Stability(True, f"only one framework ({only}) is eligible: no weight change alters the pick")
    top = ranking[0]
    best: tuple[float, str, float, str] | None = None
    for other in ranking[1:]:
        applicable = [n for n, c in top.criteria.items() if c.applicable]
        margin = sum(weights[n] * (top.criteria[n].score - other.criteria[n].score) for n in applicable)
        for name in applicable:
            gap = top.criteria[name].score - other.criteria[name].score
            if gap == 0:
                continue
            delta = -margin / gap  # at this change the two tie
            new_weight = weights[name] + delta
            if not 0 <= new_weight <= MAX_WEIGHT:
                continue
            if best is None or abs(delta) < abs(best[0]):
                best = (delta, name, new_weight, other.framework)
    if best is None:
        return Stability(True, f"{top.framework} stays on top for every change of a single weight within 0..5")
    delta, name, new_weight, challenger = best
    verb = "raising" if delta > 0 else "lowering"
    text = (
        f"{verb} the weight of {name} from {weights[name]:g} to {new_weight:.2f} "
        f"would put {challenger} level with {top.framework}"
    )
    return Stability(False, text, name, weights[name], new_weight, challenger)
