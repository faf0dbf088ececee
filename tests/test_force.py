"""`scaffold --force` never loses a file the user had (each case failed on the old --force, which
deleted the whole destination)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlpick.cli.app import app
from dlpick.errors import BadInput
from dlpick.project import overlay, render

runner = CliRunner()
TASK = "tabular-regression"
GIT = shutil.which("git")


def tree(root: Path) -> dict[str, str]:
    """Relative path -> sha256 (or link target) of everything under root, folders included."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = "-> " + str(path.readlink())
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@e"
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def kept_project(tmp_path: Path) -> Path:
    """A generated project a team kept working in: notes, data, runs, a changed config."""
    dest = tmp_path / "proj"
    render.render("pytorch", TASK, dest)
    (dest / "NOTES.md").write_text("our findings\n")
    (dest / "data" / "ours").mkdir(parents=True)
    (dest / "data" / "ours" / "big.csv").write_text("a,b\n1,2\n")
    (dest / "runs" / "first").mkdir(parents=True)
    (dest / "runs" / "first" / "model.pt").write_bytes(b"\x00weights")
    (dest / "configs" / "default.yaml").write_text("task: tabular-regression\n# tuned by hand\n")
    return dest


def test_force_keeps_every_file_the_template_does_not_produce(tmp_path: Path):
    dest = kept_project(tmp_path)
    before = tree(dest)
    rendered = render.render("pytorch", TASK, dest, force=1)
    after = tree(dest)
    ours = ["NOTES.md", "data/ours/big.csv", "runs/first/model.pt"]
    assert all(after[rel] == before[rel] for rel in ours)
    assert "configs/default.yaml" in rendered.overwritten
    assert set(before) - {"configs/default.yaml"} <= set(after)  # nothing deleted
    assert rendered.backup is not None  # no git: the old config is kept
    assert (rendered.backup / "configs" / "default.yaml").read_text().endswith("# tuned by hand\n")
    assert [p.name for p in tmp_path.iterdir()] == ["proj"]  # no staging folder left


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_force_in_a_git_repo_refuses_uncommitted_changes_and_keeps_dot_git(tmp_path: Path):
    dest = kept_project(tmp_path)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "ours")
    head = git(dest, "rev-parse", "HEAD")
    (dest / "README.md").write_text("edited, not committed\n")
    before = tree(dest)
    with pytest.raises(BadInput, match=r"uncommitted changes: README.md"):
        render.render("pytorch", TASK, dest, force=2)
    assert tree(dest) == before
    git(dest, "checkout", "--", "README.md")
    (dest / "tests" / "test_project.py").unlink()  # an untracked file the template would write
    git(dest, "rm", "-q", "--cached", "tests/test_project.py")
    (dest / "tests" / "test_project.py").write_text("# my own tests\n")
    with pytest.raises(BadInput, match=r"uncommitted changes: tests/test_project.py"):
        render.render("pytorch", TASK, dest, force=1)
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "tests")
    rendered = render.render("pytorch", TASK, dest, force=1)
    assert rendered.backup is None  # every overwritten file is committed: git gives it back
    assert set(rendered.overwritten) == {"configs/default.yaml", "tests/test_project.py"}
    assert git(dest, "rev-parse", "HEAD") != "" and (dest / ".git" / "HEAD").is_file()
    assert git(dest, "rev-parse", "HEAD~1").strip() == head.strip()
    assert (dest / "NOTES.md").read_text() == "our findings\n"


def test_force_into_a_home_folder_is_refused_and_twice_keeps_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("secret")
    monkeypatch.setenv("HOME", str(home))
    before = tree(home)
    result = runner.invoke(app, ["scaffold", "pytorch", "-t", TASK, "-d", "~", "--force", "--no-verify", "--name", "p"])
    assert result.exit_code == 2 and "is a home folder" in result.stderr and "--force twice" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and tree(home) == before
    result = runner.invoke(app, ["scaffold", "pytorch", "-t", TASK, "-d", "~", "-ff", "--no-verify", "--name", "p"])
    assert result.exit_code == 0, result.output
    assert (home / ".ssh" / "id_ed25519").read_text() == "secret" and (home / "pyproject.toml").is_file()


def test_roots_and_homes_and_foreign_folders_are_risky(tmp_path: Path):
    assert overlay.risky(Path("/")) == "is a filesystem root"
    assert overlay.risky(Path.home()) == "is a home folder"
    (tmp_path / "x.txt").write_text("x")
    assert "no generated project" in str(overlay.risky(tmp_path))
    (tmp_path / ".cruft.json").write_text("{}")
    assert overlay.risky(tmp_path) is None


def test_force_into_the_current_folders_parent_needs_a_second_force(tmp_path: Path, monkeypatch):
    work = tmp_path / "work"
    (work / "here").mkdir(parents=True)
    (work / "thesis.tex").write_text("mine")
    monkeypatch.chdir(work / "here")
    before = tree(tmp_path)
    with pytest.raises(render.NeedsConfirmation):
        render.render("pytorch", TASK, "..", name="p", force=1)
    assert tree(tmp_path) == before


@pytest.mark.parametrize("when", [1, 2, 4, 7])
def test_a_failure_while_swapping_files_restores_the_old_ones(tmp_path: Path, monkeypatch, when: int):
    dest = kept_project(tmp_path)
    (dest / "README.md").unlink()  # created again (one rename), where the config is overwritten (two)
    shutil.rmtree(dest / "tests")  # a folder created again
    (dest / ".gitignore").write_text("mine\n")
    before = tree(dest)
    real = Path.rename
    calls = []

    def flaky(self: Path, target):
        calls.append(self)
        if len(calls) == when:
            raise OSError(28, "No space left on device", str(target))
        return real(self, target)

    monkeypatch.setattr(Path, "rename", flaky)
    with pytest.raises(BadInput, match="No space left"):
        render.render("pytorch", TASK, dest, force=1)
    monkeypatch.setattr(Path, "rename", real)
    assert tree(dest) == before
    assert [p.name for p in tmp_path.iterdir()] == ["proj"]


def test_a_signal_right_after_the_staging_folder_is_made_leaves_nothing(tmp_path: Path, monkeypatch):
    real = overlay.hold

    def interrupted(folder: Path):
        os.kill(os.getpid(), signal.SIGINT)  # held until the folder is known, then delivered
        return real(folder)

    monkeypatch.setattr(overlay, "hold", interrupted)
    with pytest.raises(KeyboardInterrupt):
        render.render("pytorch", TASK, tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_stale_staging_folders_are_cleaned_unless_in_use_or_holding_files(tmp_path: Path):
    stale = tmp_path / ".p.dlpick-abcd1234"
    (stale / "project").mkdir(parents=True)
    busy = tmp_path / ".q.dlpick-efgh5678"
    busy.mkdir()
    rescued = tmp_path / ".r.dlpick-ijkl9012"
    (rescued / overlay.OLD).mkdir(parents=True)
    (rescued / overlay.OLD / "README.md").write_text("old version of a user's file")
    lookalike = tmp_path / ".p.dlpick-notmine!"
    lookalike.mkdir()
    held = overlay.hold(busy)
    try:
        rendered = render.render("pytorch", TASK, tmp_path / "p")
    finally:
        overlay.release(held)
    assert not stale.exists() and busy.is_dir() and lookalike.is_dir()
    assert (rescued / overlay.OLD / "README.md").is_file() and rendered.kept_staging == (rescued,)


def test_two_scaffolds_into_one_destination(tmp_path: Path):
    dest = tmp_path / "same"
    cmd = [sys.executable, "-m", "dlpick", "scaffold", "pytorch", "-t", TASK, "-d", str(dest), "--no-verify"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(120), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert len(loser.strip().splitlines()) == 1 and "dlpick: error:" in loser and "Traceback" not in loser
    assert (dest / "pyproject.toml").is_file() and (dest / ".cookiecutter.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["same"]


def test_two_forced_scaffolds_into_one_project_both_finish_whole(tmp_path: Path):
    dest = kept_project(tmp_path)
    cmd = [sys.executable, "-m", "dlpick", "scaffold", "pytorch", "-t", TASK, "-d", str(dest), "--no-verify", "-f"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    assert [p.wait(120) for p in procs] == [0, 0], [p.stderr.read() for p in procs if p.stderr]
    assert (dest / "NOTES.md").read_text() == "our findings\n" and (dest / "runs/first/model.pt").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["proj"]


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]).returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path):
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "48k"):
        pytest.skip("needs root and a mountable tmpfs to fill a disk")
    yield disk
    subprocess.run(["umount", "--lazy", str(disk)], check=False)


def test_a_full_disk_leaves_nothing_and_keeps_the_old_project(small_disk: Path):
    result = runner.invoke(app, ["scaffold", "pytorch", "-t", TASK, "-d", str(small_disk / "p"), "--no-verify"])
    assert result.exit_code == 2 and "No space left on device" in result.stderr, result.output
    assert "Traceback" not in result.output and list(small_disk.iterdir()) == []
    old = small_disk / "old"
    old.mkdir()
    (old / ".cookiecutter.json").write_text("{}")
    (old / "README.md").write_text("mine\n")
    before = tree(small_disk)
    result = runner.invoke(app, ["scaffold", "pytorch", "-t", TASK, "-d", str(old), "--no-verify", "-f"])
    assert result.exit_code == 2 and "No space left on device" in result.stderr, result.output
    assert tree(small_disk) == before


def test_a_symlink_to_an_empty_folder_is_empty(tmp_path: Path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    rendered = render.render("pytorch", TASK, tmp_path / "link", name="p")
    assert not rendered.replaced and (tmp_path / "link").is_symlink()
    assert (tmp_path / "real" / "pyproject.toml").is_file()


def spawn(*args: str, cwd: Path | None = None):
    import pexpect

    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "DLPICK_NO_DETECT": "1", "PROMPT_TOOLKIT_NO_CPR": "1"}
    return pexpect.spawn(
        sys.executable, ["-m", "dlpick", *args], env=env, encoding="utf-8", timeout=60, cwd=cwd, dimensions=(50, 120)
    )


@pytest.mark.parametrize("answer", ["y", "n"])
def test_a_terminal_is_asked_before_force_writes_into_a_folder_without_a_project(tmp_path: Path, answer: str):
    import pexpect

    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "thesis.tex").write_text("mine")
    child = spawn("scaffold", "pytorch", "-t", TASK, "-d", str(dest), "--no-verify", "-f")
    child.expect("holds other files and no generated project")
    child.expect("Write the template's files into it anyway")
    child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert (dest / "thesis.tex").read_text() == "mine"
    if answer == "y":
        assert child.exitstatus == 0, child.before
        assert (dest / "pyproject.toml").is_file()
    else:
        assert child.exitstatus == 2 and "refusing --force there" in child.before
        assert sorted(p.name for p in dest.iterdir()) == ["thesis.tex"]


@pytest.mark.parametrize("answer", ["y", "n"])
def test_envs_remove_all_asks_in_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str):
    import json

    import pexpect

    from dlpick.verify import envs

    root = tmp_path / "envs"
    ours = root / "theano-venv-0123456789abcdef"
    ours.mkdir(parents=True)
    (ours / envs.MARKER).write_text(json.dumps({"spec": {"kind": "venv", "framework": "theano"}}))
    monkeypatch.setenv("DLPICK_ENVS", str(root))
    child = spawn("envs", "remove", "--all")
    child.expect("Remove 1 environment")
    child.sendline(answer)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert ours.exists() == (answer == "n")


def test_force_with_another_framework_lists_the_previous_templates_files_it_leaves(tmp_path: Path):
    """`scaffold pytorch --force` over a TensorFlow project: TensorFlow's files stay (they may be the
    user's now) and are listed as left over, in the text output and the JSON."""
    dest = tmp_path / "proj"
    render.render("tensorflow", TASK, dest)
    previous = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    fresh = render.render("pytorch", TASK, tmp_path / "fresh", name="proj")
    theirs = {p.relative_to(fresh.project_dir).as_posix() for p in fresh.project_dir.rglob("*") if p.is_file()}
    expected = sorted(rel for rel in previous - theirs if not rel.startswith(".dlpick/"))
    assert expected, "the two templates make different files"
    result = runner.invoke(
        app, ["scaffold", "pytorch", "-t", TASK, "-d", str(dest), "--force", "--no-verify", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["left_over"] == expected
    assert all((dest / rel).is_file() for rel in expected)  # listed, never deleted
    again = tmp_path / "again" / "proj"
    render.render("tensorflow", TASK, again)
    text = runner.invoke(app, ["scaffold", "pytorch", "-t", TASK, "-d", str(again), "--force", "--no-verify"])
    assert text.exit_code == 0, text.output
    assert "left in place from the previous template" in text.output


# --- promises of --force that each need their own test (issue 27) ----------------------------


def test_force_refuses_a_folder_where_the_template_writes_a_file(tmp_path: Path):
    dest = kept_project(tmp_path)
    (dest / "README.md").unlink()
    (dest / "README.md").mkdir()
    (dest / "README.md" / "chapter1.md").write_text("my book\n")
    before = tree(dest)
    with pytest.raises(BadInput, match=r"README.md: the template writes a file there, but it is a folder"):
        render.render("pytorch", TASK, dest, force=1)
    assert tree(dest) == before
    assert [p.name for p in tmp_path.iterdir()] == ["proj"]


def test_force_refuses_a_folder_that_links_elsewhere_and_writes_nothing_through_it(tmp_path: Path):
    dest = kept_project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "default.yaml").write_text("someone else's config\n")
    shutil.rmtree(dest / "configs")
    (dest / "configs").symlink_to(elsewhere, target_is_directory=True)
    before, outside = tree(dest), tree(elsewhere)
    with pytest.raises(BadInput, match=r"configs: the template puts a folder there, not a file or link"):
        render.render("pytorch", TASK, dest, force=1)
    assert tree(dest) == before and tree(elsewhere) == outside
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "proj"]


@pytest.mark.skipif(GIT is None, reason="git is not installed")
@pytest.mark.parametrize("history", ["no commit yet", "other files committed"])
def test_force_in_a_git_tree_refuses_a_file_never_committed(tmp_path: Path, history: str):
    dest = kept_project(tmp_path)  # its configs/default.yaml differs from the template's
    git(dest, "init", "-q")
    if history != "no commit yet":
        git(dest, "add", "NOTES.md", "README.md")
        git(dest, "commit", "-qm", "notes only")
    before = tree(dest)
    with pytest.raises(BadInput, match=r"uncommitted changes: configs/default.yaml"):
        render.render("pytorch", TASK, dest, force=1)
    assert tree(dest) == before


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_force_keeps_the_old_version_of_a_git_ignored_file_it_overwrites(tmp_path: Path):
    dest = kept_project(tmp_path)
    git(dest, "init", "-q")
    (dest / ".git" / "info" / "exclude").write_text("configs/default.yaml\n")
    git(dest, "add", "-A")
    git(dest, "commit", "-qm", "ours")
    (dest / "README.md").write_text("committed, then overwritten\n")
    git(dest, "commit", "-qam", "readme")
    rendered = render.render("pytorch", TASK, dest, force=1)
    assert set(rendered.overwritten) == {"configs/default.yaml", "README.md"}
    assert rendered.backup is not None and rendered.backup.parent == dest / overlay.BACKUP_DIR
    kept = tree(rendered.backup)
    assert set(kept) == {"configs", "configs/default.yaml"}  # git gives README.md back; not the ignored file
    assert (rendered.backup / "configs" / "default.yaml").read_text().endswith("# tuned by hand\n")
    assert "# tuned by hand" not in (dest / "configs" / "default.yaml").read_text()


def test_a_failure_while_keeping_backups_puts_every_old_file_back(tmp_path: Path, monkeypatch):
    dest = kept_project(tmp_path)  # outside git: both changed files' old versions go to .dlpick-backup
    (dest / "README.md").write_text("my own readme\n")
    before = tree(dest)
    real = Path.rename
    into_backup = []

    def flaky(self: Path, target):
        if overlay.BACKUP_DIR in Path(target).parts:
            into_backup.append(target)
            if len(into_backup) == 2:  # the first old version is already kept, the second cannot be
                raise OSError(28, "No space left on device", str(target))
        return real(self, target)

    monkeypatch.setattr(Path, "rename", flaky)
    with pytest.raises(BadInput, match="No space left"):
        render.render("pytorch", TASK, dest, force=1)
    monkeypatch.setattr(Path, "rename", real)
    assert len(into_backup) == 2
    assert tree(dest) == before
    assert [p.name for p in tmp_path.iterdir()] == ["proj"]


def test_a_new_project_is_noted_as_complete_for_an_interrupts_message(tmp_path: Path, monkeypatch):
    from dlpick import processes

    monkeypatch.setattr(processes, "_outcome", [])
    render.render("pytorch", TASK, tmp_path / "fresh")
    assert processes.outcome() == f"the project is complete at {tmp_path / 'fresh'}"
