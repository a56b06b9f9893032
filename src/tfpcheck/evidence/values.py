"""What the probe's values say about themselves: a probability vector, values in (0, 1), the
distributions seen once each. Shared by the rules that confirm a static guess on values."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tfpcheck.evidence.observations import DistRecord, Observation
from tfpcheck.findings import Where

if TYPE_CHECKING:
    from numpy.typing import NDArray


def on_simplex(values: NDArray[Any]) -> bool:
    """Every row is in [0, 1] and sums to 1: a softmax's output (or probabilities)."""
    if values.ndim < 1 or values.shape[-1] < 2 or values.size == 0:
        return False
    if np.any(values < -1e-6) or np.any(values > 1 + 1e-6):
        return False
    return bool(np.all(np.abs(values.sum(axis=-1) - 1.0) < 1e-3))


def in_unit_interval(values: NDArray[Any]) -> bool:
    """Enough values, all strictly inside (0, 1): a sigmoid's output."""
    return values.size >= 8 and bool(np.all((values > 0) & (values < 1)))


def leaves_unit_interval(values: NDArray[Any]) -> bool:
    return bool(np.any(values < 0) or np.any(values > 1))


def row_sums(values: NDArray[Any]) -> list[float]:
    """The first three rows' sums, for a message."""
    return [round(float(v), 4) for v in values.reshape(-1, values.shape[-1]).sum(axis=-1)[:3]]


def distributions_once(obs: Observation) -> list[DistRecord]:
    """Each distribution seen at batch N, once (first sighting) per class, layer and site."""
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for record in obs.distributions_at(obs.batch_size):
        key = (record.distribution, record.layer, record.built_at)
        if key not in seen:
            seen.add(key)
            unique.append(record)
    return unique


def parameter_values(
    obs: Observation, parameter: str, distributions: frozenset[str]
) -> Iterator[tuple[DistRecord, NDArray[Any]]]:
    """The values one parameter (logits, probs) took in each of these distributions, once
    per distribution seen at batch N."""
    for record in distributions_once(obs):
        values = record.param_values.get(parameter)
        if values is not None and record.distribution in distributions:
            yield record, values


@dataclass(frozen=True)
class KerasLossInput:
    """The model's plain output as a Keras loss receives it at batch N."""

    values: NDArray[Any]
    loss: str
    from_logits: bool
    layer: str
    where: Where
    evidence: dict[str, Any]


def keras_loss_input(obs: Observation) -> KerasLossInput | None:
    """What a Keras loss was given, when the output is a tensor (not a distribution)."""
    from tfpcheck.evidence.observations import fmt_shape
    from tfpcheck.evidence.where import output_where

    loss = obs.loss
    forward = obs.forwards.get(obs.batch_size)
    if loss.kind != "keras" or forward is None or forward.output is None:
        return None
    if forward.output.is_distribution:
        return None  # the loss sees samples; TFP201 is about that
    values = forward.output.values
    if values is None:
        return None
    name = loss.name or ""
    evidence = {
        "loss": name,
        "from_logits": loss.from_logits,
        "output_shape": fmt_shape(values.shape),
        "min": float(values.min()),
        "max": float(values.max()),
    }
    layer = obs.output_layer.name if obs.output_layer else "the output"
    return KerasLossInput(values, name, bool(loss.from_logits), layer, output_where(obs), evidence)


def record_evidence(record: DistRecord) -> dict[str, Any]:
    evidence: dict[str, Any] = {"distribution": record.distribution}
    if record.built_at is not None:
        evidence["built_at"] = record.built_at.describe()
    return evidence
