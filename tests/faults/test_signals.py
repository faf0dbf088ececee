"""SIGINT, SIGTERM, SIGHUP and SIGKILL at random moments of `scaffold` and `verify`.

Afterwards: the exit status is 128 + the signal, one line says what was (not) done, no process the
command started survives (a `setsid` child and a double-forked daemon included), no staging or
temporary folder is left, and an old project is either untouched or completely updated.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlpick.project import overlay, render

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc as on Linux")
SIGNALS = {"SIGINT": (signal.SIGINT, 130, "interrupted"), "SIGTERM": (signal.SIGTERM, 143, "terminated")}
SIGNALS["SIGHUP"] = (signal.SIGHUP, 129, "hung up")
TASK = "tabular-regression"

TRAIN = '''"""Fake train that starts a child, a setsid child and a double-forked daemon, then sleeps."""
import json, os, subprocess, sys, time
from pathlib import Path

PIDS = Path(%r)
EXIT_AT_ONCE = %r


def main():
    sleeper = [sys.executable, "-c", "import time; time.sleep(300)"]
    child = subprocess.Popen(sleeper)
    escaped = subprocess.Popen(sleeper, start_new_session=True)
    read, write = os.pipe()
    if os.fork() == 0:  # the daemon: fork, setsid, fork again, parent exits
        os.setsid()
        if os.fork() == 0:
            os.write(write, str(os.getpid()).encode())
            os.close(write)
            time.sleep(300)
        os._exit(0)
    os.close(write)
    daemon = int(os.read(read, 20).decode())
    PIDS.write_text(json.dumps({"train": os.getpid(), "pids": [os.getpid(), child.pid, escaped.pid, daemon]}))
    if EXIT_AT_ONCE:
        sys.exit(1)
    time.sleep(300)


if __name__ == "__main__":
    main()
'''


def fake_project(root: Path, pids: Path, exit_at_once: bool = False) -> Path:
    project = root / "proj"
    package = project / "src" / "fake_project"
    package.mkdir(parents=True)
    answers = {"__framework": "json", "task": TASK, "package_name": "fake_project", "project_slug": "proj"}
    (project / ".cookiecutter.json").write_text(json.dumps(answers))
    (package / "__init__.py").write_text("")
    (package / "train.py").write_text(TRAIN % (str(pids), exit_at_once))
    (package / "export.py").write_text("import sys\nsys.exit(1)\n")
    return project


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in "ZX"


def survivors(pids: list[int], wait: float = 3.0) -> list[int]:
    deadline = time.monotonic() + wait
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def kill_leftovers(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def dlpick(args: list[str], tmp: Path, env_extra: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "TMPDIR": str(tmp), "DLPICK_NO_DETECT": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env["PYTHONFAULTHANDLER"] = "1"  # SIGABRT prints where every thread is (finished: see `finished`)
    env.update(env_extra or {})
    return subprocess.Popen(
        [sys.executable, "-m", "dlpick", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


def finished(proc: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """`proc.communicate(timeout)`; a dlpick still running then fails the test with the stack of each of
    its threads (faulthandler's, on SIGABRT): a hang says where it hangs."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"dlpick still ran {timeout:g} s after the signal; its threads then:\n{err[-6000:]}")


def wait_for(path: Path, proc: subprocess.Popen, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)  # the file is complete: written in one call before the sleep
    assert path.exists(), finished(proc, 30)


@pytest.mark.parametrize("name", list(SIGNALS))
def test_a_signal_to_verify_kills_every_process_and_removes_the_run_folder(tmp_path: Path, name: str):
    sig, code, says = SIGNALS[name]
    pids_file = tmp_path / "pids.json"
    project = fake_project(tmp_path, pids_file)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = dlpick(["verify", str(project), "--timeout", "120"], tmp)
    wait_for(pids_file, proc)
    pids = json.loads(pids_file.read_text())["pids"]
    try:
        proc.send_signal(sig)
        out, err = finished(proc, 60)
        assert proc.returncode == code, err
        last = err.strip().splitlines()[-1]
        assert last.startswith(f"dlpick: {says}; verification did not finish"), err
        assert "Traceback" not in err
        assert survivors(pids) == []
        assert list(tmp.iterdir()) == []  # no dlpick-verify-* run folder
    finally:
        kill_leftovers(pids)


def test_a_finished_step_leaves_nothing_running(tmp_path: Path):
    """A smoke-train that exits at once, leaving a child, a setsid child and a daemon behind."""
    pids_file = tmp_path / "pids.json"
    project = fake_project(tmp_path, pids_file, exit_at_once=True)
    proc = dlpick(["verify", str(project), "--json"], tmp_path)
    out, err = finished(proc, 120)
    pids = json.loads(pids_file.read_text())["pids"]
    try:
        assert proc.returncode == 1, err
        assert json.loads(out)["passed"] is False
        assert survivors(pids) == []
    finally:
        kill_leftovers(pids)


def test_the_json_flag_still_prints_json_when_interrupted(tmp_path: Path):
    pids_file = tmp_path / "pids.json"
    project = fake_project(tmp_path, pids_file)
    proc = dlpick(["verify", str(project), "--json"], tmp_path)
    wait_for(pids_file, proc)
    pids = json.loads(pids_file.read_text())["pids"]
    try:
        proc.send_signal(signal.SIGTERM)
        out, _ = finished(proc, 60)
        assert json.loads(out) == {"error": "terminated; verification did not finish; its temporary run folder "
                                   "was removed", "exit_code": 143}  # fmt: skip
    finally:
        kill_leftovers(pids)


def tree(root: Path) -> dict[str, str]:
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(".dlpick-backup/"):  # named after the time: compare what is in it
            rel = ".dlpick-backup/" + "/".join(rel.split("/")[2:])
        if rel.endswith(".cookiecutter.json") or rel == ".dlpick-backup/":  # it holds the machine's paths
            continue
        found[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def old_project(parent: Path) -> Path:
    """A generated project, rendered with another name (so --force changes files), with the user's files."""
    dest = parent / "proj"
    render.render("pytorch", TASK, dest, name="Old name")
    (dest / "NOTES.md").write_text("ours\n")
    (dest / "runs").mkdir()
    (dest / "runs" / "model.pt").write_bytes(b"\x00weights")
    return dest


@pytest.fixture(scope="module")
def forced_result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What an uninterrupted `scaffold --force` makes of the old project."""
    parent = tmp_path_factory.mktemp("reference")
    dest = old_project(parent)
    render.render("pytorch", TASK, dest, name="New name", force=1)
    return tree(dest)


CASES = [(name, force, delay) for name in [*SIGNALS, "SIGKILL"] for force in (False, True) for delay in (0.0, 0.6, 1.2)]


@pytest.mark.parametrize(("name", "force", "delay"), CASES)
def test_a_signal_to_scaffold_leaves_the_old_project_or_the_new_one_whole(
    tmp_path: Path, forced_result: dict[str, str], name: str, force: bool, delay: float
):
    rng = random.Random(f"{name}{force}{delay}")
    parent = tmp_path / "work"
    parent.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    dest = old_project(parent) if force else parent / "proj"
    before = tree(dest) if force else {}
    args = ["scaffold", "pytorch", "-t", TASK, "-d", str(dest), "--no-verify", "--name", "New name"]
    proc = dlpick([*args, "-f"] if force else args, tmp)
    time.sleep(delay + rng.uniform(0, 0.3))
    sig = signal.SIGKILL if name == "SIGKILL" else SIGNALS[name][0]
    if proc.poll() is None:
        proc.send_signal(sig)
    _, err = finished(proc, 60)
    # A signal in the interpreter's own start-up (site, .pth files), before any of dlpick's code runs,
    # ends it as Python does (SIGINT with Python's traceback of its start-up): nothing was written then.
    before_dlpick = proc.returncode == -sig or ("Traceback" in err and f"{os.sep}dlpick{os.sep}" not in err)
    assert before_dlpick or "Traceback" not in err, err
    # 0: finished first
    if name != "SIGKILL" and not before_dlpick and proc.returncode != 0:
        assert proc.returncode == SIGNALS[name][1], err
        assert err.strip().splitlines()[-1].startswith(f"dlpick: {SIGNALS[name][2]}; "), err
    if name == "SIGKILL":  # nothing could clean up: the next scaffold into the folder does
        render.render("pytorch", TASK, parent / "other")
        (parent / "other").rename(tmp_path / "other")
    after = tree(dest) if dest.exists() else {}
    kept = [p for p in parent.iterdir() if p.name.startswith(".proj.dlpick-")]
    if name == "SIGKILL" and kept:
        # Killed in the milliseconds of the swap itself: nothing can finish it, but no file is lost: the
        # staging folder that holds the old versions is kept (the next scaffold named it) to put back.
        backups = {rel.split("/", 1)[1]: digest for rel, digest in after.items() if rel.startswith(".dlpick-backup/")}
        restored = {**after, **backups, **tree(kept[0] / overlay.OLD)}
        assert {rel: digest for rel, digest in restored.items() if rel in before} == before
        return
    if force:
        assert after in (before, forced_result), "the old project was neither kept nor fully updated"
    else:
        if after:  # a new project is complete: every file of a fresh render is there
            fresh = tmp_path / "fresh" / "proj"
            render.render("pytorch", TASK, fresh, name="New name")
            assert after == tree(fresh)
    assert sorted(p.name for p in parent.iterdir()) == (["proj"] if dest.exists() else [])
    assert list(tmp.iterdir()) == []


def test_a_finished_step_kills_its_group_even_without_a_subreaper(tmp_path: Path, monkeypatch):
    """The final group kill of a finished step stands on its own (not only the subreaper's orphan sweep)."""
    from dlpick import processes

    monkeypatch.setattr(processes, "_subreaper", False)
    monkeypatch.setattr(processes, "become_subreaper", lambda: False)
    pid_file = tmp_path / "child"
    code = (
        "import pathlib, subprocess, sys; c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']);"
        " pathlib.Path(sys.argv[1]).write_text(str(c.pid))"
    )
    ran = processes.run_step([sys.executable, "-c", code, str(pid_file)], tmp_path, 60)
    pid = int(pid_file.read_text())
    try:
        assert ran.returncode == 0 and survivors([pid]) == []
    finally:
        kill_leftovers([pid])


HANGING_TRAIN = """import pathlib, sys, time
pathlib.Path(sys.argv[sys.argv.index("--out") + 1]).mkdir(parents=True, exist_ok=True)
pathlib.Path({marker!r}).write_text("training")
time.sleep(300)
"""


def test_a_signal_during_scaffolds_verify_says_the_project_was_written(tmp_path: Path):
    templates = tmp_path / "templates"
    project = templates / "json" / "{{cookiecutter.project_slug}}"
    package = project / "src" / "{{cookiecutter.package_name}}"
    package.mkdir(parents=True)
    context = {
        "project_name": "P",
        "project_slug": "p",
        "package_name": "p",
        "task": ["tabular-regression"],
        "python_version": "3.11",
        "__framework": "json",
    }
    (templates / "json" / "cookiecutter.json").write_text(json.dumps(context))
    (project / ".cookiecutter.json").write_text("{{ cookiecutter | jsonify }}\n")
    (package / "__init__.py").write_text("")
    marker = tmp_path / "training"
    (package / "train.py").write_text(HANGING_TRAIN.format(marker=str(marker)))
    dest = tmp_path / "work" / "proj"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env_args = ["scaffold", "json", "-t", "tabular-regression", "-d", str(dest), "--name", "Proj"]
    proc = dlpick(env_args, tmp, env_extra={"DLPICK_TEMPLATES": str(templates)})
    wait_for(marker, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = finished(proc, 60)
    assert proc.returncode == 143, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"dlpick: terminated; the project is complete at {dest}; verification did not finish"), err
    assert err.count("verification did not finish") == 1, err  # said once, in the signal's line
    assert (dest / ".cookiecutter.json").is_file() and list(tmp.iterdir()) == []


def test_a_signal_while_the_command_line_is_parsed_still_ends_with_its_line_and_status(tmp_path: Path):
    """typer turns a KeyboardInterrupt in its argument parsing (outside any command) into a silent exit
    130, whichever signal it was: dlpick still says what stopped it, with 128 + the signal's number."""
    code = """
import os, signal, sys
from dlpick.cli import app

parse_args = app.DlpickGroup.parse_args

def parse_args_then_sigterm(self, ctx, args):
    os.kill(os.getpid(), signal.SIGTERM)  # delivered before the next line runs: inside typer's parsing
    return parse_args(self, ctx, args)

app.DlpickGroup.parse_args = parse_args_then_sigterm
sys.argv = ["dlpick", "show", "pytorch"]
from dlpick.__main__ import main
main()
"""
    env = {**os.environ, "TMPDIR": str(tmp_path), "DLPICK_NO_DETECT": "1"}
    ran = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 143, (ran.returncode, ran.stderr)
    assert ran.stderr.strip().splitlines()[-1] == "dlpick: terminated; nothing was written", ran.stderr
