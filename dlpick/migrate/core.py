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

DEFAULT_TOLERANCE = 1e-4  # atol
# rtol: float32 keeps about 7 significant digits; a port that only sums in another order differs by a few
# units in the last place per layer, while a wrong translation (padding, rounding, a flipped kernel) is off
# by 1e-2 and more relative to the value. Activations of raw 0-255 input reach ~2,000: atol alone fails them.
DEFAULT_RTOL = 1e-5
REPORT = "MIGRATION.md"
RECORD = "migration.json"


class MigrationDisagreed(VerifyFailed):
    """The migrated model ran but its outputs differ from the original's beyond the tolerance: exit 1."""


@dataclass(frozen=True)
class Tolerance:
    """An element agrees when |expected - got| <= atol + rtol * |expected| (numpy's allclose convention)."""

    atol: float = DEFAULT_TOLERANCE
    rtol: float = DEFAULT_RTOL

    def __str__(self) -> str:
        return f"atol {self.atol:g} + rtol {self.rtol:g} x |expected|"

    def check(self) -> None:
        for flag, value in (("--atol", self.atol), ("--rtol", self.rtol)):
            if not (math.isfinite(value) and value >= 0):
                raise BadInput(f"{flag} {value}: must be a finite number, 0 or above")
        if self.atol == 0 and self.rtol == 0:
            raise BadInput("--atol and --rtol are both 0: give at least one above 0")


@dataclass
class Diff:
    name: str
    max_abs_diff: float
    passed: bool
    kind: str = ""  # a layer's type
    detail: str = ""  # e.g. a shape mismatch
    max_rel_diff: float = 0.0  # max |diff| / |expected| over the elements where |expected| > atol

    def to_json(self) -> dict[str, Any]:
        value = self.max_abs_diff if math.isfinite(self.max_abs_diff) else None
        data: dict[str, Any] = {"name": self.name, "max_abs_diff": value, "passed": self.passed}
        data["max_rel_diff"] = self.max_rel_diff if math.isfinite(self.max_rel_diff) else None
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
    tolerance: Tolerance  # a float is read as atol (rtol 0)
    outputs: list[Diff] = field(default_factory=list)
    layers: list[Diff] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was done, in words
    needs_human: list[str] = field(default_factory=list)  # places a person must look at
    inputs: list[str] = field(default_factory=list)  # which inputs the proof ran on
    measures: dict[str, Any] = field(default_factory=dict)  # seconds, code size, ...
    checked: bool = True  # False: nothing could be compared (e.g. a project without tests)
    extra: dict[str, Any] = field(default_factory=dict)  # more keys for the JSON (e.g. changes, tests)

    def __post_init__(self) -> None:
        if not isinstance(self.tolerance, Tolerance):
            self.tolerance = Tolerance(float(self.tolerance), 0.0)

    @property
    def passed(self) -> bool:
        return self.checked and all(d.passed for d in [*self.outputs, *self.layers])

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "from": self.source,
            "to": self.target,
            "dest": str(self.dest),
            "tolerance": self.tolerance.atol,  # kept for readers of the first format: atol
            "atol": self.tolerance.atol,
            "rtol": self.tolerance.rtol,
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
    diff = measure(expected, got, Tolerance())
    return diff.max_abs_diff, diff.detail


def measure(expected: Any, got: Any, tolerance: Tolerance, name: str = "", kind: str = "") -> Diff:
    """Every element of `got` against `expected` (same shape, or the same size reshaped): the largest absolute
    and relative difference and whether each element is within atol + rtol * |expected|."""
    import numpy as np

    a, b = np.asarray(expected, dtype=np.float64), np.asarray(got, dtype=np.float64)
    if a.shape != b.shape:
        if a.size == b.size:
            b = b.reshape(a.shape)
        else:
            return Diff(name, math.inf, False, kind, f"shape {tuple(b.shape)}, expected {tuple(a.shape)}", math.inf)
    if a.size == 0:
        return Diff(name, 0.0, True, kind)
    with np.errstate(invalid="ignore", over="ignore"):
        same = a == b  # equal infinities agree
        diff = np.where(same, 0.0, np.abs(a - b))
    if np.isnan(diff).any():
        return Diff(name, math.inf, False, kind, "NaN where the original has a number (or the reverse)", math.inf)
    scale = np.abs(a)
    finite = np.isfinite(scale)  # an infinity must be matched exactly (inf <= rtol * inf would hold)
    passed = bool(np.where(finite, diff <= tolerance.atol + tolerance.rtol * np.where(finite, scale, 0), same).all())
    large = finite & (scale > tolerance.atol)
    relative = float((diff[large] / scale[large]).max()) if large.any() else 0.0
    return Diff(name, float(diff.max()), passed, kind, "", relative)


def compare(name: str, expected: Any, got: Any, tolerance: Tolerance | float, kind: str = "") -> Diff:
    if not isinstance(tolerance, Tolerance):
        tolerance = Tolerance(float(tolerance), 0.0)
    return measure(expected, got, tolerance, name, kind)


def merge(diffs: list[Diff]) -> list[Diff]:
    """One entry per name, in first-seen order, over all input cases: passed only if every case passed, the
    largest differences, and the detail of the first case that failed."""
    merged: dict[str, Diff] = {}
    for diff in diffs:
        seen = merged.get(diff.name)
        if seen is None:
            merged[diff.name] = Diff(
                diff.name, diff.max_abs_diff, diff.passed, diff.kind, diff.detail, diff.max_rel_diff
            )
            continue
        seen.max_abs_diff = max(seen.max_abs_diff, diff.max_abs_diff)
        seen.max_rel_diff = max(seen.max_rel_diff, diff.max_rel_diff)
        if seen.passed and not diff.passed:
            seen.detail = diff.detail
        seen.passed = seen.passed and diff.passed
    return list(merged.values())


def shown(text: str, table: bool = False) -> str:
    """A name from a model file as one printable line: control characters, line breaks and lone surrogates
    escaped as in repr(); in a Markdown table, | escaped too."""
    out = []
    for char in str(text):
        if char.isprintable() and not 0xD800 <= ord(char) <= 0xDFFF:
            out.append("\\|" if table and char == "|" else char)
        else:
            out.append(repr(char)[1:-1])
    return "".join(out)


MAX_INPUT_ELEMENTS = 2**26  # 256 MiB of float32 per input case: far above an image batch, below a machine's memory


def check_shape(shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    """A shape of positive dimensions whose input fits in memory (else BadInput naming `what`)."""
    if not shape or any(d <= 0 for d in shape):
        raise BadInput(f"{what} {str(shape)[:80]}: expected positive dimensions")
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        raise BadInput(
            f"{what} {str(shape)[:80]}: more than {MAX_INPUT_ELEMENTS:,} elements "
            f"({MAX_INPUT_ELEMENTS * 4 // 2**20} MiB of float32 per input); give a smaller shape (batch 1 is enough)"
        )
    return shape


def load_sample(path: Path, shape: tuple[int, ...]) -> Any:
    """--sample: a regular .npy file of one input (with or without the batch dimension) as float32."""
    import numpy as np

    if not path.is_file():
        raise BadInput(f"{path}: no such file, or not a regular file (--sample)")
    if path.stat().st_size > MAX_INPUT_ELEMENTS * 8 + 2**16:
        raise BadInput(f"{path}: too large for one input of shape {shape} (--sample)")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.ndarray):  # an .npz archive
            loaded.close()
            raise BadInput(f"{path}: an .npz archive; --sample takes one .npy array")
        if loaded.dtype.kind not in "biuf":
            raise BadInput(f"{path}: an array of {loaded.dtype}, not numbers (--sample)")
        sample = loaded.astype(np.float32)
    except (OSError, ValueError, EOFError) as exc:
        raise BadInput(f"{path}: not a NumPy .npy array ({str(exc).splitlines()[0][:200]})") from None
    if sample.shape == tuple(shape[1:]):
        sample = sample[None]
    if sample.shape[1:] != tuple(shape[1:]):
        raise BadInput(f"{path}: shape {sample.shape}, the input is {tuple(shape)} (--sample)")
    if not np.isfinite(sample).all():
        raise BadInput(f"{path}: holds NaN or infinity (--sample)")
    return sample


@contextlib.contextmanager
def disk_errors(dest: Path) -> Iterator[None]:
    """A full disk (or a quota, a read-only folder) while writing: one line, exit 2; staging is removed."""
    import errno

    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS):
            raise
        raise BadInput(f"{dest}: cannot write the migration: {exc.strerror or exc}; nothing was placed") from None


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


def write_reference(
    folder: Path, names: tuple[list[str], list[str]], cases: list[tuple[list[Any], list[Any]]]
) -> dict[str, Any]:
    """reference.npz: every compared input case (the random one, --sample...) and the original framework's
    outputs on it, as case{c}_input_{i} and case{c}_output_{i} (input_{i} and output_{i} repeat case 0 for
    readers of the first format); returns their names and shapes for the JSON ("reference"): a later check
    (the scaffolded project's test) replays every case."""
    import numpy as np

    arrays: dict[str, Any] = {}
    for number, (inputs, outputs) in enumerate(cases):
        arrays.update({f"case{number}_input_{i}": value for i, value in enumerate(inputs)})
        arrays.update({f"case{number}_output_{i}": value for i, value in enumerate(outputs)})
    first_inputs, first_outputs = cases[0]
    arrays.update({f"input_{i}": value for i, value in enumerate(first_inputs)})
    arrays.update({f"output_{i}": value for i, value in enumerate(first_outputs)})
    np.savez(folder / REFERENCE, **arrays)
    return {
        "inputs": [{"name": n, "shape": list(v.shape)} for n, v in zip(names[0], first_inputs, strict=True)],
        "outputs": [{"name": n, "shape": list(v.shape)} for n, v in zip(names[1], first_outputs, strict=True)],
        "cases": len(cases),
    }


def files_of(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _fmt(diff: Diff) -> str:
    value = f"{diff.max_abs_diff:.3g}" if math.isfinite(diff.max_abs_diff) else "n/a"
    relative = f"{diff.max_rel_diff:.3g}" if math.isfinite(diff.max_rel_diff) else "n/a"
    verdict = "ok" if diff.passed else "DIFFERS"
    extra = f" ({shown(diff.detail, table=True)})" if diff.detail else ""
    kind = f" | {shown(diff.kind, table=True)}" if diff.kind else ""
    return f"| {shown(diff.name, table=True)}{kind} | {value} | {relative} | {verdict}{extra} |"


def write_report(result: Result, folder: Path, title: str) -> None:
    """MIGRATION.md (for people) and migration.json (the --json document) in `folder`."""
    verdict = "PASSED" if result.passed else "DISAGREES" if result.checked else "NOT CHECKED"
    lines = [f"# {shown(title)}", "", f"Result: **{verdict}**", ""]
    if result.layers or any(not d.name.startswith("test ") for d in result.outputs):
        lines[-2] += f" (every element within {result.tolerance})"
    if result.inputs:
        lines += [f"Compared on: {shown(', '.join(result.inputs))}.", ""]
    header = "max abs diff | max rel diff | verdict |"
    if result.outputs:
        lines += ["## Outputs", "", f"| output | {header}", "|---|---|---|---|"]
        lines += [_fmt(d) for d in result.outputs] + [""]
    if result.layers:
        lines += ["## Layers", "", f"| layer | type | {header}", "|---|---|---|---|---|"]
        lines += [_fmt(d) for d in result.layers] + [""]
        first = next((d for d in result.layers if not d.passed), None)
        if first is not None:
            lines += [
                f"The first layer that disagrees: **{shown(first.name)}** ({shown(first.kind)}): max |diff| "
                f"{first.max_abs_diff:.3g}, max relative {first.max_rel_diff:.3g}, beyond {result.tolerance}.",
                "",
            ]
    if result.extra.get("tests"):
        lines += ["## Tests", "", "| test | before | after | verdict |", "|---|---|---|---|"]
        for test in result.extra["tests"]:
            verdict = "ok" if test["passed"] else "REGRESSED"
            name = shown(test["name"], table=True)
            lines.append(f"| {name} | {test['theano']} | {test['pytensor']} | {verdict} |")
        lines.append("")
    if result.needs_human:
        lines += ["## Needs a person", ""] + [f"- {shown(item)}" for item in result.needs_human] + [""]
    if result.notes:
        lines += ["## What was done", ""] + [f"- {shown(note)}" for note in result.notes] + [""]
    if result.extra.get("changes"):
        lines += ["## Every change", ""]
        for change in result.extra["changes"]:
            lines += [f"- `{change['file']}:{change['line']}` ({change['rule']})", "", "  ```diff"]
            lines += [f"  - {line}" for line in change["before"].splitlines()]
            lines += [f"  + {line}" for line in change["after"].splitlines()] + ["  ```", ""]
    if result.measures:
        lines += ["## Measures", ""] + [f"- {k}: {v}" for k, v in result.measures.items()] + [""]
    (folder / REPORT).write_text("\n".join(lines), encoding="utf-8", errors="backslashreplace")
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
    if where.name.startswith("test "):
        return MigrationDisagreed(
            f"{len(bad)} test(s) that passed before do not pass after: {shown(where.name[5:])} {where.detail} "
            f"(files kept in {result.dest}, see {REPORT})"
        )
    what = where.detail or f"max |diff| {where.max_abs_diff:.3g} (relative {where.max_rel_diff:.3g})"
    return MigrationDisagreed(
        f"the migrated model disagrees: {shown(where.name)} {what}, beyond {result.tolerance} "
        f"({len(bad)} mismatch(es); files kept in {result.dest}, see {REPORT})"
    )
