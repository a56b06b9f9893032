"""TFP102 batch-dependent-failure: works at one probe batch size, fails at the other."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from tfpcheck.findings import Finding, Severity
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.tfp108_loss_or_forward_fails import error_evidence, error_where

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation
    from tfpcheck.evidence.sites import ErrorSummary

FIX = (
    "Do not write the batch size into the model or the loss: use -1 or tf.shape(t)[0] for the "
    "batch axis (tf.reshape(t, (-1, 2, 2))), and slice parameters along the last axis "
    "(t[..., :1]) so they line up at every batch size."
)


def _finding(obs: Observation, stage: str, ok: int, failed: int, error: ErrorSummary) -> Finding:
    return _make(obs, stage, ok, failed, error, None, RULE.severity)


def _make(
    obs: Observation,
    stage: str,
    ok: int,
    failed: int,
    error: ErrorSummary,
    target: str | None,
    severity: Severity,
) -> Finding:
    from tfpcheck.evidence.where import probe_finding

    what = "the forward pass" if stage == "forward" else f"the loss ({obs.loss.label})"
    evidence = {
        "stage": stage,
        "works_at_batch_size": ok,
        "fails_at_batch_size": failed,
        **error_evidence(error),
    }
    if target is not None:
        evidence["target_shape"] = target
    return probe_finding(
        RULE,
        f"{what} works at batch size {ok} but fails at batch size {failed}"
        + (f" (targets {target})" if target else "")
        + f": {error.describe()}",
        FIX,
        error_where(obs, error, stage),
        evidence,
        severity=severity,
    )


def check_probe(obs: Observation) -> Iterator[Finding]:
    from tfpcheck.evidence.where import severity_for

    n = obs.batch_size
    if n == 1:
        return
    one, many = obs.forwards.get(1), obs.forwards.get(n)
    if one is not None and many is not None and bool(one.error) != bool(many.error):
        failed = one if one.error else many
        ok = many if one.error else one
        assert failed.error is not None
        yield _finding(obs, "forward", ok.batch_size, failed.batch_size, failed.error)
        return
    reported: set[str] = set()
    for target in obs.targets:
        e1, en = obs.pair(target)
        if e1 is None or en is None or bool(e1.error) == bool(en.error):
            continue
        bad, good = (e1, en) if e1.error else (en, e1)
        assert bad.error is not None
        if bad.error.message in reported:
            continue
        reported.add(bad.error.message)
        yield _make(
            obs,
            bad.stage,
            good.batch_size,
            bad.batch_size,
            bad.error,
            target.label,
            severity_for([bad], RULE.severity),
        )


RULE = Rule(
    check_probe=check_probe,
    code="TFP102",
    name="batch-dependent-failure",
    title="works at one batch size, fails at another",
    severity=Severity.ERROR,
    doc=RuleDoc(
        what=(
            "Runs the forward pass and the loss at batch size 1 and at N (32 by default) "
            "and reports what succeeds at one size and raises at the other, with the error, "
            "the op and your line."
        ),
        why=(
            "A batch size written into the code (`tf.reshape(t, (32, 2, 2))`) or a slice "
            "that lines up only when N = 1 passes a quick test and then fails in training, "
            "on the last partial batch, or at prediction time."
        ),
        example="cov = tf.reshape(y_pred[:, 2:], (32, 2, 2))",
        use_instead="cov = tf.reshape(y_pred[:, 2:], (-1, 2, 2))",
    ),
)
