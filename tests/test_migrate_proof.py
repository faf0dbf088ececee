"""The proof behind `dlpick migrate` (issue 27), quick: compare and merge, Caffe's and MXNet's _prove and _onnx
through the whole flow with the frameworks faked (tests/faults/migrate_fakes.py), Theano's _judge over the
full table of before/after test outcomes. Each guards a way a migration could pass without being proven."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from faults import migrate_fakes as fakes
from faults.helpers import cli, one_line_error

from dlpick.errors import BadInput
from dlpick.migrate import caffe_net, core, theano, torch_port

pytest.importorskip("torch")


# -- compare and merge ---------------------------------------------------------------------------------------


def test_one_element_of_a_thousand_off_by_a_hundredth_fails_at_1e_4() -> None:
    expected = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    got = expected.copy()
    got[517] += 0.01
    diff = core.compare("out", expected, got, core.Tolerance(1e-4, 1e-5))
    assert not diff.passed and diff.max_abs_diff == pytest.approx(0.01, rel=1e-3)
    assert core.compare("out", expected, expected.copy(), core.Tolerance(1e-4, 1e-5)).passed


def test_the_tolerance_is_relative_too_and_both_parts_are_settable() -> None:
    """Activations of raw 0-255 pixels reach ~2,000: float32 rounding there is ~1e-4 absolute, 1e-7 relative."""
    expected = np.linspace(-2000, 2000, 101)
    got = expected * (1 + 2.5e-7)
    assert not core.compare("conv", expected, got, core.Tolerance(1e-4, 0.0)).passed
    diff = core.compare("conv", expected, got, core.Tolerance(1e-4, 1e-5))
    assert diff.passed and diff.max_rel_diff == pytest.approx(2.5e-7, rel=1e-3)
    assert diff.max_abs_diff == pytest.approx(5e-4, rel=1e-3)
    # a wrong value that is small relative to the largest activation still fails on its own element
    got = expected.copy()
    got[50] += 0.01  # expected 0 there: the relative part gives it nothing
    assert not core.compare("conv", expected, got, core.Tolerance(1e-4, 1e-5)).passed
    for bad in (core.Tolerance(0.0, 0.0), core.Tolerance(-1e-4, 0.0), core.Tolerance(1e-4, math.nan)):
        with pytest.raises(BadInput):
            bad.check()


def test_shapes_nan_and_infinities() -> None:
    tol = core.Tolerance()
    assert core.compare("x", np.zeros((2, 3)), np.zeros(6), tol).passed  # the same size, reshaped
    wrong = core.compare("x", np.zeros((2, 3)), np.zeros(5), tol)
    assert not wrong.passed and "shape" in wrong.detail
    assert not core.compare("x", [1.0, math.nan], [1.0, 1.0], tol).passed
    assert core.compare("x", [math.inf, 1.0], [math.inf, 1.0], tol).passed
    assert not core.compare("x", [math.inf], [-math.inf], tol).passed


def test_merge_fails_a_name_that_failed_on_any_case_and_keeps_the_worst() -> None:
    tol = core.Tolerance(1e-4, 0.0)
    diffs = [
        core.compare("a", [1.0], [1.0], tol),
        core.compare("b", [1.0], [1.5], tol),  # fails on case 0
        core.compare("a", [1.0], [1.3], tol),  # fails on case 1
        core.compare("b", [1.0], [1.0], tol),
        core.compare("b", [1.0, 2.0], [1.0], tol),  # a shape mismatch on case 2
    ]
    merged = {d.name: d for d in core.merge(diffs)}
    assert list(merged) == ["a", "b"]
    assert not merged["a"].passed and merged["a"].max_abs_diff == pytest.approx(0.3)
    assert not merged["b"].passed and merged["b"].max_abs_diff == math.inf
    assert merged["b"].detail == ""  # the first failing case's detail: a value, not the later shape
    assert core.merge([core.compare("c", [1.0], [1.0], tol), core.compare("c", [2.0], [2.0], tol)])[0].passed


# -- Caffe and MXNet through the whole flow, frameworks faked ---------------------------------------------


def _sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.npy"
    np.save(path, np.random.default_rng(3).standard_normal(fakes.SHAPE).astype(np.float32) * 50)
    return path


def test_caffe_port_that_agrees_on_one_input_and_not_another_fails(tmp_path: Path, monkeypatch) -> None:
    fakes.fake_caffe(monkeypatch, offsets={1: 0.01})  # the original differs on the sample only
    proto, model = fakes.write_caffe_files(tmp_path / "in", fakes.prototxt())
    dest = tmp_path / "out"
    result = cli("migrate", "caffe", proto, model, "--dest", dest, "--sample", _sample(tmp_path), "--json")
    assert result.exit_code == 1, result.output
    record = json.loads(result.stdout)
    assert not record["passed"] and record["atol"] == 1e-4 and record["rtol"] == 1e-5
    failing = [o["name"] for o in record["outputs"] if not o["passed"]]
    assert failing == ["fc", "onnx:fc"]
    assert [layer["name"] for layer in record["layers"] if not layer["passed"]] == ["relu"]
    report = (dest / core.REPORT).read_text()
    assert "The first layer that disagrees: **relu** (ReLU)" in report
    assert "| relu | ReLU |" in report and "max rel diff" in report
    # every compared input is in reference.npz, the sample too
    with np.load(dest / core.REFERENCE) as reference:
        np.testing.assert_array_equal(reference["case1_input_0"], np.load(tmp_path / "sample.npy"))
        assert {"case0_input_0", "case0_output_0", "case1_output_0", "input_0", "output_0"} <= set(reference)
    assert record["reference"]["cases"] == 2


def test_caffe_port_that_agrees_everywhere_passes_with_every_case_in_the_reference(tmp_path: Path, monkeypatch) -> None:
    fakes.fake_caffe(monkeypatch)
    proto, model = fakes.write_caffe_files(tmp_path / "in", fakes.prototxt())
    dest = tmp_path / "out"
    result = cli("migrate", "caffe", proto, model, "--dest", dest, "--sample", _sample(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["passed"] and record["inputs"] == ["random normal inputs (seed 0)", "the sample sample.npy"]
    assert all("max_rel_diff" in d for d in record["outputs"] + record["layers"])
    with np.load(dest / core.REFERENCE) as reference:
        assert sum(key.endswith("_input_0") and key.startswith("case") for key in reference) == 2


def test_mxnet_port_that_agrees_on_one_input_and_not_another_fails(tmp_path: Path, monkeypatch) -> None:
    fakes.fake_mxnet(monkeypatch, offsets={1: 0.01}, onnx=fakes.onnx_model())
    sym, params = fakes.write_mxnet_files(tmp_path / "in", fakes.symbol())
    args = ["--input-shape", "2,6", "--sample", _sample(tmp_path), "--json"]
    result = cli("migrate", "mxnet", sym, params, "--dest", tmp_path / "out", *args)
    assert result.exit_code == 1, result.output
    record = json.loads(result.stdout)
    assert [o["name"] for o in record["outputs"] if not o["passed"]] == ["relu", "onnx:relu"]
    assert [n["name"] for n in record["layers"] if not n["passed"]] == ["relu"]


def test_mxnet_onnx_that_disagrees_is_replaced_by_the_ports_export(tmp_path: Path, monkeypatch) -> None:
    """MXNet's exporter is wrong for some graphs (BatchNorm with fix_gamma): its model.onnx is not shipped."""
    fakes.fake_mxnet(monkeypatch, onnx=fakes.onnx_model(shift=1.2))
    sym, params = fakes.write_mxnet_files(tmp_path / "in", fakes.symbol())
    dest = tmp_path / "out"
    result = cli("migrate", "mxnet", sym, params, "--dest", dest, "--input-shape", "2,6", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    note = next(n for n in record["notes"] if "model.onnx was exported from the PyTorch port" in n)
    assert "MXNet's own ONNX export does not agree with MXNet (onnx:relu: max |diff| 1.2)" in note
    assert next(o for o in record["outputs"] if o["name"] == "onnx:relu")["passed"]
    got = torch_port.run_onnx(dest / "model.onnx", {"data": np.ones(fakes.SHAPE, np.float32)})
    np.testing.assert_allclose(got[0], fakes.forward(np.ones(fakes.SHAPE, np.float32))[1], rtol=1e-5, atol=1e-5)


def test_mxnet_onnx_that_onnx_runtime_cannot_load_is_replaced(tmp_path: Path, monkeypatch) -> None:
    fakes.fake_mxnet(monkeypatch, onnx=b"not an onnx model")
    sym, params = fakes.write_mxnet_files(tmp_path / "in", fakes.symbol())
    result = cli("migrate", "mxnet", sym, params, "--dest", tmp_path / "out", "--input-shape", "2,6", "--json")
    assert result.exit_code == 0, result.output
    notes = "\n".join(json.loads(result.stdout)["notes"])
    assert "ONNX Runtime cannot run it" in notes and "exported from the PyTorch port instead" in notes


def test_mxnet_onnx_is_kept_when_it_agrees(tmp_path: Path, monkeypatch) -> None:
    fakes.fake_mxnet(monkeypatch, onnx=fakes.onnx_model())
    sym, params = fakes.write_mxnet_files(tmp_path / "in", fakes.symbol())
    result = cli("migrate", "mxnet", sym, params, "--dest", tmp_path / "out", "--input-shape", "2,6", "--json")
    assert result.exit_code == 0, result.output
    assert "model.onnx comes from MXNet's own exporter (mx.onnx.export_model)" in json.loads(result.stdout)["notes"]


def test_an_onnx_model_with_fewer_outputs_than_the_original_fails_by_name(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(fakes.onnx_model(outputs=1))
    x = np.ones(fakes.SHAPE, np.float32)
    out = fakes.forward(x)[1]
    result = core.Result("mxnet", "pytorch", tmp_path, core.Tolerance())
    diffs = torch_port.check_onnx(path, ["data"], ["prob", "aux"], [[x]], [[out, out]], result)
    assert [(d.name, d.passed) for d in diffs] == [("onnx:prob", True), ("onnx:aux", False)]
    assert diffs[1].detail == "model.onnx has 1 output(s), the original 2"


def test_tolerance_flags(tmp_path: Path, monkeypatch) -> None:
    fakes.fake_mxnet(monkeypatch, offsets={0: 0.01})
    sym, params = fakes.write_mxnet_files(tmp_path / "in", fakes.symbol())
    shape = ["--input-shape", "2,6"]
    assert cli("migrate", "mxnet", sym, params, "--dest", tmp_path / "a", *shape).exit_code == 1
    loose = cli("migrate", "mxnet", sym, params, "--dest", tmp_path / "b", *shape, "--atol", "0.02", "--json")
    assert loose.exit_code == 0, loose.output
    assert json.loads(loose.stdout)["atol"] == 0.02
    line = one_line_error(cli("migrate", "mxnet", sym, params, "--dest", tmp_path / "c", *shape, "--rtol", "-1"))
    assert "--rtol -1.0: must be a finite number, 0 or above" in line
    assert not (tmp_path / "c").exists()


# -- Caffe options refused by name -------------------------------------------------------------------------


def test_caffe_batchnorm_with_batch_statistics_is_refused_by_name(tmp_path: Path) -> None:
    extra = (
        'layer { name: "bn" type: "BatchNorm" bottom: "fc" top: "fc" batch_norm_param { use_global_stats: false } }\n'
    )
    proto = tmp_path / "deploy.prototxt"
    proto.write_text(fakes.prototxt(extra=extra))
    with pytest.raises(BadInput, match=r"deploy.prototxt:6: layer 'bn' uses use_global_stats: false"):
        caffe_net.load(proto)
    proto.write_text(fakes.prototxt(extra=extra.replace("false", "true")))
    assert [layer.type for layer in caffe_net.load(proto).layers][-1] == "BatchNorm"


# -- Theano: the before/after table -------------------------------------------------------------------------

OUTCOMES = ("passed", "failed", "error", "skipped", "absent")


@pytest.mark.parametrize(("before", "after"), list(itertools.product(OUTCOMES, OUTCOMES)))
def test_every_before_after_pair_of_one_test(before: str, after: str, tmp_path: Path) -> None:
    """A test that passed under Theano must pass under PyTensor (skipped is not passing); the run proves
    something only when at least one test passed under both."""
    result = core.Result("theano", "pytensor", tmp_path, 0.0)
    theano._judge(result, {} if before == "absent" else {"t": before}, {} if after == "absent" else {"t": after}, [])
    regressed = before == "passed" and after != "passed"
    proven = before == "passed" and after == "passed"
    assert [t["passed"] for t in result.extra.get("tests", [])] == (
        [] if before == after == "absent" else [not regressed]
    )
    assert result.checked == (proven or regressed)
    assert result.passed == proven
    if regressed:
        assert core.failure(result) is not None and "passed under Theano" in str(core.failure(result))


def test_a_project_with_one_kept_test_and_one_regression_fails(tmp_path: Path) -> None:
    result = core.Result("theano", "pytensor", tmp_path, 0.0)
    theano._judge(
        result, {"a": "passed", "b": "passed", "c": "failed"}, {"a": "passed", "b": "skipped", "c": "failed"}, []
    )
    assert result.checked and not result.passed
    assert str(core.failure(result)).startswith(
        "1 test(s) that passed before do not pass after: b passed under Theano, skipped under PyTensor"
    )
    result = core.Result("theano", "pytensor", tmp_path, 0.0)
    theano._judge(result, {"a": "passed", "c": "failed"}, {"a": "passed", "c": "passed"}, [])
    assert result.passed
    result = core.Result("theano", "pytensor", tmp_path, 0.0)
    theano._judge(result, {"a": "failed"}, {"a": "failed"}, [])  # fails under both: nothing proven
    assert not result.checked and not result.passed
    assert "could not be checked" in str(core.failure(result))


def test_the_scaffolded_projects_test_replays_every_case(tmp_path: Path, monkeypatch) -> None:
    """`scaffold --from-migration` writes a test that replays reference.npz: every case, with atol and rtol."""
    from dlpick.migrate import into_project

    fakes.fake_caffe(monkeypatch)
    proto, model = fakes.write_caffe_files(tmp_path / "in", fakes.prototxt())
    dest = tmp_path / "out"
    assert cli("migrate", "caffe", proto, model, "--dest", dest, "--sample", _sample(tmp_path)).exit_code == 0
    project = tmp_path / "project"
    (project / "src" / "ported").mkdir(parents=True)
    (project / "src" / "ported" / "__init__.py").write_text("")
    into_project.add(dest, project, "ported")
    monkeypatch.syspath_prepend(str(project / "src"))
    test = torch_port.load_module(project / "tests" / into_project.TEST, "dlpick_test_migrated")
    test.test_the_migrated_model_reproduces_the_original()
    # a planted difference in the second case (the sample) is caught
    folder = project / "src" / "ported" / "migrated"
    with np.load(folder / core.REFERENCE) as reference:
        arrays = dict(reference)
    arrays["case1_output_0"] = arrays["case1_output_0"] + 0.01
    np.savez(folder / core.REFERENCE, **arrays)
    with pytest.raises(AssertionError, match="case1_"):
        test.test_the_migrated_model_reproduces_the_original()
