"""The JSON documents a model file holds, before they are interpreted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tfpcheck.model_file.types import FileFormat


@dataclass(frozen=True)
class RawModel:
    format: FileFormat
    config: dict[str, Any]  # {"class_name": ..., "config": {...}} of the saved model
    keras_version: str | None
    compile_config: Any = None  # compile_config (.keras) or training_config (.h5), as stored
