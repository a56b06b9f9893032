"""Coursera "Probabilistic Deep Learning with TensorFlow 2", week 2 assignment: Bayesian CNN.

``Convolution2DReparameterization(8, (5, 5))`` with its divergence divided by the 60,000
training images, ``MaxPooling2D(6)``, ``Flatten``, ``DenseVariational(10)`` with a
spike-and-slab prior and ``kl_weight=1/x_train.shape[0]``, into
``tfpl.OneHotCategorical(10, convert_to_tensor_fn=mode)``, trained with the negative
log-likelihood. A correct configuration: both KL terms are scaled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp
from tf_keras.layers import Flatten, MaxPooling2D
from tf_keras.models import Sequential
from tf_keras.optimizers import RMSprop

tfd = tfp.distributions
tfpl = tfp.layers

SOURCE = (
    "https://github.com/mohd-faizy/Probabilistic-Deep-Learning-with-TensorFlow/blob/"
    "e50c75945414569cb96d6ffafbb6a577b8da150d/02_Probabilistic_layers_and_Bayesian_Neural_"
    "Networks/Probabilistic_layers_and_Bayesian_Neural_Networks.ipynb"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tensorflow.keras -> tf_keras; x_train.shape[0] written as the notebook's 60000 MNIST "
    "training images (NUM_EXAMPLES; 1875 steps of 32 per epoch); data "
    "loading and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
NUM_EXAMPLES = 60000  # x_train.shape[0]
ARGS = ("--num-examples", "60000")  # NUM_EXAMPLES


def nll(y_true: Any, y_pred: Any) -> Any:
    return -y_pred.log_prob(y_true)


def get_convolutional_reparameterization_layer(
    input_shape: tuple[int, ...], divergence_fn: Any
) -> Any:
    return tfpl.Convolution2DReparameterization(
        8,
        (5, 5),
        padding="valid",
        activation="relu",
        input_shape=input_shape,
        kernel_posterior_fn=tfpl.default_mean_field_normal_fn(is_singular=False),
        kernel_prior_fn=tfpl.default_multivariate_normal_fn,
        kernel_divergence_fn=divergence_fn,
        bias_posterior_fn=tfpl.default_mean_field_normal_fn(is_singular=False),
        bias_prior_fn=tfpl.default_multivariate_normal_fn,
        bias_divergence_fn=divergence_fn,
    )


def spike_and_slab(event_shape: int, dtype: Any) -> Any:
    distribution = tfd.Mixture(
        cat=tfd.Categorical(probs=[0.5, 0.5]),
        components=[
            tfd.Independent(
                tfd.Normal(
                    loc=tf.zeros(event_shape, dtype=dtype),
                    scale=1.0 * tf.ones(event_shape, dtype=dtype),
                ),
                reinterpreted_batch_ndims=1,
            ),
            tfd.Independent(
                tfd.Normal(
                    loc=tf.zeros(event_shape, dtype=dtype),
                    scale=10.0 * tf.ones(event_shape, dtype=dtype),
                ),
                reinterpreted_batch_ndims=1,
            ),
        ],
        name="spike_and_slab",
    )
    return distribution


def get_prior(kernel_size: int, bias_size: int, dtype: Any = None) -> Sequential:
    n = kernel_size + bias_size
    prior_model = Sequential([tfpl.DistributionLambda(lambda t: spike_and_slab(n, dtype))])
    return prior_model


def get_posterior(kernel_size: int, bias_size: int, dtype: Any = None) -> Sequential:
    n = kernel_size + bias_size
    post_model = Sequential(
        [
            tfpl.VariableLayer(tfpl.IndependentNormal.params_size(n), dtype=dtype),
            tfpl.IndependentNormal(n),
        ]
    )
    return post_model


def get_dense_variational_layer(prior_fn: Any, posterior_fn: Any, kl_weight: float) -> Any:
    return tfpl.DenseVariational(
        units=10, make_posterior_fn=posterior_fn, make_prior_fn=prior_fn, kl_weight=kl_weight
    )


def build() -> tuple[Sequential, Callable[[Any, Any], Any]]:
    tf.random.set_seed(0)
    divergence_fn = lambda q, p, _: tfd.kl_divergence(q, p) / NUM_EXAMPLES  # noqa: E731
    convolutional_reparameterization_layer = get_convolutional_reparameterization_layer(
        input_shape=(28, 28, 1), divergence_fn=divergence_fn
    )
    dense_variational_layer = get_dense_variational_layer(
        get_prior, get_posterior, kl_weight=1 / NUM_EXAMPLES
    )
    bayesian_model = Sequential(
        [
            convolutional_reparameterization_layer,
            MaxPooling2D(pool_size=(6, 6)),
            Flatten(),
            dense_variational_layer,
            tfpl.OneHotCategorical(10, convert_to_tensor_fn=tfd.Distribution.mode),
        ]
    )
    bayesian_model.compile(
        loss=nll, optimizer=RMSprop(), metrics=["accuracy"], experimental_run_tf_function=False
    )
    return bayesian_model, nll
