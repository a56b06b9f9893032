"""Read a user's FILE.py (a loss or a factory) as text with `ast`: never imported here.

A spec `FILE.py:NAME` is read from NAME's definition and the module-level functions it calls
(other functions in the same file are not what the user asked about). What is collected:

* every call (`SourceCall`), for rules that look for a class by name (TFP304);
* every distribution built with keyword arguments (`DistributionCall`), each argument
  classified: does it drop the last axis (`y_pred[:, 0]`, `y_pred[..., 0]`, `tf.squeeze(x)`)
  or is it squashed (`tf.nn.softmax(...)`, a `Dense(activation="softmax")` layer before the
  `DistributionLambda`), and whether `.log_prob(...)` is called on the distribution;
* every tfp.layers layer that reads its input as logits (`tfpl.OneHotCategorical(10)`,
  `tfpl.IndependentBernoulli(1)`, ...) with what feeds it (`LogitsLayer`): an activated
  layer before it in a `Sequential` list, or its functional input `x` made by one
  (`Dense(10, activation="softmax")(h)`, `Softmax()(h)`) or by `tf.nn.softmax(h)`.

Local names are followed through simple assignments (`probs = tf.nn.softmax(y)`), a few
steps deep.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from tfpcheck.catalog.activations import ACTIVATION_LAYER_CLASSES, ACTIVATIONS, squash_of
from tfpcheck.catalog.distributions import is_distribution_call
from tfpcheck.catalog.tfp_layers import LOGIT_HEADS
from tfpcheck.model_file.types import Expr

MAX_SOURCE_BYTES = 4 * 1024 * 1024
MAX_RESOLVE_DEPTH = 4
# Functions and activation names that squash (tf.nn.softmax, activation="sigmoid"), and how.
SQUASH_FUNCTIONS = {name: a.squash for name, a in ACTIVATIONS.items() if a.squash is not None}
# layers that are a squashing activation by themselves (Softmax)
SQUASHING_LAYERS = {
    cls: squash
    for cls, activation in ACTIVATION_LAYER_CLASSES.items()
    if (squash := squash_of(activation)) is not None
}
# tfp.layers layers that read their input as logits (softmax or sigmoid ones).
LOGITS_LAYERS = LOGIT_HEADS


@dataclass(frozen=True)
class SourceCall:
    callee: str  # dotted as written: "tfd.MultivariateNormalFullCovariance"
    file: str
    line: int
    function: str | None  # the enclosing def, when there is one

    @property
    def short_name(self) -> str:
        return self.callee.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Argument:
    text: str  # the expression as written
    rank_drop: str | None = None  # the rank-dropping part: "y_pred[:, 0]", "tf.squeeze(y_pred)"
    squash: str | None = None  # "softmax" | "sigmoid" applied to the value
    squash_by: str | None = None  # how: "tf.nn.softmax(...)", "Dense(activation='softmax')"
    squash_line: int | None = None
    expr: Expr | None = None  # the expression as written, for rules that read its calls


@dataclass(frozen=True)
class DistributionCall:
    callee: str  # "tfd.Normal"
    file: str
    line: int
    function: str | None
    code: str  # the source line
    arguments: dict[str, Argument] = field(default_factory=dict)
    log_prob_line: int | None = None  # where .log_prob(...) is called on it
    log_prob_value: str | None = None
    # the parameters of the functions around it (not a lambda's: a DistributionLambda's
    # input is the layer's business), and the local names assigned there, as expressions
    parameters: frozenset[str] = frozenset()
    assigned: dict[str, Expr] = field(default_factory=dict)

    @property
    def short_name(self) -> str:
        return self.callee.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class LogitsLayer:
    """A tfp.layers layer reading logits, built in the scanned code, and what feeds it."""

    callee: str  # "tfpl.OneHotCategorical"
    file: str
    line: int
    function: str | None
    code: str  # the source line
    feed: Argument  # the squash applied to its input, when one is seen

    @property
    def short_name(self) -> str:
        return self.callee.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class TargetArithmetic:
    """`mean - y_true` in a loss `(y_true, y_pred)`, where `mean` is a rank-dropping slice of
    y_pred (`y_pred[:, 0]`, a few assignments back) and y_true is used as it arrives."""

    file: str
    line: int
    function: str
    code: str  # the source line of the operation
    operation: str  # "mean - y_true"
    target: str  # the loss's first parameter, "y_true"
    rank_drop: str  # "y_pred[:, 0]"
    rank_drop_line: int
    rank_drop_code: str  # the source line of the slice


@dataclass
class SourceScan:
    file: str
    name: str | None  # the NAME of FILE.py:NAME, when the scan is limited to it
    calls: list[SourceCall] = field(default_factory=list)
    distributions: list[DistributionCall] = field(default_factory=list)
    logits_layers: list[LogitsLayer] = field(default_factory=list)
    target_arithmetic: list[TargetArithmetic] = field(default_factory=list)


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return None


def _is_distribution(node: ast.Call, callee: str) -> bool:
    """Whether the call builds a tfd distribution, by its spelling (as for decompiled code)."""
    return is_distribution_call(callee, [k.arg for k in node.keywords if k.arg])


def _int_index(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int


def _rank_drop(node: ast.expr) -> str | None:
    """`x[:, 0]`, `x[..., 0]`: an integer index on the last axis after a slice or an ellipsis;
    `tf.squeeze(x)` without an axis other than the last one."""
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Tuple):
        parts = node.slice.elts
        if len(parts) >= 2 and _int_index(parts[-1]):
            leading = parts[-2]
            is_slice = isinstance(leading, ast.Slice) and leading.lower is None
            is_ellipsis = isinstance(leading, ast.Constant) and leading.value is Ellipsis
            if is_slice or is_ellipsis:
                return ast.unparse(node)
    if isinstance(node, ast.Call) and (_dotted(node.func) or "").endswith("squeeze"):
        axis = [k.value for k in node.keywords if k.arg == "axis"] or node.args[1:2]
        if not axis or (_int_index(axis[0]) and ast.unparse(axis[0]) in {"-1", "1"}):
            return ast.unparse(node)
    return None


def _squash_of_call(node: ast.Call) -> tuple[str, str] | None:
    """`tf.nn.softmax(x)` -> ("softmax", "tf.nn.softmax(...)")."""
    name = _dotted(node.func) or ""
    short = name.rsplit(".", 1)[-1]
    squash = SQUASH_FUNCTIONS.get(short)
    return None if squash is None else (squash, f"{name}(...)")


def _layer_activation(node: ast.expr) -> tuple[str, str] | None:
    """The activation a Keras layer constructor applies: Dense(..., activation="softmax"),
    Activation("softmax"), Softmax()."""
    if not isinstance(node, ast.Call):
        return None
    name = _dotted(node.func) or ""
    short = name.rsplit(".", 1)[-1]
    if short in SQUASHING_LAYERS:
        return SQUASHING_LAYERS[short], f"{short}()"
    values = [k.value for k in node.keywords if k.arg == "activation"]
    if short == "Activation" and node.args:
        values.append(node.args[0])
    for value in values:
        text = value.value if isinstance(value, ast.Constant) else _dotted(value)
        if isinstance(text, str):
            activation = SQUASH_FUNCTIONS.get(text.rsplit(".", 1)[-1])
            if activation:
                kind = f"activation={ast.unparse(value)}"
                return activation, f"{short}({kind})" if short != "Activation" else f"{short}()"
    return None


class _Scope:
    """One function: its simple assignments, to follow local names."""

    def __init__(self, node: ast.AST) -> None:
        self.assigned: dict[str, ast.expr] = {}
        for child in ast.walk(node):
            if isinstance(child, ast.Assign) and len(child.targets) == 1:
                target = child.targets[0]
                if isinstance(target, ast.Name):
                    self.assigned[target.id] = child.value

    def resolve(self, node: ast.expr) -> list[ast.expr]:
        """The expression and what its names stand for (a few assignments deep)."""
        chain = [node]
        for _ in range(MAX_RESOLVE_DEPTH):
            if isinstance(node, ast.Name) and node.id in self.assigned:
                node = self.assigned[node.id]
                chain.append(node)
            else:
                break
        return chain


def _argument(value: ast.expr, scope: _Scope, layer_input: Argument | None) -> Argument:
    text = ast.unparse(value)
    rank_drop = squash = squash_by = None
    squash_line = None
    for node in scope.resolve(value):
        for sub in ast.walk(node):
            rank_drop = rank_drop or _rank_drop(sub)  # type: ignore[arg-type]
        if isinstance(node, ast.Call) and squash is None:
            found = _squash_of_call(node)
            if found is not None:
                squash, squash_by = found
                squash_line = node.lineno
    if squash is None and layer_input is not None and isinstance(value, ast.Name):
        squash, squash_by, squash_line = (
            layer_input.squash,
            layer_input.squash_by,
            layer_input.squash_line,
        )
    return Argument(text, rank_drop, squash, squash_by, squash_line, to_expr(value))


_BINARY_OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.MatMult: "@",
}
_UNARY_OPERATORS: dict[type[ast.unaryop], str] = {ast.USub: "-", ast.UAdd: "+"}


def to_expr(node: ast.expr | None) -> Expr | None:
    """The expression as the bytecode reader would give it, with its source line: one
    representation for the rules that read expressions."""
    if node is None:
        return None
    line = getattr(node, "lineno", None)
    if isinstance(node, ast.Constant):
        if node.value is Ellipsis:
            return Expr("ellipsis", line=line)
        return Expr("const", node.value, line=line)
    if isinstance(node, ast.Name):
        return Expr("name", node.id, line=line)
    if isinstance(node, ast.Attribute):
        return Expr("attr", node.attr, (to_expr(node.value),), line=line)
    if isinstance(node, ast.Call):
        callee = _dotted(node.func) or ast.unparse(node.func)
        args = tuple(to_expr(a) for a in node.args)
        kwargs = tuple((k.arg, e) for k in node.keywords if k.arg and (e := to_expr(k.value)))
        return Expr("call", callee, args, kwargs, line=line)
    if isinstance(node, ast.Subscript):
        return Expr("subscript", None, (to_expr(node.value), to_expr(node.slice)), line=line)
    if isinstance(node, ast.Slice):
        parts = (to_expr(node.lower), to_expr(node.upper), to_expr(node.step))
        return Expr("slice", None, parts, line=line)
    if isinstance(node, ast.Tuple | ast.List):
        kind = "list" if isinstance(node, ast.List) else None
        return Expr("tuple", kind, tuple(to_expr(e) for e in node.elts), line=line)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPERATORS:
        operands = (to_expr(node.left), to_expr(node.right))
        return Expr("binop", _BINARY_OPERATORS[type(node.op)], operands, line=line)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY_OPERATORS:
        return Expr("unary", _UNARY_OPERATORS[type(node.op)], (to_expr(node.operand),), line=line)
    return Expr("unknown", ast.unparse(node), line=line)


class _Visitor(ast.NodeVisitor):
    def __init__(self, file: str, lines: list[str]) -> None:
        self.file = file
        self.lines = lines
        self.stack: list[str] = []
        self.scopes: list[_Scope] = []
        self.calls: list[SourceCall] = []
        self.distributions: list[DistributionCall] = []
        # DistributionLambda(...) call node -> what feeds the layer (its input's activation)
        self.layer_inputs: dict[int, Argument] = {}
        self.log_probs: dict[int, tuple[int, str]] = {}  # id(distribution call) -> line, value
        self._nodes: dict[int, ast.AST] = {}  # id -> node of the scanned tree
        self.logits_layers: list[LogitsLayer] = []
        self.target_arithmetic: list[TargetArithmetic] = []

    def _visit_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.stack.append(node.name)
        self.scopes.append(_Scope(node))
        self.generic_visit(node)
        self.scopes.pop()
        self.stack.pop()

    visit_FunctionDef = _visit_def
    visit_AsyncFunctionDef = _visit_def

    def _scope(self) -> _Scope:
        return self.scopes[-1] if self.scopes else _Scope(ast.Module(body=[], type_ignores=[]))

    def visit_List(self, node: ast.List) -> None:
        # Sequential([..., Dense(10, activation="softmax"), DistributionLambda(...)])
        for before, after in zip(node.elts, node.elts[1:], strict=False):
            found = _layer_activation(before)
            if found is not None and isinstance(after, ast.Call):
                self.layer_inputs[id(after)] = Argument("", None, *found, before.lineno)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        callee = _dotted(node.func)
        function = ".".join(self.stack) if self.stack else None
        if callee is not None:
            self.calls.append(SourceCall(callee, self.file, node.lineno, function))
        # layer(...)(x): the layer's input x, produced by an activated layer?
        if isinstance(node.func, ast.Call) and node.args:
            for source in self._scope().resolve(node.args[0]):
                if not isinstance(source, ast.Call):
                    continue
                # Dense(10, activation="softmax")(h) / Softmax()(h), or tf.nn.softmax(h)
                maker = source.func if isinstance(source.func, ast.Call) else source
                found = (
                    _layer_activation(maker) if maker is source.func else _squash_of_call(source)
                )
                if found is not None:
                    self.layer_inputs[id(node.func)] = Argument("", None, *found, maker.lineno)
                    break
        if isinstance(node.func, ast.Attribute) and node.func.attr == "log_prob":
            value = ast.unparse(node.args[0]) if node.args else ""
            for target in self._scope().resolve(node.func.value):
                if isinstance(target, ast.Call):
                    self.log_probs[id(target)] = (node.lineno, value)
        self.generic_visit(node)

    def finish(self, tree: ast.AST) -> None:
        """Distribution calls, once every layer input and log_prob call is known."""
        self._logits_layers(tree)
        for scope_node, function in _functions(tree):
            scope = _Scope(scope_node)
            self._target_arithmetic(scope_node, scope, function)
            for node in ast.walk(scope_node):
                if not isinstance(node, ast.Call):
                    continue
                callee = _dotted(node.func)
                if callee and _is_distribution(node, callee) and node.keywords:
                    self._distribution(node, callee, scope, function, scope_node)

    def _distribution(
        self, node: ast.Call, callee: str, scope: _Scope, function: str, scope_node: ast.AST
    ) -> None:
        if any(d.line == node.lineno and d.callee == callee for d in self.distributions):
            return  # seen from an enclosing function already
        layer_input = self._enclosing_layer_input(node)
        arguments = {k.arg: _argument(k.value, scope, layer_input) for k in node.keywords if k.arg}
        line, value = self.log_probs.get(id(node), (None, None))
        code = self.lines[node.lineno - 1].strip() if node.lineno <= len(self.lines) else ""
        assigned = {
            name: expr for name, value in scope.assigned.items() if (expr := to_expr(value))
        }
        self.distributions.append(
            DistributionCall(
                callee,
                self.file,
                node.lineno,
                function,
                code,
                arguments,
                line,
                value,
                _parameters(scope_node),
                assigned,
            )
        )

    def _code(self, line: int) -> str:
        return self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""

    def _target_arithmetic(self, node: ast.AST, scope: _Scope, function: str) -> None:
        """Arithmetic pairing the loss's bare first parameter with a rank-dropped slice of
        its second: (N,) against (N, 1) when the targets keep a trailing axis."""
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return
        params = [a.arg for a in node.args.posonlyargs + node.args.args]
        if len(params) < 2:
            return
        target, prediction = params[0], params[1]
        for sub in ast.walk(node):
            if not isinstance(sub, ast.BinOp) or isinstance(sub.op, ast.MatMult):
                continue
            for bare, other in ((sub.left, sub.right), (sub.right, sub.left)):
                if not _is_bare(bare, target, scope):
                    continue
                drop = _dropped_slice(other, prediction, scope)
                if drop is None or any(
                    a.line == sub.lineno and a.function == function for a in self.target_arithmetic
                ):
                    continue
                self.target_arithmetic.append(
                    TargetArithmetic(
                        self.file,
                        sub.lineno,
                        function,
                        self._code(sub.lineno),
                        ast.unparse(sub),
                        target,
                        ast.unparse(drop),
                        drop.lineno,
                        self._code(drop.lineno),
                    )
                )

    def _logits_layers(self, tree: ast.AST) -> None:
        functions = {id(n): name for n, name in _functions(tree)}
        for node, function in _calls_with_function(tree, functions):
            callee = _dotted(node.func)
            if not callee or _is_distribution(node, callee):
                continue  # tfd.OneHotCategorical is the distribution, not the layer
            if callee.rsplit(".", 1)[-1] not in LOGITS_LAYERS:
                continue
            feed = self.layer_inputs.get(id(node))
            if feed is None or feed.squash is None:
                continue
            code = self.lines[node.lineno - 1].strip() if node.lineno <= len(self.lines) else ""
            self.logits_layers.append(
                LogitsLayer(callee, self.file, node.lineno, function, code, feed)
            )

    def _enclosing_layer_input(self, node: ast.Call) -> Argument | None:
        # A lambda building the distribution inside DistributionLambda(lambda t: ...).
        for layer_call_id, info in self.layer_inputs.items():
            layer_call = self._nodes.get(layer_call_id)
            if layer_call is None:
                continue
            if any(sub is node for sub in ast.walk(layer_call)):
                return info
        return None


def _parameters(node: ast.AST) -> frozenset[str]:
    """The parameters of a def and of the defs inside it (not of lambdas)."""
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = sub.args
            every = arguments.posonlyargs + arguments.args + arguments.kwonlyargs
            names.update(a.arg for a in every)
    return frozenset(names)


def _is_bare(node: ast.expr, name: str, scope: _Scope) -> bool:
    """The parameter itself, not reassigned in the function (`y_true = tf.squeeze(y_true)`)."""
    return isinstance(node, ast.Name) and node.id == name and name not in scope.assigned


def _slices(node: ast.Subscript, name: str) -> bool:
    return isinstance(node.value, ast.Name) and node.value.id == name


# Calls that reduce what they are given: a reduced slice has no batch axis left to pair.
REDUCTIONS = frozenset({"mean", "sum", "max", "min", "std", "var", "prod", "logsumexp", "norm"})


def _dropped_slice(node: ast.AST, name: str, scope: _Scope, depth: int = 0) -> ast.Subscript | None:
    """A rank-dropping slice of `name` (`y_pred[:, 0]`) the expression is made of, through
    local names and calls that keep its shape (`k.clip(y_pred[:, 0], -1, 1)`)."""
    if isinstance(node, ast.Subscript) and _slices(node, name) and _rank_drop(node) is not None:
        return node
    if isinstance(node, ast.Call):
        short = (_dotted(node.func) or "").rsplit(".", 1)[-1]
        if short.startswith("reduce_") or short in REDUCTIONS:
            return None
    if isinstance(node, ast.Name) and node.id in scope.assigned:
        if depth >= MAX_RESOLVE_DEPTH:
            return None
        return _dropped_slice(scope.assigned[node.id], name, scope, depth + 1)
    for child in ast.iter_child_nodes(node):
        found = _dropped_slice(child, name, scope, depth)
        if found is not None:
            return found
    return None


def _functions(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    found: list[tuple[ast.AST, str]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                found.append((child, name))
                walk(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(tree, "")
    return found


def _calls_with_function(
    tree: ast.AST, functions: dict[int, str]
) -> list[tuple[ast.Call, str | None]]:
    """Every call in the tree with the name of the innermost def around it."""
    found: list[tuple[ast.Call, str | None]] = []

    def walk(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = functions.get(id(child), function)
            if isinstance(child, ast.Call):
                found.append((child, inner))
            walk(child, inner)

    walk(tree, None)
    return found


def file_of_spec(spec: str) -> Path | None:
    """The FILE.py of a `FILE.py:NAME` spec, when it names a readable Python file."""
    target = spec.rpartition(":")[0]
    if not target.endswith(".py"):
        return None
    path = Path(target)
    return path if path.is_file() else None


def _may_bind(tree: ast.Module, name: str) -> bool:
    """Whether a module-level statement may bind NAME (an assignment, an import, `*`)."""
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound = {alias.asname or alias.name for alias in node.names}
            if name in bound or "*" in bound:
                return True
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(n, ast.Name) and n.id == name for t in targets for n in ast.walk(t)):
                return True
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While):
            return True  # bindings inside them: following those would be a guess
    return False


def _selected(tree: ast.Module, name: str | None) -> list[ast.stmt]:
    """NAME's definition and the module-level functions it calls, transitively; all of the
    module when NAME is not a def or class of it (an alias, an instance)."""
    defs = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    if name is None or (name not in defs and _may_bind(tree, name)):
        return list(tree.body)
    if name not in defs:  # the module does not define NAME: nothing of it is NAME's
        return []
    chosen: list[str] = []
    pending = [name]
    while pending:
        current = pending.pop()
        if current in chosen:
            continue
        chosen.append(current)
        for node in ast.walk(defs[current]):
            if isinstance(node, ast.Name) and node.id in defs and node.id not in chosen:
                pending.append(node.id)
    return [defs[n] for n in defs if n in chosen]


def scan_source(path: Path, name: str | None = None) -> SourceScan:
    """What the file's NAME (or the whole file) builds; empty when it cannot be parsed."""
    scan = SourceScan(str(path), name)
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            return scan
        source = path.read_bytes()
        tree = ast.parse(source, filename=str(path))
    # RecursionError: nested deeper than the parser can build; the probe reports what
    # importing the file says.
    except (OSError, SyntaxError, ValueError, RecursionError):
        return scan
    module = ast.Module(body=_selected(tree, name), type_ignores=[])
    lines = source.decode("utf-8", errors="replace").splitlines()
    visitor = _Visitor(str(path), lines)
    visitor._nodes = {id(n): n for n in ast.walk(module)}
    try:
        visitor.visit(module)
        visitor.finish(module)
    except RecursionError:  # parsed, but deeper than the recursive visitor can follow
        return scan
    scan.calls = visitor.calls
    scan.distributions = visitor.distributions
    scan.logits_layers = visitor.logits_layers
    scan.target_arithmetic = visitor.target_arithmetic
    return scan


def scan_spec(spec: str) -> SourceScan | None:
    """The scan of a `FILE.py:NAME` spec, limited to NAME; None for other specs."""
    path = file_of_spec(spec)
    if path is None:
        return None
    return scan_source(path, spec.rpartition(":")[2] or None)


def calls_in_file(path: Path) -> list[SourceCall]:
    """Every call written in the file; [] when it cannot be read or parsed."""
    return scan_source(path).calls
