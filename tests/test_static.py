"""The repository passes its own static checks: ruff (lint and format) and mypy over the whole package.

Run once, on the Python the project targets (3.11); the quick suites on 3.10 and 3.12 skip it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="checked once, on Python 3.11")


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "--no-cache", "."], ["ruff", "format", "--check", "--no-cache", "."], ["mypy"]],
    ids=lambda command: " ".join(command[:2]),
)
def test_static_check_passes(command: list[str]) -> None:
    ran = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, (ran.stdout + ran.stderr)[-4000:]
