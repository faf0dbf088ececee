"""`dlpick migrate ...`: move a model or code base off a retired framework, with proof that it agrees."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from dlpick.cli.options import JsonOpt

migrate_app = typer.Typer(
    help="Migrate a model or code base off a retired framework (Caffe, MXNet, Theano), then prove it: the "
    "original and the migrated model run on the same inputs and every element must agree within "
    "--atol + --rtol x |expected| (numpy's allclose convention).\n\n"
    "Exit status: 0 they agree, 1 they disagree (the files are kept; MIGRATION.md says where), 2 bad input "
    "(nothing written), 3 the source framework's environment cannot be built here. DEST must be new or empty.",
    no_args_is_help=True,
)
Arg, Opt = typer.Argument, typer.Option
DestOpt = Annotated[Path, Opt("--dest", help="New or empty folder for the result.", show_default=False)]
AtolOpt = Annotated[float, Opt("--atol", help="Absolute tolerance: |diff| <= atol + rtol x |expected|.")]
RtolOpt = Annotated[float, Opt("--rtol", help="Relative tolerance: |diff| <= atol + rtol x |expected|.")]
ToleranceOpt = Annotated[float | None, Opt("--tolerance", help="The same as --atol (the first name).", hidden=True)]


def _events(kind: str, message: Any) -> None:
    from dlpick.cli import output

    if kind == "step":
        output.note(str(message))


def _show(result: Any, as_json: bool) -> None:
    from dlpick.cli import output
    from dlpick.migrate import core

    if as_json:
        output.print_json(result.to_json())
    else:
        for test in result.extra.get("tests", []):
            if not test["passed"]:
                name = core.shown(test["name"])
                typer.echo(f"REGRESSED  {name}: {test['theano']} under Theano, {test['pytensor']} now")
        for diff in [*result.outputs, *(d for d in result.layers if not d.passed)]:
            if diff.name.startswith("test "):
                continue
            value = f"{diff.max_abs_diff:.3g}" if diff.max_abs_diff != float("inf") else "n/a"
            relative = f"{diff.max_rel_diff:.3g}" if diff.max_rel_diff != float("inf") else "n/a"
            typer.echo(
                f"{'ok     ' if diff.passed else 'DIFFERS'}  {core.shown(diff.name)}: max |diff| {value}, "
                f"relative {relative} {core.shown(diff.detail)}".rstrip()
            )
        for item in result.needs_human:
            typer.echo(f"needs a person: {core.shown(item)}")
        verdict = "passed" if result.passed else "DISAGREES" if result.checked else "NOT CHECKED"
        typer.echo(f"{verdict}: {result.source} -> {result.target} in {result.dest} (see {core.REPORT})")
    if (error := core.failure(result)) is not None:
        raise error


@migrate_app.command("caffe")
def caffe(
    prototxt: Annotated[Path, Arg(help="The deploy net (.prototxt).", show_default=False)],
    caffemodel: Annotated[Path, Arg(help="Its trained weights (.caffemodel).", show_default=False)],
    dest: DestOpt,
    to: Annotated[str, Opt("--to", help="Target framework.")] = "pytorch",
    input_shape: Annotated[
        str | None, Opt("--input-shape", help="Input shape, e.g. 1,3,224,224 (default: the prototxt's).")
    ] = None,
    sample: Annotated[Path | None, Opt("--sample", help="Also compare on this input (.npy).")] = None,
    atol: AtolOpt = 1e-4,
    rtol: RtolOpt = 1e-5,
    tolerance: ToleranceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A Caffe net to a PyTorch module (model.py, one attribute per layer), its weights (model.pt) and
    model.onnx, compared layer by layer with Caffe (run in the Debian root `verify --isolated` builds).

    Examples:

      dlpick migrate caffe deploy.prototxt model.caffemodel --to pytorch --dest ported
      dlpick migrate caffe deploy.prototxt model.caffemodel --dest ported --sample image.npy --json
    """
    from dlpick.migrate import caffe as flow

    shape = flow.parse_shape(input_shape) if input_shape else None
    atol = atol if tolerance is None else tolerance
    request = flow.CaffeRequest(prototxt, caffemodel, dest, to, atol, shape, sample, rtol=rtol)
    _show(flow.migrate(request, on_event=_events), as_json)


@migrate_app.command("theano")
def theano(
    src_dir: Annotated[Path, Arg(help="The Theano project (only read, never written).", show_default=False)],
    dest: DestOpt,
    to: Annotated[str, Opt("--to", help="Target framework.")] = "pytensor",
    tests: Annotated[bool, Opt("--tests/--no-tests", help="Run the project's tests under both (the proof).")] = True,
    timeout: Annotated[float, Opt("--timeout", help="Seconds for each test run.")] = 1200.0,
    as_json: JsonOpt = False,
) -> None:
    """A Theano code base rewritten for PyTensor into DEST: imports, theano.tensor, flags, renamed and removed
    APIs (theano_compat.py rebuilds conv2d, pool_2d and the nnet functions with Theano's semantics). The
    project's tests run under Theano and under PyTensor; every test that passed before must pass after
    (a project without tests, or --no-tests, is rewritten but not proven: exit 1).
    MIGRATION.md lists every change and every place that needs a person.

    Examples:

      dlpick migrate theano old-project --to pytensor --dest new-project
      dlpick migrate theano old-project --dest new-project --json > migration.json
    """
    from dlpick.migrate import theano as flow

    request = flow.TheanoRequest(src_dir, dest, to, tests, timeout)
    _show(flow.migrate(request, on_event=_events), as_json)


@migrate_app.command("mxnet")
def mxnet(
    symbol_json: Annotated[Path, Arg(help="The symbol (model-symbol.json).", show_default=False)],
    params: Annotated[Path, Arg(help="Its params (model-0000.params).", show_default=False)],
    dest: DestOpt,
    input_shape: Annotated[str, Opt("--input-shape", help="The input's shape, e.g. 1,3,224,224.")],
    to: Annotated[str, Opt("--to", help="Target framework.")] = "pytorch",
    input_name: Annotated[str, Opt("--input-name", help="The symbol's input.")] = "data",
    sample: Annotated[Path | None, Opt("--sample", help="Also compare on this input (.npy).")] = None,
    atol: AtolOpt = 1e-4,
    rtol: RtolOpt = 1e-5,
    tolerance: ToleranceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """An MXNet symbol and its params to a PyTorch module (model.py, one attribute per node), its weights
    (model.pt) and model.onnx (MXNet's own exporter), compared node by node with MXNet (run in the
    environment `verify --isolated` builds for MXNet projects).

    Examples:

      dlpick migrate mxnet model-symbol.json model-0000.params --input-shape 1,3,224,224 --dest ported
    """
    from dlpick.migrate import caffe as shapes
    from dlpick.migrate import mxnet as flow

    shape = shapes.parse_shape(input_shape)
    atol = atol if tolerance is None else tolerance
    request = flow.MxnetRequest(symbol_json, params, dest, shape, to, atol, sample, input_name, rtol=rtol)
    _show(flow.migrate(request, on_event=_events), as_json)
