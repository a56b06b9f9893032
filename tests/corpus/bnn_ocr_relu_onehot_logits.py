"""kjaehnig/BNN-OCR-WebApp: a Bayesian CNN for handwritten characters (EMNIST, 47 classes).

A ``Convolution2DFlipout`` and eight ``Conv2D`` layers, two ``Dense`` layers, then
``DenseFlipout(n_labels, activation='relu')`` straight into
``tfpl.OneHotCategorical(n_labels)``, trained with ``-ypred.log_prob(ytrue)``. The KL is
divided by the number of training images. The relu clips every logit at 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow_probability as tfp
from tf_keras.layers import (
    Activation,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPooling2D,
    RandomFlip,
    RandomTranslation,
    SpatialDropout2D,
)
from tf_keras.models import Model, Sequential
from tf_keras.optimizers import Adam

tfd = tfp.distributions
tfpl = tfp.layers

SOURCE = (
    "https://github.com/kjaehnig/BNN-OCR-WebApp/blob/21d6a0ab5f7118f02f3d6cfc1bedfbd5e3c4cebd/"
    "bnn_digit_recognizer.py"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tensorflow.keras -> tf_keras; the commented-out layers dropped; train_labels.shape[0] "
    "written as the 418759 images the script keeps (60% of EMNIST bymerge's training CSV); "
    "data loading, class weights, callbacks and fit removed"
)
BUG = (
    "The layer that feeds OneHotCategorical's logits has activation='relu': every logit is "
    "clipped at 0, so a class can never be pushed below the others' zero logits and units "
    "that go negative stop learning (dead logits); the distribution's parameters should be "
    "the raw Dense output."
)
EXPECTED: tuple[str, ...] = ("TFP303",)
NUM_EXAMPLES = 418759  # train.sample(frac=0.6) of emnist-bymerge-train.csv
ARGS = ("--num-examples", "418759")  # NUM_EXAMPLES


def neg_loglike(ytrue: Any, ypred: Any) -> Any:
    return -ypred.log_prob(ytrue)


def divergence(q: Any, p: Any, _: Any) -> Any:
    return tfd.kl_divergence(q, p) / NUM_EXAMPLES


def create_bnn(n_labels: int = 47, DO: float = 0.25, divergence: Any = None) -> Model:
    model = Sequential(
        [
            RandomFlip("horizontal", input_shape=(28, 28, 1)),
            RandomTranslation(0.15, 0.15, input_shape=(28, 28, 1)),
            tfpl.Convolution2DFlipout(
                48,
                kernel_size=(3, 3),
                strides=(1, 1),
                padding="same",
                activation="linear",
                kernel_divergence_fn=divergence,
                bias_divergence_fn=divergence,
            ),
            Activation("relu"),
            Conv2D(48, kernel_size=(1, 3), strides=(1, 1), padding="same", activation="linear"),
            Activation("relu"),
            Conv2D(48, kernel_size=(3, 1), strides=(1, 1), padding="same", activation="linear"),
            Activation("relu"),
            MaxPooling2D((2, 2), padding="same"),
            Conv2D(64, kernel_size=(3, 3), strides=(1, 1), padding="same", activation="linear"),
            Activation("relu"),
            Conv2D(64, kernel_size=(1, 3), strides=(1, 1), padding="same", activation="linear"),
            Activation("relu"),
            Conv2D(64, kernel_size=(3, 1), strides=(1, 1), padding="same", activation="linear"),
            Activation("relu"),
            MaxPooling2D((2, 2), padding="same"),
            Conv2D(128, kernel_size=(1, 3), strides=(1, 1), padding="same", activation="linear"),
            Activation("relu"),
            Conv2D(128, kernel_size=(3, 1), strides=(1, 1), padding="same", activation="linear"),
            Activation("relu"),
            Conv2D(128, kernel_size=(3, 3), strides=(1, 1), padding="same", activation="linear"),
            Activation("relu"),
            SpatialDropout2D(0.25),
            MaxPooling2D((2, 2), padding="same"),
            Flatten(),
            Dense(512, activation="linear"),
            Activation("relu"),
            Dropout(DO),
            Dense(64, activation="linear"),
            Activation("relu"),
            Dropout(DO),
            tfpl.DenseFlipout(
                n_labels,
                activation="relu",
                kernel_divergence_fn=divergence,
                bias_divergence_fn=divergence,
            ),
            tfpl.OneHotCategorical(n_labels, convert_to_tensor_fn=tfd.Distribution.mode),
        ]
    )
    return model


def build() -> tuple[Model, Callable[[Any, Any], Any]]:
    model = create_bnn(n_labels=47, divergence=divergence, DO=0.2)
    model.compile(
        optimizer=Adam(learning_rate=5e-4, beta_1=0.95, beta_2=0.9, weight_decay=7.5e-2),
        loss=neg_loglike,
        metrics=["accuracy"],
        experimental_run_tf_function=False,
    )
    return model, neg_loglike
