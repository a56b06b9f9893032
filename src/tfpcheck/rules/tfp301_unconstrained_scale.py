"""TFP301 unconstrained-scale: a positive parameter built from raw network outputs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from tfpcheck.catalog.activations import (
    NONNEGATIVE_ACTIVATIONS,
    NONNEGATIVE_FUNCTIONS,
    POSITIVE_ACTIVATIONS,
    POSITIVE_FUNCTIONS,
    ZERO_BELOW_FUNCTIONS,
)
from tfpcheck.catalog.distributions import POSITIVE_PARAMETERS
from tfpcheck.findings import Finding, Severity, Where
from tfpcheck.model_file.bytecode.expr_query import contains_call, uses_name, walk
from tfpcheck.model_file.types import Expr
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import (
    activation_source,
    call_arguments,
    distribution_heads,
    layer_where,
)
from tfpcheck.rules.positivity import (
    ANY,
    CLIP,
    MAX_NAME_DEPTH,
    MAXIMUM,
    POSITIVE,
    UNKNOWN,
    Lookup,
    Sign,
    sign,
)

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation
    from tfpcheck.source_scan import DistributionCall, SourceScan

# Calls that keep a parameter away from negative values: past them, a scale is only
# reported when it can still be exactly 0 (see rules.positivity).
POSITIVE_TRANSFORMS = NONNEGATIVE_FUNCTIONS
# POSITIVE_PARAMETERS (scale, rate, concentration, df, ...) and POSITIVE_ACTIVATIONS (whose
# every output is > 0, so that a slice of such a layer's outputs is positive) are the
# catalog's: tfpcheck.catalog.distributions and tfpcheck.catalog.activations.


# Layer activations by name, or functions given as one (activation=tf.exp), by output range
POSITIVE_OUTPUTS = POSITIVE_ACTIVATIONS | POSITIVE_FUNCTIONS
NONNEGATIVE_OUTPUTS = NONNEGATIVE_ACTIVATIONS | NONNEGATIVE_FUNCTIONS


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


def zero_fix(key: str, expr: Expr, zero_by: Expr) -> str:
    """Replace the call that reaches 0 by a strictly positive one, in the expression."""
    inner = zero_by.args[0] if zero_by.args and zero_by.args[0] is not None else None
    positive = f"1e-6 + tf.math.softplus({inner.render() if inner is not None else '...'})"
    written, culprit = expr.render(), zero_by.render()
    fixed = written.replace(culprit, positive) if culprit in written else positive
    return (
        f"Keep it > 0, not just >= 0: {key}={fixed} (softplus or exp of the raw outputs, "
        f"plus a small epsilon), instead of {culprit}."
    )


# Zero-makers that are 0 for every input <= 0, not just at 0.
CUT_AT_ZERO = ZERO_BELOW_FUNCTIONS | MAXIMUM | CLIP


def _zero_message(
    callee: str, key: str, expr: Expr, zero_by: Expr, owner: str, line: int | None = None
) -> str:
    at = f" (line {line})" if line is not None else ""
    if str(zero_by.value).rsplit(".", 1)[-1] in CUT_AT_ZERO:
        where = "for every input <= 0, about half of the raw outputs"
    else:
        where = "wherever its input is 0, as a raw output is where it crosses zero"
    return (
        f"{callee}({key}={expr.render()}) {owner}: {zero_by.render()}{at} is never negative "
        f"but is exactly 0 {where}; a {key} of 0 makes log_prob and its gradients infinite "
        "or NaN"
    )


def _head_sign(expr: Expr, argname: str, positive_input: bool) -> Sign:
    def names(name: str) -> Sign:
        if name != argname:
            return UNKNOWN
        return POSITIVE if positive_input else ANY

    return sign(expr, names)


def check(ctx: StaticContext) -> Iterator[Finding]:
    for head in distribution_heads(ctx.model):
        fn = head.function
        argname = head.input_variable
        if argname is None or head.is_builtin:
            continue
        feeding = activation_source(ctx.model, head.layer)
        # a Keras activation by name, or a function given as one (activation=tf.exp)
        activation = feeding[1] if feeding is not None else "linear"
        positive_input = activation in POSITIVE_OUTPUTS
        if fn is None and activation in NONNEGATIVE_OUTPUTS:
            continue  # the class itself after exp, relu, sigmoid: TFP303 says what it does
        for call in head.calls:
            for key, expr in call_arguments(call):
                if key not in POSITIVE_PARAMETERS or not uses_name(expr, argname):
                    continue
                found = _head_sign(expr, argname, positive_input)
                if found.kind == "positive":
                    continue
                if found.kind == "nonnegative" and found.zero_by is not None:
                    yield RULE.finding(
                        _zero_message(
                            call.callee, key, expr, found.zero_by, f"in '{head.layer.name}'"
                        ),
                        zero_fix(key, expr, found.zero_by),
                        layer_where(head.layer, fn, call.line),
                        {
                            "parameter": key,
                            "expression": expr.render(),
                            "zero_at": found.zero_by.render(),
                            "distribution": call.callee,
                        },
                        severity=Severity.WARNING,
                    )
                    continue
                if contains_call(expr, set(POSITIVE_TRANSFORMS)):
                    continue
                if positive_input and _keeps_sign(expr):  # Dense(2, activation='softplus')
                    continue
                raw = expr.render()
                fix = f"Constrain it: {key}=1e-3 + tf.math.softplus({raw})."
                if fn is None:  # DistributionLambda(tfd.Poisson): the class itself
                    fix = (
                        f"Constrain it: DistributionLambda(lambda t: tfd.{call.short_name}("
                        f"{key}=1e-3 + tf.math.softplus(t))), or give the layer feeding "
                        f"'{head.layer.name}' activation='softplus'."
                    )
                yield RULE.finding(
                    f"{call.callee}({key}={raw}) in '{head.layer.name}' takes {key} straight "
                    f"from the network's outputs: nothing keeps it positive, so log_prob "
                    "returns NaN as soon as one value is <= 0",
                    fix,
                    layer_where(head.layer, fn, call.line),
                    {"parameter": key, "expression": raw, "distribution": call.callee},
                    severity=Severity.WARNING,
                )


def _source_names(dist: DistributionCall) -> Lookup:
    """Names in a loss's source: its parameters are raw (y_pred is the network's output),
    a local name has the sign of what was assigned to it, anything else is unknown."""
    resolving: set[str] = set()

    def names(name: str) -> Sign:
        if name in dist.assigned and name not in resolving and len(resolving) < MAX_NAME_DEPTH:
            resolving.add(name)
            try:
                return sign(dist.assigned[name], names)
            finally:
                resolving.discard(name)
        return ANY if name in dist.parameters else UNKNOWN

    return names


def _zero_line(zero_by: Expr, dist: DistributionCall) -> int:
    return zero_by.line if zero_by.line is not None else dist.line


def source_findings(scan: SourceScan) -> Iterator[Finding]:
    """A positive parameter of a distribution built in the user's loss (or factory) source
    from the function's inputs through a call that reaches 0 (abs, square, relu, max(x, 0)).

    A raw input with no transform at all is left to the probe: the loss does not say
    whether the model's last layer already keeps it positive.
    """
    for dist in scan.distributions:
        names = _source_names(dist)
        for key, argument in sorted(dist.arguments.items()):
            expr = argument.expr
            if key not in POSITIVE_PARAMETERS or expr is None:
                continue
            found = sign(expr, names)
            if found.kind != "nonnegative" or found.zero_by is None:
                continue
            owner = f"in '{dist.function}'" if dist.function else "in the module"
            line = _zero_line(found.zero_by, dist)
            elsewhere = line != dist.line
            yield RULE.finding(
                _zero_message(
                    dist.callee, key, expr, found.zero_by, owner, line if elsewhere else None
                ),
                _line_fix(found.zero_by, line) if elsewhere else zero_fix(key, expr, found.zero_by),
                Where(function=dist.function, file=dist.file, line=dist.line),
                {
                    "parameter": key,
                    "expression": argument.text,
                    "zero_at": found.zero_by.render(),
                    "zero_at_line": line,
                    "distribution": dist.callee,
                },
                severity=Severity.WARNING,
            )


def _line_fix(zero_by: Expr, line: int) -> str:
    inner = zero_by.args[0] if zero_by.args and zero_by.args[0] is not None else None
    raw = inner.render() if inner is not None else "..."
    return (
        f"Keep it > 0, not just >= 0: at line {line} write 1e-6 + tf.math.softplus({raw}) "
        f"(or tf.exp({raw})) instead of {zero_by.render()}."
    )


def confirm(obs: Observation, static: tuple[Finding, ...]) -> Iterator[Finding]:
    """The probe's values: a positive parameter that takes values <= 0."""
    import numpy as np

    from tfpcheck.evidence.values import distributions_once
    from tfpcheck.evidence.where import probe_finding, record_where

    for record in distributions_once(obs):
        for key in sorted(POSITIVE_PARAMETERS):
            values = record.param_values.get(key)
            if values is None or values.size == 0 or np.all(values > 0):
                continue
            bad = int(np.sum(~(values > 0)))
            yield probe_finding(
                RULE,
                f"{record.distribution}'s {key} takes values <= 0 at the probe ({bad} of "
                f"{values.size}, min {np.nanmin(values):.4g}): log_prob is NaN for them",
                f"Constrain it: {key}=1e-3 + tf.math.softplus(...) of the raw outputs.",
                record_where(obs, record),
                {
                    "distribution": record.distribution,
                    "parameter": key,
                    "non_positive": bad,
                    "size": int(values.size),
                    "min": float(np.nanmin(values)),
                },
                severity=Severity.ERROR,
            )
            break


RULE = Rule(
    code="TFP301",
    name="unconstrained-scale",
    title="scale, rate or concentration can be <= 0",
    severity=Severity.WARNING,
    check_static=check,
    check_source=source_findings,
    confirm_probe=confirm,
    explains=frozenset({"TFP302"}),  # a scale <= 0: its log_prob is NaN
    doc=RuleDoc(
        what=(
            "Finds a positive-only distribution parameter (`scale`, `scale_diag`, `rate`, "
            "`concentration`, `df`) built from raw network outputs with no `softplus`, `exp` "
            "or other positive transform, or made `>= 0` only (`tf.abs`, `tf.square`, "
            "`tf.nn.relu`, `tf.maximum(x, 0)` with no epsilon added), in a layer's lambda or "
            "in a loss given as `FILE.py:NAME`. The probe reports values <= 0 it sees as an "
            "error."
        ),
        why=(
            "A linear layer's outputs are negative about half the time. A scale <= 0 makes "
            "`log_prob` NaN, and the loss turns NaN after some steps, often late in training. "
            "`abs` or `square` keep the sign but not the distance from 0: wherever the raw "
            "output crosses zero the scale is 0, and log_prob and its gradients are infinite."
        ),
        example="tfd.Normal(loc=t[..., :1], scale=t[..., 1:])",
        use_instead="tfd.Normal(loc=t[..., :1], scale=1e-3 + tf.math.softplus(t[..., 1:]))",
    ),
)
