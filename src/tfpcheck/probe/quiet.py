"""Silence TensorFlow, absl and Keras while probing: their chatter is not the user's finding."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator


def silence_before_import() -> None:
    # Must be set before TensorFlow's C++ runtime starts logging.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def stderr_silenced() -> Iterator[None]:
    """Hide what TensorFlow's C++ runtime writes to fd 2 while it starts (absl, CUDA)."""
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (embedded interpreter): nothing to hide
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow() -> None:
    silence_before_import()
    with stderr_silenced():
        import tensorflow  # noqa: F401
        import tensorflow_probability  # noqa: F401
    silence_after_import()


def silence_after_import() -> None:
    import tensorflow as tf

    warnings.filterwarnings("ignore")
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # absl ships with TensorFlow; be safe anyway
        pass
    # Filtered tracebacks hide the user's frame: the frame we have to report.
    tf.debugging.disable_traceback_filtering()
