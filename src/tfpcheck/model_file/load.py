"""Read a model file into a ModelFile without importing TensorFlow or running stored code."""

from __future__ import annotations

import os

from tfpcheck.model_file.compile_config import read_losses
from tfpcheck.model_file.detect import detect_format
from tfpcheck.model_file.flavor import flavor_from_version, guess_flavor
from tfpcheck.model_file.graph import build_graph
from tfpcheck.model_file.h5_file import read_h5
from tfpcheck.model_file.keras_archive import read_keras_archive, read_keras_dir
from tfpcheck.model_file.raw import RawModel
from tfpcheck.model_file.types import Flavor, ModelFile, ModelReadError


def read_model_file(path: str | os.PathLike[str]) -> ModelFile:
    """Raises ModelReadError (TFP001) with a one-line reason when the file cannot be read."""
    text_path = os.fspath(path)
    fmt = detect_format(text_path)
    if fmt == "savedmodel":
        # The static tier does not parse protobufs; only the probe can load a SavedModel.
        return ModelFile(
            path=text_path,
            format="savedmodel",
            flavor="tf_keras",
            keras_version=None,
            layers=[],
            outputs=[],
        )
    if fmt == "h5":
        raw = read_h5(text_path)
    elif fmt == "keras_dir":
        raw = read_keras_dir(text_path)
    else:
        raw = read_keras_archive(text_path)
    return _interpret(text_path, raw)


def _interpret(path: str, raw: RawModel) -> ModelFile:
    try:
        graph = build_graph(raw.config)
        what = "training_config" if raw.format == "h5" else "compile_config"
        compile_config = raw.compile_config or None  # Keras 3 writes {} when not compiled
        losses, code_errors = read_losses(compile_config, graph.outputs, what)
    except RecursionError:
        raise ModelReadError("the model config nests too deeply to read") from None
    # .h5 files predate Keras 3's own format, so a guess without a version leans tf_keras
    default: Flavor = "tf_keras" if raw.format == "h5" else "keras3"
    flavor = flavor_from_version(raw.keras_version) or guess_flavor(raw.config, default)
    return ModelFile(
        path=path,
        format=raw.format,
        flavor=flavor,
        keras_version=raw.keras_version,
        layers=graph.layers,
        outputs=graph.outputs,
        compile_config=compile_config,
        losses=losses,
        code_errors=code_errors,
        model_class=graph.model_class,
    )
