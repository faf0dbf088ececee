"""The CLI with typer's CliRunner: every command, every class of bad input, exact exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from dlpick.cli.app import app

runner = CliRunner()


def run(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dlpick: error: ")
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def answers_file(tmp_path: Path):
    def write(text: str, name: str = "team.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


# --- recommend ---------------------------------------------------------------------------


def test_recommend_json_follows_the_contract(answers_file):
    path = answers_file(
        "task: image-classification\nhardware: [nvidia-gpu]\ndeployment: [server]\nfamiliarity: {pytorch: 4}\n"
    )
    result = run("recommend", "--answers", str(path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"ranking", "excluded", "answers", "knowledge"}
    first = data["ranking"][0]
    assert set(first) >= {"framework", "score", "breakdown", "reasons", "warnings"}
    assert 0 <= first["score"] <= 100
    assert [r["score"] for r in data["ranking"]] == sorted((r["score"] for r in data["ranking"]), reverse=True)
    for criterion in first["breakdown"].values():
        for fact in criterion["facts"]:
            assert fact["source"] and fact["as_of"]
    assert data["answers"]["familiarity"] == {"pytorch": 4}
    assert data["knowledge"]["as_of"] and data["knowledge"]["version"]
    assert "stability" in data


def test_recommend_flags_override_the_file(answers_file):
    path = answers_file("task: image-classification\nhardware: [nvidia-gpu]\nfamiliarity: {pytorch: 1, jax: 2}\n")
    result = run(
        "recommend",
        "-a",
        str(path),
        "--task",
        "text-classification",
        "--hardware",
        "cpu",
        "--familiar",
        "pytorch=5",
        "--weight",
        "performance=0",
        "--json",
    )
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)["answers"]
    assert answers["task"] == "text-classification"
    assert answers["hardware"] == ["cpu"]
    assert answers["familiarity"] == {"pytorch": 5, "jax": 2}  # mappings merge key by key
    assert answers["priorities"] == {"performance": 0}


def test_recommend_top_and_retired(answers_file):
    # Python 3.11: the last version Theano installs on (knowledge/frameworks/theano.yaml), on any interpreter
    path = answers_file("task: tabular-regression\nhardware: [cpu]\npython: '3.11'\n")
    plain = json.loads(run("recommend", "-a", str(path), "--json").stdout)
    assert "theano" in {e["framework"] for e in plain["excluded"]}
    top = json.loads(run("recommend", "-a", str(path), "--json", "--top", "2").stdout)
    assert len(top["ranking"]) == 2
    retired = json.loads(run("recommend", "-a", str(path), "--json", "--include-retired").stdout)
    assert "theano" not in {e["framework"] for e in retired["excluded"]}
    theano = next(r for r in retired["ranking"] if r["framework"] == "theano")
    assert any("retired since" in w for w in theano["warnings"])


def test_recommend_table_output(answers_file):
    path = answers_file("task: image-classification\nhardware: [nvidia-gpu]\ndeployment: [mobile]\n")
    result = run("recommend", "-a", str(path))
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("Ranking", "Excluded", "Stability:", "task_fit", "Knowledge as of"):
        assert text in out


def test_save_answers_round_trips(tmp_path: Path):
    saved = tmp_path / "saved.yaml"
    first = run(
        "recommend",
        "--task",
        "speech",
        "--hardware",
        "cpu,nvidia-gpu",
        "--familiar",
        "jax=3",
        "--save-answers",
        str(saved),
        "--json",
    )
    assert first.exit_code == 0, first.output
    assert yaml.safe_load(saved.read_text())["hardware"] == ["cpu", "nvidia-gpu"]
    second = run("recommend", "--answers", str(saved), "--json")
    assert json.loads(second.stdout)["ranking"] == json.loads(first.stdout)["ranking"]


def test_recommend_without_terminal_or_answers_is_a_clear_error():
    line = one_line_error(run("recommend", input=""))
    assert "--answers" in line and "--task" in line


def test_recommend_with_team_knowledge_overrides(tmp_path: Path, answers_file):
    overlay = tmp_path / "ours" / "frameworks"
    overlay.mkdir(parents=True)
    (overlay / "mindspore.yaml").write_text(
        "id: mindspore\nhardware:\n"
        "  fpga: {level: official, mechanism: our board, source: our lab notes, as_of: 2026-11-01}\n"
    )
    path = answers_file("task: image-classification\nhardware: [fpga]\n")
    before = json.loads(run("recommend", "-a", str(path), "--json").stdout)
    after = json.loads(run("recommend", "-a", str(path), "--json", "--knowledge", str(tmp_path / "ours")).stdout)
    assert "mindspore" in {e["framework"] for e in before["excluded"]}
    assert "mindspore" in {r["framework"] for r in after["ranking"]}


def test_knowledge_env_var_is_used(tmp_path: Path, monkeypatch, answers_file):
    (tmp_path / "ours" / "frameworks").mkdir(parents=True)
    (tmp_path / "ours" / "frameworks" / "pytorch.yaml").write_text("id: pytorch\nhardware: oops\n")
    monkeypatch.setenv("DLPICK_KNOWLEDGE", str(tmp_path / "ours"))
    line = one_line_error(run("recommend", "--task", "speech", "--json"))
    assert "pytorch.yaml:2: hardware:" in line


# --- bad input: one line, exit 2 ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("task: image-clasification\n", "unknown task 'image-clasification'; did you mean 'image-classification'?"),
        ("task: speech\nhardware: [nvidia]\n", "unknown hardware 'nvidia'; did you mean 'nvidia-gpu'?"),
        ("task: speech\ndeployment: [phone]\n", "unknown target 'phone'; valid: server, batch"),
        ("task: speech\nfamiliarity: {pytroch: 3}\n", "unknown framework 'pytroch'; did you mean 'pytorch'?"),
        ("task: speech\nfamiliarity: {pytorch: 9}\n", "familiarity.pytorch: must be between 0 and 5, got 9"),
        ("task: speech\nfamiliarity: {pytorch: lots}\n", "familiarity.pytorch: expected a whole number 0..5"),
        ("task: speech\npriorities: {speed: 3}\n", "unknown criterion 'speed'"),
        ("task: speech\npriorities: [performance]\n", "priorities: expected a mapping"),
        ("task: speech\nhardware: 3\n", "hardware: expected a list of ids"),
        ("task: speech\ninclude_retired: maybe\n", "include_retired: expected true or false"),
        ("task: speech\npython: three\n", "python: expected a version like"),
        ("task: speech\ndeploy: [server]\n", "unknown answer key 'deploy'; did you mean 'deployment'?"),
        ("hardware: [cpu]\n", "task: missing"),
        ("- task: speech\n", "expected a mapping of answers"),
        ("task: speech\nhardware: [cpu\n", "team.yaml:3:"),
        ("task: !!python/object/apply:os.system [echo hi]\n", "tags that construct objects are not allowed"),
    ],
)
def test_bad_answers_file(answers_file, text, expected):
    path = answers_file(text)
    line = one_line_error(run("recommend", "--answers", str(path), "--json"))
    assert expected in line
    assert "team.yaml" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--task", "speach"], "--task: unknown task 'speach'; did you mean 'speech'?"),
        (["--task", "speech", "--familiar", "pytorch"], "--familiar 'pytorch': expected NAME=LEVEL"),
        (["--task", "speech", "--weight", "ease=3"], "--weight: unknown criterion 'ease'"),
        (["--task", "speech", "--top", "0"], "--top"),
        (["--task", "speech", "--bogus"], "No such option: --bogus"),
    ],
)
def test_bad_flags(args, expected):
    line = one_line_error(run("recommend", *args, "--json"))
    assert expected in line


def test_missing_and_unreadable_files(tmp_path: Path):
    assert "nope.yaml: no such file" in one_line_error(run("recommend", "-a", str(tmp_path / "nope.yaml")))
    assert "is a directory" in one_line_error(run("recommend", "-a", str(tmp_path)))
    line = one_line_error(run("recommend", "--task", "speech", "--knowledge", str(tmp_path / "missing")))
    assert "knowledge folder not found" in line
    line = one_line_error(run("recommend", "--task", "speech", "--save-answers", str(tmp_path / "no" / "dir.yaml")))
    assert "cannot write answers" in line


# --- show, compare, kb -------------------------------------------------------------------


def test_show_lists_facts_with_sources():
    result = run("show", "pytorch")
    assert result.exit_code == 0, result.output
    assert "PyTorch" in result.stdout and "source" in result.stdout
    data = json.loads(run("show", "theano", "--json").stdout)
    assert data["status"]["value"] == "retired" and data["status"]["successor"] == "pytensor"
    assert "did you mean 'pytorch'" in one_line_error(run("show", "pytorh"))


def test_compare_side_by_side():
    result = run("compare", "pytorch", "tensorflow", "jax")
    assert result.exit_code == 0, result.output
    assert "Sources:" in result.stdout and "[1]" in result.stdout
    data = json.loads(run("compare", "pytorch", "mindspore", "--json").stdout)
    assert data["frameworks"] == ["pytorch", "mindspore"]
    hardware = next(r for r in data["rows"] if r["field"] == "hardware: ascend-npu")
    assert hardware["values"]["mindspore"]["sources"]
    assert "at least two" in one_line_error(run("compare", "pytorch"))
    assert "unknown framework 'caffee'" in one_line_error(run("compare", "pytorch", "caffee"))


def test_kb_validate_ok_and_problems(tmp_path: Path):
    ok = run("kb", "validate", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["valid"] is True
    bad = tmp_path / "bad" / "frameworks"
    bad.mkdir(parents=True)
    (bad / "jax.yaml").write_text("id: jax\ndistributed:\n  level: galactic\nsurprise: 1\n")
    (bad / "new.yaml").write_text("id: other\n")
    result = run("kb", "validate", str(tmp_path / "bad"))
    assert result.exit_code == 2
    problems = result.stderr
    assert "jax.yaml:3: distributed.level: Input should be" in problems
    assert "jax.yaml:4: surprise: unknown field" in problems
    assert "new.yaml:1: id: 'other' does not match the file name 'new'" in problems


def test_kb_schema_is_json_schema():
    result = run("kb", "schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["additionalProperties"] is False
    assert {"release", "status", "hardware", "deployment"} <= set(schema["required"])
    assert "unknown schema" in one_line_error(run("kb", "schema", "frameworks"))


def test_version_and_help():
    from dlpick import __version__

    assert run("--version").stdout.strip() == f"dlpick {__version__}"
    result = run("recommend", "--help")
    assert result.exit_code == 0
    assert "Examples" in result.stdout and "--answers" in result.stdout


def test_recommend_writes_decision_records(tmp_path: Path, answers_file):
    path = answers_file("task: image-classification\nhardware: [nvidia-gpu]\ndeployment: [server]\n")
    for name in ("decision.md", "decision.html"):
        result = run("recommend", "-a", str(path), "--json", "--report", str(tmp_path / name))
        assert result.exit_code == 0, result.output
        assert f"decision record written to {tmp_path / name}" in result.stderr
    assert (tmp_path / "decision.md").read_text().startswith("# ADR")
    assert "<svg" in (tmp_path / "decision.html").read_text()


def test_outputs_are_not_overwritten_without_force(tmp_path: Path, answers_file):
    path = answers_file("task: speech\n")
    record = tmp_path / "decision.md"
    record.write_text("keep me")
    saved = tmp_path / "answers.yaml"
    saved.write_text("keep me too")
    assert "already exists (pass --force" in one_line_error(run("recommend", "-a", str(path), "--report", str(record)))
    assert "already exists (pass --force" in one_line_error(
        run("recommend", "-a", str(path), "--save-answers", str(saved))
    )
    assert record.read_text() == "keep me" and saved.read_text() == "keep me too"
    forced = run(
        "recommend", "-a", str(path), "--json", "--force", "--report", str(record), "--save-answers", str(saved)
    )
    assert forced.exit_code == 0, forced.output
    assert record.read_text().startswith("# ADR") and "task: speech" in saved.read_text()


@pytest.mark.parametrize(
    ("name", "says"),
    [("missing/decision.md", "does not exist"), ("decision.pdf", "unknown report format '.pdf'")],
)
def test_bad_report_path_fails_before_anything_else(tmp_path: Path, name: str, says: str):
    # No answers either: the report path is checked first, so the user is not asked questions in vain.
    assert says in one_line_error(run("recommend", "--report", str(tmp_path / name), input=""))


def test_headline_without_deployment_targets_reads_as_english():
    result = run("recommend", "--task", "speech", "--python", "3.8", "--no-input")
    assert result.exit_code == 0, result.output
    headline = " ".join(result.stdout.split("\n\n")[0].split())
    assert "no deployment target given (Python 3.8)" in headline and "deploying to no" not in headline


def test_the_community_criterion_names_only_what_it_measures():
    from dlpick.kb import knowledge

    assert "stars" not in knowledge.load().vocabulary.criteria["community"].lower()
