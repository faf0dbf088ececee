"""Calibration: how the model's picks agree with an experienced engineer's on the profile set, and by
how many points. Run with `-s` to see the table:

    python -m pytest tests/test_calibration.py -s -q
"""

from __future__ import annotations

from pathlib import Path

import yaml

from dlpick.core import answers, knowledge, scoring

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def calibrate() -> list[dict[str, object]]:
    """One row per profile: expected pick(s), the model's pick, and the margin in points (positive: the
    expected pick leads the best other framework by that much; negative: it trails the model's pick)."""
    kb = knowledge.load()
    expected = yaml.safe_load((EXAMPLES / "expected-picks.yaml").read_text(encoding="utf-8"))
    rows = []
    for path in sorted((EXAMPLES / "profiles").glob("*.yaml")):
        want = expected[path.stem]["expect"]
        want = want if isinstance(want, list) else [want]
        team = answers.normalise(answers.read_file(path), kb.vocabulary, source=str(path))
        result = scoring.recommend(team, kb)
        scores = {r.framework: r.score for r in result.ranking}
        good = max((scores[f] for f in want if f in scores), default=0.0)
        other = max((s for f, s in scores.items() if f not in want), default=0.0)
        decision = result.decision
        rows.append(
            {
                "profile": path.stem,
                "expected": "|".join(want),
                "picked": result.ranking[0].framework if result.ranking else "-",
                "agrees": bool(result.ranking) and result.ranking[0].framework in want,
                "margin": good - other,
                "near_tie": bool(decision and decision.near_tie),
                "want_near_tie": bool(expected[path.stem].get("near_tie")),
            }
        )
    return rows


def test_calibration_agreement_and_margins() -> None:
    rows = calibrate()
    agree = sum(bool(r["agrees"]) for r in rows)
    print(f"\n{'profile':<42} {'expected':<22} {'picked':<13} {'margin':>7}  near tie")
    for r in rows:
        mark = "" if r["agrees"] else "  <-- disagrees"
        tie = "yes" if r["near_tie"] else ""
        print(f"{r['profile']:<42} {r['expected']:<22} {r['picked']:<13} {r['margin']:7.1f}  {tie}{mark}")
    margins = sorted(float(r["margin"]) for r in rows)  # type: ignore[arg-type]
    print(f"agreement {agree}/{len(rows)}; margin min {margins[0]:.1f}, median {margins[len(margins) // 2]:.1f}")
    assert agree == len(rows), [r["profile"] for r in rows if not r["agrees"]]
    # A profile marked as a near tie must be said to be one.
    assert [r["profile"] for r in rows if r["want_near_tie"] and not r["near_tie"]] == []


def _leaves(value: object, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        return [leaf for key, child in value.items() for leaf in _leaves(child, f"{prefix}{key}.")]
    return [prefix.rstrip(".")]


def test_every_modelling_number_has_a_reason_in_the_readme() -> None:
    """knowledge/README.md has one table row per number in criteria.yaml (a scale's anchors share one)."""
    root = EXAMPLES.parent / "knowledge"
    criteria = yaml.safe_load((root / "criteria.yaml").read_text(encoding="utf-8"))
    readme = (root / "README.md").read_text(encoding="utf-8")
    rows = {line.split("`")[1] for line in readme.splitlines() if line.startswith("| `")}
    missing = []
    for leaf in _leaves(criteria):
        scale = leaf.rsplit(".", 1)[0]  # community.github_stars.low -> community.github_stars
        if leaf not in rows and not (leaf.startswith("community.") and scale in rows):
            missing.append(leaf)
    assert missing == []
