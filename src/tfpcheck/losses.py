"""Loss specs: names and aliases of Keras losses, `nll`, `compiled`, and user functions."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from typing import Literal

# Re-exported: the rules and the probe import these from here.
from tfpcheck.catalog.keras_losses import CROSS_ENTROPY_LOSSES as CROSS_ENTROPY_LOSSES
from tfpcheck.catalog.keras_losses import LOGIT_AWARE_LOSSES as LOGIT_AWARE_LOSSES
from tfpcheck.catalog.keras_losses import LOSS_NAMES
from tfpcheck.catalog.keras_losses import canonical_loss_name as canonical_loss_name

# The names users type for a Keras loss, for suggestions (tfpcheck.catalog.keras_losses).
LOSS_ALIASES = LOSS_NAMES

LossKind = Literal["nll", "keras", "compiled", "function"]
# Said when a distribution-valued output with no compiled or given loss is probed with nll
DEFAULT_NLL_NOTE = "no loss compiled or given: probing with --loss nll (-log_prob of the output)"


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
