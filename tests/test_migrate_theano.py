"""`dlpick migrate theano`: the rewrite itself (quick), then theano_compat against Theano's own ops and a
Theano template project with a file of renamed APIs migrated and proven by its tests (integration)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlpick.migrate import theano_rewrite

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = '''\
"""Uses theano everywhere (prose untouched)."""
import os

os.environ["THEANO_FLAGS"] = "floatX=float32"
import theano
import theano.tensor as T
from theano import function, shared
from theano.tensor.nnet import conv2d, sigmoid
from theano.tensor.signal import pool
from theano.sandbox.rng_mrg import MRG_RandomStreams

# theano.function in a comment stays
x = T.matrix("x")
y = T.nnet.softmax(x) + T.nnet.relu(x) + T.nnet.bn.batch_normalization(x)
h = theano.tensor.nnet.sigmoid(x)
z = pool.pool_2d(T.tensor4(), (2, 2), ignore_border=True)
c = conv2d(T.tensor4(), shared(0), filter_shape=(1, 1, 3, 3))
f = function([x], y)
g = theano.function([x], h, updates=theano.gof.graph.ancestors([h]))
s = "theano.function in a string stays"
rng = MRG_RandomStreams(1)
if theano.config.device == "gpu":
    pass
'''

EXPECTED = '''\
"""Uses theano everywhere (prose untouched)."""
import os

os.environ["PYTENSOR_FLAGS"] = "floatX=float32,linker=cvm"
import pytensor
import pytensor.tensor as T
from pytensor import function, shared
from theano_compat import conv2d, sigmoid
import theano_compat as pool
from pytensor.tensor.random.utils import RandomStream as MRG_RandomStreams
import theano_compat

# theano.function in a comment stays
x = T.matrix("x")
y = theano_compat.softmax(x) + theano_compat.relu(x) + T.nnet.bn.batch_normalization(x)
h = theano_compat.sigmoid(x)
z = pool.pool_2d(T.tensor4(), (2, 2), ignore_border=True)
c = conv2d(T.tensor4(), shared(0), filter_shape=(1, 1, 3, 3))
f = function([x], y)
g = pytensor.function([x], h, updates=pytensor.graph.basic.ancestors([h]))
s = "theano.function in a string stays"
rng = MRG_RandomStreams(1)
if pytensor.config.device == "gpu":
    pass
'''


def test_rewrite_python_renames_code_only_and_names_what_needs_a_person() -> None:
    result = theano_rewrite.rewrite_python(SAMPLE, "sample.py", in_package=False)
    assert result.text == EXPECTED
    assert result.needs_compat and result.conv2d_lines == [18]
    human = "\n".join(result.human)
    assert "sample.py:10: RandomStream's API differs" in human
    assert "sample.py:15: T.nnet.bn: batch_normalization was removed" in human
    assert "sample.py:23: uses Theano's GPU configuration" in human
    assert {c.rule for c in result.changes} >= {"import", "flags", "theano_compat", "theano -> pytensor"}


def test_rewrite_python_in_a_package_imports_the_compat_module_relatively() -> None:
    text = "import theano.tensor as T  # noqa: E402\n\n\ndef f(x):\n    return T.nnet.sigmoid(x)\n"
    result = theano_rewrite.rewrite_python(text, "pkg/mod.py", in_package=True)
    assert result.text.splitlines()[:2] == [
        "import pytensor.tensor as T  # noqa: E402",
        "from . import theano_compat  # noqa: E402",
    ]
    assert "return theano_compat.sigmoid(x)" in result.text


def test_requirements_and_config_files() -> None:
    req = theano_rewrite.rewrite_requirements(
        "Theano==1.0.5\nnumpy>=1.23,<1.24  # pin\nscipy<1.12\npyyaml\n", "r.txt", "pytensor==3.0.7"
    )
    assert req.text == "pytensor==3.0.7\nnumpy>=1.23  # pin\nscipy\npyyaml\n"
    docker = theano_rewrite.rewrite_config(
        "ENV THEANO_FLAGS=floatX=float32,device=cuda\nRUN pip install Theano==1.0.5\n", "Dockerfile", "pytensor==3.0.7"
    )
    assert docker.text == "ENV PYTENSOR_FLAGS=floatX=float32,device=cuda,linker=cvm\nRUN pip install pytensor==3.0.7\n"
    assert docker.human == ["Dockerfile:1: asks for a GPU device: PyTensor has no GPU back end"]


def dlpick(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlpick", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=1800,
    )


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def test_a_project_without_tests_is_rewritten_but_not_passed(tmp_path: Path) -> None:
    src = tmp_path / "old"
    src.mkdir()
    (src / "model.py").write_text(SAMPLE)
    (src / "requirements.txt").write_text("Theano==1.0.5\n")
    before = snapshot(src)
    ran = dlpick("migrate", "theano", str(src), "--to", "pytensor", "--dest", str(tmp_path / "new"), "--json")
    assert ran.returncode == 1, ran.stderr
    report = json.loads(ran.stdout)
    assert not report["passed"] and report["from"] == "theano" and report["to"] == "pytensor"
    assert any("nothing proves the migration" in h for h in report["needs_human"])
    assert (tmp_path / "new" / "model.py").read_text() == EXPECTED
    assert (tmp_path / "new" / "theano_compat.py").is_file()
    assert "## Every change" in (tmp_path / "new" / "MIGRATION.md").read_text()
    assert snapshot(src) == before


def test_bad_sources_and_destinations_exit_2(tmp_path: Path) -> None:
    src = tmp_path / "plain"
    src.mkdir()
    (src / "a.py").write_text("print(1)\n")
    ran = dlpick("migrate", "theano", str(src), "--dest", str(tmp_path / "new"))
    assert ran.returncode == 2 and "no Theano import or flag found" in ran.stderr
    assert not (tmp_path / "new").exists()
    inside = dlpick("migrate", "theano", str(src), "--dest", str(src / "out"))
    assert inside.returncode == 2 and "never writes to its sources" in inside.stderr
    missing = dlpick("migrate", "theano", str(tmp_path / "nope"), "--dest", str(tmp_path / "new"))
    assert missing.returncode == 2 and "not a folder" in missing.stderr


SCAN_SEEN = """\
import os
import subprocess
import sys

CHECK = "import sys; assert sys.modules['theano.scan_module.scan_perform_ext'] is None"


def test_scan_runs_its_python_loop_and_the_projects_flags_apply():
    assert sys.modules["theano.scan_module.scan_perform_ext"] is None  # scan's C extension: ImportError
    subprocess.run([sys.executable, "-c", CHECK], check=True)  # in a Python the tests start too
    os.environ.setdefault("THEANO_FLAGS", "floatX=float32")
    assert os.environ["THEANO_FLAGS"] == "floatX=float32"
    assert sys.users_sitecustomize_ran
"""


def test_the_tests_under_theano_run_scans_python_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Theano 1.0.5's scan cannot compile its C code on Python 3.11, so under Theano (only) scan's C extension
    is an ImportError, which sends scan to its Python loop (issue 27, item 2): in the tests and in every
    Python they start; THEANO_FLAGS left alone; a sitecustomize the user had still runs."""
    from types import SimpleNamespace

    from dlpick.migrate import theano

    users = tmp_path / "users"
    users.mkdir()
    (users / "sitecustomize.py").write_text("import sys\n\nsys.users_sitecustomize_ran = True\n")
    monkeypatch.setenv("PYTHONPATH", f"{users}{os.pathsep}{ROOT}")
    monkeypatch.delenv("THEANO_FLAGS", raising=False)
    monkeypatch.setattr(theano, "_environment", lambda framework, on_event: SimpleNamespace(python=sys.executable))
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_scan.py").write_text(SCAN_SEEN)
    before, after, notes = theano.run_tests(project, project, 120, None)
    name = "test_scan::test_scan_runs_its_python_loop_and_the_projects_flags_apply"
    assert (before, after, notes) == ({name: "passed"}, {name: "failed"}, [])
    assert sorted(p.name for p in project.iterdir()) == ["test_scan.py"]


# -- integration: the Theano and PyTensor environments ---------------------------------------------------------

OPS = '''\
"""theano_compat's ops against Theano's: every conv2d / pool_2d variant and the nnet functions."""
import sys

import numpy as np

if sys.argv[1] == "theano":
    import theano
    from theano.tensor.nnet import (binary_crossentropy, categorical_crossentropy, conv2d, hard_sigmoid,
                                    logsoftmax, relu, softmax)
    from theano.tensor.signal.pool import pool_2d
    import theano.tensor as T
else:
    import pytensor as theano
    import pytensor.tensor as T
    from theano_compat import (binary_crossentropy, categorical_crossentropy, conv2d, hard_sigmoid, logsoftmax,
                               pool_2d, relu, softmax)
rng = np.random.default_rng(0)
x, w = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2))
X, W = T.tensor4("x", dtype="float64"), T.tensor4("w", dtype="float64")
out = {}
for bm in ["valid", "full", "half", 1, (2, 1)]:
    for sub in [(1, 1), (2, 3)]:
        for flip in [True, False]:
            for dil in [(1, 1), (2, 1)]:
                for shape in [(4, 3, 3, 2), None]:  # None: the kernel size is known only at run time
                    y = conv2d(X, W, filter_shape=shape, border_mode=bm, subsample=sub, filter_flip=flip,
                               filter_dilation=dil)
                    out[f"conv {bm} {sub} {flip} {dil} {shape}"] = theano.function([X, W], y)(x, w)
for mode in ["max", "sum", "average_inc_pad", "average_exc_pad"]:
    for ws, st, ib, pad in [((2, 2), None, True, (0, 0)), ((3, 3), (2, 2), False, (0, 0)),
                            ((3, 2), (1, 2), True, (1, 1)), ((2, 3), (3, 3), False, (0, 0)),
                            ((3, 3), (2, 2), True, (1, 0))]:
        y = pool_2d(X, ws, ignore_border=ib, stride=st, pad=pad, mode=mode)
        out[f"pool {mode} {ws} {st} {ib} {pad}"] = theano.function([X], y)(x)
M, m = T.matrix("m", dtype="float64"), rng.standard_normal((4, 5))
for name, fn in [("relu", relu), ("relu.1", lambda v: relu(v, 0.1)), ("softmax", softmax),
                 ("logsoftmax", logsoftmax), ("hard", hard_sigmoid)]:
    out[name] = theano.function([M], fn(M))(m)
p = theano.function([M], softmax(M))(m)
P, Y = T.matrix("p", dtype="float64"), T.ivector("y")
out["cce"] = theano.function([P, Y], categorical_crossentropy(P, Y))(p, np.array([0, 1, 4, 2], "int32"))
out["cce1h"] = theano.function([P, M], categorical_crossentropy(P, M))(p, np.eye(5)[[0, 1, 4, 2]])
out["bce"] = theano.function([P, M], binary_crossentropy(P, M))(1 / (1 + np.exp(-m)), (m > 0).astype(float))
np.savez(sys.argv[1] + ".npz", **out)
'''

# A file of the project using the APIs PyTensor renamed or removed, and its test against NumPy.
PROJECT_OPS = '''\
import os

os.environ.setdefault("THEANO_FLAGS", "floatX=float32,blas.ldflags=")

import numpy as np  # noqa: E402
import theano  # noqa: E402
import theano.tensor as T  # noqa: E402
from theano.tensor.signal.pool import pool_2d  # noqa: E402


def features(images, kernels):
    """A true convolution (Theano flips the kernel), ReLU, 2x2 max pooling, softmax over the flattened rest."""
    x, w = T.tensor4("x"), T.tensor4("w")
    h = pool_2d(T.nnet.relu(T.nnet.conv2d(x, w, border_mode="valid")), (2, 2), ignore_border=True)
    return theano.function([x, w], T.nnet.softmax(h.flatten(2)))(images, kernels)
'''
PROJECT_OPS_TEST = """\
import numpy as np

from {package}.ops import features


def test_features_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1, 6, 6)).astype("float32")
    w = rng.standard_normal((3, 1, 3, 3)).astype("float32")
    flipped = w[:, :, ::-1, ::-1]
    conv = np.zeros((2, 3, 4, 4), "float32")
    for i in range(4):
        for j in range(4):
            conv[:, :, i, j] = np.einsum("nchw,ochw->no", x[:, :, i : i + 3, j : j + 3], flipped)
    pooled = np.maximum(conv, 0).reshape(2, 3, 2, 2, 2, 2).max(axis=(3, 5)).reshape(2, -1)
    expected = np.exp(pooled) / np.exp(pooled).sum(axis=1, keepdims=True)
    assert np.abs(features(x, w) - expected).max() < 1e-5
"""


# An Elman RNN over theano.scan whose activation is a custom Op (NumPy perform, symbolic grad), and its tests
# against a NumPy loop, finite differences and training (issue 27, item 2).
RNN = """\
import os

os.environ.setdefault("THEANO_FLAGS", "floatX=float64,blas.ldflags=")

import numpy as np  # noqa: E402
import theano  # noqa: E402
import theano.tensor as T  # noqa: E402
from theano import Op  # noqa: E402


class SoftSign(Op):
    \"\"\"x / (1 + |x|) by NumPy; its gradient a graph the scan's gradient builds on.\"\"\"

    __props__ = ()
    itypes = [T.dmatrix]
    otypes = [T.dmatrix]

    def perform(self, node, inputs, outputs):
        (x,) = inputs
        outputs[0][0] = x / (1.0 + np.abs(x))

    def grad(self, inputs, output_grads):
        (x,) = inputs
        return [output_grads[0] / T.sqr(1.0 + abs(x))]


softsign = SoftSign()


def build(n_in, n_hidden, seed=0):
    rng = np.random.default_rng(seed)
    W = theano.shared(rng.standard_normal((n_in, n_hidden)) * 0.5, name="W")
    U = theano.shared(rng.standard_normal((n_hidden, n_hidden)) * 0.5, name="U")
    xs, h0, target = T.dtensor3("xs"), T.dmatrix("h0"), T.dmatrix("target")
    hs, _ = theano.scan(lambda x_t, h: softsign(T.dot(x_t, W) + T.dot(h, U)), sequences=xs, outputs_info=h0)
    loss = T.sqr(hs[-1] - target).mean()
    gW, gU = theano.grad(loss, [W, U])
    last = theano.function([xs, h0], hs[-1])
    grads = theano.function([xs, h0, target], [gW, gU])
    train = theano.function([xs, h0, target], loss, updates=[(W, W - 0.5 * gW), (U, U - 0.5 * gU)])
    return (W, U), last, grads, train
"""
RNN_TEST = """\
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent.parent))
import rnn  # noqa: E402


def reference(xs, h0, W, U):
    h = h0
    for x in xs:
        a = x @ W + h @ U
        h = a / (1 + np.abs(a))
    return h


def data():
    rng = np.random.default_rng(1)
    return rng.standard_normal((5, 2, 3)), np.zeros((2, 4)), rng.uniform(-0.5, 0.5, (2, 4))


def test_scan_matches_a_numpy_loop():
    (W, U), last, _, _ = rnn.build(3, 4)
    xs, h0, _ = data()
    assert np.abs(last(xs, h0) - reference(xs, h0, W.get_value(), U.get_value())).max() < 1e-12


def test_the_ops_gradient_through_scan_matches_finite_differences():
    (W, U), _, grads, _ = rnn.build(3, 4)
    xs, h0, target = data()
    for shared, analytic in zip((W, U), grads(xs, h0, target)):
        value = shared.get_value()
        for index in [(0, 0), (1, 2), (2, 3)]:
            losses = []
            for step in (1e-6, -1e-6):
                moved = value.copy()
                moved[index] += step
                shared.set_value(moved)
                losses.append(np.mean((reference(xs, h0, W.get_value(), U.get_value()) - target) ** 2))
            shared.set_value(value)
            assert abs((losses[0] - losses[1]) / 2e-6 - analytic[index]) < 1e-6


def test_training_lowers_the_loss():
    _, _, _, train = rnn.build(3, 4)
    xs, h0, target = data()
    losses = [float(train(xs, h0, target)) for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]
"""


@pytest.fixture
def symbolic_envs(envs_root: Path, monkeypatch: pytest.MonkeyPatch):
    from dlpick.migrate import theano

    monkeypatch.setenv("DLPICK_ENVS", str(envs_root))
    return theano._environment("theano", None), theano._environment("pytensor", None)


@pytest.mark.integration
@pytest.mark.needs_index  # builds the framework's environment when the cache lacks it
def test_theano_compat_matches_theano(symbolic_envs, tmp_path: Path) -> None:
    import numpy as np

    theano_env, pytensor_env = symbolic_envs
    shutil.copyfile(ROOT / "dlpick" / "migrate" / "theano_compat.py", tmp_path / "theano_compat.py")
    (tmp_path / "ops.py").write_text(OPS)
    env = {**os.environ, "THEANO_FLAGS": "blas.ldflags=", "PYTENSOR_FLAGS": "linker=cvm"}
    for name, python in (("theano", theano_env.python), ("pytensor", pytensor_env.python)):
        ran = subprocess.run(
            [python, "ops.py", name], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
        )
        assert ran.returncode == 0, ran.stderr[-3000:]
    with np.load(tmp_path / "theano.npz") as before, np.load(tmp_path / "pytensor.npz") as after:
        assert sorted(before.files) == sorted(after.files) and len(before.files) == 108
        for key in before.files:
            assert before[key].shape == after[key].shape, key
            assert np.abs(before[key] - after[key]).max() <= 1e-9, key


@pytest.mark.integration
@pytest.mark.needs_index  # builds the framework's environment when the cache lacks it
def test_a_theano_template_project_migrates_and_its_tests_pass(symbolic_envs, tmp_path: Path) -> None:
    from dlpick.project.render import render

    src = tmp_path / "old"
    render("theano", "tabular-classification", src)
    (src / "src" / "old" / "ops.py").write_text(PROJECT_OPS)
    (src / "tests" / "test_ops.py").write_text(PROJECT_OPS_TEST.format(package="old"))
    before = snapshot(src)
    started = time.monotonic()
    ran = dlpick("migrate", "theano", str(src), "--to", "pytensor", "--dest", str(tmp_path / "new"), "--json")
    seconds = time.monotonic() - started
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    report = json.loads(ran.stdout)
    assert report["passed"] and report["from"] == "theano" and report["to"] == "pytensor"
    tests = report["tests"]
    assert tests and all(t["theano"] == "passed" and t["pytensor"] == "passed" for t in tests), tests
    assert any(t["name"].endswith("test_features_match_numpy") for t in tests)
    new = tmp_path / "new"
    for module in ("engine.py", "ops.py"):
        code = (new / "src" / "old" / module).read_text()
        assert not re.search(r"^\s*(import|from) theano\b(?!_)", code, re.MULTILINE), code
    assert (new / "src" / "old" / "theano_compat.py").is_file()
    assert "pytensor==" in (new / "requirements.txt").read_text()
    assert any("conv2d keeps Theano's semantics" in h for h in report["needs_human"])
    assert any(".cookiecutter.json and .cruft.json still name" in h for h in report["needs_human"])
    assert snapshot(src) == before  # SRC is only read
    assert not list(new.rglob("__pycache__"))  # the tests ran in scratch copies
    print(f"\ntheano template + ops: {seconds:.0f} s, {len(report['changes'])} changes, {len(tests)} tests")


@pytest.mark.integration
@pytest.mark.needs_index  # builds the framework's environment when the cache lacks it
def test_a_test_that_passed_under_theano_and_fails_after_exits_1(symbolic_envs, tmp_path: Path) -> None:
    src = tmp_path / "old"
    (src / "tests").mkdir(parents=True)
    (src / "lib.py").write_text(
        "import os\n\nos.environ.setdefault('THEANO_FLAGS', 'blas.ldflags=')\n"
        "import theano  # noqa: E402\n\nNAME = theano.__name__\n"
    )
    (src / "tests" / "test_lib.py").write_text(
        "import sys\nfrom pathlib import Path\n\nsys.path.insert(0, str(Path(__file__).parent.parent))\n"
        "import lib  # noqa: E402\n\n\ndef test_name():\n    assert lib.NAME == 'theano'\n\n\n"
        "def test_ok():\n    assert True\n"
    )
    ran = dlpick("migrate", "theano", str(src), "--dest", str(tmp_path / "new"), "--json")
    assert ran.returncode == 1, ran.stderr
    report = json.loads(ran.stdout)
    verdicts = {t["name"].rsplit("::", 1)[-1]: (t["theano"], t["pytensor"], t["passed"]) for t in report["tests"]}
    assert verdicts == {"test_name": ("passed", "failed", False), "test_ok": ("passed", "passed", True)}
    assert "REGRESSED" in (tmp_path / "new" / "MIGRATION.md").read_text()
    assert "test_name" in ran.stderr.splitlines()[-1]


@pytest.mark.integration
@pytest.mark.needs_index  # builds the framework's environment when the cache lacks it
def test_a_scan_rnn_with_a_custom_op_migrates_and_its_tests_pass(symbolic_envs, tmp_path: Path) -> None:
    """theano.scan runs in dlpick's Theano environment (Python 3.11), so an RNN project has a baseline; the
    custom Op's import moves to pytensor.graph.op and the port passes the same tests (issue 27, item 2)."""
    src = tmp_path / "old"
    (src / "tests").mkdir(parents=True)
    (src / "rnn.py").write_text(RNN)
    (src / "tests" / "test_rnn.py").write_text(RNN_TEST)
    started = time.monotonic()
    ran = dlpick("migrate", "theano", str(src), "--to", "pytensor", "--dest", str(tmp_path / "new"), "--json")
    seconds = time.monotonic() - started
    report = json.loads(ran.stdout)
    tests = {t["name"].rsplit("::", 1)[-1]: (t["theano"], t["pytensor"]) for t in report.get("tests", [])}
    assert tests == {
        "test_scan_matches_a_numpy_loop": ("passed", "passed"),
        "test_the_ops_gradient_through_scan_matches_finite_differences": ("passed", "passed"),
        "test_training_lowers_the_loss": ("passed", "passed"),
    }, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert ran.returncode == 0 and report["passed"], ran.stdout[-3000:]
    assert "tests: 3 of 3 passed under Theano, 3 under PyTensor, 3 under both" in report["notes"]
    code = (tmp_path / "new" / "rnn.py").read_text()
    assert "from pytensor.graph.op import Op  # noqa: E402\n" in code
    assert "hs, _ = pytensor.scan(" in code and "theano" not in code.lower()
    print(f"\nscan RNN + custom Op: {seconds:.0f} s")
