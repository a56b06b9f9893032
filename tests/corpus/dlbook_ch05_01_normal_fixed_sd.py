"""Probabilistic Deep Learning (Dürr, Sick, Murina), notebook 5.1: linear regression, fixed sd.

``Dense(1)`` gives the mean of ``DistributionLambda(Normal(loc=params, scale=1))``
(``model_sd_1``), trained with the negative log-likelihood. A correct configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow_probability as tfp
from tf_keras.layers import Dense, Input
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
    return tfd.Normal(loc=params, scale=1)  # set the sd to the fixed value 1


def build() -> tuple[Model, Callable[[Any, Any], Any]]:
    inputs = Input(shape=(1,))
    params = Dense(1)(inputs)
    dist = tfp.layers.DistributionLambda(my_dist)(params)
    model_sd_1 = Model(inputs=inputs, outputs=dist)
    model_sd_1.compile(Adam(), loss=NLL)
    return model_sd_1, NLL
