"""TFP106 batch-coupled-outputs: in inference, an example's output depends on the batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from tfpcheck.findings import Finding, Severity
from tfpcheck.rules.base import Rule, RuleDoc

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation

TOLERANCE = 1e-3  # float32 kernels give ~1e-6 differences between batch sizes


def check_probe(obs: Observation) -> Iterator[Finding]:
    from tfpcheck.evidence.where import output_where, probe_finding

    singles = obs.singles
    if singles is None or obs.stochastic_output or singles.output_max_diff is None:
        return
    if singles.output_max_diff <= TOLERANCE:
        return
    n = obs.batch_size
    yield probe_finding(
        RULE,
        f"in inference mode, example {singles.worst_example}'s output differs by "
        f"{singles.output_max_diff:.4g} between running it alone and inside a batch of {n}: "
        "the model mixes examples of a batch, so predictions depend on what else is in it",
        "Find the layer that reduces over the batch axis (axis=0), e.g. a Lambda with "
        "tf.reduce_mean(x, axis=0) or a normalization computed from the batch, and make it "
        "per-example (axis=-1, LayerNormalization) or use BatchNormalization, which uses its "
        "moving statistics in inference.",
        output_where(obs),
        {
            "max_abs_difference": round(singles.output_max_diff, 6),
            "example": singles.worst_example,
            "batch_sizes": [1, n],
        },
    )


RULE = Rule(
    check_probe=check_probe,
    code="TFP106",
    name="batch-coupled-outputs",
    title="an example's output depends on the other examples in the batch",
    severity=Severity.WARNING,
    doc=RuleDoc(
        what=(
            "Runs each probe example alone and inside the batch, in inference mode, and "
            "compares its outputs (the output tensor, or the mean of the output "
            "distribution). Stochastic models (Flipout, sampled outputs) are skipped."
        ),
        why=(
            "A prediction should not depend on which other examples share its batch. Batch "
            "statistics in inference make predictions change with the batch size and leak "
            "information between examples."
        ),
        example="tfk.layers.Lambda(lambda x: x - tf.reduce_mean(x, axis=0))",
        use_instead="tfk.layers.LayerNormalization()  # or BatchNormalization()",
    ),
)
