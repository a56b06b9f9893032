"""TFP104 distribution-parameter-broadcast: per-example parameters of different shapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tfpcheck.findings import Finding, Severity
from tfpcheck.rules.base import FixedBy, Rule, RuleDoc

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import DistRecord, Observation


def broadcast_parameters(record: DistRecord, n: int) -> dict[str, tuple[int, ...]] | None:
    """Per-example parameters (leading axis N) whose batch parts differ by broadcasting."""
    per_example = {k: s for k, s in record.param_batch_shapes.items() if len(s) >= 2 and s[0] == n}
    if len(per_example) < 2:
        return None
    ranks = {len(s) for s in per_example.values()}
    if len(ranks) != 1:
        return None
    rank = ranks.pop()
    for axis in range(1, rank):
        sizes = {s[axis] for s in per_example.values()}
        if len(sizes) > 1 and 1 in sizes:
            return per_example
    return None


def _records(obs: Observation, batch_size: int) -> list[DistRecord]:
    return obs.distributions_at(batch_size)


def _key(record: DistRecord) -> tuple[Any, ...]:
    site = record.built_at.describe() if record.built_at else None
    return (record.distribution, record.layer, site)


def width_fix(obs: Observation, record: DistRecord, params: dict[str, tuple[int, ...]]) -> str:
    widths = {k: s[-1] for k, s in params.items()}
    narrow = min(widths.values())
    needed = narrow * len(widths)
    total = sum(widths.values())
    target = f"'{record.layer}'" if record.layer else "the distribution"
    described = ", ".join(f"{k} gets {w}" for k, w in widths.items())
    info = obs.layer(record.layer)
    before = obs.layers[info.index - 1] if info is not None and info.index > 0 else None
    after = (
        f"after '{before.name}' ({before.class_name}({before.units}))"
        if before is not None and before.units
        else f"after the layer producing the {total} values"
    )
    return (
        f"The {total} values feeding {target} are split unevenly ({described}). Give it "
        f"exactly {needed} values: add Dense({needed}) directly before {target}, {after}, "
        f"so each parameter gets {narrow}."
    )


def check_probe(obs: Observation) -> Iterator[Finding]:
    from tfpcheck.evidence.observations import fmt_shape
    from tfpcheck.evidence.where import probe_finding, record_where

    n = obs.batch_size
    if n < 2:
        return
    at_one = {_key(r): r for r in _records(obs, 1)}
    seen: set[tuple[Any, ...]] = set()
    for record in _records(obs, n):
        params = broadcast_parameters(record, n)
        if params is None or _key(record) in seen:
            continue
        seen.add(_key(record))
        single = at_one.get(_key(record))
        shapes = ", ".join(f"{k} {fmt_shape(s)}" for k, s in params.items())
        evidence: dict[str, Any] = {
            "distribution": record.distribution,
            f"parameters_at_{n}": {k: fmt_shape(s) for k, s in params.items()},
            "batch_shape": fmt_shape(record.batch_shape),
        }
        if single is not None:
            evidence["parameters_at_1"] = {k: fmt_shape(single.param_shapes.get(k)) for k in params}
        if record.built_at is not None:
            evidence["built_at"] = record.built_at.describe()
        yield probe_finding(
            RULE,
            f"{record.distribution} gets parameters of different shapes ({shapes}) that "
            f"broadcast to batch shape {fmt_shape(record.batch_shape)}: each example gets "
            f"{record.batch_shape[-1] if record.batch_shape else '?'} distributions where "
            "one was meant",
            width_fix(obs, record, params),
            record_where(obs, record),
            evidence,
        )


RULE = Rule(
    check_probe=check_probe,
    code="TFP104",
    name="distribution-parameter-broadcast",
    title="distribution parameters of different shapes broadcast together",
    severity=Severity.ERROR,
    explains=frozenset({"TFP103"}),  # the broadcast adds the loss's extra axes
    # a broadcast of a head fed the wrong width is fixed by fixing the width
    fixed_by=FixedBy("TFP105", "The width feeding '{layer}' is the cause: see {cause}'s fix."),
    doc=RuleDoc(
        what=(
            "Watches every distribution built while probing and reports per-example "
            "parameters of different shapes that broadcast against each other, such as "
            "loc (N, 1) and scale (N, 63)."
        ),
        why=(
            "TFP broadcasts parameters silently: the distribution gets the larger batch "
            "shape, the loss averages over values that are not outputs, and the prediction "
            "uncertainty is meaningless."
        ),
        example=(
            "tfk.layers.Dense(64, activation='relu'),\n"
            "tfp.layers.DistributionLambda(lambda t: tfd.Normal(\n"
            "    loc=t[..., :1], scale=tf.exp(t[..., 1:])))   # loc (N, 1), scale (N, 63)"
        ),
        use_instead=(
            "tfk.layers.Dense(64, activation='relu'),\n"
            "tfk.layers.Dense(2),\n"
            "tfp.layers.DistributionLambda(lambda t: tfd.Normal(\n"
            "    loc=t[..., :1], scale=1e-3 + tf.math.softplus(t[..., 1:])))"
        ),
    ),
)
