"""TFP401 no-gradient: trainable variables that get no (None) or an all-zero gradient."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from tfpcheck.findings import Finding, Severity, Where
from tfpcheck.rules.base import Rule, RuleDoc

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation


def check_probe(obs: Observation) -> Iterator[Finding]:
    from tfpcheck.evidence.where import probe_finding

    candidates = [
        e for e in obs.evals if e.batch_size == obs.batch_size and e.error is None and e.gradients
    ]
    if not candidates:
        return
    evaluation = next((e for e in candidates if e.target.canonical), candidates[0])
    missing = [g for g in evaluation.gradients if g.status in {"none", "zero"}]
    if not missing:
        return
    total = len(evaluation.gradients)
    layers = sorted({g.layer for g in missing if g.layer}, key=lambda name: str(name))
    everything = len(missing) == total
    described = ", ".join(f"{g.variable} ({g.status})" for g in missing[:8])
    first = missing[0]
    if everything:
        message = (
            f"no trainable variable gets a gradient from the loss ({obs.loss.label}): "
            f"all {total} are None or zero, so training cannot change the model"
        )
        fix = (
            "The loss does not depend differentiably on the model: a loss on a sampled "
            "output (a tfp.layers output converted to a tensor by sampling) has no gradient. "
            "Train on the distribution (loss=lambda y, rv: -rv.log_prob(y)) or end the model "
            "in a tensor layer for a Keras loss."
        )
        severity = Severity.ERROR
    else:
        message = (
            f"{len(missing)} of {total} trainable variables get no gradient from the loss "
            f"({obs.loss.label}): {described}"
        )
        fix = (
            f"Connect layer(s) {', '.join(repr(name) for name in layers) or '?'} to the output "
            "the loss uses (or freeze them with trainable=False); a None gradient means the "
            "variable is not on the path from the inputs to the loss, a zero one that it is "
            "cut off (e.g. a stop_gradient, an argmax, a dead relu)."
        )
        severity = Severity.WARNING
    yield probe_finding(
        RULE,
        message,
        fix,
        Where(layer=first.layer, layer_index=first.layer_index),
        {
            "variables": [f"{g.variable}: {g.status}" for g in missing[:20]],
            "layers": layers,
            "trainable_variables": total,
            "target_shape": evaluation.target.label,
            "batch_size": evaluation.batch_size,
        },
        severity=severity,
    )


RULE = Rule(
    check_probe=check_probe,
    code="TFP401",
    name="no-gradient",
    title="trainable variables get no gradient from the loss",
    severity=Severity.ERROR,
    doc=RuleDoc(
        what=(
            "Computes the gradient of the training loss (data loss plus `model.losses`) "
            "with respect to every trainable variable and reports variables whose gradient "
            "is None or identically zero, with their layers."
        ),
        why=(
            "A variable without gradient never trains: 'No gradients provided for any "
            "variable' when none has one, or silently frozen layers when only some do."
        ),
        example=(
            "tfp.layers.OneHotCategorical(10)   # output converted to a one-hot *sample*\n"
            "model.compile(loss='categorical_crossentropy')"
        ),
        use_instead=(
            "tfp.layers.OneHotCategorical(10)\nmodel.compile(loss=lambda y, rv: -rv.log_prob(y))"
        ),
    ),
)
