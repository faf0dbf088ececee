"""How far a `dlpick bench` figure can be trusted, and which figures count as performance evidence.

A figure (one framework, one model) is the median throughput over `repeats` timed repeats after the
warm-up; its spread is (max - min) / median of the repeats' throughputs (`bench_worker.aggregate`).
With 5 repeats the range is the plain, conservative measure (an interquartile range of 5 values says
little): a spread of 0.10 means the slowest and the fastest repeat differ by a tenth of the median.

While a worker runs, dlpick notes what else the machine was doing (`LoadProbe`, from psutil): the
share of all CPU time other processes used (the machine's busy time minus dlpick's own and its
worker's), and the share the hypervisor stole; before the run, the 1-minute load average per
logical core. Each crosses a limit -> a warning in the result (text and JSON).

`recommend --bench` counts a framework's figures as performance evidence only when (`evidence`):

- every figure of it has at least MIN_REPEATS repeats and a spread of at most MAX_SPREAD; a figure
  from a bench file written before repeats existed (no "repeats"/"spread": one timed pass, as the
  issue's 12 vs 183 steps/s showed, not reproducible) is not counted either: rerun `dlpick bench`;
- it ran on hardware the team named: a CPU figure says nothing for a team that named only nvidia-gpu
  (a team that named no hardware takes what was measured here);
- another framework's figures on the same device count too: throughput is relative to the fastest
  framework on that device, so a lone framework has nothing to be compared with.

A framework that does not count keeps the knowledge base's performance figure, and the reason says why.
A loaded machine does not by itself discard a figure (a stable one is kept), but the reason says so.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_SPREAD = 0.10  # (max - min) / median of the repeats' throughputs
MIN_REPEATS = 3  # fewer, and the spread says little
LOAD_PER_CORE = 0.5  # 1-minute load average per logical core before the run
OTHERS_CPU = 0.25  # share of all CPU time other processes used while a worker ran
STEAL = 0.05  # share of CPU time a virtual machine's host took while a worker ran
MODELS = ("mlp", "cnn")

# Which answers hardware ids a bench device stands for (ROCm builds of PyTorch report "cuda").
DEVICE_HARDWARE = {"cpu": ("cpu",), "cuda": ("nvidia-gpu", "amd-gpu"), "mps": ("apple-silicon",)}


def rules() -> dict[str, Any]:
    """The trust rules, for the result JSON ("trust")."""
    return {
        "spread": "(max - min) / median of the repeats' samples/s",
        "max_spread": MAX_SPREAD,
        "min_repeats": MIN_REPEATS,
        "max_load_per_core": LOAD_PER_CORE,
        "max_others_cpu": OTHERS_CPU,
        "max_steal": STEAL,
    }


# --- the machine's load ----------------------------------------------------------------------------


def load_now() -> dict[str, Any] | None:
    """The load averages (1, 5, 15 min) and the 1-minute one per logical core; None where unknown."""
    try:
        import psutil

        averages = psutil.getloadavg()
        cores = psutil.cpu_count() or 1
    except Exception:  # noqa: BLE001 - no psutil or no load average here: nothing to say
        return None
    return {
        "load_avg": [round(a, 2) for a in averages],
        "logical_cores": cores,
        "load_per_core": round(averages[0] / cores, 2),
    }


def _own_cpu_s() -> float | None:
    """CPU seconds of this process and of its children reaped so far (the workers)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _cpu_times() -> tuple[float, float, float] | None:
    """(busy, steal, total) CPU seconds of the whole machine since boot, from psutil; None where unknown."""
    try:
        import psutil

        times = psutil.cpu_times()
    except Exception:  # noqa: BLE001
        return None
    fields = times._asdict()
    for inside in ("guest", "guest_nice"):  # already counted in user and nice on Linux
        fields.pop(inside, None)
    idle = fields.get("idle", 0.0) + fields.get("iowait", 0.0)
    steal = fields.get("steal", 0.0)
    total = sum(fields.values())
    return total - idle - steal, steal, total


class LoadProbe:
    """What else the machine did while one worker ran: start it before, `stop()` after."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.cpu = _cpu_times()
        self.own = _own_cpu_s()

    def stop(self) -> dict[str, Any] | None:
        wall = time.monotonic() - self.started
        cpu, own = _cpu_times(), _own_cpu_s()
        if self.cpu is None or cpu is None or wall <= 0:
            return None
        busy, steal, total = (after - before for after, before in zip(cpu, self.cpu, strict=True))
        cores = _cores()
        others = None
        if own is not None and self.own is not None:
            others = round(min(1.0, max(0.0, busy - (own - self.own)) / (wall * cores)), 3)
        return {
            "seconds": round(wall, 2),
            "others_cpu": others,
            "steal": round(steal / total, 3) if total > 0 else None,
        }


def _cores() -> int:
    with contextlib.suppress(Exception):
        import psutil

        return psutil.cpu_count() or 1
    return 1


# --- warnings ------------------------------------------------------------------------------------


def figure_warnings(figure: Mapping[str, Any]) -> list[str]:
    """What makes one measured figure doubtful: a wide spread, few repeats, a busy machine."""
    warnings = []
    repeats, spread = figure.get("repeats"), figure.get("spread")
    if isinstance(spread, (int, float)) and _number(spread) and spread > MAX_SPREAD:
        warnings.append(
            f"spread {spread:.0%} over {repeats} repeats (more than {MAX_SPREAD:.0%}): "
            "not a stable figure, `recommend --bench` ignores it"
        )
    if isinstance(repeats, int) and repeats < MIN_REPEATS:
        warnings.append(f"only {repeats} timed repeat(s): `recommend --bench` needs at least {MIN_REPEATS}")
    load = figure.get("load")
    load = load if isinstance(load, Mapping) else {}  # a hand-edited file may hold anything here
    others, steal = load.get("others_cpu"), load.get("steal")
    if isinstance(others, (int, float)) and others > OTHERS_CPU:
        warnings.append(f"the machine was busy: other processes used {others:.0%} of the CPU time while it ran")
    if isinstance(steal, (int, float)) and steal > STEAL:
        warnings.append(f"CPU steal {steal:.0%}: the virtual machine's host took that share of the CPU time")
    return warnings


def before_warnings(before: Mapping[str, Any] | None) -> list[str]:
    if not before or before.get("load_per_core", 0) <= LOAD_PER_CORE:
        return []
    return [
        f"the machine was busy before the run: load average {before['load_avg'][0]:.2f} on "
        f"{before['logical_cores']} logical cores ({before['load_per_core']:.2f} per core, more than "
        f"{LOAD_PER_CORE:g}); figures may be low and uneven"
    ]


def load_summary(before: Mapping[str, Any] | None, figures: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The result's "load": before the run, the worst seen while workers ran, and whether it was busy."""
    loads = [f.get("load") or {} for f in figures]
    worst = {
        key: max((value for load in loads if isinstance(value := load.get(key), (int, float))), default=None)
        for key in ("others_cpu", "steal")
    }
    busy = (
        bool(before and before.get("load_per_core", 0) > LOAD_PER_CORE)
        or (worst["others_cpu"] or 0) > OTHERS_CPU
        or (worst["steal"] or 0) > STEAL
    )
    return {"before": before, "others_cpu_max": worst["others_cpu"], "steal_max": worst["steal"], "busy": busy}


# --- from a run to the performance evidence ------------------------------------------------------


def untrusted(figure: Mapping[str, Any]) -> str | None:
    """Why one figure does not count as evidence, or None when it does."""
    repeats, spread = figure.get("repeats"), figure.get("spread")
    if repeats is None and spread is None:
        return (
            "one timed pass with no repeats (a bench file from before dlpick measured repeats): its spread is unknown"
        )
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not isinstance(spread, (int, float)):
        return '"repeats" must be a whole number and "spread" a number'
    if not _number(spread) or spread < 0:
        return f'"spread" must be a finite number of at least 0, not {spread}'
    if repeats < MIN_REPEATS:
        return f"only {repeats} timed repeat(s), at least {MIN_REPEATS} are needed to know the spread"
    if spread > MAX_SPREAD:
        return f"its spread over {repeats} repeats was {spread:.0%} (more than {MAX_SPREAD:.0%}): not a stable figure"
    return None


@dataclass
class Throughput:
    framework: str
    name: str
    relative: float  # 0..1: geometric mean of samples/s over the models, over the fastest framework's
    geomean: float
    samples_per_s: dict[str, float]
    device: str
    others: dict[str, float]  # other counted frameworks' names (same device) -> this one's speed-up over them
    notes: list[str] = field(default_factory=list)  # e.g. the machine was busy while it ran


@dataclass
class Evidence:
    """The frameworks whose figures count (`counted`), and why the others' do not (`ignored`)."""

    counted: dict[str, Throughput] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)

    def get(self, framework: str) -> Throughput | None:
        return self.counted.get(framework)


def other_hardware(device: str, hardware: Iterable[str]) -> str | None:
    """Why a figure measured on `device` says nothing for a team that named `hardware`, or None."""
    named = list(hardware)
    kinds = {kind for part in device.split(", ") for kind in DEVICE_HARDWARE.get(part, (part,))}
    if not named or kinds & set(named):
        return None
    return (
        f"measured on {device}, but the team named only {', '.join(named)}: a {device} figure says nothing about that"
    )


def evidence(result: Mapping[str, Any], hardware: Iterable[str] = ()) -> Evidence:
    """Which measured frameworks count as performance evidence for a team on `hardware` (ids from its
    answers; empty: whatever was measured here), each relative to the fastest on the same device."""
    hardware = list(hardware)
    found = Evidence()
    groups: dict[str, list[tuple[Mapping[str, Any], dict[str, float], list[str]]]] = {}
    for entry in result.get("frameworks", []):
        models = entry.get("models") or {}
        ok = {
            m: r
            for m, r in models.items()
            if isinstance(r, dict) and r.get("status") == "ok" and _positive(r.get("samples_per_s"))
        }
        if entry.get("status") != "measured" or not ok:
            continue
        fid, device = entry["framework"], str(entry.get("device") or "unknown device")
        doubts = [f"{m}: {why}" for m, r in ok.items() if (why := untrusted(r))]
        elsewhere = other_hardware(device, hardware)
        if doubts or elsewhere:
            found.ignored[fid] = "; ".join([elsewhere, *doubts] if elsewhere else doubts)
            continue
        busy = sorted(
            {w for r in ok.values() for w in figure_warnings(r) if w.startswith(("the machine", "CPU steal"))}
        )
        groups.setdefault(device, []).append((entry, {m: float(r["samples_per_s"]) for m, r in ok.items()}, busy))
    for device, measured in groups.items():
        common = set.intersection(*(set(rates) for _, rates, _ in measured))
        if len(measured) < 2 or not common:
            for entry, rates, _ in measured:
                ordered = sorted(rates.items(), key=lambda item: _model_order(item[0]))
                figures = " and ".join(f"{m} {v:,.0f}" for m, v in ordered)
                found.ignored[entry["framework"]] = (
                    f"no other framework's figures on {device} count ({figures} samples/s): nothing to compare with"
                    if len(measured) < 2
                    else f"the frameworks measured on {device} share no model"
                )
            continue
        found.counted.update(_relative(device, measured, common))
    return found


def _relative(
    device: str, measured: list[tuple[Mapping[str, Any], dict[str, float], list[str]]], common: set[str]
) -> dict[str, Throughput]:
    means = {e["framework"]: math.exp(sum(math.log(ok[m]) for m in common) / len(common)) for e, ok, _ in measured}
    best = max(means.values())
    names = {e["framework"]: e.get("name") or e["framework"] for e, _, _ in measured}
    return {
        fid: Throughput(
            fid,
            names[fid],
            means[fid] / best,
            means[fid],
            {m: ok[m] for m in sorted(common, key=_model_order)},
            device,
            {names[f]: means[fid] / g for f, g in means.items() if f != fid},
            busy,
        )
        for entry, ok, busy in measured
        if (fid := entry["framework"])
    }


def relative_throughput(result: Mapping[str, Any], hardware: Iterable[str] = ()) -> dict[str, Throughput]:
    """The frameworks whose figures count, relative to the fastest on the same device (see `evidence`)."""
    return evidence(result, hardware).counted


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: Any) -> bool:
    return _number(value) and value > 0


def _model_order(model: str) -> int:
    return MODELS.index(model) if model in MODELS else len(MODELS)
