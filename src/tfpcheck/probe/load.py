"""Load the model with the Keras that wrote it, or build it from the user's factory."""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tfpcheck.catalog.tfp_layers import TFP_LAYER_NAMES
from tfpcheck.evidence.sites import ErrorSummary
from tfpcheck.findings import Finding, Where
from tfpcheck.probe.frames import summarize_error
from tfpcheck.probe.rebuild import Unrebuildable, unrebuildable_layer
from tfpcheck.probe.user_code import UserCodeError, call_factory, module_objects
from tfpcheck.rules import tfp009_saved_layer_cannot_be_reloaded as tfp009
from tfpcheck.rules.tfp004_keras_flavor_mismatch import flavor_mismatch, missing_keras
from tfpcheck.rules.tfp005_unknown_custom_object import RULE as TFP005
from tfpcheck.rules.tfp005_unknown_custom_object import unknown_object
from tfpcheck.rules.tfp108_loss_or_forward_fails import load_failure

TF_KERAS = "tf_keras"
KERAS3 = "keras3"
# How Keras 3 refuses a tfp.layers layer, across versions and model kinds.
KERAS3_TFP_LAYER_ERRORS = (
    "Only instances of `keras.Layer` can be added",
    "not a valid Keras layer",
    "A KerasTensor cannot be used as input to a TensorFlow function",
)
# tf_keras' refusal of a layer that is not its own: a flavor mismatch only when what it got
# is Keras 3's (a layer that failed to deserialize arrives as a str, say, and is TFP009's)
TF_KERAS_REFUSED_LAYER = re.compile(
    r"The added layer must be an instance of class Layer.*of type <class '(keras|tf\.keras)\.", re.S
)


def _flavor_refused(text: str) -> bool:
    """Whether an error says Keras 3 and tf_keras objects met (tfp.layers need tf_keras)."""
    return any(m in text for m in KERAS3_TFP_LAYER_ERRORS) or bool(
        TF_KERAS_REFUSED_LAYER.search(text)
    )


UNKNOWN_OBJECT = re.compile(
    r"(?:Unknown (layer|loss function|metric function|activation function|object|"
    r"regularizer|initializer|constraint|optimizer)|Could not locate (class|function))"
    r"[:]?\s*'?([\w.]+)'?",
    re.I,
)
SAFE_MODE = re.compile(r"safe_mode", re.I)


@dataclass
class Loaded:
    model: Any
    flavor: str  # "tf_keras" | "keras3"
    keras: Any  # the tf_keras or keras module the model belongs to
    compiled_loss: Any = None  # model.loss after loading with compile=True
    factory_loss: Any = None  # the loss a factory returned with the model
    is_factory: bool = False
    notes: list[str] = field(default_factory=list)
    # Whether to try model.save() and loading it back (TFP006). Not for the user's own live
    # model: checking it must leave no file behind and no state changed.
    check_saving: bool = True


@dataclass
class LoadFailure:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def file_flavor(path: str) -> str:
    """Which Keras wrote a model file: metadata.json / HDF5 keras_version; dirs are tf_keras."""
    if os.path.isdir(path):
        return TF_KERAS
    version = ""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                version = str(json.loads(archive.read("metadata.json")).get("keras_version", ""))
        else:
            import h5py

            with h5py.File(path, "r") as handle:
                raw = handle.attrs.get("keras_version", b"")
                version = raw.decode() if isinstance(raw, bytes) else str(raw)
    except Exception:  # the static tier reports unreadable files; guess the legacy loader
        return TF_KERAS
    return KERAS3 if version.startswith("3") else TF_KERAS


def _classify_load_error(
    exc: BaseException, path: str, flavor: str, keras: Any, objects: Mapping[str, Any]
) -> LoadFailure:
    summary = summarize_error(exc)
    text = str(exc)
    if isinstance(exc, ModuleNotFoundError) and exc.name in {"tf_keras", "keras"}:
        return LoadFailure([missing_keras(exc.name, f"loading {os.path.basename(path)}")])
    if flavor == KERAS3 and (_flavor_refused(text) or "tensorflow_probability" in text):
        return LoadFailure([flavor_mismatch(summary, f"loading {os.path.basename(path)}")])
    match = UNKNOWN_OBJECT.search(text)
    if match and flavor == KERAS3 and match.group(3) in TFP_LAYER_NAMES:
        return LoadFailure([flavor_mismatch(summary, f"loading {os.path.basename(path)}")])
    saved = unrebuildable_layer(exc, path, keras, objects)
    if saved is not None:
        return LoadFailure([_unrebuildable(saved, summary, path, flavor, keras)])
    if match:
        kind = (match.group(1) or match.group(2) or "object").lower()
        return LoadFailure([unknown_object(summary, kind, match.group(3), path)])
    if SAFE_MODE.search(text):
        return LoadFailure(
            notes=[
                "probe skipped: the file holds serialized Python code and Keras refuses to "
                "load it in safe mode (rerun with --unsafe if you trust it)"
            ]
        )
    return LoadFailure([load_failure(summary, f"loading {os.path.basename(path)}")])


def _unrebuildable(
    saved: Unrebuildable, summary: ErrorSummary, path: str, flavor: str, keras: Any
) -> Finding:
    layer = saved.layer
    where = Where(layer=layer.name, layer_index=layer.index)
    if layer.is_tfp and flavor == KERAS3:
        return flavor_mismatch(summary, f"loading {os.path.basename(path)}")
    if layer.cause == "unregistered" and not layer.is_tfp:
        # The user's own class: its code is what the loader lacks.
        return unknown_object(summary, "layer", layer.class_name, path, where)
    keras_name = f"{'tf_keras' if flavor == TF_KERAS else 'Keras'} {keras.__version__}"
    return tfp009.finding(layer, saved.error, os.path.basename(path), keras_name)


def _custom_objects(reference: str | None) -> dict[str, Any]:
    return module_objects(reference) if reference else {}


def _loader(flavor: str) -> Any:
    if flavor == TF_KERAS:
        import tensorflow_probability  # noqa: F401  (registers tfp.layers with tf_keras)
        import tf_keras

        return tf_keras
    import keras

    return keras


def load_model_file(
    path: str,
    flavor: str | None,
    unsafe: bool,
    need_compiled: bool,
    custom_objects: str | None = None,
) -> Loaded | LoadFailure:
    flavor = flavor or file_flavor(path)
    try:
        keras = _loader(flavor)
        objects = _custom_objects(custom_objects)
    except UserCodeError as exc:
        return LoadFailure([load_failure(exc.summary, exc.what)])
    except ModuleNotFoundError as exc:
        return LoadFailure([missing_keras(exc.name or "tf_keras", f"loading {path}")])
    load = keras.models.load_model if flavor == TF_KERAS else keras.saving.load_model
    kwargs: dict[str, Any] = {"safe_mode": not unsafe, "custom_objects": objects or None}
    try:
        # The compile config is restored only when its loss is used: restoring it imports the
        # user's loss module, which would make the verdict depend on the current directory.
        model = load(path, compile=need_compiled, **kwargs)
        compiled = getattr(model, "loss", None) if need_compiled else None
        return Loaded(model, flavor, keras, compiled_loss=compiled)
    except Exception as exc:  # a user's file: every failure becomes a finding
        first = _classify_load_error(exc, path, flavor, keras, objects)
    # The compile config may be what failed (a loss function we cannot find): without it the
    # model may still load, and --loss may not need the compiled loss at all.
    if not first.findings or first.findings[0].code != TFP005.code:
        return first
    try:
        model = load(path, compile=False, **kwargs)
    except Exception:
        return first
    missing = first.findings[0].evidence.get("object")
    if need_compiled:
        return LoadFailure([_only_the_loss_is_missing(first.findings[0], missing)])
    return Loaded(
        model,
        flavor,
        keras,
        notes=[f"the compiled loss could not be restored ('{missing}' is unknown); not needed"],
    )


def _only_the_loss_is_missing(finding: Finding, name: object) -> Finding:
    """The model loads without its compile config: say that no loss was evaluated, so the
    findings of a run with the loss (e.g. TFP101 for a target shape) are not missing by
    mistake, and how to run it."""
    return replace(
        finding,
        message=f"{finding.message} — the model itself loads, but its compiled loss "
        f"'{name}' cannot be restored, so the probe evaluated no loss",
        fix=f"{finding.fix} Or name the loss yourself: --loss FILE.py:{name} (or --loss nll "
        "for a distribution output); the probe then runs without the compiled loss.",
        evidence={**dict(finding.evidence), "probe": "stopped before evaluating the loss"},
    )


def _factory_flavor(model: Any) -> tuple[str, Any] | None:
    # Only a Keras already imported can have built the model: importing the other would cost
    # a second or more, and in the user's own process (the Python API) it is not ours to do.
    for flavor, name in ((TF_KERAS, "tf_keras"), (KERAS3, "keras")):
        module = sys.modules.get(name)
        model_class = getattr(module, "Model", None)
        if isinstance(model_class, type) and isinstance(model, model_class):
            return flavor, module
    return None


# tfp.layers are tf_keras layers: their code and tf_keras' own run them
TF_KERAS_CODE = ("tensorflow_probability/python/layers/", "/tf_keras/")


def _keras3_tensor_in_tfp_layers(exc: BaseException) -> bool:
    """Whether the error happened in tf_keras or tfp.layers code holding a Keras 3 object: a
    Keras 3 tensor fails in a tf_keras layer in ways no message names."""
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        path = frame.f_code.co_filename.replace("\\", "/")
        if not any(part in path for part in TF_KERAS_CODE):
            continue
        for value in frame.f_locals.values():
            items = value if isinstance(value, list | tuple) else (value,)
            if any(type(item).__module__.startswith("keras.src.") for item in items):
                return True
    return False


def load_factory(reference: str) -> Loaded | LoadFailure:
    import tensorflow_probability  # noqa: F401  (a factory may rely on tfp.layers being set up)

    try:
        returned = call_factory(reference)
    except UserCodeError as exc:
        summary = exc.summary
        text = str(exc.exception)
        if isinstance(exc.exception, ModuleNotFoundError) and exc.exception.name in {
            "tf_keras",
            "keras",
        }:
            return LoadFailure([missing_keras(exc.exception.name, exc.what)])
        if (
            _flavor_refused(text)
            or (summary.layer is not None and "tensorflow_probability" in text)
            or _keras3_tensor_in_tfp_layers(exc.exception)
        ):
            return LoadFailure([flavor_mismatch(summary, exc.what)])
        return LoadFailure([load_failure(summary, exc.what)])
    model, loss = returned, None
    if isinstance(returned, tuple) and len(returned) == 2:
        model, loss = returned
    found = _factory_flavor(model)
    if found is None:
        exc2 = TypeError(
            f"{reference}() returned {type(model).__name__}, not a Keras model "
            "(expected a model or (model, loss))"
        )
        return LoadFailure([load_failure(summarize_error(exc2), f"calling {reference}()")])
    flavor, keras = found
    return Loaded(
        model,
        flavor,
        keras,
        compiled_loss=getattr(model, "loss", None) if _is_compiled(model) else None,
        factory_loss=loss,
        is_factory=True,
    )


def _is_compiled(model: Any) -> bool:
    return bool(getattr(model, "compiled_loss", None) or getattr(model, "_compile_loss", None))
