"""The decision in words: what separates the pick from the runner-up, whether it is close, and the
migration advice for a team that knows a retired framework."""

from __future__ import annotations

import re

from dlpick.advise.answers import LEVEL_MAX, Answers
from dlpick.advise.results import MAX_WEIGHT, CriterionScore, Decision, Excluded, Gap, Migration, Ranked
from dlpick.kb.knowledge import Knowledge
from dlpick.kb.model import TaskEvidence


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
        extra = [
            str(f["fact"]).split(": ", 1)[1]
            for f in mine.facts
            if str(f["fact"]).split(": ", 1)[0] not in kinds
            and not str(f["fact"]).split(": ", 1)[1].startswith("round ")
        ]  # an MLPerf round's date is the result's source, not a second reason
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


def counterfactual(top: Ranked, second: Ranked) -> str:
    """What in the team's answers would flip the pick: the familiarity with the runner-up that would put it
    ahead, else the fact its biggest gap rests on ("" if nothing the team can say would)."""
    familiarity = top.criteria.get("familiarity")
    total = top.total_weight()
    if familiarity is None or not familiarity.applicable or not familiarity.weight or not total:
        return ""
    level_points = 100 * familiarity.weight / LEVEL_MAX / total
    have = round(second.criteria["familiarity"].score * LEVEL_MAX)
    margin = top.score - second.score
    needed = int(margin // level_points) + 1 if level_points else LEVEL_MAX + 1
    if have + needed <= LEVEL_MAX:
        return (
            f"would flip: {second.name} would lead with team familiarity {have + needed}/5 "
            f"(now {have}/5; one level is {level_points:.1f} points)"
        )
    found = [g for g in gaps(top, second) if g.points > 0]
    if found:
        return (
            f"would not flip on familiarity alone ({second.name} at 5/5 still trails); it rests on "
            f"{_label(found[0].criterion)}: {found[0].reason}"
        )
    return ""


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
    flip = counterfactual(top, second)
    if flip:
        lines.append(flip)
    top.reasons = lines
    for ranked in ranking[1:]:
        ranked.reasons = _reasons_against(ranked, top)


def _key(item: TaskEvidence) -> str:
    """What names a library across frameworks: its PyPI package, else the first word of its name."""
    return str(item.package or re.split(r"[^0-9A-Za-z]+", item.name.strip())[0]).lower()


def migrations(answers: Answers, knowledge: Knowledge, ranking: list[Ranked]) -> list[Migration]:
    """For each retired framework the team knows: its migration advice, successor, and the libraries it
    used there that the target framework (its successor, else the top active pick) also has."""
    found = []
    active = [r.framework for r in ranking if not knowledge.frameworks[r.framework].retired]
    for fid, level in answers.familiarity.items():
        fw = knowledge.frameworks.get(fid)
        if not fw or not level or not fw.retired:
            continue
        target = fw.successor or (active[0] if active else None)
        carries: list[str] = []
        if target is not None and target in knowledge.frameworks:
            theirs = {_key(i): i for items in knowledge.frameworks[target].tasks.values() for i in items}
            for items in fw.tasks.values():
                for item in items:
                    match = theirs.get(_key(item))
                    line = f"{item.name} -> {match.name}" if match else ""
                    if match and line not in carries:
                        carries.append(line)
        status = fw.status
        found.append(
            Migration(fid, fw.name, int(level), status.since, status.successor, status.migration, carries, target)
        )
    return found
