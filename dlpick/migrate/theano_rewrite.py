"""Rewrites Theano source to PyTensor, one file at a time, recording every change and every place that
needs a person. Plain text in, text out (no Theano or PyTensor imported).

Python files: imports and dotted references in code (never inside strings or comments, except the
THEANO_FLAGS variable and .theanorc names, which are configuration); APIs that PyTensor removed
(theano.tensor.nnet, theano.tensor.signal.pool) go to `theano_compat.py`, copied beside the file.
Requirement files and pyproject/setup files: the Theano requirement becomes PyTensor's, and the
upper bounds Theano needed on numpy/scipy are dropped. Dockerfiles, shell and config files: flags.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field

COMPAT = "theano_compat"
COMPAT_NAMES = {
    "conv2d",
    "pool_2d",
    "relu",
    "sigmoid",
    "softplus",
    "softmax",
    "logsoftmax",
    "ultra_fast_sigmoid",
    "hard_sigmoid",
    "categorical_crossentropy",
    "binary_crossentropy",
}
# Modules whose functions come from theano_compat (PyTensor removed them).
COMPAT_MODULES = (
    "theano.tensor.nnet.abstract_conv",
    "theano.tensor.nnet.conv",
    "theano.tensor.nnet.nnet",
    "theano.tensor.nnet.sigm",
    "theano.tensor.nnet",
    "theano.tensor.signal.pool",
)
RENAMES = (  # longest first
    ("theano.tensor.shared_randomstreams", "pytensor.tensor.random.utils"),
    ("theano.sandbox.rng_mrg", "pytensor.tensor.random.utils"),
    ("theano.scan_module.scan_utils", "pytensor.scan.utils"),
    ("theano.scan_module.scan_op", "pytensor.scan.op"),
    ("theano.scan_module.scan_checkpoints", "pytensor.scan.checkpoints"),
    ("theano.scan_module.scan_views", "pytensor.scan.views"),
    ("theano.scan_module", "pytensor.scan"),
    ("theano.gof.op", "pytensor.graph.op"),
    ("theano.gof.fg", "pytensor.graph.fg"),
    ("theano.gof.opt", "pytensor.graph.rewriting.basic"),
    ("theano.gof.toolbox", "pytensor.graph.features"),
    ("theano.gof.type", "pytensor.graph.type"),
    ("theano.gof.utils", "pytensor.graph.utils"),
    ("theano.gof.cc", "pytensor.link.c.basic"),
    ("theano.gof.link", "pytensor.link.basic"),
    ("theano.gof.params_type", "pytensor.link.c.params_type"),
    ("theano.gof.null_type", "pytensor.graph.null_type"),
    ("theano.compile.function_module", "pytensor.compile.maker"),
    ("theano.tensor.var", "pytensor.tensor.variable"),
    ("theano.tensor.opt", "pytensor.tensor.rewriting"),
    ("theano.gof.graph", "pytensor.graph.basic"),
    ("theano.gof", "pytensor.graph"),
    ("theano", "pytensor"),
)
NAME_RENAMES = {"RandomStreams": "RandomStream", "MRG_RandomStreams": "RandomStream"}
# Public names that moved: Theano's path -> PyTensor 3's (checked against pytensor 3.0.7, the template's pin,
# and Theano 1.0.5's theano/__init__.py and theano/tensor/__init__.py).
MOVED = {
    **{f"theano.{n}": f"pytensor.graph.basic.{n}" for n in ("Apply", "Variable", "Constant")},
    "theano.Op": "pytensor.graph.op.Op",
    "theano.Type": "pytensor.graph.type.Type",
    "theano.FunctionGraph": "pytensor.graph.fg.FunctionGraph",
    "theano.InconsistencyError": "pytensor.graph.utils.InconsistencyError",
    "theano.OpenMPOp": "pytensor.link.c.op.OpenMPOp",
    "theano.Generic": "pytensor.link.c.type.Generic",
    "theano.generic": "pytensor.link.c.type.generic",
    **{f"theano.{n}": f"pytensor.link.c.basic.{n}" for n in ("CLinker", "OpWiseCLinker", "DualLinker")},
    **{f"theano.{n}": f"pytensor.link.basic.{n}" for n in ("Linker", "LocalLinker", "PerformLinker", "Container")},
    "theano.SymbolicInput": "pytensor.compile.io.SymbolicInput",
    "theano.SymbolicOutput": "pytensor.compile.io.SymbolicOutput",
    "theano.FunctionMaker": "pytensor.compile.maker.FunctionMaker",
    "theano.function_dump": "pytensor.compile.debug.dump.function_dump",
    "theano.ProfileStats": "pytensor.compile.debug.profiling.ProfileStats",
    **{f"theano.predefined_{n}": f"pytensor.compile.mode.predefined_{n}" for n in ("modes", "linkers", "optimizers")},
    "theano.as_op": "pytensor.compile.ops.as_op",
    "theano.foldl": "pytensor.scan.views.foldl",
    "theano.foldr": "pytensor.scan.views.foldr",
    "theano.reduce": "pytensor.scan.views.reduce",
    "theano.scan_checkpoints": "pytensor.scan.checkpoints.scan_checkpoints",
    "theano.clone": "pytensor.graph.replace.clone_replace",
    "theano.pprint": "pytensor.printing.pprint",
    "theano.pp": "pytensor.printing.pp",
    "theano.subgraph_grad": "pytensor.gradient.subgraph_grad",
    "theano.dot": "pytensor.tensor.dot",
    "theano.get_scalar_constant_value": "pytensor.tensor.basic.get_scalar_constant_value",
    "theano.sparse_grad": "pytensor.sparse.sparse_grad",
    "theano.opt": "pytensor.graph.rewriting.basic",
    "theano.toolbox": "pytensor.graph.features",
    "theano.utils": "pytensor.graph.utils",
    "theano.tensor.inv": "pytensor.tensor.reciprocal",
    "theano.tensor.abs_": "pytensor.tensor.abs",
    **{f"theano.tensor.{n}": f"pytensor.gradient.{n}" for n in ("verify_grad", "numeric_grad", "Rop", "Lop")},
    **{f"theano.tensor.{n}": f"pytensor.gradient.{n}" for n in ("grad_not_implemented", "grad_undefined")},
    **{f"theano.tensor.{n}": f"pytensor.tensor.elemwise.{n}" for n in ("DimShuffle", "Elemwise", "CAReduce")},
}
# Under pytensor.scan a dotted path does not work (pytensor.scan is the function): only `from ... import`.
IMPORT_ONLY = ("pytensor.scan.",)
# Public names PyTensor 3 removed, with what to do instead: listed in "Needs a person", code left as it is.
REMOVED_NAMES = {
    **dict.fromkeys(
        ("theano.tensor.addbroadcast", "theano.tensor.unbroadcast", "theano.tensor.patternbroadcast"),
        "PyTensor removed it: static shapes are inferred; use pytensor.tensor.specify_broadcastable where a "
        "dimension must be declared broadcastable (or drop the call)",
    ),
    "theano.tensor.Rebroadcast": "PyTensor removed it: use pytensor.tensor.specify_broadcastable",
    **dict.fromkeys(
        ("theano.tensor.topk", "theano.tensor.argtopk", "theano.tensor.topk_and_argtopk"),
        "PyTensor removed it: use pytensor.tensor.sort / argsort and a slice",
    ),
    "theano.tensor.MaxAndArgmax": "PyTensor removed it: use pytensor.tensor.max and argmax",
    "theano.tensor.default": "PyTensor removed it: use pytensor.tensor.switch or a Python conditional",
    "theano.tensor.extract_constant": "PyTensor removed it: use pytensor.tensor.get_underlying_scalar_constant_value",
    "theano.tensor.consider_constant": "PyTensor removed it: use pytensor.gradient.disconnected_grad or zero_grad",
    "theano.tensor.load": "PyTensor removed tensor.io's load: load the array with numpy and use a shared variable",
    "theano.Param": "PyTensor removed it: use pytensor.In",
    "theano.OrderedUpdates": "PyTensor removed it: use a dict (insertion-ordered)",
    "theano.object2": "PyTensor removed it: use object",
    "theano.change_flags": "PyTensor moved it to a method: use pytensor.config.change_flags",
    "theano.sandbox.linalg": "PyTensor removed it: use pytensor.tensor.linalg",
}
REMOVED = {
    "theano.gpuarray": "PyTensor has no GPU back end (its JAX or Numba modes run on other devices)",
    "theano.sandbox.cuda": "PyTensor has no GPU back end (its JAX or Numba modes run on other devices)",
    "theano.tensor.nnet.bn": "batch_normalization was removed from PyTensor: write it with pytensor.tensor ops",
    "theano.tensor.nnet.ctc": "CTC was removed from PyTensor",
    "theano.tensor.nnet.neighbours": "images2neibs was removed from PyTensor",
    "theano.tensor.signal.conv": "signal.conv2d differs in PyTensor (pytensor.tensor.signal.convolve2d)",
    "theano.compat": "Theano's Python 2/3 helpers: use the standard library",
}
HUMAN_NAMES = {
    "RandomStream": "RandomStream's API differs from (MRG_)RandomStreams: normal(loc, scale, size=...) "
    "instead of normal(size, avg, std); seeding differs, so random draws will not repeat Theano's",
}
# The flags' value after THEANO_FLAGS: `ENV THEANO_FLAGS=...`, `THEANO_FLAGS=... cmd`, environ["THEANO_FLAGS"] = "...",
# environ.setdefault("THEANO_FLAGS", "...").
FLAGS_VALUE = re.compile(r"""THEANO_FLAGS(?P<sep>=|["']\s*,\s*f?["']|["']\]\s*=\s*f?["'])(?P<value>[^\s"']*)""")
IMPORTORSKIP = re.compile(r"""(importorskip\(\s*["'])(theano(?:\.\w+)*)(["'])""")
NUMPY_LIKE = re.compile(r"^(\s*)(numpy|scipy)\s*([^#\n]*?)(\s*(#.*)?)$", re.IGNORECASE)


@dataclass
class Change:
    file: str
    line: int
    rule: str
    before: str
    after: str

    def to_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "rule": self.rule, "before": self.before, "after": self.after}


@dataclass
class Rewritten:
    text: str
    changes: list[Change] = field(default_factory=list)
    human: list[str] = field(default_factory=list)  # "FILE:LINE: what to check"
    needs_compat: bool = False
    conv2d_lines: list[int] = field(default_factory=list)


def flags(line: str) -> str:
    """THEANO_FLAGS -> PYTENSOR_FLAGS (and .theanorc -> .pytensorrc). Flags set in the line get linker=cvm
    unless they choose a linker or mode: Theano compiled graphs to C, PyTensor 3 compiles with Numba by
    default, which takes minutes for a training graph that the C back end (CVM) compiles in seconds."""

    def add(match: re.Match[str]) -> str:
        value = match.group("value")
        if "linker=" not in value and "mode=" not in value:
            value = f"{value},linker=cvm" if value else "linker=cvm"
        return f"PYTENSOR_FLAGS{match.group('sep')}{value}"

    line = FLAGS_VALUE.sub(add, line)
    return line.replace("THEANO_FLAGS", "PYTENSOR_FLAGS").replace(".theanorc", ".pytensorrc")


def _moved(dotted: str) -> tuple[str, str] | None:
    """(Theano's public path, PyTensor's) when `dotted` is or starts with a name that moved."""
    parts = dotted.split(".")
    for end in range(len(parts), 1, -1):
        key = ".".join(parts[:end])
        if key in MOVED:
            return key, MOVED[key] + dotted[len(key) :]
    return None


def _moved_or_renamed(dotted: str) -> str:
    moved = _moved(dotted)
    return moved[1] if moved is not None else _renamed(dotted)


def _removed(dotted: str) -> str | None:
    parts = dotted.split(".")
    return next(
        (
            REMOVED_NAMES[".".join(parts[:end])]
            for end in range(len(parts), 1, -1)
            if ".".join(parts[:end]) in REMOVED_NAMES
        ),
        None,
    )


def _renamed(dotted: str) -> str:
    moved = _moved(dotted)
    if moved is not None and not moved[1].startswith(IMPORT_ONLY):
        return moved[1]
    for old, new in RENAMES:
        if dotted == old or dotted.startswith(old + "."):
            return new + dotted[len(old) :]
    return dotted


def _compat_module(dotted: str) -> bool:
    return any(dotted == m for m in COMPAT_MODULES)


def _noncode(text: str) -> dict[int, list[tuple[int, int]]]:
    """Per line (1-based): column ranges inside strings or comments (a range to the end is (col, 10**9))."""
    spans: dict[int, list[tuple[int, int]]] = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return spans
    for token in tokens:
        if token.type not in (tokenize.STRING, tokenize.COMMENT) and not token.type == getattr(
            tokenize, "FSTRING_MIDDLE", -1
        ):
            continue
        (r1, c1), (r2, c2) = token.start, token.end
        for row in range(r1, r2 + 1):
            start = c1 if row == r1 else 0
            end = c2 if row == r2 else 10**9
            spans.setdefault(row, []).append((start, end))
    return spans


def _in_code(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return not any(s < end and start < e for s, e in spans)


class _PythonFile:
    def __init__(self, text: str, path: str, in_package: bool) -> None:
        self.lines = text.splitlines(keepends=True)
        self.path, self.in_package = path, in_package
        self.out = Rewritten(text)
        self.tensor_aliases: list[str] = []  # names bound to theano.tensor ("T", "theano.tensor")
        self.compat_imported = False  # some import of theano_compat was written
        self.compat_bound = False  # ... one that binds the name theano_compat
        self.last_import_line = 0

    def change(self, number: int, rule: str, after: str) -> None:
        before = self.lines[number - 1]
        if before != after:
            self.lines[number - 1] = after
            self.out.changes.append(Change(self.path, number, rule, before.rstrip("\n"), after.rstrip("\n")))

    def human(self, number: int, what: str) -> None:
        self.out.human.append(f"{self.path}:{number}: {what}")

    def compat_from(self) -> str:
        return f"from .{COMPAT}" if self.in_package else f"from {COMPAT}"

    def compat_module(self, alias: str | None) -> str:
        bound = f" as {alias}" if alias and alias != COMPAT else ""
        self.compat_bound = self.compat_bound or not bound
        return f"from . import {COMPAT}{bound}" if self.in_package else f"import {COMPAT}{bound}"

    # -- imports -----------------------------------------------------------------------------------------------

    def imports(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "theano" for a in node.names):
                self._import(node)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "theano" and not node.level:
                self._import_from(node)

    def _replace_statement(self, node: ast.stmt, statements: list[str], rule: str) -> None:
        first, last = node.lineno, node.end_lineno or node.lineno
        original = "".join(self.lines[first - 1 : last])
        indent = original[: len(original) - len(original.lstrip())]
        comment = ""
        tail = self.lines[last - 1].rstrip("\n")
        if "#" in tail:  # keep the statement's trailing comment (a noqa for E402, say)
            hashes = [s for s, _ in _noncode(tail + "\n").get(1, []) if tail[s : s + 1] == "#"]
            comment = f"  {tail[hashes[-1] :]}" if hashes else ""
        new = "".join(f"{indent}{s}{comment}\n" for s in statements)
        self.lines[first - 1] = new
        for number in range(first, last):
            self.lines[number] = ""
        self.out.changes.append(Change(self.path, first, rule, original.rstrip("\n"), new.rstrip("\n")))
        self.last_import_line = max(self.last_import_line, first)

    def _import(self, node: ast.Import) -> None:
        statements = []
        for alias in node.names:
            name = alias.name
            if name in REMOVED:
                self.human(node.lineno, f"import {name}: {REMOVED[name]}")
            if name.split(".")[0] != "theano":
                statements.append(f"import {name}{f' as {alias.asname}' if alias.asname else ''}")
            elif _compat_module(name):
                self.compat_imported = True
                statements.append(self.compat_module(alias.asname or None))
                if not alias.asname:
                    self.human(node.lineno, f"import {name} without an alias: its dotted uses need theano_compat")
            else:
                statements.append(f"import {_renamed(name)}{f' as {alias.asname}' if alias.asname else ''}")
                if name == "theano.tensor" and alias.asname:
                    self.tensor_aliases.append(alias.asname)
                elif not alias.asname:
                    self.tensor_aliases.append("theano.tensor")
                elif name == "theano":
                    self.tensor_aliases.append(f"{alias.asname}.tensor")
        self._replace_statement(node, statements, "import")

    def _import_from(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module in REMOVED or any(module.startswith(m + ".") for m in REMOVED):
            key = next(m for m in REMOVED if module == m or module.startswith(m + "."))
            self.human(node.lineno, f"from {module} import ...: {REMOVED[key]}")
        compat, plain, modules, statements_moved = [], [], [], []
        for alias in node.names:
            full = f"{module}.{alias.name}"
            bound = f" as {alias.asname}" if alias.asname else ""
            if _compat_module(full):
                modules.append(self.compat_module(alias.asname or alias.name))
            elif _compat_module(module) and alias.name in COMPAT_NAMES:
                compat.append(f"{alias.name}{bound}")
            elif _compat_module(module):
                plain.append(f"{alias.name}{bound}")
                self.human(node.lineno, f"{alias.name} from {module}: PyTensor removed it and theano_compat has none")
            elif (
                (moved := _moved(full)) is not None
                and moved[0] == full
                or (
                    _renamed(full) != f"{_renamed(module)}.{alias.name}"  # a module renamed on its own
                )
            ):
                where, _, name = _moved_or_renamed(full).rpartition(".")
                renamed = f"{name} as {alias.asname or alias.name}" if name != (alias.asname or alias.name) else name
                statements_moved.append(f"from {where} import {renamed}")
            else:
                if (why := _removed(full)) is not None:
                    self.human(node.lineno, f"{alias.name} from {module}: {why}")
                if full == "theano.tensor":
                    self.tensor_aliases.append(alias.asname or "tensor")
                new_name = NAME_RENAMES.get(alias.name, alias.name) if module in (m for m, _ in RENAMES[:2]) else None
                if new_name and new_name != alias.name:
                    plain.append(f"{new_name} as {alias.asname or alias.name}")
                    self.human(node.lineno, HUMAN_NAMES[new_name])
                else:
                    plain.append(f"{alias.name}{bound}")
        statements = []
        if compat:
            self.compat_imported = True
            statements.append(f"{self.compat_from()} import {', '.join(compat)}")
        if modules:
            self.compat_imported = True
            statements += modules
        if plain:
            target = _renamed(module)
            statements.append(f"from {target} import {', '.join(plain)}")
        statements += statements_moved
        self._replace_statement(node, statements, "import")

    # -- references in code ------------------------------------------------------------------------------------

    def references(self, spans: dict[int, list[tuple[int, int]]], imports: set[int]) -> None:
        aliases = sorted(set(self.tensor_aliases), key=len, reverse=True)
        tensor = "|".join(re.escape(a) for a in aliases) or r"(?!x)x"
        compat_ref = re.compile(
            rf"(?<![\w.])(?:{tensor})\.(?:nnet(?:\.(?:abstract_conv|conv|nnet|sigm))?|signal\.pool)\.(\w+)"
        )
        dotted = re.compile(r"(?<![\w.])theano\b(?:\.\w+)*")
        plain_aliases = "|".join(re.escape(a) for a in aliases if not a.startswith("theano")) or r"(?!x)x"
        tensor_ref = re.compile(rf"(?<![\w.])({plain_aliases})\.(\w+)")
        for number in range(1, len(self.lines) + 1):
            if number in imports:
                continue
            line = self.lines[number - 1]
            noncode = spans.get(number, [])
            edits: list[tuple[int, int, str, str]] = []  # start, end, replacement, rule
            for match in compat_ref.finditer(line):
                if _in_code(noncode, match.start(), match.end()):
                    edits.append((match.start(), match.end(), self._compat_ref(number, match), "removed API"))
            for match in dotted.finditer(line):
                taken = any(s < match.end() and match.start() < e for s, e, _, _ in edits)
                if not taken and _in_code(noncode, match.start(), match.end()):
                    self._check_name(number, match.group(), match.group())
                    edits.append((match.start(), match.end(), _renamed(match.group()), "theano -> pytensor"))
            for match in tensor_ref.finditer(line):
                taken = any(s < match.end() and match.start() < e for s, e, _, _ in edits)
                if taken or not _in_code(noncode, match.start(), match.end()):
                    continue
                full = f"theano.tensor.{match.group(2)}"
                moved = _moved(full)
                if moved is not None and moved[1].startswith("pytensor.tensor.") and moved[1].count(".") == 2:
                    new = f"{match.group(1)}.{moved[1].rsplit('.', 1)[1]}"  # still in the tensor namespace
                    edits.append((match.start(), match.end(), new, "renamed API"))
                else:
                    self._check_name(number, full, match.group())
            edits = [e for e in edits if line[e[0] : e[1]] != e[2]]
            if edits:
                edits.sort()
                pieces, last = [], 0
                for start, end, text, _ in edits:
                    pieces += [line[last:start], text]
                    last = end
                rules = sorted({"theano_compat" if e[3] == "removed API" else e[3] for e in edits})
                self.change(number, ", ".join(rules), "".join(pieces) + line[last:])
            code = _code_only(line, noncode)
            if re.search(r"\bconfig\.device\b|\bconfig\.(?:gpuarray|cuda|lib\.cnmem)\b", code):
                self.human(number, "uses Theano's GPU configuration: PyTensor has no GPU back end")
            if re.search(r"\bconv2d\s*\(", code) and (self.out.needs_compat or self.compat_imported):
                self.out.conv2d_lines.append(number)

    def _check_name(self, number: int, full: str, written: str) -> None:
        """A reference to a name PyTensor removed, or moved where a dotted path cannot reach: for a person."""
        if (why := _removed(full)) is not None:
            self.human(number, f"{written}: {why}")
        elif (moved := _moved(full)) is not None and (
            moved[1].startswith(IMPORT_ONLY) or not written.startswith("theano")
        ):
            self.human(number, f"{written}: moved to {moved[1]} (import it from there)")

    def _compat_ref(self, number: int, match: re.Match[str]) -> str:
        name = match.group(1)
        if name in COMPAT_NAMES:
            self.out.needs_compat = True
            return f"{COMPAT}.{name}"
        why = REMOVED.get(f"theano.tensor.nnet.{name}", "PyTensor removed it and theano_compat has none")
        self.human(number, f"{match.group()}: {why}")
        return match.group()

    def strings(self, spans: dict[int, list[tuple[int, int]]]) -> None:
        """THEANO_FLAGS and .theanorc inside strings are configuration, not prose: renamed; so is the module
        a test skips without (`pytest.importorskip("theano")` would skip every migrated test)."""
        for number in range(1, len(self.lines) + 1):
            line = self.lines[number - 1]
            skip = IMPORTORSKIP.sub(lambda m: f"{m.group(1)}{_renamed(m.group(2))}{m.group(3)}", line)
            if skip != line:
                self.change(number, "importorskip", skip)
                line = skip
            if "THEANO_FLAGS" not in line and ".theanorc" not in line:
                continue
            new = flags(line)
            self.change(number, "flags", new)
            if re.search(r"device\s*=\s*(gpu|cuda)", new):
                self.human(number, "asks for a GPU device in the flags: PyTensor has no GPU back end")


def _code_only(line: str, spans: list[tuple[int, int]]) -> str:
    chars = list(line)
    for start, end in spans:
        for i in range(start, min(end, len(chars))):
            chars[i] = " "
    return "".join(chars)


def rewrite_python(text: str, path: str, in_package: bool) -> Rewritten:
    """Rewrite one Python file; a file that does not parse is left as it is and reported."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        result = Rewritten(text)
        if "theano" in text:
            result.human.append(f"{path}:{exc.lineno}: not valid Python 3 ({exc.msg}): not rewritten")
        return result
    except (RecursionError, MemoryError, ValueError) as exc:  # e.g. an expression of 200,000 terms
        result = Rewritten(text)
        if "theano" in text:
            why = "nested too deeply for Python's parser" if isinstance(exc, RecursionError) else str(exc)[:100]
            result.human.append(f"{path}: {why}: not rewritten")
        return result
    if "theano" not in text.lower():
        return Rewritten(text)
    spans = _noncode(text)
    work = _PythonFile(text, path, in_package)
    work.imports(tree)
    imports = {c.line for c in work.out.changes}
    for change in list(work.out.changes):  # the statement's other lines were emptied
        imports.update(range(change.line, change.line + change.before.count("\n") + 1))
    work.references(spans, imports)
    work.strings(spans)
    if work.out.needs_compat and not work.compat_bound:
        at = work.last_import_line
        line = work.lines[at - 1] if at else ""
        noqa = "  # " + "noqa: E402" if "E402" in line else ""
        statement = f"{work.compat_module(None)}{noqa}\n"
        work.lines.insert(at, statement)
        for change in work.out.changes:
            if change.line > at:
                change.line += 1
        work.out.changes.append(Change(path, at + 1, "import theano_compat", "", statement.rstrip("\n")))
        work.out.human = [_shift(h, at) for h in work.out.human]
        work.out.conv2d_lines = [n + 1 if n > at else n for n in work.out.conv2d_lines]
    work.out.text = "".join(work.lines)
    work.out.needs_compat = work.out.needs_compat or work.compat_imported
    work.out.changes.sort(key=lambda c: c.line)
    return work.out


def _shift(entry: str, at: int) -> str:
    path, _, rest = entry.partition(":")
    number, _, what = rest.partition(":")
    return f"{path}:{int(number) + 1 if number.isdigit() and int(number) > at else number}:{what}"


def rewrite_requirements(text: str, path: str, pytensor: str) -> Rewritten:
    """requirements*.txt: Theano -> `pytensor`, numpy/scipy upper bounds (Theano's) dropped."""
    result = Rewritten(text)
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines, 1):
        body = line.rstrip("\n")
        new = body
        if re.match(r"\s*theano\b", body, re.IGNORECASE):
            new = pytensor
        elif (match := NUMPY_LIKE.match(body)) and "<" in match.group(3):
            spec = ",".join(p for p in match.group(3).split(",") if "<" not in p)
            new = f"{match.group(1)}{match.group(2)}{spec}{match.group(4)}"
        if new != body:
            lines[number - 1] = new + ("\n" if line.endswith("\n") else "")
            result.changes.append(Change(path, number, "requirement", body, new))
    result.text = "".join(lines)
    return result


def rewrite_config(text: str, path: str, pytensor: str) -> Rewritten:
    """pyproject.toml, setup.py/cfg, Dockerfile, shell, YAML, ini: Theano requirement and flags."""
    result = Rewritten(text)
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines, 1):
        body = line.rstrip("\n")
        new = flags(body)
        new = re.sub(r"""(["'])[Tt]heano\b[^"']*\1""", lambda m: f"{m.group(1)}{pytensor}{m.group(1)}", new)
        new = re.sub(r"(pip3? install[^\n#]*?)\b[Tt]heano\b(==[\w.]+)?", rf"\g<1>{pytensor}", new)
        if new != body:
            lines[number - 1] = new + ("\n" if line.endswith("\n") else "")
            result.changes.append(Change(path, number, "requirement or flags", body, new))
        if re.search(r"device\s*=\s*(gpu|cuda)", new):
            result.human.append(f"{path}:{number}: asks for a GPU device: PyTensor has no GPU back end")
    result.text = "".join(lines)
    return result
