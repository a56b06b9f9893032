"""Build the shapes table (`tfpcheck.shapes`) from what one probe run observed."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from tfpcheck.evidence.observations import DistRecord, LossEval, Observation, TargetVariant
from tfpcheck.evidence.where import record_where
from tfpcheck.shapes import DistRow, DistShape, LossShapes, ShapeTable

Key = tuple[object, ...]


def shape_table(obs: Observation) -> ShapeTable:
    """The distributions of the loss evaluations the rules judged first: the canonical target
    shape where it ran, at batch 1 and N (a forward pass's alone when no loss ran)."""
    one, many, target = _evaluations(obs)
    n = obs.batch_size
    at_1 = _distributions(obs, one, 1)
    if n == 1:  # batch N is batch 1
        rows = [_row(obs, record, record, record) for record in at_1.values()]
    else:
        at_n = _distributions(obs, many, n)
        rows = [_row(obs, record, at_1.pop(key, None), record) for key, record in at_n.items()]
        # seen only at batch 1 (the batch-N pass failed before building them)
        rows += [_row(obs, record, record, None) for record in at_1.values()]
    loss = _loss(obs, one, many) if one is not None or many is not None else None
    return ShapeTable(
        batch_size=n,
        target=target.label if target is not None else "-",
        targets_source=obs.targets_source,
        rows=tuple(rows),
        loss=loss,
        output=obs.extra.get("output"),
    )


def _evaluations(
    obs: Observation,
) -> tuple[LossEval | None, LossEval | None, TargetVariant | None]:
    ranked = sorted(obs.targets, key=lambda t: not t.canonical)
    for target in ranked:
        one, many = obs.pair(target)
        if (one is None or one.ok) and (many is None or many.ok) and (one or many):
            return one, many, target
    for target in ranked:  # every target fails somewhere: show where
        one, many = obs.pair(target)
        return one, many, target
    return None, None, None


def _distributions(
    obs: Observation, evaluation: LossEval | None, size: int
) -> dict[Key, DistRecord]:
    """Each distribution built at this batch size (outside TFP's own log_prob), in build
    order, with the value and result of its first log_prob call; keyed to be paired with the
    same distribution at the other batch size."""
    if evaluation is not None:
        built, scored = evaluation.constructed, evaluation.records
    else:
        forward = obs.forwards.get(size)
        built, scored = (forward.constructed, forward.records) if forward else ([], [])
    calls: dict[int, DistRecord] = {}
    for record in scored:
        if record.depth == 0 and record.serial is not None:
            calls.setdefault(record.serial, record)
    entries: list[DistRecord] = []
    for record in built:
        if record.depth != 0:
            continue
        call = calls.pop(record.serial, None) if record.serial is not None else None
        if call is not None:
            record = _scored(record, call)
        entries.append(record)
    # scored distributions built before the probe watched (none in practice): still shown
    entries += calls.values()
    entries.sort(key=lambda r: r.serial if r.serial is not None else -1)
    seen: Counter[Key] = Counter()
    keyed: dict[Key, DistRecord] = {}
    for record in entries:
        site = record.built_at
        base = (
            record.distribution,
            record.in_loss,
            record.layer,
            None if site is None else (site.file, site.line, site.function),
        )
        keyed[(*base, seen[base])] = record
        seen[base] += 1
    return keyed


def _scored(built: DistRecord, call: DistRecord) -> DistRecord:
    return replace(
        built,
        value_shape=call.value_shape,
        result_shape=call.result_shape,
        call_site=call.call_site,
    )


def _shape_at(record: DistRecord | None) -> DistShape | None:
    if record is None:
        return None
    return DistShape(
        record.batch_shape, record.event_shape, record.value_shape, record.result_shape
    )


def _row(
    obs: Observation, record: DistRecord, one: DistRecord | None, many: DistRecord | None
) -> DistRow:
    return DistRow(
        where=record_where(obs, record),
        distribution=record.distribution,
        in_loss=record.in_loss,
        at_1=_shape_at(one),
        at_n=_shape_at(many),
    )


def _loss(obs: Observation, one: LossEval | None, many: LossEval | None) -> LossShapes:
    failed = next((e for e in (many, one) if e is not None and e.error is not None), None)
    site = obs.loss.site  # a function of the user's: its name (its line is in the rows)
    return LossShapes(
        label=site.function if site is not None else obs.loss.label,
        y_true_1=one.y_true_seen or one.y_shape if one else None,
        y_true_n=many.y_true_seen or many.y_shape if many else None,
        y_pred_1=one.y_pred_seen if one else None,
        y_pred_n=many.y_pred_seen if many else None,
        per_example_1=one.per_example_shape if one else None,
        per_example_n=many.per_example_shape if many else None,
        error=failed.error.describe() if failed is not None and failed.error else None,
    )
