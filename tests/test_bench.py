"""`dlpick bench`: real runs at tiny sizes, equivalent models, failures as errors, and recommend --bench."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_imports import FRAMEWORK_MODULES, probe
from typer.testing import CliRunner

from dlpick.advise import scoring
from dlpick.advise.answers import Answers, normalise
from dlpick.cli.app import app
from dlpick.kb import knowledge
from dlpick.machine import bench as bench_mod
from dlpick.machine import bench_engine, bench_projects, bench_trust, bench_worker
from dlpick.verify import requirements

runner = CliRunner()
KB = knowledge.load()


def installed(*distributions: str) -> bool:
    for name in distributions:
        try:
            metadata.version(name)
            return True
        except metadata.PackageNotFoundError:
            continue
    return False


INSTALLED = {
    "pytorch": installed("torch"),
    "tensorflow": installed("tensorflow", "tensorflow-cpu"),
    "jax": installed("jax"),
    "paddlepaddle": installed("paddlepaddle", "paddlepaddle-gpu"),
}


def one_line_error(result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dlpick: error: ") and "Traceback" not in result.output
    return lines[0]


# --- a real run, once for the module ------------------------------------------------------------


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`dlpick bench --json` at tiny sizes with whatever is installed here (torch and tensorflow-cpu in CI)."""
    if not any(INSTALLED.values()):
        pytest.skip("none of PyTorch, TensorFlow, JAX, PaddlePaddle is installed here")
    home = tmp_path_factory.mktemp("bench-home")
    out = home / "out.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("XDG_DATA_HOME", str(home / "data"))
        mp.setenv("NO_COLOR", "1")
        args = ["bench", "--quick", "--steps", "2", "--batch", "4", "--device", "cpu", "--json", "--out", str(out)]
        result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return {"data": data, "stderr": result.stderr, "out": out, "home": home}


def test_bench_measures_every_installed_framework(real_run):
    data = real_run["data"]
    assert data["format"] == bench_mod.FORMAT and data["created"].endswith("Z")
    assert data["machine"]["cpu_model"] and data["machine"]["devices"]
    assert set(data["models"]) == {"mlp", "cnn"}
    assert data["models"]["cnn"]["batch"] == 4 and data["models"]["cnn"]["steps"] == 2
    by_id = {f["framework"]: f for f in data["frameworks"]}
    for fid, present in INSTALLED.items():
        entry = by_id[fid]
        if not present:  # skipped, and the output says so with the install command
            assert entry["status"] == "not installed" and entry["models"] == {}
            assert entry["install"]
            continue
        assert entry["status"] == "measured", entry["error"]
        assert entry["version"] and entry["device"] == "cpu"
        for model, m in entry["models"].items():
            assert m["status"] == "ok"
            assert m["device"] == "cpu" and m["device_name"] == data["machine"]["cpu_model"]
            for key in ("import_s", "steps_per_s", "samples_per_s", "peak_rss_mb"):
                assert isinstance(m[key], (int, float)) and m[key] > 0, (fid, model, key)
            # samples/s = steps/s x batch, each rounded as printed (0.1 and 0.01): a slow, loaded machine
            # gives small figures (0.66 steps/s, 2.6 samples/s), where a relative tolerance is too tight.
            assert m["samples_per_s"] == pytest.approx(m["steps_per_s"] * 4, abs=0.05 + 0.005 * 4)
            # 5 timed repeats by default: the figure is their median, with its spread and the load
            assert m["repeats"] == 5 and len(m["repeat_s"]) == len(m["repeat_steps_per_s"]) == 5
            assert m["steps_per_s"] == pytest.approx(sorted(m["repeat_steps_per_s"])[2], rel=0.01)
            assert m["spread"] >= 0 and isinstance(m["warnings"], list)
            assert m["worker_version"] == bench_worker.VERSION and "others_cpu" in m["load"]
    assert data["repeats"] == 5 and data["worker"]["version"] == bench_worker.VERSION
    assert data["trust"]["max_spread"] == bench_trust.MAX_SPREAD and "busy" in data["load"]
    assert isinstance(data["warnings"], list)
    assert "bench: pytorch mlp" in real_run["stderr"] or not INSTALLED["pytorch"]


def test_bench_saves_latest_a_timestamped_copy_and_out(real_run):
    folder = real_run["home"] / "data" / "dlpick" / "bench"
    latest = json.loads((folder / "latest.json").read_text())
    assert latest == real_run["data"] == json.loads(real_run["out"].read_text())
    assert len(list(folder.glob("bench-*.json"))) == 1


def test_bench_models_are_the_templates_own(real_run):
    """Every framework trains its template's project (tabular-classification: mlp, image-classification:
    cnn) through its engine; the parameter count is the engine's own (the elements of its weights)."""
    data = real_run["data"]
    measured = [entry for entry in data["frameworks"] if entry["status"] == "measured"]
    assert measured, "no framework measured"
    for entry in measured:
        assert entry["worker"] == bench_engine.WORKER, entry["framework"]
        for model, figure in entry["models"].items():
            template = figure["template"]
            assert template["framework"] == entry["framework"] and template["task"] == bench_engine.TASKS[model]
            assert figure["parameters"] == sum(figure["parameter_arrays"].values()) > 0
            assert data["models"][model]["parameters_by_framework"][entry["framework"]] == figure["parameters"]
    for model in ("mlp", "cnn"):
        assert data["models"][model]["parameters"] is None and data["models"][model]["layer_parameters"] is None
    if INSTALLED["pytorch"]:  # the template's MLP: features -> 64 -> 64 -> classes (wine: 13 features, 3 classes)
        torch_mlp = next(e for e in measured if e["framework"] == "pytorch")["models"]["mlp"]
        assert torch_mlp["parameters"] == (13 * 64 + 64) + (64 * 64 + 64) + (64 * 3 + 3)


def test_bench_table_output(real_run, capsys):
    from dlpick.cli import bench as bench_cli

    bench_cli.render_bench(real_run["data"], [real_run["out"]])
    text = capsys.readouterr().out
    assert "samples/s" in text and "peak RSS" in text and "spread" in text
    assert "on cpu: " in text and "no device ran" not in text
    for fid, present in INSTALLED.items():
        if present:
            assert fid in text
        else:
            assert f"{KB.frameworks[fid].name} not installed, not measured" in text
    assert str(real_run["out"]) in text


# --- failures are errors, never numbers ---------------------------------------------------------


def fake_worker(results: dict[tuple[str, str], dict[str, Any]]):
    def run_worker(framework: str, model: str, spec: Any, device: str, timeout: float, *_where: Any):
        default = {"status": "failed", "error": f"no fake result for {framework} {model}"}
        return {
            "batch": spec.batch,
            "steps": spec.steps,
            "warmup": spec.warmup,
            **results.get((framework, model), default),
        }

    return run_worker


def ok(samples: float, device: str = "cpu", spread: float | None = 0.02, **extra: Any) -> dict[str, Any]:
    """A worker's result; spread=None: a figure from before repeats (one timed pass, no spread)."""
    repeats = {"repeats": 5, "spread": spread} if spread is not None else {}
    return {
        "status": "ok",
        "version": "1.0",
        "device": device,
        "device_name": None,
        "import_s": 1.0,
        "steps_per_s": samples / 4,
        "samples_per_s": samples,
        "peak_rss_mb": 300.0,
        "peak_device_mb": None,
        **repeats,
        **extra,
    }


@pytest.fixture
def all_installed(monkeypatch):
    """Pretend pytorch and tensorflow are installed (metadata only; the workers are faked)."""
    from dlpick.machine import doctor

    def fake(frameworks, system=None, arch=None):
        return [
            doctor.InstalledFramework(fid, frameworks[fid].name, [doctor.Package(fid, "9.9", doctor.Build("", None))])
            for fid in ("pytorch", "tensorflow")
        ]

    monkeypatch.setattr(doctor, "installed_frameworks", fake)
    # ... with everything their projects declare (tests/test_bench_requirements.py checks what is missing)
    monkeypatch.setattr(requirements, "unmet", lambda python, lines, project: [])
    monkeypatch.setenv("XDG_DATA_HOME", str(Path(os.environ["HOME"]) / "data"))


def test_a_failing_framework_is_reported_with_its_error(monkeypatch, all_installed):
    results = {
        ("pytorch", "mlp"): ok(1000.0),
        ("pytorch", "cnn"): ok(100.0),
        ("tensorflow", "mlp"): {"status": "failed", "error": "RuntimeError: boom in the worker"},
    }
    monkeypatch.setattr(bench_mod, "run_worker", fake_worker(results))
    result = runner.invoke(app, ["bench", "pytorch", "tensorflow", "--json"])
    assert result.exit_code == 1, result.output
    progress, error = result.stderr.strip().splitlines()[:-1], result.stderr.strip().splitlines()[-1]
    assert error == "dlpick: error: tensorflow: the benchmark failed (see the table)"
    assert "bench: tensorflow mlp: failed: RuntimeError: boom in the worker" in progress
    data = json.loads(result.stdout)
    tf = next(f for f in data["frameworks"] if f["framework"] == "tensorflow")
    assert tf["status"] == "failed" and "boom in the worker" in tf["error"]
    assert list(tf["models"]) == ["mlp"]  # stopped after the failure
    assert "samples_per_s" not in tf["models"]["mlp"]
    # ... and a failed framework never feeds the performance criterion (nor then does PyTorch, alone)
    evidence = bench_trust.evidence(data)
    assert evidence.counted == {} and set(evidence.ignored) == {"pytorch"}
    assert "nothing to compare with" in evidence.ignored["pytorch"]

    table = runner.invoke(app, ["bench", "pytorch", "tensorflow"])
    assert table.exit_code == 1
    assert "TensorFlow failed: mlp: RuntimeError: boom in the worker" in table.stdout


def test_nothing_installed_exits_3_with_the_install_command(monkeypatch):
    from dlpick.machine import doctor

    monkeypatch.setattr(doctor, "installed_frameworks", lambda frameworks, system=None, arch=None: [])
    # The framework alone is missing (its projects' other requirements are there, as in the test environment).
    monkeypatch.setattr(requirements, "unmet", lambda python, lines, project: [])
    result = runner.invoke(app, ["bench", "pytorch"])
    line = one_line_error(result, 3)
    assert "pytorch is not installed" in line and "pip3 install torch" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["bench", "pytorh"], "did you mean 'pytorch'"),
        (["bench", "--model", "rnn"], "--model: unknown model 'rnn'"),
        (["bench", "--device", "gpu"], "--device: unknown device 'gpu'"),
    ],
)
def test_bench_bad_input(args, expected):
    assert expected in one_line_error(runner.invoke(app, args), 2)


def test_worker_timeout_and_bad_device_are_errors():
    if not INSTALLED["pytorch"]:
        pytest.skip("torch is not installed")
    spec = bench_mod.Spec(batch=2, steps=1, warmup=0)
    timed_out = bench_mod.run_worker("pytorch", "mlp", spec, "cpu", timeout=0.3)
    assert timed_out["status"] == "failed" and "timed out after 0.3 s" in timed_out["error"]
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    no_cuda = bench_mod.run_worker("pytorch", "mlp", spec, "cuda", timeout=120)
    assert no_cuda["status"] == "no device" and "no CUDA device" in no_cuda["error"]  # not measured, not failed
    assert "samples_per_s" not in no_cuda


def test_bench_help_imports_no_framework(tmp_path: Path):
    trap = tmp_path / "trap"
    for name in FRAMEWORK_MODULES:
        (trap / name).mkdir(parents=True)
        (trap / name / "__init__.py").write_text(f"raise SystemExit('{name} was imported')\n")
    proc, modules = probe(["bench", "--help"], trap, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "dlpick recommend --answers team.yaml --bench last" in proc.stdout
    assert not modules & set(FRAMEWORK_MODULES)
    assert not modules & {"yaml", "pydantic", "platformdirs"}  # rich: typer draws the help with it


# --- from a bench run to the performance criterion ----------------------------------------------


def bench_result(device: str = "cpu", spreads: dict[str, float | None] | None = None, **samples: Any) -> dict[str, Any]:
    """A saved bench run: framework id -> (mlp, cnn) samples/s; `spreads`: framework id -> its figures' spread."""
    spreads = spreads or {}
    frameworks = [
        {
            "framework": fid,
            "name": KB.frameworks[fid].name,
            "status": "measured",
            "version": "1.0",
            "device": device,
            "models": {
                m: ok(v, device, spread=spreads.get(fid, 0.02)) for m, v in zip(("mlp", "cnn"), pair, strict=True)
            },
        }
        for fid, pair in samples.items()
    ]
    frameworks.append({"framework": "jax", "name": "JAX", "status": "not installed", "models": {}})
    return {
        "format": bench_mod.FORMAT,
        "created": "2026-11-20T10:00:00Z",
        "machine": {"devices": ["cpu: Test CPU"]},
        "frameworks": frameworks,
    }


def test_relative_throughput_is_a_geometric_mean_over_the_models():
    measured = bench_trust.relative_throughput(bench_result(pytorch=(100.0, 10.0), tensorflow=(50.0, 40.0)))
    assert measured["tensorflow"].relative == pytest.approx(1.0)
    assert measured["pytorch"].relative == pytest.approx((100 * 10) ** 0.5 / (50 * 40) ** 0.5)
    assert measured["tensorflow"].others == {"PyTorch": pytest.approx((50 * 40) ** 0.5 / (100 * 10) ** 0.5)}
    assert "jax" not in measured


@pytest.fixture
def bench_file(tmp_path: Path):
    def write(data: Any) -> Path:
        path = tmp_path / "bench.json"
        path.write_text(data if isinstance(data, str) else json.dumps(data))
        return path

    return write


def test_recommend_with_a_bench_file_uses_the_measured_throughput(tmp_path: Path, bench_file):
    answers = tmp_path / "team.yaml"
    answers.write_text("task: image-classification\nhardware: [cpu]\npriorities: {performance: 5}\n")
    path = bench_file(bench_result(pytorch=(3100.0, 310.0), tensorflow=(1000.0, 100.0)))
    before = json.loads(runner.invoke(app, ["recommend", "-a", str(answers), "--json"]).stdout)
    result = runner.invoke(app, ["recommend", "-a", str(answers), "--json", "--bench", str(path)])
    assert result.exit_code == 0, result.output
    after = json.loads(result.stdout)
    by_id = {r["framework"]: r for r in after["ranking"]}
    old = {r["framework"]: r for r in before["ranking"]}

    torch_perf = by_id["pytorch"]["breakdown"]["performance"]
    tf_perf = by_id["tensorflow"]["breakdown"]["performance"]
    assert torch_perf["score"] == 100.0
    assert tf_perf["score"] == pytest.approx(100 / 3.1, abs=0.05)
    assert tf_perf["score"] != old["tensorflow"]["breakdown"]["performance"]["score"]
    assert torch_perf["reason"].startswith("measured here: 3.1x the throughput of TensorFlow")
    assert tf_perf["reason"].startswith("measured here: 0.32x the throughput of PyTorch")
    assert "mlp 3,100 and cnn 310 samples/s on cpu" in torch_perf["reason"]
    for fact in tf_perf["facts"]:
        assert fact["source"] == "dlpick bench on this machine (cpu, 2026-11-20)" and fact["as_of"] == "2026-11-20"
    assert any(r.startswith("performance 100%: measured here") for r in by_id["pytorch"]["reasons"])
    assert any("measured here: 0.32x" in r for r in by_id["tensorflow"]["reasons"])
    # Frameworks it did not measure keep the knowledge base's figure, and say so.
    jax = by_id["jax"]["breakdown"]["performance"]
    assert jax["score"] == old["jax"]["breakdown"]["performance"]["score"]
    assert jax["reason"].endswith("; not measured here")
    assert after["bench"]["measured"] == {"pytorch": 1.0, "tensorflow": pytest.approx(1 / 3.1, abs=1e-4)}
    assert after["bench"]["file"] == str(path)
    assert "bench" not in before


def performance(args: list[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """`recommend ARGS --json`: the whole output, and each framework's performance breakdown."""
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    return data, {r["framework"]: r["breakdown"]["performance"] for r in data["ranking"]}


def test_a_cpu_bench_is_no_evidence_for_a_team_on_nvidia_gpus(bench_file):
    path = bench_file(bench_result(pytorch=(2.0, 2.0), tensorflow=(1.0, 1.0)))
    team = ["recommend", "--task", "image-classification", "--hardware", "nvidia-gpu", "--weight", "performance=5"]
    _, before = performance(team)
    data, after = performance([*team, "--bench", str(path)])
    for fid in ("pytorch", "tensorflow"):
        assert after[fid]["score"] == before[fid]["score"]  # the knowledge base's figure stands
        assert (
            "measured here but not counted: measured on cpu, but the team named only nvidia-gpu" in after[fid]["reason"]
        )
    assert data["bench"]["measured"] == {} and set(data["bench"]["ignored"]) == {"pytorch", "tensorflow"}
    reasons = next(r for r in data["ranking"] if r["framework"] == "tensorflow")["reasons"]
    assert any("not counted: measured on cpu" in r for r in reasons)
    # The same figures measured on CUDA count for that team, and a CPU team still takes a CPU bench.
    _, on_gpu = performance(
        [*team, "--bench", str(bench_file(bench_result("cuda", pytorch=(2.0, 2.0), tensorflow=(1.0, 1.0))))]
    )
    assert on_gpu["pytorch"]["score"] == 100.0 and on_gpu["tensorflow"]["score"] == 50.0
    cpu_team = ["recommend", "--task", "image-classification", "--hardware", "cpu,nvidia-gpu"]
    _, mixed = performance(
        [*cpu_team, "--bench", str(bench_file(bench_result(pytorch=(2.0, 2.0), tensorflow=(1.0, 1.0))))]
    )
    assert mixed["pytorch"]["score"] == 100.0


def test_recommend_bench_last_reads_the_saved_run(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    args = ["recommend", "--task", "image-classification", "--json", "--bench", "last"]
    missing = one_line_error(runner.invoke(app, args), 2)
    assert "--bench last: no saved bench run" in missing and "run `dlpick bench` first" in missing
    paths = bench_mod.save(bench_result(pytorch=(2.0, 2.0), tensorflow=(1.0, 1.0)))
    assert paths[0] == tmp_path / "data" / "dlpick" / "bench" / "latest.json"
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["bench"]["file"] == str(paths[0])
    # Without --bench nothing saved is used.
    plain = json.loads(runner.invoke(app, args[:-2]).stdout)
    assert "bench" not in plain


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        ("{not json", "not valid JSON"),
        ('{"format": "other"}', "not a dlpick bench result"),
        (json.dumps({"format": bench_mod.FORMAT, "frameworks": [1]}), '"frameworks" must be a list of objects'),
    ],
)
def test_recommend_bad_bench_file_is_one_line_exit_2(tmp_path: Path, content, expected):
    path = tmp_path / "bench.json"
    if content is not None:
        path.write_text(content)
    result = runner.invoke(app, ["recommend", "--task", "image-classification", "--bench", str(path)])
    assert expected in one_line_error(result, 2)


# --- the scoring invariants still hold with a bench ---------------------------------------------

VOCAB = KB.vocabulary
BENCH = bench_result(pytorch=(3000.0, 300.0), tensorflow=(1000.0, 200.0), paddlepaddle=(500.0, 50.0))
profiles = st.fixed_dictionaries(
    {
        "task": st.sampled_from(list(VOCAB.tasks)),
        "hardware": st.lists(st.sampled_from(list(VOCAB.hardware)), max_size=2, unique=True),
        "familiarity": st.dictionaries(st.sampled_from(VOCAB.frameworks), st.integers(0, 5), max_size=3),
        "priorities": st.dictionaries(st.sampled_from(list(VOCAB.criteria)), st.integers(1, 5), max_size=4),
    }
)


def _scores(answers: Answers) -> dict[str, float]:
    return {r.framework: r.score for r in scoring.recommend(answers, KB, bench=copy.deepcopy(BENCH)).ranking}


@settings(max_examples=60, deadline=None)
@given(profiles, st.sampled_from(list(VOCAB.criteria)), st.data())
def test_invariants_hold_with_a_bench(raw, criterion, data):
    answers = normalise(raw, VOCAB)
    result = scoring.recommend(answers, KB, bench=BENCH)
    scores = {r.framework: r.score for r in result.ranking}
    assert all(0 <= s <= 100 for s in scores.values())
    if len(result.ranking) >= 2:
        first, second = data.draw(st.permutations(result.ranking))[:2]
        a, b = (first, second) if first.score >= second.score else (second, first)
        if a.criteria[criterion].applicable and a.criteria[criterion].score > b.criteria[criterion].score:
            raised = {**answers.priorities, criterion: min(5, result.weights[criterion] + data.draw(st.integers(1, 5)))}
            after = _scores(dataclasses.replace(answers, priorities=raised))
            assert after[a.framework] >= after[b.framework] - 1e-9
    fid = data.draw(st.sampled_from(VOCAB.frameworks))
    more = {**answers.familiarity, fid: min(5, answers.familiarity.get(fid, 0) + data.draw(st.integers(1, 5)))}
    after = _scores(dataclasses.replace(answers, familiarity=more))
    if fid in scores:
        assert after[fid] >= scores[fid] - 1e-9


# --- trustworthy figures: repeats, median, spread, load -----------------------------------------


def test_aggregate_takes_the_median_and_the_spread_of_the_repeats():
    # 10 steps per repeat in 1.0, 0.5, 0.25, 0.5, 0.4 s: 10, 20, 40, 20, 25 steps/s
    figures = bench_worker.aggregate([1.0, 0.5, 0.25, 0.5, 0.4], steps=10, batch=4)
    assert figures["repeats"] == 5
    assert figures["repeat_steps_per_s"] == [10.0, 20.0, 40.0, 20.0, 25.0]
    assert figures["steps_per_s"] == 20.0 and figures["samples_per_s"] == 80.0  # the median, not the mean (23)
    assert figures["spread"] == pytest.approx((40 - 10) / 20)
    assert figures["timed_s"] == pytest.approx(2.65)
    steady = bench_worker.aggregate([0.2, 0.2, 0.2], steps=4, batch=8)
    assert steady["spread"] == 0 and steady["steps_per_s"] == 20.0 and steady["samples_per_s"] == 160.0
    even = bench_worker.aggregate([1.0, 0.5], steps=10, batch=1)
    assert even["steps_per_s"] == 15.0 and even["spread"] == pytest.approx(10 / 15, abs=1e-4)
    for bad in ([], [0.1, 0.0], [float("nan")]):
        with pytest.raises(ValueError):
            bench_worker.aggregate(bad, steps=1, batch=1)


def test_timed_runs_the_warmup_untimed_then_each_repeat(monkeypatch):
    """A made-up clock: every step takes 1 s of it, except the 3rd timed step of the 2nd repeat (5 s)."""
    clock = [0.0]
    slow = {2 + 3 + 2}  # warm-up 2 steps, first repeat 3, then the third of the second
    calls: list[int] = []
    syncs: list[int] = []

    def step(i: int) -> float:
        calls.append(i)
        clock[0] += 5.0 if i in slow else 1.0
        return 0.5

    monkeypatch.setattr(bench_worker.time, "perf_counter", lambda: clock[0])
    seconds, loss = bench_worker._timed(step, lambda: syncs.append(len(calls)), warmup=2, steps=3, repeats=4)
    assert calls == list(range(2 + 3 * 4)) and loss == 0.5
    assert seconds == [3.0, 7.0, 3.0, 3.0]
    assert syncs == [2, 5, 8, 11, 14]  # after the warm-up and at the end of every repeat
    figures = bench_worker.aggregate(seconds, steps=3, batch=2)
    assert figures["steps_per_s"] == 1.0 and figures["spread"] == pytest.approx((1 - 3 / 7) / 1, abs=1e-4)


def test_figure_warnings_wide_spread_few_repeats_and_a_busy_machine():
    assert bench_trust.figure_warnings({"repeats": 5, "spread": 0.1, "load": {"others_cpu": 0.1, "steal": 0.0}}) == []
    wide = bench_trust.figure_warnings({"repeats": 5, "spread": 0.31})
    assert wide == ["spread 31% over 5 repeats (more than 10%): not a stable figure, `recommend --bench` ignores it"]
    few = bench_trust.figure_warnings({"repeats": 1, "spread": 0.0})
    assert few == ["only 1 timed repeat(s): `recommend --bench` needs at least 3"]
    busy = bench_trust.figure_warnings({"repeats": 5, "spread": 0.05, "load": {"others_cpu": 0.6, "steal": 0.08}})
    assert len(busy) == 2 and "other processes used 60% of the CPU time" in busy[0] and "CPU steal 8%" in busy[1]
    assert bench_trust.untrusted({"repeats": 5, "spread": 0.1}) is None
    assert "spread over 5 repeats was 11%" in str(bench_trust.untrusted({"repeats": 5, "spread": 0.11}))
    assert "at least 3" in str(bench_trust.untrusted({"repeats": 2, "spread": 0.0}))
    assert "one timed pass" in str(bench_trust.untrusted({"samples_per_s": 10.0}))
    # a hand-edited file: odd values are reasons, never a crash
    assert "whole number" in str(bench_trust.untrusted({"repeats": True, "spread": 0.0}))
    assert "finite number" in str(bench_trust.untrusted({"repeats": 5, "spread": float("inf")}))
    assert len(bench_trust.figure_warnings({"repeats": 5, "spread": 0.5, "load": [1]})) == 1


def test_bench_warns_of_a_wide_spread_and_a_busy_machine_in_json_and_text(monkeypatch, all_installed):
    results = {
        ("pytorch", "mlp"): ok(1000.0, repeat_steps_per_s=[250.0] * 5),
        ("pytorch", "cnn"): ok(100.0),
        ("tensorflow", "mlp"): ok(900.0, spread=0.4),
        ("tensorflow", "cnn"): ok(90.0),
    }
    monkeypatch.setattr(bench_mod, "run_worker", fake_worker(results))
    busy = {"load_avg": [3.0, 2.0, 1.0], "logical_cores": 2, "load_per_core": 1.5}
    monkeypatch.setattr(bench_trust, "load_now", lambda: busy)
    probe = {"seconds": 2.0, "others_cpu": 0.05, "steal": 0.0}
    monkeypatch.setattr(bench_trust.LoadProbe, "stop", lambda self: dict(probe))
    result = runner.invoke(app, ["bench", "pytorch", "tensorflow", "--json", "--repeats", "7"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format"] == "dlpick-bench/1" and data["repeats"] == 7
    assert {m["repeats"] for m in data["models"].values()} == {7}
    assert data["load"] == {"before": busy, "others_cpu_max": 0.05, "steal_max": 0.0, "busy": True}
    warnings = data["warnings"]
    assert warnings[0].startswith("the machine was busy before the run: load average 3.00 on 2 logical cores")
    assert warnings[1:] == [
        "TensorFlow mlp: spread 40% over 5 repeats (more than 10%): not a stable figure, `recommend --bench` ignores it"
    ]
    tf = next(f for f in data["frameworks"] if f["framework"] == "tensorflow")
    assert tf["models"]["mlp"]["warnings"] and tf["models"]["cnn"]["warnings"] == []
    assert tf["models"]["mlp"]["load"] == probe
    assert set(bench_trust.evidence(data).ignored) == {"tensorflow", "pytorch"}  # TF unstable, PyTorch then alone

    table = runner.invoke(app, ["bench", "pytorch", "tensorflow"])
    assert table.exit_code == 0, table.output
    text = " ".join(table.stdout.split())
    assert "warning: the machine was busy before the run" in text
    assert "warning: TensorFlow mlp: spread 40% over 5 repeats" in text
    assert "40%!" in text and "2%" in text


def test_recommend_ignores_a_wide_spread_and_says_so(bench_file):
    spreads = {"tensorflow": 0.25}
    path = bench_file(
        bench_result(spreads=spreads, pytorch=(300.0, 30.0), tensorflow=(600.0, 60.0), paddlepaddle=(100.0, 10.0))
    )
    team = ["recommend", "--task", "image-classification", "--hardware", "cpu", "--weight", "performance=5"]
    _, before = performance(team)
    data, after = performance([*team, "--bench", str(path)])
    tf = after["tensorflow"]
    assert tf["score"] == before["tensorflow"]["score"]
    assert "measured here but not counted: mlp: its spread over 5 repeats was 25% (more than 10%)" in tf["reason"]
    assert "cnn: its spread over 5 repeats was 25%" in tf["reason"]
    reasons = next(r for r in data["ranking"] if r["framework"] == "tensorflow")["reasons"]
    assert any("not counted: mlp: its spread" in r for r in reasons)
    # The stable ones count against each other only: PyTorch is the fastest of them, not 0.5x TensorFlow.
    assert after["pytorch"]["score"] == 100.0 and after["paddlepaddle"]["score"] == pytest.approx(100 / 3, abs=0.05)
    assert after["pytorch"]["reason"].startswith("measured here: 3x the throughput of PaddlePaddle (")
    assert data["bench"]["measured"] == {"paddlepaddle": pytest.approx(1 / 3, abs=1e-4), "pytorch": 1.0}
    assert list(data["bench"]["ignored"]) == ["tensorflow"]


def test_a_lone_framework_and_an_old_single_pass_file_are_not_counted(bench_file):
    team = ["recommend", "--task", "image-classification", "--weight", "performance=5"]
    _, before = performance(team)
    _, alone = performance([*team, "--bench", str(bench_file(bench_result(pytorch=(3000.0, 300.0))))])
    assert alone["pytorch"]["score"] == before["pytorch"]["score"]  # never "100%, the only framework measured"
    assert (
        "not counted: no other framework's figures on cpu count (mlp 3,000 and cnn 300 samples/s)"
        in alone["pytorch"]["reason"]
    )
    old = bench_result(
        spreads={"pytorch": None, "tensorflow": None}, pytorch=(3000.0, 300.0), tensorflow=(1000.0, 100.0)
    )
    assert "repeats" not in old["frameworks"][0]["models"]["mlp"]
    data, scored = performance([*team, "--bench", str(bench_file(old))])  # still loads
    assert scored["pytorch"]["score"] == before["pytorch"]["score"]
    assert "not counted: mlp: one timed pass with no repeats (a bench file from before" in scored["pytorch"]["reason"]
    assert data["bench"]["measured"] == {}


# --- only dlpick and the framework: no hidden NumPy ----------------------------------------------


@pytest.fixture
def numpy_hidden(tmp_path: Path, monkeypatch) -> Path:
    """A PYTHONPATH entry whose `numpy` raises the error a missing numpy raises, ahead of site-packages."""
    folder = tmp_path / "no-numpy"
    (folder / "numpy").mkdir(parents=True)
    (folder / "numpy" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'numpy'\", name='numpy')\n"
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")])))
    import subprocess
    import sys

    probe = subprocess.run([sys.executable, "-c", "import numpy"], capture_output=True, text=True, env=os.environ)
    assert probe.returncode == 1 and "No module named 'numpy'" in probe.stderr  # the hiding works
    return folder


def test_without_numpy_pytorch_is_not_measured_and_says_so(numpy_hidden):
    """The worker itself needs only the standard library; NumPy comes in with the project, which declares
    it (requirements.txt): missing, PyTorch is "missing numpy", never measured nor "failed"."""
    if not INSTALLED["pytorch"]:
        pytest.skip("torch is not installed")
    spec = bench_mod.Spec(batch=4, steps=2, warmup=1, repeats=3)
    result = bench_mod.run_worker("pytorch", "mlp", spec, "cpu", timeout=180)
    assert result["status"] == "missing" and result["module"] == "numpy", result
    assert "samples_per_s" not in result
    project = bench_projects.bench_project("pytorch", "mlp")
    requirements = (project / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("numpy") for line in requirements), requirements


def test_a_module_the_benchmark_needs_is_not_installed_exit_3(numpy_hidden, monkeypatch, tmp_path: Path):
    """TensorFlow itself needs NumPy: with it missing, TensorFlow is not measured (exit 3), never "failed"."""
    if not INSTALLED["tensorflow"]:
        pytest.skip("tensorflow is not installed")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    args = [
        "bench",
        "tensorflow",
        "--model",
        "mlp",
        "--steps",
        "1",
        "--repeats",
        "3",
        "--batch",
        "4",
        "--device",
        "cpu",
    ]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[-2:] == [
        "bench: tensorflow mlp: not measured: numpy is not installed",
        "dlpick: error: not measured: tensorflow needs numpy, not installed (pip install numpy)",
    ]
    assert "Traceback" not in result.output
    data = json.loads(result.stdout)
    tf = data["frameworks"][0]
    assert tf["status"] == "not installed" and tf["missing"] == ["numpy"] and tf["install"] == "pip install numpy"
    assert tf["models"]["mlp"]["status"] == "missing" and "samples_per_s" not in tf["models"]["mlp"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NO_COLOR", "1")
        mp.setenv("COLUMNS", "200")
        table = runner.invoke(app, args)
    assert table.exit_code == 3
    assert "nothing was measured (tensorflow not installed (needs numpy))" in table.stdout
    assert "TensorFlow not measured: mlp: the benchmark needs numpy" in table.stdout and "failed" not in table.stdout


def test_missing_module_reads_the_error_chain():
    try:
        try:
            raise ModuleNotFoundError("No module named 'flax.linen'", name="flax.linen")
        except ImportError as inner:
            raise RuntimeError("could not set up the model") from inner
    except RuntimeError as exc:
        assert bench_worker.missing_module(exc) == "flax"
    assert bench_worker.missing_module(ImportError("No module named numpy")) == "numpy"
    assert bench_worker.missing_module(ImportError("cannot import name 'x' from 'y'")) is None
    assert bench_worker.missing_module(RuntimeError("boom")) is None


@pytest.mark.parametrize(("fraction", "expected_steps"), [(1 / 5, 5), (10.0, 2), (1e-6, 200)])
def test_each_repeat_runs_long_enough_to_measure(monkeypatch, fraction: float, expected_steps: int):
    """A made-up clock: a round of the asked-for steps after the warm-up times a step; a repeat then
    takes at least MIN_REPEAT_S (5 steps of a fifth of it), never fewer steps than asked for (2), and
    at most MAX_STEPS_FACTOR (100) times as many."""
    step_s = bench_worker.MIN_REPEAT_S * fraction
    clock = [0.0]
    calls: list[int] = []

    def step(i: int) -> float:
        calls.append(i)
        clock[0] += step_s
        return 0.25

    monkeypatch.setattr(bench_worker.time, "perf_counter", lambda: clock[0])
    seconds, loss, steps = bench_worker._timed_at_least(step, lambda: None, 3, 2, 4, bench_worker.MIN_REPEAT_S)
    assert steps == expected_steps and loss == 0.25
    assert calls == list(range(3 + 2 + 4 * steps))  # warm-up, the timing round, the repeats
    assert seconds == pytest.approx([steps * step_s] * 4)
