"""Probabilistic Deep Learning (Dürr, Sick, Murina), notebook 5.1: mean and spread both learned.

``model_flex_sd``: a linear ``Dense(1)`` for the mean and a 30-20-20 relu network ending in
``Dense(1)`` for the spread are concatenated into ``Normal(loc=params[:, 0:1],
scale=1e-3 + softplus(0.05 * params[:, 1:2]))``. A correct configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp
from tf_keras.layers import Concatenate, Dense, Input
from tf_keras.models import Model
from tf_keras.optimizers import Adam

tfd = tfp.distributions

SOURCE = (
    "https://github.com/tensorchiefs/dl_book/blob/f3ff5b147d109e208ba6359177f9e2b0c165cd81/"
    "chapter_05/nb_ch05_01.ipynb"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = "tensorflow.keras -> tf_keras; wrapped in a function; data simulation and fit removed"
BUG = None
EXPECTED: tuple[str, ...] = ()


def NLL(y: Any, distr: Any) -> Any:
    return -distr.log_prob(y)


def my_dist(params: Any) -> Any:
    return tfd.Normal(
        loc=params[:, 0:1], scale=1e-3 + tf.math.softplus(0.05 * params[:, 1:2])
    )  # both parameters are learnable


def build() -> tuple[Model, Callable[[Any, Any], Any]]:
    inputs = Input(shape=(1,))
    out1 = Dense(1)(inputs)
    hidden1 = Dense(30, activation="relu")(inputs)
    hidden1 = Dense(20, activation="relu")(hidden1)
    hidden2 = Dense(20, activation="relu")(hidden1)
    out2 = Dense(1)(hidden2)
    params = Concatenate()([out1, out2])
    dist = tfp.layers.DistributionLambda(my_dist)(params)
    model_flex_sd = Model(inputs=inputs, outputs=dist)
    model_flex_sd.compile(Adam(learning_rate=0.01), loss=NLL)
    return model_flex_sd, NLL
