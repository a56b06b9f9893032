"""keras.io "Probabilistic Bayesian Neural Networks", experiment 2: a BNN with a point output.

Two ``DenseVariational`` layers with ``kl_weight=1 / train_size`` and a deterministic
``Dense(units=1)`` output trained with ``MeanSquaredError``: the KL terms are in
``model.losses``, scaled by the number of training examples. A correct configuration.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras
from tf_keras import layers

SOURCE = (
    "https://github.com/keras-team/keras-io/blob/1152d883930e8ab91a8c16366d5a21c67d771e82/"
    "examples/keras_recipes/bayesian_neural_networks.py"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "`from tensorflow import keras` -> `import tf_keras as keras` (tfp.layers are tf_keras "
    "layers); compile as in run_experiment without the metric; "
    "create_bnn_model(train_size) with the full training set (the example also trains it on "
    "30% of it); data loading and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()

DATASET_SIZE = 4898
TRAIN_SIZE = int(DATASET_SIZE * 0.85)
HIDDEN_UNITS = [8, 8]
LEARNING_RATE = 0.001
ARGS = ("--num-examples", "4163")  # TRAIN_SIZE

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


def prior(kernel_size: int, bias_size: int, dtype: Any = None) -> keras.Model:
    n = kernel_size + bias_size
    return keras.Sequential(
        [
            tfp.layers.DistributionLambda(
                lambda t: tfp.distributions.MultivariateNormalDiag(
                    loc=tf.zeros(n), scale_diag=tf.ones(n)
                )
            )
        ]
    )


def posterior(kernel_size: int, bias_size: int, dtype: Any = None) -> keras.Model:
    n = kernel_size + bias_size
    return keras.Sequential(
        [
            tfp.layers.VariableLayer(tfp.layers.MultivariateNormalTriL.params_size(n), dtype=dtype),
            tfp.layers.MultivariateNormalTriL(n),
        ]
    )


def create_bnn_model(train_size: int) -> keras.Model:
    inputs = create_model_inputs()
    features = keras.layers.concatenate(list(inputs.values()))
    features = layers.BatchNormalization()(features)
    for units in HIDDEN_UNITS:
        features = tfp.layers.DenseVariational(
            units=units,
            make_prior_fn=prior,
            make_posterior_fn=posterior,
            kl_weight=1 / train_size,
            activation="sigmoid",
        )(features)
    outputs = layers.Dense(units=1)(features)
    return keras.Model(inputs=inputs, outputs=outputs)


def build() -> tuple[keras.Model, Any]:
    model = create_bnn_model(TRAIN_SIZE)
    mse_loss = keras.losses.MeanSquaredError()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=LEARNING_RATE), loss=mse_loss)
    return model, mse_loss
