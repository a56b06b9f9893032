"""Probabilistic Deep Learning (Dürr, Sick, Murina), notebook 6.2: discretized logistic mixture.

``Dense(9)`` is split into three locations, three scales (softplus) and three mixture logits
for ``MixtureSameFamily(Categorical(logits=...), QuantizedDistribution(Logistic))``: nine
parameters for three components, trained with the NLL of the deer-accident counts (the loss
reshapes the targets to (-1,)). A correct configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras
from tf_keras.layers import Dense
from tf_keras.models import Model

tfd = tfp.distributions
tfb = tfp.bijectors

SOURCE = (
    "https://github.com/tensorchiefs/dl_book/blob/f3ff5b147d109e208ba6359177f9e2b0c165cd81/"
    "chapter_06/nb_ch06_02.ipynb"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tensorflow.keras and tf.optimizers -> tf_keras; tfb.AffineScalar(shift=-0.5) -> "
    "tfb.Shift(-0.5) (AffineScalar is gone from TFP 0.25); wrapped in a function; 8 input "
    "features stand in for the one-hot deer data; data loading and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
NUM_FEATURES = 8  # a stand-in for X_train.shape[1]


def quant_mixture_logistic(out: Any, bits: int = 8, num: int = 3) -> Any:
    loc, un_scale, logits = tf.split(out, num_or_size_splits=num, axis=-1)
    scale = tf.nn.softplus(un_scale)
    discretized_logistic_dist = tfd.QuantizedDistribution(
        distribution=tfd.TransformedDistribution(
            distribution=tfd.Logistic(loc=loc, scale=scale), bijector=tfb.Shift(-0.5)
        ),
        low=0.0,
        high=2**bits - 1.0,
    )
    mixture_dist = tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=logits),  # logits will be normalized to one
        components_distribution=discretized_logistic_dist,
    )
    return mixture_dist


def NLL(y_true: Any, y_hat: Any) -> Any:
    return -y_hat.log_prob(tf.reshape(y_true, (-1,)))


def build() -> tuple[Model, Callable[[Any, Any], Any]]:
    inputs = tf_keras.layers.Input(shape=(NUM_FEATURES,))
    out = Dense(9)(inputs)
    p_y = tfp.layers.DistributionLambda(quant_mixture_logistic)(out)
    model = Model(inputs=inputs, outputs=p_y)
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=0.01), loss=NLL)
    return model, NLL
