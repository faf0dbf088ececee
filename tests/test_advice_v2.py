"""Advice v2 (issue 25): hard constraints before scoring, the primary hardware, scale, licences, one
fact in one criterion, community as adoption. Each test guards one promise of the redesign."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FACT, framework

from dlpick.advise import scoring
from dlpick.advise.answers import Answers, normalise
from dlpick.errors import BadInput
from dlpick.kb import knowledge

GPU = {"level": "official", "mechanism": "CUDA", **FACT}
CPU = {"level": "official", "mechanism": "CPU", **FACT}
TPU_PLUGIN = {"level": "vendor", "mechanism": "plugin", **FACT}


def _ranked(kb, answers):
    result = scoring.recommend(answers, kb)
    return result, {r.framework: r for r in result.ranking}


def test_only_the_primary_hardware_is_a_hard_constraint(synthetic_kb) -> None:
    kb = synthetic_kb(
        framework("both", hardware={"cpu": CPU, "nvidia-gpu": GPU}),
        framework("gpuless", hardware={"cpu": CPU}),
    )
    # The GPU is secondary: the framework that lacks it is ranked, scored 0 there, and warned about.
    result, ranked = _ranked(kb, Answers(task="image-classification", hardware=["cpu", "nvidia-gpu"]))
    assert set(ranked) == {"both", "gpuless"}
    assert any("nvidia-gpu (secondary hardware)" in w for w in ranked["gpuless"].warnings)
    assert ranked["both"].criteria["hardware"].score > ranked["gpuless"].criteria["hardware"].score
    # The GPU is primary (named, or listed first): lacking it excludes, with the reason.
    for answers in (
        Answers(task="image-classification", hardware=["cpu", "nvidia-gpu"], primary_hardware="nvidia-gpu"),
        Answers(task="image-classification", hardware=["nvidia-gpu", "cpu"]),
    ):
        result, ranked = _ranked(kb, answers)
        assert set(ranked) == {"both"}
        assert "no known way to train on nvidia-gpu, the primary hardware" in result.excluded[0].reasons


def test_secondary_hardware_cannot_outweigh_the_primary(synthetic_kb) -> None:
    kb = synthetic_kb(
        framework(
            "tpu-first", hardware={"tpu": {"level": "primary", "mechanism": "XLA", **FACT}, "nvidia-gpu": TPU_PLUGIN}
        ),
        framework(
            "gpu-first", hardware={"tpu": TPU_PLUGIN, "nvidia-gpu": {"level": "primary", "mechanism": "CUDA", **FACT}}
        ),
    )
    _, ranked = _ranked(kb, Answers(task="image-classification", hardware=["tpu", "nvidia-gpu"]))
    # An average would tie them; the primary device decides.
    assert ranked["tpu-first"].criteria["hardware"].score > ranked["gpu-first"].criteria["hardware"].score
    assert "(primary)" in ranked["tpu-first"].criteria["hardware"].reason


def test_distributed_counts_only_at_the_scale_that_needs_it(synthetic_kb) -> None:
    sharded = {"level": "sharded", "tools": ["fsdp"], **FACT}
    kb = synthetic_kb(framework("big", distributed=sharded), framework("small"))  # small: single-node
    _, one = _ranked(kb, Answers(task="image-classification", scale="one-device"))
    assert not one["big"].criteria["distributed"].applicable
    _, machine = _ranked(kb, Answers(task="image-classification"))  # default: one machine
    assert machine["big"].criteria["distributed"].score == machine["small"].criteria["distributed"].score == 1.0
    _, nodes = _ranked(kb, Answers(task="image-classification", scale="multi-node"))
    assert nodes["big"].criteria["distributed"].score > nodes["small"].criteria["distributed"].score


def _agpl(name: str = "yolo") -> dict[str, object]:
    return {
        "name": name,
        "kind": "third-party-library",
        "licence": {"spdx": "AGPL-3.0", **FACT},
        **FACT,
    }


def test_a_licence_policy_excludes_copyleft_frameworks_and_leaves_out_copyleft_libraries(synthetic_kb) -> None:
    vision = {"name": "vision", "kind": "official-library", **FACT}
    kb = synthetic_kb(
        framework("open", licence={"spdx": "Apache-2.0", **FACT}, tasks={"object-detection": [vision, _agpl()]}),
        framework("copyleft", licence={"spdx": "GPL-3.0", **FACT}),
    )
    result, ranked = _ranked(kb, Answers(task="object-detection", licence_policy="permissive-only"))
    assert set(ranked) == {"open"}
    assert "licence GPL-3.0 is not permissive" in result.excluded[0].reasons[0]
    task_fit = ranked["open"].criteria["task_fit"]
    assert "left out by the licence policy: yolo (AGPL-3.0)" in task_fit.reason
    # Without a policy the library counts, and the team is told what its licence asks.
    _, ranked = _ranked(kb, Answers(task="object-detection"))
    assert "yolo (third party library" in ranked["open"].criteria["task_fit"].reason
    assert "yolo" not in task_fit.reason.split("left out")[0]
    assert any("yolo is AGPL-3.0" in w for w in ranked["open"].warnings)


def test_the_hardware_level_is_not_counted_again_in_ecosystem_deployment_or_distributed(synthetic_kb) -> None:
    kb = synthetic_kb(
        framework("plugin", hardware={"tpu": TPU_PLUGIN}),
        framework("own", hardware={"tpu": {"level": "official", "mechanism": "XLA", **FACT}}),
    )
    _, ranked = _ranked(kb, Answers(task="image-classification", hardware=["tpu"], deployment=["server"]))
    for name in ("ecosystem", "deployment", "distributed"):
        assert ranked["plugin"].criteria[name].score == ranked["own"].criteria[name].score, name
    assert ranked["plugin"].criteria["hardware"].score < ranked["own"].criteria["hardware"].score


def test_adoption_not_publisher_and_depth_with_diminishing_returns(synthetic_kb) -> None:
    """A widely installed third-party library beats an official one few install; more libraries add less
    each, and never past 1."""
    kb = knowledge.load()
    ranks = kb.adoption.pypi_download_rank
    ordered = sorted(ranks, key=ranks.get)
    popular, rare = ordered[len(ordered) // 2], ordered[-1]  # a middling library and the least installed
    lib = lambda name, kind, package: {"name": name, "kind": kind, "package": package, **FACT}  # noqa: E731
    kb = synthetic_kb(
        framework("third", tasks={"generative": [lib("popular", "third-party-library", popular)]}),
        framework("official", tasks={"generative": [lib("rare", "official-library", rare)]}),
        framework(
            "deep",
            tasks={"generative": [lib(f"l{i}", "third-party-library", popular) for i in range(6)]},
        ),
    )
    _, ranked = _ranked(kb, Answers(task="generative"))
    fit = {f: r.criteria["task_fit"].score for f, r in ranked.items()}
    assert fit["third"] > fit["official"]
    assert fit["third"] < fit["deep"] <= 1.0


def test_release_cadence_is_a_minor_share_of_community(synthetic_kb) -> None:
    releases = {"value": 4, "versions": ["1.0.0", "1.1.0", "1.2.0", "1.3.0"], **FACT}
    kb = synthetic_kb(
        framework("busy", community={"pypi_download_rank": {"value": 10000, **FACT}, "releases_last_year": releases}),
        framework("used", community={"pypi_download_rank": {"value": 100, **FACT}}),
    )
    _, ranked = _ranked(kb, Answers(task="image-classification"))
    assert ranked["used"].criteria["community"].score > ranked["busy"].criteria["community"].score


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"task": "image-classification", "scale": "galaxy"}, "unknown scale 'galaxy'"),
        ({"task": "image-classification", "licence_policy": "gpl"}, "unknown licence policy 'gpl'"),
        ({"task": "image-classification", "primary_hardware": "abacus"}, "unknown hardware 'abacus'"),
    ],
)
def test_new_answers_are_checked(raw, message) -> None:
    with pytest.raises(BadInput, match=message):
        normalise(raw, knowledge.load().vocabulary, source="team.yaml")


def test_primary_hardware_joins_the_hardware_list() -> None:
    answers = normalise(
        {"task": "image-classification", "hardware": ["cpu"], "primary_hardware": "tpu"}, knowledge.load().vocabulary
    )
    assert answers.hardware == ["tpu", "cpu"] and answers.primary == "tpu" and answers.secondary == ["cpu"]


def test_a_path_needing_what_the_described_device_lacks_is_no_path(synthetic_kb) -> None:
    """Feasibility before scoring: on a device without an NPU, an NPU-only path is not a path, so the
    framework is excluded whatever the team's familiarity; on a device with one it counts fully."""
    npu = {"tool": "npu backend", "level": "official", "requires": "an Arm Ethos-U NPU", **FACT}
    kb = synthetic_kb(
        framework("npu-only", deployment={"microcontroller": [npu]}),
        framework("micro", deployment={"microcontroller": [{"tool": "micro", "level": "official", **FACT}]}),
    )
    base = {"task": "image-classification", "deployment": ["microcontroller"], "familiarity": {"npu-only": 5}}
    lacking = normalise({**base, "devices": {"microcontroller": {"core": "xtensa", "npu": "none"}}}, kb.vocabulary)
    result, ranked = _ranked(kb, lacking)
    assert set(ranked) == {"micro"}
    assert "needs an Arm Ethos-U NPU; the device has npu none" in result.excluded[0].reasons[0]
    having = normalise({**base, "devices": {"microcontroller": {"npu": "ethos-u"}}}, kb.vocabulary)
    _, ranked = _ranked(kb, having)
    assert ranked["npu-only"].criteria["deployment"].score == ranked["micro"].criteria["deployment"].score
    assert not ranked["npu-only"].warnings
    _, undescribed = _ranked(kb, normalise(base, kb.vocabulary))  # not described: a partial path, warned
    assert undescribed["npu-only"].criteria["deployment"].score < undescribed["micro"].criteria["deployment"].score


def test_native_windows_excludes_a_linux_only_gpu_build(synthetic_kb) -> None:
    """A team on native Windows cannot train on a GPU build that runs on Linux only (TensorFlow after
    2.10, JAX): excluded with the reason; not saying the OS, or a build recorded for Windows, keeps it."""
    linux_gpu = {"level": "official", "mechanism": "CUDA", "os": ["linux"], **FACT}
    both_gpu = {"level": "official", "mechanism": "CUDA", "os": ["linux", "windows"], **FACT}
    kb = synthetic_kb(
        framework("linux-only", hardware={"nvidia-gpu": linux_gpu}),
        framework("both", hardware={"nvidia-gpu": both_gpu}),
    )
    windows = normalise({"task": "image-classification", "hardware": ["nvidia-gpu"], "os": "windows"}, kb.vocabulary)
    result, ranked = _ranked(kb, windows)
    assert set(ranked) == {"both"}
    assert result.excluded[0].reasons == ["nvidia-gpu support runs on linux only, not natively on windows"]
    _, unsaid = _ranked(kb, normalise({"task": "image-classification", "hardware": ["nvidia-gpu"]}, kb.vocabulary))
    assert set(unsaid) == {"both", "linux-only"}


def test_an_mlperf_round_date_is_not_quoted_as_a_second_reason(synthetic_kb) -> None:
    result_item = {
        "kind": "mlperf-training",
        "name": "MLPerf run",
        "hardware": ["nvidia-gpu"],
        "round": {"version": "v5.1", "date": "2026-06-01", **FACT},
        **FACT,
    }
    gpu = {"nvidia-gpu": {"level": "official", "mechanism": "CUDA", **FACT}}
    kb = synthetic_kb(
        framework("fast", hardware=gpu, performance=[{"kind": "graph-compiler", "name": "jit", **FACT}, result_item]),
        framework("plain", hardware=gpu, performance=[{"kind": "graph-compiler", "name": "jit", **FACT}]),
    )
    result, _ = _ranked(
        kb, Answers(task="image-classification", hardware=["nvidia-gpu"], priorities={"performance": 5})
    )
    lines = [line for line in result.ranking[0].reasons if line.startswith("performance")]
    assert lines and "MLPerf run" in lines[0] and "round v5.1" not in lines[0]


def test_the_new_answers_have_flags_that_mean_what_the_answers_file_says(tmp_path: Path):
    from typer.testing import CliRunner

    from dlpick.cli.app import app

    answers = tmp_path / "answers.yaml"
    answers.write_text(
        "task: image-classification\nhardware: [nvidia-gpu, tpu]\nprimary_hardware: tpu\nscale: multi-node\n"
        "licence_policy: permissive-only\nos: linux\n"
    )
    runner = CliRunner()
    by_file = runner.invoke(app, ["recommend", "-a", str(answers), "--json", "--no-input"])
    flags = ["--task", "image-classification", "--hardware", "nvidia-gpu,tpu", "--primary-hardware", "tpu"]
    flags += ["--scale", "multi-node", "--licence-policy", "permissive-only", "--os", "linux"]
    by_flags = runner.invoke(app, ["recommend", *flags, "--json", "--no-input"])
    assert by_file.exit_code == 0 and by_flags.exit_code == 0, by_flags.output
    first, second = json.loads(by_file.stdout), json.loads(by_flags.stdout)
    assert first["ranking"] == second["ranking"] and first["answers"] == second["answers"]
    assert second["answers"]["primary_hardware"] == "tpu" and second["answers"]["scale"] == "multi-node"
    wrong = runner.invoke(app, ["recommend", "--task", "image-classification", "--scale", "multinode", "--no-input"])
    assert wrong.exit_code == 2 and "--scale: unknown scale 'multinode'; did you mean 'multi-node'?" in wrong.output
