"""jeffheaton/t81_558_deep_learning#81 "Fixed error in loss function" (Keras 3).

The DCGAN discriminator of the class notebook ends in ``Dense(1, activation='sigmoid')``
while its loss was ``tf.keras.losses.BinaryCrossentropy(from_logits=True)``: probabilities
in (0, 1) are read as logits and squashed by a second sigmoid.
"""

from __future__ import annotations

import keras
from keras.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Input,
    LeakyReLU,
    ZeroPadding2D,
)
from keras.models import Sequential

SOURCE = (
    "https://github.com/jeffheaton/t81_558_deep_learning/pull/81 (discriminator: "
    "https://github.com/jeffheaton/t81_558_deep_learning/blob/"
    "20ed4ba97c8943f7a2173eef7b03961307c034a8/t81_558_class_07_2_Keras_gan.ipynb, where the "
    "fix is already applied)"
)
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "tensorflow.keras -> keras (Keras 3); GENERATE_SQUARE 96 -> 16 and the filters "
    "32/64/128/256/512 -> 4/8/16/16/32; LeakyReLU(alpha=0.2) -> LeakyReLU(negative_slope=0.2) "
    "(Keras 3's name); an Input layer instead of input_shape=; the loss as it was before the "
    "pull request; the generator and the GradientTape training loop removed"
)
BUG = (
    "The discriminator already applies a sigmoid, and BinaryCrossentropy(from_logits=True) "
    "applies another: the loss of a 'real' image can only range over "
    "softplus(-1)..softplus(0) = 0.31..0.69 and the discriminator cannot become confident; "
    "the pull request drops from_logits=True."
)
EXPECTED: tuple[str, ...] = ("TFP203",)
IMAGE_SHAPE = (16, 16, 3)  # the notebook: (96, 96, 3)


def build_discriminator(image_shape: tuple[int, int, int]) -> keras.Model:
    model = Sequential()

    model.add(Input(shape=image_shape))
    model.add(Conv2D(4, kernel_size=3, strides=2, padding="same"))
    model.add(LeakyReLU(negative_slope=0.2))

    model.add(Dropout(0.25))
    model.add(Conv2D(8, kernel_size=3, strides=2, padding="same"))
    model.add(ZeroPadding2D(padding=((0, 1), (0, 1))))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(negative_slope=0.2))

    model.add(Dropout(0.25))
    model.add(Conv2D(16, kernel_size=3, strides=2, padding="same"))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(negative_slope=0.2))

    model.add(Dropout(0.25))
    model.add(Conv2D(16, kernel_size=3, strides=1, padding="same"))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(negative_slope=0.2))

    model.add(Dropout(0.25))
    model.add(Conv2D(32, kernel_size=3, strides=1, padding="same"))
    model.add(BatchNormalization(momentum=0.8))
    model.add(LeakyReLU(negative_slope=0.2))

    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(1, activation="sigmoid"))

    return model


def build() -> tuple[keras.Model, keras.losses.Loss]:
    discriminator = build_discriminator(IMAGE_SHAPE)
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
    return discriminator, cross_entropy
