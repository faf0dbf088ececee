"""Calibration report for the advice model: agreement on the open profile set, the margins, and how
often each criterion decides (the criterion contributing most to the pick's lead over the runner-up).

    PYTHONPATH=. python benchmarks/advice_report.py [--reasons 01-vision-startup-gpu,...] [--json]

Reads examples/profiles/*.yaml and examples/expected-picks.yaml; prints a table, never asserts
(tests/test_calibration.py does).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dlpick.advise import answers, scoring  # noqa: E402
from dlpick.kb import knowledge  # noqa: E402


def rows() -> list[dict[str, object]]:
    import yaml

    kb = knowledge.load()
    expected = yaml.safe_load((ROOT / "examples" / "expected-picks.yaml").read_text(encoding="utf-8"))
    out = []
    for path in sorted((ROOT / "examples" / "profiles").glob("*.yaml")):
        want = expected[path.stem]["expect"]
        want = want if isinstance(want, list) else [want]
        team = answers.normalise(answers.read_file(path), kb.vocabulary, source=str(path))
        result = scoring.recommend(team, kb)
        scores = {r.framework: r.score for r in result.ranking}
        good = max((scores[f] for f in want if f in scores), default=0.0)
        other = max((s for f, s in scores.items() if f not in want), default=0.0)
        decision = result.decision
        deciding = decision.deciding[0].criterion if decision and decision.deciding else "(constraints)"
        out.append(
            {
                "profile": path.stem,
                "expected": "|".join(want),
                "picked": result.ranking[0].framework if result.ranking else "-",
                "agrees": bool(result.ranking) and result.ranking[0].framework in want,
                "margin": round(good - other, 1),
                "decides": deciding,
                "reasons": result.ranking[0].reasons if result.ranking else [],
            }
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reasons", default="", help="comma-separated profile stems whose stated reasons to print")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    table = rows()
    if args.json:
        print(json.dumps(table, indent=1))
        return 0
    for r in table:
        mark = "" if r["agrees"] else "  <-- disagrees"
        print(f"{r['profile']:<42} {r['expected']:<22} {r['picked']:<12} {r['margin']:7.1f}  {r['decides']}{mark}")
    agree = sum(bool(r["agrees"]) for r in table)
    margins = sorted(float(r["margin"]) for r in table)  # type: ignore[arg-type]
    print(f"\nagreement {agree}/{len(table)}; margin min {margins[0]:.1f}, median {margins[len(margins) // 2]:.1f}")
    counts = collections.Counter(str(r["decides"]) for r in table)
    print("\ncriterion deciding the pick (largest share of the lead over the runner-up):")
    for name, n in counts.most_common():
        print(f"  {name:<16} {n:3d}  {100 * n / len(table):4.0f}%")
    for stem in filter(None, args.reasons.split(",")):
        found = [r for r in table if r["profile"] == stem]
        if found:
            print(f"\n{stem}: picked {found[0]['picked']}")
            for line in found[0]["reasons"]:  # type: ignore[attr-defined]
                print(f"  - {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
