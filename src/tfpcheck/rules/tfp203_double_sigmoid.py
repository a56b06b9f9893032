"""TFP203 double-sigmoid: sigmoid outputs passed where logits are expected."""

from __future__ import annotations

from collections.abc import Iterator

from tfpcheck.catalog.distributions import SIGMOID_LOGIT_DISTRIBUTIONS, heads_reading
from tfpcheck.catalog.keras_losses import SIGMOID_LOSSES
from tfpcheck.findings import Finding, Severity
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.squashing import Squash, source_squash_findings, squash_findings
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


RULE = Rule(
    code="TFP203",
    name="double-sigmoid",
    title="sigmoid output used as logits",
    severity=Severity.ERROR,
    tiers=("static", "probe"),
    check_static=check,
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
