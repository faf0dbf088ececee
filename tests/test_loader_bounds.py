"""The bounds of dlpick's readers of files it did not write (issue 27): each is a promise that a
hostile or broken file is one line (BadInput), and each had no test of its own."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from dlpick import jsonfile, yamlfile
from dlpick.errors import BadInput
from dlpick.project import record


def test_a_json_integer_of_more_than_100_digits_is_refused():
    assert jsonfile.loads("9" * 100) == int("9" * 100)
    with pytest.raises(BadInput, match=r"x\.json: an integer of 101 digits is out of range"):
        jsonfile.loads("-" + "9" * 101, "x.json")


def test_a_json_file_over_its_limit_is_refused(tmp_path: Path):
    path = tmp_path / "metrics.json"
    path.write_text('{"loss": [' + ", ".join(["0.5"] * 200) + "]}")
    assert len(jsonfile.load(path, limit=path.stat().st_size)["loss"]) == 200
    with pytest.raises(BadInput, match=r"metrics.json: larger than .* MiB; not a JSON file"):
        jsonfile.load(path, limit=path.stat().st_size - 1)


def test_a_yaml_file_over_its_limit_is_refused(tmp_path: Path):
    path = tmp_path / "team.yaml"
    path.write_text("notes: " + "x" * 2000 + "\n")
    assert yamlfile.read_text(path, limit=4096).startswith("notes: ")
    with pytest.raises(BadInput, match=r"team.yaml: larger than .* MiB; not a YAML file"):
        yamlfile.read_text(path, limit=1024)


def _tar_with(info: tarfile.TarInfo, content: bytes = b"") -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        ok = tarfile.TarInfo("README.md")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"hi"))
        tar.addfile(info, io.BytesIO(content) if content else None)
    return gzip.compress(raw.getvalue())


def _member(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize(
    "member",
    [
        _member("src/link.py", tarfile.SYMTYPE, "/etc/passwd"),
        _member("src/hard.py", tarfile.LNKTYPE, "README.md"),
        _member("dev/zero", tarfile.CHRTYPE),
        _member("fifo", tarfile.FIFOTYPE),
        _member("src", tarfile.DIRTYPE),
    ],
    ids=["symlink", "hardlink", "device", "fifo", "folder"],
)
def test_a_base_tarball_member_that_is_not_a_plain_file_is_refused(member: tarfile.TarInfo):
    with pytest.raises(BadInput, match=rf"base.tar.gz: holds {member.name!r}, which is not a project file"):
        record.unpack(_tar_with(member), "base.tar.gz")


def test_a_plain_base_tarball_unpacks():
    info = tarfile.TarInfo("src/app.py")
    info.size, info.mode = 5, 0o644
    assert record.unpack(_tar_with(info, b"x = 1"), "base.tar.gz") == {
        "README.md": (b"hi", 0o644),
        "src/app.py": (b"x = 1", 0o644),
    }


def _recorded_project(tmp_path: Path, framework: object) -> Path:
    project = tmp_path / "p"
    (project / record.RECORD_DIR).mkdir(parents=True)
    base = {"format": 1, "framework": framework, "context": {"project_name": "p"}}
    (project / record.BASE_JSON).write_text(json.dumps(base))
    (project / record.BASE_TAR).write_bytes(record.pack({"README.md": (b"hi", 0o644)}))
    return project


@pytest.mark.parametrize("framework", ["../../x", "pytorch; rm -rf /", 7])
def test_a_record_whose_framework_is_not_an_id_is_refused(tmp_path: Path, framework: object):
    with pytest.raises(BadInput, match=r"base.json: framework: not a framework id"):
        record.read(_recorded_project(tmp_path, framework))
    assert record.read(_recorded_project(tmp_path / "ok", "pytorch")).framework == "pytorch"
