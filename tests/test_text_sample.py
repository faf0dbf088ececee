"""The text sample (synthetic, learnable but not trivially) and token-occlusion explanations (quick: no framework)."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from dlpick.project import render

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "templates" / "_shared" / "sample-reviews.csv"
TOOL = ROOT / "tools" / "make_text_sample.py"


def rendered_metrics(task: str, parent: Path) -> ModuleType:
    """The `metrics` module exactly as a rendered project of `task` ships it (it needs only numpy to import)."""
    project = render.render("pytorch", task, parent / task / "demo").project_dir
    spec = importlib.util.spec_from_file_location(f"rendered_metrics_{task}", project / "src" / "demo" / "metrics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def metrics(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return rendered_metrics("text-classification", tmp_path_factory.mktemp("text"))


@pytest.fixture(scope="module")
def table_metrics(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return rendered_metrics("tabular-classification", tmp_path_factory.mktemp("table"))


# A vocabulary as datasets.load_text builds it: 0 pads, 1 is the unknown token.
VOCAB = {"good": 2, "bad": 3, "the": 4, "movie": 5, "was": 6}
CLASSES = ["negative", "positive"]


def count_model(x: np.ndarray) -> np.ndarray:
    """Class probabilities from (count of "good") - (count of "bad"): the other tokens do nothing."""
    score = (x == VOCAB["good"]).sum(axis=1) - (x == VOCAB["bad"]).sum(axis=1)
    logits = np.stack([-score, score], axis=1).astype(np.float64)
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def encode(*reviews: str, width: int = 6) -> np.ndarray:
    rows = [[VOCAB.get(t, 1) for t in review.split()] for review in reviews]
    return np.array([row + [0] * (width - len(row)) for row in rows], dtype=np.int64)


def test_occluding_a_token_measures_what_it_contributed(metrics: ModuleType):
    x = encode("the movie was good", "good good bad", "the bad movie", "was the movie")
    base, drops = metrics.token_occlusion(count_model, x)
    np.testing.assert_allclose(base, count_model(x))
    assert drops.shape == (4, 6, 2)
    # "good" in "the movie was good": score 1 -> 0, P(positive) from sigmoid(2) to 1/2.
    expected = count_model(x[:1])[0, 1] - 0.5
    assert drops[0, 3, 1] == pytest.approx(expected) and drops[0, 3, 0] == pytest.approx(-expected)
    # Tokens the model ignores, and padding, change nothing.
    assert np.all(drops[0, :3] == 0) and np.all(drops[:, 4:] == 0) and np.all(drops[3] == 0)
    assert drops[2, 1, 0] > 0  # "bad" pushed "the bad movie" towards negative


def test_token_importance_ranks_the_tokens_the_model_uses_first(metrics: ModuleType):
    reviews = [
        "the movie was good",
        "good good the",
        "the bad movie",
        "bad was bad",
        "movie good",
        "the good movie was bad",
        "was the movie",
        "bad movie",
    ] * 3
    x, y = encode(*reviews), np.array([1, 1, 0, 0, 1, 0, 0, 0] * 3)
    base, drops = metrics.token_occlusion(count_model, x)
    result = metrics.token_importance(x, y, base, drops, VOCAB, CLASSES)
    assert result["classes"]["positive"][0]["token"] == "good"
    assert result["classes"]["negative"][0]["token"] == "bad"
    # Neutral tokens push towards neither class, so neither list names them.
    named = {e["token"] for entries in result["classes"].values() for e in entries}
    assert named == {"good", "bad"}
    assert set(result["labels"][:2]) == {"good", "bad"}
    assert result["counts"][result["labels"].index("good")] == sum(r.split().count("good") for r in reviews)
    first = result["examples"][0]
    assert first["text"] == "the movie was good" and first["predicted"] == "positive" and first["label"] == "positive"
    assert first["top"][0] == "good" and [t["token"] for t in first["tokens"]] == ["the", "movie", "was", "good"]
    assert len(result["examples"]) == 8


def test_explain_writes_token_occlusion_for_text_and_keeps_permutation_for_tables(
    metrics, table_metrics, tmp_path: Path
):
    pytest.importorskip("matplotlib")  # explain draws importance.png
    x = encode(*["the movie was good", "bad movie", "good", "the bad"] * 6)
    y = np.array([1, 0, 1, 0] * 6)
    path = metrics.explain(count_model, x, y, tmp_path, 0, VOCAB, CLASSES)
    assert path == tmp_path / "importance.png" and path.stat().st_size > 0
    result = json.loads((tmp_path / "importance.json").read_text())
    assert result["method"].startswith("token occlusion")
    assert result["classes"]["positive"][0]["token"] == "good" and result["classes"]["negative"][0]["token"] == "bad"

    table = tmp_path / "table"
    table.mkdir()
    features = np.random.default_rng(0).normal(size=(40, 2))
    labels = (features[:, 0] > 0).astype(int)

    def first_column(inputs: np.ndarray) -> np.ndarray:
        return np.stack([inputs[:, 0] <= 0, inputs[:, 0] > 0], axis=1).astype(float)

    table_metrics.explain(first_column, features, labels, table, 0, ["a", "b"])
    permutation = json.loads((table / "importance.json").read_text())
    assert permutation["labels"] == ["a", "b"] and permutation["importance"][0] > 0 == permutation["importance"][1]


def sample_rows() -> list[dict[str, str]]:
    with SAMPLE.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_text_sample_is_what_the_tool_makes_small_and_renders_as_is():
    made = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True, check=True).stdout
    assert made == SAMPLE.read_text(encoding="utf-8"), "regenerate: python tools/make_text_sample.py > " + str(SAMPLE)
    assert SAMPLE.stat().st_size < 100_000
    assert not re.search(r"\{[{%#]", made)  # cookiecutter includes it through Jinja
    rows = sample_rows()
    assert list(rows[0]) == ["text", "label"] and len(rows) >= 300
    labels = [row["label"] for row in rows]
    assert set(labels) == {"positive", "negative"} and 0.4 < labels.count("positive") / len(rows) < 0.6
    assert list(csv.DictReader(io.StringIO(made))) == rows


def test_the_text_sample_is_learnable_but_not_trivially_separable():
    pytest.importorskip("sklearn")
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    rows = sample_rows()
    texts, labels = [row["text"] for row in rows], [row["label"] for row in rows]
    bag = CountVectorizer(token_pattern=r"[a-z0-9']+").fit_transform(texts)  # the templates' tokenizer
    scores = cross_val_score(LogisticRegression(max_iter=1000), bag, labels, cv=5)
    assert 0.7 < scores.mean() < 0.95, scores
    # Not even the training set: contradictory and flipped labels leave something to get wrong.
    assert LogisticRegression(C=100, max_iter=5000).fit(bag, labels).score(bag, labels) < 0.97
