"""keras.io "Probabilistic Bayesian Neural Networks", experiment 3: a probabilistic BNN.

Two ``DenseVariational`` layers (prior ``MultivariateNormalDiag``, posterior
``MultivariateNormalTriL``, ``kl_weight=1 / train_size``) and ``Dense(units=2)`` into
``IndependentNormal(1)``, trained with the negative log-likelihood. A correct configuration.
"""

from __future__ import annotations

from collections.abc import Callable
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
    "layers; with TensorFlow 2.21 tensorflow.keras is Keras 3); compile as in run_experiment, "
    "without the "
    "RootMeanSquaredError metric; wine_quality loading and fit removed"
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
    prior_model = keras.Sequential(
        [
            tfp.layers.DistributionLambda(
                lambda t: tfp.distributions.MultivariateNormalDiag(
                    loc=tf.zeros(n), scale_diag=tf.ones(n)
                )
            )
        ]
    )
    return prior_model


def posterior(kernel_size: int, bias_size: int, dtype: Any = None) -> keras.Model:
    n = kernel_size + bias_size
    posterior_model = keras.Sequential(
        [
            tfp.layers.VariableLayer(tfp.layers.MultivariateNormalTriL.params_size(n), dtype=dtype),
            tfp.layers.MultivariateNormalTriL(n),
        ]
    )
    return posterior_model


def negative_loglikelihood(targets: Any, estimated_distribution: Any) -> Any:
    return -estimated_distribution.log_prob(targets)


def create_probablistic_bnn_model(train_size: int) -> keras.Model:
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
    distribution_params = layers.Dense(units=2)(features)
    outputs = tfp.layers.IndependentNormal(1)(distribution_params)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


def build() -> tuple[keras.Model, Callable[[Any, Any], Any]]:
    model = create_probablistic_bnn_model(TRAIN_SIZE)
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=LEARNING_RATE),
        loss=negative_loglikelihood,
    )
    return model, negative_loglikelihood
