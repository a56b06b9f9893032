"""TFP204 logits-as-probabilities: raw logits used where probabilities are expected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from tfpcheck.catalog.activations import PROBABILITY_FUNCTIONS
from tfpcheck.catalog.distributions import SIGMOID_LOGIT_DISTRIBUTIONS, SOFTMAX_LOGIT_DISTRIBUTIONS
from tfpcheck.catalog.keras_losses import CROSS_ENTROPY_LOSSES, SIGMOID_LOSSES, SOFTMAX_LOSSES
from tfpcheck.findings import Finding, Severity
from tfpcheck.model_file.bytecode.expr_query import contains_call
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import (
    activation_source,
    distribution_heads,
    keras_layer_call,
    layer_where,
    output_activation,
    output_layers,
    render_call,
)

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation

PROBS_DISTRIBUTIONS = SOFTMAX_LOGIT_DISTRIBUTIONS | SIGMOID_LOGIT_DISTRIBUTIONS
# Calls that turn raw values into probabilities inside the lambda itself
SQUASHING_CALLS = PROBABILITY_FUNCTIONS


def _head_findings(ctx: StaticContext) -> Iterator[Finding]:
    for head in distribution_heads(ctx.model):
        for call in head.calls:
            probs = call.kwarg("probs")
            if call.short_name not in PROBS_DISTRIBUTIONS or probs is None:
                continue
            if contains_call(probs, SQUASHING_CALLS):  # probs=tf.concat([1 - s, s]) of a sigmoid
                continue
            found = activation_source(ctx.model, head.layer)
            if found is None or found[1] != "linear":
                continue
            source, _ = found
            squash = "sigmoid" if call.short_name in SIGMOID_LOGIT_DISTRIBUTIONS else "softmax"
            yield RULE.finding(
                f"{keras_layer_call(source)} has no activation, and its raw outputs are "
                f"passed as probabilities to {call.callee}(probs=...) in '{head.layer.name}': "
                "probabilities must lie in [0, 1] (and sum to 1), logits do not",
                f"Pass the raw outputs as logits: {call.callee}(logits=t); or give "
                f"'{source.name}' activation='{squash}' and keep probs=t.",
                layer_where(source, head.function, call.line),
                {
                    "layer": source.name,
                    "activation": "linear",
                    "consumer": head.layer.name,
                    "expression": render_call(call),
                    "lambda": head.function.location if head.function else None,
                },
                severity=Severity.WARNING,
            )


def _loss_findings(ctx: StaticContext) -> Iterator[Finding]:
    for loss in ctx.effective_losses():
        if loss.name not in CROSS_ENTROPY_LOSSES or loss.from_logits:
            continue
        for out in output_layers(ctx.model, loss.output):
            found = output_activation(ctx.model, out)
            if found is None or found[1] != "linear":
                continue
            source, _ = found
            squash = "sigmoid" if loss.name in SIGMOID_LOSSES else "softmax"
            yield RULE.finding(
                f"output {keras_layer_call(source)} has no activation, but the loss "
                f"{loss.name} is computed with from_logits=False: raw logits are read as "
                "probabilities (clipped and renormalized), so the loss and its gradients "
                "are wrong",
                f"Keep the linear output and compile with from_logits=True, or give "
                f"'{source.name}' activation='{squash}'.",
                layer_where(source),
                {"layer": source.name, "activation": "linear", "loss": loss.name},
            )


def check(ctx: StaticContext) -> Iterator[Finding]:
    yield from _head_findings(ctx)
    yield from _loss_findings(ctx)


def confirm(obs: Observation, static: tuple[Finding, ...]) -> Iterator[Finding]:
    """The probe's values: probs that are no probabilities, or raw outputs trained with
    from_logits=False."""
    from tfpcheck.evidence.observations import fmt_shape
    from tfpcheck.evidence.values import (
        keras_loss_input,
        leaves_unit_interval,
        on_simplex,
        parameter_values,
        record_evidence,
        row_sums,
    )
    from tfpcheck.evidence.where import probe_finding, record_where

    for record, probs in parameter_values(obs, "probs", PROBS_DISTRIBUTIONS):
        name = record.distribution
        evidence = {**record_evidence(record), "probs_shape": fmt_shape(probs.shape)}
        if name in SOFTMAX_LOGIT_DISTRIBUTIONS and not on_simplex(probs):
            yield probe_finding(
                RULE,
                f"the probs passed to {name} in '{record.layer or 'the loss'}' are not "
                f"probabilities: values from {probs.min():.4g} to {probs.max():.4g}, row "
                f"sums {row_sums(probs)}",
                f"Pass raw outputs as logits: tfd.{name}(logits=t); or put a softmax before it.",
                record_where(obs, record),
                evidence,
            )
        elif name in SIGMOID_LOGIT_DISTRIBUTIONS and leaves_unit_interval(probs):
            yield probe_finding(
                RULE,
                f"the probs passed to {name} in '{record.layer or 'the loss'}' leave [0, 1] "
                f"(min {probs.min():.4g}, max {probs.max():.4g}): they are logits",
                f"Pass them as logits: tfd.{name}(logits=t); or put a sigmoid before it.",
                record_where(obs, record),
                evidence,
            )
    given = keras_loss_input(obs)
    if given is None or given.from_logits:
        return
    values = given.values
    if given.loss in SOFTMAX_LOSSES and not on_simplex(values):
        yield probe_finding(
            RULE,
            f"the output of '{given.layer}' is not a probability vector (values from "
            f"{values.min():.4g} to {values.max():.4g}, row sums {row_sums(values)}) but "
            f"{given.loss} is computed with from_logits=False: logits are read as "
            "probabilities",
            f"Compile with {given.loss} from_logits=True, or give '{given.layer}' "
            "activation='softmax'.",
            given.where,
            given.evidence,
        )
    elif given.loss in SIGMOID_LOSSES and leaves_unit_interval(values):
        yield probe_finding(
            RULE,
            f"the output of '{given.layer}' leaves [0, 1] (min {values.min():.4g}, max "
            f"{values.max():.4g}) but {given.loss} is computed with from_logits=False",
            f"Compile with {given.loss} from_logits=True, or give '{given.layer}' "
            "activation='sigmoid'.",
            given.where,
            given.evidence,
        )


RULE = Rule(
    code="TFP204",
    name="logits-as-probabilities",
    title="raw logits used as probabilities",
    severity=Severity.ERROR,
    check_static=check,
    confirm_probe=confirm,
    # logits read as probabilities: samples out of range and NaN log_probs follow from it
    explains=frozenset({"TFP108", "TFP302"}),
    doc=RuleDoc(
        what=(
            "Finds raw, unnormalized outputs (a layer with no activation) passed where "
            "probabilities are expected: `probs=` of a Categorical/Bernoulli-like "
            "distribution, or a cross-entropy loss with `from_logits=False` (the default)."
        ),
        why=(
            "Probabilities must lie in [0, 1] and sum to one. Keras clips and renormalizes "
            "what it is given, and TFP's `probs=` takes the values as they are, so logits "
            "read as probabilities give a wrong loss, wrong gradients or NaN."
        ),
        example=(
            "model = keras.Sequential([..., keras.layers.Dense(10)])\n"
            "model.compile(loss='categorical_crossentropy')"
        ),
        use_instead=(
            "model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))\n"
            "# or tfd.Categorical(logits=t) instead of probs=t"
        ),
    ),
)
