"""Rendering templates: plain cookiecutter, dlpick's all-or-nothing render, names, and `dlpick scaffold`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlpick.cli.app import app
from dlpick.errors import BadInput
from dlpick.project import render

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(p.parent.name for p in (ROOT / "templates").glob("*/cookiecutter.json"))
MODULES = ("__init__", "train", "evaluate", "export", "explain")  # the commands of CONTRACT.md
runner = CliRunner()


def children(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` (hidden ones too) with its content; None for folders."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()) for p in sorted(root.rglob("*"))}


def leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".dlpick-" in p.name]


# --- plain cookiecutter -------------------------------------------------------------------


@pytest.mark.parametrize("template", TEMPLATES)
def test_plain_cookiecutter_renders_the_contract(template: str, tmp_path: Path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "cookiecutter", str(ROOT / "templates" / template), "--no-input", "-o", str(out),
         "task=image-classification"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    project = out / "my-dl-project"
    answers = json.loads((project / ".cookiecutter.json").read_text())
    assert answers["__framework"] == template
    assert answers["task"] == "image-classification"
    assert answers["package_name"] == "my_dl_project"
    for path in ("pyproject.toml", "configs/default.yaml", "README.md", ".gitignore", ".github/workflows/ci.yml"):
        assert (project / path).is_file(), path
    for module in MODULES:
        assert (project / "src" / "my_dl_project" / f"{module}.py").is_file(), module
    assert list((project / "tests").glob("test_*.py"))


def test_templates_are_listed_with_their_tasks():
    templates = render.list_templates()
    assert "pytorch" in templates
    assert templates["pytorch"].tasks == (
        "tabular-regression",
        "tabular-classification",
        "image-classification",
        "text-classification",
    )


# --- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Churn model", "My_DL--Project 2", "a - b_c", "X9  y"])
@pytest.mark.parametrize("template", sorted(p.parent.name for p in ROOT.glob("templates/*/cookiecutter.json")))
def test_cookiecutter_derives_the_slug_dlpick_derives(name: str, template: str) -> None:
    """Someone running cookiecutter on a template directly gets the folder and package dlpick would make."""
    from cookiecutter.generate import generate_context
    from cookiecutter.prompt import prompt_for_config

    context = generate_context(
        str(ROOT / "templates" / template / "cookiecutter.json"), extra_context={"project_name": name}
    )
    derived = prompt_for_config(context, no_input=True)
    names = render.project_name(name)
    assert (derived["project_slug"], derived["package_name"]) == (names.slug, names.package)


@pytest.mark.parametrize(
    ("name", "slug", "package"),
    [
        ("Churn model", "churn-model", "churn_model"),
        ("My_DL--Project 2", "my-dl-project-2", "my_dl_project_2"),
        ("  flowers  ", "flowers", "flowers"),
        ("torch project", "torch-project", "torch_project"),
    ],
)
def test_good_names(name: str, slug: str, package: str):
    derived = render.project_name(name)
    assert (derived.slug, derived.package) == (slug, package)
    assert derived.package.isidentifier()


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("../x", "invalid project name"),
        ("a/b", "invalid project name"),
        ("a;rm -rf", "invalid project name"),
        ("a$(id)", "invalid project name"),
        ("1abc", "invalid project name"),
        ("", "empty"),
        ("import", "keyword"),
        ("match", "keyword"),
        ("torch", "shadow"),
        ("test", "shadow"),
        ("json", "shadow"),
        ("x" * 65, "invalid project name"),
    ],
)
def test_bad_names(name: str, says: str):
    with pytest.raises(BadInput, match=says):
        render.project_name(name)


# --- dlpick's render -------------------------------------------------------------------


def test_render_into_a_new_nested_folder(tmp_path: Path):
    dest = tmp_path / "a" / "b" / "churn"
    rendered = render.render("pytorch", "tabular-classification", dest, name="Churn model", python_version="3.12")
    assert rendered.project_dir == dest and not rendered.replaced
    answers = json.loads((dest / ".cookiecutter.json").read_text())
    assert answers["project_slug"] == "churn-model"
    assert answers["package_name"] == "churn_model"
    assert answers["task"] == "tabular-classification"
    assert answers["python_version"] == "3.12"
    assert "_output_dir" not in answers and str(tmp_path) not in json.dumps(answers)  # no machine paths
    assert (dest / "src" / "churn_model" / "train.py").is_file()
    assert leftovers(dest.parent) == [] and children(dest.parent) == ["churn"]
    assert not (Path.home() / ".cookiecutter_replay").exists()  # no side effects in the home folder


def test_name_defaults_to_the_folder_name(tmp_path: Path):
    rendered = render.render("pytorch", "tabular-regression", tmp_path / "house-prices")
    assert rendered.name.package == "house_prices"


def test_empty_dest_folder_is_used(tmp_path: Path):
    (tmp_path / "flowers").mkdir()
    render.render("pytorch", "image-classification", tmp_path / "flowers")
    assert (tmp_path / "flowers" / "pyproject.toml").is_file()


@pytest.mark.parametrize("existing", ["folder", "file"])
def test_refuses_a_non_empty_dest_and_changes_nothing(tmp_path: Path, existing: str):
    dest = tmp_path / "proj"
    if existing == "folder":
        dest.mkdir()
        (dest / "notes.txt").write_text("mine")
    else:
        dest.write_text("mine")
    before = snapshot(tmp_path)
    expected = "already exists and is not empty.*--force" if existing == "folder" else "a file is in the way"
    with pytest.raises(BadInput, match=expected):
        render.render("pytorch", "tabular-regression", dest)
    if existing == "file":  # --force never turns a file into a folder
        with pytest.raises(BadInput, match="a file is in the way"):
            render.render("pytorch", "tabular-regression", dest, force=2)
    assert snapshot(tmp_path) == before


def test_force_writes_the_template_files_and_keeps_the_rest(tmp_path: Path):
    dest = tmp_path / "proj"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    (dest / "README.md").write_text("my readme")
    with pytest.raises(render.NeedsConfirmation, match="no generated project.*--force twice"):
        render.render("pytorch", "tabular-regression", dest, force=1)
    rendered = render.render("pytorch", "tabular-regression", dest, force=2)
    assert rendered.replaced and rendered.overwritten == ("README.md",)
    assert (dest / "notes.txt").read_text() == "mine"
    assert (dest / "pyproject.toml").is_file() and (dest / "README.md").read_text() != "my readme"
    assert rendered.backup is not None and (rendered.backup / "README.md").read_text() == "my readme"
    assert children(tmp_path) == ["proj"]


def test_unknown_framework_or_task_names_what_exists(tmp_path: Path):
    with pytest.raises(BadInput, match="no template for framework 'chainer'.*pytorch"):
        render.render("chainer", "tabular-regression", tmp_path / "p")
    with pytest.raises(BadInput, match="no 'object-detection' starter.*image-classification"):
        render.render("pytorch", "object-detection", tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("framework", sorted(render.list_templates()))
def test_a_python_older_than_the_templates_oldest_is_refused_and_nothing_written(framework: str, tmp_path: Path):
    """A pip project's code needs Python 3.10 (pydantic reads `int | None` at run time, zip(strict=...));
    Caffe's runs on Debian bullseye's 3.9. An older answer is one line, not a project that fails later."""
    template = render.list_templates()[framework]
    task = template.tasks[0]
    minor = int(template.min_python.split(".")[1])
    assert minor == (9 if framework == "caffe" else 10)
    with pytest.raises(BadInput, match=rf"needs Python 3\.{minor} or newer, not 3\.{minor - 1}; nothing written"):
        render.render(framework, task, tmp_path / "old", python_version=f"3.{minor - 1}")
    assert list(tmp_path.iterdir()) == []
    rendered = render.render(framework, task, tmp_path / "oldest", python_version=template.min_python)
    pyproject = (rendered.project_dir / "pyproject.toml").read_text()
    assert f'requires-python = ">={template.min_python}"' in pyproject


def test_an_answers_file_with_too_old_a_python_is_one_line_and_exit_2(tmp_path: Path):
    answers = tmp_path / "answers.yaml"
    answers.write_text('python: "3.9"\ntask: image-classification\n')
    ran = CliRunner().invoke(app, ["scaffold", "pytorch", "-a", str(answers), "-d", str(tmp_path / "p"), "--no-verify"])
    assert ran.exit_code == 2
    assert "a pytorch project needs Python 3.10 or newer, not 3.9; nothing written" in ran.output
    assert not (tmp_path / "p").exists()


@pytest.fixture
def fail_midway(monkeypatch: pytest.MonkeyPatch):
    """Make cookiecutter's generate_file raise `error` after it wrote a few files."""
    import cookiecutter.generate as generate

    real = generate.generate_file

    def arm(error: BaseException, after: int = 3) -> None:
        calls = []

        def flaky(*args, **kwargs):
            calls.append(args)
            if len(calls) > after:
                raise error
            return real(*args, **kwargs)

        monkeypatch.setattr(generate, "generate_file", flaky)

    return arm


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_failure_midway_leaves_nothing(tmp_path: Path, fail_midway, error: BaseException):
    fail_midway(error)
    with pytest.raises(type(error)):
        render.render("pytorch", "tabular-regression", tmp_path / "new" / "proj")
    assert list(tmp_path.iterdir()) == []  # no project, no temporary folder, no parents it created


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_failure_with_force_keeps_the_old_dest(tmp_path: Path, fail_midway, error: BaseException):
    dest = tmp_path / "proj"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    fail_midway(error)
    with pytest.raises(type(error)):
        render.render("pytorch", "tabular-regression", dest, force=2)
    assert snapshot(tmp_path) == before


def test_pick_template_falls_back_and_says_so():
    templates = {"pytorch": render.Template("pytorch", Path("t"), ("tabular-regression", "image-classification"))}
    assert render.pick_template(["pytorch", "jax"], "image-classification", templates) == ("pytorch", None)
    framework, note = render.pick_template(["jax", "tensorflow", "pytorch"], "tabular-regression", templates)
    assert framework == "pytorch"
    assert note and "jax ranks first" in note and "#3" in note
    with pytest.raises(BadInput, match="no template supports 'speech'"):
        render.pick_template(["pytorch"], "speech", templates)


# --- fake templates (for the CLI) -----------------------------------------------------------


def fake_template(root: Path, framework: str = "json", hook: str | None = None) -> Path:
    """A minimal cookiecutter template under root/<framework>."""
    template = root / framework
    project = template / "{{cookiecutter.project_slug}}"
    (project / "src" / "{{cookiecutter.package_name}}").mkdir(parents=True)
    context = {
        "project_name": "My DL Project",
        "project_slug": "{{ cookiecutter.project_name.lower().replace(' ', '-') }}",
        "package_name": "{{ cookiecutter.project_slug.replace('-', '_') }}",
        "task": ["tabular-regression", "tabular-classification"],
        "python_version": "3.11",
        "__framework": framework,
    }
    (template / "cookiecutter.json").write_text(json.dumps(context))
    (project / ".cookiecutter.json").write_text("{{ cookiecutter | jsonify }}\n")
    (project / "src" / "{{cookiecutter.package_name}}" / "__init__.py").write_text("")
    if hook is not None:
        (template / "hooks").mkdir()
        (template / "hooks" / "post_gen_project.py").write_text(hook)
    return template


def test_a_failing_template_hook_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake_template(tmp_path / "templates", hook="import sys\nsys.exit(1)\n")
    monkeypatch.setenv(render.TEMPLATES_ENV, str(tmp_path / "templates"))
    work = tmp_path / "work"
    work.mkdir()
    result = runner.invoke(app, ["scaffold", "json", "--task", "tabular-regression", "--dest", str(work / "p")])
    assert result.exit_code == 2, result.output
    assert "failed to render" in result.stderr
    assert list(work.iterdir()) == []


# --- dlpick scaffold --------------------------------------------------------------------------


def scaffold(*args: str):
    return runner.invoke(app, ["scaffold", *args])


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("dlpick: error: "), result.stderr
    return lines[0]


def test_scaffold_json_without_verify(tmp_path: Path):
    dest = tmp_path / "prices"
    result = scaffold("pytorch", "--task", "tabular-regression", "--dest", str(dest), "--no-verify", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["project"] == str(dest)
    assert (data["framework"], data["task"], data["package_name"]) == ("pytorch", "tabular-regression", "prices")
    assert data["verify"] is None
    assert data["next_steps"][0] == f"cd {dest}"
    assert "python -m prices.train --out runs/first" in data["next_steps"]
    assert (dest / "src" / "prices" / "train.py").is_file()


@pytest.mark.parametrize(("framework", "successor"), [("theano", "PyTensor"), ("caffe", "PyTorch"), ("mxnet", None)])
def test_scaffolding_a_retired_framework_works_and_warns_with_the_facts(tmp_path: Path, framework: str, successor):
    dest = tmp_path / "legacy"
    result = scaffold(framework, "-t", "tabular-regression", "-d", str(dest), "--no-verify", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    warning = data["warning"]
    from dlpick.kb import knowledge

    assert warning.startswith(f"{knowledge.load().frameworks[framework].name} is retired (since 20")
    assert "[source: https://" in warning
    assert (f"its successor is {successor}" in warning) if successor else ("no successor is named" in warning)
    assert (dest / "README.md").read_text().count("is retired.") == 1
    text = scaffold(framework, "-t", "tabular-regression", "-d", str(tmp_path / "again"), "--no-verify")
    assert "warning: " in text.output and "is retired" in text.output
    if framework == "caffe":  # no pip install for a Debian-only framework: the Dockerfile instead
        assert data["next_steps"][1] == "docker build -t legacy ."
        assert all("docker run" in step for step in data["next_steps"][2:])


def test_an_active_framework_has_no_warning(tmp_path: Path):
    result = scaffold("pytensor", "-t", "tabular-regression", "-d", str(tmp_path / "p"), "--no-verify", "--json")
    assert json.loads(result.stdout)["warning"] is None


def test_scaffold_text_prints_next_steps(tmp_path: Path):
    dest = tmp_path / "flowers"
    result = scaffold("pytorch", "-t", "image-classification", "-d", str(dest), "--name", "Flower id", "--no-verify")
    assert result.exit_code == 0, result.output
    assert f"created {dest}: pytorch image-classification starter (package flower_id)" in result.stdout
    for step in ("Next steps:", f"cd {dest}", "flower_id.train", "flower_id.evaluate", "flower_id.export"):
        assert step in result.stdout


def ranked_for(answers: Path) -> list[str]:
    """The framework ids of `dlpick recommend --answers FILE --json`, best first."""
    result = runner.invoke(app, ["recommend", "--answers", str(answers), "--json", "--no-input"])
    assert result.exit_code == 0, result.output
    return [entry["framework"] for entry in json.loads(result.stdout)["ranking"]]


def with_template(ranked: list[str], task: str, templates: dict[str, render.Template]) -> list[tuple[int, str]]:
    """(place in the ranking, framework) for the ranked frameworks that have a template for `task`, best first."""
    return [(place, fid) for place, fid in enumerate(ranked, 1) if fid in templates and task in templates[fid].tasks]


def scaffolded_framework(project: Path) -> str:
    return json.loads((project / ".cookiecutter.json").read_text())["__framework"]


def test_scaffold_answers_file_picks_the_recommendation(tmp_path: Path):
    answers = tmp_path / "team.yaml"
    answers.write_text("task: tabular-classification\nhardware: [cpu]\nfamiliarity: {pytorch: 5}\n")
    candidates = with_template(ranked_for(answers), "tabular-classification", render.list_templates())
    # At least two candidates, so that picking the last one instead of the first would show.
    assert len(candidates) >= 2 and candidates[0][1] != candidates[-1][1], candidates
    place, expected = candidates[0]
    dest = tmp_path / "churn"
    result = scaffold("--answers", str(answers), "--dest", str(dest), "--no-verify", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["framework"], data["task"]) == (expected, "tabular-classification")
    assert scaffolded_framework(dest) == expected
    if place == 1:
        assert data["note"] == f"{expected} is the top recommendation for these answers (`dlpick recommend`)"
    else:
        assert f"scaffolding {expected} (ranked #{place}) instead" in data["note"]


def test_scaffold_answers_file_skips_a_top_pick_without_a_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    answers = tmp_path / "team.yaml"
    answers.write_text(
        "task: tabular-classification\nhardware: [cpu]\ndeployment: [server]\nfamiliarity: {tensorflow: 4}\n"
    )
    ranked = ranked_for(answers)
    assert len(ranked) >= 4, ranked
    # Templates for every ranked framework but the first; the second's has no tabular-classification starter.
    root = tmp_path / "templates"
    for fid in ranked[1:]:
        fake_template(root, fid)
    context = json.loads((root / ranked[1] / "cookiecutter.json").read_text())
    context["task"] = ["tabular-regression"]
    (root / ranked[1] / "cookiecutter.json").write_text(json.dumps(context))
    templates = render.list_templates(root)
    candidates = with_template(ranked, "tabular-classification", templates)
    assert candidates[0] == (3, ranked[2]) and candidates[-1] == (len(ranked), ranked[-1])
    monkeypatch.setenv(render.TEMPLATES_ENV, str(root))
    dest = tmp_path / "churn"
    result = scaffold("--answers", str(answers), "--dest", str(dest), "--no-verify", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["framework"] == ranked[2]
    assert scaffolded_framework(dest) == ranked[2]
    assert data["note"] == (
        f"{ranked[0]} ranks first but dlpick has no {ranked[0]} template for tabular-classification; "
        f"scaffolding {ranked[2]} (ranked #3) instead"
    )
    text = scaffold("--answers", str(answers), "--dest", str(tmp_path / "again"), "--no-verify")
    assert text.exit_code == 0, text.output
    assert f"note: {ranked[0]} ranks first but dlpick has no {ranked[0]} template" in text.stderr
    assert f"{ranked[2]} tabular-classification starter" in text.stdout


def test_scaffold_without_terminal_names_the_flags(tmp_path: Path):
    line = one_line_error(scaffold("pytorch"))
    assert "--task and --dest" in line and "no terminal" in line
    line = one_line_error(scaffold("pytorch", "--task", "tabular-regression", "--no-input"))
    assert "missing --dest (--no-input was given)" in line


def test_scaffold_refuses_existing_project(tmp_path: Path):
    dest = tmp_path / "proj"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    line = one_line_error(scaffold("pytorch", "--task", "tabular-regression", "--dest", str(dest), "--no-verify"))
    assert "already exists" in line and "--force" in line
    assert children(dest) == ["notes.txt"]
    line = one_line_error(scaffold("pytorch", "-t", "tabular-regression", "-d", str(dest), "--no-verify", "--force"))
    assert "no generated project" in line and "--force twice" in line
    result = scaffold("pytorch", "-t", "tabular-regression", "-d", str(dest), "--no-verify", "-ff")
    assert result.exit_code == 0, result.output
    assert f"updated {dest}" in result.stdout and (dest / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["chainer", "--task", "tabular-regression"], "no template for framework 'chainer' (templates exist for: "),
        (["caffe", "--task", "text-classification"], "the caffe template has no 'text-classification' starter"),
        (["pytorch", "--task", "speech"], "no 'speech' starter"),
        (["--task", "imag-classification"], "did you mean 'image-classification'"),
        (["pytorch", "--task", "tabular-regression", "--name", "a;b"], "invalid project name"),
        (["pytorch", "--task", "tabular-regression", "--device", "tpu"], "unknown device 'tpu'"),
    ],
)
def test_scaffold_bad_input(tmp_path: Path, args: list[str], says: str):
    line = one_line_error(scaffold(*args, "--dest", str(tmp_path / "p")))
    assert says in line
    assert not (tmp_path / "p").exists()


def test_render_works_without_the_include_symlink(tmp_path: Path):
    """Wheels drop symbolic links: a template without `templates -> ../_shared` still renders."""
    import shutil

    root = tmp_path / "installed"
    shutil.copytree(ROOT / "templates" / "_shared", root / "_shared")
    shutil.copytree(ROOT / "templates" / "pytorch", root / "pytorch", ignore=shutil.ignore_patterns("templates"))
    assert not (root / "pytorch" / "templates").exists()
    dest = tmp_path / "work" / "demo"
    render.render("pytorch", "text-classification", dest, templates_root=root)
    assert (dest / ".gitignore").is_file() and (dest / ".github" / "workflows" / "ci.yml").is_file()
    answers = json.loads((dest / ".cookiecutter.json").read_text())
    assert not {"_template", "_repo_dir", "_output_dir"} & set(answers)  # no machine paths (temporary ones at that)
    base = json.loads((dest / ".dlpick" / "base.json").read_text())
    assert base["commit"] is None  # not a git checkout
    assert not (dest / ".cruft.json").exists()  # no repository of the team's named
    assert children(tmp_path / "work") == ["demo"]


def test_scaffold_prompts_for_what_is_missing_in_a_terminal(tmp_path: Path):
    import pexpect

    # PROMPT_TOOLKIT_NO_CPR: no cursor-position request, which a pty never answers (a 1 s wait per prompt).
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm", "COLUMNS": "120", "PROMPT_TOOLKIT_NO_CPR": "1"}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "dlpick", "scaffold", "pytorch", "--no-verify"],
        cwd=str(tmp_path),
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 120),
    )
    child.expect("What will the model do")
    child.send("\x1b[B\r")  # the second task: tabular-classification
    child.expect("Folder to create the project in")
    child.send("\r")  # accept the default
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    answers = json.loads((tmp_path / "my-dl-project" / ".cookiecutter.json").read_text())
    assert answers["task"] == "tabular-classification"


def test_dot_dest_fills_the_current_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`--dest .` in an empty folder keeps that folder (the shell is in it) and names the project after it."""
    folder = tmp_path / "churn"
    folder.mkdir()
    inode = folder.stat().st_ino
    monkeypatch.chdir(folder)
    rendered = render.render("pytorch", "tabular-classification", ".")
    assert rendered.project_dir == folder and rendered.name.package == "churn"
    assert folder.stat().st_ino == inode
    assert (folder / "src" / "churn" / "train.py").is_file()
    assert children(tmp_path) == ["churn"]


def test_failure_while_filling_an_empty_folder_empties_it_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    folder = tmp_path / "churn"
    folder.mkdir()
    real = Path.rename
    calls = []

    def flaky(self: Path, target: Path) -> Path:
        calls.append(self)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(self, target)

    monkeypatch.setattr(Path, "rename", flaky)
    with pytest.raises(KeyboardInterrupt):
        render.render("pytorch", "tabular-classification", folder)
    assert children(tmp_path) == ["churn"] and children(folder) == []
