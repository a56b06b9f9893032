"""DavidPayares/SBNN: a spatially informed Bayesian 3D CNN, "reparametrization" variant.

Two ``Convolution3DReparameterization`` branches are fused by ``DenseReparameterization``
layers; the classification layer is ``DenseReparameterization(OneHotCategorical.params_size(5),
activation='softmax')`` straight into ``tfpl.OneHotCategorical(5)``, trained (SBNN_train.py)
with ``-y_pred.log_prob(y_true)``. ``OneHotCategorical`` reads its input as logits, so the
softmax probabilities are softmaxed a second time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow_probability as tfp
from tf_keras.layers import BatchNormalization, Concatenate, Dropout, Flatten, Input, MaxPooling3D
from tf_keras.models import Model

SOURCE = (
    "https://github.com/DavidPayares/SBNN/blob/47337ee86462d23e44a25a31bb0cb91b5f20e372/"
    "models/SBNN_models.py (loss: models/SBNN_train.py at the same commit)"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tensorflow.keras -> tf_keras; the class's methods written as functions; input "
    "91x109x91x1 -> 16x16x16x1 and each branch cut to its first two convolution blocks "
    "(3x3x3 and 5x5x5; the 7x7x7 and 9x9x9 blocks need the full volume); 64 filters -> 4, "
    "dense 512/128 -> 16/8; the classification layer, the divergence (KL / 231 training "
    "scans) and the loss are the source's; data, optimizer and fit removed"
)
BUG = (
    "The last DenseReparameterization has activation='softmax' and feeds OneHotCategorical, "
    "whose input is logits: probabilities are passed as logits (a double softmax), so the "
    "predicted class probabilities are squashed towards uniform (at most e/(e+4) = 0.40 for "
    "5 classes) and the likelihood can never fit the labels."
)
EXPECTED: tuple[str, ...] = ("TFP202",)
TRAINING_DATA_LENGTH = 231  # SBNNModels(training_data_length=231)
ARGS = ("--num-examples", "231")  # TRAINING_DATA_LENGTH
CLASSES = 5
INPUT_SHAPE = (16, 16, 16, 1)  # the source: (91, 109, 91, 1)
FILTERS = 4  # the source: 64

tfd = tfp.distributions
kernel_prior = tfp.layers.default_multivariate_normal_fn
bias_prior = tfp.layers.default_multivariate_normal_fn
kernel_posterior = tfp.layers.default_mean_field_normal_fn(is_singular=False)
bias_posterior = tfp.layers.default_mean_field_normal_fn(is_singular=False)


def divergence_fn(q: Any, p: Any, _: Any) -> Any:
    return tfd.kl_divergence(q, p) / TRAINING_DATA_LENGTH


def conv3D(inputs: Any, filter_size: tuple[int, int, int], strides: tuple[int, int, int]) -> Any:
    return tfp.layers.Convolution3DReparameterization(
        filters=FILTERS,
        kernel_size=filter_size,
        strides=strides,
        activation="relu",
        kernel_prior_fn=kernel_prior,
        kernel_posterior_fn=kernel_posterior,
        kernel_divergence_fn=divergence_fn,
        bias_prior_fn=bias_prior,
        bias_posterior_fn=bias_posterior,
        bias_divergence_fn=divergence_fn,
    )(inputs)


def dense3D(inputs: Any, units: int, activation: str = "relu") -> Any:
    return tfp.layers.DenseReparameterization(
        units=units,
        activation=activation,
        kernel_prior_fn=kernel_prior,
        kernel_posterior_fn=kernel_posterior,
        kernel_divergence_fn=divergence_fn,
        bias_prior_fn=bias_prior,
        bias_posterior_fn=bias_posterior,
        bias_divergence_fn=divergence_fn,
    )(inputs)


def covLayer(
    inputs: Any,
    filter_size: tuple[int, int, int],
    conv_strides: tuple[int, int, int],
    pool_strides: tuple[int, int, int],
) -> Any:
    conv_layer = conv3D(inputs, filter_size, conv_strides)
    conv_pool = MaxPooling3D(pool_size=2, strides=pool_strides)(conv_layer)
    return BatchNormalization()(conv_pool)


def branch(inputs: Any) -> Any:
    conv = covLayer(inputs, (3, 3, 3), (1, 1, 1), (1, 1, 1))
    conv = covLayer(conv, (5, 5, 5), (1, 1, 1), (2, 2, 2))
    conv = Flatten()(conv)
    conv = dense3D(conv, units=16)  # the source: 512
    conv = Dropout(0.5)(conv)
    conv = dense3D(conv, units=8)  # the source: 128
    return Dropout(0.5)(conv)


def bayesianModel() -> Model:
    input_int = Input(shape=INPUT_SHAPE)
    input_si = Input(shape=INPUT_SHAPE)
    concat = Concatenate(axis=-1)([branch(input_int), branch(input_si)])
    concat = dense3D(concat, units=16)  # the source: 512
    concat = Dropout(0.5)(concat)
    outputs = dense3D(
        concat, units=tfp.layers.OneHotCategorical.params_size(CLASSES), activation="softmax"
    )
    outputs = tfp.layers.OneHotCategorical(CLASSES)(outputs)
    return Model(inputs=[input_int, input_si], outputs=outputs)


def negative_log_likelihood(y_true: Any, y_pred: Any) -> Any:
    return -y_pred.log_prob(y_true)


def build() -> tuple[Model, Callable[[Any, Any], Any]]:
    model = bayesianModel()
    model.compile(loss=negative_log_likelihood, optimizer="adam", metrics=["accuracy"])
    return model, negative_log_likelihood
