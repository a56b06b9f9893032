"""tensorflow/probability#1379 "tf.keras.layers.Conv2D with and without tfpl.IndependentNormal".

``num_values`` is overwritten with ``IndependentNormal.params_size(num_values)`` (8 for 4
values) before it sizes both the ``Conv2D`` and ``IndependentNormal(num_values)``: the
convolution gives 8 channels, the head is ``IndependentNormal(8)``, which needs 16.
"""

from __future__ import annotations

import tensorflow_probability as tfp
import tf_keras

tfpl = tfp.layers

SOURCE = "https://github.com/tensorflow/probability/issues/1379"
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tf.keras -> tf_keras (TF 2.5 then); feature_size 256 -> 16 and the spatial size fixed "
    "at 6x10 instead of (None, None) (the issue then calls the model on a 90x160x256 input); "
    "test_model(num_values=4, tfpl_indep=True) as the issue calls it; the issue has no loss, "
    "so the negative log-likelihood is probed"
)
BUG = (
    "The head is IndependentNormal(8) fed 8 channels: it needs params_size(8) = 16, so its "
    "reshape fails when the model is called ('Input to reshape is a tensor with 480 values, "
    "but the requested shape has 960' for a batch of 2); the fix is IndependentNormal(4) "
    "after Conv2D(params_size(4))."
)
EXPECTED: tuple[str, ...] = ("TFP105",)
ARGS = ("--loss", "nll")


def test_model(
    num_values: int,
    feature_size: int = 16,  # the issue: 256
    name: str = "test_submodel",
    tfpl_indep: bool = False,
) -> tf_keras.Model:
    inputs = tf_keras.layers.Input(shape=(6, 10, feature_size))  # the issue: (None, None, ...)
    outputs = inputs
    if tfpl_indep:
        num_values = tfpl.IndependentNormal.params_size(num_values)
    options = {
        "kernel_size": 3,
        "strides": 1,
        "padding": "same",
        "kernel_initializer": tf_keras.initializers.RandomNormal(mean=0.0, stddev=0.01, seed=None),
        "bias_initializer": "zeros",
    }
    outputs = tf_keras.layers.Conv2D(num_values, **options)(outputs)
    if tfpl_indep:
        outputs = tfpl.IndependentNormal(num_values)(outputs)
    test_model = tf_keras.models.Model(inputs=inputs, outputs=outputs, name=name)
    return test_model


def build() -> tf_keras.Model:
    return test_model(num_values=4, tfpl_indep=True)
