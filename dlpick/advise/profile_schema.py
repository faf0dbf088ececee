"""pydantic models of `dlpick.yaml`; imported only when a profile file exists."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from dlpick.advise.name_pattern import name_pattern_problem


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnswersModel(_Strict):
    """The answers-file keys; values are checked later by answers.normalise, as for --answers."""

    task: str | None = None
    hardware: list[str] | str | None = None
    deployment: list[str] | str | None = None
    familiarity: dict[str, Any] | None = None
    priorities: dict[str, Any] | None = None
    python: Any = None  # answers.normalise says what is wrong with 3.10 unquoted
    include_retired: bool | None = None
    primary_hardware: str | None = None
    scale: str | None = None
    licence_policy: str | None = None
    devices: dict[str, Any] | None = None
    os: str | None = None


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
        from dlpick.advise.answers import _show, python_version

        if not isinstance(value, str):
            raise ValueError(f'expected a quoted version like "3.11", got {_show(value)}')
        version, problem = python_version(value)
        if problem:
            raise ValueError(problem)
        return version


class ProfileModel(_Strict):
    team: str | None = None
    answers: AnswersModel | None = None
    knowledge: str | None = None
    template: TemplateModel | None = None
