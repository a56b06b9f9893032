"""Probabilistic Deep Learning (Dürr, Sick, Murina), notebook 5.2: zero-inflated Poisson regression.

``Dense(2)`` feeds ``zero_inf``: a ``tfd.Mixture`` of ``Deterministic(0)`` and
``Poisson(rate)``, where ``rate = tf.squeeze(tf.math.exp(out[:, 0:1]))`` is squeezed without
an axis. At batch size N the rate has shape (N,), like the Categorical's batch; at batch size 1
``tf.squeeze`` drops the batch axis too, the components become scalars while the Categorical
keeps batch shape (1,), and the forward pass fails.
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
    "tensorflow.keras and tf.optimizers -> tf_keras; wrapped in a function; X_train.shape[1] "
    "written as the 4 features the notebook takes; data loading and fit removed"
)
BUG = (
    "Not reported in the source (the notebook only predicts whole test sets); reproduced "
    "here with TF 2.21 / TFP 0.25: tf.squeeze without an axis turns the rate of a batch of one "
    "into a scalar, and model.predict on a single example raises InvalidArgumentError in "
    "Mixture.sample while batches of 32 work."
)
EXPECTED: tuple[str, ...] = ("TFP102",)
NUM_FEATURES = 4


def zero_inf(out: Any) -> Any:
    rate = tf.squeeze(tf.math.exp(out[:, 0:1]))
    s = tf.math.sigmoid(out[:, 1:2])
    probs = tf.concat([1 - s, s], axis=1)
    return tfd.Mixture(
        cat=tfd.Categorical(probs=probs),
        components=[
            tfd.Deterministic(loc=tf.zeros_like(rate)),
            tfd.Poisson(rate=rate),
        ],
    )


def NLL(y_true: Any, y_hat: Any) -> Any:
    return -y_hat.log_prob(tf.reshape(y_true, (-1,)))


def build() -> tuple[Model, Callable[[Any, Any], Any]]:
    inputs = Input(shape=(NUM_FEATURES,))
    out = Dense(2)(inputs)
    p_y_zi = tfp.layers.DistributionLambda(zero_inf)(out)
    model_zi = Model(inputs=inputs, outputs=p_y_zi)
    model_zi.compile(optimizer=Adam(learning_rate=0.01), loss=NLL)
    return model_zi, NLL
