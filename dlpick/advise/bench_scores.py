"""The performance criterion from a `dlpick bench` run: throughput measured on this machine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dlpick.advise.answers import Answers
from dlpick.advise.criteria import clamp
from dlpick.advise.results import CriterionScore

if TYPE_CHECKING:
    from dlpick.advise.criteria import FactJson
    from dlpick.machine.bench import Throughput

# Which answers hardware ids a bench device stands for.
DEVICE_HARDWARE = {"cpu": ("cpu",), "cuda": ("nvidia-gpu", "amd-gpu"), "mps": ("apple-silicon",)}


def measured_performance(
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
    facts: list[FactJson] = [
        {"fact": f"{model}: {value:,.1f} samples/s on {measured.device}", "source": source, "as_of": date}
        for model, value in measured.samples_per_s.items()
    ]
    return CriterionScore(clamp(measured.relative), 0, reason, facts)


def bench_summary(bench: Mapping[str, Any], measured: Mapping[str, Throughput]) -> dict[str, Any]:
    """Which `dlpick bench` run fed the performance criterion, for the JSON."""
    return {
        "file": bench.get("file"),
        "created": bench.get("created"),
        "devices": bench.get("machine", {}).get("devices", []),
        "measured": {fid: round(t.relative, 4) for fid, t in sorted(measured.items())},
    }
