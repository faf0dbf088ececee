"""A generated project's data loaders (`datasets.load`, shared by every template) on hostile files:
trains on what the file says or stops with one line and exit status 2, never a silent wrong result
(a duplicated column, nan or inf), never a traceback, never a read that blocks or does not end (a named
pipe, /dev/zero). Issue 24. Quick: the PyTensor template's package imported without the framework."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlpick.project import render

TASKS = ("tabular-classification", "tabular-regression", "image-classification", "text-classification")


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory):
    """One project per task, each its own package (data_tabular_classification, ...) on sys.path."""
    parent = tmp_path_factory.mktemp("project-data")
    made = {task: render.render("pytensor", task, parent / task, name=f"Data {task}").project_dir for task in TASKS}
    sys.path[:0] = [str(project / "src") for project in made.values()]
    yield made
    for project in made.values():
        sys.path.remove(str(project / "src"))
    for name in [n for n in sys.modules if n.startswith("data_")]:
        del sys.modules[name]


def _datasets(project: Path):
    package = json.loads((project / ".cookiecutter.json").read_text())["package_name"]
    return importlib.import_module(f"{package}.datasets")


@pytest.fixture(scope="module")
def table(projects):
    return _datasets(projects["tabular-classification"])


def refused(capsys, load, *args) -> str:
    """The one line `load(*args)` stops with (exit status 2)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        load(*args)
    assert exit_.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


def rows(count: int = 12, header: str = "a,b,target", row: str = "1,2,{c}") -> str:
    return header + "\n" + "".join(row.format(c="xy"[i % 2]) + "\n" for i in range(count))


CSVS: dict[str, tuple[bytes, str]] = {
    "two columns of one name": (rows(header="a,a,target").encode(), "both named 'a'"),
    "nan in a feature": (rows(row="1,nan,{c}").encode(), "not a finite number"),
    "inf in a feature": (rows(row="1,-inf,{c}").encode(), "not a finite number"),
    "beyond float32": (rows(row="1,1e39,{c}").encode(), "not a finite number"),
    "text in a feature": (rows(row="1,two,{c}").encode(), "not a number"),
    "empty": (b"", "empty"),
    "only blank lines": (b"\n\n\n", "empty"),
    "header only": (b"a,b,target\n", "0 data rows"),
    "too few rows": (rows(5).encode(), "5 data rows"),
    "ragged": (rows().encode() + b"1,2,x,4\n", "4 fields, the header has 3"),
    "short row": (rows().encode() + b"1,x\n", "2 fields"),
    "Latin-1": (rows(row="1,2,caf\xe9{c}").encode("latin-1"), "not UTF-8"),
    "UTF-16": (rows().encode("utf-16"), "not UTF-8"),
    "an oversized field": (rows().encode() + b'1,2,"' + b"x" * 200_000 + b'"\n', "field larger than field limit"),
    # Python 3.10's csv module refuses the NUL itself; 3.11 reads it and the value is not a number.
    "a NUL byte": (rows().encode() + b"1,\x002,x\n", "not a number" if sys.version_info >= (3, 11) else "NUL"),
    "no target column": (rows(header="a,b,c").encode(), "no column 'target'"),
    "one class": (rows(row="1,2,same").encode(), "one class"),
}


@pytest.mark.parametrize("case", sorted(CSVS))
def test_a_bad_table_is_one_line(table, tmp_path: Path, capsys, case: str):
    content, says = CSVS[case]
    (tmp_path / "data.csv").write_bytes(content)
    line = refused(capsys, table.load, {"path": str(tmp_path / "data.csv")})
    assert says in line and "data.csv" in line, line


def test_nan_in_a_regression_target_is_refused_with_row_and_column(projects, tmp_path: Path, capsys):
    regression = _datasets(projects["tabular-regression"])
    (tmp_path / "data.csv").write_text(rows(row="1,2,3") + "1,2,nan\n")
    line = refused(capsys, regression.load, {"path": str(tmp_path / "data.csv")})
    assert "data row 13, column 'target'" in line and "not a finite number" in line, line


@pytest.mark.parametrize("what", ["named pipe", "/dev/zero", "folder"])
def test_data_paths_must_be_regular_files(table, tmp_path: Path, capsys, what: str):
    path = tmp_path / "data.csv"
    if what == "named pipe":
        os.mkfifo(path)
    elif what == "folder":
        path.mkdir()
    else:
        path = Path("/dev/zero")
    assert "not a regular file" in refused(capsys, table.load, {"path": str(path)})


def test_a_good_table_loads(table, tmp_path: Path):
    (tmp_path / "data.csv").write_bytes(b"\xef\xbb\xbf" + rows().encode())  # a BOM, as Excel writes
    dataset = table.load({"path": str(tmp_path / "data.csv")})
    assert dataset.x.shape == (12, 2) and dataset.feature_names == ["a", "b"] and dataset.classes == ["x", "y"]


def test_too_few_of_a_class_to_split_is_one_line(table, tmp_path: Path, capsys):
    pytest.importorskip("sklearn")  # the project splits with scikit-learn
    (tmp_path / "data.csv").write_text(rows(row="1,2,x") + "1,2,y\n")
    dataset = table.load({"path": str(tmp_path / "data.csv")})
    assert "cannot be split" in refused(capsys, table.split, dataset, 0.2, 0.2, 0)


cells = st.one_of(
    st.sampled_from(["1", "-2.5", "nan", "inf", "-inf", "1e39", "", "x", "1,2", '"', "\x00", "é", "\r"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=6),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.lists(st.sampled_from(["a", "b", "target", "", "a "]), min_size=0, max_size=4),
       body=st.lists(st.lists(cells, min_size=0, max_size=4), max_size=14),
       encoding=st.sampled_from(["utf-8", "utf-16", "latin-1"]))  # fmt: skip
def test_any_table_loads_finite_or_is_one_line(table, tmp_path: Path, capsys, header, body, encoding):
    text = "\n".join([",".join(header), *(",".join(row) for row in body)])
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode(encoding, errors="replace"))
    capsys.readouterr()
    try:
        dataset = table.load({"path": str(path)})
    except SystemExit as exit_:
        assert exit_.code == 2
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(lines) == 1, lines
        return
    assert np.isfinite(dataset.x).all() and len(set(dataset.feature_names)) == len(dataset.feature_names)
    assert len(dataset.classes) >= 2 and dataset.x.shape[0] >= 10


# --- image folders ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images(projects):
    return _datasets(projects["image-classification"])


def image_folder(root: Path) -> Path:
    from PIL import Image

    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (8, 8), 40 * i).save(root / label / f"{i}.png")
    (root / "cat" / "notes.txt").write_text("not an image, and not opened")
    return root


def test_a_good_image_folder_loads_and_other_files_are_left_alone(images, tmp_path: Path):
    dataset = images.load({"path": str(image_folder(tmp_path / "data")), "image_size": 8})
    assert dataset.x.shape == (6, 1, 8, 8) and dataset.classes == ["cat", "dog"]


def tiff(path: Path) -> None:
    from PIL import Image

    Image.new("L", (8, 8)).save(path, format="TIFF")


BAD_IMAGES = {
    "a named pipe": (lambda p: os.mkfifo(p), "not a regular file"),
    "not an image": (lambda p: p.write_bytes(b"hello, not a PNG"), "not an image file"),
    "a TIFF named .png": (tiff, "not an image file"),
    "a truncated PNG": (lambda p: p.write_bytes((p.parent / "0.png").read_bytes()[:30]), "not an image file"),
}


@pytest.mark.parametrize("case", sorted(BAD_IMAGES))
def test_a_bad_file_in_an_image_folder_is_one_line(images, tmp_path: Path, capsys, case: str):
    root = image_folder(tmp_path / "data")
    make, says = BAD_IMAGES[case]
    make(root / "dog" / "z.png")
    line = refused(capsys, images.load, {"path": str(root), "image_size": 8})
    assert says in line and "z.png" in line, line


def test_an_image_over_the_pixel_bound_is_refused_before_decoding(images, tmp_path: Path, capsys, monkeypatch):
    from PIL import Image

    root = image_folder(tmp_path / "data")
    Image.new("L", (11, 11)).save(root / "dog" / "big.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    line = refused(capsys, images.load, {"path": str(root), "image_size": 8})
    assert "11x11 pixels" in line and "big.png" in line, line


def test_a_text_csv_with_duplicate_columns_is_one_line(projects, tmp_path: Path, capsys):
    text = _datasets(projects["text-classification"])
    (tmp_path / "reviews.csv").write_text("text,text,label\n" + "good,fine,pos\n" * 12)
    settings_ = {"path": str(tmp_path / "reviews.csv"), "text_column": "text", "label_column": "label"}
    assert "both named 'text'" in refused(capsys, text.load, settings_)
