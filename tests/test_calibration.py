"""Calibration: how the model's picks agree with an experienced engineer's on the profile set, and by
how many points. Run with `-s` to see the table:

    python -m pytest tests/test_calibration.py -s -q
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dlpick.advise import answers, scoring
from dlpick.kb import knowledge

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


# --- the rules the calibration rests on ------------------------------------------------------

from conftest import FACT, framework  # noqa: E402

from dlpick.advise.answers import Answers  # noqa: E402
from dlpick.kb.model import Releases  # noqa: E402

GPU = {"nvidia-gpu": {"level": "official", "mechanism": "CUDA", **FACT}}
COMPILER = {"kind": "graph-compiler", "name": "jit", **FACT}


def _round(version: str, date: str) -> dict[str, object]:
    return {"version": version, "date": date, **FACT}


def _mlperf(name: str, hardware: str, version: str = "v5.1", date: str = "2026-06-01") -> dict[str, object]:
    return {"kind": "mlperf-training", "name": name, "hardware": [hardware], "round": _round(version, date), **FACT}


def test_no_mlperf_result_on_the_teams_hardware_is_unknown_not_bad(synthetic_kb) -> None:
    tpu_result = _mlperf("MLPerf on TPU", "tpu")
    gpu_result = _mlperf("MLPerf on GPU", "nvidia-gpu")
    kb = synthetic_kb(
        framework("elsewhere", hardware=GPU, performance=[COMPILER, tpu_result]),
        framework("never", hardware=GPU, performance=[COMPILER]),
        framework("here", hardware=GPU, performance=[COMPILER, gpu_result]),
    )
    ranked = {
        r.framework: r
        for r in scoring.recommend(Answers(task="image-classification", hardware=["nvidia-gpu"]), kb).ranking
    }
    perf = {fid: r.criteria["performance"].score for fid, r in ranked.items()}
    assert perf["elsewhere"] == perf["never"] < perf["here"]
    assert "unknown" in ranked["elsewhere"].criteria["performance"].reason


def test_an_older_mlperf_round_counts_less_than_a_newer_one_and_never_less_than_none(synthetic_kb) -> None:
    """An MLPerf result ages by the half-life from its round's date to the knowledge's date (FACT's as_of,
    2026-11-01): a newer round scores higher, an old one still not below no result at all; a result on
    other hardware stays unknown, however new."""
    kb = synthetic_kb(
        framework("new", hardware=GPU, performance=[COMPILER, _mlperf("v6.0", "nvidia-gpu", "v6.0", "2026-06-01")]),
        framework("old", hardware=GPU, performance=[COMPILER, _mlperf("v2.0", "nvidia-gpu", "v2.0", "2022-06-29")]),
        framework("none", hardware=GPU, performance=[COMPILER]),
        framework("elsewhere", hardware=GPU, performance=[COMPILER, _mlperf("v6.0", "tpu", "v6.0", "2026-06-01")]),
        framework(
            "both",  # the newest result on the team's hardware is the one that counts
            hardware=GPU,
            performance=[
                COMPILER,
                _mlperf("v2.0", "nvidia-gpu", "v2.0", "2022-06-29"),
                _mlperf("v6.0", "nvidia-gpu", "v6.0", "2026-06-01"),
            ],
        ),
    )
    result = scoring.recommend(Answers(task="image-classification", hardware=["nvidia-gpu"]), kb)
    perf = {r.framework: r.criteria["performance"] for r in result.ranking}
    assert perf["none"].score == perf["elsewhere"].score < perf["old"].score < perf["new"].score
    assert perf["both"].score == perf["new"].score
    assert "unknown" in perf["elsewhere"].reason and "unknown" in perf["none"].reason
    # The exact weight: 1/2 per half-life of age, the rest of the result's value unknown.
    values, half_life = kb.criteria.performance_features, kb.criteria.mlperf_half_life_years
    age = (scoring.dt.date(2026, 11, 1) - scoring.dt.date(2022, 6, 29)).days / 365.25
    share = 0.5 ** (age / half_life)
    compiler, mlperf = values["graph-compiler"], values["mlperf-training"]
    # The kinds that count for this workload (custom kernels count only for LLM and generative tasks).
    others = sum(
        v for k, v in values.items() if k != "mlperf-training" and kb.criteria.counts_for(k, "image-classification")
    )
    assert perf["old"].score == pytest.approx((compiler + mlperf * share) / (others + mlperf * share))
    assert f"{age:.1f} years old: counts {share:.0%}" in perf["old"].reason
    assert any("round v2.0 results of 2022-06-29" in f["fact"] for f in perf["old"].facts)


def test_libraries_carry_over_as_far_as_the_hardware_support(synthetic_kb) -> None:
    kb = synthetic_kb(
        framework("plugin", hardware={"ascend-npu": {"level": "vendor", "mechanism": "plugin", **FACT}}),
        framework("own", hardware={"ascend-npu": {"level": "primary", "mechanism": "CANN", **FACT}}),
    )
    ranked = {
        r.framework: r
        for r in scoring.recommend(Answers(task="image-classification", hardware=["ascend-npu"]), kb).ranking
    }
    levels = kb.criteria.support_levels
    ratio = levels["vendor"] / levels["official"]
    assert ranked["plugin"].criteria["task_fit"].score == pytest.approx(
        ranked["own"].criteria["task_fit"].score * ratio
    )
    assert "built for its own builds" in ranked["plugin"].criteria["task_fit"].reason


def test_retirement_costs_and_says_so(synthetic_kb) -> None:
    gone = {"value": "retired", "since": "2023-09-20", **FACT}
    kb = synthetic_kb(framework("old", status=gone, hardware=GPU), framework("new", hardware=GPU))
    answers = Answers(task="image-classification", hardware=["nvidia-gpu"], deployment=["server"], include_retired=True)
    ranked = {r.framework: r for r in scoring.recommend(answers, kb).ranking}
    legacy = kb.criteria.support_levels["legacy"]
    assert ranked["old"].criteria["hardware"].score == legacy < ranked["new"].criteria["hardware"].score
    assert ranked["old"].score < ranked["new"].score
    assert any("count as legacy" in w for w in ranked["old"].warnings)


def test_a_path_most_devices_lack_scores_low_and_warns_when_it_is_the_best(synthetic_kb) -> None:
    npu = {"tool": "npu backend", "level": "official", "requires": "an NPU", **FACT}
    beta = {"tool": "cpu backend", "level": "experimental", **FACT}
    kb = synthetic_kb(
        framework("partial", deployment={"microcontroller": [npu, beta]}),
        framework("full", deployment={"microcontroller": [{"tool": "micro", "level": "official", **FACT}]}),
    )
    ranked = {
        r.framework: r
        for r in scoring.recommend(Answers(task="image-classification", deployment=["microcontroller"]), kb).ranking
    }
    criteria = kb.criteria
    expected = max(criteria.support_levels["official"] * criteria.partial_path, criteria.support_levels["experimental"])
    assert ranked["partial"].criteria["deployment"].score == pytest.approx(expected)
    assert any(
        "only on devices with an NPU" in w and "most microcontroller devices lack" in w
        for w in ranked["partial"].warnings
    )
    assert not ranked["full"].warnings


@pytest.mark.parametrize(
    ("versions", "value", "features"),
    [
        (["2.10.0", "2.10.1", "2.11.0", "0.12.0.1"], 4, 2),
        (["2.7.1.post1", "2.8.0"], 2, 1),
        ([], 0, 0),
        (None, 34, None),  # the versions are not listed: unknown, never counted as patches or features
    ],
)
def test_release_cadence_counts_feature_releases(versions: list[str] | None, value: int, features: int | None) -> None:
    measure = Releases(
        value=value,
        note="non-pre-release versions uploaded since 2025-11-26",
        versions=tuple(versions) if versions is not None else None,
        **FACT,
    )
    assert scoring.feature_releases(measure) == features


def test_a_near_tie_is_said_and_a_clear_lead_is_not(synthetic_kb) -> None:
    kb = synthetic_kb(framework("a"), framework("b"))
    close = scoring.recommend(Answers(task="image-classification", familiarity={"a": 1}), kb)
    assert close.decision is not None and close.decision.near_tie
    level = 100 * close.weights["familiarity"] / 5 / close.ranking[0].total_weight()  # one familiarity level
    assert close.ranking[0].reasons[0] == f"A and B are {level:.1f} points apart: a near tie; familiarity decides"
    clear = scoring.recommend(Answers(task="image-classification", familiarity={"a": 4}), kb)
    assert clear.decision is not None and not clear.decision.near_tie
    assert clear.ranking[0].reasons[0].startswith("A leads B by ")
