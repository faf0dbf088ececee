"""`dlpick update`: three-way merge of a template's changes into a generated project, and `.cruft.json`.

A tiny template fixture (v1, then v2) covers every case quickly; the cruft test uses the real
pytorch template from a git clone, as a team would with dlpick's public repository.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlpick.errors import BadInput, MissingTool
from dlpick.project import record, render
from dlpick.project import update as core

ROOT = Path(__file__).resolve().parent.parent
SLUG = "{{cookiecutter.project_slug}}"
CONTEXT = {
    "project_name": "My DL Project",
    "project_slug": "{{ cookiecutter.project_name | slugify }}",
    "package_name": "{{ cookiecutter.project_slug.replace('-', '_') }}",
    "task": ["tabular-regression"],
    "python_version": "3.11",
    "__framework": "tiny",
    "_extensions": ["cookiecutter.extensions.SlugifyExtension"],
}
LOGO_V1 = b"\x89PNG\0v1"
V1 = {
    "README.md": "# {{ cookiecutter.project_name }}\n\nintro\n",
    "config.txt": "alpha=1\nbeta=2\ngamma=3\ndelta=4\nepsilon=5\nzeta=6\n",
    "conflict.txt": "value=1\n",
    "unchanged.txt": "v1\n",
    "deleted.txt": "v1\n",
    "old.txt": "old\n",
    "same.txt": "a\n",
    ".cookiecutter.json": "{{ cookiecutter | jsonify }}\n",
}
V2 = {
    **{k: v for k, v in V1.items() if k != "old.txt"},  # old.txt leaves the template
    "config.txt": "alpha=10\nbeta=2\ngamma=3\ndelta=4\nepsilon=5\nzeta=6\n",
    "conflict.txt": "value=2\n",
    "unchanged.txt": "v2 for {{ cookiecutter.package_name }}\n",
    "deleted.txt": "v2\n",
    "new.txt": "new in v2\n",
    "same.txt": "b\n",
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def write_template(root: Path, files: dict[str, str], logo: bytes) -> Path:
    folder = root / "tiny"
    if folder.exists():
        shutil.rmtree(folder)
    (folder / SLUG).mkdir(parents=True)
    (folder / "cookiecutter.json").write_text(json.dumps(CONTEXT))
    for rel, text in files.items():
        (folder / SLUG / rel).write_text(text)
    (folder / SLUG / "logo.bin").write_bytes(logo)
    return root


def git(where: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True, check=True)
    return done.stdout


def commit_all(where: Path, message: str = "commit") -> None:
    git(where, "add", "-A")
    git(where, "commit", "-qm", message)


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    return write_template(tmp_path / "templates", V1, LOGO_V1)


def user_edits(project: Path) -> None:
    """The user changes the project generated from v1."""
    text = (project / "config.txt").read_text().replace("epsilon=5", "epsilon=50")
    (project / "config.txt").write_text(text)  # a line the template does not change: merges cleanly
    (project / "conflict.txt").write_text("value=3\n")  # the line the template changes: a conflict
    (project / "deleted.txt").unlink()
    (project / "mine.txt").write_text("my notes\n")
    (project / "same.txt").write_text("b\n")  # the change the template makes next: nothing to do
    (project / "logo.bin").write_bytes(b"\x89PNG\0mine")


@pytest.fixture
def project(tmp_path: Path, templates: Path) -> Path:
    """Rendered from v1, committed, changed by the user and committed again; the template is then v2."""
    dest = tmp_path / "work" / "demo"
    render.render("tiny", "tabular-regression", dest, templates_root=templates)
    if shutil.which("git"):
        git(dest, "init", "-q")
        commit_all(dest, "generated")
    user_edits(dest)
    if shutil.which("git"):
        commit_all(dest, "my changes")
    write_template(templates, V2, b"\x89PNG\0v2")
    return dest


def test_cruft_record_names_only_the_teams_repository(tmp_path: Path, templates: Path, monkeypatch):
    monkeypatch.setenv(record.REPOSITORY_ENV, "https://git.example.com/team/dlpick-templates")
    dest = tmp_path / "work" / "demo"
    render.render("tiny", "tabular-regression", dest, templates_root=templates)
    cruft = json.loads((dest / ".cruft.json").read_text())
    assert cruft["template"] == "https://git.example.com/team/dlpick-templates"
    assert cruft["directory"] == "templates/tiny" and str(tmp_path) not in json.dumps(cruft)
    assert cruft["context"]["cookiecutter"]["project_slug"] == "demo"
    assert set(cruft["skip"]) == {".cookiecutter.json", ".dlpick"}


def test_update_warns_of_an_uncontrolled_cruft_record(tmp_path: Path, templates: Path):
    dest = tmp_path / "work" / "demo"
    render.render("tiny", "tabular-regression", dest, templates_root=templates)
    (dest / ".cruft.json").write_text(json.dumps({"template": record.UNCONTROLLED_REPOSITORY}))
    assert record.uncontrolled_cruft(dest)
    (dest / ".cruft.json").write_text(json.dumps({"template": "https://git.example.com/team/t"}))
    assert not record.uncontrolled_cruft(dest)
    assert record.cruft_moved_on(dest) is None  # no commit recorded by cruft
    (dest / ".cruft.json").write_text(json.dumps({"template": "https://git.example.com/team/t", "commit": "abc123"}))
    assert record.cruft_moved_on(dest) == "abc123"  # cruft updated it past dlpick's base (commit None here)


def test_a_project_records_its_base_and_no_machine_path(tmp_path: Path, templates: Path):
    dest = tmp_path / "work" / "demo"
    render.render("tiny", "tabular-regression", dest, templates_root=templates)
    for name in (".cookiecutter.json", record.BASE_JSON):
        assert str(tmp_path) not in (dest / name).read_text(), name
    # No template location dlpick does not control: without the team's repository, no .cruft.json.
    assert not (dest / ".cruft.json").exists()
    base = record.read(dest).base
    assert base["unchanged.txt"][0] == b"v1\n" and base["logo.bin"][0] == LOGO_V1
    assert not any(record.is_bookkeeping(rel) for rel in base)
    again = tmp_path / "again" / "demo"  # the same answers give the same bytes: a no-op update stays a no-op
    render.render("tiny", "tabular-regression", again, templates_root=templates)
    assert (again / record.BASE_TAR).read_bytes() == (dest / record.BASE_TAR).read_bytes()


@needs_git
def test_update_handles_every_case(project: Path, templates: Path):
    result = core.update(project, templates_root=templates)
    assert result.updated == ["unchanged.txt"]
    assert result.merged == ["config.txt"]
    assert result.conflicts == ["conflict.txt", "logo.bin"]
    assert result.added == ["new.txt"]
    assert result.kept_deleted == ["deleted.txt"]
    assert result.obsolete == ["old.txt"]
    assert (project / "unchanged.txt").read_text() == "v2 for demo\n"
    assert (project / "config.txt").read_text().splitlines()[::4] == ["alpha=10", "epsilon=50"]
    conflict = (project / "conflict.txt").read_text()
    assert "<<<<<<< yours\nvalue=3\n||||||| base\nvalue=1\n=======\nvalue=2\n>>>>>>> template\n" == conflict
    assert (project / "logo.bin").read_bytes() == b"\x89PNG\0mine"  # binary on both sides: the user's stays
    assert (project / "new.txt").read_text() == "new in v2\n"
    assert not (project / "deleted.txt").exists()
    assert (project / "old.txt").read_text() == "old\n"  # never deleted
    assert (project / "mine.txt").read_text() == "my notes\n"
    assert (project / "same.txt").read_text() == "b\n" and "same.txt" not in result.writes
    assert not list(project.rglob("*.rej")) and not (project / ".dlpick-backup").exists()  # git has the old ones
    assert record.read(project).base["unchanged.txt"][0] == b"v2 for demo\n"  # the new base
    assert list(project.parent.iterdir()) == [project]  # no staging folder left


@needs_git
def test_a_second_update_changes_nothing(project: Path, templates: Path):
    core.update(project, templates_root=templates)
    (project / "conflict.txt").write_text("value=3\n")  # resolved
    commit_all(project, "update")
    before = tree(project)
    stamps = {p: p.stat().st_mtime_ns for p in project.rglob("*") if p.is_file() and ".git" not in p.parts}
    again = core.update(project, templates_root=templates)
    assert not again.changed and again.writes == {}
    assert tree(project) == before
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}


@needs_git
def test_uncommitted_changes_are_refused_unless_forced(project: Path, templates: Path):
    (project / "unchanged.txt").write_text("v1 and my uncommitted line\n")
    before = tree(project)
    with pytest.raises(BadInput, match="uncommitted changes, nothing updated: unchanged.txt"):
        core.update(project, templates_root=templates)
    assert tree(project) == before
    (project / "unchanged.txt").write_text("v1\n")
    (project / "scratch.txt").write_text("untracked\n")  # untracked files count too, as for cruft
    with pytest.raises(BadInput, match="scratch.txt"):
        core.update(project, templates_root=templates)
    (project / "unchanged.txt").write_text("v1 and my uncommitted line\n")
    forced = core.update(project, force=True, templates_root=templates)
    assert "unchanged.txt" in forced.conflicts  # merged with the template's v2, uncommitted work kept in it
    assert forced.backup is not None
    assert (forced.backup / "unchanged.txt").read_text() == "v1 and my uncommitted line\n"
    assert not (forced.backup / "config.txt").exists()  # committed: git gives it back


@needs_git
def test_dry_run_prints_the_diff_and_writes_nothing(project: Path, templates: Path):
    before = tree(project)
    result = core.update(project, dry_run=True, templates_root=templates)
    assert tree(project) == before
    assert "+++ b/new.txt\n@@ -0,0 +1 @@\n+new in v2\n" in result.diff
    assert "-v1\n+v2 for demo\n" in result.diff
    assert "+<<<<<<< yours\n" in result.diff
    assert result.added == ["new.txt"] and result.conflicts == ["conflict.txt", "logo.bin"]
    (project / "scratch.txt").write_text("untracked\n")  # a dry run never refuses
    assert core.update(project, dry_run=True, templates_root=templates).diff == result.diff


def test_outside_git_every_changed_file_is_backed_up(project: Path, templates: Path):
    shutil.rmtree(project / ".git", ignore_errors=True)
    result = core.update(project, templates_root=templates)
    assert result.backup is not None and result.backup.parent == project / ".dlpick-backup"
    kept = {p.relative_to(result.backup).as_posix() for p in result.backup.rglob("*") if p.is_file()}
    assert {"unchanged.txt", "config.txt", "conflict.txt"} <= kept
    assert "new.txt" not in kept and "mine.txt" not in kept
    assert (result.backup / "unchanged.txt").read_text() == "v1\n"
    assert (result.backup / "conflict.txt").read_text() == "value=3\n"


@needs_git
def test_merging_needs_git(project: Path, templates: Path, monkeypatch: pytest.MonkeyPatch):
    before = tree(project)
    real = shutil.which
    monkeypatch.setattr(core.shutil, "which", lambda name: None if name == "git" else real(name))
    monkeypatch.setattr(core, "refuse_dirty", lambda project: (True, [], []))
    with pytest.raises(MissingTool, match="git is needed"):
        core.update(project, templates_root=templates)
    assert tree(project) == before


def test_a_folder_without_a_record_is_one_line(tmp_path: Path):
    with pytest.raises(BadInput, match="not a project dlpick generated"):
        core.update(tmp_path)


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **GIT_ENV, **env, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "dlpick", *args], capture_output=True, text=True, env=full, timeout=120
    )


@needs_git
def test_cli_json_and_exit_status(project: Path, templates: Path):
    env = {"DLPICK_TEMPLATES": str(templates)}
    done = run_cli(["update", str(project), "--json"], env)
    assert done.returncode == 1, done.stderr  # conflicts left for a person, like `git merge`
    data = json.loads(done.stdout)
    assert data["conflicts"] == ["conflict.txt", "logo.bin"] and data["added"] == ["new.txt"]
    assert data["from"] == data["to"] and "conflict.txt" in done.stderr
    (project / "conflict.txt").write_text("value=3\n")
    commit_all(project, "resolved")
    done = run_cli(["update", str(project)], env)
    assert done.returncode == 0 and "up to date" in done.stdout, done.stderr
    (project / "mine.txt").write_text("changed, uncommitted\n")
    done = run_cli(["update", str(project), "--json"], env)
    assert done.returncode == 2 and json.loads(done.stdout)["exit_code"] == 2
    assert done.stderr.count("\n") == 1 and "mine.txt" in done.stderr


# --- cruft ---------------------------------------------------------------------------------


@pytest.fixture
def template_repository(tmp_path: Path) -> Path:
    """A local clone of a git repository laid out as dlpick's (templates/pytorch and its shared includes)."""
    origin = tmp_path / "dlpick-origin"
    (origin / "templates").mkdir(parents=True)
    shutil.copytree(ROOT / "templates" / "_shared", origin / "templates" / "_shared")
    shutil.copytree(ROOT / "templates" / "pytorch", origin / "templates" / "pytorch", symlinks=True)
    git(origin, "init", "-q")
    commit_all(origin, "templates")
    subprocess.run(["git", "clone", "-q", str(origin), str(tmp_path / "dlpick")], check=True, capture_output=True)
    return tmp_path / "dlpick"


@needs_git
def test_cruft_check_diff_and_update_work_on_a_fresh_project(tmp_path: Path, template_repository: Path):
    pytest.importorskip("cruft", reason="cruft is not installed (pip install -e '.[test]' installs it)")
    repo = template_repository
    env = {
        **os.environ,
        **GIT_ENV,
        "DLPICK_TEMPLATES": str(repo / "templates"),
        "DLPICK_TEMPLATE_REPOSITORY": str(repo),
    }
    dest = tmp_path / "work" / "flowers"
    done = run_cli(["scaffold", "pytorch", "-t", "image-classification", "-d", str(dest), "--no-verify"], env)
    assert done.returncode == 0, done.stderr
    cruft_state = json.loads((dest / ".cruft.json").read_text())
    assert cruft_state["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert cruft_state["directory"] == "templates/pytorch"

    def cruft(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "cruft", *args]
        return subprocess.run(command, cwd=dest, capture_output=True, text=True, env=env, timeout=300)

    check = cruft("check")
    assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout + check.stderr
    git(dest, "init", "-q")
    commit_all(dest, "generated")
    diff = cruft("diff", "--exit-code")
    assert diff.returncode == 0, diff.stdout + diff.stderr  # the project is what the template renders
    readme = repo / "templates" / "pytorch" / SLUG / "pyproject.toml"
    readme.write_text(readme.read_text() + "# a template fix\n")
    commit_all(repo, "a fix")
    assert cruft("check").returncode != 0  # the template moved on
    answers = (dest / ".cookiecutter.json").read_text()
    update = cruft("update", "--skip-apply-ask", "--allow-untracked-files")
    assert update.returncode == 0, update.stdout + update.stderr
    assert (dest / "pyproject.toml").read_text().endswith("# a template fix\n")
    assert not list(dest.rglob("*.rej"))
    assert (dest / ".cookiecutter.json").read_text() == answers  # dlpick's bookkeeping: skipped, no .rej
    assert cruft("check").returncode == 0


# --- template versions, changelog, leftover markers -------------------------------------------


@needs_git
def test_committed_conflict_markers_are_not_up_to_date(project: Path, templates: Path):
    env = {"DLPICK_TEMPLATES": str(templates)}
    assert run_cli(["update", str(project)], env).returncode == 1  # conflicts written with markers
    commit_all(project, "committed as is, markers and all")
    again = run_cli(["update", str(project)], env)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "up to date" not in again.stdout
    assert "conflict markers still in: conflict.txt" in again.stdout
    data = json.loads(run_cli(["update", str(project), "--json"], env).stdout)
    assert data["unresolved"] == ["conflict.txt"]
    (project / "conflict.txt").write_text("value=3\n")
    commit_all(project, "resolved")
    done = run_cli(["update", str(project)], env)
    assert done.returncode == 0 and "up to date" in done.stdout


CHANGELOG_V1 = "# changes\n\n## 1.0.0 (2026-12-01)\n- [all] first\n"
CHANGELOG_V2 = (
    "# changes\n\n## 1.1.0 (2026-12-05)\n- [tiny] conflict.txt's value is 2,\n  for a reason\n"
    "- [pytorch] only PyTorch's projects\n\n" + CHANGELOG_V1.split("\n\n", 1)[1]
)


@needs_git
def test_update_dry_run_shows_the_template_versions_and_changelog(tmp_path: Path):
    templates = write_template(tmp_path / "templates", V1, LOGO_V1)
    (templates / "CHANGELOG.md").write_text(CHANGELOG_V1)
    dest = tmp_path / "work" / "demo"
    render.render("tiny", "tabular-regression", dest, templates_root=templates)
    assert json.loads((dest / record.BASE_JSON).read_text())["template_version"] == "1.0.0"
    write_template(templates, V2, LOGO_V1)
    (templates / "CHANGELOG.md").write_text(CHANGELOG_V2)
    env = {"DLPICK_TEMPLATES": str(templates)}
    dry = run_cli(["update", str(dest), "--dry-run"], env)
    assert dry.returncode == 0, dry.stderr
    assert "template 1.0.0 -> 1.1.0" in dry.stdout
    assert "  1.1.0: conflict.txt's value is 2, for a reason\n" in dry.stdout
    assert "only PyTorch" not in dry.stdout and "first" not in dry.stdout
    data = json.loads(run_cli(["update", str(dest), "--dry-run", "--json"], env).stdout)
    assert data["template"]["from"] == "1.0.0" and data["template"]["to"] == "1.1.0"
    assert data["template"]["changes"] == ["1.1.0: conflict.txt's value is 2, for a reason"]


def test_the_shipped_templates_have_a_version_a_project_records(tmp_path: Path):
    from dlpick.project import history

    entries = history.read(ROOT / "templates")
    assert entries and all(entry.frameworks and entry.text for entry in entries)
    version = history.current(ROOT / "templates")
    dest = render.render("pytorch", "tabular-regression", tmp_path / "p").project_dir
    assert json.loads((dest / record.BASE_JSON).read_text())["template_version"] == version


def test_an_update_that_waited_for_another_merges_onto_the_base_that_one_left(
    project: Path, templates: Path, monkeypatch: pytest.MonkeyPatch
):
    """Two updates at once: the second reads the record only once it holds the lock, so it finds the
    first one's work done instead of merging the old base again (nested conflict markers)."""
    real = core.overlay.locked
    first: list[bool] = []

    @contextlib.contextmanager
    def locked(folder: Path, blocking: bool = True):
        if not first:  # another dlpick's update runs to the end while this one waits for the lock
            first.append(True)
            core.update(project, force=True, templates_root=templates)
        with real(folder, blocking) as held:
            yield held

    monkeypatch.setattr(core.overlay, "locked", locked)
    core.update(project, force=True, templates_root=templates)
    text = (project / "conflict.txt").read_text()
    assert text.count("<<<<<<<") == 1 and text.count(">>>>>>>") == 1, text


def test_a_signal_during_the_swap_reports_exactly_what_was_written(
    tmp_path: Path, templates: Path, monkeypatch: pytest.MonkeyPatch
):
    import signal

    from dlpick import processes

    dest = tmp_path / "plain" / "demo"  # outside git: every overwritten file is backed up during the swap
    render.render("tiny", "tabular-regression", dest, templates_root=templates)
    user_edits(dest)
    write_template(templates, V2, b"\x89PNG\0v2")
    monkeypatch.setattr(processes, "_outcome", [])
    real_keep = core.overlay._keep

    def keep(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # held until the swap is done
        return real_keep(*args, **kwargs)

    monkeypatch.setattr(core.overlay, "_keep", keep)
    with pytest.raises(processes.Interrupted):
        core.update(dest, templates_root=templates)
    said = processes.outcome()
    assert "nothing was written" not in said
    assert "conflict.txt" in said and "with conflict markers" in said and "unchanged.txt" in said, said
    assert "<<<<<<<" in (dest / "conflict.txt").read_text()
