"""Parse the JSON documents of a model file into Python data, with errors a user can act on."""

from __future__ import annotations

import json
from typing import Any

from tfpcheck.model_file.types import ModelReadError


def parse_json(data: bytes | str, what: str) -> Any:
    """Decode `data` (the member or attribute named `what`) or raise ModelReadError."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelReadError(f"{what} is not UTF-8 text (byte {exc.start})") from None
    else:
        text = data
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelReadError(
            f"{what} is not valid JSON (line {exc.lineno} column {exc.colno})"
        ) from None
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise ModelReadError(f"{what} is not valid JSON ({exc})") from None
    except RecursionError:
        # json.loads recurses once per nesting level
        raise ModelReadError(f"{what} nests JSON too deeply to be a model config") from None


def type_name(value: Any) -> str:
    """JSON's name for the type of a parsed value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
