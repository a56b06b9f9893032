"""How many passes a probe can afford, planned from what one forward pass at batch N costs.

A small model gets every pass: the per-example runs behind TFP106/TFP107 on all N examples,
gradients for every target shape, the stochastic repeat at batch N. A big one (a ResNet)
would pay several times what training one batch costs, so past `EXPENSIVE_SECONDS` the
probe keeps what the rules need and drops what only repeats it:

- gradients only for the target shape the findings are judged on (the other shape's loss is
  still evaluated: broadcasts are found from its shapes, not its gradients);
- the stochastic repeat at batch 1, where it costs 1/N (sampling or Flipout layers draw anew
  at any batch size);
- a few examples one at a time, eagerly (tracing a big model costs more than the examples),
  for TFP106; TFP107 needs all N and is skipped, which the plan's note says.
"""

from __future__ import annotations

from dataclasses import dataclass

EXPENSIVE_SECONDS = 0.5  # a forward pass at batch N longer than this plans the cheap way
FEW_EXAMPLES = 4  # examples run alone for TFP106 when a pass is expensive
SINGLES_BUDGET = 4.0  # seconds for running examples one at a time, on a cheap model


@dataclass(frozen=True)
class ProbePlan:
    forward_seconds: float  # one forward pass at batch N, as measured
    economical: bool

    @property
    def gradients_for_other_targets(self) -> bool:
        return not self.economical

    def stochastic_batch(self, n: int) -> int:
        return 1 if self.economical else n

    @property
    def singles_limit(self) -> int | None:
        """At most this many examples alone (None: all N, within the budget)."""
        return FEW_EXAMPLES if self.economical else None

    @property
    def traced_singles(self) -> bool:
        return not self.economical

    def note(self, n: int) -> str | None:
        if not self.economical:
            return None
        return (
            f"probe plan: a forward pass at batch {n} takes {self.forward_seconds:.1f} s, so "
            f"gradients only for the first target shape, the stochastic check at batch 1, and "
            f"{FEW_EXAMPLES} examples alone for TFP106 (TFP107 skipped)"
        )


def plan_for(forward_seconds: float) -> ProbePlan:
    return ProbePlan(forward_seconds, forward_seconds > EXPENSIVE_SECONDS)
