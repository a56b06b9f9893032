"""TFP "Probabilistic Layers VAE" tutorial: MVN-TriL encoder, IndependentBernoulli decoder.

The encoder's ``Dense(MultivariateNormalTriL.params_size(encoded_size))`` feeds
``MultivariateNormalTriL`` with a ``KLDivergenceRegularizer`` towards the prior; the decoder's
flattened logits feed ``IndependentBernoulli(input_shape, tfd.Bernoulli.logits)``; the loss is
the negative log-likelihood of the (binarized) input image. A correct configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as tfk

tfkl = tfk.layers
tfpl = tfp.layers
tfd = tfp.distributions

SOURCE = (
    "https://github.com/tensorflow/probability/blob/c847a4160de33119ec44cf47ebc750d9659cb515/"
    "tensorflow_probability/examples/jupyter_notebooks/Probabilistic_Layers_VAE.ipynb"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "wrapped in a function; base_depth 32 -> 4 and encoded_size 16 -> 4 (the 28x28x1 MNIST "
    "input shape and every layer kept); the notebook's tf_keras.layers/tf_keras.optimizers "
    "spelled tfk (it imports tf_keras as tfk); MNIST loading and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()

INPUT_SHAPE = (28, 28, 1)  # datasets_info.features['image'].shape
ENCODED_SIZE = 4  # the tutorial: 16
BASE_DEPTH = 4  # the tutorial: 32


def negloglik(x: Any, rv_x: Any) -> Any:
    return -rv_x.log_prob(x)


def build() -> tuple[tfk.Model, Callable[[Any, Any], Any]]:
    input_shape, encoded_size, base_depth = INPUT_SHAPE, ENCODED_SIZE, BASE_DEPTH
    prior = tfd.Independent(
        tfd.Normal(loc=tf.zeros(encoded_size), scale=1), reinterpreted_batch_ndims=1
    )
    encoder = tfk.Sequential(
        [
            tfkl.InputLayer(input_shape=input_shape),
            tfkl.Lambda(lambda x: tf.cast(x, tf.float32) - 0.5),
            tfkl.Conv2D(base_depth, 5, strides=1, padding="same", activation=tf.nn.leaky_relu),
            tfkl.Conv2D(base_depth, 5, strides=2, padding="same", activation=tf.nn.leaky_relu),
            tfkl.Conv2D(2 * base_depth, 5, strides=1, padding="same", activation=tf.nn.leaky_relu),
            tfkl.Conv2D(2 * base_depth, 5, strides=2, padding="same", activation=tf.nn.leaky_relu),
            tfkl.Conv2D(
                4 * encoded_size, 7, strides=1, padding="valid", activation=tf.nn.leaky_relu
            ),
            tfkl.Flatten(),
            tfkl.Dense(tfpl.MultivariateNormalTriL.params_size(encoded_size), activation=None),
            tfpl.MultivariateNormalTriL(
                encoded_size, activity_regularizer=tfpl.KLDivergenceRegularizer(prior)
            ),
        ]
    )
    decoder = tfk.Sequential(
        [
            tfkl.InputLayer(input_shape=[encoded_size]),
            tfkl.Reshape([1, 1, encoded_size]),
            tfkl.Conv2DTranspose(
                2 * base_depth, 7, strides=1, padding="valid", activation=tf.nn.leaky_relu
            ),
            tfkl.Conv2DTranspose(
                2 * base_depth, 5, strides=1, padding="same", activation=tf.nn.leaky_relu
            ),
            tfkl.Conv2DTranspose(
                2 * base_depth, 5, strides=2, padding="same", activation=tf.nn.leaky_relu
            ),
            tfkl.Conv2DTranspose(
                base_depth, 5, strides=1, padding="same", activation=tf.nn.leaky_relu
            ),
            tfkl.Conv2DTranspose(
                base_depth, 5, strides=2, padding="same", activation=tf.nn.leaky_relu
            ),
            tfkl.Conv2DTranspose(
                base_depth, 5, strides=1, padding="same", activation=tf.nn.leaky_relu
            ),
            tfkl.Conv2D(filters=1, kernel_size=5, strides=1, padding="same", activation=None),
            tfkl.Flatten(),
            tfpl.IndependentBernoulli(input_shape, tfd.Bernoulli.logits),
        ]
    )
    vae = tfk.Model(inputs=encoder.inputs, outputs=decoder(encoder.outputs[0]))
    vae.compile(optimizer=tfk.optimizers.Adam(learning_rate=1e-3), loss=negloglik)
    return vae, negloglik
