"""TFP101 loss-broadcasts-across-batch: the loss or a log_prob term grows as N x N."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tfpcheck.findings import Finding, Severity, Where
from tfpcheck.rules.base import Rule, RuleDoc

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import (
        Broadcast,
        DistRecord,
        LossEval,
        LossGraph,
        Observation,
        TargetVariant,
    )
    from tfpcheck.evidence.sites import Site
    from tfpcheck.source_scan import SourceScan

# y_pred[:, 0] / t[..., 1]: a rank-dropping integer index on the last axis.
RANK_DROPPING = re.compile(r"\[\s*(:|\.\.\.)\s*,\s*(-?\d+)\s*\]")


SETTLE_TARGET_SHAPE = (
    "Say which shape the targets have: --target-shape scalar for (N,), --target-shape 1 for "
    "(N, 1) (or target-shape in [tool.tfpcheck]), or --data with real examples."
)


def _elements(shape: tuple[int, ...] | None) -> int | None:
    return None if shape is None else math.prod(shape)


def grows_as_n_squared(
    shape_1: tuple[int, ...] | None, shape_n: tuple[int, ...] | None, n: int
) -> bool:
    e1, en = _elements(shape_1), _elements(shape_n)
    if e1 is None or en is None or n < 2 or e1 == 0:
        return False
    return en == e1 * n * n and sum(1 for d in shape_n or () if d == n) >= 2


def rank_aligned(code: str) -> str | None:
    """`loc=y_pred[:, 0]` -> `loc=y_pred[:, 0:1]`: the same line with rank-keeping slices."""

    def keep(match: re.Match[str]) -> str:
        axis, index = match.group(1), int(match.group(2))
        stop = "" if index == -1 else str(index + 1)
        return f"[{axis}, {index}:{stop}]"

    fixed = RANK_DROPPING.sub(keep, code)
    return fixed if fixed != code else None


def _record_pair(e1: LossEval, en: LossEval, n: int) -> tuple[Any, DistRecord] | None:
    for r1, rn in zip(e1.records, en.records, strict=False):
        if grows_as_n_squared(r1.result_shape, rn.result_shape, n):
            return r1, rn
    return None


def _squeeze_targets_fix(record: DistRecord, batch: str) -> str:
    """Targets (N, 1) for a layer's distribution of batch (N,): squeeze them, in the data or
    where the user's loss calls log_prob (or in a loss written for it, when none was)."""
    if record.call_site is not None:
        in_loss = (
            f"reshape it where the loss calls log_prob ({record.call_site.describe()}): "
            "rv.log_prob(tf.squeeze(y_true, -1))"
        )
    else:
        in_loss = "reshape in the loss: lambda y, rv: -rv.log_prob(tf.squeeze(y, -1))"
    return (
        f"'{record.layer or 'the output'}' builds {record.distribution} with batch shape "
        f"{batch}, so the targets must be {batch}: feed y without the trailing axis "
        f"(np.squeeze(y, -1) or y.reshape(-1)), or {in_loss}."
    )


def _fix(record: DistRecord | None, en: LossEval) -> str:
    from tfpcheck.evidence.observations import fmt_shape

    if record is not None:
        value, batch = record.value_shape or (), record.batch_shape or ()
        for site in (record.built_at, record.call_site):
            if site is not None and site.code and (fixed := rank_aligned(site.code)):
                return (
                    f"Keep the parameters rank-aligned with y_true {fmt_shape(value)}: at "
                    f"{site.describe()} write `{fixed}` (slices such as y_pred[:, 0:1] keep "
                    "the trailing axis; y_pred[:, 0] drops it)."
                )
        if len(value) == len(batch) + 1 and value[-1:] == (1,):
            # Built by a layer, the distribution's batch shape is the model's: only the
            # targets can change (a Categorical's (N,) batch comes from (N, K) probabilities,
            # which no slice of the parameters would make rank 2). Built in the user's loss,
            # its parameters are the user's to shape too.
            if record.layer is not None or record.built_at is None:
                return _squeeze_targets_fix(record, fmt_shape(batch))
            return (
                f"The distribution has batch shape {fmt_shape(batch)} but the targets are "
                f"{fmt_shape(value)}: make the parameters rank 2 with rank-keeping slices "
                "(y_pred[:, 0:1] instead of y_pred[:, 0]), or squeeze the target "
                "(tf.squeeze(y_true, axis=-1), or feed y with shape (N,))."
            )
        if len(batch) == len(value) + 1 and batch[-1:] == (1,):
            return (
                f"The distribution has batch shape {fmt_shape(batch)} but the targets are "
                f"{fmt_shape(value)}: feed y with shape (N, 1) (y[:, None]) or reshape it "
                "in the loss (tf.reshape(y_true, (-1, 1)))."
            )
    return (
        f"The loss gets y_true {fmt_shape(en.y_true_seen)} and y_pred "
        f"{fmt_shape(en.y_pred_seen)}: make them the same rank before combining them "
        "(rank-keeping slices such as y_pred[:, 0:1], or tf.reshape(y_true, tf.shape(...)))."
    )


def _drops_rank_too(value: str | None) -> bool:
    """`log_prob(y_true[:, 0])` or `log_prob(tf.squeeze(y_true))`: the value has shape (N,)
    like the parameters, so nothing broadcasts."""
    if not value:
        return False
    return RANK_DROPPING.search(value) is not None or "squeeze(" in value


def source_findings(scan: SourceScan) -> Iterator[Finding]:
    """A rank-dropping slice fed to a distribution whose log_prob scores the targets.

    Read from the source only, this is a warning: it broadcasts to (N, N) when y_true has a
    trailing axis (N, 1), which is how Keras feeds a 1-column target. The probe confirms it.
    The same for arithmetic between such a slice and y_true (`y_pred[:, 0] - y_true`).
    """
    yield from _arithmetic_findings(scan)
    for dist in scan.distributions:
        if dist.log_prob_line is None:
            continue
        dropped = {k: a.rank_drop for k, a in dist.arguments.items() if a.rank_drop}
        if not dropped or _drops_rank_too(dist.log_prob_value):
            continue
        owner = f"'{dist.function}'" if dist.function else "the module"
        args = ", ".join(f"{k}={v}" for k, v in dropped.items())
        fixed = rank_aligned(dist.code)
        fix = (
            f"Keep the trailing axis: write `{fixed}`"
            if fixed
            else "Keep the trailing axis: slice with y_pred[:, k:k+1] instead of y_pred[:, k]"
        )
        yield RULE.finding(
            f"{owner} builds {dist.callee} with rank-dropping parameters ({args}) and scores "
            f"y_true with log_prob({dist.log_prob_value}) at line {dist.log_prob_line}: "
            "with targets of shape (N, 1) the result broadcasts to (N, N)",
            f"{fix} (the parameters then have shape (N, 1), like y_true), or squeeze y_true "
            "to (N,) before log_prob.",
            Where(function=dist.function, file=dist.file, line=dist.line),
            {
                "distribution": dist.callee,
                "rank_dropping": dropped,
                "log_prob_line": dist.log_prob_line,
                "code": dist.code,
            },
            severity=Severity.WARNING,
        )


def _arithmetic_findings(scan: SourceScan) -> Iterator[Finding]:
    for pairing in scan.target_arithmetic:
        fixed = rank_aligned(pairing.rank_drop_code)
        keep = (
            f"at line {pairing.rank_drop_line} write `{fixed}`"
            if fixed
            else f"slice with rank-keeping bounds ({pairing.rank_drop} -> k:k+1)"
        )
        yield RULE.finding(
            f"'{pairing.function}' computes `{pairing.operation}` at line {pairing.line} from "
            f"{pairing.rank_drop} (its last axis dropped: shape (N,)) and {pairing.target} as "
            f"it arrives: with targets of shape (N, 1) the terms broadcast to (N, N)",
            f"Keep the trailing axis: {keep} (the terms then have shape (N, 1), like "
            f"{pairing.target}), or squeeze {pairing.target} to (N,) first.",
            Where(function=pairing.function, file=pairing.file, line=pairing.line),
            {
                "operation": pairing.operation,
                "rank_dropping": pairing.rank_drop,
                "rank_drop_line": pairing.rank_drop_line,
                "code": pairing.code,
            },
            severity=Severity.WARNING,
        )


def _record_evidence(record: DistRecord, r1: DistRecord, n: int) -> dict[str, Any]:
    from tfpcheck.evidence.observations import fmt_shape

    evidence: dict[str, Any] = {
        "distribution": record.distribution,
        "parameters": {k: fmt_shape(v) for k, v in record.param_shapes.items()},
        "batch_shape": fmt_shape(record.batch_shape),
        "value_shape": fmt_shape(record.value_shape),
        "log_prob_shape_at_1": fmt_shape(r1.result_shape),
        f"log_prob_shape_at_{n}": fmt_shape(record.result_shape),
    }
    if record.call_site is not None:
        evidence["log_prob_call"] = record.call_site.describe()
    return evidence


def _broadcast_evidence(broadcast: Broadcast, graph: LossGraph, n: int) -> dict[str, Any]:
    from tfpcheck.evidence.observations import fmt_shape

    evidence: dict[str, Any] = {
        "op": broadcast.op,
        "input_shapes": [fmt_shape(s) for s in broadcast.input_shapes],
        "result_shape_at_1": fmt_shape(broadcast.output_shape_at_1),
        f"result_shape_at_{n}": fmt_shape(broadcast.output_shape),
    }
    if broadcast.site is not None:
        evidence["code"] = broadcast.site.code
    if graph.rank_dropped_at:
        evidence["rank_dropped_at"] = [site.describe() for site in graph.rank_dropped_at]
    return evidence


def _broadcast_subject(broadcast: Broadcast, en: LossEval) -> str:
    from tfpcheck.evidence.observations import fmt_shape

    shapes = " with ".join(fmt_shape(s) for s in broadcast.input_shapes)
    site = broadcast.site
    what = f"`{site.code}` (line {site.line})" if site is not None and site.code else broadcast.op
    return (
        f"{what} combines {shapes} into {fmt_shape(broadcast.output_shape)}, and the loss "
        f"reduces those terms to {fmt_shape(en.per_example_shape)}"
    )


def _broadcast_fix(graph: LossGraph, en: LossEval) -> str:
    from tfpcheck.evidence.observations import fmt_shape

    edits = [
        f"at {site.describe()} write `{fixed}`"
        for site in graph.rank_dropped_at
        if site.code and (fixed := rank_aligned(site.code))
    ]
    if edits:
        return (
            f"Keep the trailing axis where it is dropped: {'; '.join(edits)} (slices such as "
            "y_pred[:, 0:1] keep it, y_pred[:, 0] drops it), so that every term has the "
            f"shape of y_true {fmt_shape(en.y_true_seen)}."
        )
    if 0 in graph.lower_arguments:
        return (
            f"y_true arrives as {fmt_shape(en.y_true_seen)} while the terms it meets keep a "
            "trailing axis: reshape it in the loss (y_true = tf.reshape(y_true, (-1, 1))) or "
            "feed y with shape (N, 1)."
        )
    return _fix(None, en)


def _target_finding(obs: Observation, target: TargetVariant) -> Finding | None:
    from tfpcheck.evidence.observations import fmt_shape
    from tfpcheck.evidence.where import (
        loss_where,
        probe_finding,
        record_where,
        severity_for,
        site_where,
    )

    n = obs.batch_size
    e1, en = obs.pair(target)
    if e1 is None or en is None or e1.error or en.error:
        return None
    pair = _record_pair(e1, en, n)
    loss_grows = grows_as_n_squared(e1.per_example_shape, en.per_example_shape, n)
    graph = en.graph if en.graph is not None and en.graph.broadcasts else None
    if pair is None and not loss_grows and graph is None:
        return None
    evidence: dict[str, Any] = {
        "target_shape": target.label,
        "y_true_shape": fmt_shape(en.y_true_seen),
        "y_pred_shape": fmt_shape(en.y_pred_seen),
        "loss_shape_at_1": fmt_shape(e1.per_example_shape),
        f"loss_shape_at_{n}": fmt_shape(en.per_example_shape),
    }
    record = None
    if pair is not None:
        r1, record = pair
        evidence.update(_record_evidence(record, r1, n))
        where = record_where(obs, record)
        subject = (
            f"{record.distribution}({record.describe_params()}).log_prob(y_true "
            f"{fmt_shape(record.value_shape)}) returns {fmt_shape(record.result_shape)}"
        )
        fix = _fix(record, en)
    elif loss_grows or graph is None:
        where = loss_where(obs)
        subject = f"the loss returns {fmt_shape(en.per_example_shape)}"
        fix = _fix(None, en)
    else:
        # Nothing the loss returns shows it: one of its own operations pairs the examples.
        broadcast = graph.broadcasts[0]
        evidence.update(_broadcast_evidence(broadcast, graph, n))
        where = site_where(broadcast.site) if broadcast.site is not None else loss_where(obs)
        subject = _broadcast_subject(broadcast, en)
        fix = _broadcast_fix(graph, en)
    if not target.canonical and target.source == "synthesized":
        # Only the other shape users feed triggers it, and the probe guessed the shape:
        # say it in one line, with how to settle which shape the data has.
        return probe_finding(
            RULE,
            f"only if the targets are fed as {target.label}: {subject} "
            f"({n}x{n} terms instead of {n})",
            f"{SETTLE_TARGET_SHAPE} If they are {target.label}: {fix}",
            where,
            evidence,
            severity=Severity.INFO,
        )
    return probe_finding(
        RULE,
        f"with targets {target.label} at batch size {n}, {subject}: every prediction is "
        f"scored against every target ({n}x{n} terms instead of {n}), so the loss is "
        "silently wrong",
        fix,
        where,
        evidence,
        severity=severity_for([en], RULE.severity),
    )


def check_probe(obs: Observation) -> Iterator[Finding]:
    found = [(t, f) for t in obs.targets if (f := _target_finding(obs, t)) is not None]
    # A broadcast with the targets the probe takes for the real ones is the finding; that
    # the other shape users feed broadcasts too adds nothing but a wrong "only if".
    if any(target.canonical for target, _ in found):
        found = [(t, f) for t, f in found if t.canonical]
    for _, finding in found:
        yield finding


def _same_file(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and os.path.realpath(a) == os.path.realpath(b)


def _at(site: Site | None, file: str | None, line: int | None) -> bool:
    return site is not None and site.line == line and _same_file(site.file, file)


def _guessed_log_prob(finding: Finding, record: DistRecord) -> bool:
    """The probe's record of the log_prob call a source guess is about."""
    where = finding.where
    return _at(record.built_at, where.file, where.line) or _at(
        record.call_site, where.file, finding.evidence.get("log_prob_line")
    )


def _refute_log_prob(finding: Finding, obs: Observation) -> str | None:
    from tfpcheck.evidence.observations import fmt_shape

    n, seen = obs.batch_size, []
    for target in obs.targets:
        e1, en = obs.pair(target)
        if e1 is None or en is None or e1.error or en.error:
            continue
        for r1, rn in zip(e1.records, en.records, strict=False):
            if not _guessed_log_prob(finding, rn):
                continue
            if grows_as_n_squared(r1.result_shape, rn.result_shape, n):
                return None
            seen.append((target, rn))
    if not seen:
        return None
    target, record = seen[0]
    return (
        f"log_prob returned {fmt_shape(record.result_shape)} for a value of shape "
        f"{fmt_shape(record.value_shape)}, with targets {target.label} at batch size {n}"
    )


def _refute_arithmetic(finding: Finding, obs: Observation) -> str | None:
    from tfpcheck.evidence.observations import fmt_shape

    where, n, seen = finding.where, obs.batch_size, []
    for target in obs.targets:
        _, en = obs.pair(target)
        if en is None or en.graph is None:
            continue
        graph = en.graph
        if any(_at(b.site, where.file, where.line) for b in graph.broadcasts):
            return None
        shape = next(
            (
                s
                for (f, line), s in graph.lines.items()
                if line == where.line and _same_file(f, where.file)
            ),
            None,
        )
        if shape is not None:
            seen.append((target, shape))
    if not seen:
        return None
    target, shape = seen[0]
    return (
        f"the loss traced with targets {target.label} makes terms of shape {fmt_shape(shape)} "
        f"at line {where.line} at batch size {n}"
    )


def refute_probe(finding: Finding, obs: Observation) -> str | None:
    """A source guess is disproved when the probe ran the line it names, as training does,
    and the result did not grow as N x N: the log_prob call the guess is about (evidence
    `log_prob_line`), or the loss's own arithmetic there (evidence `rank_drop_line`)."""
    if finding.where.layer is not None or finding.where.file is None:
        return None
    if "log_prob_line" in finding.evidence:
        return _refute_log_prob(finding, obs)
    if "rank_drop_line" in finding.evidence:
        return _refute_arithmetic(finding, obs)
    return None


RULE = Rule(
    check_probe=check_probe,
    refute_probe=refute_probe,
    code="TFP101",
    name="loss-broadcasts-across-batch",
    title="loss or log_prob terms grow as N x N",
    severity=Severity.ERROR,
    check_source=source_findings,
    # a loss of shape (N, N) varies with the batch and has an extra axis because of it
    explains=frozenset({"TFP107", "TFP103"}),
    doc=RuleDoc(
        what=(
            "Evaluates the loss at batch size 1 and N and reports a loss or `log_prob` "
            "result of shape (N, N): parameters of shape (N,) broadcast against targets of "
            "shape (N, 1), or the reverse. A loss function of your own is also traced with "
            "the shapes `fit` gives it, so a hand-written term such as `y_pred[:, 0] - "
            "y_true` that is (N, N) before the loss reduces it to a scalar is found at its "
            "line. In a loss or factory given as `FILE.py:NAME`, the static tier also reads "
            "the source and warns about rank-dropping slices (`y_pred[:, 0]`, "
            "`y_pred[..., 0]`, `tf.squeeze`) fed to a distribution whose `log_prob` scores "
            "the targets, or combined with `y_true` in arithmetic; the probe confirms such a "
            "warning, or drops it when it ran that line without the broadcast."
        ),
        why=(
            "Broadcasting does not fail: the loss becomes the average over all N x N "
            "prediction/target pairs, the model learns to predict the batch mean, and "
            "training looks normal."
        ),
        example=(
            "def loss(y_true, y_pred):               # y_true: (N, 1)\n"
            "    dist = tfd.Normal(loc=y_pred[:, 0], scale=tf.exp(y_pred[:, 1]))\n"
            "    return -dist.log_prob(y_true)       # (N, N)"
        ),
        use_instead=(
            "def loss(y_true, y_pred):\n"
            "    dist = tfd.Normal(loc=y_pred[:, 0:1], scale=tf.exp(y_pred[:, 1:2]))\n"
            "    return -dist.log_prob(y_true)       # (N, 1)"
        ),
    ),
)
