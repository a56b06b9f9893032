"""Coursera "Probabilistic Deep Learning with TensorFlow 2", week 2 assignment: probabilistic CNN.

``Conv2D(8, 5, relu)``, ``MaxPooling2D(6)``, ``Flatten``, ``Dense(10)`` into
``tfpl.OneHotCategorical(10)``, trained with ``nll = -y_pred.log_prob(y_true)`` on one-hot
MNIST labels. A correct configuration: the head gets raw logits and the likelihood, not a
cross-entropy of its samples.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow_probability as tfp
from tf_keras.layers import Conv2D, Dense, Flatten, MaxPooling2D
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
    "tensorflow.keras -> tf_keras; the notebook's call get_probabilistic_model(input_shape="
    "(28, 28, 1), loss=nll, optimizer=RMSprop(), metrics=['accuracy']) made in build(); "
    "the commented-out DenseReparameterization line dropped; data loading and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()


def nll(y_true: Any, y_pred: Any) -> Any:
    return -y_pred.log_prob(y_true)


def get_probabilistic_model(
    input_shape: tuple[int, ...], loss: Any, optimizer: Any, metrics: list[str]
) -> Sequential:
    model = Sequential(
        [
            Conv2D(8, 5, activation="relu", padding="valid", input_shape=input_shape),
            MaxPooling2D(6),
            Flatten(),
            Dense(10),
            tfpl.OneHotCategorical(10),
        ]
    )
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


def build() -> tuple[Sequential, Callable[[Any, Any], Any]]:
    model = get_probabilistic_model(
        input_shape=(28, 28, 1), loss=nll, optimizer=RMSprop(), metrics=["accuracy"]
    )
    return model, nll
