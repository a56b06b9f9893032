"""tensorflow/probability#1834: a Keras 3 model with probabilistic layers fails to build.

The issue: "Something wrong with the creation of a Keras model with probabilistic layers".

A functional ``tf.keras`` model of ``Dense`` layers, ``tfpl.DenseVariational`` and
``Dense(216 * 2)`` into ``tfpl.IndependentNormal(216)`` "used to work" and now fails with an
AttributeError when ``DenseVariational`` is called on a Keras 3 tensor.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
import tensorflow_probability as tfp
from keras import layers

tfpl = tfp.layers

SOURCE = "https://github.com/tensorflow/probability/issues/1834"
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "tf.keras -> keras (what tf.keras is with TensorFlow 2.21); hidden layers 500/350/250/"
    "150/50/15 -> 16/8, the 216-dimensional output -> 4 and X_train.shape[1] -> 10 inputs; "
    "X_train.shape[0] -> 1000 examples; prior and posterior, which the issue does not show, "
    "are the keras.io BNN example's"
)
BUG = (
    "tfp.layers are tf_keras layers: called on a Keras 3 KerasTensor, DenseVariational fails "
    "with an AttributeError while the model is built (the model did work with tf.keras 2.x); "
    "the fix is to build it with tf_keras."
)
EXPECTED: tuple[str, ...] = ("TFP004",)
NUM_FEATURES = 10  # X_train.shape[1]
NUM_EXAMPLES = 1000  # X_train.shape[0]
EVENT = 4  # the issue: 216


def prior(kernel_size: int, bias_size: int, dtype: Any = None) -> Any:
    n = kernel_size + bias_size
    return keras.Sequential(
        [
            tfpl.DistributionLambda(
                lambda t: tfp.distributions.MultivariateNormalDiag(
                    loc=tf.zeros(n), scale_diag=tf.ones(n)
                )
            )
        ]
    )


def posterior(kernel_size: int, bias_size: int, dtype: Any = None) -> Any:
    n = kernel_size + bias_size
    return keras.Sequential(
        [
            tfpl.VariableLayer(tfpl.MultivariateNormalTriL.params_size(n), dtype=dtype),
            tfpl.MultivariateNormalTriL(n),
        ]
    )


def build() -> keras.Model:
    inputs = keras.Input(shape=(NUM_FEATURES,))
    x = layers.Dense(16, activation="relu")(inputs)
    x6 = layers.Dense(8, activation="relu")(x)
    y_variational = tfpl.DenseVariational(
        4,
        make_prior_fn=prior,
        make_posterior_fn=posterior,
        kl_weight=1 / NUM_EXAMPLES,
        activation="tanh",
    )(x6)
    distribution_params = layers.Dense(units=EVENT * 2)(y_variational)
    outputs = tfpl.IndependentNormal(EVENT)(distribution_params)
    return keras.Model(inputs=inputs, outputs=outputs)
