"""Keras activations and the tensor functions lambdas call, by the range of what they output.

An activation is named as a config records it (`Dense(activation="softmax")`, a serialized
activation's name); a function by the last part of its call in a lambda or a loss
(`tf.math.softplus(t)` is "softplus", `tf.raw_ops.Relu(features=t)` is "Relu").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Squash = Literal["softmax", "sigmoid"]
KerasFlavor = Literal["tf_keras", "keras3"]

INF = math.inf


@dataclass(frozen=True)
class OutputRange:
    """The values a function can output: [low, high], each end included or not; `simplex`
    when they also sum to 1 along the last axis."""

    low: float
    high: float
    low_included: bool = True
    high_included: bool = True
    simplex: bool = False

    @property
    def positive(self) -> bool:
        """Every value > 0 (a valid scale, rate or concentration)."""
        return self.low > 0 or (self.low == 0 and not self.low_included)

    @property
    def nonnegative(self) -> bool:
        return self.low >= 0

    @property
    def unit_interval(self) -> bool:
        return self.low >= 0 and self.high <= 1

    @property
    def unbounded(self) -> bool:
        return self.low == -INF and self.high == INF

    @property
    def kind(self) -> str:
        """The most telling name for the range: simplex, unit interval, positive, ..."""
        if self.simplex:
            return "simplex"
        if self.unit_interval:
            return "unit interval"
        if self.positive:
            return "positive"
        if self.nonnegative:
            return "non-negative"
        if self.unbounded:
            return "unbounded"
        return "bounded" if self.low > -INF and self.high < INF else "half-bounded"

    def contains(self, value: float) -> bool:
        above = value > self.low or (self.low_included and value == self.low)
        below = value < self.high or (self.high_included and value == self.high)
        return above and below


UNBOUNDED = OutputRange(-INF, INF, False, False)
POSITIVE = OutputRange(0.0, INF, False, False)
NONNEGATIVE = OutputRange(0.0, INF, True, False)
OPEN_UNIT = OutputRange(0.0, 1.0, False, False)
CLOSED_UNIT = OutputRange(0.0, 1.0)
SIMPLEX = OutputRange(0.0, 1.0, False, False, simplex=True)
OPEN_SYMMETRIC = OutputRange(-1.0, 1.0, False, False)


def _below(low: float, included: bool = True) -> OutputRange:
    """Bounded below only; `low` rounded outward where the true minimum is irrational."""
    return OutputRange(low, INF, included, False)


@dataclass(frozen=True)
class Activation:
    name: str
    range: OutputRange
    # whose `activations.get` resolves the name; empty: a layer only (PReLU)
    kerases: tuple[KerasFlavor, ...] = ("tf_keras", "keras3")
    squash: Squash | None = None  # the squash logits= / from_logits=True would apply again
    keeps_logits: bool = False  # softmax of its output is softmax of its input
    same_as: str | None = None  # another name for the same function (swish and silu)


_ACTIVATIONS = (
    Activation("linear", UNBOUNDED, keeps_logits=True),
    Activation("relu", NONNEGATIVE),
    Activation("relu6", OutputRange(0.0, 6.0)),
    Activation("leaky_relu", UNBOUNDED),
    Activation("prelu", UNBOUNDED, kerases=()),
    Activation("elu", _below(-1.0, included=False)),
    # -scale * alpha of selu, rounded down
    Activation("selu", _below(-1.7580994, included=False)),
    Activation("gelu", _below(-0.17)),  # minimum -0.16997 near x = -0.75
    Activation("silu", _below(-0.2785)),  # minimum -0.27846 near x = -1.28
    Activation("swish", _below(-0.2785), same_as="silu"),
    Activation("mish", _below(-0.3089)),  # minimum -0.30884 near x = -1.19
    Activation("hard_silu", _below(-0.375), kerases=("keras3",)),
    Activation("hard_swish", _below(-0.375), kerases=("keras3",), same_as="hard_silu"),
    Activation("tanh", OPEN_SYMMETRIC),
    Activation("softsign", OPEN_SYMMETRIC),
    Activation("sigmoid", OPEN_UNIT, squash="sigmoid"),
    Activation("hard_sigmoid", CLOSED_UNIT, squash="sigmoid"),
    Activation("softplus", POSITIVE),
    Activation("exponential", POSITIVE),
    Activation("softmax", SIMPLEX, squash="softmax"),
    Activation("log_softmax", OutputRange(-INF, 0.0, False, False), keeps_logits=True),
)
ACTIVATIONS: dict[str, Activation] = {a.name: a for a in _ACTIVATIONS}

# How configs spell some activations: tf_keras saves tf.nn.softmax as "softmax_v2".
ACTIVATION_ALIASES = {"none": "linear", "softmax_v2": "softmax"}

# Keras layers that are an activation by themselves, and which one.
ACTIVATION_LAYER_CLASSES = {
    "Softmax": "softmax",
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "ELU": "elu",
    "PReLU": "prelu",
}


def canonical_activation(name: str) -> str:
    """The activation a config names, as this catalog names it: "softmax_v2" -> "softmax"."""
    name = name.lower()
    return ACTIVATION_ALIASES.get(name, name)


def activation_range(name: str) -> OutputRange | None:
    found = ACTIVATIONS.get(canonical_activation(name))
    return None if found is None else found.range


def squash_of(name: str) -> Squash | None:
    """ "softmax" or "sigmoid" when the activation is that squash (or a cruder one of it)."""
    found = ACTIVATIONS.get(canonical_activation(name))
    return None if found is None else found.squash


def activations_where(
    *, positive: bool | None = None, nonnegative: bool | None = None
) -> frozenset[str]:
    """Activation names whose range is (or is not) positive / non-negative."""
    return frozenset(
        a.name
        for a in _ACTIVATIONS
        if (positive is None or a.range.positive == positive)
        and (nonnegative is None or a.range.nonnegative == nonnegative)
    )


POSITIVE_ACTIVATIONS = activations_where(positive=True)
NONNEGATIVE_ACTIVATIONS = activations_where(nonnegative=True)
# Activations that change logits: everything but the identity and log_softmax (a shift).
LOGIT_CHANGING_ACTIVATIONS = frozenset(a.name for a in _ACTIVATIONS if not a.keeps_logits)


# ---- tensor functions, by the last part of their call ----------------------------------


@dataclass(frozen=True)
class TensorFunction:
    name: str  # "softplus", "Relu" (tf.raw_ops spell them capitalized)
    range: OutputRange
    # where a non-negative function is exactly 0: at its input's 0 (abs, square), or for
    # every input <= 0 (relu)
    zero: Literal["at_zero", "below_zero"] | None = None


def _functions(names: str, range_: OutputRange, zero: str | None = None) -> list[TensorFunction]:
    return [TensorFunction(n, range_, zero) for n in names.split()]  # type: ignore[arg-type]


_TENSOR_FUNCTIONS = (
    *_functions("exp Exp exponential", POSITIVE),
    *_functions("softplus Softplus", POSITIVE),
    *_functions("sigmoid Sigmoid", OPEN_UNIT),
    *_functions("softmax Softmax", SIMPLEX),
    *_functions("abs absolute Abs", NONNEGATIVE, "at_zero"),
    *_functions("square Square", NONNEGATIVE, "at_zero"),
    *_functions("relu Relu", NONNEGATIVE, "below_zero"),
    *_functions("relu6 Relu6", OutputRange(0.0, 6.0), "below_zero"),
)
TENSOR_FUNCTIONS: dict[str, TensorFunction] = {f.name: f for f in _TENSOR_FUNCTIONS}

# Calls whose result is > 0 whatever their input.
POSITIVE_FUNCTIONS = frozenset(f.name for f in _TENSOR_FUNCTIONS if f.range.positive)
# Calls whose result is >= 0, and exactly 0 for some inputs.
ZERO_REACHING_FUNCTIONS = frozenset(f.name for f in _TENSOR_FUNCTIONS if f.zero is not None)
# ... 0 for every input <= 0, not just at 0.
ZERO_BELOW_FUNCTIONS = frozenset(f.name for f in _TENSOR_FUNCTIONS if f.zero == "below_zero")
NONNEGATIVE_FUNCTIONS = POSITIVE_FUNCTIONS | ZERO_REACHING_FUNCTIONS
# Calls whose result lies in [0, 1]: probabilities made from raw values.
PROBABILITY_FUNCTIONS = frozenset(f.name for f in _TENSOR_FUNCTIONS if f.range.unit_interval)
