"""Isolated environments (`verify --isolated`): specs from project files, build once, reuse, fail cleanly."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlpick.cli.app import app
from dlpick.errors import BadInput
from dlpick.project import render
from dlpick.verify import envs

runner = CliRunner()


def project_with(tmp_path: Path, **files: str) -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    for name, text in files.items():
        (project / name.replace("_", "-").replace("-txt", ".txt")).write_text(text)
    return project


def test_requirements_become_a_venv_spec_whose_key_follows_its_inputs(tmp_path: Path):
    project = project_with(tmp_path, requirements_txt="# pinned\nnumpy<1.24\n\nTheano==1.0.5  \n")
    spec = envs.spec_for(project, "theano")
    assert (spec.kind, spec.requirements, spec.source) == ("venv", ("numpy<1.24", "Theano==1.0.5"), "requirements.txt")
    assert spec.key() == envs.spec_for(project, "theano").key()  # stable
    constraint = tmp_path / "c.txt"
    constraint.write_text("torch==2.13.0\n")
    constrained = envs.spec_for(project, "theano", [constraint])
    assert constrained.constraints == (("c.txt", "torch==2.13.0\n"),)
    assert constrained.key() != spec.key()
    (project / "requirements.txt").write_text("numpy<1.24\nTheano==1.0.4\n")
    assert envs.spec_for(project, "theano").key() != spec.key()


def test_debian_packages_become_a_debian_spec(tmp_path: Path):
    project = project_with(tmp_path, debian_packages_txt="# debian: bullseye\n# the framework\ncaffe\npython3-caffe\n")
    spec = envs.spec_for(project, "caffe")
    assert (spec.kind, spec.suite, spec.requirements) == ("debian", "bullseye", ("caffe", "python3-caffe"))
    assert "Debian bullseye root with 2 packages" in spec.describe()


@pytest.mark.parametrize(
    ("text", "message"),
    [("caffe\n", "first line must name the Debian suite"), ("# debian: bullseye\ncaffe; rm -rf /\n", "package name")],
)
def test_bad_debian_package_files_are_rejected(tmp_path: Path, text: str, message: str):
    with pytest.raises(BadInput, match=message):
        envs.spec_for(project_with(tmp_path, debian_packages_txt=text), "caffe")


def test_a_project_without_environment_files_cannot_be_isolated(tmp_path: Path):
    with pytest.raises(BadInput, match="no requirements.txt or debian-packages.txt"):
        envs.spec_for(project_with(tmp_path), "pytorch")
    with pytest.raises(BadInput, match="cannot read the constraint file"):
        envs.spec_for(project_with(tmp_path, requirements_txt="numpy\n"), "x", [tmp_path / "missing.txt"])


@pytest.mark.needs_index
def test_a_venv_is_built_once_then_reused_and_an_unfinished_one_is_rebuilt(tmp_path: Path):
    project = project_with(tmp_path, requirements_txt="# nothing but pytest, which every environment gets\n")
    spec = envs.spec_for(project, "none")
    events: list[tuple[str, object]] = []
    built = envs.ensure(spec, lambda kind, payload: events.append((kind, payload)), root=tmp_path / "envs")
    assert not built.reused
    assert any(kind == "step" and "building an isolated" in str(text) for kind, text in events)
    code = "import pytest, sys; print(sys.prefix)"
    probe = subprocess.run([built.python, "-c", code], capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    assert Path(probe.stdout.strip()).resolve() == built.path.resolve()  # its own prefix, not dlpick's
    record = json.loads((built.path / envs.MARKER).read_text())
    assert record["spec"]["kind"] == "venv"

    again = envs.ensure(spec, root=tmp_path / "envs")
    assert again.reused and again.path == built.path and again.seconds < 5

    (built.path / envs.MARKER).unlink()  # as if the first build had been interrupted
    rebuilt = envs.ensure(spec, root=tmp_path / "envs")
    assert not rebuilt.reused and (rebuilt.path / envs.MARKER).is_file()


@pytest.mark.needs_index
@pytest.mark.parametrize("tool", ["pip", "uv"])
def test_a_failed_install_reports_the_installer_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tool: str
):
    monkeypatch.setenv(envs.INSTALLER_VAR, tool)
    project = project_with(tmp_path, requirements_txt="dlpick-no-such-package-for-tests==0.0.1\n")
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # the installer's temporary folders go in the build folder
    with pytest.raises(envs.EnvError, match=f"{tool} install failed") as raised:
        envs.ensure(envs.spec_for(project, "none"), root=tmp_path / "envs")
    assert "constraint" in raised.value.hint
    assert [p.name for p in (tmp_path / "envs").iterdir() if not p.name.endswith(".lock")] == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_debian_root_needs_root_and_says_what_to_do_instead(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    spec = envs.spec_for(project_with(tmp_path, debian_packages_txt="# debian: bullseye\ncaffe\n"), "caffe")
    with pytest.raises(envs.EnvError, match="needs root") as raised:
        envs.ensure(spec, root=tmp_path / "envs")
    assert "docker build" in raised.value.hint


@pytest.mark.needs_index
def test_verify_isolated_reports_an_unbuildable_environment_as_not_verified(tmp_path: Path, monkeypatch):
    project = render.render("pytensor", "tabular-regression", tmp_path / "proj").project_dir
    (project / "requirements.txt").write_text("dlpick-no-such-package-for-tests==0.0.1\n")
    monkeypatch.setenv("DLPICK_ENVS", str(tmp_path / "envs"))
    result = runner.invoke(app, ["verify", str(project), "--isolated", "--json"])
    assert result.exit_code == 3, result.output
    data = json.loads(result.stdout)
    assert data["verified"] is False and data["passed"] is False
    assert data["checks"][0]["name"] == "environment" and " install failed" in data["checks"][0]["detail"]


def test_constraint_needs_isolated(tmp_path: Path):
    project = render.render("pytensor", "tabular-regression", tmp_path / "proj").project_dir
    constraint = tmp_path / "c.txt"
    constraint.write_text("numpy<3\n")
    result = runner.invoke(app, ["verify", str(project), "--constraint", str(constraint)])
    assert result.exit_code == 2
    assert "--constraint only applies with --isolated" in result.output


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mounting needs root")
def test_removing_a_root_unmounts_first_and_never_deletes_through_a_mount(tmp_path: Path):
    """debootstrap mounts /proc inside the root while it works: an interrupted build must not
    delete files through that mount (a bind-mounted /dev would be the host's)."""
    outside = tmp_path / "host-files"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    root = tmp_path / "root"
    (root / "dev").mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(outside), str(root / "dev")], check=True)
    try:
        envs._remove_tree(root)
    finally:
        subprocess.run(["umount", "--lazy", str(root / "dev")], capture_output=True, check=False)
    assert not root.exists()
    assert (outside / "precious").read_text() == "keep me"


def test_a_missing_framework_points_to_isolated_when_the_project_documents_its_environment(tmp_path: Path):
    import importlib.util

    if importlib.util.find_spec("theano") is not None:
        pytest.skip("Theano is installed here")
    project = render.render("theano", "tabular-regression", tmp_path / "old").project_dir
    result = runner.invoke(app, ["verify", str(project)])
    assert result.exit_code == 3
    assert f"dlpick verify {project} --isolated" in result.output
    assert " # " not in result.output.split("install:")[-1]  # the knowledge base's comment is not in the && chain


def test_envs_lists_and_removes_the_cached_environments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = tmp_path / "envs"
    done = root / "theano-venv-0123456789abcdef"
    (done / "lib").mkdir(parents=True)
    (done / "lib" / "big.bin").write_bytes(b"x" * 5000)
    record = {
        "spec": {"kind": "venv", "framework": "theano", "requirements": ["Theano==1.0.5"], "python": "3.11.7"},
        "built": "2026-11-27T01:00:00+0000",
    }
    (done / envs.MARKER).write_text(json.dumps(record))
    half = root / "caffe-debian-fedcba9876543210"
    half.mkdir()
    (root / "caffe-debian-fedcba9876543210.python").write_text("#!/bin/sh\n")
    monkeypatch.setenv("DLPICK_ENVS", str(root))

    listed = runner.invoke(app, ["envs", "--json"])
    assert listed.exit_code == 0, listed.output
    found = {env["name"]: env for env in json.loads(listed.stdout)["environments"]}
    assert found[done.name]["complete"] and found[done.name]["framework"] == "theano"
    assert found[done.name]["bytes"] >= 5000
    assert not found[half.name]["complete"]
    text = runner.invoke(app, ["envs"]).output
    assert "(incomplete: rebuilt on next use)" in text and "2 environment(s)" in text

    assert runner.invoke(app, ["envs", "remove", "nope"]).exit_code == 2
    assert runner.invoke(app, ["envs", "remove"]).exit_code == 2
    removed = runner.invoke(app, ["envs", "remove", half.name])
    assert removed.exit_code == 0 and f"removed {half.name}" in removed.output
    assert not half.exists() and not (root / f"{half.name}.python").exists() and done.exists()
    no_terminal = runner.invoke(app, ["envs", "remove", "--all"])
    assert no_terminal.exit_code == 2 and "--yes" in no_terminal.output and done.exists()
    assert runner.invoke(app, ["envs", "remove", "--all", "--yes"]).exit_code == 0
    assert not done.exists()
    assert "no isolated environments" in runner.invoke(app, ["envs"]).output


def test_envs_never_touches_what_dlpick_did_not_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`mkdir $DLPICK_ENVS/my-thesis` survives `remove --all`; a symlink out of the cache is not followed."""
    root = tmp_path / "envs"
    ours = root / "theano-venv-0123456789abcdef"
    ours.mkdir(parents=True)
    (ours / envs.MARKER).write_text(json.dumps({"spec": {"kind": "venv", "framework": "theano"}}))
    thesis = root / "my-thesis"
    (thesis / "chapter1.tex").parent.mkdir(parents=True)
    (thesis / "chapter1.tex").write_text("precious")
    elsewhere = tmp_path / "data"
    (elsewhere / envs.MARKER).parent.mkdir(parents=True)
    (elsewhere / envs.MARKER).write_text("{}")  # even a marker does not make a link target dlpick's
    (elsewhere / "keep.csv").write_text("1,2\n")
    link = root / "jax-venv-fedcba9876543210"
    link.symlink_to(elsewhere, target_is_directory=True)
    lookalike = root / "caffe-debian-00000000000000ff"  # dlpick's name pattern, but nothing says dlpick made it
    lookalike.mkdir()
    monkeypatch.setenv("DLPICK_ENVS", str(root))

    listed = json.loads(runner.invoke(app, ["envs", "--json"]).stdout)
    assert [env["name"] for env in listed["environments"]] == [ours.name]
    assert listed["not_dlpicks"] == sorted([thesis.name, link.name, lookalike.name])
    for name in (thesis.name, link.name, lookalike.name):
        refused = runner.invoke(app, ["envs", "remove", name])
        assert refused.exit_code == 2 and "left alone" in refused.output, refused.output
    removed = runner.invoke(app, ["envs", "remove", "--all", "--yes"])
    assert removed.exit_code == 0 and f"removed {ours.name}" in removed.output
    assert not ours.exists()
    assert (thesis / "chapter1.tex").read_text() == "precious"
    assert link.is_symlink() and (elsewhere / "keep.csv").exists() and lookalike.is_dir()
    with pytest.raises(BadInput, match="left alone"):
        envs.remove(link, root)


@pytest.mark.parametrize("kind", ["file", "unwritable"])
def test_an_unusable_envs_folder_is_not_verified(tmp_path: Path, kind: str):
    root = tmp_path / "envs"
    if kind == "file":
        root.write_text("not a folder")
    else:
        if os.geteuid() == 0:
            pytest.skip("root can write to any folder")
        root.mkdir()
        root.chmod(0o500)
    project = project_with(tmp_path, requirements_txt="numpy\n")
    with pytest.raises(envs.EnvError) as raised:
        envs.ensure(envs.spec_for(project, "none"), root=root)
    assert raised.value.exit_code == 3 and "DLPICK_ENVS" in raised.value.hint


KILLED_BUILDER = """
import sys
from pathlib import Path
from dlpick.verify import envs
def build(spec, path, on_event, timeout, keep):  # a pip install that outlives dlpick
    path.mkdir()
    sleeper = [sys.executable, "-c", "import time; print('pip', flush=True); time.sleep(120)"]
    envs._run(sleeper, None, 300, "pip", keep=keep)


envs._build_venv = build
project = Path(sys.argv[1])
envs.ensure(envs.spec_for(project, "none"), root=Path(sys.argv[2]))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="flock and /proc as on Linux")
def test_a_pip_left_running_by_a_killed_dlpick_keeps_the_build_lock(tmp_path: Path):
    import fcntl
    import signal
    import time

    import psutil

    project = project_with(tmp_path, requirements_txt="numpy\n")
    root = tmp_path / "envs"
    builder = subprocess.Popen([sys.executable, "-c", KILLED_BUILDER, str(project), str(root)])
    deadline = time.monotonic() + 60
    pip = []
    while not pip and time.monotonic() < deadline:
        pip = [
            p
            for p in psutil.Process(builder.pid).children(recursive=True)
            if "time.sleep(120)" in " ".join(p.cmdline())
        ]
        time.sleep(0.1)
    assert pip, "the fake pip never started"
    builder.send_signal(signal.SIGKILL)
    builder.wait(30)
    lock = next(root.glob("*.lock"))
    try:
        with lock.open("a") as handle:
            with pytest.raises(BlockingIOError):  # the orphaned pip still holds it: no second build races it
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            pip[0].kill()
            pip[0].wait(30)
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # and it is free once that pip is gone
    finally:
        for process in pip:
            with contextlib.suppress(psutil.Error):
                process.kill()


def test_requirements_includes_and_the_gpu_variant(tmp_path: Path):
    project = project_with(
        tmp_path,
        requirements_common_txt="numpy>=1.26  # shared\nscikit-learn\n",
        requirements_txt="-r requirements-common.txt\ntensorflow-cpu>=2.16,<3\n",
        requirements_gpu_txt="-r requirements-common.txt\n--extra-index-url https://example.org\ntensorflow[and-cuda]\n",
    )
    cpu = envs.spec_for(project, "tensorflow")
    assert cpu.requirements == ("numpy>=1.26", "scikit-learn", "tensorflow-cpu>=2.16,<3")
    assert cpu.source == "requirements.txt"
    gpu = envs.spec_for(project, "tensorflow", device="cuda")
    assert gpu.source == "requirements-gpu.txt" and gpu.key() != cpu.key()
    assert gpu.requirements[-2:] == ("--extra-index-url https://example.org", "tensorflow[and-cuda]")
    (project / "requirements.txt").write_text("-r requirements.txt\n")
    with pytest.raises(BadInput, match="includes itself"):
        envs.spec_for(project, "tensorflow")
    (project / "requirements.txt").write_text("-r missing.txt\n")
    with pytest.raises(BadInput, match="includes missing.txt, which does not exist"):
        envs.spec_for(project, "tensorflow")


def test_a_build_never_replaces_a_folder_dlpick_did_not_make_at_its_path(tmp_path: Path):
    project = project_with(tmp_path, requirements_txt="numpy\n")
    spec = envs.spec_for(project, "none")
    root = tmp_path / "envs"
    theirs = root / f"none-venv-{spec.key()}"  # the very name dlpick would build at
    theirs.mkdir(parents=True)
    (theirs / "notes.txt").write_text("mine")
    with pytest.raises(envs.EnvError, match="dlpick did not build it; not touching it"):
        envs.ensure(spec, root=root)
    assert (theirs / "notes.txt").read_text() == "mine"


def test_uv_is_given_pips_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Indexes, find-links, constraints and trusted hosts pip is configured with reach uv too: a
    machine with a mirror or a local wheel folder gets the same packages from either installer."""
    for name in [n for n in os.environ if n.startswith("PIP_")]:
        monkeypatch.delenv(name)
    config = tmp_path / "pip.conf"
    config.write_text(
        "[global]\nindex-url = https://mirror.example/simple\n"
        "extra-index-url = file:///srv/a/simple file:///srv/b/simple\n"
        "find-links = /srv/wheels\nconstraint = /srv/c.txt\ntrusted-host = mirror.example\n"
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    monkeypatch.setenv("PIP_FIND_LINKS", "/srv/other-wheels")  # the environment wins over the file, as in pip
    options, _ = envs.pip_settings(sys.executable)
    pairs = list(zip(options[::2], options[1::2], strict=False))
    assert pairs == [
        ("--index-strategy", "unsafe-best-match"),
        ("--index-url", "https://mirror.example/simple"),
        ("--extra-index-url", "file:///srv/a/simple"),
        ("--extra-index-url", "file:///srv/b/simple"),
        ("--find-links", "/srv/other-wheels"),
        ("--constraint", "/srv/c.txt"),
        ("--allow-insecure-host", "mirror.example"),
    ]


def test_the_installer_can_be_chosen(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(envs.INSTALLER_VAR, "pip")
    assert envs.installer() == ("pip", None)
    monkeypatch.setenv(envs.INSTALLER_VAR, "conda")
    with pytest.raises(BadInput, match="expected uv or pip"):
        envs.installer()
    monkeypatch.setenv(envs.INSTALLER_VAR, "uv")
    monkeypatch.setenv("PATH", "")
    monkeypatch.setitem(sys.modules, "uv", None)  # nor the uv package
    with pytest.raises(envs.EnvError, match="uv is not installed"):
        envs.installer()


def test_a_venv_built_without_bytecode_is_compiled_once(tmp_path: Path):
    """verify runs with PYTHONDONTWRITEBYTECODE: an environment without .pyc files would compile every import."""
    import venv

    path = tmp_path / "none-venv-0123456789abcdef"
    venv.create(path, with_pip=False)
    site = next(path.glob("lib/python*/site-packages"))
    (site / "somemodule.py").write_text("VALUE = 1\n")
    (path / envs.MARKER).write_text(json.dumps({"spec": {"kind": "venv"}}))
    steps: list[object] = []
    envs._compile_bytecode_once(path, lambda kind, payload: steps.append(payload), ())
    assert list((site / "__pycache__").glob("somemodule.*.pyc"))
    assert json.loads((path / envs.MARKER).read_text())["bytecode"] is True
    assert len(steps) == 1 and "bytecode" in str(steps[0])
    envs._compile_bytecode_once(path, lambda kind, payload: steps.append(payload), ())
    assert len(steps) == 1  # once


def _fake_env(root: Path, name: str, size: int, used: float | None = None, complete: bool = True) -> Path:
    path = root / name
    (path / "lib").mkdir(parents=True)
    (path / "lib" / "big.bin").write_bytes(b"x" * size)
    (root / f"{name}{envs.OWNER}").write_text(json.dumps({"name": name}))
    if complete:
        record = {"spec": {"kind": "venv", "framework": name.split("-")[0], "python": "3.11.7"}, "built": "2026-12-01"}
        (path / envs.MARKER).write_text(json.dumps(record))
        if used is not None:
            os.utime(path / envs.MARKER, (used, used))
    return path


def test_envs_table_columns_line_up_and_remove_suggests_a_close_name(tmp_path: Path, monkeypatch):
    root = tmp_path / "envs"
    _fake_env(root, "theano-venv-0123456789abcdef", 5000)
    _fake_env(root, "paddlepaddle-venv-fedcba9876543210", 50)
    monkeypatch.setenv("DLPICK_ENVS", str(root))
    lines = runner.invoke(app, ["envs"]).output.splitlines()[:3]
    kind, size_end = lines[0].index("KIND"), lines[0].index("SIZE") + 4
    for line in lines[1:]:
        assert line[kind:].startswith("venv python"), lines
        assert line[size_end - 1] == "B" and line[size_end] == " ", lines  # sizes right-aligned under SIZE
    wrong = runner.invoke(app, ["envs", "remove", "theano-venv-0123456789abcdeg"])
    assert wrong.exit_code == 2 and "did you mean 'theano-venv-0123456789abcdef'?" in wrong.stderr


def test_envs_prune_removes_the_least_recently_used_beyond_the_limit(tmp_path: Path, monkeypatch):
    import fcntl

    root = tmp_path / "envs"
    old = _fake_env(root, "jax-venv-0000000000000001", 4000, used=1_000_000)
    new = _fake_env(root, "torch-venv-0000000000000002", 4000, used=2_000_000)
    half = _fake_env(root, "caffe-venv-0000000000000003", 1000, complete=False)
    held = _fake_env(root, "mxnet-venv-0000000000000004", 4000, used=500_000)
    monkeypatch.setenv("DLPICK_ENVS", str(root))
    with (root / f"{held.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another dlpick is using it
        dry = runner.invoke(app, ["envs", "prune", "--max-size", "9000B", "--dry-run"])
        assert dry.exit_code == 0 and half.exists() and old.exists()
        done = runner.invoke(app, ["envs", "prune", "--max-size", "9000B"])
    assert done.exit_code == 0, done.output
    assert not half.exists() and not old.exists()  # the unfinished build, then the least recently used
    assert new.exists() and held.exists()
    assert runner.invoke(app, ["envs", "prune", "--max-size", "lots"]).exit_code == 2


def test_reusing_an_environment_marks_it_used(tmp_path: Path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "requirements.txt").write_text("numpy\n")
    spec = envs.spec_for(project, "jax")
    root = tmp_path / "envs"
    path = _fake_env(root, f"jax-venv-{spec.key()}", 10, used=1_000_000)
    (path / "bin").mkdir()
    (path / "bin" / "python").write_text("")
    (path / envs.MARKER).write_text(json.dumps({"bytecode": True}))
    os.utime(path / envs.MARKER, (1_000_000, 1_000_000))
    assert envs.ensure(spec, root=root).reused
    assert (path / envs.MARKER).stat().st_mtime > 1_000_000


USER = """
import sys
from pathlib import Path
from dlpick.verify import envs
spec = envs.spec_for(Path(sys.argv[1]), "none")
env = envs.ensure(spec, root=Path(sys.argv[2]))
print(env.path.name, flush=True)
sys.stdin.readline()  # uses the environment until told to stop
"""


@pytest.mark.skipif(sys.platform != "linux", reason="flock and /proc as on Linux")
def test_envs_remove_refuses_an_environment_another_dlpick_is_using_and_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    project = project_with(tmp_path, requirements_txt="# nothing\n")
    root = tmp_path / "envs"
    spec = envs.spec_for(project, "none")
    path = root / f"none-venv-{spec.key()}"  # a finished environment, as a build leaves it
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "python").symlink_to(sys.executable)
    (path / envs.MARKER).write_text(json.dumps({"spec": {"kind": "venv", "framework": "none"}, "bytecode": True}))
    envs.owner_file(path).write_text(json.dumps({"name": path.name}))
    monkeypatch.setenv("DLPICK_ENVS", str(root))
    user = subprocess.Popen(
        [sys.executable, "-c", USER, str(project), str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert user.stdout is not None and user.stdout.readline().strip() == path.name
        refused = runner.invoke(app, ["envs", "remove", path.name])
        assert refused.exit_code == 2 and f"process {user.pid}" in refused.output, refused.output
        assert (path / envs.MARKER).is_file()
        assert runner.invoke(app, ["envs", "remove", "--all", "--yes"]).exit_code != 0 and path.is_dir()
    finally:
        user.communicate("done\n", timeout=60)
    removed = runner.invoke(app, ["envs", "remove", path.name])
    assert removed.exit_code == 0, removed.output
    assert not path.exists() and not list(root.iterdir())


def test_envs_remove_refuses_an_environment_being_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import fcntl

    root = tmp_path / "envs"
    path = root / "theano-venv-0123456789abcdef"
    path.mkdir(parents=True)
    envs.owner_file(path).write_text(json.dumps({"name": path.name}))
    monkeypatch.setenv("DLPICK_ENVS", str(root))
    with (root / f"{path.name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # a builder holds it
        refused = runner.invoke(app, ["envs", "remove", path.name])
    assert refused.exit_code == 2 and "being built" in refused.output and path.is_dir()


def test_envs_prune_keeps_an_environment_in_use(tmp_path: Path, monkeypatch):
    """An environment a running verify holds (verify/env_use.py) is never pruned, however old."""
    from dlpick.verify import env_use

    root = tmp_path / "envs"
    used = _fake_env(root, "jax-venv-00000000000000a1", 4000, used=1_000)
    other = _fake_env(root, "torch-venv-00000000000000a2", 4000, used=2_000)
    monkeypatch.setenv("DLPICK_ENVS", str(root))
    env_use.use(used)
    try:
        done = runner.invoke(app, ["envs", "prune", "--max-size", "0"])
    finally:
        os.close(env_use._HELD.pop(str(used)))
    assert done.exit_code == 0, done.output
    assert used.exists() and not other.exists()
