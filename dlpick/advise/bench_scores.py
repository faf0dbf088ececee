"""The performance criterion from a `dlpick bench` run: throughput measured on this machine.

Which figures count is `bench_trust.evidence`'s rule (stable repeats, the team's hardware, another
framework to compare with); a framework whose figures do not count keeps the knowledge base's score,
and its reason says why the measurement was left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dlpick.advise.criteria import clamp
from dlpick.advise.results import CriterionScore

if TYPE_CHECKING:
    from dlpick.advise.criteria import FactJson
    from dlpick.machine.bench_trust import Evidence


def measured_performance(
    kb_score: CriterionScore, framework: str, evidence: Evidence, bench: Mapping[str, Any]
) -> CriterionScore:
    """The performance criterion from `dlpick bench`: samples/s relative to the fastest counted framework
    on the same device; the knowledge base's score, with the reason, where the bench does not count."""
    from dlpick.machine import bench as bench_mod

    measured = evidence.get(framework)
    if measured is None:
        why = evidence.ignored.get(framework)
        note = f"measured here but not counted: {why}" if why else "not measured here"
        return CriterionScore(kb_score.score, 0, f"{kb_score.reason}; {note}", kb_score.facts)
    # "1.3x the throughput of JAX, 2.9x PaddlePaddle"
    ratios = sorted(measured.others.items(), key=lambda item: item[1])
    against = ", ".join(f"{r:.2g}x {'the throughput of ' * (i == 0)}{name}" for i, (name, r) in enumerate(ratios))
    figures = " and ".join(f"{model} {value:,.0f}" for model, value in measured.samples_per_s.items())
    reason = f"measured here: {against} ({figures} samples/s on {measured.device})"
    if measured.notes:
        reason += f"; caution: {'; '.join(measured.notes)}"
    source, date = bench_mod.source(bench, measured.device), bench_mod.run_date(bench)
    facts: list[FactJson] = [
        {"fact": f"{model}: {value:,.1f} samples/s on {measured.device}", "source": source, "as_of": date}
        for model, value in measured.samples_per_s.items()
    ]
    return CriterionScore(clamp(measured.relative), 0, reason, facts)


def bench_summary(bench: Mapping[str, Any], evidence: Evidence) -> dict[str, Any]:
    """Which `dlpick bench` run fed the performance criterion, what counted and what did not, for the JSON."""
    return {
        "file": bench.get("file"),
        "created": bench.get("created"),
        "devices": bench.get("machine", {}).get("devices", []),
        "measured": {fid: round(t.relative, 4) for fid, t in sorted(evidence.counted.items())},
        "ignored": dict(sorted(evidence.ignored.items())),
    }
