"""Read the model attributes of a legacy .h5 file (never its weights)."""

from __future__ import annotations

import os
from typing import Any

from tfpcheck.model_file.json_text import parse_json, type_name
from tfpcheck.model_file.limits import MAX_CONFIG_BYTES, MiB
from tfpcheck.model_file.raw import RawModel
from tfpcheck.model_file.types import ModelReadError


def read_h5(path: str | os.PathLike[str]) -> RawModel:
    # Imported here: h5py pulls in numpy, which reading a .keras archive does not need.
    try:
        import h5py
    except ImportError:
        raise ModelReadError("reading .h5 files needs h5py: pip install h5py") from None
    try:
        fh = h5py.File(os.fspath(path), "r")
    except PermissionError:
        raise ModelReadError("permission denied") from None
    except (OSError, ValueError):  # h5py's own text is about HDF5 internals, not the user's
        raise ModelReadError("not a readable HDF5 file (truncated or corrupt)") from None
    with fh:
        try:
            return _read_attributes(fh.attrs, fh)
        except ModelReadError:
            raise
        except (OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelReadError(f"HDF5 attributes cannot be read: corrupt file ({exc})") from None


def _read_attributes(attrs: Any, fh: Any) -> RawModel:
    if "model_config" not in attrs:
        if "layer_names" in attrs or "layers" in fh or "model_weights" in fh:
            raise ModelReadError(
                "holds weights only (no model_config): save the whole model with model.save(...)"
            )
        raise ModelReadError("is an HDF5 file without model_config: not a Keras model")
    config = parse_json(_text(attrs, "model_config"), "model_config")
    if not isinstance(config, dict):
        raise ModelReadError(f"model_config holds {type_name(config)}, not a model config object")
    training = None
    if "training_config" in attrs:
        training = parse_json(_text(attrs, "training_config"), "training_config")
    version = _text(attrs, "keras_version").strip() if "keras_version" in attrs else ""
    return RawModel(
        format="h5",
        config=config,
        keras_version=version or None,
        compile_config=training,
    )


def _text(attrs: Any, name: str) -> str:
    # A fixed-length string attribute tells its size before it is read; a variable-length
    # one cannot be bounded without reading it (its size is bounded by the file's).
    size = attrs.get_id(name).get_storage_size()
    if size > MAX_CONFIG_BYTES:
        raise ModelReadError(
            f"{name} is {size / MiB:.0f} MiB, more than the {MAX_CONFIG_BYTES // MiB} MiB "
            "a model config can reasonably be: refusing to read it"
        )
    value = attrs[name]
    if hasattr(value, "tolist") and not isinstance(value, bytes | str):
        value = value.tolist()  # numpy scalar or 0-d array from old writers
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ModelReadError(f"{name} is not UTF-8 text") from None
    if isinstance(value, str):
        return value
    raise ModelReadError(f"{name} is not text (got {type(value).__name__})")
