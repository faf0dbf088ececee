"""What scoring produces: criterion scores, ranked and excluded frameworks, the decision and its gaps.

Plain result types, no knowledge reads; `scoring` builds them, `report` and the CLI render them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:

    class FactJson(TypedDict):
        """A fact as the JSON shows it, beside the number it explains."""

        fact: str
        source: str
        as_of: str


MAX_WEIGHT = 5.0


@dataclass
class CriterionScore:
    score: float  # 0..1
    weight: float
    reason: str
    facts: list[FactJson] = field(default_factory=list)
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
    facts: list[FactJson]

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
