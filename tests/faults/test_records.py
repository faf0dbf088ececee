"""A project's `.dlpick/` records may come from someone else (a cloned repository): `dlpick update` never
runs their text as template code, never writes outside the project, and reads them with bounds.

docs/threat-model.md: "project records" line.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlpick.cli.app import app
from dlpick.errors import BadInput
from dlpick.project import record, render
from dlpick.project import update as core

sys.path.insert(0, str(Path(__file__).parent.parent))
from test_update import V1, write_template  # noqa: E402

runner = CliRunner()
# Jinja that reaches Python's os module outside a sandbox (the classic server-side template injection).
PAYLOAD = "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}"


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    templates = write_template(tmp_path / "templates", V1, b"\x89PNG\0v1")
    dest = tmp_path / "work" / "demo"
    render.render("tiny", "tabular-regression", dest, templates_root=templates)
    return dest, templates


def tamper(project: Path, **changes: object) -> None:
    path = project / record.BASE_JSON
    data = json.loads(path.read_text())
    data["context"].update(changes)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("dry_run", [False, True], ids=["update", "dry-run"])
@pytest.mark.parametrize(
    "changes",
    [
        {"project_name": PAYLOAD},
        {"project_name": "demo\nimport os"},
        {"package_name": "../../../../ESCAPED"},
        {"project_slug": "../ESCAPED"},
        {"task": PAYLOAD},
        {"python_version": "3.11\n{{ 7 * 7 }}"},
        {"project_name": 42},
    ],
    ids=["ssti-name", "newline-name", "package-path", "slug-path", "ssti-task", "python", "not-text"],
)
def test_a_crafted_record_is_refused_and_nothing_runs_or_escapes(
    project: tuple[Path, Path], changes: dict, dry_run: bool, monkeypatch: pytest.MonkeyPatch
):
    dest, templates = project
    monkeypatch.chdir(dest.parent)
    tamper(dest, **changes)
    before = sorted(p.name for p in dest.parent.parent.rglob("*"))
    with pytest.raises(BadInput) as caught:
        core.update(dest, dry_run=dry_run, force=True, templates_root=templates)
    assert str(record.BASE_JSON) in str(caught.value)
    assert not (dest.parent / "PWNED").exists() and not (dest / "PWNED").exists()
    assert not any("ESCAPED" in p.name for p in dest.parent.parent.rglob("*"))
    assert sorted(p.name for p in dest.parent.parent.rglob("*")) == before


def test_the_cli_gives_one_line_and_exit_2_for_a_crafted_record(project: tuple[Path, Path], monkeypatch):
    dest, templates = project
    monkeypatch.setenv(render.TEMPLATES_ENV, str(templates))
    tamper(dest, package_name="../../ESCAPED")
    result = runner.invoke(app, ["update", str(dest), "--dry-run", "--json"])
    assert result.exit_code == 2, result.output
    assert json.loads(result.stdout)["exit_code"] == 2
    assert "Traceback" not in result.output


def test_templates_render_in_jinjas_sandbox_even_if_a_value_slips_through(tmp_path: Path):
    """Defence in depth: a value that bypassed validation still cannot reach Python from a template."""
    templates = write_template(tmp_path / "templates", V1, b"\x89PNG\0v1")
    staging = tmp_path / "staging"
    staging.mkdir()
    context = {"project_name": PAYLOAD, "task": "tabular-regression", "python_version": "3.11"}
    with pytest.raises(BadInput, match="failed to render"):
        render._cookiecutter(templates / "tiny", staging, context)
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()


def _tar(members: dict[str, bytes], declared: dict[str, int] | None = None) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue())


def test_a_decompression_bomb_in_base_tar_gz_is_refused_before_it_is_read(project: tuple[Path, Path]):
    dest, _ = project
    # 96 MiB of zeros packs to ~100 KB: read whole, it would be a 96 MiB allocation per member.
    (dest / record.BASE_TAR).write_bytes(_tar({"README.md": b"\0" * (96 << 20)}))
    assert (dest / record.BASE_TAR).stat().st_size < 1 << 20
    with pytest.raises(BadInput, match="MiB unpacked"):
        record.read(dest)


def test_base_tar_gz_with_too_many_members_or_a_path_outside_is_refused(project: tuple[Path, Path]):
    dest, _ = project
    (dest / record.BASE_TAR).write_bytes(_tar({f"f{i}": b"" for i in range(record.MAX_MEMBERS + 1)}))
    with pytest.raises(BadInput, match="more than"):
        record.read(dest)
    (dest / record.BASE_TAR).write_bytes(_tar({"../outside.txt": b"x"}))
    with pytest.raises(BadInput, match="not a project file"):
        record.read(dest)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
@pytest.mark.parametrize("name", [record.BASE_JSON, record.BASE_TAR])
def test_a_named_pipe_as_a_record_is_refused_without_blocking(project: tuple[Path, Path], name: str):
    dest, _ = project
    (dest / name).unlink()
    os.mkfifo(dest / name)
    # In a child process: if the read blocked, the bound below ends it and the test fails.
    code = f"from dlpick.project import record; from pathlib import Path; record.read(Path({str(dest)!r}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "not a regular file" in done.stderr


def test_an_oversized_base_json_is_refused(project: tuple[Path, Path]):
    dest, _ = project
    (dest / record.BASE_JSON).write_text('{"pad": "' + "x" * (record.MAX_JSON_BYTES + 10) + '"}')
    with pytest.raises(BadInput, match="larger than"):
        record.read(dest)


def test_a_running_migrations_staging_folder_survives_a_scaffold_beside_it(tmp_path: Path):
    """Scaffold and update remove stale staging folders in the parent; a live migration's is held."""
    from dlpick.migrate import core as migrate
    from dlpick.project import overlay

    with migrate.staging(tmp_path / "ported") as stage:
        (stage / "model.py").write_text("# being written\n")
        overlay.clean_stale(tmp_path)  # what a scaffold or update into tmp_path/other does first
        assert (stage / "model.py").is_file()
    assert not stage.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_dlpick_update_on_a_named_pipe_record_is_one_line_not_a_hang(project: tuple[Path, Path]):
    """The whole command, not only the record reader: every read of the record on the way is bounded."""
    dest, templates = project
    (dest / record.BASE_JSON).unlink()
    os.mkfifo(dest / record.BASE_JSON)
    env = {**os.environ, render.TEMPLATES_ENV: str(templates)}
    done = subprocess.run(
        [sys.executable, "-m", "dlpick", "update", str(dest), "--dry-run"],
        capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and "not a regular file" in done.stderr, done.stderr
