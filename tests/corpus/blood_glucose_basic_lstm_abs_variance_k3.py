"""Blood-glucose prediction (Martinsson et al.): an LSTM with an unconstrained variance (Keras 3).

``basic_lstm_keras`` ends in ``Dense(units=output_shape)`` with no activation, and the loss
``nl_keras`` reads its first column as a variance: ``y_std = tf.sqrt(tf.abs(y_var))``, marked
``# TODO: This is a hack!`` in the source. The raw output is negative for about half of the
examples; ``abs`` keeps the square root real but the scale still reaches 0. The repository's
later model (``lstm_experiment_keras``, the case ``blood_glucose_lstm_nll_k3``) puts
``tf.exp`` on that output instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf
import tensorflow_probability as tfp

SOURCE = (
    "https://github.com/johnmartinsson/blood-glucose-prediction/blob/"
    "1e7b3c8d2122b87c7de86d0f6b629724c80317e4/loss_functions/nl_keras.py (model: "
    "https://github.com/johnmartinsson/blood-glucose-prediction/blob/"
    "d7a7537ded497bf3e03998cb7d7202def03862cf/models/basic_lstm_keras.py, combined in "
    "experiments/example.yaml)"
)
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "tf.keras -> keras (Keras 3); tf.distributions.Normal -> tfp.distributions.Normal and "
    "tf.log -> tf.math.log (TensorFlow 1 names); nb_lstm_states 128 -> 16; output_shape 2 and "
    "example.yaml's nb_past_steps 6; an Input layer instead of input_shape=; data and "
    "training removed"
)
BUG = (
    "The variance is a raw Dense output that can be negative (for all 256 examples of a random "
    "batch at initialization here; tf.sqrt alone gives a NaN loss, hence the abs 'hack'), and "
    "with abs the scale is 0 wherever the output crosses zero, where the loss and its "
    "gradients are NaN; the fix, which the repository adopted later, is a positive activation "
    "(exp or softplus) on the variance."
)
EXPECTED: tuple[str, ...] = ("TFP301",)
NB_PAST_STEPS = 6
ARGS = ("--target-shape", "1")  # datasets/ohio.py: ys = np.expand_dims(ys, axis=1)


def load(input_shape: tuple[int, ...], output_shape: int, nb_lstm_states: int = 16) -> Any:
    # design network
    model = keras.models.Sequential()
    model.add(keras.Input(shape=input_shape))
    model.add(keras.layers.LSTM(units=nb_lstm_states, unit_forget_bias=True))
    model.add(keras.layers.Dense(units=output_shape))
    return model


def tf_negative_log_normal_density_loss(y_true: Any, y_pred: Any) -> Any:
    y_var = y_pred[:, :1]
    y_mean = y_pred[:, 1:]
    y_std = tf.sqrt(tf.abs(y_var))  # TODO: This is a hack!

    dist = tfp.distributions.Normal(loc=y_mean, scale=y_std)
    probs = dist.prob(y_true)
    return tf.reduce_mean(-tf.math.log(keras.backend.epsilon() + probs))  # TODO: This is a hack!


def build() -> tuple[Any, Callable[[Any, Any], Any]]:
    model = load((NB_PAST_STEPS, 1), 2)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=0.00001),
        loss=tf_negative_log_normal_density_loss,
    )
    return model, tf_negative_log_normal_density_loss
