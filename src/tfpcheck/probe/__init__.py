"""The probe tier: load the model with the Keras that wrote it and run probe batches.

This module stays free of TensorFlow: the static tier imports the package, and the engine
asks `tf_available()` before it pays for an import. `run_probe` imports the runner (and with
it TensorFlow) only when it is called. Requests and results are plain frozen dataclasses so
that a probe can run in a worker process later.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from tfpcheck.findings import Finding, Refutation
from tfpcheck.losses import LossSpec
from tfpcheck.shapes import ShapeTable
from tfpcheck.user_files import UserFile

# What the probe needs; tf_keras is only needed for tf_keras models (checked when loading).
REQUIRED_MODULES = ("tensorflow", "tensorflow_probability")
INSTALL_HINT = "pip install 'tfpcheck[tf]'"
NO_TENSORFLOW = f"TensorFlow and TensorFlow Probability are not installed ({INSTALL_HINT})"


@dataclass(frozen=True)
class ProbeRequest:
    path: str  # model file / SavedModel dir, or factory "FILE.py:NAME" / "pkg.module:NAME"
    flavor: str | None  # "keras3" | "tf_keras" | None (factory: decided from the object)
    loss: LossSpec | None  # None -> "compiled" if the file was compiled, else usage error
    unsafe: bool
    batch_size: int = 32
    target_shape: tuple[int, ...] | None = None
    classes: int | None = None
    data: str | None = None  # .npz with arrays x, y
    num_examples: int | None = None
    static_findings: tuple[Finding, ...] = ()  # so the probe can confirm them
    custom_objects: str | None = None  # --custom-objects FILE.py | module
    # (x, y) arrays given in memory (the Python API's x=, y=), used as --data's would be;
    # only in the calling process: a probe with them never goes to a worker.
    arrays: tuple[object, object] | None = None


@dataclass(frozen=True)
class ProbeResult:
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()
    error: tuple[str, str] | None = None  # (code, one-line message): a usage error
    # Why no probe pass ran (the model could not be loaded, ...); None when it was probed
    not_probed: str | None = None
    # The user's source files the probe imported (set by the worker); None when one of them
    # changed while the probe ran, so that the result is not cached.
    user_files: tuple[UserFile, ...] | None = ()
    # The shapes table of each probed model (each output of a model with several)
    shapes: tuple[ShapeTable, ...] = ()
    # The static findings the probe disproved: left out of the report, named in a note
    refuted: tuple[Refutation, ...] = ()


def tf_available() -> bool:
    """Whether the probe can run at all, without importing TensorFlow."""
    return all(importlib.util.find_spec(name) is not None for name in REQUIRED_MODULES)


def run_probe(request: ProbeRequest) -> ProbeResult:
    """Probe one model. A problem of the user's model is a finding, never an exception."""
    if not tf_available():
        return ProbeResult((), not_probed=NO_TENSORFLOW)
    from tfpcheck.probe.runner import probe_model

    return probe_model(request)
