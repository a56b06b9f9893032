"""Read config.json and metadata.json from a .keras zip archive (or its unzipped directory)."""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

from tfpcheck.model_file.json_text import parse_json, type_name
from tfpcheck.model_file.limits import MAX_CONFIG_BYTES, MAX_METADATA_BYTES, MiB
from tfpcheck.model_file.raw import RawModel
from tfpcheck.model_file.types import ModelReadError

CONFIG = "config.json"
METADATA = "metadata.json"
CORRUPT = "truncated or corrupt zip archive"


def read_keras_archive(path: str | os.PathLike[str]) -> RawModel:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:  # no central directory: cut short, or not a zip at all
        raise ModelReadError(CORRUPT) from None
    except PermissionError:
        raise ModelReadError("permission denied") from None
    except (OSError, EOFError, ValueError) as exc:
        raise ModelReadError(f"{CORRUPT} ({exc})") from None
    with zf:
        config = _read_member(zf, CONFIG, MAX_CONFIG_BYTES)
        if config is None:
            names = zf.namelist()
            if names and all(name.endswith(".npy") for name in names):
                raise ModelReadError("is a NumPy .npz archive, not a Keras model")
            raise ModelReadError(f"zip archive has no {CONFIG}: not a Keras model archive")
        metadata = _read_member(zf, METADATA, MAX_METADATA_BYTES)
    return _raw_model("keras_zip", config, metadata)


def read_keras_dir(path: str | os.PathLike[str]) -> RawModel:
    """An archive saved unzipped: keras.saving.save_model(model, path, zipped=False)."""
    root = Path(path)
    config = _read_file(root / CONFIG, MAX_CONFIG_BYTES)
    if config is None:
        raise ModelReadError(f"directory has no {CONFIG}: not a Keras model directory")
    return _raw_model("keras_dir", config, _read_file(root / METADATA, MAX_METADATA_BYTES))


def _raw_model(fmt: Any, config_bytes: bytes, metadata_bytes: bytes | None) -> RawModel:
    config = parse_json(config_bytes, CONFIG)
    if not isinstance(config, dict):
        raise ModelReadError(f"{CONFIG} holds {type_name(config)}, not a model config object")
    return RawModel(
        format=fmt,
        config=config,
        keras_version=_keras_version(metadata_bytes),
        compile_config=config.get("compile_config"),
    )


def _keras_version(metadata: bytes | None) -> str | None:
    # Keras loads a model whatever metadata.json says, so a broken one is not worth a TFP001:
    # the flavor is then guessed from the config.
    if metadata is None:
        return None
    try:
        meta = parse_json(metadata, METADATA)
    except ModelReadError:
        return None
    version = meta.get("keras_version") if isinstance(meta, dict) else None
    return version if isinstance(version, str) and version.strip() else None


def _read_member(zf: zipfile.ZipFile, name: str, limit: int) -> bytes | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        if name == CONFIG:
            nested = next((n for n in zf.namelist() if n.endswith("/" + CONFIG)), None)
            if nested is not None:
                raise ModelReadError(
                    f"zip archive has no {CONFIG} at its top level (found {nested}): "
                    "not a Keras model archive, or zipped with an extra folder"
                ) from None
        return None
    if info.is_dir():
        return None
    if info.flag_bits & 0x1:
        raise ModelReadError(f"{name} is encrypted in the zip archive")
    _check_size(name, info.file_size, limit)
    try:
        with zf.open(info) as fh:
            # the size in the header may lie: never read more than the limit
            data = fh.read(limit + 1)
    except NotImplementedError as exc:  # a compression method zipfile does not know
        raise ModelReadError(f"{name} uses an unsupported zip compression ({exc})") from None
    except (zipfile.BadZipFile, EOFError, zlib.error, ValueError, OSError) as exc:
        raise ModelReadError(f"{CORRUPT} ({name}: {exc})") from None
    _check_size(name, len(data), limit)
    return data


def _read_file(path: Path, limit: int) -> bytes | None:
    try:
        if not path.is_file():
            return None
        _check_size(path.name, path.stat().st_size, limit)
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except PermissionError:
        raise ModelReadError(f"permission denied reading {path.name}") from None
    except OSError as exc:
        raise ModelReadError(f"cannot read {path.name} ({exc.strerror or exc})") from None
    _check_size(path.name, len(data), limit)
    return data


def _check_size(name: str, size: int, limit: int) -> None:
    if size > limit:
        raise ModelReadError(
            f"{name} is {size / MiB:.0f} MiB, more than the {limit // MiB} MiB a model "
            "config can reasonably be: refusing to read it"
        )
