"""TFP201 onehot-categorical-classifier: a cross-entropy on OneHotCategorical samples."""

from __future__ import annotations

from collections.abc import Iterator

from tfpcheck.findings import Finding, Severity
from tfpcheck.losses import CROSS_ENTROPY_LOSSES
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import distribution_heads, layer_where, units_source


def check(ctx: StaticContext) -> Iterator[Finding]:
    losses = [loss for loss in ctx.effective_losses() if loss.name in CROSS_ENTROPY_LOSSES]
    if not losses:
        return
    outputs = set(ctx.model.outputs)
    for head in distribution_heads(ctx.model):
        if "OneHotCategorical" not in head.distributions or head.layer.name not in outputs:
            continue
        loss = losses[0]
        convert = head.layer.config.get("convert_to_tensor_fn")
        feeder = units_source(ctx.model, head.layer)
        units = feeder.units if feeder is not None else "K"
        logits_layer = f"Dense({units}, name={feeder.name!r})" if feeder else "the logits layer"
        yield RULE.finding(
            f"'{head.layer.name}' outputs a OneHotCategorical distribution and the model is "
            f"trained with {loss.name}: Keras turns the distribution into a tensor with "
            f"convert_to_tensor_fn={convert or 'sample'}, a one-hot *sample* that has no "
            "gradient, so the loss cannot train the model ('No gradients provided')",
            "Train on the distribution itself: "
            "model.compile(loss=lambda y, rv: -rv.log_prob(y)); "
            f"or drop '{head.layer.name}' and end the model at {logits_layer} with "
            "tfk.losses.CategoricalCrossentropy(from_logits=True).",
            layer_where(head.layer, head.function),
            {
                "distribution": "OneHotCategorical",
                "loss": loss.name,
                "convert_to_tensor_fn": convert or "sample",
            },
        )


RULE = Rule(
    code="TFP201",
    name="onehot-categorical-classifier",
    title="cross-entropy on a OneHotCategorical output",
    severity=Severity.ERROR,
    tiers=("static", "probe"),
    check_static=check,
    doc=RuleDoc(
        what=(
            "Finds a model whose output is a `OneHotCategorical` distribution "
            "(`tfp.layers.OneHotCategorical` or a `DistributionLambda` building one) trained "
            "with a Keras cross-entropy loss instead of the distribution's log-likelihood."
        ),
        why=(
            "A Keras loss receives the output as a tensor: a one-hot sample drawn from the "
            "distribution. Sampling a categorical is not differentiable, so the loss gives "
            "no gradient: training fails with 'No gradients provided for any variable', a "
            "dtype error, or silently does not learn."
        ),
        example=(
            "model = tfk.Sequential([..., tfk.layers.Dense(10),\n"
            "    tfp.layers.OneHotCategorical(10)])\n"
            "model.compile(loss='categorical_crossentropy')"
        ),
        use_instead=(
            "model.compile(loss=lambda y, rv: -rv.log_prob(y))\n"
            "# or: end with Dense(10) and CategoricalCrossentropy(from_logits=True)"
        ),
    ),
)
