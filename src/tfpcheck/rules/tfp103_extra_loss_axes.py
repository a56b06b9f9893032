"""TFP103 extra-loss-axes: the per-example loss has more values than the target."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tfpcheck.findings import Finding, Severity
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.tfp101_loss_broadcasts_across_batch import grows_as_n_squared

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation


def check_probe(obs: Observation) -> Iterator[Finding]:
    from tfpcheck.evidence.observations import fmt_shape
    from tfpcheck.evidence.where import loss_where, probe_finding, record_where, severity_for

    n = obs.batch_size
    for target in obs.targets:
        e1, en = obs.pair(target)
        if en is None or en.error or en.per_example_shape is None or not en.per_example_shape:
            continue
        if e1 is not None and grows_as_n_squared(e1.per_example_shape, en.per_example_shape, n):
            continue  # TFP101's finding
        shape = en.per_example_shape
        if shape[0] != en.batch_size:
            continue
        per_loss = math.prod(shape[1:])
        per_target = math.prod(en.y_shape[1:]) if len(en.y_shape) > 1 else 1
        if per_loss <= per_target:
            continue
        source = next(
            (r for r in en.records if r.in_loss and r.result_shape == shape and r.depth == 0),
            None,
        )
        where = record_where(obs, source) if source is not None else loss_where(obs)
        evidence = {
            "target_shape": target.label,
            "y_shape": fmt_shape(en.y_shape),
            f"loss_shape_at_{n}": fmt_shape(shape),
            "loss_shape_at_1": fmt_shape(e1.per_example_shape if e1 else None),
        }
        if source is not None:
            evidence["distribution"] = source.distribution
            evidence["batch_shape"] = fmt_shape(source.batch_shape)
        yield probe_finding(
            RULE,
            f"the loss ({obs.loss.label}) returns {fmt_shape(shape)} for targets "
            f"{fmt_shape(en.y_shape)}: {per_loss} loss values per example where the target "
            f"has {per_target}; Keras averages all of them, so the extra axes are trained "
            "as if they were outputs",
            "Make the output have one loss term per target value: give the distribution "
            f"batch shape (N, {per_target}) (the right number of units before it), or wrap "
            "a multi-dimensional event in tfd.Independent(..., reinterpreted_batch_ndims=1).",
            where,
            evidence,
            severity=severity_for([en], RULE.severity),
        )


RULE = Rule(
    check_probe=check_probe,
    code="TFP103",
    name="extra-loss-axes",
    title="per-example loss has axes beyond the target's",
    severity=Severity.ERROR,
    doc=RuleDoc(
        what=(
            "Compares the shape of the per-example loss with the shape of the target: a "
            "loss of shape (N, 63) for targets of shape (N, 1) has 62 values per example "
            "that correspond to no target."
        ),
        why=(
            "Keras averages every value the loss returns. Extra axes come from a "
            "distribution with the wrong batch shape; the model then fits 63 copies of the "
            "target and the loss scale is wrong."
        ),
        example=(
            "tfk.layers.Dense(64),\n"
            "tfp.layers.DistributionLambda(lambda t: tfd.Normal(t[..., :1], tf.exp(t[..., 1:])))"
        ),
        use_instead=(
            "tfk.layers.Dense(64),\n"
            "tfk.layers.Dense(2),\n"
            "tfp.layers.DistributionLambda(lambda t: tfd.Normal(t[..., :1], tf.exp(t[..., 1:])))"
        ),
    ),
)
