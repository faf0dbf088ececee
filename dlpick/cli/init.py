"""`dlpick init`: write a team profile (dlpick.yaml) through the recommend questionnaire."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

HELP = """Write a team profile, dlpick.yaml, by asking the recommend questions plus two about new projects.

Keep the file in the team's repository: every dlpick command run there picks it up (or pass
`dlpick --profile FILE`). An answers file (--answers) and flags override its answers; --knowledge
overrides its knowledge folder. Needs a terminal; an existing file is kept unless --force.

Profile (YAML; every key optional, unknown keys are errors):

  team: vision
  answers:                       # the answers-file keys, as for `dlpick recommend --answers`
    task: image-classification
    hardware: nvidia-gpu          # or a list
  knowledge: team-knowledge/     # relative to the profile; like --knowledge
  template:
    project_name: "{team}-{task}"   # or a plain name; placeholders {team} {task} {framework}
    license: MIT
    ci: github                   # the only provider for now
    python_version: "3.11"

Examples:

  dlpick init
  dlpick init --profile ../shared/dlpick.yaml --force
"""


def init(
    ctx: typer.Context,
    profile: Annotated[
        Path | None,
        typer.Option(
            "--profile", help="File to write (default: `dlpick --profile`, else ./dlpick.yaml).", show_default=False
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing profile.")] = False,
) -> None:
    from dlpick.advise.profile import FILE_NAME
    from dlpick.cli import output
    from dlpick.cli.options import session
    from dlpick.errors import BadInput

    path = profile or session(ctx).profile_path or Path(FILE_NAME)
    check_destination(path, force)  # before the questions: a wrong path is not found out after answering
    if not _has_terminal():
        raise BadInput(
            "no terminal to ask in",
            hint="run `dlpick init` in a terminal, or write the profile by hand (see `dlpick init --help`); "
            "`dlpick recommend --task ... --save-answers FILE` writes the answers part",
        )
    from dlpick.advise import answers as answers_mod
    from dlpick.cli import questionnaire
    from dlpick.kb import knowledge

    kb = knowledge.load()  # not the profile's folder: the file being replaced may be broken
    collected = questionnaire.ask(kb.vocabulary, {})
    normalised = answers_mod.normalise(collected, kb.vocabulary)
    team_name, pattern = ask_template(Path.cwd().name)
    data = {
        "team": team_name,
        "answers": {k: v for k, v in normalised.to_dict().items() if v not in ([], {}, None)},
        "template": {"project_name": pattern, "ci": "github", "python_version": normalised.python},
    }
    write(path, data)
    output.note(f"team profile written to {path}")


def check_destination(path: Path, force: bool) -> None:
    """A profile can be written at `path`: its folder exists, and it is no folder, nor a file kept without --force."""
    import os

    from dlpick.errors import BadInput

    folder = path.parent
    if not folder.is_dir():
        why = "is not a folder" if folder.exists() else "does not exist"
        raise BadInput(f"{path}: cannot write the profile: {folder} {why}", hint="create the folder first")
    if path.is_dir():
        raise BadInput(f"{path}: is a folder; name the profile file, e.g. {path / 'dlpick.yaml'}")
    if path.exists() and not force:
        raise BadInput(f"{path}: already exists (pass --force to overwrite)")
    if not os.access(folder, os.W_OK):
        raise BadInput(f"{path}: cannot write the profile: {folder} is not writable")


def _has_terminal() -> bool:
    return sys.stdin.isatty()


def ask_template(default_team: str) -> tuple[str, str]:
    """The template questions: the team's name and the pattern for new projects' names."""
    import questionary

    from dlpick.advise.profile import name_pattern_problem
    from dlpick.cli.prompts import ask

    team_name = ask(questionary.text("Team name?", default=default_team))
    pattern = ask(
        questionary.text(
            "Name new projects (placeholders {team} {task} {framework}, or a plain name)?",
            default="{team}-{task}",
            validate=lambda text: (
                bool(text.strip()) and not name_pattern_problem(text) or (name_pattern_problem(text) or "a name")
            ),
        )
    )
    return str(team_name).strip(), str(pattern).strip()


def write(path: Path, data: dict[str, Any]) -> None:
    """Write the profile, then read it back so that what was written validates."""
    import yaml

    from dlpick.advise import profile
    from dlpick.errors import BadInput

    try:
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot write the profile: {exc.strerror or exc}") from None
    profile.load(path)
