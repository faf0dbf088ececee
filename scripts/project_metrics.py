#!/usr/bin/env python3
"""Size and shape of the generated projects (issue 26): one row per framework.

Renders every framework's project for one task (default image-classification; a framework without
it: its first task) into a temporary folder and counts, over the project's `.py` files:

  py_lines      lines of Python in the project (all files)
  train_lines   lines of src/<package>/train.py
  long_funcs    functions (and methods) over 60 lines, by `ast`
  probes        getattr/hasattr/callable probes of the engine or its Trainer
  other_task    lines in src/ and tests/ naming another task (its id, or its loader, model, explainer)
  generator     "dlpick"/"template" (any case) in src/ and tests/

Usage: PYTHONPATH=. python scripts/project_metrics.py [--task TASK] [--json]
Compare two trees by running it with each on PYTHONPATH (e.g. an export of main, then this branch).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tempfile
from pathlib import Path

TASKS = ("tabular-regression", "tabular-classification", "image-classification", "text-classification")
GROUP_CODE = {
    "tabular": ("load_table", "class MLP"),
    "image": ("load_images", "class CNN", "IMAGE_SUFFIXES", "image_pixels"),
    "text": ("load_text", "tokenize", "TextClassifier", "MaskedMean", "token_occlusion", "max_tokens"),
}
PROBE = re.compile(r"\b(?:getattr|hasattr)\(\s*(?:engine|trainer|self\.trainer|engine\.Trainer)\b")
GENERATOR = re.compile(r"dlpick|template", re.IGNORECASE)


def long_functions(source: str, limit: int = 60) -> list[str]:
    tree = ast.parse(source)
    return [
        f"{node.name} ({node.end_lineno - node.lineno + 1})"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno + 1 > limit
    ]


def other_task_lines(text: str, task: str) -> int:
    group = task.split("-")[0]
    words = [t for t in TASKS if t != task]
    words += [name for g, names in GROUP_CODE.items() if g != group for name in names]
    if group != "tabular":
        words.append("regression")
    pattern = re.compile("|".join(re.escape(w) for w in words))
    return sum(1 for line in text.splitlines() if pattern.search(line))


def measure(project: Path, task: str) -> dict:
    files = {path: path.read_text(encoding="utf-8") for path in sorted(project.rglob("*.py"))}
    own = [p for p in files if p.relative_to(project).parts[0] in ("src", "tests")]
    train = next(p for p in files if p.name == "train.py" and "src" in p.parts)
    return {
        "py_lines": sum(len(t.splitlines()) for t in files.values()),
        "train_lines": len(files[train].splitlines()),
        "long_funcs": [f"{p.name}:{f}" for p, t in files.items() for f in long_functions(t)],
        "probes": sum(len(PROBE.findall(files[p])) for p in own),
        "other_task": sum(other_task_lines(files[p], task) for p in own),
        "generator": sum(len(GENERATOR.findall(files[p])) for p in own),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="image-classification")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from dlpick.project import render

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for framework, template in render.list_templates().items():
            task = args.task if args.task in template.tasks else template.tasks[0]
            project = render.render(framework, task, Path(tmp) / framework, name="Metrics").project_dir
            rows[framework] = {"task": task, **measure(project, task)}
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("| framework | task | .py lines | train.py | funcs > 60 | probes | other-task | dlpick/template |")
    print("|---|---|---|---|---|---|---|---|")
    for framework, row in rows.items():
        cells = [row["task"], row["py_lines"], row["train_lines"], len(row["long_funcs"]), row["probes"]]
        cells += [row["other_task"], row["generator"]]
        print(f"| {framework} | " + " | ".join(str(c) for c in cells) + " |")
    for framework, row in rows.items():
        if row["long_funcs"]:
            print(f"{framework}: {', '.join(row['long_funcs'])}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
