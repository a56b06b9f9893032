"""Render an `Expr` back to Python source, with only the parentheses Python needs."""

from __future__ import annotations

from tfpcheck.model_file.types import Expr

# Python's operator precedence, loosest first (Reference manual, "Operator precedence").
_BINARY = {
    **dict.fromkeys(("in", "not in", "is", "is not", "<", "<=", ">", ">=", "!=", "=="), 5),
    "|": 6,
    "^": 7,
    "&": 8,
    "<<": 9,
    ">>": 9,
    "+": 10,
    "-": 10,
    **dict.fromkeys(("*", "@", "/", "//", "%"), 11),
    "**": 13,
}
_COMPARISON = 5
_NOT = 4
_UNARY = 12
_POWER = 13
_PRIMARY = 15
_ATOM = 16


def _precedence(expr: Expr | None) -> int:
    if expr is None:
        return _ATOM
    kind = expr.kind
    if kind == "binop":
        return _BINARY.get(str(expr.value), 0)
    if kind == "unary":
        if expr.value in ("*", "**"):
            return 0  # starred arguments only read right inside a call
        return _NOT if str(expr.value).strip() == "not" else _UNARY
    if kind == "const" and isinstance(expr.value, int | float) and not isinstance(expr.value, bool):
        return _UNARY if expr.value < 0 else _ATOM
    if kind == "const" and isinstance(expr.value, complex):
        return _BINARY["+"]  # repr(1+2j) is "(1+2j)" but -2j is "(-0-2j)": be safe
    if kind in ("call", "attr", "subscript", "slice"):
        return _PRIMARY
    return _ATOM


def _wrap(expr: Expr | None, needs: bool) -> str:
    text = render(expr)
    return f"({text})" if needs else text


def dotted(expr: Expr | None) -> str | None:
    """The dotted name ("tf.math.softplus") of a chain of attributes on a name, else None."""
    parts: list[str] = []
    while expr is not None and expr.kind == "attr" and expr.args:
        parts.append(str(expr.value))
        expr = expr.args[0]
    if expr is None or expr.kind != "name":
        return None
    parts.append(str(expr.value))
    return ".".join(reversed(parts))


def callee_text(expr: Expr) -> str:
    """How a called expression reads: dotted when it is a name chain, else its source."""
    return dotted(expr) or render(expr)


def _slice_text(expr: Expr) -> str:
    start, stop, step = (*expr.args, None, None, None)[:3]
    text = f"{_bound(start)}:{_bound(stop)}"
    return f"{text}:{_bound(step)}" if step is not None else text


def _bound(expr: Expr | None) -> str:
    return "" if expr is None else render(expr)


def _index_text(index: Expr | None) -> str:
    if index is not None and index.kind == "tuple" and index.value != "list":
        items = [_slice_text(i) if i and i.kind == "slice" else render(i) for i in index.args]
        if len(items) == 1:
            return items[0] + ","
        return ", ".join(items) if items else "()"
    if index is not None and index.kind == "slice":
        return _slice_text(index)
    return render(index)


def _binop(expr: Expr) -> str:
    op = str(expr.value)
    prec = _precedence(expr)
    left, right = (*expr.args, None, None)[:2]
    if op == "**":
        # right-associative, and its left operand must be a primary: (-x) ** 2, (a ** b) ** c
        base = _wrap(left, _precedence(left) <= _POWER)
        return f"{base} ** {_wrap(right, _precedence(right) < _UNARY)}"
    # comparisons chain (a < b < c is not (a < b) < c), so equal precedence needs parens
    left_needs = _precedence(left) < prec or (prec == _COMPARISON and _precedence(left) == prec)
    return f"{_wrap(left, left_needs)} {op} {_wrap(right, _precedence(right) <= prec)}"


def _unary(expr: Expr) -> str:
    op = str(expr.value)
    operand = expr.args[0] if expr.args else None
    if op in ("*", "**"):
        return op + render(operand)
    if op.strip() == "not":
        return "not " + _wrap(operand, _precedence(operand) < _NOT)
    return op + _wrap(operand, _precedence(operand) < _UNARY)


def _attr(expr: Expr) -> str:
    obj = expr.args[0] if expr.args else None
    # 1.real is a syntax error: an int needs parentheses before the dot
    is_int = obj is not None and obj.kind == "const" and type(obj.value) is int
    return f"{_wrap(obj, is_int or _precedence(obj) < _PRIMARY)}.{expr.value}"


def _call(expr: Expr) -> str:
    parts = [render(arg) for arg in expr.args]
    parts += [f"{key}={render(value)}" for key, value in expr.kwargs]
    return f"{expr.value}({', '.join(parts)})"


def _tuple(expr: Expr) -> str:
    items = [render(item) for item in expr.args]
    if expr.value == "list":
        return f"[{', '.join(items)}]"
    if len(items) == 1:
        return f"({items[0]},)"
    return f"({', '.join(items)})"


def render(expr: Expr | None) -> str:
    """Python source for an expression: tfd.Normal(loc=t[..., :1], scale=tf.exp(t[..., 1:]))."""
    if expr is None:
        return "None"
    kind = expr.kind
    if kind == "name":
        return str(expr.value)
    if kind == "const":
        return repr(expr.value)
    if kind == "ellipsis":
        return "..."
    if kind == "attr":
        return _attr(expr)
    if kind == "call":
        return _call(expr)
    if kind == "subscript":
        obj, index = (*expr.args, None, None)[:2]
        return f"{_wrap(obj, _precedence(obj) < _PRIMARY)}[{_index_text(index)}]"
    if kind == "slice":
        parts = (*expr.args, None, None, None)[:3]
        return f"slice({', '.join(render(part) for part in parts)})"
    if kind == "tuple":
        return _tuple(expr)
    if kind == "binop":
        return _binop(expr)
    if kind == "unary":
        return _unary(expr)
    return str(expr.value) if expr.value is not None else "?"
