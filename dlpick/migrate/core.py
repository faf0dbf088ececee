"""What every migration shares: the destination (staged, moved into place only when done), the proof
(max |diff| per output and per layer against a tolerance), the report and the JSON of DESIGN.md.

Exit codes: 0 the migrated model agrees, 1 it disagrees (files kept, the report says where), 2 bad
input (nothing written), 3 the source framework's environment cannot be built here.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpick import processes
from dlpick.errors import BadInput, VerifyFailed

DEFAULT_TOLERANCE = 1e-4
REPORT = "MIGRATION.md"
RECORD = "migration.json"


class MigrationDisagreed(VerifyFailed):
    """The migrated model ran but its outputs differ from the original's beyond the tolerance: exit 1."""


@dataclass
class Diff:
    name: str
    max_abs_diff: float
    passed: bool
    kind: str = ""  # a layer's type
    detail: str = ""  # e.g. a shape mismatch

    def to_json(self) -> dict[str, Any]:
        value = self.max_abs_diff if math.isfinite(self.max_abs_diff) else None
        data: dict[str, Any] = {"name": self.name, "max_abs_diff": value, "passed": self.passed}
        if self.kind:
            data["type"] = self.kind
        if self.detail:
            data["detail"] = self.detail
        return data


@dataclass
class Result:
    source: str  # "caffe"
    target: str  # "pytorch"
    dest: Path
    tolerance: float
    outputs: list[Diff] = field(default_factory=list)
    layers: list[Diff] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was done, in words
    needs_human: list[str] = field(default_factory=list)  # places a person must look at
    inputs: list[str] = field(default_factory=list)  # which inputs the proof ran on
    measures: dict[str, Any] = field(default_factory=dict)  # seconds, code size, ...
    checked: bool = True  # False: nothing could be compared (e.g. a project without tests)
    extra: dict[str, Any] = field(default_factory=dict)  # more keys for the JSON (e.g. changes, tests)

    @property
    def passed(self) -> bool:
        return self.checked and all(d.passed for d in [*self.outputs, *self.layers])

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "from": self.source,
            "to": self.target,
            "dest": str(self.dest),
            "tolerance": self.tolerance,
            "inputs": self.inputs,
            "outputs": [d.to_json() for d in self.outputs],
            "layers": [d.to_json() for d in self.layers],
            "files": self.files,
            "needs_human": self.needs_human,
            "notes": self.notes,
            "measures": {k: _finite(v) for k, v in self.measures.items()},
            **self.extra,
        }


def _finite(value: Any) -> Any:
    """JSON has no infinity: a diff that could not be computed is null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def max_abs_diff(expected: Any, got: Any) -> tuple[float, str]:
    """max |expected - got| over all elements (inf, with why, when the shapes differ or a value is NaN)."""
    import numpy as np

    a, b = np.asarray(expected, dtype=np.float64), np.asarray(got, dtype=np.float64)
    if a.shape != b.shape:
        if a.size == b.size:
            b = b.reshape(a.shape)
        else:
            return math.inf, f"shape {tuple(b.shape)}, expected {tuple(a.shape)}"
    if a.size == 0:
        return 0.0, ""
    diff = np.abs(a - b)
    if np.isnan(diff).any():
        return math.inf, "NaN where the original has a number (or the reverse)"
    return float(diff.max()), ""


def compare(name: str, expected: Any, got: Any, tolerance: float, kind: str = "") -> Diff:
    value, detail = max_abs_diff(expected, got)
    return Diff(name, value, value <= tolerance, kind, detail)


def merge(diffs: list[Diff]) -> list[Diff]:
    """One entry per name (the worst over the input cases), in first-seen order."""
    worst: dict[str, Diff] = {}
    for diff in diffs:
        if diff.name not in worst or not diff.passed or diff.max_abs_diff > worst[diff.name].max_abs_diff:
            if diff.name in worst and not worst[diff.name].passed and diff.passed:
                continue
            worst[diff.name] = diff
    return list(worst.values())


def check_dest(dest: Path, sources: list[Path]) -> None:
    """DEST must be new or an empty folder, and not inside a source (migrate never writes to its sources)."""
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise BadInput(f"{dest}: exists and is not a folder; give a new or empty folder as --dest")
    if dest.is_dir() and any(dest.iterdir()):
        raise BadInput(f"{dest}: not empty; migrate writes only into a new or empty folder (nothing is overwritten)")
    target = dest.resolve()
    for source in sources:
        resolved = source.resolve()
        if source.is_dir() and (target == resolved or resolved in target.parents):
            raise BadInput(f"{dest}: inside the source {source}; migrate never writes to its sources")
    if not target.parent.is_dir():
        raise BadInput(f"{dest}: its parent folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK):
        raise BadInput(f"{dest}: cannot write to {target.parent}")


@contextlib.contextmanager
def staging(dest: Path) -> Iterator[Path]:
    """A temporary folder beside DEST to write into; `place(stage, dest)` moves it into place. If the
    block fails (or a signal stops it) before that, the folder is removed and DEST stays as it was."""
    from dlpick.project import overlay

    # Locked while in use, like scaffold's and update's: their clean-up of stale staging folders in
    # the same parent folder skips it.
    stage, held, _ = overlay.make_staging(dest.resolve())
    try:
        with processes.doing(f"the unfinished migration ({stage.name}) was removed; {dest} was not written"):
            yield stage
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
        overlay.release(held)


def place(stage: Path, dest: Path) -> None:
    """Move the finished staging folder to DEST (new, or an empty folder that is replaced)."""
    target = dest.resolve()
    if target.is_dir():
        if any(target.iterdir()):  # someone wrote there meanwhile: leave theirs alone
            raise BadInput(f"{dest}: was filled while migrating; the migration is not placed there")
        target.rmdir()
    stage.replace(target)
    processes.record(f"the migration is complete in {dest}")


REFERENCE = "reference.npz"


def write_reference(folder: Path, inputs: list[tuple[str, Any]], outputs: list[tuple[str, Any]]) -> None:
    """reference.npz: one input case and the original framework's outputs on it (input_0.., output_0..), with
    their names in the JSON ("reference"): a later check (the scaffolded project's test) replays it."""
    import numpy as np

    arrays = {f"input_{i}": value for i, (_, value) in enumerate(inputs)}
    arrays.update({f"output_{i}": value for i, (_, value) in enumerate(outputs)})
    np.savez(folder / REFERENCE, **arrays)


def reference_names(inputs: list[tuple[str, Any]], outputs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {
        "inputs": [{"name": n, "shape": list(v.shape)} for n, v in inputs],
        "outputs": [{"name": n, "shape": list(v.shape)} for n, v in outputs],
    }


def files_of(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _fmt(diff: Diff) -> str:
    value = f"{diff.max_abs_diff:.3g}" if math.isfinite(diff.max_abs_diff) else "n/a"
    verdict = "ok" if diff.passed else "DIFFERS"
    extra = f" ({diff.detail})" if diff.detail else ""
    kind = f" | {diff.kind}" if diff.kind else ""
    return f"| {diff.name}{kind} | {value} | {verdict}{extra} |"


def write_report(result: Result, folder: Path, title: str) -> None:
    """MIGRATION.md (for people) and migration.json (the --json document) in `folder`."""
    verdict = "PASSED" if result.passed else "DISAGREES" if result.checked else "NOT CHECKED"
    lines = [f"# {title}", "", f"Result: **{verdict}** (tolerance {result.tolerance:g} on max |diff|)", ""]
    if result.inputs:
        lines += [f"Compared on: {', '.join(result.inputs)}.", ""]
    if result.outputs:
        lines += ["## Outputs", "", "| output | max abs diff | verdict |", "|---|---|---|"]
        lines += [_fmt(d) for d in result.outputs] + [""]
    if result.layers:
        lines += ["## Layers", "", "| layer | type | max abs diff | verdict |", "|---|---|---|---|"]
        lines += [_fmt(d) for d in result.layers] + [""]
        first = next((d for d in result.layers if not d.passed), None)
        if first is not None:
            lines += [f"The first layer that disagrees: **{first.name}** ({first.kind}).", ""]
    if result.extra.get("tests"):
        lines += ["## Tests", "", "| test | before | after | verdict |", "|---|---|---|---|"]
        for test in result.extra["tests"]:
            verdict = "ok" if test["passed"] else "REGRESSED"
            lines.append(f"| {test['name']} | {test['theano']} | {test['pytensor']} | {verdict} |")
        lines.append("")
    if result.needs_human:
        lines += ["## Needs a person", ""] + [f"- {item}" for item in result.needs_human] + [""]
    if result.notes:
        lines += ["## What was done", ""] + [f"- {note}" for note in result.notes] + [""]
    if result.extra.get("changes"):
        lines += ["## Every change", ""]
        for change in result.extra["changes"]:
            lines += [f"- `{change['file']}:{change['line']}` ({change['rule']})", "", "  ```diff"]
            lines += [f"  - {line}" for line in change["before"].splitlines()]
            lines += [f"  + {line}" for line in change["after"].splitlines()] + ["  ```", ""]
    if result.measures:
        lines += ["## Measures", ""] + [f"- {k}: {v}" for k, v in result.measures.items()] + [""]
    (folder / REPORT).write_text("\n".join(lines), encoding="utf-8")
    result.files = sorted({*files_of(folder), RECORD})
    (folder / RECORD).write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")


def finish(result: Result, stage: Path, title: str, started: float) -> Result:
    """Report, place the folder, and return the result (the caller raises for exit 1 via `failure`)."""
    result.measures.setdefault("seconds", round(time.monotonic() - started, 2))
    write_report(result, stage, title)
    place(stage, result.dest)
    return result


def failure(result: Result) -> MigrationDisagreed | None:
    if result.passed:
        return None
    bad = [d for d in [*result.outputs, *result.layers] if not d.passed]
    if not result.checked:
        return MigrationDisagreed(f"the migration in {result.dest} could not be checked (see {REPORT})")
    where = bad[0]
    return MigrationDisagreed(
        f"the migrated model disagrees: {where.name} max |diff| {where.max_abs_diff:.3g} > {result.tolerance:g} "
        f"({len(bad)} mismatch(es); files kept in {result.dest}, see {REPORT})"
    )
