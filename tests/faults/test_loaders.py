"""Fuzzing every loader dlpick reads user files with: answers, team profiles, knowledge overlays,
bench results and plain JSON.

Inputs come from random structured data dumped as YAML/JSON (the real keys and junk; ints, floats
with NaN and infinities, texts, dates, nested lists and mappings), from random edits of the real
example and knowledge files, and from the known hostile cases (50,000-deep nesting, duplicate keys,
alias bombs). The property is always the same: the file is accepted, and what comes out is sane
(scores 0..100, JSON without NaN), or it is refused with BadInput: one line, exit 2 from the CLI.
Never another exception, never a dead interpreter.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dlpick import jsonfile, yamlfile
from dlpick.advise import answers as answers_mod
from dlpick.advise import compare, profile, scoring
from dlpick.errors import BadInput
from dlpick.kb import knowledge
from dlpick.machine import bench as bench_mod

from .helpers import ROOT, bench_result, cli, deep_json, deep_yaml, ok_or_one_line_error, run_child

KB = knowledge.load()
VOCAB = KB.vocabulary
BUILTIN = ROOT / "knowledge"
EXAMPLES = sorted((ROOT / "examples" / "profiles").glob("*.yaml"))
# DLPICK_FUZZ_EXAMPLES=5000 for a long hunt; the default keeps this file well under a minute.
EXAMPLES_PER_TEST = int(os.environ.get("DLPICK_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES_PER_TEST,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
CLI_FUZZ = settings(FUZZ, max_examples=max(1, EXAMPLES_PER_TEST // 4))

# --- building texts -------------------------------------------------------------------------------

CRITERIA_KEYS = list(yaml.safe_load((BUILTIN / "criteria.yaml").read_text()))
FRAMEWORK_KEYS = list(yaml.safe_load((BUILTIN / "frameworks" / "pytorch.yaml").read_text()))
PROFILE_KEYS = ["team", "answers", "knowledge", "template", "project_name", "license", "ci", "python_version"]
IDS = [*VOCAB.frameworks, *VOCAB.tasks, *VOCAB.hardware, *VOCAB.deployment, *VOCAB.criteria]
REAL_KEYS = [*answers_mod.KEYS, *CRITERIA_KEYS, *FRAMEWORK_KEYS, *PROFILE_KEYS, *IDS]
TRICKY = [
    "3.10", "3.1", "3.99999", "٣.١١", "2026-13-45", "2026-02-30", "{team:d}", "{team:>99999999999}",
    "{team}-{task}", ".nan", "-.inf", "yes", "~", "official", "primary", "active", "retired", "https://example.org/x",
]  # fmt: skip

# Text without surrogates (they cannot be written as UTF-8) and, mostly, printable.
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=6),
    texts,
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)),
    st.sampled_from([*IDS, *TRICKY]),
)
keys = st.one_of(st.sampled_from(REAL_KEYS), texts, st.integers(-3, 3), st.none(), st.booleans())
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=12
)
levels = st.one_of(st.integers(-3, 9), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), scalars)


def _ids(kind: str) -> st.SearchStrategy[Any]:
    return st.lists(st.sampled_from(list(VOCAB.ids(kind))) | texts, max_size=3) | st.sampled_from(list(VOCAB.ids(kind)))


realistic_answers = st.fixed_dictionaries(
    {},
    optional={
        "task": st.sampled_from(list(VOCAB.tasks)) | scalars,
        "hardware": _ids("hardware") | values,
        "deployment": _ids("deployment") | values,
        "familiarity": st.dictionaries(st.sampled_from(VOCAB.frameworks) | keys, levels, max_size=3) | values,
        "priorities": st.dictionaries(st.sampled_from(list(VOCAB.criteria)) | keys, levels, max_size=3) | values,
        "python": st.sampled_from(["3.10", "3.11", "3.12", "3.8", "3.20"]) | scalars,
        "include_retired": st.booleans() | scalars,
    },
)


def _merged(parts: tuple[dict[Any, Any], dict[Any, Any]]) -> dict[Any, Any]:
    return {**parts[0], **parts[1]}


junk = st.one_of(st.just({}), st.just({}), st.dictionaries(keys, values, min_size=1, max_size=2))
answers_data = st.tuples(realistic_answers, junk).map(_merged)


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


MUTATION_CHARS = list(":-[]{}&*!|>'\"#%@`\n\t ,?.0123456789<=~") + ["\n  ", ": ", "- ", "!!", "&a ", "*a", "---"]


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """`text` with a few random edits: characters in, slices out, lines repeated, quotes dropped."""
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "repeat", "unquote"]))
        at = draw(st.integers(0, len(text)))
        if kind == "insert":
            text = text[:at] + draw(st.sampled_from(MUTATION_CHARS) | texts) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif kind == "repeat":
            lines = text.splitlines(keepends=True) or [""]
            index = draw(st.integers(0, len(lines) - 1))
            lines.insert(index, lines[index])
            text = "".join(lines)
        else:
            text = text.replace("'", "").replace('"', "")
    return text


def yaml_texts(data: st.SearchStrategy[Any], originals: list[Path]) -> st.SearchStrategy[str]:
    """Dumped random data (sometimes with its quotes stripped) or a mutated real file."""
    dumped = data.map(dump)
    unquoted = dumped.map(lambda text: text.replace("'", ""))
    files = st.sampled_from([p.read_text(encoding="utf-8") for p in originals]).flatmap(mutated)
    return st.one_of(dumped, unquoted, files)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


def one_line(exc: BadInput) -> str:
    message = str(exc)
    assert message and "\n" not in message and "\r" not in message, message
    return message


def check_recommendation(answers: answers_mod.Answers, kb: knowledge.Knowledge, bench: Any = None) -> None:
    """Scores within 0..100, every criterion within 0..1, JSON without NaN."""
    try:
        result = scoring.recommend(answers, kb, bench=bench)
    except BadInput as exc:  # every weight 0
        assert "weight 0" in one_line(exc)
        return
    for ranked in result.ranking:
        assert 0 <= ranked.score <= 100, (ranked.framework, ranked.score)
        assert all(0 <= c.score <= 1 for c in ranked.criteria.values()), ranked.framework
    json.dumps(result.to_json(), allow_nan=False)


# --- answers files --------------------------------------------------------------------------------


def load_answers(path: Path) -> answers_mod.Answers | None:
    try:
        return answers_mod.normalise(answers_mod.read_file(path), VOCAB, source=str(path))
    except BadInput as exc:
        assert one_line(exc).startswith(str(path))
        event("refused")
        return None


@FUZZ
@given(yaml_texts(answers_data, EXAMPLES))
def test_answers_files_load_or_fail_cleanly(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        answers = load_answers(write(Path(folder) / "team.yaml", text))
    if answers is not None:
        event("accepted")
        check_recommendation(answers, KB)


@CLI_FUZZ
@given(yaml_texts(answers_data, EXAMPLES))
def test_recommend_answers_cli_exits_0_or_2_with_one_line(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "team.yaml", text)
        result = cli("recommend", "--answers", path, "--json")
    if ok_or_one_line_error(result) is None:
        data = json.loads(result.stdout)
        assert all(0 <= r["score"] <= 100 for r in data["ranking"])


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["--familiar", "--weight"]), st.tuples(keys, levels), max_size=2),
    st.sampled_from(["", "3.10", "3.x", "٣.١١", "3.99999", "3.12"]),
)
def test_answer_flags_normalise_or_fail_cleanly(flags: dict[str, tuple[Any, Any]], python: str) -> None:
    pairs = {flag: [f"{name}={level}"] for flag, (name, level) in flags.items()}
    try:
        raw = {
            "task": "speech",
            "familiarity": answers_mod.parse_pairs(pairs.get("--familiar", []), "--familiar"),
            "priorities": answers_mod.parse_pairs(pairs.get("--weight", []), "--weight"),
            "python": python or None,
        }
        merged, origin = answers_mod.merge({}, raw)
        answers = answers_mod.normalise(merged, VOCAB, source=origin)
    except BadInput as exc:
        one_line(exc)
        return
    check_recommendation(answers, KB)


# --- team profiles --------------------------------------------------------------------------------

template_data = st.fixed_dictionaries(
    {},
    optional={
        "project_name": st.sampled_from(["{team}-{task}", "{framework}", "{team:d}", "{team!s}", "{x}", "{", "}"])
        | texts
        | scalars,
        "license": texts | scalars,
        "ci": st.sampled_from(["github", "gitlab"]) | scalars,
        "python_version": st.sampled_from(["3.11", "3.10", "3.99999", "٣.١١"]) | scalars,
    },
)
profile_data = st.tuples(
    st.fixed_dictionaries(
        {},
        optional={
            "team": texts | texts | scalars,
            "answers": realistic_answers | answers_data | values,
            "knowledge": st.sampled_from([".", "kb", "nowhere", "/"]) | scalars,
            "template": template_data | values,
        },
    ),
    junk,
).map(_merged)


def load_profile(path: Path) -> profile.Profile | None:
    try:
        team = profile.load(path)
    except BadInput as exc:
        lines = str(exc).split("\n")  # a profile lists every problem, one per line
        assert all(line.startswith(str(path)) for line in lines), str(exc)
        event("refused")
        return None
    event("accepted")
    try:
        name = team.project_name_for("speech", "pytorch")
    except BadInput as exc:
        one_line(exc)
    else:
        assert name is None or isinstance(name, str)
    return team


@FUZZ
@given(yaml_texts(profile_data, [ROOT / "examples" / "team.yaml", *EXAMPLES[:3]]))
def test_team_profiles_load_or_fail_cleanly(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "kb").mkdir()
        team = load_profile(write(Path(folder) / "dlpick.yaml", text))
        if team is None:
            return
        raw, origin = answers_mod.layer(team.answers, f"{team.path} (answers)", {"task": "speech"}, "--task")
        try:
            answers = answers_mod.normalise(raw, VOCAB, source=origin)
        except BadInput as exc:
            one_line(exc)
            return
        check_recommendation(answers, KB)


@CLI_FUZZ
@given(yaml_texts(profile_data, [ROOT / "examples" / "team.yaml"]))
def test_recommend_with_a_profile_exits_0_or_2(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "dlpick.yaml", text)
        result = cli("--profile", path, "recommend", "--task", "speech", "--json")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert lines[0].startswith("dlpick: error: ") and "Traceback" not in result.output


# --- knowledge overlays ---------------------------------------------------------------------------

share = st.one_of(st.floats(0, 1), st.floats(allow_nan=True, allow_infinity=True), st.integers(-2, 100), scalars)
criteria_data = st.fixed_dictionaries(
    {},
    optional={
        "default_weights": st.dictionaries(st.sampled_from(list(VOCAB.criteria)) | texts, share, max_size=3),
        "support_levels": st.dictionaries(st.sampled_from(["primary", "official", "vendor", "x"]), share, max_size=3),
        "partial_path": share,
        "task_evidence": st.dictionaries(st.sampled_from(["hub", "example", "breadth_bonus"]), share, max_size=2),
        "adoption": st.dictionaries(st.sampled_from(["base", "best_rank", "worst_rank"]), share, max_size=3),
        "community": st.dictionaries(
            st.sampled_from(["github_stars", "pypi_download_rank", "releases_last_year"]),
            st.dictionaries(st.sampled_from(["low", "high", "best", "worst"]), share, max_size=2) | values,
            max_size=2,
        ),
        "distributed_levels": st.dictionaries(st.sampled_from(["none", "sharded"]), share, max_size=2),
        "successor_familiarity_transfer": share,
    },
)
framework_data = st.fixed_dictionaries(
    {"id": st.just("pytorch") | scalars},
    optional={
        key: values
        | st.sampled_from(
            [
                {"value": "retired", "since": "2026-13-45", "successor": "nothing"},
                {
                    "cpu": {
                        "level": "official",
                        "mechanism": "x",
                        "source": "https://example.org/x",
                        "as_of": "2026-13-45",
                    }
                },
                {"versions": ["3.10", "3.١١"], "source": "document", "as_of": "2026-01-01"},
            ]
        )
        for key in FRAMEWORK_KEYS
        if key != "id"
    },
)


@st.composite
def overlays(draw: st.DrawFn) -> dict[str, str]:
    """{relative path: text} of a knowledge folder laid over the built-in one."""
    files = {}
    if draw(st.booleans()):
        files["criteria.yaml"] = draw(yaml_texts(criteria_data, [BUILTIN / "criteria.yaml"]))
    if draw(st.booleans()) or not files:
        source = BUILTIN / "frameworks" / "pytorch.yaml"
        files["frameworks/pytorch.yaml"] = draw(yaml_texts(framework_data, [source]))
    return files


def validate_overlay(folder: Path, files: dict[str, str]) -> knowledge.Knowledge | None:
    for name, text in files.items():
        write(folder / name, text)
    kb, problems = knowledge.validate_dirs([BUILTIN, folder])
    event("refused" if problems else "accepted")
    for problem in problems:
        assert "\n" not in problem, problem
        assert problem.startswith(str(folder)), f"an overlay's problem is blamed on another file: {problem}"
    return kb if not problems else None


@FUZZ
@given(overlays(), answers_data)
def test_knowledge_overlays_validate_or_report_the_overlay(files: dict[str, str], raw: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        kb = validate_overlay(Path(folder), files)
    if kb is None:
        return
    try:
        answers = answers_mod.normalise({"include_retired": True, **raw, "task": "speech"}, kb.vocabulary)
    except BadInput:
        answers = answers_mod.Answers(task="speech", include_retired=True)
    check_recommendation(answers, kb)
    json.dumps(compare.to_json(list(kb.frameworks.values()), kb.vocabulary), allow_nan=False)


@CLI_FUZZ
@given(overlays())
def test_recommend_with_an_overlay_exits_0_or_2_with_one_line(files: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name, text in files.items():
            write(Path(folder) / name, text)
        result = cli("recommend", "--task", "speech", "--include-retired", "--knowledge", folder, "--json")
    ok_or_one_line_error(result)


# --- bench results and plain JSON -----------------------------------------------------------------

VALID_BENCH = bench_result(pytorch=(3000.0, 300.0), tensorflow=(1000.0, 200.0), paddlepaddle=(500.0, 50.0))


@st.composite
def bench_data(draw: st.DrawFn) -> Any:
    """A valid bench result with a few of its values replaced by random ones."""
    data = json.loads(json.dumps(VALID_BENCH))
    if draw(st.integers(0, 9)) == 0:
        data["format"] = draw(values)
    for _ in range(draw(st.integers(0, 4))):
        parent: Any = data
        while True:
            if isinstance(parent, dict) and parent:
                # "format" (first, so hypothesis's favourite) only now and then: a result without it is refused
                key: Any = draw(st.sampled_from([k for k in parent if k != "format"] or list(parent)))
            elif isinstance(parent, list) and parent:
                key = draw(st.integers(0, len(parent) - 1))
            else:
                break
            if isinstance(parent[key], (dict, list)) and parent[key] and draw(st.booleans()):
                parent = parent[key]  # go deeper
                continue
            parent[key] = draw(st.one_of(st.floats(1, 1e5), st.sampled_from(["ok", "measured", "cpu", "mlp"]), values))
            break
    return data


json_texts = st.one_of(
    bench_data().map(lambda data: json.dumps(data, default=str)),
    values.map(lambda data: json.dumps(data, default=str, allow_nan=True)),
    st.just(json.dumps(VALID_BENCH, indent=2)).flatmap(mutated),
    st.text(st.sampled_from(list('[]{}",:0123456789.eE-+ truefalsnNaINfiy\\')), max_size=60),
)


bench_json = bench_data().map(lambda data: json.dumps(data, default=str))
bench_texts = st.integers(0, 3).flatmap(lambda pick: json_texts if pick == 0 else bench_json)


@FUZZ
@given(bench_texts, st.sampled_from(list(VOCAB.tasks)))
def test_bench_files_load_or_fail_cleanly(text: str, task: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "bench.json", text)
        try:
            data = bench_mod.load(path)
        except BadInput as exc:
            assert one_line(exc).startswith(f"--bench {path}")
            event("refused")
            return
    event("accepted")
    check_recommendation(answers_mod.Answers(task=task, hardware=["cpu"]), KB, bench=data)


@CLI_FUZZ
@given(bench_texts)
def test_recommend_bench_cli_exits_0_or_2_with_one_line(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "bench.json", text)
        result = cli("recommend", "--task", "image-classification", "--bench", path, "--json")
    ok_or_one_line_error(result)


@FUZZ
@given(json_texts)
def test_jsonfile_load_or_fail_cleanly(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "metrics.json", text)
        try:
            data = jsonfile.load(path, "metrics file")
        except BadInput as exc:
            assert one_line(exc).startswith(str(path))
            return
    json.dumps(data, allow_nan=False)  # what loaded is plain, finite JSON


@FUZZ
@given(yaml_texts(values, [*EXAMPLES[:2], BUILTIN / "criteria.yaml", BUILTIN / "vocabulary.yaml"]))
def test_yamlfile_load_or_fail_cleanly(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "any.yaml", text)
        try:
            yamlfile.load(path)
        except BadInput as exc:
            assert one_line(exc).startswith(str(path))


# --- the hostile cases, through every loader ------------------------------------------------------

ALIAS_BOMB = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
)
DEEP_FLOW_MAP = "task: " + "{a: " * 50_000 + "1" + "}" * 50_000 + "\n"


def _answers(folder: Path, text: str) -> list[str]:
    return ["recommend", "--answers", str(write(folder / "team.yaml", text)), "--json"]


def _profile(folder: Path, text: str) -> list[str]:
    return ["--profile", str(write(folder / "dlpick.yaml", text)), "recommend", "--task", "speech"]


def _overlay_framework(folder: Path, text: str) -> list[str]:
    write(folder / "kb" / "frameworks" / "pytorch.yaml", text)
    return ["recommend", "--task", "speech", "--knowledge", str(folder / "kb")]


def _overlay_criteria(folder: Path, text: str) -> list[str]:
    write(folder / "kb" / "criteria.yaml", text)
    return ["kb", "validate", str(folder / "kb")]


LOADERS: dict[str, Callable[[Path, str], list[str]]] = {
    "answers": _answers,
    "profile": _profile,
    "overlay framework": _overlay_framework,
    "overlay criteria": _overlay_criteria,
}


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("text", [deep_yaml(), DEEP_FLOW_MAP], ids=["deep-list", "deep-map"])
def test_deep_yaml_exits_2_in_every_loader(tmp_path: Path, loader: str, text: str) -> None:
    proc = run_child(*LOADERS[loader](tmp_path, text))
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-1000:])
    assert "nested deeper than 100 levels" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("loader", LOADERS)
def test_duplicates_and_alias_bombs_in_every_loader(tmp_path: Path, loader: str) -> None:
    duplicate = cli(*LOADERS[loader](tmp_path, "team: a\nteam: b\n"))
    assert duplicate.exit_code == 2, duplicate.output
    assert ":2: duplicate key 'team' (first at line 1)" in duplicate.stderr + duplicate.stdout
    bomb = cli(*LOADERS[loader](tmp_path, ALIAS_BOMB + "\n"))
    assert bomb.exit_code == 2, bomb.output
    assert ":2: aliases (*a0) are not allowed" in bomb.stderr + bomb.stdout


def test_deep_json_exits_2_in_a_child_process(tmp_path: Path) -> None:
    path = write(tmp_path / "bench.json", deep_json())
    proc = run_child("recommend", "--task", "speech", "--bench", path)
    assert proc.returncode == 2 and "nested deeper than 100 levels" in proc.stderr, proc.stderr[-1000:]


def test_deep_json_in_jsonfile(tmp_path: Path) -> None:
    for text in (deep_json(), "[" * 50_000, '{"a":' * 50_000):
        with pytest.raises(BadInput, match="nested deeper than 100 levels"):
            jsonfile.load(write(tmp_path / "metrics.json", text))


def test_float_helpers_agree_with_json() -> None:
    assert json.loads(json.dumps(VALID_BENCH)) == jsonfile.loads(json.dumps(VALID_BENCH))
    assert math.isfinite(jsonfile.loads("1e308"))
