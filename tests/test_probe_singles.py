"""The per-example checks run traced; code that cannot be traced runs them eagerly instead."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tfpcheck.losses import parse_loss_spec

pytest.importorskip("tensorflow_probability")

from tfpcheck.probe import ProbeRequest, run_probe

# Batch statistics in inference (TFP106), in a layer that also reads a tensor's value in
# Python: fine eagerly, impossible in a graph, so the per-example runs fall back to eager.
USER_CODE = """
import keras
import tensorflow as tf


class EagerCenter(keras.layers.Layer):
    def call(self, x):
        if x.shape[0] is not None and float(tf.reduce_sum(x)) != float(tf.reduce_sum(x)):
            raise ValueError("NaN inputs")
        return x - tf.reduce_mean(x, axis=0)


class EagerIdentity(keras.layers.Layer):
    def call(self, x):
        if x.shape[0] is not None and float(tf.reduce_sum(x)) != float(tf.reduce_sum(x)):
            raise ValueError("NaN inputs")
        return x


def _mlp(middle):
    return keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(3), middle, keras.layers.Dense(1, name="out")]
    )


def coupled():
    return _mlp(EagerCenter(name="center"))


def per_example():
    return _mlp(EagerIdentity(name="identity"))
"""


@pytest.fixture(scope="module")
def user_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("singles") / "eager_only.py"
    path.write_text(textwrap.dedent(USER_CODE))
    return path


def _probe(reference: str):
    request = ProbeRequest(reference, None, parse_loss_spec("mse"), unsafe=True)
    return run_probe(request)


def test_untraceable_batch_coupled_model_is_still_found(user_file: Path) -> None:
    result = _probe(f"{user_file}:coupled")
    found = [f for f in result.findings if f.code == "TFP106"]
    assert len(found) == 1, [(f.code, f.message) for f in result.findings]
    assert found[0].evidence["max_abs_difference"] > 1e-3
    assert not any("per-example checks skipped" in note for note in result.notes)


def test_untraceable_per_example_model_is_clean(user_file: Path) -> None:
    result = _probe(f"{user_file}:per_example")
    assert not {"TFP106", "TFP107"} & {f.code for f in result.findings}
    assert not any("per-example checks skipped" in note for note in result.notes)
