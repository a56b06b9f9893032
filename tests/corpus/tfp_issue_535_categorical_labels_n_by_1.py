"""tensorflow/probability#535 "InvalidArgumentError: Shape issue with Categorical distribution".

Three classes, ``Dense(3, activation="softmax")`` into ``Categorical(probs=t)``, trained with
``-rv_y.log_prob(y)`` on integer labels reshaped to ``(N, 1)``.
"""

from __future__ import annotations

import tensorflow_probability as tfp
import tf_keras

tfd = tfp.distributions

SOURCE = "https://github.com/tensorflow/probability/issues/535"
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tf.keras -> tf_keras, tf.optimizers.Adam -> tf_keras.optimizers.Adam; the data (one-hot "
    "x of width 3, integer labels) and fit removed: the labels' y.reshape(-1, 1) is given as "
    "--target-shape 1"
)
BUG = (
    "The labels are fed as (N, 1) while Categorical's batch shape is (N,): log_prob "
    "broadcasts them against every row, an (N, N) loss (the issue's TFP 0.7 failed on it with "
    "'logits must be 2-D, but got shape [1000,1000,3]'); the fix is labels of shape (N,), "
    "y.reshape(-1)."
)
EXPECTED: tuple[str, ...] = ("TFP101",)
ARGS = ("--target-shape", "1")


def build() -> tf_keras.Model:
    model = tf_keras.Sequential(
        [
            tf_keras.layers.Dense(6, activation="relu", input_shape=(3,)),
            tf_keras.layers.Dense(3, activation="softmax"),
            tfp.layers.DistributionLambda(lambda t: tfd.Categorical(probs=t)),
        ]
    )
    model.compile(
        optimizer=tf_keras.optimizers.Adam(learning_rate=0.01),
        loss=lambda y, rv_y: -rv_y.log_prob(y),
    )
    return model
