"""One regression test (or a few) per fault users found in the loaders and the checks behind them.

Each failed before its fix: a traceback, an interpreter crash, or a silently wrong result.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pytest
import yaml

from dlpick import jsonfile, yamlfile
from dlpick.advise import answers as answers_mod
from dlpick.advise import scoring
from dlpick.advise.profile import Profile, name_pattern_problem
from dlpick.errors import BadInput
from dlpick.kb import knowledge
from dlpick.machine import bench as bench_mod

from .helpers import (
    ROOT,
    bench_result,
    child_error,
    cli,
    deep_json,
    deep_yaml,
    one_line_error,
    run_child,
)

BUILTIN = ROOT / "knowledge"
KB = knowledge.load()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def recommend_with(tmp_path: Path, text: str, *extra: str):
    path = write(tmp_path / "team.yaml", text)
    return cli("recommend", "--answers", path, "--json", *extra)


# --- 1. impossible dates, aliases -----------------------------------------------------------------


def test_impossible_date_in_answers_is_one_line(tmp_path: Path):
    line = one_line_error(recommend_with(tmp_path, "task: 2026-13-45\n"))
    assert "team.yaml" in line and "2026-13-45" in line


def test_dates_are_not_constructed(tmp_path: Path):
    assert yamlfile.load(write(tmp_path / "a.yaml", "a: 2026-11-01\nb: !!timestamp 2026-13-45\n")) == {
        "a": "2026-11-01",
        "b": "2026-13-45",
    }


def test_impossible_date_in_a_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write(tmp_path / "dlpick.yaml", "team: vision\nanswers:\n  task: 2026-13-45\n")
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli("recommend", "--json"))
    assert "dlpick.yaml (answers): task: unknown task '2026-13-45'" in line


def test_impossible_date_in_a_knowledge_overlay_names_file_and_line(tmp_path: Path):
    overlay = tmp_path / "kb"
    write(overlay / "frameworks" / "pytorch.yaml", "id: pytorch\nrelease:\n  date: 2026-13-45\n")
    _, problems = knowledge.validate_dirs([BUILTIN, overlay])
    assert problems and all(
        p.startswith(f"{overlay / 'frameworks' / 'pytorch.yaml'}:3: release.date") for p in problems
    )
    line = one_line_error(cli("recommend", "--task", "speech", "--knowledge", overlay))
    assert "pytorch.yaml:3: release.date" in line


def test_aliases_are_refused(tmp_path: Path):
    line = one_line_error(recommend_with(tmp_path, "x: &t speech\ntask: *t\n"))
    assert line.endswith("team.yaml:2: aliases (*t) are not allowed; write the value out")


def test_builtin_knowledge_uses_no_aliases():
    for path in [*BUILTIN.glob("*.yaml"), *(BUILTIN / "frameworks").glob("*.yaml")]:
        events = yaml.parse(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        assert not any(isinstance(e, yaml.AliasEvent) for e in events), path


def test_billion_laughs_is_refused_at_once(tmp_path: Path):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = write(tmp_path / "bomb.yaml", "\n".join([*lines, "task: speech", "hardware: *a9", ""]))
    line = child_error(run_child("recommend", "--answers", path, "--json", timeout=60))
    assert "bomb.yaml:2: aliases (*a0) are not allowed" in line


# --- 2. deep nesting ------------------------------------------------------------------------------


def test_deeply_nested_answers_do_not_crash_the_interpreter(tmp_path: Path):
    path = write(tmp_path / "deep.yaml", deep_yaml())
    line = child_error(run_child("recommend", "--answers", path, "--json"))
    assert line.endswith("deep.yaml:1: nested deeper than 100 levels")


def test_deeply_nested_knowledge_overlay(tmp_path: Path):
    overlay = tmp_path / "kb"
    write(overlay / "frameworks" / "pytorch.yaml", "id: pytorch\n" + deep_yaml(key="summary"))
    proc = run_child("recommend", "--task", "speech", "--knowledge", overlay)
    assert "pytorch.yaml:2: nested deeper than 100 levels" in child_error(proc)


def test_nesting_up_to_the_limit_is_fine(tmp_path: Path):
    path = write(tmp_path / "ok.yaml", "a: " + "[" * 99 + "]" * 99 + "\n")
    assert yamlfile.load(path)["a"] is not None
    with pytest.raises(BadInput, match="nested deeper than 100"):
        yamlfile.load(write(tmp_path / "no.yaml", "a: " + "[" * 100 + "]" * 100 + "\n"))


def test_deeply_nested_bench_file_is_one_line(tmp_path: Path):
    path = write(tmp_path / "bench.json", deep_json())
    line = one_line_error(cli("recommend", "--task", "speech", "--bench", path))
    assert line.endswith(f"--bench {path}: nested deeper than 100 levels")


def test_jsonfile_refuses_deep_nesting_nan_infinity_and_duplicates(tmp_path: Path):
    cases = {
        deep_json(): "nested deeper than 100 levels",
        '{"a": NaN}': "NaN is not a number JSON allows",
        '{"a": -Infinity}': "-Infinity is not a number JSON allows",
        '{"a": 1e999}': "out of range",
        '{"a": 1, "a": 2}': "duplicate key 'a'",
        "{nope": "not valid JSON",
    }
    for text, message in cases.items():
        path = write(tmp_path / "m.json", text)
        with pytest.raises(BadInput) as caught:
            jsonfile.load(path, "metrics file")
        assert caught.value.message.startswith(f"{path}") and message in caught.value.message
        assert "\n" not in caught.value.message
    assert jsonfile.load(write(tmp_path / "ok.json", '{"s": "[[[{{{", "n": [1.5, 2]}')) == {
        "s": "[[[{{{",
        "n": [1.5, 2],
    }


def test_nan_in_a_bench_file_is_refused(tmp_path: Path):
    result = bench_result(pytorch=(100.0, 10.0), tensorflow=(50.0, 40.0))
    result["frameworks"][0]["models"]["mlp"]["samples_per_s"] = math.nan
    path = write(tmp_path / "bench.json", json.dumps(result))
    assert "NaN is not a number JSON allows" in one_line_error(cli("recommend", "--task", "speech", "--bench", path))


def test_a_bench_file_of_the_wrong_shape_is_one_line(tmp_path: Path):
    result = bench_result(pytorch=(100.0, 10.0))
    result["frameworks"][0]["framework"] = ["pytorch"]
    path = write(tmp_path / "bench.json", json.dumps(result))
    line = one_line_error(cli("recommend", "--task", "speech", "--bench", path))
    assert 'frameworks[0]: "framework" must be a framework id' in line


# --- 3. duplicate keys ----------------------------------------------------------------------------


def test_duplicate_key_in_answers_names_both_lines(tmp_path: Path):
    line = one_line_error(recommend_with(tmp_path, "task: speech\nhardware: [cpu]\ntask: image-classification\n"))
    assert line.endswith("team.yaml:3: duplicate key 'task' (first at line 1)")


def test_duplicate_key_nested_in_a_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write(tmp_path / "dlpick.yaml", "answers:\n  familiarity:\n    pytorch: 1\n    pytorch: 5\n")
    monkeypatch.chdir(tmp_path)
    assert one_line_error(cli("recommend", "--task", "speech")).endswith(
        "dlpick.yaml:4: duplicate key 'pytorch' (first at line 3)"
    )


def test_duplicate_key_in_a_knowledge_overlay(tmp_path: Path):
    overlay = tmp_path / "kb"
    write(overlay / "criteria.yaml", "partial_path: 0.5\npartial_path: 0.7\n")
    _, problems = knowledge.validate_dirs([BUILTIN, overlay])
    assert problems == [f"{overlay / 'criteria.yaml'}:2: duplicate key 'partial_path' (first at line 1)"]


def test_merge_keys_are_not_duplicates(tmp_path: Path):
    path = write(tmp_path / "m.yaml", "a:\n  <<: {x: 1, y: 2}\n  x: 3\n")
    assert yamlfile.load(path) == {"a": {"x": 3, "y": 2}}


# --- 4. numbers in answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("familiarity: {pytorch: .nan}", "familiarity.pytorch: expected a whole number 0..5, got nan"),
        ("familiarity: {pytorch: .inf}", "familiarity.pytorch: expected a whole number 0..5, got inf"),
        ("familiarity: {pytorch: -.inf}", "familiarity.pytorch: expected a whole number 0..5, got -inf"),
        ("familiarity: {pytorch: true}", "familiarity.pytorch: expected a whole number 0..5, got True"),
        ("familiarity: {pytorch: 9}", "familiarity.pytorch: must be between 0 and 5, got 9"),
        ("familiarity: {pytorch: -3}", "familiarity.pytorch: must be between 0 and 5, got -3"),
        ("familiarity: {pytorch: 2.5}", "familiarity.pytorch: expected a whole number 0..5, got 2.5"),
        ("priorities: {performance: .nan}", "priorities.performance: expected a number 0..5, got nan"),
        ("priorities: {performance: .inf}", "priorities.performance: expected a number 0..5, got inf"),
        ("priorities: {performance: 9}", "priorities.performance: must be between 0 and 5, got 9"),
        ("priorities: {performance: -3}", "priorities.performance: must be between 0 and 5, got -3"),
        ("priorities: {performance: true}", "priorities.performance: expected a number 0..5, got True"),
        ("priorities: {performance: '٣'}", "priorities.performance: expected a number 0..5, got '٣'"),
    ],
)
def test_levels_must_be_finite_numbers_in_range(tmp_path: Path, text: str, expected: str):
    assert one_line_error(recommend_with(tmp_path, f"task: speech\n{text}\n")).endswith(expected)


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        (["--familiar", "pytorch=٤"], "--familiar: expected a whole number 0..5, got '٤'"),
        (["--familiar", "pytorch=1_0"], "--familiar: expected a whole number 0..5, got '1_0'"),
        (["--weight", "performance=nan"], "--weight: expected a number 0..5, got 'nan'"),
        (["--weight", "performance=inf"], "--weight: expected a number 0..5, got 'inf'"),
        (["--weight", "performance=9"], "--weight: must be between 0 and 5, got 9.0"),
    ],
)
def test_level_flags_are_ascii_finite_numbers(flag: list[str], expected: str):
    assert one_line_error(cli("recommend", "--task", "speech", "--json", *flag)).endswith(expected)


def test_levels_in_range_still_work(tmp_path: Path):
    result = recommend_with(tmp_path, "task: speech\nfamiliarity: {pytorch: 5}\npriorities: {performance: 0.5}\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["answers"]["priorities"] == {"performance": 0.5}


# --- 5. the Python version ------------------------------------------------------------------------


def test_unquoted_python_version_is_refused_with_a_hint(tmp_path: Path):
    line = one_line_error(recommend_with(tmp_path, "task: speech\npython: 3.10\n"))
    assert 'python: expected a quoted version like "3.11", got the number 3.1' in line
    assert 'write "3.10"' in line


@pytest.mark.parametrize("version", ["3.99999", "٣.١١", "3.١١", "3.7", "4.0", "3.21", "3.11.2", " 3.x"])
def test_python_version_must_be_ascii_major_minor_in_range(tmp_path: Path, version: str):
    line = one_line_error(recommend_with(tmp_path, f"task: speech\npython: '{version}'\n"))
    assert "team.yaml: python:" in line


@pytest.mark.parametrize("version", ["3.8", "3.10", "3.20"])
def test_known_python_versions_pass(tmp_path: Path, version: str):
    result = recommend_with(tmp_path, f"task: speech\npython: '{version}'\ninclude_retired: true\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["answers"]["python"] == version


def test_profile_python_version_is_checked_the_same_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    write(tmp_path / "dlpick.yaml", "template:\n  python_version: '3.99999'\n")
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli("recommend", "--task", "speech"))
    assert "dlpick.yaml:2: template.python_version: Value error, Python 3.99999 is not a version" in line


# --- 6. project-name patterns ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("{team:d}", "placeholder {team:d} may not have a format or conversion"),
        ("{team:>99999999999}", "placeholder {team:>99999999999} may not have a format"),
        ("{team!r}", "placeholder {team!r} may not have a format or conversion"),
        ("{team:{task}}", "may not have a format"),
        ("{team.__class__}", "unknown placeholder {team.__class__}"),
        ("{team[0]}", "unknown placeholder {team[0]}"),
        ("{}", "unknown placeholder {}"),
        ("{team", "invalid pattern"),
        ("x" * 201, "pattern longer than 200 characters"),
    ],
)
def test_project_name_patterns_are_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pattern: str, expected: str
):
    problem = name_pattern_problem(pattern)
    assert problem is not None and expected in problem
    write(tmp_path / "dlpick.yaml", yaml.safe_dump({"team": "vision", "template": {"project_name": pattern}}))
    monkeypatch.chdir(tmp_path)
    line = one_line_error(cli("recommend", "--task", "speech"))
    assert "template.project_name: Value error, " in line and expected in line


def test_a_pattern_that_bypassed_loading_is_still_refused(tmp_path: Path):
    profile = Profile(path=tmp_path / "dlpick.yaml", team="vision", project_name="{team:>99999999999}")
    with pytest.raises(BadInput, match="may not have a format"):
        profile.project_name_for("speech", "pytorch")
    good = Profile(path=tmp_path / "dlpick.yaml", team="vision", project_name="{team}-{task}-{{x}}")
    assert good.project_name_for("speech", "pytorch") == "vision-speech-{x}"


# --- 7. criteria numbers are bounded --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("support_levels: {official: .nan}", "criteria.yaml:1: support_levels.official: Input should be a finite"),
        ("support_levels: {official: 50}", "criteria.yaml:1: support_levels.official: Input should be less than"),
        ("partial_path: -0.1", "criteria.yaml:1: partial_path: Input should be greater than or equal to 0"),
        ("default_weights: {performance: .inf}", "criteria.yaml:1: default_weights.performance: Input should be"),
        ("default_weights: {performance: 6}", "default_weights.performance: Input should be less than or equal to 5"),
        ("task_evidence: {breadth_bonus: 2}", "criteria.yaml:1: task_evidence.breadth_bonus:"),
        ("distributed_levels: {sharded: .nan}", "criteria.yaml:1: distributed_levels.sharded:"),
        ("adoption: {best_rank: 0}", "criteria.yaml:1: adoption.best_rank: Input should be greater than or equal to 1"),
        ("adoption: {worst_rank: 50}", "criteria.yaml:1: adoption: Value error, best_rank (100) must be smaller"),
        ("community: {github_stars: {high: 10}}", "criteria.yaml:1: community.github_stars: Value error, low"),
        ("community: {releases_last_year: {high: 0}}", "community.releases_last_year.high: Input should be greater"),
        ("successor_familiarity_transfer: 1.5", "criteria.yaml:1: successor_familiarity_transfer: Input should"),
    ],
)
def test_criteria_numbers_are_bounded(tmp_path: Path, text: str, expected: str):
    overlay = tmp_path / "kb"
    write(overlay / "criteria.yaml", text + "\n")
    _, problems = knowledge.validate_dirs([BUILTIN, overlay])
    assert problems and expected in problems[0], problems
    result = cli("kb", "validate", overlay, "--json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["valid"] is False and expected in data["problems"][0]
    assert "NaN" not in result.stdout


def test_criteria_keys_scoring_reads_must_all_be_there(tmp_path: Path):
    from pydantic import ValidationError

    from dlpick.kb import schema

    criteria = yaml.safe_load((BUILTIN / "criteria.yaml").read_text())
    del criteria["support_levels"]["vendor"]
    with pytest.raises(ValidationError, match="support_levels needs a value for vendor"):
        schema.Criteria.model_validate(criteria)


def _all_answers():
    vocabulary = KB.vocabulary
    hardware_sets = [[], *[[h] for h in vocabulary.hardware], ["cpu", "nvidia-gpu"]]
    deployment_sets = [[], *[[d] for d in vocabulary.deployment]]
    for task in vocabulary.tasks:
        for hardware in hardware_sets:
            for deployment in deployment_sets:
                yield answers_mod.Answers(
                    task=task,
                    hardware=hardware,
                    deployment=deployment,
                    familiarity={"theano": 5, "pytorch": 3},
                    include_retired=True,
                )


def test_every_builtin_score_is_within_0_and_100():
    seen = 0
    for answers in _all_answers():
        result = scoring.recommend(answers, KB)
        for ranked in result.ranking:
            seen += 1
            assert 0 <= ranked.score <= 100, (answers, ranked.framework, ranked.score)
            for name, criterion in ranked.criteria.items():
                assert 0 <= criterion.score <= 1, (answers, ranked.framework, name, criterion.score)
        json.dumps(result.to_json(), allow_nan=False)
    assert seen > 1000


# --- 8. an invalid overlay is blamed, not a built-in file -----------------------------------------


def test_broken_overlay_framework_names_the_overlay_file(tmp_path: Path):
    overlay = tmp_path / "kb"
    write(overlay / "frameworks" / "pytorch.yaml", "id: pytorch\nhardware: 5\n")
    _, problems = knowledge.validate_dirs([BUILTIN, overlay])
    assert problems == [f"{overlay / 'frameworks' / 'pytorch.yaml'}:2: hardware: Input should be a valid dictionary"]
    line = one_line_error(cli("recommend", "--task", "speech", "--knowledge", overlay))
    assert "caffe.yaml" not in line and "pytorch.yaml:2: hardware" in line


def test_a_successor_that_does_not_exist_is_still_reported(tmp_path: Path):
    overlay = tmp_path / "kb"
    write(overlay / "frameworks" / "caffe.yaml", "id: caffe\nstatus:\n  successor: pytorchh\n")
    _, problems = knowledge.validate_dirs([BUILTIN, overlay])
    assert len(problems) == 1 and "caffe.yaml:3: status.successor: unknown framework 'pytorchh'" in problems[0]


# --- 9. bench --out -------------------------------------------------------------------------------


@pytest.fixture
def no_run(monkeypatch: pytest.MonkeyPatch):
    def fail(*args, **kwargs):
        raise AssertionError("the benchmark ran before the output path was checked")

    monkeypatch.setattr(bench_mod, "bench", fail)


def test_bench_out_to_a_folder_fails_before_running(tmp_path: Path, no_run):
    line = one_line_error(cli("bench", "--quick", "--out", tmp_path))
    assert line.endswith(f"--out {tmp_path}: is a directory; give a file name, e.g. {tmp_path / 'bench.json'}")


def test_bench_out_under_a_file_fails_before_running(tmp_path: Path, no_run):
    blocker = write(tmp_path / "file.txt", "x")
    line = one_line_error(cli("bench", "--quick", "--out", blocker / "out.json"))
    assert f"{blocker} is not a folder" in line


def test_a_failed_save_leaves_no_temp_file_and_says_where_the_result_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BadInput) as caught:
        bench_mod.save(bench_result(pytorch=(1.0, 1.0)), out)
    assert f"{out}: cannot write the bench result" in caught.value.message
    assert "the result was saved as" in caught.value.message
    assert not list(tmp_path.rglob("*.tmp"))

    def broken(self, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", broken)
    with pytest.raises(BadInput, match="No space left on device"):
        bench_mod.save(bench_result(pytorch=(1.0, 1.0)), tmp_path / "new.json", latest=False)
    assert not list(tmp_path.rglob("*.tmp")) and not (tmp_path / "new.json").exists()


def test_a_good_save_is_atomic_and_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    result = bench_result(pytorch=(1.0, 1.0))
    paths = bench_mod.save(result, tmp_path / "sub" / "out.json")
    assert paths[0] == tmp_path / "sub" / "out.json" and len(paths) == 3
    assert all(json.loads(p.read_text()) == result for p in paths)
    assert not list(tmp_path.rglob("*.tmp"))


# --- 10. suggestions and the empty ranking --------------------------------------------------------


def test_gpu_suggests_the_gpu_ids():
    line = one_line_error(cli("recommend", "--task", "speech", "--hardware", "gpu"))
    assert line.endswith("--hardware: unknown hardware 'gpu'; did you mean 'nvidia-gpu', 'amd-gpu' or 'intel-gpu'?")


def test_no_eligible_framework_is_said_so():
    # Python 3.20 (a version answers accept) has no release of any framework yet: nothing is eligible.
    answers = answers_mod.Answers(task="speech", hardware=["cpu"], python="3.20")
    result = scoring.recommend(answers, KB)
    assert result.ranking == []
    assert result.stability.text.startswith("no framework is eligible")
    assert "only one" not in result.stability.text


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
@pytest.mark.parametrize("kind", ["answers", "bench"])
def test_a_named_pipe_or_device_as_an_input_file_is_one_line_not_a_hang(tmp_path: Path, kind: str):
    import subprocess

    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    flag = ["--answers"] if kind == "answers" else ["--task", "image-classification", "--bench"]
    for source in (fifo, Path("/dev/zero")):
        # A child process with a bound: a blocking open or an endless read would end it and fail the test.
        done = subprocess.run(
            [sys.executable, "-m", "dlpick", "recommend", *flag, str(source)],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 2 and "not a regular file" in done.stderr, done.stderr
