"""Loss specs: names and aliases of Keras losses, `nll`, `compiled`, and user functions."""

from __future__ import annotations

import ast
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
        raise LossSpecError(
            f"unknown loss '{value}': use nll, compiled, a Keras loss name "
            "(categorical_crossentropy/cce, sparse_categorical_crossentropy/scce, "
            "binary_crossentropy/bce, mse, mae, huber, kld, poisson, ...) or FILE.py:NAME"
        )
    return LossSpec("keras", name=name, from_logits=from_logits)


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
    return f"--loss {given}: {what}{place}: {message}; fix the file or give another --loss"


def unparsable_loss_file(spec: LossSpec) -> str | None:
    """Why the FILE.py of `--loss FILE.py:NAME` cannot be imported, found by parsing it, not
    running it (before TensorFlow starts, and with --static too); None when it parses, or
    when it is not a file that can be read (the probe says what is wrong then)."""
    if spec.kind != "function" or not spec.target:
        return None
    from tfpcheck.source_scan import file_of_spec

    path = file_of_spec(spec.target)
    if path is None:
        return None
    try:
        source = path.read_bytes()
        # Bytes, as the import system reads them: a coding line or a BOM is honoured.
        compile(source, str(path), "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:  # IndentationError and TabError too
        return loss_file_error(spec.target, type(exc).__name__, exc.msg, None, exc.lineno)
    except ValueError as exc:  # null bytes (Python 3.11)
        return loss_file_error(spec.target, type(exc).__name__, str(exc), None, None)
    except (OSError, RecursionError, MemoryError):  # unreadable, or too deep to parse here
        return None
    return None
