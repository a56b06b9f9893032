"""Questions rules ask of recovered expressions: which calls, which slices of which tensor."""

from __future__ import annotations

from collections.abc import Iterator

from tfpcheck.model_file.bytecode.expr_render import dotted, render
from tfpcheck.model_file.types import Expr


def walk(expr: Expr | None) -> Iterator[Expr]:
    """The expression and every sub-expression (arguments, keyword values), outside in."""
    stack = [expr] if expr is not None else []
    while stack:
        node = stack.pop()
        yield node
        children = [a for a in node.args if a is not None] + [v for _, v in node.kwargs]
        stack.extend(reversed(children))


def uses_name(expr: Expr | None, name: str) -> bool:
    """Whether the expression reads the variable `name` anywhere (t in `t[..., 1:] * 2`)."""
    return any(node.kind == "name" and node.value == name for node in walk(expr))


def calls_in(expr: Expr | None) -> list[str]:
    """Callee names of every call inside, outermost first: ["tfd.Normal", "tf.exp"]."""
    return [str(node.value) for node in walk(expr) if node.kind == "call"]


def contains_call(expr: Expr | None, short_names: set[str] | frozenset[str]) -> bool:
    """Whether a call to one of `short_names` (last dotted part: "softplus") is inside."""
    return any(name.rsplit(".", 1)[-1] in short_names for name in calls_in(expr))


def subscript_of(expr: Expr | None) -> tuple[str, tuple[Expr | None, ...]] | None:
    """("t", (Ellipsis, slice(None, 1))) for t[..., :1]; None when expr is no subscript."""
    if expr is None or expr.kind != "subscript" or len(expr.args) != 2:
        return None
    obj, index = expr.args
    if obj is None:
        return None
    base = dotted(obj) or render(obj)
    if index is not None and index.kind == "tuple" and index.value != "list":
        return base, tuple(index.args)
    return base, (index,)


def _int_value(expr: Expr | None) -> int | None:
    if expr is None:
        return None
    if expr.kind == "const" and type(expr.value) is int:
        return expr.value
    if expr.kind == "unary" and expr.value == "-" and expr.args:
        inner = _int_value(expr.args[0])
        return None if inner is None else -inner
    return None


def _is_full_slice(expr: Expr | None) -> bool:
    return expr is not None and expr.kind == "slice" and all(a is None for a in expr.args)


def last_axis_slice(expr: Expr | None) -> tuple[int | None, int | None] | None:
    """(a, b) for t[..., a:b] or t[:, a:b] with constant (or empty) bounds, else None.

    t[:, a:b] is taken to slice the last axis, i.e. t is assumed to have rank 2.
    """
    sub = subscript_of(expr)
    if sub is None or not sub[1]:
        return None
    *before, last = sub[1]
    if last is None or last.kind != "slice":
        return None
    start, stop, step = (*last.args, None, None, None)[:3]
    if step is not None and _int_value(step) != 1:
        return None
    leading_ok = (len(before) == 1 and before[0] is not None and before[0].kind == "ellipsis") or (
        len(before) == 1 and _is_full_slice(before[0])
    )
    if not leading_ok:
        return None
    bounds = []
    for bound in (start, stop):
        value = _int_value(bound)
        if bound is not None and value is None:
            return None  # not a constant
        bounds.append(value)
    return bounds[0], bounds[1]


def drops_rank(expr: Expr | None) -> bool:
    """Whether a subscript indexes an axis with an integer (y_pred[:, 0], not y_pred[:, 0:1])."""
    sub = subscript_of(expr)
    return sub is not None and any(_int_value(item) is not None for item in sub[1])
