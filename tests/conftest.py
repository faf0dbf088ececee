"""Every test runs isolated: no colour, fixed width, its own cache and home, no team knowledge."""

from __future__ import annotations

import copy
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ROOT / "knowledge"


def _unignore(signum: int, frame: object) -> None:
    """Stands for an inherited SIG_IGN (see pytest_configure): the signal changes nothing here."""


def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background (`cmd &` ignores SIGINT) or under nohup (SIGHUP) would hand
    those ignored signals to every dlpick it starts, and dlpick rightly keeps an ignored signal
    ignored, so the tests of its answer to SIGINT and SIGHUP would hang. A Python handler that does
    nothing keeps this process as deaf to them as its launcher asked, while every process it starts
    gets the default action back (exec resets handlers, not SIG_IGN)."""
    for name in ("SIGINT", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is signal.SIG_IGN:
            signal.signal(signum, _unignore)


@pytest.fixture(autouse=True)
def _isolate(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.delenv("DLPICK_KNOWLEDGE", raising=False)
    monkeypatch.delenv("DLPICK_DEBUG", raising=False)
    monkeypatch.delenv("DLPICK_NO_CACHE", raising=False)


FACT = {"source": "https://example.org/doc", "as_of": "2026-11-01"}


def framework(fid: str, **overrides: Any) -> dict[str, Any]:
    """A complete, valid framework entry; `overrides` replace top-level fields."""
    data: dict[str, Any] = {
        "id": fid,
        "name": fid.title(),
        "summary": f"{fid} test framework",
        "homepage": f"https://{fid}.example.org/",
        "packages": [fid],
        "import_names": [fid],
        "release": {"version": "1.0", "date": "2026-01-01", **FACT},
        "status": {"value": "active", **FACT},
        "python": {"versions": ["3.10", "3.11", "3.12"], **FACT},
        "hardware": {"cpu": {"level": "official", "mechanism": "CPU", **FACT}},
        "deployment": {"server": [{"tool": "serve", "level": "official", **FACT}]},
        "distributed": {"level": "single-node", "tools": ["dp"], **FACT},
        "tasks": {"image-classification": [{"name": "vision", "kind": "official-library", **FACT}]},
        "community": {"pypi_download_rank": {"value": 1000, **FACT}},
        "performance": [{"kind": "mixed-precision", "name": "amp", **FACT}],
        "ecosystem": [{"kind": "onnx-export", "name": "onnx", **FACT}],
        "ease_of_use": [{"kind": "eager-execution", "name": "eager", **FACT}],
    }
    data.update(copy.deepcopy(overrides))
    return data


def write_kb(directory: Path, frameworks: list[dict[str, Any]], shared: bool = True) -> Path:
    """A knowledge folder: the built-in vocabulary/criteria (unless shared=False) and these frameworks."""
    (directory / "frameworks").mkdir(parents=True, exist_ok=True)
    if shared:
        vocabulary = yaml.safe_load((BUILTIN / "vocabulary.yaml").read_text())
        vocabulary["frameworks"] = [f["id"] for f in frameworks]
        (directory / "vocabulary.yaml").write_text(yaml.safe_dump(vocabulary, sort_keys=False))
        shutil.copy(BUILTIN / "criteria.yaml", directory / "criteria.yaml")
        shutil.copy(BUILTIN / "adoption.yaml", directory / "adoption.yaml")
    for data in frameworks:
        (directory / "frameworks" / f"{data['id']}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return directory


@pytest.fixture
def synthetic_kb(tmp_path: Path):
    """Build and load a synthetic knowledge base from framework dicts."""
    from dlpick.kb.knowledge import validate_dirs

    def build(*frameworks: dict[str, Any]):
        directory = write_kb(tmp_path / "kb", list(frameworks))
        kb, problems = validate_dirs([directory])
        assert not problems, problems
        return kb

    return build


@pytest.fixture(scope="session")
def envs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of isolated environments for the session (DLPICK_TEST_ENVS keeps one across runs)."""
    kept = os.environ.get("DLPICK_TEST_ENVS")
    return Path(kept) if kept else tmp_path_factory.mktemp("envs")
