"""Rendering expressions back to source, and the query helpers rules use."""

from __future__ import annotations

import marshal

import pytest

from tfpcheck.model_file.bytecode.expr_query import (
    calls_in,
    contains_call,
    drops_rank,
    last_axis_slice,
    subscript_of,
    walk,
)
from tfpcheck.model_file.bytecode.expr_render import callee_text, dotted, render
from tfpcheck.model_file.bytecode.functions import read_marshal_function
from tfpcheck.model_file.types import Expr

tfd = tf = None  # only compiled, never called


def n(name: str) -> Expr:
    return Expr("name", name)


def c(value: object) -> Expr:
    return Expr("const", value)


def sl(start: Expr | None = None, stop: Expr | None = None, step: Expr | None = None) -> Expr:
    return Expr("slice", args=(start, stop, step))


def sub(obj: Expr, *items: Expr) -> Expr:
    index = items[0] if len(items) == 1 else Expr("tuple", args=items)
    return Expr("subscript", args=(obj, index))


def attr(obj: Expr, name: str) -> Expr:
    return Expr("attr", name, (obj,))


def returned(func) -> Expr:
    info = read_marshal_function(marshal.dumps(func.__code__))
    assert info.returns is not None
    return info.returns


ELL = Expr("ellipsis")


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (sub(n("t"), ELL, sl(None, c(1))), "t[..., :1]"),
        (sub(n("y_pred"), sl(), c(0)), "y_pred[:, 0]"),
        (sub(n("t"), sl(c(1), None, c(2))), "t[1::2]"),
        (sub(n("t"), Expr("tuple", args=(c(0),))), "t[0,]"),
        (
            Expr(
                "call",
                "tf.reshape",
                (sub(n("y_pred"), sl(), sl(c(2))), Expr("tuple", args=(c(32), c(2), c(2)))),
            ),
            "tf.reshape(y_pred[:, 2:], (32, 2, 2))",
        ),
        (Expr("binop", "-", (n("a"), Expr("binop", "-", (n("b"), n("c"))))), "a - (b - c)"),
        (Expr("binop", "-", (Expr("binop", "-", (n("a"), n("b"))), n("c"))), "a - b - c"),
        (Expr("binop", "*", (Expr("binop", "+", (n("a"), n("b"))), n("c"))), "(a + b) * c"),
        (Expr("binop", "**", (Expr("binop", "**", (n("a"), n("b"))), n("c"))), "(a ** b) ** c"),
        (Expr("binop", "**", (n("a"), Expr("binop", "**", (n("b"), n("c"))))), "a ** b ** c"),
        (Expr("binop", "**", (c(-1), c(2))), "(-1) ** 2"),
        (Expr("binop", "<", (Expr("binop", "<", (n("a"), n("b"))), n("c"))), "(a < b) < c"),
        (Expr("unary", "-", (Expr("binop", "+", (n("a"), n("b"))),)), "-(a + b)"),
        (Expr("unary", "not ", (Expr("binop", "==", (n("a"), n("b"))),)), "not a == b"),
        (attr(c(1), "real"), "(1).real"),
        (attr(Expr("binop", "+", (n("a"), n("b"))), "shape"), "(a + b).shape"),
        (sub(Expr("binop", "+", (n("a"), n("b"))), c(0)), "(a + b)[0]"),
        (Expr("tuple", args=(n("a"),)), "(a,)"),
        (Expr("tuple", args=()), "()"),
        (Expr("tuple", "list", (n("a"), c("b"))), "[a, 'b']"),
        (sl(None, c(3)), "slice(None, 3, None)"),
        (Expr("unknown", "{'a': 1}"), "{'a': 1}"),
        (Expr("unknown"), "?"),
        (c(1e-3), "0.001"),
    ],
)
def test_render(expr: Expr, text: str):
    assert render(expr) == text
    assert expr.render() == text  # Expr.render delegates here


def test_dotted_and_callee_text():
    chain = attr(attr(n("tf"), "math"), "softplus")
    assert dotted(chain) == "tf.math.softplus"
    assert callee_text(chain) == "tf.math.softplus"
    on_call = attr(Expr("call", "tfd.Normal", (n("t"),)), "sample")
    assert dotted(on_call) is None
    assert callee_text(on_call) == "tfd.Normal(t).sample"


def test_walk_and_calls_in_on_a_real_lambda():
    expr = returned(
        lambda t: tfd.Normal(loc=t[..., :1], scale=1e-3 + tf.math.softplus(0.05 * t[..., 1:]))
    )
    assert calls_in(expr) == ["tfd.Normal", "tf.math.softplus"]
    kinds = [node.kind for node in walk(expr)]
    assert kinds[:3] == ["call", "subscript", "name"]
    assert kinds.count("call") == 2
    assert contains_call(expr, {"softplus", "exp"})
    assert not contains_call(expr, {"exp"})
    assert not contains_call(expr.kwargs[0][1], {"softplus"})  # loc has no call


def test_subscript_queries_on_real_lambdas():
    loc = returned(lambda t: t[..., :1])
    scale = returned(lambda t: t[..., 1:])
    col = returned(lambda y_pred: y_pred[:, 0])
    col_keep = returned(lambda y_pred: y_pred[:, 0:1])
    rank2 = returned(lambda y_pred: y_pred[:, 2:5])
    first = returned(lambda t: t[1:])
    neg = returned(lambda t: t[..., -2:])
    dyn = returned(lambda t, k: t[..., :k])
    step = returned(lambda t: t[..., ::2])
    attr_base = returned(lambda self: self.out[..., :1])

    assert subscript_of(loc) == ("t", (ELL, sl(None, c(1))))
    assert subscript_of(col) == ("y_pred", (sl(), c(0)))
    assert subscript_of(attr_base) == ("self.out", (ELL, sl(None, c(1))))
    assert subscript_of(n("t")) is None

    assert last_axis_slice(loc) == (None, 1)
    assert last_axis_slice(scale) == (1, None)
    assert last_axis_slice(rank2) == (2, 5)
    assert last_axis_slice(col_keep) == (0, 1)
    assert last_axis_slice(neg) == (-2, None)
    assert last_axis_slice(first) is None  # slices the first axis
    assert last_axis_slice(col) is None  # an index, not a slice
    assert last_axis_slice(dyn) is None  # bound not constant
    assert last_axis_slice(step) is None  # strided

    assert drops_rank(col)
    assert drops_rank(returned(lambda t: t[..., -1]))
    assert not drops_rank(col_keep)
    assert not drops_rank(loc)
    assert not drops_rank(n("t"))
