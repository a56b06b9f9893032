"""TFP304 full-covariance-parameterization: MultivariateNormalFullCovariance from a network."""

from __future__ import annotations

from collections.abc import Iterator

from tfpcheck.findings import Finding, Severity, Where
from tfpcheck.model_file.types import FunctionInfo
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import function_where, layer_where
from tfpcheck.source_scan import SourceCall

FULL_COVARIANCE = "MultivariateNormalFullCovariance"


def _call_line(fn: FunctionInfo) -> int | None:
    for call in fn.calls:
        if call.short_name == FULL_COVARIANCE:
            return call.line
    return None


def _mentions(fn: FunctionInfo) -> bool:
    return FULL_COVARIANCE in fn.names or any(c.short_name == FULL_COVARIANCE for c in fn.calls)


MESSAGE = (
    "tfd.MultivariateNormalFullCovariance: the class is deprecated, and a covariance computed from "
    "network outputs is rarely positive definite: the Cholesky decomposition fails or "
    "log_prob is NaN"
)
FIX = (
    "Parameterize the Cholesky factor instead: "
    "tfd.MultivariateNormalTriL(loc=t[..., :d], scale_tril=tfp.bijectors.FillScaleTriL()"
    "(t[..., d:])) with d + d*(d+1)//2 inputs, or tfp.layers.MultivariateNormalTriL(d) after "
    "Dense(tfp.layers.MultivariateNormalTriL.params_size(d))."
)


def check(ctx: StaticContext) -> Iterator[Finding]:
    for layer in ctx.model.layers:
        for fn in layer.functions:
            if _mentions(fn):
                yield RULE.finding(
                    f"'{layer.name}' builds {MESSAGE}",
                    FIX,
                    layer_where(layer, fn, _call_line(fn)),
                    {"distribution": FULL_COVARIANCE, "function": fn.location},
                )
    for loss in ctx.model.losses:
        if loss.function is not None and _mentions(loss.function):
            yield RULE.finding(
                f"the compiled loss builds {MESSAGE}",
                FIX,
                function_where(loss.function, _call_line(loss.function)),
                {"distribution": FULL_COVARIANCE, "function": loss.function.location},
            )


def source_findings(calls: list[SourceCall]) -> Iterator[Finding]:
    """The same mistake found in a loss or factory given as FILE.py:NAME (read with ast)."""
    for call in calls:
        if call.short_name == FULL_COVARIANCE:
            owner = f"'{call.function}'" if call.function else "the module"
            yield RULE.finding(
                f"{owner} builds {MESSAGE}",
                FIX,
                Where(function=call.function, file=call.file, line=call.line),
                {"distribution": FULL_COVARIANCE, "call": call.callee},
            )


RULE = Rule(
    code="TFP304",
    name="full-covariance-parameterization",
    title="MultivariateNormalFullCovariance built from network outputs",
    severity=Severity.WARNING,
    tiers=("static", "probe"),
    check_static=check,
    doc=RuleDoc(
        what=(
            "Finds `tfd.MultivariateNormalFullCovariance` in a distribution function or a "
            "loss, and (at the probe) covariance matrices that are not positive definite."
        ),
        why=(
            "The class is deprecated. A covariance matrix reshaped from network outputs is "
            "almost never symmetric positive definite, so the Cholesky decomposition fails "
            "or the log-likelihood is NaN."
        ),
        example=(
            "tfd.MultivariateNormalFullCovariance(loc=y_pred[:, :2],\n"
            "    covariance_matrix=tf.reshape(y_pred[:, 2:], (-1, 2, 2)))"
        ),
        use_instead=(
            "tfd.MultivariateNormalTriL(loc=y_pred[:, :2],\n"
            "    scale_tril=tfp.bijectors.FillScaleTriL()(y_pred[:, 2:5]))"
        ),
    ),
)
