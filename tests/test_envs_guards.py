"""Two promises of the environment cache, each guarded on its own (issue 27): a build folder is never
deleted through a mount that would not come off, and an environment is never reused by another Python."""

from __future__ import annotations

import dataclasses
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from dlpick import processes
from dlpick.verify import envs


def _failing_umount(calls: list[list[str]]):
    real = processes.capture

    def capture(cmd, timeout, *args, **kwargs):
        if cmd and cmd[0] == "umount":
            calls.append(list(cmd))
            return processes.Captured(32, "", "umount: target is busy", None)
        return real(cmd, timeout, *args, **kwargs)

    return capture


def _host_files(tmp_path: Path) -> Path:
    outside = tmp_path / "host-files"
    outside.mkdir()
    (outside / "precious").write_text("keep me")
    return outside


def test_an_unmount_that_fails_leaves_the_mounted_files_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Without root: the mount table is faked (the build's /dev shows the host's files)."""
    root = tmp_path / "root"
    (root / "dev").mkdir(parents=True)
    (root / "dev" / "precious").write_text("keep me")  # the host's files, seen through the mount
    (root / "etc").mkdir()
    monkeypatch.setattr(envs, "_mounts_under", lambda path: [str(path / "dev")])
    calls: list[list[str]] = []
    monkeypatch.setattr(processes, "capture", _failing_umount(calls))
    with pytest.raises(envs.EnvError, match=r"still has .*/root/dev mounted; not deleting it"):
        envs._remove_tree(root)
    assert calls == [["umount", "--lazy", str(root / "dev")]]
    assert (root / "dev" / "precious").read_text() == "keep me" and (root / "etc").is_dir()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mounting needs root")
def test_an_unmount_that_fails_leaves_a_real_bind_mount_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    outside = _host_files(tmp_path)
    root = tmp_path / "root"
    (root / "dev").mkdir(parents=True)
    if subprocess.run(["mount", "--bind", str(outside), str(root / "dev")], capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount here")
    calls: list[list[str]] = []
    monkeypatch.setattr(processes, "capture", _failing_umount(calls))
    try:
        with pytest.raises(envs.EnvError, match="mounted; not deleting it"):
            envs._remove_tree(root)
        assert (root / "dev" / "precious").read_text() == "keep me"  # still mounted, still there
    finally:
        subprocess.run(["umount", "--lazy", str(root / "dev")], capture_output=True, check=False)
    assert calls and (outside / "precious").read_text() == "keep me"


def _python_reporting(tmp_path: Path, version: str) -> str:
    """A stand-in interpreter that answers dlpick's version question (and nothing else)."""
    fake = tmp_path / f"python{version}"
    fake.write_text(f"#!/bin/sh\necho {version}\n")
    fake.chmod(0o755)
    return str(fake)


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for the interpreter")
def test_the_environment_key_changes_with_the_interpreter_version(tmp_path: Path):
    (tmp_path / "requirements.txt").write_text("numpy<3\n")
    spec = envs.spec_for(tmp_path, "none")
    assert spec.python_version() == platform.python_version()
    other = dataclasses.replace(spec, python=_python_reporting(tmp_path, "3.10.14"))
    newer = dataclasses.replace(spec, python=_python_reporting(tmp_path, "3.12.7"))
    assert other.python_version() == "3.10.14"
    assert len({spec.key(), other.key(), newer.key()}) == 3
    same = dataclasses.replace(spec, python=_python_reporting(tmp_path, platform.python_version()))
    assert same.key() == spec.key()  # the interpreter's version names the environment, not its path


def test_only_mounts_inside_the_folder_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A sibling whose name starts the same (root2 beside root) is not inside root; mount points with
    spaces are read back from the kernel's \\040 escape; the deepest comes first (unmounted first)."""
    root = tmp_path / "root"
    root.mkdir()
    points = [root / "dev", tmp_path / "root2" / "proc", root, tmp_path / "rootfs", root / "dev" / "pts", root / "a b"]
    table = "".join(
        f"{n} 1 0:{n} / {str(p).replace(' ', chr(92) + '040')} rw - tmpfs tmpfs rw\n" for n, p in enumerate(points, 30)
    )
    real = Path.read_text

    def read_text(self: Path, *args, **kwargs) -> str:
        return table if str(self) == "/proc/self/mountinfo" else real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    found = envs._mounts_under(root)
    assert sorted(found) == sorted(str(p) for p in (root, root / "dev", root / "dev" / "pts", root / "a b"))
    assert found[0] == str(root / "dev" / "pts") and found[-1] == str(root)
