"""The team profile `dlpick.yaml`: answers, a knowledge folder and template defaults a team keeps in its repository.

Finding one is cheap (a file check); only loading imports yaml and pydantic, so `recommend` stays fast
when there is none.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpick.errors import BadInput

FILE_NAME = "dlpick.yaml"
# Placeholders a `template.project_name` pattern may use.
NAME_FIELDS = ("team", "task", "framework")


@dataclass(frozen=True)
class Profile:
    path: Path
    team: str | None = None
    answers: dict[str, Any] = field(default_factory=dict)
    knowledge: Path | None = None  # resolved against the profile's folder
    project_name: str | None = None
    license: str | None = None
    ci: str | None = None
    python_version: str | None = None

    def project_name_for(self, task: str, framework: str) -> str | None:
        """The project name from the pattern, e.g. "{team}-{task}" -> "vision-image-classification"."""
        if not self.project_name:
            return None
        problem = name_pattern_problem(self.project_name)
        if problem:
            raise BadInput(f"{self.path}: template.project_name: {problem}")
        return self.project_name.format(team=self.team or "", task=task, framework=framework)


def find(explicit: Path | None = None, cwd: Path | None = None) -> Path | None:
    """`explicit` (it must exist), else ./dlpick.yaml when there is one."""
    if explicit is not None:
        if not explicit.is_file():
            raise BadInput(f"{explicit}: no such profile file", hint="create one with `dlpick init`")
        return explicit
    candidate = (cwd or Path.cwd()) / FILE_NAME
    return candidate if candidate.is_file() else None


MAX_PATTERN = 200


def name_pattern_problem(pattern: str) -> str | None:
    """Why a project-name pattern is unusable, or None.

    Only the plain placeholders of NAME_FIELDS: no format spec ({team:>9999}), conversion ({team!r}),
    attribute or index ({team.x}, {team[0]}), and a bounded length.
    """
    fields = ", ".join("{" + n + "}" for n in NAME_FIELDS)
    if len(pattern) > MAX_PATTERN:
        return f"pattern longer than {MAX_PATTERN} characters"
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        return f"invalid pattern: {exc} (use {fields}; write {{{{ and }}}} for literal braces)"
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in NAME_FIELDS:
            return f"unknown placeholder {{{name}}} (use {fields})"
        if spec or conversion:
            written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            return f"placeholder {written} may not have a format or conversion (use {fields})"
    return None


def load(path: Path) -> Profile:
    """Read and validate a profile; every problem on its own line as `file:line: field: message`."""
    from pydantic import ValidationError

    from dlpick import yamlfile
    from dlpick.advise.profile_schema import ProfileModel

    data = yamlfile.load(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInput(f"{path}:1: expected a mapping (answers:, knowledge:, template:)")
    try:
        model = ProfileModel.model_validate(data)
    except ValidationError as exc:
        raise BadInput("\n".join(yamlfile.validation_problems(path, exc))) from None
    template = model.template
    answers = model.answers.model_dump(exclude_none=True) if model.answers else {}
    knowledge = (path.parent / model.knowledge) if model.knowledge else None
    if knowledge is not None and not knowledge.is_dir():
        line = yamlfile.line_of(path, ("knowledge",))
        raise BadInput(f"{path}:{line}: knowledge: {knowledge}: no such folder")
    return Profile(
        path=path,
        team=model.team,
        answers=answers,
        knowledge=knowledge,
        project_name=template.project_name if template else None,
        license=template.license if template else None,
        ci=template.ci if template else None,
        python_version=template.python_version if template else None,
    )
