"""keras.io "Probabilistic Bayesian Neural Networks", experiment 1: the baseline (Keras 3).

Eleven named inputs concatenated, ``BatchNormalization``, two ``Dense(8, sigmoid)`` and
``Dense(units=1)`` trained with ``MeanSquaredError``. With TensorFlow 2.21
``from tensorflow import keras`` is Keras 3, so this is the page's code as it runs today.
A correct configuration.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf
from keras import layers

SOURCE = (
    "https://github.com/keras-team/keras-io/blob/1152d883930e8ab91a8c16366d5a21c67d771e82/"
    "examples/keras_recipes/bayesian_neural_networks.py"
)
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "`from tensorflow import keras` -> `import keras` (the same Keras 3 with TensorFlow "
    "2.21); compile as in run_experiment without the RootMeanSquaredError metric; "
    "wine_quality loading and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()

HIDDEN_UNITS = [8, 8]
LEARNING_RATE = 0.001
FEATURE_NAMES = [
    "fixed acidity",
    "volatile acidity",
    "citric acid",
    "residual sugar",
    "chlorides",
    "free sulfur dioxide",
    "total sulfur dioxide",
    "density",
    "pH",
    "sulphates",
    "alcohol",
]


def create_model_inputs() -> dict[str, Any]:
    inputs = {}
    for feature_name in FEATURE_NAMES:
        inputs[feature_name] = layers.Input(name=feature_name, shape=(1,), dtype=tf.float32)
    return inputs


def create_baseline_model() -> keras.Model:
    inputs = create_model_inputs()
    input_values = [value for _, value in sorted(inputs.items())]
    features = keras.layers.concatenate(input_values)
    features = layers.BatchNormalization()(features)
    for units in HIDDEN_UNITS:
        features = layers.Dense(units, activation="sigmoid")(features)
    outputs = layers.Dense(units=1)(features)
    return keras.Model(inputs=inputs, outputs=outputs)


def build() -> tuple[keras.Model, Any]:
    mse_loss = keras.losses.MeanSquaredError()
    model = create_baseline_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=LEARNING_RATE), loss=mse_loss)
    return model, mse_loss
