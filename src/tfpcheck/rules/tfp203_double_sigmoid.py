"""TFP203 double-sigmoid: sigmoid outputs passed where logits are expected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from tfpcheck.catalog.distributions import SIGMOID_LOGIT_DISTRIBUTIONS, heads_reading
from tfpcheck.catalog.keras_losses import SIGMOID_LOSSES
from tfpcheck.findings import Finding, Severity
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.squashing import Squash, source_squash_findings, squash_findings

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation
    from tfpcheck.source_scan import SourceScan

SQUASH = Squash(
    activation="sigmoid",
    distributions=SIGMOID_LOGIT_DISTRIBUTIONS,
    builtin_layers=heads_reading("sigmoid"),  # IndependentBernoulli
    losses=SIGMOID_LOSSES,
    probs_class="Bernoulli",
)


def check(ctx: StaticContext) -> Iterator[Finding]:
    yield from squash_findings(ctx, RULE, SQUASH)


def source_findings(scan: SourceScan) -> Iterator[Finding]:
    yield from source_squash_findings(
        scan, RULE, "sigmoid", SIGMOID_LOGIT_DISTRIBUTIONS, SQUASH.builtin_layers
    )


def confirm(obs: Observation, static: tuple[Finding, ...]) -> Iterator[Finding]:
    """The probe's values: logits that all lie in (0, 1), or a sigmoid output trained with
    from_logits=True."""
    from tfpcheck.catalog.keras_losses import SIGMOID_LOSSES
    from tfpcheck.evidence.observations import fmt_shape
    from tfpcheck.evidence.values import (
        in_unit_interval,
        keras_loss_input,
        parameter_values,
        record_evidence,
    )
    from tfpcheck.evidence.where import probe_finding, record_where

    for record, logits in parameter_values(obs, "logits", SIGMOID_LOGIT_DISTRIBUTIONS):
        name = record.distribution
        if not in_unit_interval(logits):
            continue
        yield probe_finding(
            RULE,
            f"every logit passed to {name} in '{record.layer or 'the loss'}' lies in "
            f"(0, 1) (min {logits.min():.4g}, max {logits.max():.4g}): they are "
            "sigmoid outputs, and Bernoulli(logits=) applies a second sigmoid",
            f"Remove the sigmoid before it and keep {name}(logits=t), or pass tfd.{name}(probs=t).",
            record_where(obs, record),
            {**record_evidence(record), "logits_shape": fmt_shape(logits.shape)},
        )
    given = keras_loss_input(obs)
    if (
        given is not None
        and given.from_logits
        and given.loss in SIGMOID_LOSSES
        and in_unit_interval(given.values)
    ):
        yield probe_finding(
            RULE,
            f"every output of '{given.layer}' lies in (0, 1) and {given.loss} is computed "
            "with from_logits=True: sigmoid is applied twice",
            f"Remove the sigmoid from '{given.layer}' and keep from_logits=True, or use "
            "from_logits=False.",
            given.where,
            given.evidence,
        )


RULE = Rule(
    code="TFP203",
    name="double-sigmoid",
    title="sigmoid output used as logits",
    severity=Severity.ERROR,
    check_static=check,
    check_source=source_findings,
    confirm_probe=confirm,
    doc=RuleDoc(
        what=(
            "Finds a sigmoid whose output is treated as logits: `activation='sigmoid'` "
            "feeding `tfd.Bernoulli(logits=...)` or `tfp.layers.IndependentBernoulli`, or a "
            "sigmoid output trained with `BinaryCrossentropy(from_logits=True)`."
        ),
        why=(
            "`logits=` and `from_logits=True` apply the sigmoid themselves. A second sigmoid "
            "squeezes every probability into (0.5, 0.73): the model cannot express "
            "confident predictions and learns slowly, with no error raised."
        ),
        example=(
            "x = tfk.layers.Dense(1, activation='sigmoid')(h)\n"
            "y = tfp.layers.DistributionLambda(lambda t: tfd.Bernoulli(logits=t))(x)"
        ),
        use_instead=(
            "x = tfk.layers.Dense(1)(h)  # raw logits\n"
            "y = tfp.layers.DistributionLambda(lambda t: tfd.Bernoulli(logits=t))(x)"
        ),
    ),
)
