"""Scoring: hard constraints, criteria, invariants and stability."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import FACT, framework
from hypothesis import given, settings
from hypothesis import strategies as st

from dlpick.core import knowledge, scoring
from dlpick.core.answers import Answers, normalise


def test_hard_constraints_exclude_with_reasons(synthetic_kb):
    kb = synthetic_kb(
        framework(
            "good",
            hardware={
                "cpu": {"level": "official", "mechanism": "CPU", **FACT},
                "tpu": {"level": "primary", "mechanism": "XLA", **FACT},
            },
        ),
        framework("nohw"),
        framework("nodeploy", hardware={"tpu": {"level": "official", "mechanism": "XLA", **FACT}}, deployment={}),
        framework(
            "oldpy",
            python={"versions": ["3.8"], **FACT},
            hardware={"tpu": {"level": "official", "mechanism": "XLA", **FACT}},
        ),
        framework(
            "gone",
            status={"value": "retired", "since": "2020-01-01", "successor": "good", **FACT},
            hardware={"tpu": {"level": "official", "mechanism": "XLA", **FACT}},
        ),
    )
    answers = Answers(task="image-classification", hardware=["tpu"], deployment=["server"], python="3.11")
    result = scoring.recommend(answers, kb)
    assert [r.framework for r in result.ranking] == ["good"]
    why = {e.framework: " ".join(e.reasons) for e in result.excluded}
    assert "no known way to run on tpu" in why["nohw"]
    assert "no known deployment path to server" in why["nodeploy"]
    assert "does not support Python 3.11" in why["oldpy"]
    assert "retired since 2020-01-01; successor good" in why["gone"]

    included = scoring.recommend(dataclasses.replace(answers, include_retired=True), kb)
    gone = next(r for r in included.ranking if r.framework == "gone")
    assert any("retired since 2020-01-01" in w for w in gone.warnings)


def test_scores_come_from_levels_in_criteria(synthetic_kb):
    vendor = {"level": "vendor", "mechanism": "plugin", **FACT}
    kb = synthetic_kb(framework("a", hardware={"cpu": vendor}))
    ranked = scoring.recommend(Answers(task="image-classification", hardware=["cpu"]), kb).ranking[0]
    assert ranked.criteria["hardware"].score == kb.criteria["support_levels"]["vendor"]
    assert ranked.criteria["hardware"].facts[0]["source"] == FACT["source"]
    # Criteria with nothing to judge (no deployment target given) do not count.
    assert not ranked.criteria["deployment"].applicable


def test_total_is_weighted_mean_of_applicable_criteria(synthetic_kb):
    kb = synthetic_kb(framework("a"))
    answers = Answers(task="image-classification", priorities={"performance": 5, "community": 0})
    ranked = scoring.recommend(answers, kb).ranking[0]
    weights = scoring.weights_for(answers, kb)
    used = {n: c for n, c in ranked.criteria.items() if c.applicable}
    expected = 100 * sum(weights[n] * c.score for n, c in used.items()) / sum(weights[n] for n in used)
    assert ranked.score == pytest.approx(expected)
    points = ranked.to_json()["breakdown"]
    assert sum(p["points"] for p in points.values()) == pytest.approx(ranked.score, abs=0.05)


def test_successor_gets_part_of_a_retired_frameworks_familiarity(synthetic_kb):
    kb = synthetic_kb(
        framework("old", status={"value": "retired", "since": "2017-09-28", "successor": "new", **FACT}),
        framework("new"),
    )
    answers = Answers(task="image-classification", familiarity={"old": 5})
    new = next(r for r in scoring.recommend(answers, kb).ranking if r.framework == "new")
    transfer = kb.criteria["successor_familiarity_transfer"]
    assert new.criteria["familiarity"].score == pytest.approx(transfer)
    assert "counts" in new.criteria["familiarity"].reason and "successor" in new.criteria["familiarity"].reason


def test_all_weights_zero_is_bad_input(synthetic_kb):
    from dlpick.errors import BadInput

    kb = synthetic_kb(framework("a"))
    zero = {name: 0 for name in kb.vocabulary["criteria"]}
    with pytest.raises(BadInput, match="weight 0"):
        scoring.recommend(Answers(task="image-classification", priorities=zero), kb)


# --- invariants on the real knowledge base ----------------------------------------------

KB = knowledge.load()
VOCAB = KB.vocabulary
CRITERIA = list(VOCAB["criteria"])

profiles = st.fixed_dictionaries(
    {
        "task": st.sampled_from(list(VOCAB["tasks"])),
        "hardware": st.lists(st.sampled_from(list(VOCAB["hardware"])), max_size=2, unique=True),
        "deployment": st.lists(st.sampled_from(list(VOCAB["deployment"])), max_size=2, unique=True),
        "familiarity": st.dictionaries(st.sampled_from(VOCAB["frameworks"]), st.integers(0, 5), max_size=3),
        "priorities": st.dictionaries(st.sampled_from(CRITERIA), st.integers(1, 5), max_size=4),
        "include_retired": st.booleans(),
    }
)


def _scores(answers: Answers) -> dict[str, float]:
    return {r.framework: r.score for r in scoring.recommend(answers, KB).ranking}


@settings(max_examples=150, deadline=None)
@given(profiles, st.sampled_from(CRITERIA), st.data())
def test_raising_a_weight_where_a_beats_b_never_lets_b_overtake(raw, criterion, data):
    answers = normalise(raw, VOCAB)
    result = scoring.recommend(answers, KB)
    if len(result.ranking) < 2:
        return
    first, second = data.draw(st.permutations(result.ranking))[:2]
    a, b = (first, second) if first.score >= second.score else (second, first)
    if not (a.criteria[criterion].applicable and a.criteria[criterion].score > b.criteria[criterion].score):
        return
    raised = dict(answers.priorities)
    raised[criterion] = min(5, result.weights[criterion] + data.draw(st.integers(1, 5)))
    after = _scores(dataclasses.replace(answers, priorities=raised))
    assert after[a.framework] >= after[b.framework] - 1e-9


@settings(max_examples=150, deadline=None)
@given(profiles)
def test_hard_constraints_always_exclude(raw):
    answers = normalise(raw, VOCAB)
    ranked = {r.framework for r in scoring.recommend(answers, KB).ranking}
    for fid, fw in KB.frameworks.items():
        blocked = (
            any(h not in fw["hardware"] for h in answers.hardware)
            or any(not fw["deployment"].get(t) for t in answers.deployment)
            or answers.python not in [*fw["python"]["versions"], *fw["python"].get("last_release_for", {})]
            or (fw["status"]["value"] == "retired" and not answers.include_retired)
        )
        assert (fid not in ranked) == blocked, fid


@settings(max_examples=150, deadline=None)
@given(profiles, st.sampled_from(VOCAB["frameworks"]), st.integers(1, 5))
def test_more_familiarity_never_lowers_a_score(raw, fid, more):
    answers = normalise(raw, VOCAB)
    before = _scores(answers)
    familiarity = dict(answers.familiarity)
    familiarity[fid] = min(5, familiarity.get(fid, 0) + more)
    after = _scores(dataclasses.replace(answers, familiarity=familiarity))
    assert set(after) == set(before)
    if fid in before:
        assert after[fid] >= before[fid] - 1e-9
    assert all(0 <= score <= 100 for score in after.values())


@settings(max_examples=60, deadline=None)
@given(profiles)
def test_stability_names_the_smallest_single_weight_change(raw):
    answers = normalise(raw, VOCAB)
    result = scoring.recommend(answers, KB)
    if len(result.ranking) < 2:
        assert result.stability.stable
        return
    top = result.ranking[0].framework
    stability = result.stability

    def margin_after(criterion: str, weight: float) -> float:
        """How far the current top pick leads once `criterion` has `weight` (negative: it lost the lead)."""
        scores = _scores(dataclasses.replace(answers, priorities={**answers.priorities, criterion: weight}))
        return scores[top] - max(s for f, s in scores.items() if f != top)

    if stability.stable:
        # Brute force on a grid: no single weight in 0..5 takes the lead from the top pick.
        for criterion in CRITERIA:
            for step in range(0, 51):
                assert margin_after(criterion, step / 10) >= -1e-6, (criterion, step / 10)
    else:
        assert margin_after(stability.criterion, stability.to_weight) == pytest.approx(0, abs=1e-6)
        # ... and nothing smaller does it: a change 10% short keeps the top pick ahead.
        short = stability.from_weight + 0.9 * (stability.to_weight - stability.from_weight)
        for criterion in CRITERIA:
            low = result.weights[criterion] - abs(short - stability.from_weight)
            high = result.weights[criterion] + abs(short - stability.from_weight)
            for weight in (max(0.0, low), min(5.0, high)):
                assert margin_after(criterion, weight) >= -1e-6
