"""TFP302 non-finite-loss: NaN or Inf in the loss or its gradients at the probe."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tfpcheck.findings import Finding, Severity
from tfpcheck.rules.base import Rule, RuleDoc

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation


def check_probe(obs: Observation) -> Iterator[Finding]:
    import numpy as np

    from tfpcheck.evidence.observations import fmt_shape
    from tfpcheck.evidence.where import loss_where, probe_finding, severity_for

    for evaluation in sorted(obs.evals, key=lambda e: (not e.target.canonical, -e.batch_size)):
        if evaluation.error is not None:
            continue
        evidence: dict[str, Any] = {
            "target_shape": evaluation.target.label,
            "batch_size": evaluation.batch_size,
        }
        problems = []
        if evaluation.data_loss is not None and not math.isfinite(evaluation.data_loss):
            problems.append(f"the loss is {evaluation.data_loss}")
            evidence["loss"] = str(evaluation.data_loss)
        values = evaluation.per_example
        if values is not None and values.size and not np.all(np.isfinite(values)):
            bad = np.argwhere(~np.isfinite(values))
            evidence["non_finite_loss_values"] = len(bad)
            evidence["loss_shape"] = fmt_shape(tuple(values.shape))
            evidence["first_non_finite_at"] = [int(i) for i in bad[0]]
        bad_grads = [g for g in evaluation.gradients if g.status == "nonfinite"]
        if bad_grads:
            problems.append(f"{len(bad_grads)} gradient(s) are NaN/Inf")
            evidence["non_finite_gradients"] = [g.variable for g in bad_grads[:10]]
        if not problems:
            continue
        yield probe_finding(
            RULE,
            f"at batch size {evaluation.batch_size} with targets {evaluation.target.label}, "
            + " and ".join(problems)
            + f" for the freshly initialized model ({obs.loss.label})",
            "Look for a log/division of a value that can be <= 0, an unconstrained scale "
            "(use 1e-3 + tf.math.softplus(...)), probabilities of exactly 0 or 1 passed to a "
            "log (use logits=), or targets outside the distribution's support.",
            loss_where(obs),
            evidence,
            severity=severity_for([evaluation], RULE.severity),
        )
        return


RULE = Rule(
    check_probe=check_probe,
    code="TFP302",
    name="non-finite-loss",
    title="NaN or Inf in the loss or the gradients",
    severity=Severity.ERROR,
    doc=RuleDoc(
        what=(
            "Reports a NaN or infinite loss value, per-example loss or gradient for the "
            "model as loaded, on the probe batches."
        ),
        why=(
            "A non-finite loss at the start of training turns every weight into NaN at "
            "the first update; the run is wasted and the cause is hard to trace back."
        ),
        example="tfd.Normal(loc=t[..., :1], scale=t[..., 1:])   # scale <= 0 -> NaN",
        use_instead="tfd.Normal(loc=t[..., :1], scale=1e-3 + tf.math.softplus(t[..., 1:]))",
    ),
)
