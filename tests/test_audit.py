"""`dlpick kb audit`: the built-in knowledge has no open finding; each kind is caught on a small overlay."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from conftest import BUILTIN, FACT, framework
from typer.testing import CliRunner

from dlpick.cli.app import app
from dlpick.errors import BadInput
from dlpick.kb import audit, knowledge

TODAY = dt.date(2026, 11, 29)
runner = CliRunner()


def run_audit(*dirs: Path, today: dt.date = TODAY, older_than: int = 365) -> audit.Audit:
    kb, problems = knowledge.validate_dirs([BUILTIN, *dirs])
    assert not problems, problems
    assert kb is not None
    return audit.run(kb.frameworks, [BUILTIN, *dirs], kb.adoption, older_than=older_than, today=today)


def overlay(tmp_path: Path, *frameworks: dict, files: dict[str, object] | None = None) -> Path:
    """A team folder over the built-in knowledge: extra frameworks and extra top-level files."""
    root = tmp_path / "team"
    (root / "frameworks").mkdir(parents=True, exist_ok=True)
    for data in frameworks:
        (root / "frameworks" / f"{data['id']}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    for name, content in (files or {}).items():
        (root / name).write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return root


def ids(result: audit.Audit, kind: str) -> set[str]:
    return {f.id for f in result.findings if f.kind == kind and f.framework == "fixture"}


def release(version: str, date: str) -> dict:
    return {
        "version": version,
        "date": date,
        "source": f"https://pypi.org/project/oldlib/{version}/",
        "as_of": "2026-11-29",
    }


# --- the built-in knowledge --------------------------------------------------------------------


def test_builtin_knowledge_has_no_unacknowledged_finding():
    """Fails when a fact ages past a year, a library crosses the dormant rule, or a note contradicts a level."""
    kb = knowledge.load()
    result = audit.run(kb.frameworks, [BUILTIN], kb.adoption)
    assert result.open == [], "\n".join(f"{f.id}: {f.message}" for f in result.open)
    assert result.snapshot_as_of, "knowledge/registry-snapshot.yaml is missing"
    assert result.expired == [] and result.unused == []


def test_every_acknowledgement_is_explained_and_dated():
    data = yaml.safe_load((BUILTIN / audit.ACK_FILE).read_text())
    for ack in data["acknowledged"]:
        assert len(ack["reason"]) > 40 and isinstance(ack["until"], dt.date), ack


def test_dormant_statuses_agree_with_the_registry_snapshot():
    """The dormant rule applies from data: every evidence item of a dormant library is marked so."""
    snapshot = yaml.safe_load((BUILTIN / audit.SNAPSHOT_FILE).read_text())
    kb = knowledge.load()
    checked = 0
    for fw in kb.frameworks.values():
        for evidence in fw.tasks.values():
            for item in evidence:
                entry = snapshot["packages"].get(f"pypi:{item.package}")
                if entry and (snapshot["as_of"] - entry["date"]).days >= audit.DORMANT_AFTER_DAYS:
                    assert item.status == "dormant", (fw.id, item.name)
                    checked += 1
    assert checked >= 15


# --- each kind of finding on a fixture overlay ------------------------------------------------------


def test_stale_facts_are_found(tmp_path: Path):
    old = framework(
        "fixture", release={"version": "1.0", "date": "2020-01-01", "source": FACT["source"], "as_of": "2024-01-01"}
    )
    team = overlay(tmp_path, old)
    result = run_audit(team)
    assert "stale fixture release" in ids(result, "stale")
    assert not any(
        f.where.startswith("tasks") for f in result.findings if f.kind == "stale" and f.framework == "fixture"
    )
    # A shorter threshold finds the rest (FACT is dated 2026-11-01).
    assert "stale fixture tasks.image-classification[vision]" in ids(run_audit(team, older_than=10), "stale")


def test_dormant_rule_from_a_last_release_fact(tmp_path: Path):
    tasks = {
        "time-series": [
            {"name": "oldlib", "kind": "third-party-library", **FACT, "last_release": release("0.1", "2023-06-01")}
        ],
        "speech": [
            {
                "name": "newlib",
                "kind": "official-library",
                "status": "dormant",
                **FACT,
                "last_release": release("2.0", "2026-01-01"),
            }
        ],
    }
    result = run_audit(overlay(tmp_path, framework("fixture", tasks=tasks)))
    assert ids(result, "dormant") == {"dormant fixture tasks.time-series[oldlib]"}
    assert ids(result, "not-dormant") == {"not-dormant fixture tasks.speech[newlib]"}
    [finding] = [f for f in result.findings if f.kind == "dormant" and f.framework == "fixture"]
    assert "0.1 (2023-06-01)" in finding.message and finding.source.startswith("https://pypi.org/")


def test_dormant_rule_from_the_registry_snapshot_and_an_overlay_snapshot(tmp_path: Path):
    """tf-agents' newest release in the built-in snapshot is over two years old: an active item is a finding,
    unless the team's own, newer snapshot knows of a recent release."""
    tasks = {"reinforcement-learning": [{"name": "agents", "kind": "official-library", "package": "tf-agents", **FACT}]}
    team = overlay(tmp_path, framework("fixture", tasks=tasks))
    assert ids(run_audit(team), "dormant") == {"dormant fixture tasks.reinforcement-learning[tf-agents]"}
    newer = {
        "as_of": "2026-12-01",
        "source": "a test registry read",
        "packages": {
            "pypi:tf-agents": {
                "version": "0.20.0",
                "date": "2026-11-30",
                "source": "https://pypi.org/project/tf-agents/",
            }
        },
    }
    team = overlay(tmp_path, framework("fixture", tasks=tasks), files={audit.SNAPSHOT_FILE: newer})
    assert ids(run_audit(team), "dormant") == set()


def test_deployment_paths_follow_the_dormant_rule(tmp_path: Path):
    deployment = {
        "browser": [{"tool": "oldjs", "level": "official", **FACT, "last_release": release("4.0", "2022-01-01")}]
    }
    result = run_audit(overlay(tmp_path, framework("fixture", deployment=deployment)))
    assert ids(result, "dormant") == {"dormant fixture deployment.browser[oldjs]"}


def test_levels_whose_notes_describe_a_legacy_path(tmp_path: Path):
    hardware = {
        "cpu": {"level": "official", "mechanism": "CPU", **FACT},
        "tpu": {"level": "official", "mechanism": "XLA", "note": "Deprecated since 2.18; last TPU build 2.20.", **FACT},
        "fpga": {"level": "vendor", "mechanism": "DPU", "note": "Supported until release 2.0 only.", **FACT},
        "intel-gpu": {"level": "legacy", "mechanism": "XPU", "note": "No longer maintained.", **FACT},
    }
    deployment = {"server": [{"tool": "srv", "level": "vendor", "note": "The last release of the server.", **FACT}]}
    result = run_audit(overlay(tmp_path, framework("fixture", hardware=hardware, deployment=deployment)))
    assert ids(result, "level-note") == {
        "level-note fixture hardware.tpu",
        "level-note fixture hardware.fpga",
        "level-note fixture deployment.server[srv]",
    }


def test_evidence_without_a_source_page(tmp_path: Path):
    tasks = {
        "image-classification": [
            {"name": "wiki", "kind": "example", "source": "our team wiki, page 12", "as_of": "2026-11-01"}
        ]
    }
    performance = [{"kind": "mixed-precision", "name": "amp", "source": "internal benchmark", "as_of": "2026-11-01"}]
    result = run_audit(overlay(tmp_path, framework("fixture", tasks=tasks, performance=performance)))
    assert ids(result, "no-source-page") == {
        "no-source-page fixture tasks.image-classification[wiki]",
        "no-source-page fixture performance[amp]",
    }


# --- acknowledgements -----------------------------------------------------------------------------


def test_acknowledgements_close_findings_until_their_date(tmp_path: Path):
    tasks = {
        "image-classification": [{"name": "wiki", "kind": "example", "source": "our team wiki", "as_of": "2026-11-01"}]
    }
    finding = "no-source-page fixture tasks.image-classification[wiki]"
    acks = {
        "acknowledged": [
            {"finding": finding, "reason": "the wiki is the only record of it", "until": "2027-01-01"},
            {"finding": "stale nowhere nothing", "reason": "names no finding at all", "until": "2027-01-01"},
        ]
    }
    team = overlay(tmp_path, framework("fixture", tasks=tasks), files={audit.ACK_FILE: acks})
    result = run_audit(team)
    assert finding in result.acknowledged and not [f for f in result.open if f.framework == "fixture"]
    assert [a["finding"] for a in result.unused] == ["stale nowhere nothing"]
    later = run_audit(team, today=dt.date(2027, 1, 2))
    assert finding in {f.id for f in later.open}
    assert {a["finding"] for a in later.expired} >= {finding}


def test_a_bad_acknowledgement_file_is_bad_input(tmp_path: Path):
    team = overlay(
        tmp_path, files={audit.ACK_FILE: {"acknowledged": [{"finding": "stale x y", "until": "2027-01-01"}]}}
    )
    with pytest.raises(BadInput) as info:
        run_audit(team)
    assert "audit-ack.yaml" in str(info.value) and "reason" in str(info.value)


def test_registry_keys_name_the_library_of_a_page():
    assert audit.registry_key("https://pypi.org/project/tensorflowjs/4.22.0/") == "pypi:tensorflowjs"
    assert audit.registry_key("https://www.npmjs.com/package/@tensorflow/tfjs") == "npm:@tensorflow/tfjs"
    assert audit.registry_key("https://github.com/tensorflow/tfjs") is None


# --- the command ------------------------------------------------------------------------------------


def test_cli_exit_codes_and_json(tmp_path: Path):
    result = runner.invoke(app, ["kb", "audit", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is True and data["unacknowledged"] == 0 and data["registry_snapshot"]

    tasks = {
        "image-classification": [{"name": "wiki", "kind": "example", "source": "our team wiki", "as_of": "2026-11-01"}]
    }
    team = overlay(tmp_path, framework("fixture", tasks=tasks))
    result = runner.invoke(app, ["kb", "audit", str(team), "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert [f["id"] for f in data["findings"] if not f["acknowledged"]] == [
        "no-source-page fixture tasks.image-classification[wiki]"
    ]
    text = runner.invoke(app, ["kb", "audit", str(team)])
    assert text.exit_code == 1 and "no-source-page fixture tasks.image-classification[wiki]" in text.stdout

    result = runner.invoke(app, ["kb", "audit", "--older-than", "0", "--json"])
    assert result.exit_code == 2 and json.loads(result.stdout)["exit_code"] == 2
    result = runner.invoke(app, ["kb", "audit", str(tmp_path / "missing")])
    assert result.exit_code == 2


# --- tools/pypi_facts.py: Python support from wheel tags and Requires-Python ------------------------------


def _file(name: str, requires: str | None = None, date: str = "2025-01-01") -> dict:
    return {"filename": name, "requires_python": requires, "upload_time": f"{date}T00:00:00", "yanked": False}


def test_pypi_facts_reads_python_minors_from_wheel_tags():
    pypi_facts = pytest.importorskip("tools.pypi_facts")  # the source tree only

    assert pypi_facts.file_minors(_file("x-1.0-cp39-cp39-manylinux1_x86_64.whl", ">=3.7"), 14) == {9}
    assert pypi_facts.file_minors(_file("x-1.0-cp310-none-any.whl", "<3.13,>=3.9"), 14) == {10}
    assert pypi_facts.file_minors(_file("x-1.0-cp311-abi3-manylinux1_x86_64.whl"), 14) == {11, 12, 13, 14}
    assert pypi_facts.file_minors(_file("x-1.0-py3-none-any.whl", ">=3.12"), 14) == {12, 13, 14}
    assert pypi_facts.file_minors(_file("x-1.0-py3-none-any.whl"), 14) == set()  # no Requires-Python: unknown
    assert 6 in pypi_facts.file_minors(_file("x-1.0-cp36-cp36m-linux_x86_64.whl", ">=2.7, !=3.6.0"), 14)


def test_pypi_facts_names_the_last_release_for_every_older_minor():
    pypi_facts = pytest.importorskip("tools.pypi_facts")  # the source tree only

    data = {
        "info": {"version": "3.0", "classifiers": [], "requires_python": ">=3.11"},
        "releases": {
            "1.0": [_file("x-1.0-cp38-cp38-linux_x86_64.whl"), _file("x-1.0-cp39-cp39-linux_x86_64.whl")],
            "2.0": [_file(f"x-2.0-cp3{m}-cp3{m}-linux_x86_64.whl") for m in (9, 10, 11)],
            "2.1": [_file(f"x-2.1-cp3{m}-cp3{m}-linux_x86_64.whl") for m in (10, 11)],
            "2.2rc1": [_file("x-2.2rc1-cp310-cp310-linux_x86_64.whl")],
            "3.0": [_file(f"x-3.0-cp3{m}-cp3{m}-linux_x86_64.whl") for m in (11, 12)],
        },
    }
    versions, last_for = pypi_facts.python_support(data)
    assert versions == ["3.11", "3.12"]
    assert last_for == {"3.8": "1.0", "3.9": "2.0", "3.10": "2.1"}


# --- issue 25: a wider level vocabulary, one library one kind, an old snapshot ------------------


def test_a_strong_level_whose_note_says_prototype_or_nightly_is_found(tmp_path: Path):
    hardware = {
        "cpu": {"level": "official", "mechanism": "CPU", **FACT},
        "intel-gpu": {"level": "official", "mechanism": "XPU", "note": "Intel GPUs support (Prototype).", **FACT},
        "amd-gpu": {"level": "experimental", "mechanism": "ROCm", "note": "Nightly builds only.", **FACT},
    }
    deployment = {"server": [{"tool": "srv", "level": "vendor", "note": "A public beta.", **FACT}]}
    result = run_audit(overlay(tmp_path, framework("fixture", hardware=hardware, deployment=deployment)))
    assert ids(result, "level-words") == {
        "level-words fixture hardware.intel-gpu",
        "level-words fixture deployment.server[srv]",
    }


def test_one_library_cited_with_two_kinds_is_found(tmp_path: Path):
    lib = {"name": "KerasHub", "package": "keras-hub", **FACT}
    tasks = {
        "image-classification": [{**lib, "kind": "official-library"}],
        "generative": [{**lib, "kind": "third-party-library"}],
    }
    result = run_audit(overlay(tmp_path, framework("fixture", tasks=tasks)))
    found = [f for f in result.findings if f.kind == "library-mismatch"]
    assert len(found) == 1 and "keras-hub: kinds official-library, third-party-library" in found[0].message


def test_a_registry_snapshot_older_than_60_days_is_a_finding():
    read = yaml.safe_load((BUILTIN / audit.SNAPSHOT_FILE).read_text())["as_of"]
    fresh = run_audit(today=read + dt.timedelta(days=60))
    assert not [f for f in fresh.findings if f.kind == "old-snapshot"]
    late = run_audit(today=read + dt.timedelta(days=61))
    assert [f.id for f in late.findings if f.kind == "old-snapshot"] == ["old-snapshot - registry-snapshot.yaml"]


def test_an_install_that_pins_an_old_release_is_found(tmp_path: Path):
    hardware = {
        "cpu": {"level": "official", "mechanism": "CPU", "install": "pip install fixture==1.0.3", **FACT},
        "amd-gpu": {"level": "official", "mechanism": "ROCm", "install": "pip install fixture==0.9.1 x==2.0", **FACT},
    }
    result = run_audit(overlay(tmp_path, framework("fixture", hardware=hardware)))  # release 1.0
    assert ids(result, "old-pin") == {"old-pin fixture hardware.amd-gpu"}


# --- the whole knowledge base: items without a package, notes, wheel platforms -----------------------

DOC = {"source": "our lab notebook, 2026-11", "as_of": "2026-11-01"}  # a document, not a page


def snapshot_file(**packages: dict) -> dict:
    """A team's registry snapshot (read 2026-11-29) with these 'pypi:NAME' entries."""
    return {
        "as_of": "2026-11-29",
        "source": "PyPI JSON API (test)",
        "packages": {
            f"pypi:{name}": {"source": f"https://pypi.org/project/{name}/{entry['version']}/", **entry}
            for name, entry in packages.items()
        },
    }


def test_items_without_a_package_are_checked_like_evidence(tmp_path: Path):
    """Hardware entries, their plugins and deployment paths: source page, plugin pin, plugin dormancy."""
    hardware = {
        "cpu": {"level": "official", "mechanism": "CPU", "install": "pip install fixture==1.0 fixplug==3.2.0", **DOC}
    }
    deployment = {"server": [{"tool": "srv", "level": "official", **DOC}]}
    snapshot = snapshot_file(fixplug={"version": "3.4.0", "date": "2024-01-01"})
    team = overlay(
        tmp_path,
        framework("fixture", hardware=hardware, deployment=deployment),
        files={audit.SNAPSHOT_FILE: snapshot},
    )
    result = run_audit(team)
    assert ids(result, "no-source-page") == {
        "no-source-page fixture hardware.cpu",
        "no-source-page fixture deployment.server[srv]",
    }
    assert ids(result, "old-pin") == {"old-pin fixture hardware.cpu[fixplug]"}
    assert ids(result, "dormant") == {"dormant fixture hardware.cpu[fixplug]"}


def test_versions_in_notes_are_checked_against_the_snapshot(tmp_path: Path):
    notes = {
        "newer": "Requires fixlib 2.4.0 (its wheel metadata).",
        "called-newest": "Tested with the newest fixlib 2.2.0.",
        "owned-newest": "fixlib's latest release is 2.1.0.",
        "dated-newest": "fixlib 2.2.1 (2026-09-01) is the newest in the snapshot of 2026-09-02.",
        "older": "fixlib==2.1.0 added the feature; fixlib 2.3 is fine.",
        "pre-release": "fixlib 2.5.0rc1 and fixlib 2.6 beta are out; fixlib 2.7.0.dev1 nightly.",
        "stopped": "Needs fixplug 9.0.0 from the vendor's own index.",
        "other-name": "fixlib-extra 9.9.9 is unrelated.",
    }
    tasks = {
        "image-classification": [
            {"name": name, "kind": "third-party-library", "note": note, **FACT} for name, note in notes.items()
        ]
    }
    # A note about the framework itself: 'latest X' alone is its own package's; "fixlib's newest" is fixlib's.
    note = "Latest 1.1.0 (2026-10-01); fixlib's newest release is 2.3.0."
    hardware = {"cpu": {"level": "official", "mechanism": "CPU", "note": note, **FACT}}
    snapshot = snapshot_file(
        fixlib={"version": "2.3.0", "date": "2026-10-01"},
        fixplug={"version": "3.4.0", "date": "2024-01-01"},
        fixture={"version": "1.2.0", "date": "2026-11-01"},
    )
    team = overlay(
        tmp_path, framework("fixture", tasks=tasks, hardware=hardware), files={audit.SNAPSHOT_FILE: snapshot}
    )
    found = {f.where for f in run_audit(team).findings if f.kind == "note-version" and f.framework == "fixture"}
    assert found == {
        "tasks.image-classification[newer][fixlib 2.4.0]",
        "tasks.image-classification[called-newest][fixlib 2.2.0]",
        "tasks.image-classification[owned-newest][fixlib 2.1.0]",
        "tasks.image-classification[dated-newest][fixlib 2.2.1]",
        "hardware.cpu[fixture 1.1.0]",
    }


def test_wheel_platform_claims_are_checked_against_the_snapshot(tmp_path: Path):
    def hw(note: str) -> dict:
        return {"level": "official", "mechanism": "X", "note": note, **FACT}

    hardware = {
        "cpu": hw("No aarch64 wheel on PyPI; build it yourself."),  # there is one: a finding
        "apple-silicon": hw("No macOS arm64 wheel on PyPI."),  # true
        "nvidia-gpu": hw("1.0.0 ships Windows wheels."),  # there are none: a finding
        "amd-gpu": hw("1.0.0 wheels: manylinux2014_x86_64, manylinux2014_aarch64. No Windows wheel."),  # true
        "intel-gpu": hw("0.9.0 had Windows wheels."),  # another release: not checked
    }
    platforms = ["any", "manylinux_aarch64", "manylinux_x86_64"]  # `any` is not a Windows wheel
    snapshot = snapshot_file(fixture={"version": "1.0.0", "date": "2026-10-01", "platforms": platforms})
    team = overlay(tmp_path, framework("fixture", hardware=hardware), files={audit.SNAPSHOT_FILE: snapshot})
    assert ids(run_audit(team), "platform-claim") == {
        "platform-claim fixture hardware.cpu[Linux aarch64]",
        "platform-claim fixture hardware.nvidia-gpu[Windows]",
    }


def test_the_snapshot_records_each_release_s_wheel_platforms():
    """The built-in snapshot says which platforms the newest release has wheels for; old snapshots stay valid."""
    from dlpick.kb import schema

    snapshot = yaml.safe_load((BUILTIN / audit.SNAPSHOT_FILE).read_text())
    pypi = {k: v for k, v in snapshot["packages"].items() if k.startswith("pypi:")}
    assert pypi and all("platforms" in entry for entry in pypi.values())
    assert {"manylinux_x86_64", "manylinux_aarch64", "macosx_x86_64"} <= set(pypi["pypi:mxnet"]["platforms"])
    assert "macosx_arm64" not in pypi["pypi:mxnet"]["platforms"]
    old = {"as_of": "2026-01-01", "source": "a test snapshot", "packages": {"pypi:x": {**release("1.0", "2025-01-01")}}}
    del old["packages"]["pypi:x"]["as_of"]
    schema.RegistrySnapshot.model_validate(old)


def snapshot_tool():
    import importlib.util

    path = BUILTIN.parent / "tools" / "registry_snapshot.py"
    spec = importlib.util.spec_from_file_location("registry_snapshot", path)
    assert spec and spec.loader
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_wheel_platform_tags_are_normalised():
    tool = snapshot_tool()
    assert tool.platform_tags("t-2.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl") == {
        "manylinux_x86_64"
    }
    assert tool.platform_tags("t-2.0-cp312-cp312-macosx_11_0_arm64.whl") == {"macosx_arm64"}
    assert tool.platform_tags("t-2.0-py3-none-any.whl") == {"any"}
    assert tool.platform_tags("t-2.0-cp312-cp312-win_amd64.whl") == {"win_amd64"}
    assert tool.platform_tags("t-2.0.tar.gz") == set()


def test_library_features_and_evidence_without_a_package_are_checked(tmp_path: Path):
    """A feature that is a library is held to the dormant rule; evidence without a package is one library with
    the evidence of the same name (before any parenthesis), packaged or not."""
    ecosystem = [
        {"kind": "experiment-tracking", "name": "OldBoard", "package": "oldboard", **FACT},
        {"kind": "onnx-export", "name": "onnx", **FACT},
    ]
    tasks = {
        "image-classification": [{"name": "GluonTS", "package": "gluonts", "kind": "official-library", **FACT}],
        "time-series": [{"name": "GluonTS (gluonts.mx models)", "kind": "third-party-library", **FACT}],
        "segmentation": [{"name": "Fixture ModelZoo (cv)", "kind": "model-zoo", **FACT}],
        "recommendation": [{"name": "Fixture ModelZoo (recommend)", "kind": "model-zoo", "status": "dormant", **FACT}],
    }
    deployment = {"edge": [{"tool": "OldRT (edge runtime)", "package": "old_rt", "level": "official", **FACT}]}
    snapshot = snapshot_file(
        oldboard={"version": "2.5.3", "date": "2023-06-05"}, **{"old-rt": {"version": "2.12", "date": "2022-11-22"}}
    )
    team = overlay(
        tmp_path,
        framework("fixture", ecosystem=ecosystem, tasks=tasks, deployment=deployment),
        files={audit.SNAPSHOT_FILE: snapshot},
    )
    result = run_audit(team)
    assert ids(result, "dormant") == {
        "dormant fixture ecosystem[OldBoard]",
        "dormant fixture deployment.edge[OldRT (edge runtime)]",  # old_rt is old-rt, as PyPI compares names
    }
    mismatches = {f.where: f.message for f in result.findings if f.kind == "library-mismatch"}
    assert "fixture tasks.time-series" in mismatches["package[gluonts]"]  # with the packaged GluonTS evidence
    assert "fixture tasks.image-classification" in mismatches["package[gluonts]"]
    assert "statuses active, dormant" in mismatches["package[fixture modelzoo]"]


def test_the_snapshot_tool_records_platforms_and_keeps_what_it_cannot_read(tmp_path, monkeypatch, capsys):
    """PyPI entries get their wheel platforms; an entry whose registry cannot be read is kept, dated when read."""
    tool = snapshot_tool()
    earlier = tmp_path / "registry-snapshot.yaml"
    kept = {"version": "4.22.0", "date": dt.date(2024, 12, 11), "source": "https://www.npmjs.com/package/x/v/4.22.0"}
    earlier.write_text(yaml.safe_dump({"as_of": dt.date(2026, 11, 29), "source": "s", "packages": {"npm:x": kept}}))
    monkeypatch.setattr(tool, "SNAPSHOT", earlier)
    files = [
        {"filename": "p-1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", "upload_time": "2026-01-02"},
        {"filename": "p-1.0-cp312-cp312-win_amd64.whl", "upload_time": "2026-01-01T10:00:00"},
        {"filename": "p-1.0.tar.gz", "upload_time": "2026-01-01T09:00:00"},
    ]

    def get(url: str) -> dict:
        if "registry.npmjs.org" in url:
            raise OSError("unreachable")
        return {"releases": {"1.0": files, "1.1rc1": files}}

    monkeypatch.setattr(tool, "_get", get)
    monkeypatch.setattr(tool, "wanted", lambda extra: {"pypi:p", "npm:x"})
    tool.main([])
    written = yaml.safe_load(capsys.readouterr().out)
    assert written["packages"]["pypi:p"]["platforms"] == ["manylinux_aarch64", "win_amd64"]
    assert written["packages"]["pypi:p"]["version"] == "1.0"
    assert written["packages"]["npm:x"] == {"as_of": dt.date(2026, 11, 29), **kept}
    from dlpick.kb import schema

    schema.RegistrySnapshot.model_validate(written)
