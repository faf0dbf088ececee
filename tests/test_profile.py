"""The team profile dlpick.yaml, `dlpick init`, and --quiet."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dlpick.cli.app import app

runner = CliRunner()
PROFILE = {
    "team": "vision",
    "answers": {"task": "image-classification", "hardware": ["cpu"], "familiarity": {"pytorch": 2}},
    # Never the running Python, so the tests can tell the template's version from the answers'.
    "template": {
        "project_name": "{team}-{task}",
        "ci": "github",
        "python_version": "3.12" if sys.version_info[:2] != (3, 12) else "3.11",
    },
}


def write(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False) if not isinstance(data, str) else data)
    return path


def recommend_json(*args: str) -> dict[str, Any]:
    result = runner.invoke(
        app,
        [*args[: args.index("recommend")], "recommend", *args[args.index("recommend") + 1 :], "--json", "--no-input"],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_profile_from_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "dlpick.yaml", PROFILE)
    monkeypatch.chdir(tmp_path)
    answers = recommend_json("recommend")["answers"]
    assert answers["task"] == "image-classification"
    assert answers["hardware"] == ["cpu"]


def test_profile_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    profile = write(tmp_path / "team.yaml", PROFILE)
    assert recommend_json("--profile", str(profile), "recommend")["answers"]["familiarity"] == {"pytorch": 2}


def test_missing_profile_option_is_an_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--profile", str(tmp_path / "nope.yaml"), "recommend", "--task", "speech"])
    assert result.exit_code == 2
    assert "nope.yaml: no such profile file" in result.stderr


def test_precedence_profile_then_answers_file_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "dlpick.yaml", PROFILE)
    answers_file = write(tmp_path / "a.yaml", {"task": "speech", "hardware": ["nvidia-gpu"], "familiarity": {"jax": 3}})
    monkeypatch.chdir(tmp_path)
    answers = recommend_json("recommend", "--answers", str(answers_file), "--hardware", "tpu")["answers"]
    assert answers["task"] == "speech"  # file over profile
    assert answers["hardware"] == ["tpu"]  # flag over file
    assert answers["familiarity"] == {"pytorch": 2, "jax": 3}  # mappings merge key by key
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert answers["python"] == running  # template.python_version is for scaffold, not an answer


def test_bad_answer_value_names_the_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "dlpick.yaml", {"answers": {"task": "imag-classification"}})
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["recommend", "--json"])
    assert result.exit_code == 2
    assert "dlpick.yaml (answers): task" in result.stderr
    assert "image-classification" in result.stderr


def test_broken_profile_names_file_line_and_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "dlpick.yaml", "team: vision\ntemplate:\n  ci: gitlab\n  python_version: 3.11\n")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["recommend", "--task", "speech"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("dlpick: error: ") and lines[0].endswith(
        "dlpick.yaml:3: template.ci: Input should be 'github'"
    )
    assert lines[1].endswith(
        'dlpick.yaml:4: template.python_version: Value error, expected a quoted version like "3.11", got 3.11'
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("team: a\nanswerz:\n  task: speech\n", "dlpick.yaml:2: answerz: unknown field"),
        ("answers:\n  task: speech\n  hardwre: [cpu]\n", "dlpick.yaml:3: answers.hardwre: unknown field"),
        (
            "template:\n  project_name: '{team}-{nope}'\n",
            "dlpick.yaml:2: template.project_name: Value error, unknown placeholder {nope}",
        ),
    ],
)
def test_unknown_key_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str) -> None:
    write(tmp_path / "dlpick.yaml", text)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["recommend", "--task", "speech", "--json"])
    assert result.exit_code == 2
    assert expected in result.stderr


def test_knowledge_path_is_relative_to_the_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dlpick.advise import profile
    from dlpick.kb import knowledge

    team_dir = tmp_path / "repo"
    (team_dir / "kb" / "frameworks").mkdir(parents=True)
    write(team_dir / "dlpick.yaml", {"knowledge": "kb"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = profile.load(Path("../repo/dlpick.yaml"))
    assert loaded.knowledge is not None and loaded.knowledge.resolve() == (team_dir / "kb").resolve()
    result = runner.invoke(app, ["--verbose", "--profile", "../repo/dlpick.yaml", "show", "pytorch"])
    assert result.exit_code == 0, result.output
    assert f"knowledge: {knowledge.builtin_dir()}, ../repo/kb" in result.stderr
    # --knowledge overrides the profile's folder
    other = tmp_path / "other"
    (other / "frameworks").mkdir(parents=True)
    result = runner.invoke(
        app, ["-v", "--profile", "../repo/dlpick.yaml", "show", "pytorch", "--knowledge", str(other)]
    )
    assert f"knowledge: {knowledge.builtin_dir()}, {other}" in result.stderr


def test_missing_knowledge_folder_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "dlpick.yaml", "team: a\nknowledge: nowhere\n")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["recommend", "--task", "speech", "--json"])
    assert result.exit_code == 2
    assert "dlpick.yaml:2: knowledge:" in result.stderr and "no such folder" in result.stderr


def test_project_name_pattern(tmp_path: Path) -> None:
    from dlpick.advise import profile

    loaded = profile.load(write(tmp_path / "dlpick.yaml", PROFILE))
    assert loaded.project_name_for("speech", "pytorch") == "vision-speech"
    assert loaded.python_version == PROFILE["template"]["python_version"]


# `dlpick init`'s prompts are driven for real in tests/test_init_prompts.py.


def test_init_without_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 2
    assert "no terminal to ask in" in result.stderr and "dlpick init --help" in result.stderr
    assert not (tmp_path / "dlpick.yaml").exists()


def test_quiet_suppresses_notes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["recommend", "--task", "speech", "--save-answers"]
    loud = runner.invoke(app, [*args, "a.yaml"])
    assert loud.exit_code == 0 and "answers saved to a.yaml" in loud.stderr
    quiet = runner.invoke(app, ["--quiet", *args, "b.yaml"])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""
    saved = yaml.safe_load((tmp_path / "b.yaml").read_text())  # --quiet silences the note, not the saving
    assert saved["task"] == "speech"
    assert saved == yaml.safe_load((tmp_path / "a.yaml").read_text())


def test_quiet_and_verbose_exclude_each_other() -> None:
    result = runner.invoke(app, ["-q", "-v", "show", "pytorch"])
    assert result.exit_code == 2
    assert "--quiet and --verbose exclude each other" in result.stderr


def test_scaffold_uses_name_pattern_and_python_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "dlpick.yaml", PROFILE)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["scaffold", "pytorch", "--dest", "proj", "--no-verify", "--json", "--no-input"])
    assert result.exit_code == 0, result.output
    pyproject = (tmp_path / "proj" / "pyproject.toml").read_text()
    assert 'name = "vision-image-classification"' in pyproject
    assert f'requires-python = ">={PROFILE["template"]["python_version"]}"' in pyproject


@pytest.mark.parametrize(
    ("where", "says"),
    [
        ("missing/dlpick.yaml", "missing does not exist"),
        ("afile/dlpick.yaml", "afile is not a folder"),
        ("adir", "is a folder"),
        ("kept.yaml", "already exists"),
    ],
)
def test_init_checks_the_destination_before_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, says: str
) -> None:
    from dlpick.cli import init, questionnaire

    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    (tmp_path / "kept.yaml").write_text("team: kept\n")
    monkeypatch.setattr(init, "_has_terminal", lambda: True)

    def asked(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the questionnaire ran before the destination was checked")

    monkeypatch.setattr(questionnaire, "ask", asked)
    for args in (["init", "--profile", str(tmp_path / where)], ["--profile", str(tmp_path / where), "init"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert says in result.stderr and "Traceback" not in result.output
    assert (tmp_path / "kept.yaml").read_text() == "team: kept\n"
