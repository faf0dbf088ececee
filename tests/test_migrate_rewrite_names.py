"""`migrate theano` maps every public Theano name that moved in PyTensor 3 to where it lives now (pytensor
3.0.7, the PyTensor template's pin), and lists each removed one under "Needs a person" by file and line
(issue 27, item 3). The rewriter reads text only: no Theano or PyTensor is imported here."""

from __future__ import annotations

import pytest

from dlpick.migrate import theano_rewrite

SOURCE = """\
import pytest
import theano
import theano.tensor as T
from theano import Op, Apply, function, Param, foldl, OrderedUpdates
from theano.tensor import inv, addbroadcast
from theano.scan_module import scan_utils

theano_mod = pytest.importorskip("theano")


class Double(theano.Op):
    def make_node(self, x):
        return theano.Apply(self, [x], [x.type()])


x = T.matrix()
y = T.addbroadcast(x, 0) + T.inv(x) + T.abs_(x) + theano.tensor.inv(x)
z = T.verify_grad
w = theano.foldl
q = theano.tensor.patternbroadcast(x, (False,))
c = theano.clone(y)
"""

EXPECTED = """\
import pytest
import pytensor
import pytensor.tensor as T
from pytensor import function, Param, OrderedUpdates
from pytensor.graph.op import Op
from pytensor.graph.basic import Apply
from pytensor.scan.views import foldl
from pytensor.tensor import addbroadcast
from pytensor.tensor import reciprocal as inv
from pytensor.scan import utils as scan_utils

theano_mod = pytest.importorskip("pytensor")


class Double(pytensor.graph.op.Op):
    def make_node(self, x):
        return pytensor.graph.basic.Apply(self, [x], [x.type()])


x = T.matrix()
y = T.addbroadcast(x, 0) + T.reciprocal(x) + T.abs(x) + pytensor.tensor.reciprocal(x)
z = T.verify_grad
w = pytensor.foldl
q = pytensor.tensor.patternbroadcast(x, (False,))
c = pytensor.graph.replace.clone_replace(y)
"""


def test_moved_names_are_mapped_and_removed_ones_listed_by_file_and_line() -> None:
    result = theano_rewrite.rewrite_python(SOURCE, "pkg/ops.py", in_package=False)
    assert result.text == EXPECTED
    human = "\n".join(result.human)
    for line, text in (
        (4, "Param from theano: PyTensor removed it: use pytensor.In"),
        (4, "OrderedUpdates from theano: PyTensor removed it: use a dict"),
        (5, "addbroadcast from theano.tensor: PyTensor removed it"),
        (17, "T.addbroadcast: PyTensor removed it"),
        (18, "T.verify_grad: moved to pytensor.gradient.verify_grad"),
        (19, "theano.foldl: moved to pytensor.scan.views.foldl"),
        (20, "theano.tensor.patternbroadcast: PyTensor removed it"),
    ):
        assert f"pkg/ops.py:{line}: {text}" in human


@pytest.mark.parametrize(
    ("theano", "pytensor"),
    [
        ("theano.Op", "pytensor.graph.op.Op"),
        ("theano.Apply", "pytensor.graph.basic.Apply"),
        ("theano.Variable", "pytensor.graph.basic.Variable"),
        ("theano.FunctionGraph", "pytensor.graph.fg.FunctionGraph"),
        ("theano.OpenMPOp", "pytensor.link.c.op.OpenMPOp"),
        ("theano.as_op", "pytensor.compile.ops.as_op"),
        ("theano.pprint", "pytensor.printing.pprint"),
        ("theano.gof.op.Op", "pytensor.graph.op.Op"),
        ("theano.gof.opt.GraphRewriter", "pytensor.graph.rewriting.basic.GraphRewriter"),
        ("theano.scan_module.scan_utils", "pytensor.scan.utils"),
        ("theano.compile.function_module.FunctionMaker", "pytensor.compile.maker.FunctionMaker"),
        ("theano.tensor.Elemwise", "pytensor.tensor.elemwise.Elemwise"),
        ("theano.function", "pytensor.function"),
    ],
)
def test_each_moved_path(theano: str, pytensor: str) -> None:
    result = theano_rewrite.rewrite_python(f"import theano\nvalue = {theano}\n", "m.py", in_package=False)
    assert result.text == f"import pytensor\nvalue = {pytensor}\n"


def test_the_theano_environment_keeps_pkg_resources() -> None:
    """theano.scan imports pkg_resources (through theano.gpuarray), which setuptools 82 removed: without the pin
    dlpick's Theano environment cannot run an RNN, so `migrate theano` has no baseline for it (issue 27, item 2)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    lines = (root / "templates" / "theano" / "{{cookiecutter.project_slug}}" / "requirements.txt").read_text()
    assert "setuptools<82" in lines.splitlines()
