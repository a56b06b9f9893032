"""TFP006: can a factory's model be saved with model.save() and loaded back?"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from typing import Any

from tfpcheck.evidence.sites import ErrorSummary
from tfpcheck.findings import Finding
from tfpcheck.probe.frames import summarize_error
from tfpcheck.probe.load import TF_KERAS, UNKNOWN_OBJECT, Loaded
from tfpcheck.rules import tfp006_save_roundtrip_fails as tfp006

LAYER_IN_MESSAGE = (
    re.compile(r"layer=(\w+)"),
    re.compile(r"[Uu]nknown layer:?\s*'?(\w+)"),
    re.compile(r"Could not locate class '(\w+)'"),
    re.compile(r"calling layer '(\w+)'"),
    re.compile(r"[Ll]ayer '?(\w+)"),
)
UNKNOWN_ANY = re.compile(r"Unknown [\w -]+?:\s*'([\w.]+)'")


def _load(loaded: Loaded, path: str, compile: bool) -> Any:
    if loaded.flavor == TF_KERAS:
        return loaded.keras.models.load_model(path, safe_mode=False, compile=compile)
    return loaded.keras.saving.load_model(path, safe_mode=False, compile=compile)


def _leaves(model: Any, prefix: str = "") -> list[tuple[str, Any, int | None]]:
    found: list[tuple[str, Any, int | None]] = []
    for index, layer in enumerate(getattr(model, "layers", [])):
        name = f"{prefix}{layer.name}"
        if getattr(layer, "layers", None):
            found += [(n, sub, index if not prefix else None) for n, sub, _ in _leaves(layer, "")]
        found.append((name, layer, index if not prefix else None))
    return found


def _layer_error(keras: Any, layer: Any) -> str | None:
    """Why this layer alone does not survive serialize + deserialize; None when it does."""
    saving = keras.saving
    try:
        config = json.loads(json.dumps(saving.serialize_keras_object(layer)))
        saving.deserialize_keras_object(config, safe_mode=False)
    except Exception as exc:
        return summarize_error(exc).message
    return None


def _config_text(keras: Any, layer: Any) -> str:
    try:
        return json.dumps(keras.saving.serialize_keras_object(layer), default=str)
    except Exception:
        return ""


def _candidates(loaded: Loaded) -> list[tuple[str, Any, int]]:
    """Every layer, innermost first within a nested model: (qualified name, layer, top index)."""
    found: list[tuple[str, Any, int]] = []
    for index, layer in enumerate(loaded.model.layers):
        for sub in getattr(layer, "layers", None) or []:
            found.append((f"{layer.name}/{sub.name}", sub, index))
        found.append((layer.name, layer, index))
    return found


def _unknown_name(message: str) -> str | None:
    """The object Keras could not find: "Unknown layer: 'X'", "Unknown convert-to-tensor
    function: 'X'", "Could not locate function 'X'"."""
    match = UNKNOWN_OBJECT.search(message) or UNKNOWN_ANY.search(message)
    return match.group(match.lastindex or 0) if match else None


def _culprit(summary: ErrorSummary, loaded: Loaded) -> tuple[str | None, int | None, str | None]:
    """The layer that breaks the round trip: named by the error, else found layer by layer.

    Several layers may fail on their own (tfp.layers.MultivariateNormalTriL lacks a
    get_config, yet loads inside a model); the one to name is the one whose failure is the
    error the model's load raised.
    """
    top = list(enumerate(loaded.model.layers))
    for pattern in LAYER_IN_MESSAGE:
        match = pattern.search(summary.message)
        if match:
            word = match.group(1)
            for index, layer in top:
                if word in (layer.name, type(layer).__name__):
                    return layer.name, index, type(layer).__name__
    candidates = _candidates(loaded)
    missing = _unknown_name(summary.message)
    if missing:  # the layer whose config names the object Keras cannot find
        value = f'": "{missing}"'
        for name, layer, index in candidates:
            if value in _config_text(loaded.keras, layer):
                return name, index, type(layer).__name__
    failing = [
        (name, layer, index, error)
        for name, layer, index in candidates
        if (error := _layer_error(loaded.keras, layer)) is not None
    ]
    same = [f for f in failing if f[3] == summary.message]
    for name, layer, index, _ in same or failing:
        return name, index, type(layer).__name__
    return None, None, None


def check_roundtrip(loaded: Loaded) -> list[Finding]:
    directory = tempfile.mkdtemp(prefix="tfpcheck-roundtrip-")
    path = os.path.join(directory, "model.keras")
    stage = "save"
    loss_only: str | None = None
    try:
        try:
            loaded.model.save(path)
            stage = "load"
            _load(loaded, path, compile=True)
            return []
        except Exception as exc:
            summary = summarize_error(exc)
        if stage == "load":
            missing = UNKNOWN_OBJECT.search(summary.message)
            try:
                _load(loaded, path, compile=False)
                loss_only = missing.group(3) if missing else "the compiled loss"
            except Exception:
                loss_only = None
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if loss_only is not None:
        return [tfp006.loss_not_restored(loss_only, summary)]
    layer, index, class_name = _culprit(summary, loaded)
    return [tfp006.not_serializable(stage, summary, layer, index, class_name)]
