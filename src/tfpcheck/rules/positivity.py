"""Whether a distribution parameter is kept > 0: the sign of an expression, from its calls.

`scale=tf.exp(raw)` and `scale=1e-3 + tf.math.softplus(raw)` are positive whatever the
network outputs. `tf.abs(raw)`, `tf.square(raw)`, `tf.nn.relu(raw)` and `tf.maximum(raw, 0)`
are not negative, but they are exactly 0 wherever `raw` is (or, for relu, wherever it is
negative): a scale of 0 gives an infinite or NaN log_prob and gradient. An epsilon added to
them (`tf.abs(raw) + 1e-6`, `tf.maximum(raw, 1e-6)`) makes them positive again.

The sign is read from an `Expr` (bytecode of a saved lambda, or source text turned into one).
What is not understood is "unknown", and no rule concludes anything from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from tfpcheck.catalog.activations import POSITIVE_FUNCTIONS, ZERO_REACHING_FUNCTIONS
from tfpcheck.model_file.types import Expr

SignKind = Literal["positive", "nonnegative", "any", "unknown"]

# Calls whose result is > 0 whatever their input (exp, softplus, sigmoid, softmax).
STRICTLY_POSITIVE = POSITIVE_FUNCTIONS
# Calls whose result is >= 0 and exactly 0 for some inputs (their input's 0, or below:
# abs, square, relu).
ZERO_AT_ZERO = ZERO_REACHING_FUNCTIONS
# Calls that keep their first argument's values (and so its sign), only moved or cast.
SIGN_KEEPING = frozenset(
    {
        "sqrt",
        "Sqrt",
        "reshape",
        "squeeze",
        "expand_dims",
        "identity",
        "cast",
        "gather",
        "transpose",
        "broadcast_to",
        "stop_gradient",
        "convert_to_tensor",
        "float",
    }
)
MAX_NAME_DEPTH = 8  # local names followed back to what was assigned to them
MAXIMUM = frozenset({"maximum", "Maximum"})
CLIP = frozenset({"clip_by_value", "clip"})


@dataclass(frozen=True)
class Sign:
    kind: SignKind
    # for "nonnegative": the call that makes it 0 for some inputs (`tf.abs(raw)`)
    zero_by: Expr | None = None


# The sign of a name the expression uses.
Lookup = Callable[[str], "Sign"]

POSITIVE = Sign("positive")
ANY = Sign("any")
UNKNOWN = Sign("unknown")


def _number(expr: Expr | None) -> float | None:
    if expr is None:
        return None
    if expr.kind == "const" and isinstance(expr.value, int | float):
        return None if isinstance(expr.value, bool) else float(expr.value)
    if expr.kind == "unary" and expr.value == "-" and expr.args:
        inner = _number(expr.args[0])
        return None if inner is None else -inner
    return None


def _const(value: float) -> Sign:
    if value > 0:
        return POSITIVE
    return Sign("nonnegative") if value == 0 else ANY


def _either(a: Sign, b: Sign) -> Sign:
    """The first zero-maker of two signs, for a result that is >= 0 through them."""
    return Sign("nonnegative", a.zero_by or b.zero_by)


def _add(a: Sign, b: Sign) -> Sign:
    kinds = {a.kind, b.kind}
    if "unknown" in kinds:
        return UNKNOWN
    if "any" in kinds:
        return ANY
    return POSITIVE if "positive" in kinds else _either(a, b)


def _multiply(a: Sign, b: Sign, divide: bool) -> Sign:
    kinds = {a.kind, b.kind}
    if "unknown" in kinds:
        return UNKNOWN
    if "any" in kinds or (divide and b.kind != "positive"):
        return ANY
    return POSITIVE if kinds == {"positive"} else _either(a, b)


def _power(base: Sign, exponent: float | None, expr: Expr) -> Sign:
    if exponent is None or base.kind == "unknown":
        return UNKNOWN
    if exponent == 0.5:
        return base  # a square root: as its input
    if exponent > 0 and exponent == int(exponent) and int(exponent) % 2 == 0:
        if base.kind == "positive":
            return POSITIVE
        return Sign("nonnegative", base.zero_by or expr)
    return POSITIVE if base.kind == "positive" else UNKNOWN


def _binop(expr: Expr, names: Lookup) -> Sign:
    left, right = (*expr.args, None, None)[:2]
    a, b = sign(left, names), sign(right, names)
    op = expr.value
    if op == "+":
        return _add(a, b)
    if op in ("*", "/"):
        return _multiply(a, b, divide=op == "/")
    if op == "**":
        return _power(a, _number(right), expr)
    if op == "-":
        return UNKNOWN if "unknown" in {a.kind, b.kind} else ANY
    return UNKNOWN


def _zero_at_zero(expr: Expr, argument: Sign) -> Sign:
    if argument.kind == "positive":
        return POSITIVE
    if argument.kind == "unknown":
        return UNKNOWN
    return Sign("nonnegative", argument.zero_by or expr)


def _maximum(expr: Expr, a: Sign, b: Sign) -> Sign:
    kinds = {a.kind, b.kind}
    if "positive" in kinds:
        return POSITIVE
    if "nonnegative" in kinds:
        return Sign("nonnegative", a.zero_by or b.zero_by or expr)
    return UNKNOWN if "unknown" in kinds else ANY


def _clip(expr: Expr) -> Sign:
    low = expr.args[1] if len(expr.args) > 1 else dict(expr.kwargs).get("clip_value_min")
    value = _number(low)
    if value is None:
        return UNKNOWN if low is not None else ANY
    if value == 0:
        return Sign("nonnegative", expr)
    return _const(value)


def _call(expr: Expr, names: Lookup) -> Sign:
    short = str(expr.value).rsplit(".", 1)[-1]
    first = sign(expr.args[0], names) if expr.args else UNKNOWN
    if short in STRICTLY_POSITIVE:
        return POSITIVE
    if short in ZERO_AT_ZERO:
        return _zero_at_zero(expr, first)
    if short in SIGN_KEEPING:
        return first
    if short in MAXIMUM and len(expr.args) >= 2:
        return _maximum(expr, first, sign(expr.args[1], names))
    if short in CLIP:
        return _clip(expr)
    return UNKNOWN


def sign(expr: Expr | None, names: Lookup) -> Sign:
    """The sign of `expr`; `names` gives the sign of each name it uses (the network's raw
    outputs are ANY, a name nothing is known about UNKNOWN)."""
    if expr is None:
        return UNKNOWN
    number = _number(expr)
    if number is not None:
        return _const(number)
    kind = expr.kind
    if kind == "name":
        return names(str(expr.value))
    if kind == "subscript" and expr.args:
        return sign(expr.args[0], names)  # a slice of a tensor: its values
    if kind == "binop":
        return _binop(expr, names)
    if kind == "unary" and expr.value == "+" and expr.args:
        return sign(expr.args[0], names)
    if kind == "unary" and expr.value == "-" and expr.args:
        inner = sign(expr.args[0], names)
        return UNKNOWN if inner.kind == "unknown" else ANY
    if kind == "call":
        return _call(expr, names)
    return UNKNOWN
