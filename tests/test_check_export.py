"""verify judges every format the project exported, on the numbers, not on the project's word (issue 27)."""

from __future__ import annotations

import pytest

from dlpick.processes import Ran
from dlpick.verify.checks import check_export

OK = Ran(0, 1.0, ["exported"])


def item(name: str, diff: float, passed: bool = True, tolerance: float = 1e-4) -> dict:
    return {"name": name, "max_abs_diff": diff, "tolerance": tolerance, "passed": passed}


@pytest.mark.parametrize("bad", [0, 1])
def test_every_export_format_is_judged_and_the_one_out_of_tolerance_named(bad: int):
    """The project says both passed; one is 500 times over its tolerance: verify fails and names it."""
    checks = [item("onnx", 2e-6), item("torchscript", 2e-6)]
    checks[bad] = item(checks[bad]["name"], 0.05)
    check = check_export(OK, {"checks": checks}, "", 60)
    assert not check.passed, check.detail
    shown = dict(part.rsplit(": ", 1) for part in check.detail.split("; "))
    bad_name, good_name = checks[bad]["name"], checks[1 - bad]["name"]
    assert shown[f"{bad_name}: max |diff| 0.05 vs tolerance 0.0001"] == "FAILED"
    assert shown[f"{good_name}: max |diff| 2e-06 vs tolerance 0.0001"] == "ok"


def test_the_project_saying_a_format_failed_fails_verify_even_within_tolerance():
    check = check_export(OK, {"checks": [item("onnx", 0.0), item("tflite", 0.0, passed=False)]}, "", 60)
    assert not check.passed and check.detail.endswith("tflite: max |diff| 0 vs tolerance 0.0001: FAILED")


def test_all_formats_within_tolerance_pass():
    check = check_export(OK, {"checks": [item("onnx", 1e-5), item("torchscript", 1e-4)]}, "", 60)
    assert check.passed, check.detail


@pytest.mark.parametrize("diff", [float("nan"), None, "0"])
def test_a_difference_that_is_not_a_number_fails(diff):
    check = check_export(OK, {"checks": [item("onnx", 1e-6), {**item("tflite", 0.0), "max_abs_diff": diff}]}, "", 60)
    assert not check.passed and "tflite" in check.detail and check.detail.endswith("FAILED")
