"""Remove what this task does not use (standard library only: runs in cookiecutter's Python)."""

from pathlib import Path

TASK = "{{ cookiecutter.task }}"

if TASK != "text-classification":
    Path("data/sample/reviews.csv").unlink(missing_ok=True)
