"""`dlpick scaffold pytorch --from-migration DIR`: a passed Caffe or MXNet migration dropped into a freshly
rendered PyTorch project, as `src/<package>/migrated/` (the model, its weights, the report and the
reference case) plus `tests/test_migrated_model.py`, which replays the original framework's outputs on
the reference input: the project's own tests (and so `dlpick verify`) prove the port in its new home.

An overlay on the rendered project: the PyTorch template itself is not changed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from dlpick.errors import BadInput
from dlpick.migrate import core

FOLDER = "migrated"
TEST = "test_migrated_model.py"
SOURCES = {"caffe": "Caffe", "mxnet": "MXNet"}  # the record's "from" -> the name the written files use
COPIED = ("model.py", "model.pt", "model.safetensors", "model.onnx", core.REPORT, core.RECORD, core.REFERENCE)

INIT = '''"""The model migrated from {source} by `dlpick migrate` (see MIGRATION.md): `load()` returns it with
its weights, ready for inference."""

from .model import Net, load

__all__ = ["Net", "load"]
'''

TEST_SOURCE = '''"""The migrated {source} model reproduces {source}'s own outputs (recorded by `dlpick migrate` in
src/{package}/migrated/reference.npz, on every input it compared) within the tolerance the migration passed
with: |expected - got| <= atol + rtol * |expected| for every element."""

import json
from pathlib import Path

import numpy as np
import torch

from {package}.migrated import load

HERE = Path(__file__).resolve().parent.parent / "src" / "{package}" / "migrated"


def test_the_migrated_model_reproduces_the_original() -> None:
    record = json.loads((HERE / "migration.json").read_text())
    reference = record["reference"]
    atol, rtol = record.get("atol", record["tolerance"]), record.get("rtol", 0.0)
    model = load()
    with np.load(HERE / "reference.npz") as arrays:
        cases = reference.get("cases", 0)
        prefixes = [f"case{{c}}_" for c in range(cases)] if cases else [""]
        for prefix in prefixes:
            inputs = [torch.from_numpy(arrays[f"{{prefix}}input_{{i}}"]) for i in range(len(reference["inputs"]))]
            expected = [arrays[f"{{prefix}}output_{{i}}"] for i in range(len(reference["outputs"]))]
            with torch.no_grad():
                outputs = model(*inputs)
            outputs = list(outputs) if isinstance(outputs, tuple | list) else [outputs]
            assert len(outputs) == len(expected)
            for got, want in zip(outputs, expected, strict=True):
                assert np.all(np.abs(got.numpy() - want) <= atol + rtol * np.abs(want)), prefix or "case 0"
'''


def check(migration: Path) -> dict[str, Any]:
    """The migration's record, if it is one that can go into a PyTorch project (else BadInput)."""
    record_file = migration / core.RECORD
    if not record_file.is_file():
        raise BadInput(f"{migration}: no {core.RECORD}; give a folder `dlpick migrate caffe|mxnet` wrote")
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"{record_file}: unreadable ({exc})") from None
    source = record.get("from") if isinstance(record, dict) else None
    if source not in SOURCES:
        raise BadInput(f"{record_file}: not a migration from {' or '.join(SOURCES)} (from: {str(source)[:80]!r})")
    if record.get("to") != "pytorch":
        raise BadInput(f"{migration}: a migration to {record.get('to')}, not to pytorch")
    if not record.get("passed"):
        raise BadInput(f"{migration}: this migration did not pass (see {core.REPORT}); fix it before using it")
    missing = [name for name in ("model.py", "model.pt", core.REFERENCE) if not (migration / name).is_file()]
    if missing or "reference" not in record:
        raise BadInput(f"{migration}: {', '.join(missing) or 'the reference case'} missing; migrate again")
    return record


def add(migration: Path, project: Path, package: str) -> list[str]:
    """Copy the migration into the project; the paths written, relative to it. Refuses to overwrite."""
    record = check(migration)
    folder = project / "src" / package / FOLDER
    test = project / "tests" / TEST
    for path in (folder, test):
        if path.exists():
            raise BadInput(f"{path}: exists; the migration is not copied over it")
    folder.mkdir(parents=True)
    written = []
    for name in COPIED:
        if (migration / name).is_file():
            shutil.copyfile(migration / name, folder / name)
            written.append(str((folder / name).relative_to(project)))
    source = SOURCES[record["from"]]  # check() admits only these: the record's text never goes into source
    (folder / "__init__.py").write_text(INIT.format(source=source), encoding="utf-8")
    test.parent.mkdir(exist_ok=True)
    test.write_text(TEST_SOURCE.format(source=source, package=package), encoding="utf-8")
    return [str((folder / "__init__.py").relative_to(project)), *written, str(test.relative_to(project))]
