"""keras.io "Simple MNIST convnet" (Keras 3): softmax output with categorical_crossentropy.

A correct configuration: ``Dense(num_classes, activation="softmax")`` gives probabilities and
``categorical_crossentropy`` (``from_logits=False``) takes one-hot labels.
"""

from __future__ import annotations

import keras
from keras import layers

SOURCE = (
    "https://github.com/keras-team/keras-io/blob/02cfe8063b505adc073986c91729f22039f77ad0/"
    "examples/vision/mnist_convnet.py"
)
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "`from tensorflow import keras` -> `import keras` (the same Keras 3 with TensorFlow "
    "2.21); the convolutions' 32 and 64 filters -> 8 and 16; wrapped in a function; data "
    "and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
NUM_CLASSES = 10
INPUT_SHAPE = (28, 28, 1)


def build() -> tuple[keras.Model, str]:
    model = keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            layers.Conv2D(8, kernel_size=(3, 3), activation="relu"),  # the example: 32
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(16, kernel_size=(3, 3), activation="relu"),  # the example: 64
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(NUM_CLASSES, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model, "categorical_crossentropy"
