"""Realistic team profiles: dlpick must pick what an experienced ML engineer would."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dlpick.advise import answers, scoring
from dlpick.kb import knowledge

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PROFILES = sorted((EXAMPLES / "profiles").glob("*.yaml"))
EXPECTED = yaml.safe_load((EXAMPLES / "expected-picks.yaml").read_text())
KB = knowledge.load()


@pytest.mark.parametrize("path", PROFILES, ids=[p.stem for p in PROFILES])
def test_profile_pick(path: Path) -> None:
    expected = EXPECTED[path.stem]["expect"]
    expected = expected if isinstance(expected, list) else [expected]
    # Each profile is a plain answers file, read the way `--answers` reads it.
    team = answers.normalise(answers.read_file(path), KB.vocabulary, source=str(path))
    result = scoring.recommend(team, KB)
    ranking = [(r.framework, round(r.score, 1)) for r in result.ranking]
    assert result.ranking, f"nothing eligible: {[e.to_json() for e in result.excluded]}"
    assert result.ranking[0].framework in expected, f"{EXPECTED[path.stem]['why']}\nranking: {ranking}"
    if EXPECTED[path.stem].get("near_tie"):
        assert result.decision is not None and result.decision.near_tie, result.decision
        assert "near tie" in result.ranking[0].reasons[0]


def test_every_profile_has_an_expected_pick() -> None:
    assert {p.stem for p in PROFILES} == set(EXPECTED)


def test_profiles_cover_every_hardware_and_target() -> None:
    profiles = [answers.read_file(p) for p in PROFILES]
    assert len(profiles) >= 40
    hardware = {h for p in profiles for h in p.get("hardware", [])}
    targets = {t for p in profiles for t in p.get("deployment", [])}
    assert hardware == set(KB.vocabulary.hardware)
    assert targets == set(KB.vocabulary.deployment)


def test_the_readme_counts_the_profiles():
    import re

    root = Path(__file__).resolve().parent.parent
    said = re.search(r"`examples/profiles/` holds (\d+) ", (root / "README.md").read_text())
    assert said and int(said.group(1)) == len(list((root / "examples" / "profiles").glob("*.yaml")))


def test_profiles_cover_the_workloads_and_answers_of_advice_v2() -> None:
    """Issue 25: the open set covers every workload id and the answers that decide (primary hardware,
    scale, licence policy, device description); every profile from 54 on names the source of its
    deciding fact."""
    profiles = {p.stem: answers.read_file(p) for p in PROFILES}
    tasks = {p["task"] for p in profiles.values()}
    assert {"graph-learning", "probabilistic-modelling", "llm-pretraining", "llm-finetuning"} <= tasks
    assert {"llm-serving", "scientific-ml"} <= tasks
    for key in ("scale", "licence_policy", "devices"):
        assert any(key in p for p in profiles.values()), key
    assert any(len(p.get("hardware", [])) > 1 for p in profiles.values())
    unsourced = [s for s in profiles if int(s.split("-")[0]) >= 54 and not EXPECTED[s].get("source")]
    assert unsourced == []
