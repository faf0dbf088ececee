"""pydantic models of `dlpick.yaml`; imported only when a profile file exists."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from dlpick.core.profile import name_pattern_problem


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnswersModel(_Strict):
    """The answers-file keys; values are checked later by answers.normalise, as for --answers."""

    task: str | None = None
    hardware: list[str] | str | None = None
    deployment: list[str] | str | None = None
    familiarity: dict[str, Any] | None = None
    priorities: dict[str, Any] | None = None
    python: str | None = None
    include_retired: bool | None = None


class TemplateModel(_Strict):
    project_name: str | None = None
    license: str | None = None
    ci: Literal["github"] | None = None
    python_version: str | None = None

    @field_validator("project_name")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        problem = name_pattern_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("python_version", mode="before")
    @classmethod
    def _python(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f'expected a quoted version like "3.11", got {value!r}')
        major, _, minor = value.partition(".")
        if major != "3" or not minor.isdigit():
            raise ValueError(f'expected a version like "3.11", got {value!r}')
        return value


class ProfileModel(_Strict):
    team: str | None = None
    answers: AnswersModel | None = None
    knowledge: str | None = None
    template: TemplateModel | None = None
