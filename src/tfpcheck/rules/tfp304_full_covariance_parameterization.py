"""TFP304 full-covariance-parameterization: MultivariateNormalFullCovariance from a network."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from tfpcheck.findings import Finding, Severity, Where
from tfpcheck.model_file.types import FunctionInfo
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import function_where, layer_where

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation
    from tfpcheck.source_scan import SourceCall, SourceScan

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


def source_check(scan: SourceScan) -> Iterator[Finding]:
    yield from source_findings(scan.calls)


def confirm(obs: Observation, static: tuple[Finding, ...]) -> Iterator[Finding]:
    """The probe's values: covariance matrices that are not symmetric positive definite, or
    a Cholesky decomposition that fails in the loss."""
    import numpy as np

    from tfpcheck.evidence.observations import fmt_shape
    from tfpcheck.evidence.values import distributions_once
    from tfpcheck.evidence.where import probe_finding, record_where, site_where
    from tfpcheck.rules.tfp108_loss_or_forward_fails import error_evidence

    fix = RULE.doc.use_instead.replace("\n", " ")
    for record in distributions_once(obs):
        cov = record.param_values.get("covariance_matrix")
        if cov is None or cov.ndim < 2:
            continue
        symmetric = np.allclose(cov, np.swapaxes(cov, -1, -2), atol=1e-5)
        smallest = float(np.min(np.linalg.eigvalsh(cov))) if symmetric else float("nan")
        if symmetric and smallest > 0:
            continue
        yield probe_finding(
            RULE,
            f"{record.distribution} gets covariance matrices that are not symmetric positive "
            f"definite (symmetric: {symmetric}, smallest eigenvalue {smallest:.4g})",
            fix,
            record_where(obs, record),
            {"distribution": record.distribution, "covariance_shape": fmt_shape(cov.shape)},
            severity=Severity.ERROR,
        )
    seen = set()
    for evaluation in obs.evals:
        error = evaluation.error
        if error is None or "cholesky" not in (error.message + (error.op or "")).lower():
            continue
        if error.message in seen:
            continue
        seen.add(error.message)
        yield probe_finding(
            RULE,
            "the covariance matrix built from the network's outputs is not positive "
            f"definite: the Cholesky decomposition fails ({error.describe()})",
            fix,
            site_where(error.site, error.layer, obs),
            {"target_shape": evaluation.target.label, **error_evidence(error)},
            severity=Severity.ERROR,
        )


def absorbs(own: Finding, other: Finding) -> bool:
    """A failed Cholesky is this finding's evidence, not a separate failure."""
    return (
        "op" in own.evidence
        and other.code in {"TFP108", "TFP102"}
        and "cholesky" in str(other.evidence).lower()
    )


RULE = Rule(
    code="TFP304",
    name="full-covariance-parameterization",
    title="MultivariateNormalFullCovariance built from network outputs",
    severity=Severity.WARNING,
    check_static=check,
    check_source=source_check,
    confirm_probe=confirm,
    # a covariance that is not positive definite: its log_prob is NaN
    explains=frozenset({"TFP302"}),
    absorbs=absorbs,
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
