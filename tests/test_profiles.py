"""Realistic team profiles: dlpick must pick what an experienced ML engineer would."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dlpick.core import knowledge, scoring
from dlpick.core.answers import normalise

PROFILES = sorted((Path(__file__).resolve().parent.parent / "examples" / "profiles").glob("*.yaml"))
KB = knowledge.load()


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("path", PROFILES, ids=[p.stem for p in PROFILES])
def test_profile_pick(path: Path) -> None:
    profile = _load(path)
    expected = profile["expect"] if isinstance(profile["expect"], list) else [profile["expect"]]
    answers = normalise(profile["answers"], KB.vocabulary, source=str(path))
    result = scoring.recommend(answers, KB)
    ranking = [(r.framework, round(r.score, 1)) for r in result.ranking]
    assert result.ranking, f"nothing eligible: {[e.to_json() for e in result.excluded]}"
    assert result.ranking[0].framework in expected, f"{profile['why']}\nranking: {ranking}"


def test_profiles_cover_every_hardware_and_target() -> None:
    profiles = [_load(p)["answers"] for p in PROFILES]
    assert len(profiles) >= 12
    hardware = {h for p in profiles for h in p.get("hardware", [])}
    targets = {t for p in profiles for t in p.get("deployment", [])}
    assert hardware == set(KB.vocabulary["hardware"])
    assert targets == set(KB.vocabulary["deployment"])
