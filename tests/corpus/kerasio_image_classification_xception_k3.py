"""keras.io "Image classification from scratch" (Keras 3): a small Xception, sigmoid + BCE.

Two classes give ``Dense(1, activation="sigmoid")`` and the loss ``"binary_crossentropy"``
on {0, 1} labels. A correct configuration.
"""

from __future__ import annotations

import keras
from keras import layers

SOURCE = (
    "https://github.com/keras-team/keras-io/blob/0e918412690b44285f82f699ce19d919fb14cee2/"
    "examples/vision/image_classification_from_scratch.py"
)
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "image_size (180, 180) -> (32, 32); filters 32/64 -> 8/16, the block sizes "
    "[128, 256, 512, 728] -> [16, 32] and the last SeparableConv2D 1024 -> 32; jit_compile "
    "and the metric dropped; data augmentation, data and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
IMAGE_SIZE = (32, 32)  # the example: (180, 180)


def make_model(input_shape: tuple[int, ...], num_classes: int) -> keras.Model:
    inputs = keras.Input(shape=input_shape)

    # Entry block
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(8, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    x = layers.Conv2D(16, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    previous_block_activation = x  # Set aside residual

    for size in [16, 32]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)

        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)

        # Project residual
        residual = layers.Conv2D(size, 1, strides=2, padding="same")(previous_block_activation)
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual

    x = layers.SeparableConv2D(32, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)

    x = layers.GlobalAveragePooling2D()(x)
    if num_classes == 2:
        activation = "sigmoid"
        units = 1
    else:
        activation = "softmax"
        units = num_classes

    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(units, activation=activation)(x)
    return keras.Model(inputs, outputs)


def build() -> tuple[keras.Model, str]:
    model = make_model(input_shape=(*IMAGE_SIZE, 3), num_classes=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    return model, "binary_crossentropy"
