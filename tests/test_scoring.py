"""Scoring: hard constraints, criteria, invariants and stability."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import FACT, framework, write_kb
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dlpick.advise import scoring
from dlpick.advise.answers import Answers, normalise
from dlpick.kb import knowledge


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
    assert "no known way to train on tpu, the primary hardware" in why["nohw"]
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
    assert ranked.criteria["hardware"].score == kb.criteria.support_levels["vendor"]
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
    transfer = kb.criteria.successor_familiarity_transfer
    assert new.criteria["familiarity"].score == pytest.approx(transfer)
    assert "counts" in new.criteria["familiarity"].reason and "successor" in new.criteria["familiarity"].reason


def test_all_weights_zero_is_bad_input(synthetic_kb):
    from dlpick.errors import BadInput

    kb = synthetic_kb(framework("a"))
    zero = {name: 0 for name in kb.vocabulary.criteria}
    with pytest.raises(BadInput, match="weight 0"):
        scoring.recommend(Answers(task="image-classification", priorities=zero), kb)


def test_features_of_one_kind_count_once(synthetic_kb):
    """Each feature kind counts once: a second feature of the same kind adds nothing."""
    doubled = {
        "performance": [
            {"kind": "graph-compiler", "name": "jit", **FACT},
            {"kind": "graph-compiler", "name": "xla", **FACT},
            {"kind": "mixed-precision", "name": "amp", **FACT},
        ],
        "ecosystem": [{"kind": "model-hub", "name": "hub", **FACT}, {"kind": "model-hub", "name": "zoo", **FACT}],
        "ease_of_use": [
            {"kind": "eager-execution", "name": "eager", **FACT},
            {"kind": "eager-execution", "name": "pynative", **FACT},
        ],
    }
    single = {name: [items[0], *items[2:]] for name, items in doubled.items()}  # the same kinds, once each
    kb = synthetic_kb(framework("doubled", **doubled), framework("single", **single))
    # An LLM task, where every performance kind counts (custom kernels only count for such workloads).
    ranked = {r.framework: r for r in scoring.recommend(Answers(task="nlp-transformers"), kb).ranking}
    for name in doubled:
        once = ranked["single"].criteria[name].score
        assert 0 < once < 1, (name, once)  # below the cap, so counting a kind twice would show
        assert ranked["doubled"].criteria[name].score == pytest.approx(once), name
    # Without duplicates the value is the kind's own: one eager-execution feature scores its value.
    assert ranked["single"].criteria["ease_of_use"].score == pytest.approx(
        kb.criteria.ease_of_use_features["eager-execution"]
    )
    assert ranked["doubled"].score == pytest.approx(ranked["single"].score)


def test_feature_scores_are_capped_at_1(tmp_path):
    """A team's knowledge may value features so that their kinds sum past 1: the criterion still scores 1."""
    import yaml

    features = [{"kind": "graph-compiler", "name": "jit", **FACT}, {"kind": "mixed-precision", "name": "amp", **FACT}]
    directory = write_kb(tmp_path / "kb", [framework("a", performance=features)])
    criteria = yaml.safe_load((directory / "criteria.yaml").read_text())
    criteria["performance_features"] = {kind: 0.6 for kind in criteria["performance_features"]}
    (directory / "criteria.yaml").write_text(yaml.safe_dump(criteria))
    kb, problems = knowledge.validate_dirs([directory])
    assert not problems, problems
    ranked = scoring.recommend(Answers(task="image-classification"), kb).ranking[0]
    assert ranked.criteria["performance"].score == 1.0  # 0.6 + 0.6, capped
    assert ranked.to_json()["breakdown"]["performance"]["score"] == 100.0


def test_the_best_deployment_path_counts_not_the_sum_or_mean(synthetic_kb):
    paths = [
        {"tool": "fork", "level": "community", **FACT},
        {"tool": "serve", "level": "official", **FACT},
        {"tool": "onnx", "level": "conversion", **FACT},
    ]
    kb = synthetic_kb(framework("a", deployment={"server": paths}))
    ranked = scoring.recommend(Answers(task="image-classification", deployment=["server"]), kb).ranking[0]
    assert ranked.criteria["deployment"].score == pytest.approx(kb.criteria.support_levels["official"])
    assert ranked.criteria["deployment"].reason == "server: serve (official)"


WEAK_HARDWARE = ("experimental", "cpu-fallback", "community")
WEAK_DEPLOYMENT = ("conversion", "community", "experimental", "legacy")


def _eligible_answers(fw: dict, **fields) -> Answers:
    """Answers under which `fw` passes the Python and status constraints."""
    return Answers(task="image-classification", python=fw.python.versions[-1], include_retired=True, **fields)


def test_weak_hardware_support_warns_and_official_support_does_not():
    kb = knowledge.load()
    seen = set()
    for fid, fw in kb.frameworks.items():
        for hardware, support in fw.hardware.items():
            result = scoring.recommend(_eligible_answers(fw, hardware=[hardware]), kb)
            ranked = next(r for r in result.ranking if r.framework == fid)
            about = [w for w in ranked.warnings if w.startswith(f"{hardware}: ")]
            if support.level in WEAK_HARDWARE:
                seen.add(support.level)
                assert f"{hardware}: only {support.level} support ({support.mechanism})" in about, (fid, about)
            elif not fw.retired:  # (a retired framework's paths may warn as legacy)
                assert about == [], (fid, hardware, about)
    assert {"experimental", "cpu-fallback"} <= seen  # the built-in knowledge has both (JAX on Apple silicon ...)


def test_community_hardware_support_warns(synthetic_kb):
    fork = {"level": "community", "mechanism": "a community fork", **FACT}
    kb = synthetic_kb(framework("a", hardware={"cpu": fork}))
    ranked = scoring.recommend(Answers(task="image-classification", hardware=["cpu"]), kb).ranking[0]
    assert "cpu: only community support (a community fork)" in ranked.warnings


def test_deployment_only_through_weak_paths_warns():
    kb = knowledge.load()
    seen = set()
    for fid, fw in kb.frameworks.items():
        for target, paths in fw.deployment.items():
            if not paths or any(p.requires or p.level not in WEAK_DEPLOYMENT for p in paths):
                continue
            seen.update(p.level for p in paths)
            result = scoring.recommend(_eligible_answers(fw, deployment=[target]), kb)
            ranked = next(r for r in result.ranking if r.framework == fid)
            about = [w for w in ranked.warnings if w.startswith(f"{target}: only through ")]
            assert len(about) == 1 and all(p.tool in about[0] for p in paths), (fid, target, ranked.warnings)
    assert {"community", "conversion"} <= seen  # PyTensor serves only through a community path, JAX converts


# --- stability: the proposed weight stays within 0..5 ------------------------------------


def _ranking(scores: dict[str, dict[str, float]], weights: dict[str, float]) -> list[scoring.Ranked]:
    """Ranked frameworks from per-criterion scores (every criterion applicable), ordered as recommend orders them."""
    ranking = []
    for fid, by_criterion in scores.items():
        criteria = {name: scoring.CriterionScore(score, weights[name], "") for name, score in by_criterion.items()}
        ranking.append(scoring.Ranked(fid, fid, scoring.total(criteria, weights), criteria, [], []))
    ranking.sort(key=lambda r: (-round(r.score, 9), r.framework))
    return ranking


def _lead(ranking: list[scoring.Ranked], weights: dict[str, float], top: str) -> float:
    """How far `top` leads the best other framework in weighted sum (negative: it is behind)."""
    sums = {r.framework: sum(weights[n] * c.score for n, c in r.criteria.items()) for r in ranking}
    return sums[top] - max(s for f, s in sums.items() if f != top)


def test_stability_ignores_flips_outside_0_to_5():
    # B leads A only on x (gap 0.5, weight 1): raising x to 6 or lowering y or z to -1 would tie them,
    # all outside 0..5, so no single weight in range changes the pick.
    weights = {"x": 1.0, "y": 1.5, "z": 1.5}
    ranking = _ranking({"a": {"x": 0.5, "y": 1.0, "z": 1.0}, "b": {"x": 1.0, "y": 0.0, "z": 0.0}}, weights)
    assert ranking[0].framework == "a"
    result = scoring.stability(ranking, weights)
    assert result.stable, result.text
    assert (result.criterion, result.to_weight, result.new_top) == (None, None, None)
    assert "stays on top for every change of a single weight within 0..5" in result.text


def test_stability_takes_the_smallest_change_that_stays_within_0_to_5():
    # Lowering x to -0.1 or y to -1 would tie A and B (outside 0..5); raising z from 1 to 2.5 does.
    weights = {"x": 0.5, "y": 5.0, "z": 1.0}
    ranking = _ranking({"a": {"x": 1.0, "y": 0.6, "z": 0.0}, "b": {"x": 0.0, "y": 0.5, "z": 0.4}}, weights)
    assert ranking[0].framework == "a"
    result = scoring.stability(ranking, weights)
    assert not result.stable
    assert (result.criterion, result.from_weight, result.new_top) == ("z", 1.0, "b")
    assert result.to_weight == pytest.approx(2.5)
    assert result.text == "raising the weight of z from 1 to 2.50 would put b level with a"
    assert result.to_json()["to_weight"] == 2.5


NAMES = ("x", "y", "z", "w")
grid = st.integers(0, 20).map(lambda i: i / 20)  # scores 0..1 in steps of 0.05
weight_values = st.integers(0, 10).map(lambda i: i / 2)  # weights 0..5 in steps of 0.5


@st.composite
def stability_cases(draw):
    names = NAMES[: draw(st.integers(1, len(NAMES)))]
    weights = {name: draw(weight_values) for name in names}
    frameworks = [f"f{i}" for i in range(draw(st.integers(2, 4)))]
    scores = {fid: {name: draw(grid) for name in names} for fid in frameworks}
    return _ranking(scores, weights), weights


@settings(max_examples=300, deadline=None)
@given(stability_cases())
def test_stability_weight_stays_within_0_to_5_and_is_the_smallest_flip(case):
    ranking, weights = case
    top = ranking[0].framework
    result = scoring.stability(ranking, weights)
    if result.stable:
        # The lead is linear in each weight: if it never turns negative at 0 or at 5, it never does in between.
        for name in weights:
            for end in (0.0, scoring.MAX_WEIGHT):
                assert _lead(ranking, {**weights, name: end}, top) >= -1e-9, (name, end)
        return
    assert result.criterion in weights
    assert result.from_weight == weights[result.criterion]
    assert 0 <= result.to_weight <= scoring.MAX_WEIGHT == 5
    assert 0 <= result.to_json()["to_weight"] <= 5
    changed = {**weights, result.criterion: result.to_weight}
    assert _lead(ranking, changed, top) == pytest.approx(0, abs=1e-9)  # level: a tie, nobody ahead
    sums = {r.framework: sum(changed[n] * c.score for n, c in r.criteria.items()) for r in ranking}
    assert sums[result.new_top] == pytest.approx(sums[top], abs=1e-9)
    # Nothing smaller, within 0..5, takes the lead: any weight 1% short of the change keeps the top pick ahead.
    step = 0.99 * abs(result.to_weight - result.from_weight)
    for name in weights:
        for weight in (max(0.0, weights[name] - step), min(scoring.MAX_WEIGHT, weights[name] + step)):
            assert _lead(ranking, {**weights, name: weight}, top) >= -1e-9, (name, weight)


# --- invariants on the real knowledge base ----------------------------------------------

KB = knowledge.load()
VOCAB = KB.vocabulary
CRITERIA = list(VOCAB.criteria)

profiles = st.fixed_dictionaries(
    {
        "task": st.sampled_from(list(VOCAB.tasks)),
        "hardware": st.lists(st.sampled_from(list(VOCAB.hardware)), max_size=2, unique=True),
        "deployment": st.lists(st.sampled_from(list(VOCAB.deployment)), max_size=2, unique=True),
        "familiarity": st.dictionaries(st.sampled_from(VOCAB.frameworks), st.integers(0, 5), max_size=3),
        "priorities": st.dictionaries(st.sampled_from(CRITERIA), st.integers(1, 5), max_size=4),
        "include_retired": st.booleans(),
    }
)


def _scores(answers: Answers) -> dict[str, float]:
    return {r.framework: r.score for r in scoring.recommend(answers, KB).ranking}


def _usable(fw: dict, python: str, include_retired: bool) -> bool:
    """Whether `fw` passes the Python and status constraints (hardware and deployment aside)."""
    pythons = [*fw.python.versions, *fw.python.last_release_for]
    return python in pythons and (include_retired or not fw.retired)


@st.composite
def two_eligible(draw):
    """A profile under which at least two frameworks are ranked, by construction: two frameworks that pass the
    Python and status constraints are drawn first, then hardware and deployment targets both of them support."""
    raw = draw(profiles)
    python = normalise({"task": raw["task"]}, VOCAB).python
    usable = [fid for fid, fw in KB.frameworks.items() if _usable(fw, python, raw["include_retired"])]
    pair = [KB.frameworks[fid] for fid in draw(st.lists(st.sampled_from(usable), min_size=2, max_size=2, unique=True))]
    hardware = sorted(set(pair[0].hardware) & set(pair[1].hardware))
    deployment = sorted(set.intersection(*({t for t, paths in fw.deployment.items() if paths} for fw in pair)))
    raw["hardware"] = draw(st.lists(st.sampled_from(hardware), max_size=2, unique=True)) if hardware else []
    raw["deployment"] = draw(st.lists(st.sampled_from(deployment), max_size=2, unique=True)) if deployment else []
    return raw


@st.composite
def raise_cases(draw):
    """(answers, a, b, criterion, weight): a scores at least b overall and strictly more on `criterion`, an
    applicable criterion whose weight `weight` raises (within 0..5). Drawn from the valid triples, so the test's
    precondition holds by construction; `assume` only drops a profile with no such triple at all (rare)."""
    answers = normalise(draw(two_eligible()), VOCAB)
    result = scoring.recommend(answers, KB)
    assert len(result.ranking) >= 2, "two_eligible promised two ranked frameworks"
    triples = [
        (a, b, name)
        for a in result.ranking
        for b in result.ranking
        if a is not b and a.score >= b.score
        for name, criterion in a.criteria.items()
        if criterion.applicable and criterion.score > b.criteria[name].score and result.weights[name] < 5
    ]
    assume(triples)
    a, b, name = draw(st.sampled_from(triples))
    weight = draw(st.floats(result.weights[name], 5.0, exclude_min=True) | st.just(5.0))
    return answers, a.framework, b.framework, name, weight


@settings(max_examples=150, deadline=None)
@given(raise_cases())
def test_raising_a_weight_where_a_beats_b_never_lets_b_overtake(case):
    answers, a, b, criterion, weight = case
    after = _scores(dataclasses.replace(answers, priorities={**answers.priorities, criterion: weight}))
    assert after[a] >= after[b] - 1e-9


@settings(max_examples=150, deadline=None)
@given(profiles)
def test_hard_constraints_always_exclude(raw):
    answers = normalise(raw, VOCAB)
    ranked = {r.framework for r in scoring.recommend(answers, KB).ranking}
    for fid, fw in KB.frameworks.items():
        blocked = (
            (answers.primary is not None and answers.primary not in fw.hardware)  # secondary devices only warn
            or any(not fw.deployment.get(t) for t in answers.deployment)
            or answers.python not in [*fw.python.versions, *fw.python.last_release_for]
            or (fw.retired and not answers.include_retired)
        )
        assert (fid not in ranked) == blocked, fid


@settings(max_examples=150, deadline=None)
@given(profiles, st.sampled_from(VOCAB.frameworks), st.integers(1, 5))
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
        # No single weight in 0..5 takes the lead from the top pick. Each rival's lead changes sign with one weight
        # as a linear function does (the weighted means share their denominator), so if it never turns at 0 or 5 it
        # never does in between; the points between are a cross-check.
        for criterion in CRITERIA:
            for weight in (0.0, 1.25, 2.5, 3.75, 5.0):
                assert margin_after(criterion, weight) >= -1e-6, (criterion, weight)
    else:
        # The proposed weight is one a team could give: within the priority range 0..5.
        assert stability.from_weight == result.weights[stability.criterion]
        assert 0 <= stability.to_weight <= 5, stability.text
        assert margin_after(stability.criterion, stability.to_weight) == pytest.approx(0, abs=1e-6)
        # ... and nothing smaller does it: a change 10% short keeps the top pick ahead.
        short = stability.from_weight + 0.9 * (stability.to_weight - stability.from_weight)
        for criterion in CRITERIA:
            low = result.weights[criterion] - abs(short - stability.from_weight)
            high = result.weights[criterion] + abs(short - stability.from_weight)
            for weight in (max(0.0, low), min(5.0, high)):
                assert margin_after(criterion, weight) >= -1e-6


# --- items documented on particular hardware (`hardware:` on task evidence and deployment paths) ---

TPU_VENDOR = {
    "tpu": {"level": "vendor", "mechanism": "plugin", **FACT},
    "cpu": {"level": "official", "mechanism": "CPU", **FACT},
}


def test_task_evidence_shown_on_particular_hardware_counts_only_there(synthetic_kb):
    """A TPU reference model counts for a TPU team (fully: it is documented on that hardware, so it does not
    carry over at the plugin's ratio), not for a CPU team; a team that names no hardware counts it."""
    tpu_only = {"name": "tpu models", "kind": "official-library", "hardware": ["tpu"], **FACT}
    kb = synthetic_kb(
        framework("shown", hardware=TPU_VENDOR, tasks={"image-classification": [tpu_only]}),
        framework("general", hardware=TPU_VENDOR, tasks={"image-classification": [{**tpu_only, "hardware": []}]}),
    )

    def task_fit(hardware: list[str]) -> dict[str, scoring.CriterionScore]:
        result = scoring.recommend(Answers(task="image-classification", hardware=hardware), kb)
        return {r.framework: r.criteria["task_fit"] for r in result.ranking}

    on_tpu, on_cpu, anywhere = task_fit(["tpu"]), task_fit(["cpu"]), task_fit([])
    ratio = kb.criteria.support_levels["vendor"] / kb.criteria.support_levels["official"]
    assert on_tpu["shown"].score == 1.0  # documented on the team's TPU: no carry-over discount
    assert on_tpu["general"].score == pytest.approx(ratio)  # built for the framework's own builds
    assert "shown on tpu" in on_tpu["shown"].reason
    assert on_cpu["shown"].score == 0.0 and on_cpu["general"].score == 1.0
    assert "not counted, other hardware: tpu models (tpu)" in on_cpu["shown"].reason
    assert anywhere["shown"].score == anywhere["general"].score == 1.0


def test_a_deployment_path_shown_on_other_hardware_does_not_count(synthetic_kb):
    """A server path documented only on some hardware is, for a team on other hardware, no path at all:
    the next path counts, and with none left the framework is excluded for that target."""
    ascend = {"tool": "lite", "level": "official", "hardware": ["ascend-npu"], **FACT}
    onnx = {"tool": "onnx", "level": "conversion", **FACT}
    hardware = {
        "ascend-npu": {"level": "primary", "mechanism": "CANN", **FACT},
        "cpu": {"level": "official", "mechanism": "CPU", **FACT},
    }
    kb = synthetic_kb(
        framework("two", hardware=hardware, deployment={"server": [ascend, onnx]}),
        framework("one", hardware=hardware, deployment={"server": [ascend]}),
    )
    levels = kb.criteria.support_levels
    on_cpu = scoring.recommend(Answers(task="image-classification", hardware=["cpu"], deployment=["server"]), kb)
    two = on_cpu.ranking[0]
    assert [r.framework for r in on_cpu.ranking] == ["two"]
    assert two.criteria["deployment"].score == pytest.approx(levels["conversion"])
    assert "not counted, other hardware: lite (ascend-npu)" in two.criteria["deployment"].reason
    why = {e.framework: " ".join(e.reasons) for e in on_cpu.excluded}
    assert "no known deployment path to server on cpu (only on ascend-npu)" in why["one"]

    on_ascend = scoring.recommend(
        Answers(task="image-classification", hardware=["ascend-npu"], deployment=["server"]), kb
    )
    assert {r.framework: r.criteria["deployment"].score for r in on_ascend.ranking} == {
        "one": pytest.approx(levels["official"]),
        "two": pytest.approx(levels["official"]),
    }
    anywhere = scoring.recommend(Answers(task="image-classification", deployment=["server"]), kb)
    assert {r.framework for r in anywhere.ranking} == {"one", "two"}
