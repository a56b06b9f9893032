"""keras.io "Text classification from scratch" (Keras 3): a 1D convnet on word indices.

``Embedding``, two strided ``Conv1D(128, 7, relu)``, ``GlobalMaxPooling1D``, ``Dense(128,
relu)`` and ``Dense(1, activation="sigmoid")``, trained with ``binary_crossentropy``.
A correct configuration.
"""

from __future__ import annotations

import keras
from keras import layers

SOURCE = (
    "https://github.com/keras-team/keras-io/blob/01ae2db402523e96f804c6fc3b0a59582e6a671e/"
    "examples/nlp/text_classification_from_scratch.py"
)
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "the integer input's shape (None,) fixed to the vectorizer's output_sequence_length "
    "(500 -> 64); max_features 20000 -> 1000, embedding_dim and the 128 filters/units -> "
    "16; wrapped in a function; TextVectorization, data and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
max_features = 1000  # the example: 20000
embedding_dim = 16  # the example: 128
sequence_length = 64  # the example: 500
UNITS = 16  # the example: 128


def build() -> tuple[keras.Model, str]:
    # A integer input for vocab indices.
    inputs = keras.Input(shape=(sequence_length,), dtype="int64")

    x = layers.Embedding(max_features, embedding_dim)(inputs)
    x = layers.Dropout(0.5)(x)

    # Conv1D + global max pooling
    x = layers.Conv1D(UNITS, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.Conv1D(UNITS, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.GlobalMaxPooling1D()(x)

    x = layers.Dense(UNITS, activation="relu")(x)
    x = layers.Dropout(0.5)(x)

    predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)

    model = keras.Model(inputs, predictions)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model, "binary_crossentropy"
