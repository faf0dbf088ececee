"""The team profile `dlpick.yaml`: answers, a knowledge folder and template defaults a team keeps in its repository.

Finding one is cheap (a file check); only loading imports yaml and pydantic, so `recommend` stays fast
when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlpick.advise.name_pattern import NAME_FIELDS, name_pattern_problem
from dlpick.errors import BadInput

__all__ = ["FILE_NAME", "NAME_FIELDS", "Profile", "find", "load", "name_pattern_problem"]

FILE_NAME = "dlpick.yaml"


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


def load(path: Path) -> Profile:
    """Read and validate a profile; every problem on its own line as `file:line: field: message`."""
    from pydantic import ValidationError

    from dlpick import processes, yamlfile

    with processes.signals_deferred():  # a signal inside pydantic-core would come out as its SchemaError
        from dlpick.advise.profile_schema import ProfileModel

    data = yamlfile.load(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInput(f"{path}:1: expected a mapping (answers:, knowledge:, template:)")
    try:
        with processes.signals_deferred():
            model = ProfileModel.model_validate(data)
    except ValidationError as exc:
        raise BadInput("\n".join(yamlfile.validation_problems(path, exc))) from None
    answers = model.answers.model_dump(exclude_none=True) if model.answers else {}
    knowledge = (path.parent / model.knowledge) if model.knowledge else None
    if knowledge is not None and not knowledge.is_dir():
        line = yamlfile.line_of(path, ("knowledge",))
        raise BadInput(f"{path}:{line}: knowledge: {knowledge}: no such folder")
    template = model.template.model_dump() if model.template else {}
    return Profile(path=path, team=model.team, answers=answers, knowledge=knowledge, **template)
