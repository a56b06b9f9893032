"""Loss specs: names and aliases of Keras losses, `nll`, `compiled`, and user functions."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from typing import Literal

# Canonical Keras loss function names and the aliases users type (Keras' own aliases plus
# the class names, so `CategoricalCrossentropy` from a compile config maps here too).
LOSS_ALIASES: dict[str, str] = {
    "categorical_crossentropy": "categorical_crossentropy",
    "cce": "categorical_crossentropy",
    "categoricalcrossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "scce": "sparse_categorical_crossentropy",
    "sparsecategoricalcrossentropy": "sparse_categorical_crossentropy",
    "binary_crossentropy": "binary_crossentropy",
    "bce": "binary_crossentropy",
    "binarycrossentropy": "binary_crossentropy",
    "binary_focal_crossentropy": "binary_focal_crossentropy",
    "binaryfocalcrossentropy": "binary_focal_crossentropy",
    "categorical_focal_crossentropy": "categorical_focal_crossentropy",
    "categoricalfocalcrossentropy": "categorical_focal_crossentropy",
    "mean_squared_error": "mean_squared_error",
    "mse": "mean_squared_error",
    "meansquarederror": "mean_squared_error",
    "mean_absolute_error": "mean_absolute_error",
    "mae": "mean_absolute_error",
    "meanabsoluteerror": "mean_absolute_error",
    "mean_absolute_percentage_error": "mean_absolute_percentage_error",
    "mape": "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error": "mean_squared_logarithmic_error",
    "msle": "mean_squared_logarithmic_error",
    "huber": "huber",
    "huber_loss": "huber",
    "log_cosh": "log_cosh",
    "logcosh": "log_cosh",
    "kl_divergence": "kl_divergence",
    "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
    "kldivergence": "kl_divergence",
    "poisson": "poisson",
    "hinge": "hinge",
    "squared_hinge": "squared_hinge",
    "categorical_hinge": "categorical_hinge",
    "cosine_similarity": "cosine_similarity",
}

CROSS_ENTROPY_LOSSES = frozenset(
    {
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
        "binary_crossentropy",
        "binary_focal_crossentropy",
        "categorical_focal_crossentropy",
    }
)
# Losses that accept from_logits; the flag means nothing to the others.
LOGIT_AWARE_LOSSES = CROSS_ENTROPY_LOSSES

LossKind = Literal["nll", "keras", "compiled", "function"]
# Said when a distribution-valued output with no compiled or given loss is probed with nll
DEFAULT_NLL_NOTE = "no loss compiled or given: probing with --loss nll (-log_prob of the output)"


def canonical_loss_name(name: str) -> str | None:
    """Map a Keras loss name, alias or class name to its canonical function name."""
    key = name.strip().lower()
    return LOSS_ALIASES.get(key) or LOSS_ALIASES.get(key.replace("_", ""))


@dataclass(frozen=True)
class LossSpec:
    kind: LossKind
    name: str | None = None  # canonical Keras loss name for kind == "keras"
    from_logits: bool = False
    target: str | None = None  # "FILE.py:NAME" or "module:NAME" for kind == "function"

    def describe(self) -> str:
        if self.kind == "keras":
            return f"{self.name}(from_logits={self.from_logits})"
        if self.kind == "function":
            return str(self.target)
        return self.kind


class LossSpecError(ValueError):
    """A --loss value that names no loss we know."""


def parse_loss_spec(text: str, from_logits: bool = False) -> LossSpec:
    value = text.strip()
    if value == "nll":
        return LossSpec("nll")
    if value == "compiled":
        return LossSpec("compiled", from_logits=from_logits)
    if ":" in value:
        return LossSpec("function", target=value)
    name = canonical_loss_name(value)
    if name is None:
        close = difflib.get_close_matches(value.lower(), ["nll", "compiled", *LOSS_ALIASES], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise LossSpecError(
            f"unknown loss '{value}'{hint}: use nll, compiled, a Keras loss name "
            "(categorical_crossentropy/cce, sparse_categorical_crossentropy/scce, "
            "binary_crossentropy/bce, mse, mae, huber, kld, poisson, ...) or FILE.py:NAME"
        )
    return LossSpec("keras", name=name, from_logits=from_logits)


LOSS_FILE_FIX = "fix the file or give another --loss"


def loss_file_error(
    target: str, what: str, message: str, file: str | None, line: int | None
) -> str:
    """The one-line usage error for a `--loss FILE.py:NAME` (or module:NAME) whose module
    cannot be imported: `what` (SyntaxError, ZeroDivisionError, ...) at `file`:`line`."""
    given = target.rpartition(":")[0] or target  # FILE.py or module, as the user wrote it
    place = ""
    if line:
        same = file is not None and os.path.abspath(file) == os.path.abspath(given)
        place = f" at line {line}" if same or file is None else f" at {file}:{line}"
    return f"--loss {target}: {what}{place}: {message}; {LOSS_FILE_FIX}"
    return None
