"""The values options take: checks of values read from a configuration file, and the
command line's own conversions of what was typed.

A configuration value is checked when its file is read, so that the message names its key and
its file (`BadValue` says what it should have been; the caller adds where). It comes out in
the form the command line gives the same option, so that both go through one conversion.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tfpcheck.references import is_file_target

_CODE_PREFIX = re.compile(r"TFP\d{0,3}", re.IGNORECASE)
# --target-shape for one scalar per example: targets shaped (N,)
SCALAR_TARGET = ("scalar", "()")

Validator = Callable[[Any, Path], Any]


class UsageError(Exception):
    """A mistake on the command line: one line on stderr, exit status 2."""


class BadValue(Exception):
    """What a configuration value should have been (the caller adds the key and the file)."""


# -- configuration values -------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def boolean(value: Any, base: Path) -> bool:
    if not isinstance(value, bool):
        raise BadValue("must be true or false")
    return value


def integer(minimum: int) -> Validator:
    def check(value: Any, base: Path) -> int:
        if not _is_int(value) or value < minimum:
            raise BadValue(f"must be an integer >= {minimum}")
        return int(value)

    return check


def seconds(value: Any, base: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise BadValue("must be a number of seconds > 0, like 120 or 2.5")
    return float(value)


def target_shape(value: Any, base: Path) -> str:
    if value == "scalar" or value == []:  # one scalar per example: targets (N,)
        return "scalar"
    dims = [value] if _is_int(value) else value
    if not isinstance(dims, list) or not dims or not all(_is_int(d) and d > 0 for d in dims):
        raise BadValue(
            'must be a positive integer or a list of them, like 1 or [28, 28], or "scalar"'
        )
    return ",".join(str(d) for d in dims)  # the command line's form: --target-shape 28,28


def codes(value: Any, base: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadValue('must be a list of rule code prefixes, like ["TFP2", "TFP301"]')
    for code in value:
        if not _CODE_PREFIX.fullmatch(code.strip()):
            raise BadValue(f"entry '{code}' is not a rule code prefix like TFP, TFP2 or TFP202")
    return [code.strip().upper() for code in value]


def choice(allowed: list[str]) -> Validator:
    def check(value: Any, base: Path) -> str:
        if value not in allowed:
            raise BadValue("must be one of " + ", ".join(f'"{c}"' for c in allowed))
        return str(value)

    return check


def string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadValue("must be a non-empty string")
    return value.strip()


def file_path(value: Any, base: Path) -> str:
    return str(base / string(value))  # an absolute value stays as it is


def loss(value: Any, base: Path) -> str:
    from tfpcheck.losses import LossSpecError, parse_loss_spec

    text = string(value)
    try:
        spec = parse_loss_spec(text)
    except LossSpecError as exc:
        raise BadValue(str(exc)) from None
    if spec.kind == "function":
        target, _, name = text.rpartition(":")
        if not target or not name:
            raise BadValue("must be FILE.py:NAME or module:NAME for a loss function")
        if is_file_target(target):
            return f"{base / target}:{name}"
    return text


def custom_objects(value: Any, base: Path) -> str:
    text = string(value)
    return str(base / text) if is_file_target(text) else text


# -- command-line values --------------------------------------------------------------------


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    if text.replace(" ", "").lower() in SCALAR_TARGET:
        return ()
    try:
        dims = tuple(int(d) for d in text.replace(" ", "").strip("()").split(",") if d)
    except ValueError:
        raise UsageError(
            f"--target-shape '{text}' must be integers like 1 or 28,28, or scalar"
        ) from None
    if not dims or any(d <= 0 for d in dims):
        raise UsageError(
            f"--target-shape '{text}' must be positive integers like 1 or 28,28, or scalar"
        )
    return dims


def split_codes(values: list[str] | None, option: str) -> list[str]:
    found = [code.strip() for value in values or [] for code in value.split(",") if code.strip()]
    for code in found:
        check_code_prefix(code, option)
    return found


def check_code_prefix(prefix: str, option: str) -> None:
    """A --select/--ignore prefix that matches no rule selects or ignores nothing: a typo."""
    from tfpcheck.rules import REGISTRY

    known = [rule.code for rule in REGISTRY]
    if any(code.startswith(prefix.upper()) for code in known):
        return
    close = difflib.get_close_matches(prefix.upper(), known, n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise UsageError(f"{option} {prefix}: no rule code starts with '{prefix}'{hint}")
