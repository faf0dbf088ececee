"""What a decision record says beyond the ranking, as plain data: the drivers in words, one line of
pros and cons per option, consequences, risks, and which facts the decision rests on.

Written for a reader of the record (a wiki page), so nothing here names a command or a flag.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dlpick.advise.results import Decision, FactJson, Gap, Ranked
    from dlpick.advise.scoring import Recommendation
    from dlpick.kb.model import Framework

SHOWN_GAPS = 4  # deciding criteria the outcome lists (and whose facts the record's sources are)
FEATURE_CRITERIA = ("performance", "ecosystem", "ease_of_use")  # facts read "kind: name"
WEAK = 0.6  # a pick's criterion below this score is a cost the team takes on
WEIGHT_WORDS = {5: "top priority", 4: "high", 3: "medium", 2: "low", 1: "minor", 0: "ignored"}
LEVEL_WORDS = {0: "not at all", 1: "a little", 2: "somewhat", 3: "well", 4: "very well", 5: "as experts"}
# "(pass --include-retired to rank it anyway)" and the like: advice for a terminal, not for a record.
# A deciding criterion as what the team gains.
GAINS = {
    "familiarity": "The team starts from what it knows",
    "task_fit": "More ready-made libraries and models for the task",
    "performance": "More ways to train fast",
    "community": "A larger, more active community",
    "ecosystem": "More tools around the framework",
    "ease_of_use": "Easier to learn and use",
    "hardware": "Better support for the team's hardware",
    "deployment": "A better path to the deployment targets",
    "distributed": "Better multi-device training",
}
_CLI_HINT = re.compile(r"\s*\([^()]*(?:--[a-z]|`?dlpick [a-z])[^()]*\)")
_URL = re.compile(r"https?://[^\s;,)]+")
_PACKAGE_RANK = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*): PyPI download rank")


def plain(text: str) -> str:
    """`text` without command-line hints."""
    return _CLI_HINT.sub("", text)


def label(name: str) -> str:
    return name.replace("_", " ")


# --- sources ----------------------------------------------------------------------------


def package_of(fact: str, framework: Framework | None) -> str | None:
    """The PyPI package a fact is about: `torchvision: PyPI download rank 627` -> torchvision; a
    framework's own download rank -> its first package."""
    match = _PACKAGE_RANK.match(fact)
    if match:
        return match.group(1)
    if fact.startswith("PyPI download rank") and framework is not None and framework.packages:
        return framework.packages[0]
    return None


def where(source: str, package: str | None) -> tuple[str | None, str]:
    """(a link a reader can open or None, the source in words) for a fact's source: a source that is not
    a page is said for what it is, with the package's PyPI page when the fact names a package."""
    if source.startswith(("https://", "http://")):
        return source, source
    text = re.sub(r"^dlpick\s+", "", source).strip()
    if "registry snapshot" in text:
        text = "PyPI download ranking (" + text.replace("registry snapshot", "a snapshot", 1) + ")"
    text = f"{text[:1].upper()}{text[1:]}"
    if package:
        return f"https://pypi.org/project/{package}/", text
    found = _URL.search(source)
    return (found.group(0) if found else None), text


def cited_facts(gap: Gap, facts: list[FactJson], side: str) -> list[FactJson]:
    """The facts behind one side of a gap: for a feature list, those the side's words name (else all)."""
    if gap.criterion not in FEATURE_CRITERIA:
        return list(facts)
    named = [f for f in facts if str(f["fact"]).split(": ", 1)[-1] in side]
    return named or list(facts)


def framework_facts(fw: Framework) -> list[FactJson]:
    """Its status and latest release, as facts."""
    status, release = fw.status, fw.release
    since = f" since {status.since}" if status.since else ""
    return [
        {"fact": f"status: {status.value}{since}", "source": status.source, "as_of": str(status.as_of)},
        {
            "fact": f"latest release {release.version} on {release.date}",
            "source": release.source,
            "as_of": str(release.as_of),
        },
    ]


# --- drivers, options -------------------------------------------------------------------


def _word(weight: float) -> str:
    return WEIGHT_WORDS[max(0, min(5, round(weight)))]


def drivers(result: Recommendation) -> dict[str, Any]:
    """The team's stated needs: hard constraints and weighted criteria, heaviest first, in words."""
    answers, kb = result.answers, result.knowledge
    names = {fid: fw.name for fid, fw in kb.frameworks.items()}
    constraints = [
        f"Runs on {', '.join(answers.hardware)}" if answers.hardware else "Any hardware (none named)",
        f"Deploys to {', '.join(answers.deployment)}" if answers.deployment else "No deployment target named",
        f"Supports Python {answers.python}",
        "Retired frameworks are ranked too" if answers.include_retired else "Not a retired framework",
    ]
    known = [
        f"{names.get(fw, fw)} {LEVEL_WORDS.get(level, '')} ({level}/5)"
        for fw, level in sorted(answers.familiarity.items(), key=lambda kv: -kv[1])
        if level
    ]
    about = dict(kb.vocabulary.criteria)
    weights = [
        {
            "criterion": name,
            "label": label(name),
            "weight": weight,
            "word": _word(weight),
            "by_team": name in answers.priorities,
            "about": about.get(name, ""),
        }
        for name, weight in sorted(result.weights.items(), key=lambda kv: -kv[1])
    ]
    return {"constraints": constraints, "familiarity": known, "weights": weights}


def problem(result: Recommendation) -> str:
    answers = result.answers
    total = len(result.ranking) + len(result.excluded)
    where_ = f" on {', '.join(answers.hardware)}" if answers.hardware else ""
    target = f", deployed to {', '.join(answers.deployment)}" if answers.deployment else ""
    return (
        f"The team needs a deep-learning framework for its {answers.task} project, trained{where_}{target}, "
        f"in Python {answers.python}. {len(result.ranking)} of the {total} frameworks compared meet the hard "
        "constraints; which of them serves the team's needs best?"
    )


def _list(gaps: list[Gap], sign: str) -> str:
    return ", ".join(f"{label(g.criterion)} ({sign}{abs(g.points):.1f})" for g in gaps)


def pros_cons(ranking: list[Ranked]) -> list[tuple[str, str]]:
    """One line of pros and one of cons per ranked framework, against the pick (the pick: against the runner-up)."""
    from dlpick.advise.decision import SHOWN, gaps

    if not ranking:
        return []
    top = ranking[0]
    same = {n for n, c in top.criteria.items() if all(r.criteria[n].score == c.score for r in ranking)}
    lines = []
    for place, ranked in enumerate(ranking):
        other = ranking[1] if place == 0 and len(ranking) > 1 else top
        if other is ranked:  # the only eligible framework
            best = sorted((c.weight * c.score, n) for n, c in ranked.criteria.items() if c.applicable)[-2:]
            lines.append(
                (f"strongest on {', '.join(label(n) for _, n in reversed(best))}", _warned(ranked, "no other option"))
            )
            continue
        found = gaps(ranked, other)
        ahead = [g for g in found if g.points >= SHOWN][:3]
        behind = sorted((g for g in found if g.points <= -SHOWN), key=lambda g: g.points)[:3]
        if ahead:
            pro = f"ahead of {other.name} on {_list(ahead, '+')}"
        else:
            level = [g.criterion for g in found if abs(g.points) < SHOWN and g.criterion not in same]
            strongest = sorted(
                ((c.weight * c.score, n) for n, c in ranked.criteria.items() if c.applicable and c.score > 0),
                reverse=True,
            )
            pro = (
                f"level with {other.name} on {', '.join(label(n) for n in level[:3])}"
                if level
                else f"strongest on {', '.join(label(n) for _, n in strongest[:2])}"
                if strongest
                else "none found"
            )
        con = f"behind {other.name} on {_list(behind, '-')}" if behind else f"trails {other.name} on no criterion"
        lines.append((pro, _warned(ranked, con)))
    return lines


def _warned(ranked: Ranked, con: str) -> str:
    count = len(ranked.warnings)
    return con + (f"; {count} warning{'s' if count != 1 else ''}" if count else "")


# --- consequences and risks -------------------------------------------------------------


def _unknowns(reason: str) -> list[str]:
    return [part.strip() for part in reason.split(";") if "unknown" in part]


def consequences(
    result: Recommendation, decision: Decision, refs: Any, fw: Framework | None
) -> dict[str, list[dict[str, Any]]]:
    """Good and bad consequences of the pick; `refs(owner, facts)` numbers the facts."""
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    if not result.ranking:
        bad.append({"text": "No framework can be used as the answers stand: each fails a hard constraint.", "refs": []})
        return {"good": good, "bad": bad}
    top = result.ranking[0]
    runner = result.ranking[1] if len(result.ranking) > 1 else None
    for gap in decision.deciding[:3]:
        facts = cited_facts(gap, top.criteria[gap.criterion].facts, gap.reason)
        good.append(
            {"text": f"{GAINS.get(gap.criterion, label(gap.criterion))}: {gap.reason}.", "refs": refs(top.name, facts)}
        )
    if fw is not None and fw.status.value == "active":
        good.append(
            {
                "text": f"{top.name} is actively maintained: latest release {fw.release.version} on {fw.release.date}.",
                "refs": refs(top.name, framework_facts(fw)),
            }
        )
    if runner is not None:
        for gap in decision.gives_up[:3]:
            facts = cited_facts(gap, runner.criteria[gap.criterion].facts, gap.other)
            bad.append(
                {
                    "text": f"{label(gap.criterion).capitalize()}: {runner.name} leads by {abs(gap.points):.1f} "
                    f"points ({gap.other}).",
                    "refs": refs(runner.name, facts),
                }
            )
    given_up = {g.criterion for g in decision.gives_up[:3]}
    leading = {g.criterion for g in decision.deciding[:3]}
    for name, c in top.criteria.items():
        if not c.applicable or c.weight <= 0 or c.score >= WEAK or name in given_up:
            continue
        if name == "familiarity":
            text = f"The team has to learn {top.name} ({c.reason})."
        elif name in leading:  # its reason and facts are listed among the good ones already
            text = f"{label(name).capitalize()} scores only {c.score:.0%} for {top.name}, though it leads there."
        else:
            text = f"{label(name).capitalize()} scores only {c.score:.0%} for {top.name}: {c.reason}."
        bad.append({"text": text, "refs": [] if name in leading else refs(top.name, c.facts)})
    for move in decision.migration:
        bad.append({"text": f"The team moves off {move.name}, which it knows at {move.level}/5.", "refs": []})
    if not bad:
        bad.append(
            {
                "text": f"None found: {top.name} leads or ties on every criterion"
                + (f" against {runner.name}" if runner else "")
                + f" and scores {WEAK:.0%} or more on each that carries weight.",
                "refs": [],
            }
        )
    return {"good": good, "bad": bad}


def risks(
    result: Recommendation, decision: Decision, refs: Any, fw: Framework | None, today: str
) -> list[dict[str, Any]]:
    """What could make the pick wrong; never empty: what was checked is said even when nothing was found."""
    kb = result.knowledge
    items: list[dict[str, Any]] = []
    if not result.ranking:
        return [{"text": "No framework is eligible, so there is no pick to be wrong about.", "refs": []}]
    top = result.ranking[0]
    runner = result.ranking[1] if len(result.ranking) > 1 else None
    for warning in top.warnings:
        items.append({"text": f"{top.name}: {plain(warning)}.", "refs": []})
    if runner is None:
        items.append(
            {"text": f"{top.name} is the only eligible framework: there is nothing to fall back on.", "refs": []}
        )
    elif decision.near_tie:
        leads = decision.gives_up[:3]
        where_ = f"; {runner.name} leads on {_list(leads, '+')}" if leads else ""
        items.append(
            {
                "text": f"Near tie: {decision.text}{where_}. One more level of familiarity with {runner.name}, or "
                "one step on one weight, would put it level.",
                # In a near tie the runner-up's leads are what the decision rests on too.
                "refs": [
                    n
                    for g in leads
                    for n in refs(runner.name, cited_facts(g, runner.criteria[g.criterion].facts, g.other))
                ],
            }
        )
    else:
        items.append(
            {
                "text": f"Not a near tie: {top.name} leads {runner.name} by {decision.margin:.1f} points; "
                f"{result.stability.text}.",
                "refs": [],
            }
        )
    if fw is not None:
        status = fw.status
        state = {"active": "actively maintained", "maintenance": "in maintenance mode", "retired": "retired"}
        since = f" since {status.since}" if status.since else ""
        items.append(
            {
                "text": f"Maintenance: {top.name} is {state.get(status.value, status.value)}{since}; latest release "
                f"{fw.release.version} on {fw.release.date}.",
                "refs": refs(top.name, framework_facts(fw)),
            }
        )
    unknown = [part for c in top.criteria.values() if c.applicable for part in _unknowns(c.reason)]
    if unknown:
        items.append({"text": f"Not known for {top.name}: {'; '.join(unknown)}.", "refs": []})
    items.append({"text": _age(kb.as_of, today), "refs": []})
    return items


def _age(as_of: str, today: str) -> str:
    try:
        days = (dt.date.fromisoformat(today) - dt.date.fromisoformat(as_of)).days
    except ValueError:
        days = -1
    age = f" ({days} day{'s' if days != 1 else ''} before this record)" if days >= 0 else ""
    return f"Knowledge age: the facts are as of {as_of}{age}; newer releases or results can change the scores."
