"""Keras losses (tf_keras 2.x and Keras 3): names, aliases, class names, what they expect.

Each loss is named by its canonical function name, the `__name__` of the function both
Kerases' `losses.get` return for it (`losses.get("mse")` is `mean_squared_error`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Labels = Literal["one_hot", "sparse", "binary"]
Squash = Literal["softmax", "sigmoid"]


@dataclass(frozen=True)
class KerasLoss:
    name: str  # the canonical function name
    class_name: str  # the Loss class wrapping it, as compile configs record it
    aliases: tuple[str, ...] = ()  # other names both Kerases' losses.get accept
    tf_keras_aliases: tuple[str, ...] = ()  # names only tf_keras accepts
    # the targets it expects: one-hot rows, integer class labels, or 0/1 values
    labels: Labels | None = None
    # what from_logits=True applies to the predictions; None: no from_logits argument
    squash: Squash | None = None

    @property
    def takes_from_logits(self) -> bool:
        return self.squash is not None


_LOSSES = (
    KerasLoss(
        "categorical_crossentropy", "CategoricalCrossentropy", labels="one_hot", squash="softmax"
    ),
    KerasLoss(
        "sparse_categorical_crossentropy",
        "SparseCategoricalCrossentropy",
        labels="sparse",
        squash="softmax",
    ),
    KerasLoss(
        "categorical_focal_crossentropy",
        "CategoricalFocalCrossentropy",
        labels="one_hot",
        squash="softmax",
    ),
    KerasLoss(
        "binary_crossentropy", "BinaryCrossentropy", ("bce",), labels="binary", squash="sigmoid"
    ),
    KerasLoss(
        "binary_focal_crossentropy", "BinaryFocalCrossentropy", labels="binary", squash="sigmoid"
    ),
    KerasLoss("mean_squared_error", "MeanSquaredError", ("mse",)),
    KerasLoss("mean_absolute_error", "MeanAbsoluteError", ("mae",)),
    KerasLoss("mean_absolute_percentage_error", "MeanAbsolutePercentageError", ("mape",)),
    KerasLoss("mean_squared_logarithmic_error", "MeanSquaredLogarithmicError", ("msle",)),
    KerasLoss("huber", "Huber", tf_keras_aliases=("huber_loss",)),
    KerasLoss("log_cosh", "LogCosh", tf_keras_aliases=("logcosh",)),
    KerasLoss(
        "kl_divergence", "KLDivergence", ("kld",), tf_keras_aliases=("kullback_leibler_divergence",)
    ),
    KerasLoss("poisson", "Poisson"),
    KerasLoss("hinge", "Hinge"),
    KerasLoss("squared_hinge", "SquaredHinge"),
    KerasLoss("categorical_hinge", "CategoricalHinge"),
    KerasLoss("cosine_similarity", "CosineSimilarity"),
)
KERAS_LOSSES: dict[str, KerasLoss] = {loss.name: loss for loss in _LOSSES}

# tfpcheck's own short names for --loss; no Keras accepts these.
SHORTHANDS = {"cce": "categorical_crossentropy", "scce": "sparse_categorical_crossentropy"}


def _key(name: str) -> str:
    """Names compared without case and underscores: MeanSquaredError = mean_squared_error."""
    return name.strip().lower().replace("_", "")


# Every name a loss goes by (canonical, aliases, class name, shorthands) -> canonical name.
LOSS_NAMES: dict[str, str] = {
    **{
        spelled: loss.name
        for loss in _LOSSES
        for spelled in (loss.name, *loss.aliases, *loss.tf_keras_aliases, loss.class_name.lower())
    },
    **SHORTHANDS,
}
_BY_KEY = {_key(spelled): name for spelled, name in LOSS_NAMES.items()}


def canonical_loss_name(name: str) -> str | None:
    """The canonical function name of a Keras loss name, alias or class name; None for a
    name that is none of those."""
    return _BY_KEY.get(_key(name))


def _where(labels: Labels | None = None, squash: Squash | None = None) -> frozenset[str]:
    return frozenset(
        loss.name
        for loss in _LOSSES
        if (labels is None or loss.labels == labels) and (squash is None or loss.squash == squash)
    )


ONE_HOT_CONSUMERS = _where(labels="one_hot")
SPARSE_CONSUMERS = _where(labels="sparse")
BINARY_CONSUMERS = _where(labels="binary")
# Cross-entropies whose from_logits=True applies a softmax / a sigmoid.
SOFTMAX_LOSSES = _where(squash="softmax")
SIGMOID_LOSSES = _where(squash="sigmoid")
# Losses that accept from_logits; the flag means nothing to the others.
LOGIT_AWARE_LOSSES = SOFTMAX_LOSSES | SIGMOID_LOSSES
CROSS_ENTROPY_LOSSES = LOGIT_AWARE_LOSSES
# canonical name -> class name of the losses that take from_logits, to build one with it
LOSS_CLASSES = {loss.name: loss.class_name for loss in _LOSSES if loss.takes_from_logits}
