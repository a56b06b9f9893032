"""Seed every random state a probe touches, so that the same input gives the same verdict.

Python's `random` (Keras 3 draws its initializers' seeds from it), NumPy's global state (a
factory's own `np.random`), TensorFlow's global seed (tf_keras' initializers, sampling) and
the Keras' own seed generators. Seeded before a factory runs or a file is loaded, and again
before a model's probe passes start; never between two passes, since the probe compares two
forward passes to tell a sampling model from a deterministic one.
"""

from __future__ import annotations

import inspect
import random
import sys

import numpy as np

SEED = 1234


def fresh_keras_state() -> None:
    """Forget what earlier probes in this worker built: Keras names unnamed layers by how
    many of their kind exist (`dense_3`), so a factory's layers would be named differently
    than in a process of its own.

    Without a garbage collection: Keras 3's `clear_session` runs one by default, which takes
    a quarter of a second in a process with TensorFlow loaded, per model; Python's own
    collector frees the earlier models' cycles soon enough.
    """
    for name in ("keras", "tf_keras"):
        module = sys.modules.get(name)
        backend = getattr(module, "backend", None)
        clear_session = getattr(backend, "clear_session", None)
        if clear_session is None:
            continue
        if "free_memory" in inspect.signature(clear_session).parameters:
            clear_session(free_memory=False)
        else:
            clear_session()


def seed_everything(seed: int = SEED) -> None:
    import tensorflow as tf

    random.seed(seed)
    np.random.seed(seed)
    tf.random.set_seed(seed)
    # Only the Keras already imported: importing the other would cost a second or so, and a
    # Keras that is not imported has no state to seed yet (it seeds from the above).
    for name in ("keras", "tf_keras"):
        module = sys.modules.get(name)
        utils = getattr(module, "utils", None)
        set_random_seed = getattr(utils, "set_random_seed", None)
        if set_random_seed is not None:
            set_random_seed(seed)
