"""Probabilistic Deep Learning (Dürr, Sick, Murina), notebook 5.2: Poisson regression of counts.

``Dense(1, activation=tf.exp)`` gives the rate of ``DistributionLambda(tfd.Poisson)``, trained
with the negative log-likelihood of the counts. A correct configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp
from tf_keras.layers import Dense, Input
from tf_keras.models import Model
from tf_keras.optimizers import Adam

tfd = tfp.distributions

SOURCE = (
    "https://github.com/tensorchiefs/dl_book/blob/f3ff5b147d109e208ba6359177f9e2b0c165cd81/"
    "chapter_05/nb_ch05_02.ipynb"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tensorflow.keras -> tf_keras; wrapped in a function; X_train.shape[1] written as the 4 "
    "features the notebook takes (livebait, camper, persons, child); data loading and fit "
    "removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
NUM_FEATURES = 4  # X = dat[..., 1:5]


def NLL(y_true: Any, y_hat: Any) -> Any:
    return -y_hat.log_prob(y_true)


def build() -> tuple[Model, Callable[[Any, Any], Any]]:
    inputs = Input(shape=(NUM_FEATURES,))
    rate = Dense(1, activation=tf.exp)(inputs)
    p_y = tfp.layers.DistributionLambda(tfd.Poisson)(rate)
    model_p = Model(inputs=inputs, outputs=p_y)
    model_p.compile(Adam(learning_rate=0.01), loss=NLL)
    return model_p, NLL
