"""TFP301 unconstrained-scale: a positive parameter built from raw network outputs."""

from __future__ import annotations

from collections.abc import Iterator

from tfpcheck.findings import Finding, Severity
from tfpcheck.model_file.bytecode.expr_query import contains_call, walk
from tfpcheck.model_file.types import Expr
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import activation_source, distribution_heads, layer_where

POSITIVE_PARAMETERS = frozenset(
    {
        "scale",
        "scale_diag",
        "rate",
        "concentration",
        "concentration0",
        "concentration1",
        "df",
        "scale_identity_multiplier",
    }
)
# Calls whose result is strictly positive whatever their input.
POSITIVE_TRANSFORMS = frozenset(
    {"exp", "softplus", "Softplus", "Exp", "sigmoid", "Sigmoid", "softmax", "square", "abs"}
)


# Activations whose every output is > 0: a slice of such a layer's outputs is positive.
POSITIVE_ACTIVATIONS = frozenset({"softplus", "exponential", "sigmoid", "softmax"})


def _uses(expr: Expr, name: str) -> bool:
    return any(node.kind == "name" and node.value == name for node in walk(expr))


def _keeps_sign(expr: Expr) -> bool:
    """Slices of the input, plus positive constants: positive wherever the input is."""
    for node in walk(expr):
        if node.kind == "binop" and node.value != "+":
            return False
        if node.kind == "const" and isinstance(node.value, int | float) and node.value < 0:
            return False
        if node.kind in {"call", "unary", "attr", "unknown"}:
            return False
    return True


def check(ctx: StaticContext) -> Iterator[Finding]:
    for head in distribution_heads(ctx.model):
        fn = head.function
        if fn is None or not fn.argnames:
            continue
        argname = fn.argnames[0]
        feeding = activation_source(ctx.model, head.layer)
        positive_input = feeding is not None and feeding[1] in POSITIVE_ACTIVATIONS
        for call in head.calls:
            for key, expr in call.kwargs:
                if key not in POSITIVE_PARAMETERS or not _uses(expr, argname):
                    continue
                if contains_call(expr, set(POSITIVE_TRANSFORMS)):
                    continue
                if positive_input and _keeps_sign(expr):  # Dense(2, activation='softplus')
                    continue
                raw = expr.render()
                yield RULE.finding(
                    f"{call.callee}({key}={raw}) in '{head.layer.name}' takes {key} straight "
                    f"from the network's outputs: nothing keeps it positive, so log_prob "
                    "returns NaN as soon as one value is <= 0",
                    f"Constrain it: {key}=1e-3 + tf.math.softplus({raw}).",
                    layer_where(head.layer, fn, call.line),
                    {"parameter": key, "expression": raw, "distribution": call.callee},
                    severity=Severity.WARNING,
                )


RULE = Rule(
    code="TFP301",
    name="unconstrained-scale",
    title="scale, rate or concentration can be <= 0",
    severity=Severity.WARNING,
    tiers=("static", "probe"),
    check_static=check,
    doc=RuleDoc(
        what=(
            "Finds a positive-only distribution parameter (`scale`, `scale_diag`, `rate`, "
            "`concentration`, `df`) built from raw network outputs with no `softplus`, `exp` "
            "or other positive transform."
        ),
        why=(
            "A linear layer's outputs are negative about half the time. A scale <= 0 makes "
            "`log_prob` NaN, and the loss turns NaN after some steps, often late in training."
        ),
        example="tfd.Normal(loc=t[..., :1], scale=t[..., 1:])",
        use_instead="tfd.Normal(loc=t[..., :1], scale=1e-3 + tf.math.softplus(t[..., 1:]))",
    ),
)
