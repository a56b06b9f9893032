"""TFP201 onehot-categorical-classifier: a cross-entropy on OneHotCategorical samples."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tfpcheck.findings import Finding, Severity
from tfpcheck.losses import CROSS_ENTROPY_LOSSES
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import distribution_heads, layer_where, units_source

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation


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


def confirm(obs: Observation, static: tuple[Finding, ...]) -> Iterator[Finding]:
    """The probe's evidence: a (Relaxed)OneHotCategorical output whose sample reaches a
    Keras loss, and the loss fails or no variable gets a gradient."""
    from tfpcheck.evidence.where import output_where, probe_finding

    forward = obs.forwards.get(obs.batch_size)
    if forward is None or forward.output is None or obs.loss.kind == "nll":
        return
    if forward.output.distribution not in {"OneHotCategorical", "RelaxedOneHotCategorical"}:
        return
    evals = [e for e in obs.evals if e.batch_size == obs.batch_size and e.target.canonical]
    if not evals:
        return
    failed = [e for e in evals if e.error is not None]
    no_grad = [e for e in evals if e.error is None and all(g.status != "ok" for g in e.gradients)]
    if not failed and not no_grad:
        return
    evidence: dict[str, Any] = {
        "distribution": forward.output.distribution,
        "loss": obs.loss.label,
        "output_dtype": forward.output.dtype,
    }
    if failed and failed[0].error is not None:
        evidence["error"] = failed[0].error.describe()
        outcome = f"the loss fails ({failed[0].error.message})"
    else:
        evidence["gradients"] = "None for every trainable variable"
        outcome = "no variable gets a gradient"
    layer = obs.output_layer.name if obs.output_layer else "the output"
    yield probe_finding(
        RULE,
        f"'{layer}' outputs a {forward.output.distribution} and the loss {obs.loss.label} "
        f"receives a one-hot *sample* of it ({forward.output.dtype}): {outcome}",
        "Train on the distribution itself: model.compile(loss=lambda y, rv: "
        f"-rv.log_prob(y)); or drop '{layer}' and end the model at the logits layer with "
        "CategoricalCrossentropy(from_logits=True).",
        output_where(obs),
        evidence,
    )


RULE = Rule(
    code="TFP201",
    name="onehot-categorical-classifier",
    title="cross-entropy on a OneHotCategorical output",
    severity=Severity.ERROR,
    check_static=check,
    confirm_probe=confirm,
    # the failing loss, its missing gradients and NaNs are what this finding explains
    explains=frozenset({"TFP108", "TFP102", "TFP401", "TFP302"}),
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
