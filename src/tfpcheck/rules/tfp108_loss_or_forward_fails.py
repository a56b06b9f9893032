"""TFP108 loss-or-forward-fails: the forward pass or the loss raises at every batch size."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tfpcheck.findings import Finding, Severity
from tfpcheck.rules.base import Rule, RuleDoc

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation
    from tfpcheck.evidence.sites import ErrorSummary


def error_evidence(error: ErrorSummary) -> dict[str, Any]:
    """The error, its op, the user's frame, and the layer it was raised in."""
    from tfpcheck.evidence.where import summary_evidence

    evidence = summary_evidence(error)
    if error.layer:
        evidence["layer"] = error.layer
    return evidence


def error_where(obs: Observation, error: ErrorSummary, stage: str = "forward") -> Any:
    from tfpcheck.evidence.where import loss_where, site_where

    if error.site is None and error.layer is None and stage != "forward":
        return loss_where(obs)  # failed inside Keras: point at the loss in use
    return site_where(error.site, error.layer, obs)


def sampled_output(obs: Observation) -> str | None:
    """The output distribution when a Keras loss receives its samples, else None."""
    forward = obs.forwards.get(obs.batch_size) or obs.forwards.get(1)
    if obs.loss.kind != "keras" or forward is None or forward.output is None:
        return None
    return forward.output.distribution if forward.output.is_distribution else None


def _fix(error: ErrorSummary) -> str:
    code = error.site.code if error.site is not None else ""
    if error.op == "Reshape" or "reshape" in code:
        return (
            f"The reshape at {error.site.describe() if error.site else 'the frame shown'} asks "
            "for a shape that does not hold the values it gets: count the values per "
            "example (the units of the layer feeding it) and reshape with -1 for the batch "
            "axis, e.g. tf.reshape(t, (-1, 2, 2)) needs 4 values per example."
        )
    return (
        "Fix the failing line shown; the shapes in the error are at the probe batch sizes. "
        "Run one batch by hand (model(x); loss(y, model(x))) to see the full traceback."
    )


def check_probe(obs: Observation) -> Iterator[Finding]:
    from tfpcheck.evidence.where import probe_finding, severity_for

    n = obs.batch_size
    one, many = obs.forwards.get(1), obs.forwards.get(n)
    if one is not None and many is not None and one.error and many.error:
        error = many.error
        yield probe_finding(
            RULE,
            f"the forward pass fails at batch size 1 and at {n}: {error.describe()}",
            _fix(error),
            error_where(obs, error),
            {"stage": "forward", "batch_sizes": [1, n], **error_evidence(error)},
        )
        return
    seen: dict[tuple[str, str | None], list[Any]] = {}
    for target in obs.targets:
        e1, en = obs.pair(target)
        if e1 is None or en is None or e1.error is None or en.error is None:
            continue
        key = (en.error.message, en.error.site.describe() if en.error.site else None)
        seen.setdefault(key, []).append(en)
    sampled = sampled_output(obs)
    for evaluations in seen.values():
        error = evaluations[0].error
        assert error is not None
        shapes = [e.target.label for e in evaluations]
        cause, fix = "", _fix(error)
        if sampled is not None:
            cause = (
                f" — the model outputs a {sampled} distribution, and a Keras loss receives "
                "a *sample* of it (integers, no gradient), not probabilities"
            )
            fix = (
                "Train on the distribution: model.compile(loss=lambda y, rv: "
                "-rv.log_prob(y)) (tfpcheck --loss nll), or end the model with the logits "
                f"layer and use {obs.loss.name}(from_logits=True)."
            )
        yield probe_finding(
            RULE,
            f"the loss ({obs.loss.label}) fails at batch size 1 and at {n} with targets "
            f"{' and '.join(shapes)}: {error.describe()}{cause}",
            fix,
            error_where(obs, error, evaluations[0].stage),
            {
                "stage": evaluations[0].stage,
                "batch_sizes": [1, n],
                "target_shape": shapes[0] if len(shapes) == 1 else shapes,
                **error_evidence(error),
            },
            severity=severity_for(evaluations, RULE.severity),
        )


def load_failure(summary: ErrorSummary, what: str) -> Finding:
    """Loading the file, or calling the user's factory, raised (not a known loading rule)."""
    from tfpcheck.evidence.where import probe_finding, site_where, summary_evidence

    return probe_finding(
        RULE,
        f"{what} fails: {summary.describe()}",
        "Fix the error at the frame shown; run the same call in Python to see the full "
        "traceback (tfpcheck --debug shows it too).",
        site_where(summary.site, summary.layer),
        {"stage": "load", **summary_evidence(summary)},
    )


RULE = Rule(
    check_probe=check_probe,
    code="TFP108",
    name="loss-or-forward-fails",
    title="the forward pass or the loss fails at every probe batch size",
    severity=Severity.ERROR,
    doc=RuleDoc(
        what=(
            "Runs the model and its loss on probe batches of size 1 and N, the way `fit` "
            "does, and reports an error raised at every size: the error, the TensorFlow op, "
            "the shapes, and the line of your code that raised it."
        ),
        why=(
            "The model cannot be trained as configured. The error `fit` shows is buried in "
            "a long traceback through Keras internals; the probe names your line."
        ),
        example=(
            "def loss(y_true, y_pred):\n"
            "    cov = tf.reshape(y_pred[:, 2:], (-1, 2, 2))   # 2 values, 4 needed\n"
            "    return -tfd.MultivariateNormalFullCovariance(y_pred[:, :2], cov).log_prob(y_true)"
        ),
        use_instead=(
            "def loss(y_true, y_pred):   # Dense(5) before it\n"
            "    tril = tfp.bijectors.FillScaleTriL()(y_pred[:, 2:5])\n"
            "    return -tfd.MultivariateNormalTriL(y_pred[:, :2], tril).log_prob(y_true)"
        ),
    ),
)
