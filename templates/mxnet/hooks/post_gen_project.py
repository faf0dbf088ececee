"""Keep what this project's task uses, drop the rest (standard library only: runs in cookiecutter's Python).

Shared source marks code that only some tasks use:

    # [task: tabular-regression tabular-classification]
    ...
    # [end task]

The marker lines go; a region stays only when this project's task is listed (in it and in every region
around it: regions nest).
"""

import re
import sys
from pathlib import Path

TASK = "{{ cookiecutter.task }}"
OPEN = re.compile(r"^[ \t]*# \[task: ([a-z -]+)\][ \t]*\n?$")
CLOSE = re.compile(r"^[ \t]*# \[end task\][ \t]*\n?$")


def keep_task(text: str, task: str, where: str) -> str:
    out: list[str] = []
    regions: list[list[str]] = []  # the tasks of each open region, outermost first (regions nest)
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        opened, closed = OPEN.match(line), CLOSE.match(line)
        if opened:
            regions.append(opened.group(1).split())
        elif closed:
            if not regions:
                sys.exit(f"{where}:{number}: [end task] without [task: ...]")
            regions.pop()
        elif all(task in tasks for tasks in regions):
            out.append(line)
    if regions:
        sys.exit(f"{where}: a task region is not closed")
    return "".join(out)

for path in sorted(Path(".").rglob("*.py")):
    text = path.read_text(encoding="utf-8")
    if "# [task: " in text or "# [end task]" in text:
        path.write_text(keep_task(text, TASK, str(path)), encoding="utf-8")

if TASK != "text-classification":
    Path("data/sample/reviews.csv").unlink(missing_ok=True)
