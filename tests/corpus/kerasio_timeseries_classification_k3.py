"""keras.io "Timeseries classification from scratch" (Keras 3): a fully convolutional network.

Three ``Conv1D``/``BatchNormalization``/``ReLU`` blocks, ``GlobalAveragePooling1D`` and
``Dense(num_classes, activation="softmax")``, trained with ``sparse_categorical_crossentropy``
on integer labels (FordA: 500 steps, one channel, 2 classes). A correct configuration.
"""

from __future__ import annotations

import keras

SOURCE = (
    "https://github.com/keras-team/keras-io/blob/02cfaa2fc681064105deb460bde3a5f5e4e0e817/"
    "examples/timeseries/timeseries_classification_from_scratch.py"
)
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "`from tensorflow import keras` -> `import keras` (the same Keras 3 with TensorFlow "
    "2.21); x_train.shape[1:] written as FordA's (500, 1) and num_classes as its 2 classes; "
    "the 64 filters -> 16; wrapped in a function; data loading, plot and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
INPUT_SHAPE = (500, 1)  # x_train.shape[1:] for FordA
num_classes = 2  # len(np.unique(y_train))
FILTERS = 16  # the example: 64


def make_model(input_shape: tuple[int, ...]) -> keras.Model:
    input_layer = keras.layers.Input(input_shape)

    conv1 = keras.layers.Conv1D(filters=FILTERS, kernel_size=3, padding="same")(input_layer)
    conv1 = keras.layers.BatchNormalization()(conv1)
    conv1 = keras.layers.ReLU()(conv1)

    conv2 = keras.layers.Conv1D(filters=FILTERS, kernel_size=3, padding="same")(conv1)
    conv2 = keras.layers.BatchNormalization()(conv2)
    conv2 = keras.layers.ReLU()(conv2)

    conv3 = keras.layers.Conv1D(filters=FILTERS, kernel_size=3, padding="same")(conv2)
    conv3 = keras.layers.BatchNormalization()(conv3)
    conv3 = keras.layers.ReLU()(conv3)

    gap = keras.layers.GlobalAveragePooling1D()(conv3)

    output_layer = keras.layers.Dense(num_classes, activation="softmax")(gap)

    return keras.models.Model(inputs=input_layer, outputs=output_layer)


def build() -> tuple[keras.Model, str]:
    model = make_model(input_shape=INPUT_SHAPE)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, "sparse_categorical_crossentropy"
