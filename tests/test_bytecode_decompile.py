"""Calls and returned expressions recovered from bytecode of the running interpreter."""

from __future__ import annotations

import dis
import marshal
import random

import pytest

from tfpcheck.model_file.bytecode.code import from_localsplus
from tfpcheck.model_file.bytecode.decompile import decompile, line_table
from tfpcheck.model_file.bytecode.functions import read_marshal_function
from tfpcheck.model_file.bytecode.versions import RUNNING
from tfpcheck.model_file.types import CallSite, Expr, FunctionInfo

# The lambdas below are compiled, marshalled and read back; they are never called, so the
# names they use need not exist.
tfd = tf = OneHotCategorical = None


def info_of(func, **kwargs) -> FunctionInfo:
    return read_marshal_function(marshal.dumps(func.__code__), **kwargs)


def described(info: FunctionInfo) -> list[tuple[str, list[str], list[tuple[str, str]], int]]:
    return [
        (c.callee, [a.render() for a in c.args], [(k, v.render()) for k, v in c.kwargs], c.line)
        for c in info.calls
    ]


def line_of(func) -> int:
    return func.__code__.co_firstlineno


def t_slice(start: int | None, stop: int | None) -> Expr:
    """t[..., start:stop] as the decompiler builds it."""
    bounds = tuple(None if b is None else Expr("const", b) for b in (start, stop))
    index = Expr("tuple", args=(Expr("ellipsis"), Expr("slice", args=(*bounds, None))))
    return Expr("subscript", args=(Expr("name", "t"), index))


def test_normal_lambda_exact_structure():
    f = lambda t: tfd.Normal(loc=t[..., :1], scale=tf.exp(t[..., 1:]))  # noqa: E731
    info = info_of(f)
    line = line_of(f)
    exp_call = CallSite("tf.exp", args=(t_slice(1, None),), line=line)
    normal = CallSite(
        "tfd.Normal",
        kwargs=(("loc", t_slice(None, 1)), ("scale", Expr("call", "tf.exp", (t_slice(1, None),)))),
        line=line,
    )
    assert info.calls == (exp_call, normal)  # execution order: the inner call first
    assert info.returns == Expr("call", "tfd.Normal", (), normal.kwargs)
    assert info.returns.render() == "tfd.Normal(loc=t[..., :1], scale=tf.exp(t[..., 1:]))"
    assert info.argnames == ("t",)
    assert info.names == ("tfd", "Normal", "tf", "exp")
    assert info.name == "<lambda>"
    assert info.qualname == "test_normal_lambda_exact_structure.<locals>.<lambda>"
    assert info.filename == __file__
    assert info.firstlineno == line
    assert info.python_version == RUNNING
    assert info.version_mismatch is False
    assert info.notes == ()
    assert info.dangerous == ()


def test_softplus_scale_renders_as_source():
    f = (  # noqa: E731
        lambda t: tfd.Normal(loc=t[..., :1], scale=1e-3 + tf.math.softplus(0.05 * t[..., 1:]))
    )
    info = info_of(f)
    assert info.returns.render() == (
        "tfd.Normal(loc=t[..., :1], scale=0.001 + tf.math.softplus(0.05 * t[..., 1:]))"
    )
    assert described(info) == [
        ("tf.math.softplus", ["0.05 * t[..., 1:]"], [], line_of(f)),
        (
            "tfd.Normal",
            [],
            [("loc", "t[..., :1]"), ("scale", "0.001 + tf.math.softplus(0.05 * t[..., 1:])")],
            line_of(f),
        ),
    ]


def test_categorical_and_onehot():
    cat = lambda t: tfd.Categorical(logits=t)  # noqa: E731
    onehot = lambda t: tfd.OneHotCategorical(probs=t)  # noqa: E731
    assert info_of(cat).calls == (
        CallSite("tfd.Categorical", kwargs=(("logits", Expr("name", "t")),), line=line_of(cat)),
    )
    assert info_of(onehot).calls == (
        CallSite(
            "tfd.OneHotCategorical", kwargs=(("probs", Expr("name", "t")),), line=line_of(onehot)
        ),
    )


def test_lambda_without_calls_returns_binop():
    f = lambda x: x * 2  # noqa: E731
    info = info_of(f)
    assert info.calls == ()
    assert info.returns == Expr("binop", "*", (Expr("name", "x"), Expr("const", 2)))
    assert info.consts == (None, 2)


def test_locals_resolve_to_their_expressions():
    def head(y_pred):
        loc = y_pred[:, 0]
        cov = tf.reshape(y_pred[:, 2:], (32, 2, 2))
        return tfd.MultivariateNormalFullCovariance(loc=loc, covariance_matrix=cov)

    info = info_of(head)
    first = line_of(head)
    assert described(info) == [
        ("tf.reshape", ["y_pred[:, 2:]", "(32, 2, 2)"], [], first + 2),
        (
            "tfd.MultivariateNormalFullCovariance",
            [],
            [
                ("loc", "y_pred[:, 0]"),
                ("covariance_matrix", "tf.reshape(y_pred[:, 2:], (32, 2, 2))"),
            ],
            first + 3,
        ),
    ]
    assert info.argnames == ("y_pred",)
    assert info.name == "head"


def test_call_lines_of_a_multiline_lambda():
    f = (  # noqa: E731
        lambda t: tfd.Normal(
            loc=t[..., :1],
            scale=tf.exp(t[..., 1:]),
        )
    )
    assert [(c.callee, c.line) for c in info_of(f).calls] == [
        ("tf.exp", line_of(f) + 2),
        ("tfd.Normal", line_of(f)),
    ]


def test_nested_calls_unary_and_positional_args():
    f = lambda t: tfd.Independent(tfd.Bernoulli(logits=-t), reinterpreted_batch_ndims=1)  # noqa: E731
    assert described(info_of(f)) == [
        ("tfd.Bernoulli", [], [("logits", "-t")], line_of(f)),
        (
            "tfd.Independent",
            ["tfd.Bernoulli(logits=-t)"],
            [("reinterpreted_batch_ndims", "1")],
            line_of(f),
        ),
    ]


def test_method_called_on_a_call_result():
    f = lambda t: tfd.Normal(t, 1.0).sample(seed=3)  # noqa: E731
    assert [(c.callee, [a.render() for a in c.args]) for c in info_of(f).calls] == [
        ("tfd.Normal", ["t", "1.0"]),
        ("tfd.Normal(t, 1.0).sample", []),
    ]


def test_star_arguments():
    f = lambda t, k: tfd.Normal(*t, **k)  # noqa: E731
    g = lambda t: tfd.Normal(*(t, 1.0))  # noqa: E731
    h = lambda t, k: tfd.Normal(t, *k, scale=1, **k)  # noqa: E731
    assert described(info_of(f)) == [("tfd.Normal", ["*t", "**k"], [], line_of(f))]
    assert described(info_of(g)) == [("tfd.Normal", ["t", "1.0"], [], line_of(g))]
    assert described(info_of(h)) == [
        ("tfd.Normal", ["t", "*k", "**k"], [("scale", "1")], line_of(h))
    ]


def test_comparisons_and_constants():
    f = lambda t: tf.where(t >= 0.5, t is None, "x" not in t)  # noqa: E731
    assert info_of(f).returns.render() == "tf.where(t >= 0.5, t is None, 'x' not in t)"


def test_constant_index_tuples_and_lists():
    f = lambda t: tf.gather(t[..., 1], [0, 2])  # noqa: E731
    assert info_of(f).returns.render() == "tf.gather(t[..., 1], [0, 2])"


def test_jump_stops_decoding_but_keeps_calls_found():
    f = lambda t: tfd.Normal(t, 1.0) if tf.reduce_any(t) else None  # noqa: E731
    info = info_of(f)
    assert described(info) == [("tf.reduce_any", ["t"], [], line_of(f))]
    assert info.returns is None
    assert len(info.notes) == 1
    assert info.notes[0].startswith("calls decoded only up to where decoding stopped: ")
    assert "unsupported instruction POP_JUMP" in info.notes[0]


def test_nested_lambda_is_decoded_too():
    def outer():
        return lambda t: tfd.Normal(t, 1)

    info = info_of(outer)
    qualname = "test_nested_lambda_is_decoded_too.<locals>.outer.<locals>.<lambda>"
    assert info.returns == Expr("unknown", f"<function {qualname}>")
    assert info.calls == ()
    (inner,) = info.nested
    assert inner.name == "<lambda>"
    assert inner.qualname == qualname
    assert described(inner) == [("tfd.Normal", ["t", "1"], [], line_of(outer) + 1)]


def test_closure_and_defaults_as_keras_stores_them():
    def make(event_size):
        return lambda t: OneHotCategorical.new(t, event_size)

    inner = make(10)
    info = info_of(inner, closure=[10], defaults=None)
    assert info.freevars == ("event_size",)
    assert info.closure() == {"event_size": 10}
    assert info.defaults == ()
    assert described(info) == [("OneHotCategorical.new", ["t", "event_size"], [], line_of(inner))]


def test_closure_values_that_are_not_plain_data():
    def make(a, b, c, d, e):
        return lambda: (a, b, c, d, e)

    lam = {"class_name": "__lambda__", "config": {"value": ["abc", None, None]}}
    fn = {"module": "builtins", "class_name": "function", "config": "sample"}
    already_read = FunctionInfo(source="marshal", name="<lambda>")
    info = info_of(make(1, 2, 3, 4, 5), closure=[lam, fn, [1, [2.5, None]], {"x": 1}, already_read])
    assert info.closure() == {
        "a": "<lambda>",
        "b": "<function sample>",
        "c": (1, (2.5, None)),
        "d": "<object>",
        "e": already_read,
    }
    assert info.referenced_functions == (already_read,)


def test_defaults_are_kept():
    f = lambda t, scale=1.0, name="n": tfd.Normal(t, scale, name=name)  # noqa: E731
    info = info_of(f, defaults=[1.0, "n"])
    assert info.defaults == (1.0, "n")
    assert info.argnames == ("t", "scale", "name")


def test_line_table_matches_dis():
    def sample(y):
        a = y[:, 0]
        b = tf.exp(
            y[:, 1],
        )
        return tfd.Normal(a, b)

    code = sample.__code__
    info = info_of(sample)
    assert info.firstlineno == code.co_firstlineno
    raw = read_marshal_function(marshal.dumps(code))
    assert raw == info
    ranges = line_table(_plain_code(code))
    for instr in dis.get_instructions(code):
        expected = instr.positions.lineno if instr.positions else None
        found = [line for start, end, line in ranges if start <= instr.offset < end]
        assert found == [expected], instr


def _plain_code(code):
    """The CodeObject the marshal reader builds, from a live code object (test helper)."""
    from tfpcheck.model_file.bytecode.marshal_reader import read_code

    return read_code(marshal.dumps(code))


def test_random_bytecode_never_raises():
    rng = random.Random(1234)
    base = _plain_code((lambda t: tfd.Normal(loc=t[..., :1], scale=tf.exp(t))).__code__)
    for _ in range(3000):
        size = rng.randrange(0, 80) * 2
        code = bytes(rng.randrange(256) for _ in range(size))
        fuzzed = from_localsplus(
            argcount=1,
            posonlyargcount=0,
            kwonlyargcount=0,
            stacksize=10,
            flags=3,
            code=code,
            consts=base.consts,
            names=base.names,
            localsplusnames=base.localsplusnames,
            localspluskinds=base.localspluskinds,
            filename="f.py",
            name="<lambda>",
            qualname="<lambda>",
            firstlineno=1,
            linetable=bytes(rng.randrange(256) for _ in range(rng.randrange(0, 20))),
            exceptiontable=b"",
        )
        result = decompile(fuzzed)
        assert result.returns is not None or result.stopped is not None


def test_exponential_expressions_are_capped():
    def blowup(t):
        x = t + t
        x = x + x
        x = x + x
        x = x + x
        x = x + x
        x = x + x
        x = x + x
        x = x + x
        x = x + x
        x = x + x
        x = x + x
        x = x + x
        return tf.exp(x)

    info = info_of(blowup)
    (call,) = info.calls
    assert call.callee == "tf.exp"
    assert len(call.args[0].render()) < 5000
    assert "<...>" in call.args[0].render()


@pytest.mark.parametrize(
    ("func", "text"),
    [
        (lambda t: -t[:, 0], "-t[:, 0]"),
        (lambda t: (t + 1) * 2, "(t + 1) * 2"),
        (lambda t: t - (1 - t), "t - (1 - t)"),
        (lambda t: (-t) ** 2, "(-t) ** 2"),
        (lambda t: t**-1, "t ** -1"),
        (lambda t: not t, "not t"),
        (lambda t: ~t @ t, "~t @ t"),
        (lambda t: t[1:2, ::2], "t[1:2, ::2]"),
        (lambda t: t[:, None], "t[:, None]"),
        (lambda t: t[-1], "t[-1]"),
        (lambda t: (t,), "(t,)"),
        (lambda t: {"a": t}, "{'a': t}"),
    ],
)
def test_expressions_render_back_to_source(func, text):
    assert info_of(func).returns.render() == text
