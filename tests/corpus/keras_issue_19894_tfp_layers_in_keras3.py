"""keras-team/keras#19894 "Only instances of keras.Layer can be added to a Sequential model".

Keras 3.

With TensorFlow 2.16+ ``tf.keras`` is Keras 3, and ``tfp.layers.DenseVariational`` (a
tf_keras layer) cannot be added to its ``Sequential``: the model cannot even be built.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import layers

tfd = tfp.distributions

SOURCE = "https://github.com/keras-team/keras/issues/19894"
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "tf.keras -> keras (what tf.keras is with TensorFlow 2.21); 181 units -> 16; the issue's "
    "model is cut after the DenseVariational layer (the rest is not shown and the error comes "
    "first); posterior_mean_field and prior_trainable, which the issue uses without showing "
    "them, are the TFP regression tutorial's, written with keras"
)
BUG = (
    "tfp.layers are tf_keras layers and Keras 3 refuses them: ValueError 'Only instances of "
    "keras.Layer can be added to a Sequential model. Received: ... DenseVariational' when the "
    "model is built; the fix is to build it with tf_keras (or TF_USE_LEGACY_KERAS=1)."
)
EXPECTED: tuple[str, ...] = ("TFP004",)


def posterior_mean_field(kernel_size: int, bias_size: int = 0, dtype: Any = None) -> Any:
    n = kernel_size + bias_size
    c = np.log(np.expm1(1.0))
    return keras.Sequential(
        [
            tfp.layers.VariableLayer(2 * n, dtype=dtype),
            tfp.layers.DistributionLambda(
                lambda t: tfd.Independent(
                    tfd.Normal(loc=t[..., :n], scale=1e-5 + tf.nn.softplus(c + t[..., n:])),
                    reinterpreted_batch_ndims=1,
                )
            ),
        ]
    )


def prior_trainable(kernel_size: int, bias_size: int = 0, dtype: Any = None) -> Any:
    n = kernel_size + bias_size
    return keras.Sequential(
        [
            tfp.layers.VariableLayer(n, dtype=dtype),
            tfp.layers.DistributionLambda(
                lambda t: tfd.Independent(tfd.Normal(loc=t, scale=1), reinterpreted_batch_ndims=1)
            ),
        ]
    )


def build() -> keras.Model:
    best_model_2 = keras.Sequential(
        [
            layers.Dense(16, activation="relu", input_shape=(21,)),
            tfp.layers.DenseVariational(
                16,
                activation="relu",
                make_posterior_fn=posterior_mean_field,
                make_prior_fn=prior_trainable,
            ),
        ]
    )
    return best_model_2
