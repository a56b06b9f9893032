"""TFP202 double-softmax: probabilities passed where logits are expected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from tfpcheck.catalog.distributions import SOFTMAX_LOGIT_DISTRIBUTIONS, heads_reading
from tfpcheck.catalog.keras_losses import SOFTMAX_LOSSES
from tfpcheck.findings import Finding, Severity
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.squashing import Squash, source_squash_findings, squash_findings

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation
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


def confirm(obs: Observation, static: tuple[Finding, ...]) -> Iterator[Finding]:
    """The probe's values: logits that are already probabilities, or a softmax output
    trained with from_logits=True."""
    from tfpcheck.catalog.keras_losses import SOFTMAX_LOSSES
    from tfpcheck.evidence.observations import fmt_shape
    from tfpcheck.evidence.values import (
        keras_loss_input,
        on_simplex,
        parameter_values,
        record_evidence,
        row_sums,
    )
    from tfpcheck.evidence.where import probe_finding, record_where

    for record, logits in parameter_values(obs, "logits", SOFTMAX_LOGIT_DISTRIBUTIONS):
        name = record.distribution
        if not on_simplex(logits):
            continue
        yield probe_finding(
            RULE,
            f"the logits passed to {name} in '{record.layer or 'the loss'}' are "
            f"probabilities: every row is in [0, 1] and sums to 1 (row sums "
            f"{row_sums(logits)}), so {name} applies a second softmax",
            f"Feed raw logits (remove the softmax before it) and keep {name}(logits=t); "
            f"or keep the softmax and build tfd.{name}(probs=t).",
            record_where(obs, record),
            {
                **record_evidence(record),
                "logits_shape": fmt_shape(logits.shape),
                "min": float(logits.min()),
                "max": float(logits.max()),
            },
        )
    given = keras_loss_input(obs)
    if (
        given is not None
        and given.from_logits
        and given.loss in SOFTMAX_LOSSES
        and on_simplex(given.values)
    ):
        yield probe_finding(
            RULE,
            f"the output of '{given.layer}' is already a softmax (rows in [0, 1] summing to "
            f"1, row sums {row_sums(given.values)}) and {given.loss} is computed with "
            "from_logits=True: softmax is applied twice",
            f"Remove the softmax from '{given.layer}' (activation=None) and keep "
            "from_logits=True, or keep it and use from_logits=False.",
            given.where,
            given.evidence,
        )


RULE = Rule(
    code="TFP202",
    name="double-softmax",
    title="softmax output used as logits",
    severity=Severity.ERROR,
    check_static=check,
    check_source=source_findings,
    confirm_probe=confirm,
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
