"""The per-criterion scorers: each scores one framework 0..1 from sourced facts, with its reason.

Pure functions over the typed knowledge model (`dlpick.kb.model`); `scoring` weighs and ranks.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from dlpick.advise.answers import Answers
from dlpick.advise.results import CriterionScore
from dlpick.kb.knowledge import Knowledge
from dlpick.kb.model import (
    PERMISSIVE,
    Criteria,
    DeploymentPath,
    Feature,
    Framework,
    MLPerfRound,
    PerformanceItem,
    Releases,
    Sourced,
    TaskEvidence,
)

if TYPE_CHECKING:
    from dlpick.advise.results import FactJson


def fact(what: str, item: Sourced) -> FactJson:
    return {"fact": what, "source": item.source, "as_of": item.as_of}


def on_hardware(item: TaskEvidence | DeploymentPath | Feature, hardware: Sequence[str]) -> bool:
    """Whether an item shown on particular hardware (`hardware:`) counts for a team on `hardware`: it
    does when it names none, when the team named none, or when they share one."""
    shown_on = item.hardware
    return not shown_on or not hardware or bool(set(shown_on) & set(hardware))


# A path's `requires` in words -> the device property that meets it (answers' `devices`).
REQUIREMENTS = (("Ethos-U", "npu", "ethos-u"), ("Cortex-M", "core", "cortex-m"))


def unmet(path: DeploymentPath, device: Mapping[str, str] | None) -> str | None:
    """What a path needs that the described device lacks (None: met, or the device is not described)."""
    if not path.requires or not device:
        return None
    for words, key, value in REQUIREMENTS:
        if words in path.requires and key in device and device[key] != value:
            return f"{path.tool} needs {path.requires}; the device has {key} {device[key]}"
    return None


def met(path: DeploymentPath, device: Mapping[str, str] | None) -> bool:
    """Whether the described device has what the path requires (then it is a full path, not a partial one)."""
    if not path.requires or not device:
        return False
    return any(words in path.requires and device.get(key) == value for words, key, value in REQUIREMENTS)


def usable_paths(
    fw: Framework, target: str, hardware: Sequence[str], device: Mapping[str, str] | None = None
) -> list[DeploymentPath]:
    """A framework's paths to `target` that run on the team's hardware and on the target's device as the
    team describes it (a path documented only on other hardware, or needing what the device lacks, is
    not a path)."""
    return [p for p in fw.deployment.get(target, ()) if on_hardware(p, hardware) and unmet(p, device) is None]


def retired_text(fw: Framework) -> str:
    text = f"retired since {fw.status.since}"
    if fw.successor:
        text += f"; successor {fw.successor}"
    return text


# Feature kinds that are measurements on particular hardware, not capabilities: absence of a result on
# the team's hardware says who submitted one, not how fast the framework runs, so it is unknown.
MEASURED = frozenset({"mlperf-training"})
DAYS_PER_YEAR = 365.25


def _round(item: Feature) -> MLPerfRound | None:
    return item.round if isinstance(item, PerformanceItem) else None


def recency(item: Feature, today: dt.date | None, half_life: float | None) -> tuple[float, float | None]:
    """How much of a measurement still counts: 1/2 per `half_life` years from its round's date to `today`
    (the knowledge's date), and its age in years. 1 (age None) for an item without a round, or no date given."""
    rnd = _round(item)
    published = rnd.date if rnd is not None else None
    if not published or today is None or not half_life:
        return 1.0, None
    age = max(0.0, (today - dt.date.fromisoformat(published)).days / DAYS_PER_YEAR)
    return 0.5 ** (age / half_life), age


def features(
    items: Sequence[Feature],
    values: Mapping[str, float],
    label: str,
    hardware: Sequence[str],
    carry: tuple[float, str] = (1.0, ""),
    today: dt.date | None = None,
    half_life: float | None = None,
) -> CriterionScore:
    """Each feature kind counts once. A feature shown on particular hardware counts only for teams on
    that hardware (or teams that named none). A measured kind (an MLPerf result) with no result on the
    team's hardware is unknown: it leaves the denominator, so it counts neither for nor against. A result
    counts as far as it is recent (`recency`): the rest of its value is unknown too, so an old result
    weighs less than a new one and never less than none."""
    present: dict[str, Feature] = {}
    elsewhere: dict[str, list[str]] = {}

    def fresh(item: Feature) -> float:
        return recency(item, today, half_life)[0]

    for item in items:
        shown_on = item.hardware
        if hardware and shown_on and not set(shown_on) & set(hardware):
            shown = elsewhere.setdefault(item.kind, [])
            shown += [h for h in shown_on if h not in shown]
            continue
        held = present.get(item.kind)
        # One of each kind counts: one shown on the team's hardware first, then the most recent.
        if held is None or (bool(shown_on), fresh(item)) > (bool(held.hardware), fresh(held)):
            present[item.kind] = item
    unknown = [kind for kind in values if kind in MEASURED and kind not in present]
    share = {kind: fresh(item) if kind in MEASURED else 1.0 for kind, item in present.items()}
    known = min(1.0, sum(value * share.get(kind, 1.0) for kind, value in values.items() if kind not in unknown))
    # A feature shown on the team's hardware counts fully; one shown nowhere in particular carries over.
    got = sum(values[kind] * share[kind] * (1.0 if item.hardware else carry[0]) for kind, item in present.items())
    score = clamp(got / known) if known else 0.0
    names = []
    for kind, item in present.items():
        weight, age = recency(item, today, half_life) if kind in MEASURED else (1.0, None)
        names.append(item.name if age is None else f"{item.name} ({age:.1f} years old: counts {weight:.0%})")
    reason = ", ".join(names) or f"no sourced {label} features"
    if carry[0] < 1 and any(not item.hardware for item in present.values()):
        reason += f"; {carry[1]}"
    other = [f"{_kind_text(k)} (shown on {', '.join(elsewhere[k])})" for k in elsewhere if k not in present]
    if other:
        reason += "; not counted, other hardware: " + ", ".join(other)
    if unknown:
        reason += (
            f"; no {' or '.join(_kind_text(k) for k in unknown)} on {', '.join(hardware) or 'any hardware'}: unknown"
        )
    facts = [fact(f"{kind}: {item.name}", item) for kind, item in present.items()]
    for kind, item in present.items():
        rnd = _round(item)
        if kind in MEASURED and rnd is not None and today is not None:
            facts.append(fact(f"{kind}: round {rnd.version} results of {rnd.date}", rnd))
    return CriterionScore(score, 0, reason, facts)


def _kind_text(kind: str) -> str:
    return {"mlperf-training": "MLPerf Training result"}.get(kind, kind.replace("-", " "))


def rank_score(rank: float | None, best: float, worst: float) -> float:
    """1 at `best` rank or better, 0 at `worst` or unranked, log scale between."""
    if not rank:
        return 0.0
    return clamp((math.log10(worst) - math.log10(max(rank, 1))) / (math.log10(worst) - math.log10(best)))


# Evidence kinds whose worth rests on adoption even without a package: a hub counts as far as it is
# used. Every item with a PyPI package is scaled by its download rank too, whoever publishes it.
ADOPTION_KINDS = frozenset({"third-party-library", "hub"})
OWN_KINDS = frozenset({"official-library", "model-zoo"})


def task_fit(
    fw: Framework, answers: Answers, knowledge: Knowledge, carry: tuple[float, str] = (1.0, "")
) -> CriterionScore:
    """The strongest evidence item, plus `breadth_bonus` of each further one. An item documented only on
    other hardware does not count; one documented on the team's hardware counts fully; the rest carry
    over as far as the hardware support (`carry`). The score is capped at the strongest item's share."""
    if not any(other.tasks.get(answers.task) for other in knowledge.frameworks.values()):
        # No framework has listed evidence: unknown for all, left out (renormalised), and said.
        return CriterionScore(
            0.0, 0, f"unknown: the knowledge base lists no {answers.task} evidence for any framework", applicable=False
        )
    everything = fw.tasks.get(answers.task, ())
    if answers.licence_policy == "permissive-only":
        barred = [i for i in everything if i.licence is not None and i.licence.spdx not in PERMISSIVE]
        everything = tuple(i for i in everything if i not in barred)
    else:
        barred = []
    evidence = [item for item in everything if on_hardware(item, answers.hardware)]
    elsewhere = [item for item in everything if item not in evidence]
    if not evidence:
        reason = f"no sourced evidence for {answers.task}"
        if elsewhere:
            reason += " on " + ", ".join(answers.hardware) + "; not counted, other hardware: " + shown(elsewhere)
        return CriterionScore(0.0, 0, reason)
    criteria = knowledge.criteria
    values, statuses, scale = criteria.task_evidence, criteria.evidence_status, criteria.adoption
    ranks = knowledge.adoption.pypi_download_rank
    own = fw.community.pypi_download_rank
    own_score = rank_score(own.value, scale.best_rank, scale.worst_rank) if own else 0.0
    own_adoption = own_score or None  # None: unknown (the framework is not in the download snapshot)
    items = []
    for item in evidence:
        rank = ranks.get(item.package or "")
        status = item.status
        if fw.retired and statuses["dormant"] < statuses[status]:
            status = "dormant"  # a retired framework gets no releases: its libraries cannot move on either
        factor = 1.0 if item.hardware else carry[0]
        value = values[item.kind] * statuses[status] * factor
        if (item.kind in ADOPTION_KINDS or item.package) and own_adoption is not None:
            # Adoption, whoever publishes it (dlpick issue 25): a library counts as far as its framework's users
            # install it, its download-rank score over its framework's. A framework outside the PyPI snapshot
            # (MindSpore installs from its own index) leaves its libraries' adoption unknown: unscaled.
            adoption = min(1.0, rank_score(rank, scale.best_rank, scale.worst_rank) / own_adoption)
            if not rank and item.kind in OWN_KINDS:
                # The project's own library outside the snapshot: PyPI undercounts installs from mirrors and
                # vendor indexes (PaddleFormers, MindCV), so its adoption is unknown: the middle of the scale.
                adoption = criteria.unknown_adoption
            value *= scale.base + (1 - scale.base) * adoption
        details = [item.kind.replace("-", " ")] + ([status] if status != "active" else [])
        if fw.retired and status == "dormant" and item.status != "dormant":
            details[-1] = "dormant: its framework is retired"
        if rank:
            details.append(f"PyPI download rank {rank:,}")
        elif item.package:
            details.append("not among the top 15,000 PyPI packages")
        label = f"{item.name} ({', '.join(details)})"
        facts = [fact(f"{answers.task}: {item.name} ({item.kind})", item)]
        facts += state_facts(fw, item, None)
        if item.package:
            facts.append(fact(f"{item.package}: PyPI download rank {rank or 'beyond 15,000'}", knowledge.adoption))
        if item.hardware:
            label += f" (shown on {', '.join(item.hardware)})"
        items.append((value, label, facts, factor))
    items.sort(key=lambda entry: -entry[0])
    # Diminishing returns for depth: each further library covers `breadth_bonus` of what is still missing
    # (torchvision + timm + Ultralytics beat one library, and no depth passes 1).
    missing = 1 - items[0][0]
    for entry in items[1:]:
        missing *= 1 - values["breadth_bonus"] * entry[0]
    score = min(items[0][3], 1 - missing)  # the cap: what the strongest item's hardware support allows
    reason = f"{answers.task}: " + "; ".join(entry[1] for entry in items)
    if any(entry[3] < 1 for entry in items):
        reason += f"; {carry[1]}"
    if elsewhere:
        reason += "; not counted, other hardware: " + shown(elsewhere)
    if barred:
        reason += "; left out by the licence policy: " + ", ".join(
            f"{i.name} ({i.licence.spdx})" for i in barred if i.licence
        )
    return CriterionScore(score, 0, reason, [f for entry in items for f in entry[2]])


def _name(item: TaskEvidence | DeploymentPath) -> str:
    return item.name if isinstance(item, TaskEvidence) else item.tool


def shown(items: Sequence[TaskEvidence | DeploymentPath]) -> str:
    """'MaxText (tpu, nvidia-gpu)' for items documented on particular hardware."""
    return ", ".join(f"{_name(item)} ({', '.join(item.hardware)})" for item in items)


def state_facts(
    fw: Framework, item: TaskEvidence | DeploymentPath, levels: Mapping[str, float] | None
) -> list[FactJson]:
    """The pages that say why an item counts less: its last release (dormant), its framework's retirement."""
    facts = []
    last = item.last_release
    if last and item.status in ("dormant", "maintenance"):
        facts.append(fact(f"{_name(item)}: last release {last.version} ({last.date})", last))
    retired_cap = levels is None or (isinstance(item, DeploymentPath) and levels[item.level] > levels["legacy"])
    if fw.retired and retired_cap:
        facts.append(fact(retired_text(fw), fw.status))
    return facts


def familiarity(fw: Framework, answers: Answers, knowledge: Knowledge) -> CriterionScore:
    own = answers.familiarity.get(fw.id, 0)
    score, reason, facts = own / 5, f"team familiarity {own}/5", []
    transfer = knowledge.criteria.successor_familiarity_transfer
    for other_id, other in knowledge.frameworks.items():
        level = answers.familiarity.get(other_id, 0)
        if other.successor == fw.id and level and transfer * level / 5 > score:
            score = transfer * level / 5
            reason = (
                f"team familiarity {own}/5; {other.name} familiarity {level}/5 counts "
                f"{transfer:.0%} toward its successor {fw.name}"
            )
            facts.append(fact(f"{other.name} successor: {fw.name}", other.status))
    return CriterionScore(score, 0, reason, facts)


FEATURE_RELEASE = re.compile(r"[0-9]+\.[0-9]+(\.0+)*", re.ASCII)  # 2.10.0, 3.3, 1.0.0.0: not 2.7.2, 0.12.0.1


def feature_releases(measure: Releases) -> int | None:
    """Major and minor releases (X.Y.0) among the versions a `releases_last_year` fact lists; None
    (unknown) when it lists none, so patch churn can never stand for feature work."""
    if not measure.value:
        return 0
    if measure.versions is None:
        return None
    return sum(bool(FEATURE_RELEASE.fullmatch(v)) for v in measure.versions)


def community(fw: Framework, criteria: Criteria) -> CriterionScore:
    """Adoption and health: the weighted mean of the measures that have a source, release cadence a minor
    share (`cadence_share`); a measure without one is left out (unknown), not counted as 0. The download
    snapshot covers the top 15,000, so a package outside it is known."""
    scale = criteria.community
    measures = fw.community
    parts, texts, facts, unknown = [], [], [], []

    stars = measures.github_stars
    if stars:
        low, high = scale.github_stars.low, scale.github_stars.high
        value = max(stars.value, 1)
        parts.append(clamp((math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))))
        texts.append(f"{stars.value:,.0f} GitHub stars")
        facts.append(fact(f"{stars.value:,.0f} GitHub stars", stars))
    else:
        unknown.append("GitHub stars")
    rank = measures.pypi_download_rank
    if rank:
        ranks = scale.pypi_download_rank
        parts.append(rank_score(rank.value, ranks.best, ranks.worst))
        texts.append(f"PyPI download rank {rank.value:,.0f}")
        facts.append(fact(f"PyPI download rank {rank.value:,.0f}", rank))
    elif fw.packages:
        parts.append(0.0)
        texts.append("not among the 15,000 most-downloaded PyPI packages")
    else:
        unknown.append("PyPI downloads (not on PyPI)")
    releases = measures.releases_last_year
    feature_count = feature_releases(releases) if releases else None
    if releases and feature_count is not None:
        low, high = scale.releases_last_year.low, scale.releases_last_year.high
        cadence = clamp((feature_count - low) / (high - low))
        total = int(releases.value)
        patches = f" (+{_plural(total - feature_count, 'patch release')})" if total > feature_count else ""
        texts.append(f"{_plural(feature_count, 'feature release')} in the last year{patches}")
        facts.append(
            fact(f"{_plural(total, 'release')} in the last year, {feature_count} of them major or minor", releases)
        )
    elif releases:
        unknown.append(f"release cadence ({_plural(int(releases.value), 'release')}, versions not listed)")
    else:
        unknown.append("release cadence")
    if unknown and parts and unknown != ["GitHub stars"]:  # no framework has a dated star count: not news
        texts.append("left out, no source: " + ", ".join(u for u in unknown if u != "GitHub stars"))
    # Adoption measures count 1 each; cadence (a release policy, not popularity) `cadence_share` beside them.
    weighted = [(1.0, part) for part in parts]
    if releases and feature_count is not None:
        weighted.append((scale.cadence_share, cadence))
    weight_sum = sum(w for w, _ in weighted)
    if not weighted or not weight_sum:
        return CriterionScore(0.0, 0, "no sourced community measure", facts)
    return CriterionScore(sum(w * s for w, s in weighted) / weight_sum, 0, "; ".join(texts), facts)


def _plural(count: float, word: str) -> str:
    suffix = "es" if word.endswith("ch") else "s"
    return f"{count:,.0f} {word}{suffix * (count != 1)}"


def level_value(fw: Framework, name: str, levels: Mapping[str, float]) -> tuple[float, str]:
    """A support level's value, and its words. A retired framework's paths work only with its last
    release: each counts as `legacy` at most."""
    value = levels[name]
    if fw.retired and value > levels["legacy"]:
        return levels["legacy"], f"{name}, counted as legacy: retired, last release {fw.release.version}"
    return value, name


def hardware_support(
    fw: Framework, answers: Answers, levels: Mapping[str, float], secondary_share: float = 0.25
) -> CriterionScore:
    if not answers.hardware:
        return CriterionScore(0.0, 0, "no hardware given", applicable=False)
    scores, texts, facts = [], [], []
    for hardware_id in answers.hardware:
        support = fw.hardware.get(hardware_id)
        if support is None:  # a secondary device it cannot run on (the primary is a hard constraint)
            scores.append(0.0)
            texts.append(f"{hardware_id}: none")
            continue
        value, words = level_value(fw, support.level, levels)
        scores.append(value)
        texts.append(f"{hardware_id}: {words} via {support.mechanism}")
        facts.append(fact(f"{hardware_id}: {support.level} ({support.mechanism})", support))
        if value < levels[support.level]:
            facts.append(fact(retired_text(fw), fw.status))
    # The primary hardware (first listed, or `primary_hardware`) is where the work runs: secondary devices
    # share `secondary_hardware_share` of the score, so a cluster for ablations cannot dilute the TPU pod (issue 25).
    index = answers.hardware.index(answers.primary) if answers.primary in answers.hardware else 0
    primary, rest = scores[index], [s for i, s in enumerate(scores) if i != index]
    score = primary if not rest else (1 - secondary_share) * primary + secondary_share * sum(rest) / len(rest)
    if rest:
        texts[index] += " (primary)"
    return CriterionScore(score, 0, "; ".join(texts), facts)


def path_value(
    fw: Framework, path: DeploymentPath, criteria: Criteria, device: Mapping[str, str] | None = None
) -> float:
    """Its level, times its own state (a dormant runtime counts as a dormant library), times
    `partial_path` when it needs something most devices of the target lack."""
    value = level_value(fw, path.level, criteria.support_levels)[0]
    value *= criteria.evidence_status[path.status or "active"]
    return value * criteria.partial_path if path.requires and not met(path, device) else value


def _path_words(fw: Framework, path: DeploymentPath, criteria: Criteria) -> str:
    words = level_value(fw, path.level, criteria.support_levels)[1]
    if path.status and path.status != "active":
        last = path.last_release
        words += f", {path.status}" + (f" (last release {last.version}, {last.date})" if last else "")
    if path.requires:
        words += f", only on devices with {path.requires}"
    return words


def best_path(
    fw: Framework,
    target: str,
    criteria: Criteria,
    hardware: Sequence[str] | None = None,
    device: Mapping[str, str] | None = None,
) -> DeploymentPath | None:
    """The framework's best-scoring path to a deployment target on the team's `hardware` and described
    `device` (None: it has none)."""
    paths = usable_paths(fw, target, hardware or [], device)
    return max(paths, key=lambda p: path_value(fw, p, criteria, device)) if paths else None


# Targets served from the team's own hardware (the answers' `hardware` is what it trains and serves on):
# their paths are built for the framework's own builds and carry over like its libraries.
ON_TEAM_HARDWARE = ("server", "batch")


def deployment(
    fw: Framework, answers: Answers, criteria: Criteria, carry: tuple[float, str] = (1.0, "")
) -> CriterionScore:
    if not answers.deployment:
        return CriterionScore(0.0, 0, "no deployment target given", applicable=False)
    scores, texts, facts = [], [], []
    for target in answers.deployment:
        device = answers.devices.get(target)
        best = best_path(fw, target, criteria, answers.hardware, device)
        elsewhere = [p for p in fw.deployment.get(target, ()) if not on_hardware(p, answers.hardware)]
        if best is None:
            scores.append(0.0)
            texts.append(f"{target}: none" + (f" on this hardware (only {shown(elsewhere)})" if elsewhere else ""))
            continue
        # A path documented on the team's hardware counts fully; one built for the framework's own builds carries over.
        factor = carry[0] if target in ON_TEAM_HARDWARE and not best.hardware else 1.0
        scores.append(path_value(fw, best, criteria, device) * factor)
        served = f"; {carry[1]}" if factor < 1 else ""
        on = f", shown on {', '.join(best.hardware)}" if best.hardware else ""
        skipped = f"; not counted, other hardware: {shown(elsewhere)}" if elsewhere else ""
        texts.append(f"{target}: {best.tool} ({_path_words(fw, best, criteria)}{on}){served}{skipped}")
        facts.append(fact(f"{target}: {best.tool} ({best.level})", best))
        facts += state_facts(fw, best, criteria.support_levels)
    return CriterionScore(sum(scores) / len(scores), 0, "; ".join(texts), facts)


def distributed(fw: Framework, levels: Mapping[str, float], scale: str | None = None) -> CriterionScore:
    """Distributed training matters as far as the team's `scale` needs it: not on one device; on one machine
    (the default) only whether it trains on all of that machine's devices; at multi-node scale, by level."""
    info = fw.distributed
    tools = ", ".join(info.tools) or "no tools"
    facts = [fact(f"distributed: {info.level}", info)]
    if scale == "one-device":
        return CriterionScore(
            0.0, 0, "not applicable: the team trains on one device (scale: one-device)", applicable=False
        )
    if scale != "multi-node":
        enough = levels[info.level] >= levels["single-node"]
        words = "trains on every device of one machine" if enough else "no multi-device training"
        return CriterionScore(1.0 if enough else 0.0, 0, f"{words} ({info.level}); scale: one machine", facts)
    return CriterionScore(levels[info.level], 0, f"{info.level} ({tools})", facts)


def carry_over(fw: Framework, answers: Answers, levels: Mapping[str, float]) -> tuple[float, str]:
    """How much of a framework's libraries and tools carry over to the team's hardware: they are built and
    tested on the framework's own builds (`official`), so through a vendor plugin, a legacy, experimental
    or CPU-only path they count in proportion to that level (vendor/official); 1 on official or primary
    support, or when the team named no hardware. The mean over the team's hardware."""
    if not answers.hardware:
        return 1.0, ""
    ratios, weak = [], []
    for hardware_id in [answers.primary] if answers.primary else answers.hardware:  # where the work runs
        support = fw.hardware.get(hardware_id)
        value = level_value(fw, support.level, levels)[0] if support else 0.0
        ratio = min(1.0, value / levels["official"]) if levels["official"] else 1.0
        ratios.append(ratio)
        if ratio < 1:
            weak.append(f"{hardware_id} ({support.level if support else 'none'})")
    factor = sum(ratios) / len(ratios)
    return factor, (f"x{factor:.2f} for {', '.join(weak)} support: built for its own builds" if weak else "")


def carried(criterion: CriterionScore, factor: float, text: str) -> CriterionScore:
    if factor >= 1:
        return criterion
    return CriterionScore(criterion.score * factor, 0, f"{criterion.reason}; {text}", criterion.facts)


def usability_items(fw: Framework) -> list[Feature]:
    """Ease-of-use features; a fit()/Trainer-style trainer from the framework's ecosystem (PyTorch
    Lightning, Keras on the JAX backend) serves as its high-level API when the project has none itself."""
    items = list(fw.ease_of_use)
    if not any(item.kind == "high-level-api" for item in items):
        trainers = [item for item in fw.ecosystem if item.kind == "high-level-trainer"]
        items += [
            Feature(
                source=t.source,
                as_of=t.as_of,
                note=t.note,
                name=f"{t.name}, its ecosystem's trainer",
                kind="high-level-api",
                hardware=t.hardware,
            )
            for t in trainers[:1]
        ]
    return items


def clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def knowledge_date(knowledge: Knowledge) -> dt.date | None:
    """The knowledge's date (its newest `as_of`): the day an MLPerf result's age is counted to."""
    try:
        return dt.date.fromisoformat(knowledge.as_of)
    except ValueError:  # "unknown": no fact has a date
        return None


def total(criteria: Mapping[str, CriterionScore], weights: Mapping[str, float]) -> float:
    used = [(weights[name], c.score) for name, c in criteria.items() if c.applicable]
    weight_sum = sum(w for w, _ in used)
    return 100 * sum(w * s for w, s in used) / weight_sum if weight_sum else 0.0
