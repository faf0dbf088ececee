"""Render every task of the real templates, smoke-train and verify them (slow: `-m integration`)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlpick.verify import checks as verify

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
TASKS = ("tabular-regression", "tabular-classification", "image-classification", "text-classification")


def needs(framework: str, module: str) -> pytest.MarkDecorator:
    """Skip, saying why, unless the template exists and its framework is installed."""
    why = ""
    if not (ROOT / "templates" / framework / "cookiecutter.json").is_file():
        why = f"templates/{framework} does not exist yet"
    elif importlib.util.find_spec(module) is None:
        why = f"{module} is not installed"
    return pytest.mark.skipif(bool(why), reason=why)


def dlpick(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlpick", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def smoke_trained(task: str, folder: Path) -> tuple[Path, str, Path]:
    """A PyTorch project of `task` rendered into `folder` and smoke-trained on the CPU: (project, package, run)."""
    from dlpick.project import render

    rendered = render.render("pytorch", task, folder)
    project, package = rendered.project_dir, rendered.name.package
    run = folder.parent / "run"
    trained = verify.run_step(
        [sys.executable, "-m", f"{package}.train", "--smoke", "--device", "cpu", "--out", str(run)], project, 600
    )
    assert trained.returncode == 0, "\n".join(trained.tail[-40:])
    return project, package, run


CASES = [
    pytest.param(framework, task, marks=needs(framework, module), id=f"{framework}-{task}")
    for framework, module in (("pytorch", "torch"), ("tensorflow", "tensorflow"))
    for task in TASKS
]


@pytest.mark.parametrize(("framework", "task"), CASES)
def test_scaffold_then_verify(framework: str, task: str, tmp_path: Path):
    dest = tmp_path / f"{task}-demo"
    made = dlpick("scaffold", framework, "--task", task, "--dest", str(dest), "--no-verify", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["project"] == str(dest)
    # The generated code is clean under its own lint settings (pyproject's [tool.ruff]).
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=dest, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout[-3000:]
    checked = dlpick("verify", str(dest), "--json", "--device", "cpu", "--timeout", "600")
    report = json.loads(checked.stdout)
    failed = [c for c in report["checks"] if not c["passed"]]
    assert checked.returncode == 0 and report["passed"], json.dumps(failed, indent=1) + checked.stderr[-3000:]
    assert report["framework"] == framework and report["device"] == "cpu"
    names = [c["name"] for c in report["checks"]]
    assert names == ["framework", "requirements", "smoke-train", "metrics", "loss", "export", "serve", "project tests"]
    tests = next(c for c in report["checks"] if c["name"] == "project tests")
    assert "passed" in tests["detail"]  # the generated repository's own pytest ran and passed


# Frameworks whose pins conflict with each other (and with dlpick's own environment): each is
# verified in the environment its project documents, built once per session and then reused.
ISOLATED = {
    "pytensor": TASKS,
    "theano": TASKS,
    "caffe": TASKS[:3],
    "mxnet": TASKS,
    "jax": TASKS,
    "paddlepaddle": TASKS,
    "mindspore": TASKS,
    "tensorflow": TASKS[:1],  # its requirements.txt (CPU build); the other tasks run in dlpick's environment
}
ISOLATED_CASES = [
    pytest.param(
        framework,
        task,
        id=f"{framework}-{task}-isolated",
        marks=pytest.mark.skipif(
            not (ROOT / "templates" / framework / "cookiecutter.json").is_file(),
            reason=f"templates/{framework} does not exist yet",
        ),
    )
    for framework, tasks in ISOLATED.items()
    for task in tasks
]


@pytest.mark.parametrize(("framework", "task"), ISOLATED_CASES)
def test_scaffold_then_verify_isolated(
    framework: str, task: str, tmp_path: Path, envs_root: Path, monkeypatch: pytest.MonkeyPatch
):
    from dlpick.verify import envs

    if framework == "caffe" and envs.debian_tools_missing():
        pytest.skip(f"Caffe runs in a Debian root: {envs.debian_tools_missing()}")
    monkeypatch.setenv("DLPICK_ENVS", str(envs_root))
    first = not any(envs_root.glob(f"{framework}-*/{envs.MARKER}"))
    dest = tmp_path / f"{task}-demo"
    made = dlpick("scaffold", framework, "--task", task, "--dest", str(dest), "--no-verify", "--json")
    assert made.returncode == 0, made.stderr
    warning = json.loads(made.stdout)["warning"]
    assert (warning is not None) == (framework in ("theano", "caffe", "mxnet")), warning
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=dest, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout[-3000:]
    checked = dlpick("verify", str(dest), "--isolated", "--json", "--device", "cpu", "--timeout", "600", timeout=3000)
    report = json.loads(checked.stdout)
    failed = [c for c in report["checks"] if not c["passed"]]
    assert checked.returncode == 0 and report["passed"], json.dumps(failed, indent=1) + checked.stderr[-3000:]
    names = [c["name"] for c in report["checks"]]
    assert names == [
        "environment",
        "framework",
        "requirements",
        "smoke-train",
        "metrics",
        "loss",
        "export",
        "serve",
        "project tests",
    ]
    assert report["framework"] == framework and report["device"] == "cpu"
    environment = report["checks"][0]["detail"]
    assert ("built" if first else "reused") in environment, environment  # a second verify does not reinstall
    assert report["environment"] and Path(report["environment"]).parent == envs_root


def test_pytorch_verify_isolated_keeps_the_cpu_build_with_a_constraint(
    tmp_path: Path, envs_root: Path, monkeypatch: pytest.MonkeyPatch
):
    """requirements.txt says torch>=2.4,<3, which alone would pull a multi-GB CUDA build into a
    fresh venv; the caller's constraint file pins the CPU build instead."""
    monkeypatch.setenv("DLPICK_ENVS", str(envs_root))
    constraint = tmp_path / "cpu-torch.txt"
    constraint.write_text("torch==2.13.0\n")
    dest = tmp_path / "constrained"
    made = dlpick(
        "scaffold",
        "pytorch",
        "-t",
        "tabular-classification",
        "-d",
        str(dest),
        "--isolated",
        "--constraint",
        str(constraint),
        "--device",
        "cpu",
        "--json",
        timeout=3000,
    )
    report = json.loads(made.stdout)["verify"]
    failed = [c for c in report["checks"] if not c["passed"]]
    assert made.returncode == 0 and report["passed"], json.dumps(failed, indent=1) + made.stderr[-3000:]
    python = Path(report["environment"]) / "bin" / "python"
    version = subprocess.run(
        [str(python), "-c", "import torch; print(torch.__version__)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert version.startswith("2.13.0") and "cu" not in version.split("+")[-1], version


@needs("pytorch", "torch")
@pytest.mark.parametrize("task", ["tabular-classification", "image-classification"])
def test_pytorch_two_process_training_agrees(tmp_path: Path, task: str):
    """torchrun with 2 CPU processes (gloo): both ranks finish with identical weights (the image model's
    batch norm statistics too: each process saw its own rows)."""
    from dlpick.project import render

    rendered = render.render("pytorch", task, tmp_path / "ddp-demo")
    project, package = rendered.project_dir, rendered.name.package
    run = tmp_path / "run"
    torchrun = shutil.which("torchrun")
    launcher = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    cmd = [*launcher, "--standalone", "--nproc_per_node", "2", "-m", f"{package}.train", "--smoke"]
    ran = verify.run_step([*cmd, "--device", "cpu", "--out", str(run)], project, timeout=600)
    assert ran.returncode == 0, "\n".join(ran.tail[-40:])
    ranks = sorted(run.glob("rank-*.json"))
    assert [p.name for p in ranks] == ["rank-0.json", "rank-1.json"], "the template writes RUN/rank-<r>.json per rank"
    reports = [json.loads(p.read_text()) for p in ranks]
    assert [r["rank"] for r in reports] == [0, 1]
    assert reports[0]["weights_sha256"] == reports[1]["weights_sha256"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["loss_history"][-1] < metrics["loss_history"][0]


# Loaded by every process of the run below (PYTHONPATH): when rank 1's interpreter exits, it records
# whether rank 0 had written the run's metrics.json by then.
LEAVE_PROBE = """
import atexit, os
from pathlib import Path

if os.environ.get("RANK") == "1":
    atexit.register(lambda: Path(os.environ["LEAVE_RECORD"]).write_text(
        str((Path(os.environ["LEAVE_RUN"]) / "metrics.json").is_file())))
"""


@needs("pytorch", "torch")
def test_pytorch_ranks_leave_the_process_group_together(tmp_path: Path):
    """A rank that is done waits for rank 0 to write the run before it leaves: one that took the group
    down alone while rank 0 still evaluated could abort in Gloo's teardown (seen under load)."""
    from dlpick.project import render

    rendered = render.render("pytorch", "tabular-regression", tmp_path / "leave-demo")
    project, package = rendered.project_dir, rendered.name.package
    run, record, probe = tmp_path / "run", tmp_path / "rank-1-left", tmp_path / "probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(LEAVE_PROBE)
    env = {**os.environ, "PYTHONPATH": f"{probe}{os.pathsep}{project / 'src'}"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    ran = subprocess.run(
        [*cmd, "-m", f"{package}.train", "--smoke", "--device", "cpu", "--out", str(run)],
        cwd=project, env={**env, "LEAVE_RUN": str(run), "LEAVE_RECORD": str(record)},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert record.read_text() == "True", "rank 1 left before rank 0 had written metrics.json"


@needs("pytorch", "torch")
def test_pytorch_text_sample_learns_without_perfection_and_explain_names_its_tokens(tmp_path: Path):
    """The bundled reviews after a smoke-train: test accuracy clearly above chance and below 1.0;
    explain's token occlusion names tokens of the sample, sentiment words among the top ones."""
    project, package, run = smoke_trained("text-classification", tmp_path / "text-demo")
    evaluation = json.loads((run / "metrics.json").read_text())["eval"]
    per_class = [sum(row) for row in evaluation["confusion_matrix"]]
    chance = max(per_class) / sum(per_class)  # always answering the commonest class
    assert chance + 0.1 < evaluation["accuracy"] < 1.0, (chance, evaluation)

    explained = verify.run_step([sys.executable, "-m", f"{package}.explain", "--run", str(run)], project, 600)
    assert explained.returncode == 0, "\n".join(explained.tail[-40:])
    assert (run / "importance.png").stat().st_size > 0
    result = json.loads((run / "importance.json").read_text())
    assert result["method"].startswith("token occlusion")
    sample = (project / "data" / "sample" / "reviews.csv").read_text().lower()
    vocabulary = set(re.findall(r"[a-z0-9']+", sample))
    assert set(result["classes"]) == {"negative", "positive"}
    top = {cls: [e["token"] for e in entries] for cls, entries in result["classes"].items()}
    named = set(result["labels"]) | {t for tokens in top.values() for t in tokens}
    assert named and named <= vocabulary, named - vocabulary
    assert all(e["push"] > 0 and e["count"] >= 1 for entries in result["classes"].values() for e in entries)
    # The model has learnt something real: words that carry sentiment rank among each side's top ten.
    assert top["positive"] and set(top["positive"]) & POSITIVE_WORDS, top
    assert top["negative"] and set(top["negative"]) & NEGATIVE_WORDS, top
    example = result["examples"][0]
    assert example["predicted"] in ("negative", "positive") and 0.5 <= example["probability"] <= 1
    assert example["tokens"] and {t["token"] for t in example["tokens"]} <= vocabulary | {"<unk>"}


POSITIVE_WORDS = {
    "excellent",
    "great",
    "perfect",
    "brilliant",
    "superb",
    "good",
    "nice",
    "solid",
    "reliable",
    "comfortable",
    "perfectly",
    "recommend",
    "stars",
    "worth",
    "happy",
    "complaints",
    "failed",
}
NEGATIVE_WORDS = {
    "awful",
    "terrible",
    "broken",
    "useless",
    "faulty",
    "bad",
    "poor",
    "flimsy",
    "noisy",
    "cheap",
    "stopped",
    "waste",
    "damaged",
    "returned",
    "refund",
    "avoid",
    "apart",
    "not",
    "never",
}


@needs("tensorflow", "tensorflow")
def test_tensorflow_train_step_is_traced_once_for_any_batch_size(tmp_path: Path):
    """The engine's tf.function step leaves the batch dimension open: training with a short last batch,
    then validation and training again, traces each function once (a retrace per call would be slow)."""
    from dlpick.project import render

    rendered = render.render("tensorflow", "image-classification", tmp_path / "trace-demo")
    code = f"""
import json, os, numpy as np
from {rendered.name.package} import config, data, engine, train
cfg = config.load_config()
engine.select_device("cpu")
engine.seed(0)
train_split, val_split, _, preprocess = data.prepare(cfg)
model = engine.build(preprocess, cfg)
trainer = engine.Trainer(model, cfg["train"])
x, y = data.inputs(train_split.x, preprocess), data.targets(train_split.y, preprocess)
losses = [trainer.step(x[:size], y[:size]) for size in (32, 32, 7, 32, 1)]
losses += [trainer.loss(x[:size], y[:size]) for size in (64, 3)]
print(json.dumps({{"step": trainer._step.experimental_get_tracing_count(),
                   "loss": trainer._loss.experimental_get_tracing_count(), "finite": bool(np.isfinite(losses).all())}}))
"""
    env = {**os.environ, "PYTHONPATH": "src"}
    ran = subprocess.run([sys.executable, "-c", code], cwd=rendered.project_dir, env=env, capture_output=True,
                         text=True, timeout=600)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert json.loads(ran.stdout.splitlines()[-1]) == {"step": 1, "loss": 1, "finite": True}


@needs("pytorch", "torch")
def test_evaluate_kfold_retrains_each_fold(tmp_path: Path):
    """`evaluate --run RUN --kfold 2`, as the README shows it: each fold is trained again (a smoke run's
    with its smoke steps) and scored on its held-out part, into kfold.json."""
    project, package, run = smoke_trained("tabular-classification", tmp_path / "folds-demo")
    command = [sys.executable, "-m", f"{package}.evaluate", "--run", str(run), "--kfold", "2"]
    evaluated = verify.run_step(command, project, 600)
    assert evaluated.returncode == 0, "\n".join(evaluated.tail[-40:])
    folds = json.loads((run / "kfold.json").read_text())
    assert folds["k"] == 2 and len(folds["folds"]) == 2 and "accuracy" in folds["summary"], folds


@needs("pytorch", "torch")
def test_evaluate_refuses_data_that_changed_since_training(tmp_path: Path):
    """evaluate, explain and export re-read the run's test split: if the data's classes no longer match the
    run's preprocess.json, they stop with one line instead of scoring against the wrong classes."""
    project, package, run = smoke_trained("tabular-classification", tmp_path / "drift-demo")
    evaluated = verify.run_step([sys.executable, "-m", f"{package}.evaluate", "--run", str(run)], project, 600)
    assert evaluated.returncode == 0, "\n".join(evaluated.tail[-40:])
    sample = project / "data" / "sample" / "wine.csv"
    header, *rows = sample.read_text().splitlines()
    kept = [row for row in rows if row.split(",")[-1] != rows[0].split(",")[-1]]  # one class gone
    assert 0 < len(kept) < len(rows)
    sample.write_text("\n".join([header, *kept]) + "\n")
    for command in ("evaluate", "explain", "export"):
        refused = verify.run_step([sys.executable, "-m", f"{package}.{command}", "--run", str(run)], project, 600)
        assert refused.returncode == 1, (command, refused.tail[-10:])
        expected = "error: the data's classes differ from the run's preprocess.json: data/sample/wine.csv changed"
        assert refused.tail[-1] == f"{expected} since training", (command, refused.tail[-10:])


@needs("pytorch", "torch")
def test_pytorch_export_says_what_it_wrote_and_nothing_of_the_exporters_internals(tmp_path: Path):
    """`export --check` tells the user each file's check and where it wrote: no exporter progress, no
    skipped-torchvision-op lines, no FutureWarning, no ONNX Runtime tips (issue: ten lines of noise)."""
    from dlpick.project import render

    rendered = render.render("pytorch", "image-classification", tmp_path / "export-demo")
    project, package = rendered.project_dir, rendered.name.package
    run = tmp_path / "run"
    trained = verify.run_step(
        [sys.executable, "-m", f"{package}.train", "--smoke", "--device", "cpu", "--out", str(run)], project, 600
    )
    assert trained.returncode == 0, "\n".join(trained.tail[-40:])
    env = {**os.environ, "PYTHONPATH": "src"}
    cmd = [sys.executable, "-m", f"{package}.export", "--run", str(run), "--check"]
    exported = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600)
    assert exported.returncode == 0, exported.stderr[-3000:]
    lines = [line for line in (exported.stdout + exported.stderr).splitlines() if line.strip()]
    ours = re.compile(r"^(onnx|torch\.export|onnx-int8): ok \(|^exported model\.onnx, ")
    assert all(ours.search(line) for line in lines), lines
    assert len(lines) == 4, lines


@needs("pytorch", "torch")
def test_every_command_names_itself_the_way_the_user_runs_it(tmp_path: Path):
    """`--help` and usage errors say `python -m PACKAGE.train`, not `train.py` (which cannot run alone)."""
    from dlpick.project import render

    rendered = render.render("pytorch", "tabular-regression", tmp_path / "usage-demo")
    project, package = rendered.project_dir, rendered.name.package
    env = {**os.environ, "PYTHONPATH": "src"}
    for module in ("train", "evaluate", "explain", "export", "serve"):
        helped = subprocess.run(
            [sys.executable, "-m", f"{package}.{module}", "--help"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
        assert helped.returncode == 0, helped.stderr[-2000:]
        assert helped.stdout.startswith(f"usage: python -m {package}.{module} "), helped.stdout[:200]
