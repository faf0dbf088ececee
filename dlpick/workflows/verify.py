"""The verify workflow: check the request, then run a generated project's checks (dlpick.verify.checks)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlpick.errors import BadInput, DlpickError, MissingTool, VerifyFailed

if TYPE_CHECKING:
    from dlpick.session import Session
    from dlpick.verify.checks import OnEvent, VerifyResult

DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class VerifyRequest:
    project: Path
    device: str = "auto"
    timeout: float = 300.0
    isolated: bool = False
    constraints: list[Path] = field(default_factory=list)


def check_device(device: str) -> str:
    from dlpick.kb.vocab import check_id

    return check_id("device", device, DEVICES, where="--device")


def verify(session: Session, request: VerifyRequest, on_event: OnEvent | None = None) -> VerifyResult:
    """Smoke-train the project and check it; progress goes to `on_event(kind, payload)`."""
    from dlpick.verify import checks

    check_device(request.device)
    if request.constraints and not request.isolated:
        raise BadInput("--constraint only applies with --isolated")
    missing = [path for path in request.constraints if not path.is_file()]
    if missing:
        raise BadInput(f"{missing[0]}: constraint file not found")
    run = functools.partial(checks.verify, isolated=request.isolated, constraints=request.constraints)
    return run(request.project, request.device, request.timeout, on_event=on_event, kb=session.knowledge)


def can_isolate(result: VerifyResult) -> bool:
    """Not verified for a missing framework, and the project documents an environment to build."""
    documented = any((result.project / name).is_file() for name in ("requirements.txt", "debian-packages.txt"))
    return documented and not any(check.name in ("environment", "device") for check in result.checks)


def failure(result: VerifyResult) -> DlpickError | None:
    """The error that sets the exit status: 1 a check failed, 3 something is missing; None when it passed."""
    if not result.verified:
        missing = next((c.detail for c in result.failed), "a needed tool is missing")
        hint: str | None = f"install: {' && '.join(result.install)}" if result.install else None
        if can_isolate(result) and hint is not None:
            hint += f"; or: dlpick verify {result.project} --isolated"
        return MissingTool(missing.split(";")[0] + "; not verified", hint=hint)
    if not result.passed:
        return VerifyFailed(f"verification failed: {', '.join(check.name for check in result.failed)}")
    return None


def to_json(result: VerifyResult, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stable JSON: the result alone, or inside `extra` as "verify" (scaffold's summary)."""
    return result.to_json() if extra is None else {**extra, "verify": result.to_json()}
