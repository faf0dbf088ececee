"""One error hierarchy; the CLI maps each class to an exit code from DESIGN.md."""

from __future__ import annotations

SUCCESS = 0
VERIFY_FAILED = 1
BAD_INPUT = 2
MISSING_TOOL = 3
INTERRUPTED = 130  # 128 + SIGINT; SIGTERM gives 143, SIGHUP 129


class DlpickError(Exception):
    """Base class: a one-line message for the user, and an exit code."""

    exit_code = BAD_INPUT

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class BadInput(DlpickError):
    """Bad answers, flags or files: exit 2."""


class KnowledgeError(BadInput):
    """The knowledge base (built-in or the team's) does not validate: every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        first = problems[0] if problems else "knowledge base is invalid"
        more = f" (+{len(problems) - 1} more; run `dlpick kb validate`)" if len(problems) > 1 else ""
        super().__init__(first + more)
        self.problems = problems


class MissingTool(DlpickError):
    """A framework or tool the command needs is not installed: exit 3."""

    exit_code = MISSING_TOOL


class VerifyFailed(DlpickError):
    exit_code = VERIFY_FAILED


class FindingsOpen(DlpickError):
    """`kb audit` found what no acknowledgement explains: exit 1."""

    exit_code = VERIFY_FAILED


class BenchFailed(DlpickError):
    """A framework failed to run the benchmark: exit 1."""

    exit_code = VERIFY_FAILED


class UpdateConflicts(DlpickError):
    """`update` merged the template's changes but some files need a person (conflict markers): exit 1."""

    exit_code = VERIFY_FAILED
