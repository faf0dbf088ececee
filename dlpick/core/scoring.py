"""From (answers, knowledge) to a ranking: hard constraints, weighted criteria, stability.

Pure functions over plain data. Each criterion scores a framework 0..1 from sourced facts;
the total is the weighted mean of the applicable criteria, x 100.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dlpick.core.answers import Answers
from dlpick.core.knowledge import Knowledge
from dlpick.errors import BadInput

if TYPE_CHECKING:
    from dlpick.core.bench import Throughput

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


@dataclass
class Recommendation:
    ranking: list[Ranked]
    excluded: list[Excluded]
    answers: Answers
    weights: dict[str, float]
    stability: Stability
    knowledge: Knowledge
    bench: dict[str, Any] | None = None  # which `dlpick bench` run fed the performance criterion

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
    return reasons, facts


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def _retired_text(fw: dict[str, Any]) -> str:
    status = fw["status"]
    text = f"retired since {status.get('since')}"
    if status.get("successor"):
        text += f"; successor {status['successor']}"
    return text


# --- criteria ---------------------------------------------------------------------------


def _features(items: list[dict[str, Any]], values: dict[str, float], label: str, hardware: list[str]) -> CriterionScore:
    """Each feature kind counts once; the sum is capped at 1. Hardware-specific features count only
    for teams on that hardware (or teams that named none)."""
    total, names, facts, elsewhere = 0.0, [], [], []
    seen: set[str] = set()
    for item in items:
        shown_on = item.get("hardware", [])
        if hardware and shown_on and not set(shown_on) & set(hardware):
            elsewhere.append(f"{item['name']} (shown on {', '.join(shown_on)})")
            continue
        if item["kind"] in seen:  # one of each kind counts
            continue
        seen.add(item["kind"])
        total += values[item["kind"]]
        names.append(item["name"])
        facts.append(_fact(f"{item['kind']}: {item['name']}", item))
    reason = ", ".join(names) or f"no sourced {label} features"
    if elsewhere:
        reason += "; not counted, other hardware: " + ", ".join(elsewhere)
    return CriterionScore(min(total, 1.0), 0, reason, facts)


def rank_score(rank: float | None, best: float, worst: float) -> float:
    """1 at `best` rank or better, 0 at `worst` or unranked, log scale between."""
    if not rank:
        return 0.0
    return _clamp((math.log10(worst) - math.log10(max(rank, 1))) / (math.log10(worst) - math.log10(best)))


def _task_fit(fw: dict[str, Any], answers: Answers, knowledge: Knowledge) -> CriterionScore:
    evidence = fw.get("tasks", {}).get(answers.task, [])
    if not evidence:
        return CriterionScore(0.0, 0, f"no sourced evidence for {answers.task}")
    values = knowledge.criteria["task_evidence"]
    scale = knowledge.criteria["adoption"]
    ranks = knowledge.adoption["pypi_download_rank"]
    items = []
    for item in evidence:
        rank = ranks.get(item.get("package", ""))
        adoption = rank_score(rank, scale["best_rank"], scale["worst_rank"])
        status = item.get("status", "active")
        value = values[item["kind"]] * knowledge.criteria["evidence_status"][status]
        value *= scale["base"] + (1 - scale["base"]) * adoption
        details = [item["kind"]] + ([status] if status != "active" else [])
        if rank:
            details.append(f"PyPI download rank {rank:,}")
        elif item.get("package"):
            details.append("not among the top 15,000 PyPI packages")
        label = f"{item['name']} ({', '.join(details)})"
        facts = [_fact(f"{answers.task}: {item['name']} ({item['kind']})", item)]
        if item.get("package"):
            facts.append(_fact(f"{item['package']}: PyPI download rank {rank or 'beyond 15,000'}", knowledge.adoption))
        items.append((value, label, facts))
    items.sort(key=lambda entry: -entry[0])
    score = min(1.0, items[0][0] + values["breadth_bonus"] * sum(value for value, _, _ in items[1:]))
    return CriterionScore(
        score, 0, f"{answers.task}: " + "; ".join(label for _, label, _ in items), [f for *_, fs in items for f in fs]
    )


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


def _community(fw: dict[str, Any], criteria: dict[str, Any]) -> CriterionScore:
    scale = criteria["community"]
    measures = fw.get("community", {})
    parts, texts, facts = [], [], []

    stars = measures.get("github_stars")
    if stars:
        low, high = scale["github_stars"]["low"], scale["github_stars"]["high"]
        value = max(stars["value"], 1)
        parts.append(_clamp((math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))))
        texts.append(f"{stars['value']:,.0f} GitHub stars")
        facts.append(_fact(f"{stars['value']:,.0f} GitHub stars", stars))
    else:
        parts.append(0.0)
    rank = measures.get("pypi_download_rank")
    if rank:
        ranks = scale["pypi_download_rank"]
        parts.append(rank_score(rank["value"], ranks["best"], ranks["worst"]))
        texts.append(f"PyPI download rank {rank['value']:,.0f}")
        facts.append(_fact(f"PyPI download rank {rank['value']:,.0f}", rank))
    else:
        parts.append(0.0)
        texts.append("not among the 15,000 most-downloaded PyPI packages")
    releases = measures.get("releases_last_year")
    if releases:
        high = scale["releases_last_year"]["high"]
        parts.append(_clamp(releases["value"] / high))
        texts.append(f"{releases['value']:.0f} release{'s' * (releases['value'] != 1)} in the last year")
        facts.append(_fact(f"{releases['value']:.0f} releases in the last year", releases))
    else:
        parts.append(0.0)
    return CriterionScore(sum(parts) / len(parts), 0, "; ".join(texts), facts)


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
        scores.append(levels[support["level"]])
        texts.append(f"{hardware}: {support['level']} via {support['mechanism']}")
        facts.append(_fact(f"{hardware}: {support['level']} ({support['mechanism']})", support))
    return CriterionScore(sum(scores) / len(scores), 0, "; ".join(texts), facts)


def _path_value(path: dict[str, Any], criteria: dict[str, Any]) -> float:
    value = criteria["support_levels"][path["level"]]
    return value * criteria["partial_path"] if path.get("requires") else value


def _deployment(fw: dict[str, Any], answers: Answers, criteria: dict[str, Any]) -> CriterionScore:
    if not answers.deployment:
        return CriterionScore(0.0, 0, "no deployment target given", applicable=False)
    scores, texts, facts = [], [], []
    for target in answers.deployment:
        paths = fw["deployment"].get(target, [])
        if not paths:
            scores.append(0.0)
            texts.append(f"{target}: none")
            continue
        best = max(paths, key=lambda p: _path_value(p, criteria))
        scores.append(_path_value(best, criteria))
        needs = f", needs {best['requires']}" if best.get("requires") else ""
        texts.append(f"{target}: {best['tool']} ({best['level']}{needs})")
        facts.append(_fact(f"{target}: {best['tool']} ({best['level']}{needs})", best))
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
    from dlpick.core import bench as bench_mod

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


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def criterion_scores(
    fw: dict[str, Any],
    answers: Answers,
    knowledge: Knowledge,
    bench: Mapping[str, Any] | None = None,
    measured: Mapping[str, Throughput] | None = None,
) -> dict[str, CriterionScore]:
    """Every criterion's 0..1 score for one framework (weights not applied).

    With a `dlpick bench` result, performance is the measured throughput (`measured`, computed from
    `bench` when not given) for the frameworks it measured; the others keep the knowledge base's.
    """
    criteria = knowledge.criteria
    levels = criteria["support_levels"]
    features = {
        name: _features(fw.get(name, []), criteria[f"{name}_features"], name.replace("_", " "), answers.hardware)
        for name in ("performance", "ecosystem", "ease_of_use")
    }
    if bench is not None:
        from dlpick.core import bench as bench_mod

        measured = bench_mod.relative_throughput(bench) if measured is None else measured
        features["performance"] = _measured_performance(features["performance"], measured.get(fw["id"]), bench, answers)
    scores = {
        "task_fit": _task_fit(fw, answers, knowledge),
        "performance": features["performance"],
        "familiarity": _familiarity(fw, answers, knowledge),
        "community": _community(fw, criteria),
        "ecosystem": features["ecosystem"],
        "ease_of_use": features["ease_of_use"],
        "hardware": _hardware(fw, answers, levels),
        "deployment": _deployment(fw, answers, criteria),
        "distributed": _distributed(fw, criteria["distributed_levels"]),
    }
    # Criteria a team's knowledge adds to the vocabulary without a scorer count as not applicable.
    return {
        name: scores.get(name, CriterionScore(0.0, 0, "no scorer for this criterion", applicable=False))
        for name in knowledge.vocabulary["criteria"]
    }


def total(criteria: dict[str, CriterionScore], weights: dict[str, float]) -> float:
    used = [(weights[name], c.score) for name, c in criteria.items() if c.applicable]
    weight_sum = sum(w for w, _ in used)
    return 100 * sum(w * s for w, s in used) / weight_sum if weight_sum else 0.0


# --- reasons and warnings ---------------------------------------------------------------


def _reasons(criteria: dict[str, CriterionScore]) -> list[str]:
    """The criteria that carried most of the score, strongest first, in words."""
    strongest = sorted(
        (c for c in criteria.values() if c.applicable and c.weight > 0),
        key=lambda c: -c.weight * c.score,
    )
    names = {id(c): name for name, c in criteria.items()}
    return [f"{names[id(c)].replace('_', ' ')} {c.score:.0%}: {c.reason}" for c in strongest[:4]]


def _warnings(fw: dict[str, Any], answers: Answers, criteria: dict[str, CriterionScore]) -> list[str]:
    warnings = []
    status = fw["status"]
    if status["value"] == "retired":
        warnings.append(_retired_text(fw) + (f". {status['migration']}" if status.get("migration") else ""))
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
        paths = fw["deployment"].get(target, [])
        if paths and all(p.get("requires") for p in paths):
            warnings.append(f"{target}: only on devices with " + " or ".join(p["requires"] for p in paths))
        elif paths and all(p["level"] in ("conversion", "community", "experimental", "legacy") for p in paths):
            tools = ", ".join(p["tool"] for p in paths)
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
        from dlpick.core import bench as bench_mod

        measured = bench_mod.relative_throughput(bench)
    ranking: list[Ranked] = []
    excluded: list[Excluded] = []
    for framework_id, fw in knowledge.frameworks.items():
        reasons, facts = constraints(fw, answers)
        if reasons:
            excluded.append(Excluded(framework_id, fw["name"], reasons, facts))
            continue
        criteria = criterion_scores(fw, answers, knowledge, bench, measured)
        for name, criterion in criteria.items():
            criterion.weight = weights[name]
        if not any(c.applicable and c.weight > 0 for c in criteria.values()):
            raise BadInput("priorities: every applicable criterion has weight 0; give at least one a weight above 0")
        reasons = _reasons(criteria)
        performance = criteria.get("performance")
        if measured is not None and performance and performance.weight > 0:
            # A measurement is news: say it even when performance is not among the strongest criteria.
            said = f"performance {performance.score:.0%}: {performance.reason}"
            reasons += [] if said in reasons else [said]
        warnings = _warnings(fw, answers, criteria)
        ranking.append(Ranked(framework_id, fw["name"], total(criteria, weights), criteria, reasons, warnings))
    ranking.sort(key=lambda r: (-round(r.score, 9), r.framework))
    excluded.sort(key=lambda e: e.framework)
    used = _bench_summary(bench, measured) if bench is not None and measured is not None else None
    return Recommendation(ranking, excluded, answers, weights, stability(ranking, weights), knowledge, used)


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
