"""Blood-glucose prediction (Martinsson et al.): an LSTM with a Gaussian NLL loss (Keras 3).

The model concatenates ``[exp(Dense(1)), Dense(1)]`` (a positive variance, then the mean);
the loss slices ``y_pred[:, :1]`` and ``y_pred[:, 1:]`` (rank kept), takes the square root
of the variance as the scale of ``tfd.Normal`` and averages ``-log(eps + prob(y_true))``.
The data loader gives targets shaped ``(N, 1)`` (``np.expand_dims(ys, axis=1)``).
A correct configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf
import tensorflow_probability as tfp

KL = keras.layers
KM = keras.models

SOURCE = (
    "https://github.com/johnmartinsson/blood-glucose-prediction/blob/"
    "10b260b63594145240934ebe523b50f77962f9cd/models/lstm_experiment_keras.py and "
    "https://github.com/johnmartinsson/blood-glucose-prediction/blob/"
    "5c74bc07ffa3fcaadb5e8bba54d0cb77dea80511/loss_functions/nll_keras.py"
)
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "tensorflow.keras -> keras (Keras 3); CuDNNLSTM -> LSTM; tf.distributions.Normal -> "
    "tfp.distributions.Normal and tf.log -> tf.math.log (TensorFlow 1 names); "
    "nb_lstm_states 128 -> 16 and the Dense 512/256 layers -> 32/16; load(input_shape, "
    "output_shape, cfg) called with experiments/all_final_experiment.yaml's nb_past_steps 12; "
    "data and training removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
NB_PAST_STEPS = 12
ARGS = ("--target-shape", "1")  # datasets/ohio.py: ys = np.expand_dims(ys, axis=1)


def load(input_shape: tuple[int, ...], nb_lstm_states: int = 16) -> keras.Model:
    inputs = KL.Input(shape=input_shape)
    x = KL.LSTM(units=nb_lstm_states, unit_forget_bias=True)(inputs)

    x = KL.Dense(32)(x)  # the source: 512
    x = KL.Activation("relu")(x)
    x = KL.Dropout(0.2)(x)

    x = KL.Dense(16)(x)  # the source: 256
    x = KL.Activation("relu")(x)
    x = KL.Dropout(0.3)(x)

    mu = KL.Dense(1)(x)
    std = KL.Dense(1)(x)
    std = KL.Activation(tf.exp, name="exponential_activation")(std)

    output = KL.Concatenate(axis=-1)([std, mu])
    model = KM.Model(inputs=[inputs], outputs=[output])
    return model


def tf_nll(y_true: Any, y_pred: Any) -> Any:
    y_var = y_pred[:, :1]
    y_mean = y_pred[:, 1:]
    y_std = tf.sqrt(y_var)

    dist = tfp.distributions.Normal(loc=y_mean, scale=y_std)
    probs = dist.prob(y_true)
    return tf.reduce_mean(-tf.math.log(keras.backend.epsilon() + probs))


def build() -> tuple[keras.Model, Callable[[Any, Any], Any]]:
    model = load((NB_PAST_STEPS, 1))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=tf_nll)
    return model, tf_nll
