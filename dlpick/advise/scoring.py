"""From (answers, knowledge) to a ranking: hard constraints, weighted criteria, stability.

Pure functions over the typed knowledge model. Each criterion scores a framework 0..1 from sourced
facts (`criteria`); the total is the weighted mean of the applicable criteria, x 100. The decision in
words is `decision`'s, the result types are `results`'.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dlpick.advise import criteria as scorers
from dlpick.advise.answers import Answers
from dlpick.advise.criteria import (
    best_path,
    carry_over,
    fact,
    feature_releases,
    knowledge_date,
    met,
    retired_text,
    total,
    unmet,
    usable_paths,
)
from dlpick.advise.decision import decide, explain, migrations
from dlpick.advise.results import (
    MAX_WEIGHT,
    CriterionScore,
    Decision,
    Excluded,
    Gap,
    Migration,
    Ranked,
    Stability,
)
from dlpick.errors import BadInput
from dlpick.kb.knowledge import Knowledge
from dlpick.kb.model import PERMISSIVE, Criteria, Framework

if TYPE_CHECKING:
    from dlpick.advise.results import FactJson
    from dlpick.machine.bench_trust import Evidence

# Names other modules and tests read from here (they moved to criteria, decision and results).
__all__ = [
    "MAX_WEIGHT",
    "CriterionScore",
    "Decision",
    "Excluded",
    "Gap",
    "Migration",
    "Ranked",
    "Recommendation",
    "Stability",
    "constraints",
    "criterion_scores",
    "dt",
    "feature_releases",
    "recommend",
    "stability",
    "total",
    "weights_for",
]


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


def weights_for(answers: Answers, knowledge: Knowledge) -> dict[str, float]:
    weights = {name: float(knowledge.criteria.default_weights.get(name, 0)) for name in knowledge.vocabulary.criteria}
    weights.update({name: float(w) for name, w in answers.priorities.items()})
    return weights


# --- hard constraints -------------------------------------------------------------------


def constraints(fw: Framework, answers: Answers) -> tuple[list[str], list[FactJson]]:
    """Reasons the framework cannot be used at all by this team (empty list: it can)."""
    reasons: list[str] = []
    facts: list[FactJson] = []
    if fw.retired and not answers.include_retired:
        reasons.append(retired_text(fw) + " (pass --include-retired to rank it anyway)")
        facts.append(fact(f"status: retired since {fw.status.since}", fw.status))
    python = fw.python
    if answers.python not in python.versions and answers.python not in python.last_release_for:
        supported = sorted([*python.versions, *python.last_release_for], key=_minor)
        reasons.append(f"does not support Python {answers.python} (supports {', '.join(supported)})")
        facts.append(fact(f"Python versions {', '.join(python.versions)}", python))
    primary = answers.primary
    if primary is not None and primary not in fw.hardware:
        reasons.append(f"no known way to train on {primary}, the primary hardware")
    elif primary is not None and answers.os and fw.hardware[primary].os and answers.os not in fw.hardware[primary].os:
        support = fw.hardware[primary]
        reasons.append(f"{primary} support runs on {', '.join(support.os)} only, not natively on {answers.os}")
        facts.append(fact(f"{primary}: {support.mechanism} on {', '.join(support.os)}", support))
    licence = fw.licence
    if answers.licence_policy == "permissive-only" and licence is not None and licence.spdx not in PERMISSIVE:
        reasons.append(f"licence {licence.spdx} is not permissive (licence policy: permissive-only)")
        facts.append(fact(f"licence: {licence.spdx}", licence))
    for target in answers.deployment:
        if not fw.deployment.get(target):
            reasons.append(f"no known deployment path to {target}")
        elif not usable_paths(fw, target, answers.hardware, answers.devices.get(target)):
            lacking = [unmet(p, answers.devices.get(target)) for p in fw.deployment[target]]
            if any(lacking):
                reasons.append(
                    f"no deployment path to {target} on the device described: " + "; ".join(filter(None, lacking))
                )
                continue
            shown = ", ".join(sorted({h for p in fw.deployment[target] for h in p.hardware}))
            reasons.append(f"no known deployment path to {target} on {', '.join(answers.hardware)} (only on {shown})")
    return reasons, facts


def _minor(version: str) -> int:
    return int(version.split(".")[1])


# --- criteria ---------------------------------------------------------------------------


def criterion_scores(
    fw: Framework,
    answers: Answers,
    knowledge: Knowledge,
    bench: Mapping[str, Any] | None = None,
    measured: Evidence | None = None,
    today: dt.date | None = None,
) -> dict[str, CriterionScore]:
    """Every criterion's 0..1 score for one framework (weights not applied).

    With a `dlpick bench` result, performance is the measured throughput (`measured`, computed from
    `bench` when not given) for the frameworks whose figures count; the others keep the knowledge base's.
    An MLPerf result's age is counted up to `today`: by default the knowledge's date (its newest `as_of`),
    so the same knowledge gives the same ranking on any day.
    """
    criteria = knowledge.criteria
    levels = criteria.support_levels
    carry = carry_over(fw, answers, levels)
    today = today or knowledge_date(knowledge)
    half_life = criteria.mlperf_half_life_years
    features = {
        name: scorers.features(
            [i for i in items if criteria.counts_for(i.kind, answers.task) or answers.scale == "multi-node"],
            {
                kind: value
                for kind, value in criteria.features(name).items()
                if criteria.counts_for(kind, answers.task) or answers.scale == "multi-node"
            },
            name.replace("_", " "),
            answers.hardware,
            factor,
            today,
            half_life,
        )
        for name, items, factor in (
            ("performance", fw.performance, carry),  # compilers, mixed precision: the device stack's own work
            (
                "ecosystem",
                fw.ecosystem,
                (1.0, ""),
            ),  # hubs, trainers, export: the hardware level counts once, in hardware
            ("ease_of_use", scorers.usability_items(fw), (1.0, "")),  # the API is the same on any hardware
        )
    }
    if bench is not None:
        from dlpick.advise.bench_scores import measured_performance
        from dlpick.machine import bench_trust

        measured = bench_trust.evidence(bench, answers.hardware) if measured is None else measured
        features["performance"] = measured_performance(features["performance"], fw.id, measured, bench)
    scores = {
        # The hardware level counts in `hardware`, and again only where an item depends on the device stack:
        # libraries built and tested on the framework's own builds (task fit) and its compilers (performance);
        # not in ecosystem, deployment or distributed (dlpick issue 25).
        "task_fit": scorers.task_fit(fw, answers, knowledge, carry),
        "performance": features["performance"],
        "familiarity": scorers.familiarity(fw, answers, knowledge),
        "community": scorers.community(fw, criteria),
        "ecosystem": features["ecosystem"],
        "ease_of_use": features["ease_of_use"],
        "hardware": scorers.hardware_support(fw, answers, levels, criteria.secondary_hardware_share),
        "deployment": scorers.deployment(fw, answers, criteria),
        "distributed": scorers.distributed(fw, criteria.distributed_levels, answers.scale),
    }
    # Criteria a team's knowledge adds to the vocabulary without a scorer count as not applicable.
    return {
        name: scores.get(name, CriterionScore(0.0, 0, "no scorer for this criterion", applicable=False))
        for name in knowledge.vocabulary.criteria
    }


# --- warnings ---------------------------------------------------------------------------


WEAK_LEVELS = ("conversion", "community", "experimental", "legacy", "cpu-fallback")


def _warnings(fw: Framework, answers: Answers, criteria: dict[str, CriterionScore], model: Criteria) -> list[str]:
    warnings = []
    status = fw.status
    if fw.retired:
        warnings.append(
            retired_text(fw)
            + f"; its hardware and deployment paths count as legacy (last release {fw.release.version})"
            + (f". {status.migration}" if status.migration else "")
        )
    elif status.value == "maintenance":
        warnings.append(f"in maintenance mode since {status.since}: fixes only, no new features")
    older = fw.python.last_release_for.get(answers.python)
    if answers.python not in fw.python.versions and older:
        warnings.append(
            f"Python {answers.python}: the newest release supporting it is {older}; "
            f"{fw.release.version} needs {', '.join(fw.python.versions)}"
        )
    for hardware in answers.secondary:
        if hardware not in fw.hardware:
            warnings.append(f"{hardware} (secondary hardware): no known way to run on it")
        elif answers.os and fw.hardware[hardware].os and answers.os not in fw.hardware[hardware].os:
            warnings.append(f"{hardware} (secondary hardware): runs on {', '.join(fw.hardware[hardware].os)} only")
    for hardware in answers.hardware:
        support = fw.hardware.get(hardware)
        if support and support.level in ("experimental", "cpu-fallback", "community"):
            warnings.append(f"{hardware}: only {support.level} support ({support.mechanism})")
    for target in answers.deployment:
        device = answers.devices.get(target)
        best = best_path(fw, target, model, answers.hardware, device)
        if best is None:
            continue
        others = [p for p in usable_paths(fw, target, answers.hardware, device) if p is not best]
        if best.requires and not met(best, device):
            rest = [f"{p.tool} ({p.level}{', needs ' + p.requires if p.requires else ''})" for p in others]
            warnings.append(
                f"{target}: the best path, {best.tool}, runs only on devices with {best.requires}, which "
                f"most {target} devices lack; " + ("otherwise only " + "; ".join(rest) if rest else "no other path")
            )
        elif best.level in WEAK_LEVELS:
            tools = ", ".join(f"{p.tool} ({p.level})" for p in [best, *others])
            warnings.append(f"{target}: only through {tools}")
    copyleft = sorted(
        {
            f"{item.name} is {item.licence.spdx}"
            for item in fw.tasks.get(answers.task, ())
            if item.licence is not None and item.licence.spdx not in PERMISSIVE
        }
    )
    if copyleft and answers.licence_policy != "permissive-only":
        warnings.append(
            "licence: " + "; ".join(copyleft) + ": a closed-source product must publish its source or buy a "
            "commercial licence (licence_policy: permissive-only leaves it out)"
        )
    if criteria["task_fit"].score == 0:
        warnings.append(f"no sourced evidence of {answers.task} libraries or models")
    return warnings


# --- ranking and stability --------------------------------------------------------------


def recommend(answers: Answers, knowledge: Knowledge, bench: Mapping[str, Any] | None = None) -> Recommendation:
    """Rank the eligible frameworks; `bench` (a loaded `dlpick bench` result) replaces the knowledge
    base's performance figures with the throughput measured on this machine, where its figures count."""
    weights = weights_for(answers, knowledge)
    measured = None
    if bench is not None:
        from dlpick.machine import bench_trust

        measured = bench_trust.evidence(bench, answers.hardware)
    ranking: list[Ranked] = []
    excluded: list[Excluded] = []
    today = knowledge_date(knowledge)
    for framework_id, fw in knowledge.frameworks.items():
        reasons, facts = constraints(fw, answers)
        if reasons:
            excluded.append(Excluded(framework_id, fw.name, reasons, facts))
            continue
        criteria = criterion_scores(fw, answers, knowledge, bench, measured, today)
        for name, criterion in criteria.items():
            criterion.weight = weights[name]
        if not any(c.applicable and c.weight > 0 for c in criteria.values()):
            raise BadInput("priorities: every applicable criterion has weight 0; give at least one a weight above 0")
        warnings = _warnings(fw, answers, criteria, knowledge.criteria)
        ranking.append(Ranked(framework_id, fw.name, total(criteria, weights), criteria, [], warnings))
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
    used = None
    if bench is not None and measured is not None:
        from dlpick.advise.bench_scores import bench_summary

        used = bench_summary(bench, measured)
    return Recommendation(ranking, excluded, answers, weights, stability(ranking, weights), knowledge, used, decision)


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
