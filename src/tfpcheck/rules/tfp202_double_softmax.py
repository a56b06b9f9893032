"""TFP202 double-softmax: probabilities passed where logits are expected."""

from __future__ import annotations

from collections.abc import Iterator

from tfpcheck.catalog.distributions import SOFTMAX_LOGIT_DISTRIBUTIONS, heads_reading
from tfpcheck.catalog.keras_losses import SOFTMAX_LOSSES
from tfpcheck.findings import Finding, Severity
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.squashing import Squash, source_squash_findings, squash_findings
from tfpcheck.source_scan import SourceScan

SQUASH = Squash(
    activation="softmax",
    distributions=SOFTMAX_LOGIT_DISTRIBUTIONS,
    builtin_layers=heads_reading("softmax"),  # OneHotCategorical, its categorical mixture
    losses=SOFTMAX_LOSSES,
    probs_class="Categorical",
)


def check(ctx: StaticContext) -> Iterator[Finding]:
    yield from squash_findings(ctx, RULE, SQUASH)


def source_findings(scan: SourceScan) -> Iterator[Finding]:
    yield from source_squash_findings(
        scan, RULE, "softmax", SOFTMAX_LOGIT_DISTRIBUTIONS, SQUASH.builtin_layers
    )


RULE = Rule(
    code="TFP202",
    name="double-softmax",
    title="softmax output used as logits",
    severity=Severity.ERROR,
    tiers=("static", "probe"),
    check_static=check,
    doc=RuleDoc(
        what=(
            "Finds a softmax whose output is treated as logits: a softmax layer or "
            "`activation='softmax'` feeding `tfd.Categorical(logits=...)`, "
            "`tfd.OneHotCategorical(logits=...)` or `tfp.layers.OneHotCategorical`, or a "
            "softmax output trained with a cross-entropy built with `from_logits=True`."
        ),
        why=(
            "`logits=` and `from_logits=True` apply softmax themselves. Feeding them "
            "probabilities applies softmax twice: every class gets a probability close to "
            "1/K, gradients shrink, and the model trains slowly and badly without any error."
        ),
        example=(
            "x = tfk.layers.Dense(10)(h)\n"
            "x = tfk.layers.Activation('softmax')(x)\n"
            "y = tfp.layers.DistributionLambda(lambda t: tfd.Categorical(logits=t))(x)"
        ),
        use_instead=(
            "x = tfk.layers.Dense(10)(h)  # raw logits\n"
            "y = tfp.layers.DistributionLambda(lambda t: tfd.Categorical(logits=t))(x)\n"
            "# or keep the softmax and build tfd.Categorical(probs=t)"
        ),
    ),
)
