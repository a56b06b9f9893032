"""TFP107 batch-inconsistent-loss: the loss at N is not the mean of single-example losses."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tfpcheck.findings import Finding, Severity
from tfpcheck.rules.base import Rule, RuleDoc

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation

RELATIVE_TOLERANCE = 1e-3


def check_probe(obs: Observation) -> Iterator[Finding]:
    from tfpcheck.evidence.where import loss_where, probe_finding

    singles = obs.singles
    if singles is None or obs.stochastic_loss or singles.batch_loss is None:
        return
    if not singles.per_example_rank:
        return  # the loss reduces the batch itself (e.g. a GP's variational_loss)
    if not singles.losses:
        return
    mean = sum(singles.losses) / len(singles.losses)
    batch = singles.batch_loss
    if not (math.isfinite(batch) and math.isfinite(mean)):
        return  # NaN/Inf is TFP302's business, and NaN != NaN says nothing about batching
    if abs(batch - mean) <= RELATIVE_TOLERANCE * max(1.0, abs(mean)):
        return
    n = len(singles.losses)
    fix = (
        "Return one loss value per example, computed from that example alone: do not "
        "reduce over axis 0 or mix targets and predictions of different examples."
    )
    yield probe_finding(
        RULE,
        f"the loss ({obs.loss.label}) of a batch of {n} is {batch:.6g}, but the mean of the "
        f"same {n} examples' losses, each alone, is {mean:.6g}: the loss depends on how "
        "examples are batched",
        fix,
        loss_where(obs),
        {
            "target_shape": singles.target.label,
            "batch_loss": round(batch, 6),
            "mean_single_loss": round(mean, 6),
            "batch_size": n,
        },
    )


RULE = Rule(
    check_probe=check_probe,
    code="TFP107",
    name="batch-inconsistent-loss",
    title="loss at batch N differs from the mean of single-example losses",
    severity=Severity.WARNING,
    doc=RuleDoc(
        what=(
            "Compares the loss of the probe batch with the mean of the losses of its "
            "examples computed one at a time (deterministic models and losses that return "
            "per-example values; a loss that returns a scalar has chosen its own reduction)."
        ),
        why=(
            "Keras averages per-example losses. A loss that sums over the batch, or that "
            "pairs predictions with other examples' targets, changes meaning with the batch "
            "size: the effective learning rate and the optimum both move."
        ),
        example=(
            "def loss(y_true, y_pred):   # compares each target with the batch mean\n"
            "    return tf.square(y_true - tf.reduce_mean(y_pred, axis=0))"
        ),
        use_instead=(
            "def loss(y_true, y_pred):\n"
            "    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)"
        ),
    ),
)
