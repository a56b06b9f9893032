"""Probabilistic Deep Learning (Dürr, Sick, Murina), notebook 8.3: a Flipout BNN for regression.

Four ``DenseFlipout`` layers with Bayesian biases, each KL divided by the number of training
examples ``x.shape[0]``, feed ``Normal(loc=params[:, 0:1], scale=1e-3 +
softplus(0.05 * params[:, 1:2]))``. A correct configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp
from tf_keras.layers import Input
from tf_keras.models import Model
from tf_keras.optimizers import Adam

tfd = tfp.distributions

SOURCE = (
    "https://github.com/tensorchiefs/dl_book/blob/f3ff5b147d109e208ba6359177f9e2b0c165cd81/"
    "chapter_08/nb_ch08_03.ipynb"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tensorflow.keras -> tf_keras; wrapped in a function; x.shape[0] written as the 376 "
    "examples create_sine_data(256) returns (256 + 2 * 60); data and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
NUM_EXAMPLES = 256 + 2 * 60  # x, y = create_sine_data(256)
ARGS = ("--num-examples", "376")  # NUM_EXAMPLES


def NLL(y: Any, distr: Any) -> Any:
    return -distr.log_prob(y)


def normal_sp(params: Any) -> Any:
    return tfd.Normal(
        loc=params[:, 0:1], scale=1e-3 + tf.math.softplus(0.05 * params[:, 1:2])
    )  # both parameters are learnable


def build() -> tuple[Model, Callable[[Any, Any], Any]]:
    kernel_divergence_fn = lambda q, p, _: (  # noqa: E731
        tfp.distributions.kl_divergence(q, p) / (NUM_EXAMPLES * 1.0)
    )
    bias_divergence_fn = lambda q, p, _: (  # noqa: E731
        tfp.distributions.kl_divergence(q, p) / (NUM_EXAMPLES * 1.0)
    )
    flipout = dict(
        bias_posterior_fn=tfp.layers.util.default_mean_field_normal_fn(),
        bias_prior_fn=tfp.layers.default_multivariate_normal_fn,
        kernel_divergence_fn=kernel_divergence_fn,
        bias_divergence_fn=bias_divergence_fn,
    )
    inputs = Input(shape=(1,))
    hidden = tfp.layers.DenseFlipout(20, activation="relu", **flipout)(inputs)
    hidden = tfp.layers.DenseFlipout(50, activation="relu", **flipout)(hidden)
    hidden = tfp.layers.DenseFlipout(20, activation="relu", **flipout)(hidden)
    params = tfp.layers.DenseFlipout(2, **flipout)(hidden)
    dist = tfp.layers.DistributionLambda(normal_sp)(params)
    model_vi = Model(inputs=inputs, outputs=dist)
    model_vi.compile(Adam(learning_rate=0.0002), loss=NLL)
    return model_vi, NLL
