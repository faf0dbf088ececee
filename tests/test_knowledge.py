"""The knowledge base: the built-in files validate, every scored fact is sourced, overlays merge."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
import yaml
from conftest import BUILTIN, FACT, framework, write_kb

from dlpick.errors import BadInput, KnowledgeError
from dlpick.kb import knowledge

SCORED_KEYS = {"level", "kind", "value", "version", "versions"}


def _facts(node, path=()):
    """Every mapping in a framework file that states something scored."""
    if isinstance(node, dict):
        if SCORED_KEYS & set(node):
            yield path, node
        for key, value in node.items():
            yield from _facts(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _facts(value, (*path, index))


def test_builtin_knowledge_validates():
    kb, problems = knowledge.validate_dirs([BUILTIN])
    assert problems == []
    assert set(kb.frameworks) == set(kb.vocabulary.frameworks)
    assert set(kb.vocabulary.frameworks) >= {
        "pytorch",
        "tensorflow",
        "jax",
        "mxnet",
        "caffe",
        "theano",
        "pytensor",
        "mindspore",
        "paddlepaddle",
    }


@pytest.mark.parametrize("path", sorted((BUILTIN / "frameworks").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_scored_fact_has_source_and_date(path: Path):
    data = yaml.safe_load(path.read_text())
    today = dt.date.today()
    facts = list(_facts(data))
    assert len(facts) >= 10
    for where, fact in facts:
        assert fact.get("source"), f"{path.name}: {'.'.join(map(str, where))} has no source"
        as_of = fact.get("as_of")
        assert isinstance(as_of, dt.date) and as_of <= today, f"{path.name}: {where} as_of {as_of!r}"
    # Retired frameworks say since when and how to move on.
    status = data["status"]
    if status["value"] == "retired":
        assert status.get("since") and status.get("migration")


def test_retired_frameworks_are_the_expected_ones():
    kb = knowledge.load()
    retired = {fid for fid, fw in kb.frameworks.items() if fw.retired}
    assert {"theano", "caffe", "mxnet"} <= retired
    assert kb.frameworks["theano"].successor == "pytensor"


def test_overlay_merges_key_by_key_and_adds(tmp_path: Path):
    overlay = tmp_path / "team"
    (overlay / "frameworks").mkdir(parents=True)
    (overlay / "frameworks" / "jax.yaml").write_text(
        "id: jax\nhardware:\n"
        "  fpga: {level: community, mechanism: our flow, source: team wiki page, as_of: 2026-10-01}\n"
    )
    write_kb(overlay, [framework("inhouse")], shared=False)
    (overlay / "criteria.yaml").write_text("default_weights: {performance: 5}\n")
    kb = knowledge.load(overlay)
    builtin = knowledge.load()
    assert kb.frameworks["jax"].hardware["fpga"].mechanism == "our flow"
    assert kb.frameworks["jax"].hardware["tpu"] == builtin.frameworks["jax"].hardware["tpu"]
    assert "inhouse" in kb.frameworks and "inhouse" in kb.vocabulary.frameworks
    assert kb.criteria.default_weights["performance"] == 5
    assert kb.criteria.default_weights["task_fit"] == builtin.criteria.default_weights["task_fit"]
    assert kb.digest != builtin.digest


def test_every_problem_is_reported_with_file_and_line(tmp_path: Path):
    bad = framework("bad", hardware={"warp-drive": {"level": "official", "mechanism": "x", **FACT}})
    bad["status"] = {"value": "retired", **FACT}
    bad["release"]["as_of"] = "yesterday"
    write_kb(tmp_path, [bad, framework("fine")])
    (tmp_path / "frameworks" / "broken.yaml").write_text("id: broken\nname: [unclosed\n")
    kb, problems = knowledge.validate_dirs([tmp_path])
    text = "\n".join(problems)
    assert "bad.yaml:13: release.as_of: Input should be a valid date" in text
    assert "bad.yaml:14: status: Value error, a retired framework needs `since`" in text
    assert "broken.yaml:3: " in text
    with pytest.raises(KnowledgeError) as info:
        knowledge.load(tmp_path)
    assert "more; run `dlpick kb validate`" in str(info.value)


@pytest.mark.parametrize(
    "source",
    [
        "https//pypi.org/project/x/",
        "https:/pypi.org/project/x/",
        "htps://pypi.org/x",
        "https://pypi.org/x y",
        "https://pypi",
    ],
)
def test_a_malformed_source_url_is_refused(tmp_path: Path, source: str):
    bad = framework("bad")
    bad["release"]["source"] = source
    fine = framework("fine")
    fine["release"]["source"] = "release notes handed out at the 2026 meetup"  # a document, not a link
    write_kb(tmp_path, [bad, fine])
    _, problems = knowledge.validate_dirs([tmp_path])
    assert len(problems) == 1, problems
    assert "bad.yaml:" in problems[0] and "release.source" in problems[0] and "malformed URL" in problems[0]


def test_a_framework_in_maintenance_needs_since(tmp_path: Path):
    bad = framework("bad")
    bad["status"] = {"value": "maintenance", **FACT}
    write_kb(tmp_path, [bad, framework("fine", status={"value": "maintenance", "since": "2024-05-01", **FACT})])
    _, problems = knowledge.validate_dirs([tmp_path])
    assert len(problems) == 1 and "bad.yaml:" in problems[0], problems
    assert "status: Value error, a maintenance framework needs `since`" in problems[0]


def test_unknown_ids_in_framework_files_are_named(tmp_path: Path):
    odd = framework(
        "odd",
        hardware={"quantum": {"level": "official", "mechanism": "x", **FACT}},
        status={"value": "retired", "since": "2020-01-01", "successor": "pytorh", **FACT},
    )
    write_kb(tmp_path, [odd])
    _, problems = knowledge.validate_dirs([tmp_path])
    assert any("odd.yaml:" in p and "hardware.quantum: unknown hardware 'quantum'" in p for p in problems)
    assert any("status.successor: unknown framework 'pytorh'" in p for p in problems)


def test_cache_is_used_and_invalidated(tmp_path: Path, monkeypatch):
    directory = write_kb(tmp_path / "kb", [framework("a")])
    first = knowledge.load(directory)
    cached = list(Path(os.environ["XDG_CACHE_HOME"]).rglob("knowledge-*.json"))
    assert len(cached) == 1
    # A changed file is revalidated: an error appears although a cache exists.
    path = directory / "frameworks" / "a.yaml"
    path.write_text(path.read_text().replace("name: A", "name: [A"))
    with pytest.raises(KnowledgeError):
        knowledge.load(directory)
    assert first.frameworks["a"].name == "A"


def test_a_misspelt_hardware_id_on_a_path_or_evidence_is_named_with_its_line(tmp_path: Path):
    """An item limited to some hardware with a misspelt id would never count, silently: it is an error."""
    text = (BUILTIN / "frameworks" / "mindspore.yaml").read_text()
    assert "hardware: [ascend-npu, cpu]" in text
    overlay = tmp_path / "ours" / "frameworks"
    overlay.mkdir(parents=True)
    misspelt = text.replace("hardware: [ascend-npu, cpu]", "hardware: [ascend-npux, cpu]", 1)
    (overlay / "mindspore.yaml").write_text(misspelt)
    line = text[: text.index("hardware: [ascend-npu, cpu]")].count("\n") + 1
    _, problems = knowledge.validate_dirs(knowledge.knowledge_dirs(tmp_path / "ours"))
    assert any(
        f"mindspore.yaml:{line}: deployment.server.0.hardware: unknown hardware 'ascend-npux'" in problem
        and "did you mean 'ascend-npu'" in problem
        for problem in problems
    ), problems


def test_a_release_count_must_match_the_versions_it_lists(tmp_path: Path):
    text = (BUILTIN / "frameworks" / "tensorflow.yaml").read_text()
    old = "value: 1\n    source: https://pypi.org/project/tensorflow/#history"
    assert old in text
    overlay = tmp_path / "ours" / "frameworks"
    overlay.mkdir(parents=True)
    (overlay / "tensorflow.yaml").write_text(text.replace(old, old.replace("value: 1", "value: 3")))
    _, problems = knowledge.validate_dirs(knowledge.knowledge_dirs(tmp_path / "ours"))
    wrong = [p for p in problems if "community.releases_last_year" in p and "value is 3 but versions lists 1" in p]
    assert wrong, problems


# --- the typed model (dlpick.kb.model) --------------------------------------------------------


def test_the_model_is_read_only_and_mirrors_the_validated_data():
    from dlpick.kb import model

    kb = knowledge.load()
    fw = kb.framework("theano")
    with pytest.raises(AttributeError):
        fw.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        fw.hardware["cpu"] = fw.hardware["cpu"]  # type: ignore[index]
    shown = fw.to_json()  # a copy: changing it changes nothing in the model
    shown["name"] = "x"
    shown["status"]["successor"] = "x"
    assert fw.name == fw.to_json()["name"] == "Theano" and fw.to_json()["status"]["successor"] == "pytensor"
    assert isinstance(fw.packages, tuple) and isinstance(fw.tasks.get("image-classification", ()), tuple)
    assert fw.retired and fw.successor == "pytensor" and fw.status.since and fw.status.migration
    assert not kb.framework("pytorch").retired and kb.framework("pytorch").successor is None
    assert kb.framework("pytorch").import_names == ("torch",)
    # The typed model and the plain data it was built from say the same; rebuilding gives an equal model.
    data = fw.to_json()
    assert data["status"]["successor"] == fw.successor and data["name"] == fw.name
    assert model.framework_from_json(data, fw.builds) == fw
    with pytest.raises(BadInput, match="unknown framework 'thenao'; did you mean 'theano'"):
        kb.framework("thenao")


def test_the_cached_model_equals_the_validated_one(tmp_path: Path):
    validated, problems = knowledge.validate_dirs(knowledge.knowledge_dirs())
    assert problems == [] and validated is not None
    knowledge.load()  # writes the cache (or reads it)
    cached = knowledge.load()
    assert cached.frameworks == validated.frameworks
    assert cached.criteria == validated.criteria and cached.vocabulary == validated.vocabulary
    assert cached.adoption == validated.adoption and cached.as_of == validated.as_of


def test_one_rule_chooses_the_install_command():
    kb = knowledge.load()
    torch = kb.framework("pytorch")
    assert torch.install_command("nvidia-gpu") == torch.hardware["nvidia-gpu"].install
    assert torch.install_command("cpu") == torch.hardware["cpu"].install
    # Hardware without a command of its own falls back to the CPU's.
    without = next(h for h, s in kb.framework("tensorflow").hardware.items() if not s.install)
    assert kb.framework("tensorflow").install_command(without) == kb.framework("tensorflow").hardware["cpu"].install
    # Several: the strongest accelerator that has one.
    assert torch.install_choice(["cpu", "nvidia-gpu"]) == ("nvidia-gpu", torch.hardware["nvidia-gpu"].install)


def test_builds_come_from_the_knowledge_base(tmp_path: Path):
    kb = knowledge.load()
    tf = kb.framework("tensorflow")
    assert {"tensorflow", "tensorflow-cpu", "tensorflow-rocm"} <= tf.exclusive_builds
    assert "tensorflow-metal" in tf.distributions and "tensorflow-metal" not in tf.exclusive_builds
    assert tf.cpu_builds == {"tensorflow-cpu"}
    assert kb.framework("pytorch").distributions[0] == "torch"
    overlay = tmp_path / "ours"
    (overlay / "frameworks").mkdir(parents=True)
    (overlay / "builds.yaml").write_text("frameworks:\n  pytorh:\n    - {package: torch}\n")
    _, problems = knowledge.validate_dirs(knowledge.knowledge_dirs(overlay))
    assert any("builds.yaml" in p and "unknown framework 'pytorh'" in p and "pytorch" in p for p in problems)


def test_a_signal_while_the_knowledge_validates_is_held_until_validation_ends(monkeypatch: pytest.MonkeyPatch):
    """Delivered inside pydantic-core, a signal came out as its SchemaError with a traceback (seen in CI):
    validate_data holds SIGINT/SIGTERM/SIGHUP while pydantic runs and delivers the first one after."""
    import signal
    import time

    from dlpick import processes

    finished = []

    def validating(dirs: list[Path]) -> tuple[dict, list[str]]:
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.05)  # without the hold the handler raises here
        finished.append(True)
        return {}, []

    def interrupt(signum: int, frame: object) -> None:
        raise processes.Interrupted(signum)

    monkeypatch.setattr(knowledge, "_validate_data", validating)
    previous = signal.signal(signal.SIGHUP, interrupt)
    try:
        with pytest.raises(processes.Interrupted):
            knowledge.validate_data([])
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert finished == [True]


# --- issue 25: facts corrected and recorded ------------------------------------------------------


def test_every_builtin_framework_records_its_licence_and_ultralytics_is_agpl() -> None:
    from dlpick.kb import knowledge

    kb = knowledge.load()
    assert {fid: fw.licence is not None for fid, fw in kb.frameworks.items()} == dict.fromkeys(kb.frameworks, True)
    yolo = [i for i in kb.frameworks["pytorch"].tasks["object-detection"] if i.package == "ultralytics"]
    assert yolo and yolo[0].licence is not None and yolo[0].licence.spdx == "AGPL-3.0"


def test_serving_paths_run_only_where_their_hardware_does() -> None:
    """JAX on TPU has its serving paths (vLLM TPU, JetStream); PyTorch on Ascend has vLLM-Ascend and MindIE,
    and AOTInductor / Triton are no paths on TPU or Ascend."""
    from dlpick.advise.criteria import usable_paths
    from dlpick.kb import knowledge

    kb = knowledge.load()
    jax_tpu = {p.tool.split(" (")[0] for p in usable_paths(kb.frameworks["jax"], "server", ["tpu"])}
    assert {"vLLM TPU", "JetStream"} <= jax_tpu
    for hardware in ("tpu", "ascend-npu"):
        tools = " ".join(p.tool for p in usable_paths(kb.frameworks["pytorch"], "server", [hardware]))
        assert "AOTInductor" not in tools and "Triton" not in tools, hardware
    ascend = " ".join(p.tool for p in usable_paths(kb.frameworks["pytorch"], "server", ["ascend-npu"]))
    assert "vllm-ascend" in ascend and "MindIE" in ascend


def test_issue_25_fact_corrections() -> None:
    from dlpick.kb import knowledge

    kb = knowledge.load()
    ms = kb.frameworks["mindspore"]
    assert "ms-release.obs" not in (ms.hardware["ascend-npu"].install or "")
    assert "No Linux aarch64 wheel" not in (ms.hardware["cpu"].note or "")
    rl = ms.tasks["reinforcement-learning"][0]
    assert rl.status == "dormant" and rl.last_release is not None and rl.last_release.version == "0.7.0"
    assert kb.frameworks["pytorch"].hardware["intel-gpu"].level == "experimental"
    pytensor = kb.frameworks["pytensor"].community.releases_last_year
    assert pytensor is not None and pytensor.value == len(pytensor.versions or ()) == 34
    assert "mxnet==" in (kb.frameworks["mxnet"].hardware["apple-silicon"].install or "")
    maxtext = [i for i in kb.frameworks["jax"].tasks["nlp-transformers"] if i.package == "maxtext"]
    assert maxtext and maxtext[0].kind == "official-library"
