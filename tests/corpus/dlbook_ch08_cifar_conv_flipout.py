"""Probabilistic Deep Learning (Dürr, Sick, Murina), notebook 8.4: a Flipout CNN on CIFAR-10.

``Convolution2DFlipout`` and ``DenseFlipout`` layers with the kernel KL divided by the number
of training images, ``DenseFlipout(9, activation='softmax')`` and ``categorical_crossentropy``
on one-hot labels. A correct configuration.
"""

from __future__ import annotations

import tensorflow_probability as tfp
import tf_keras
from tf_keras import Sequential

SOURCE = (
    "https://github.com/tensorchiefs/dl_book/blob/f3ff5b147d109e208ba6359177f9e2b0c165cd81/"
    "chapter_08/nb_ch08_04.ipynb"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tensorflow.keras -> tf_keras and the notebook's disable_eager_execution() left out; "
    "wrapped in a function; x_train.shape[0] written as the 27000 training images (45000 "
    "CIFAR-10 images without horses, 60% of them); data and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
NUM_TRAIN = 27000  # 45000 images without 'horse', train_test_split(test_size=0.4)
ARGS = ("--num-examples", "27000")  # NUM_TRAIN


def build() -> tuple[tf_keras.Model, str]:
    kernel_divergence_fn = lambda q, p, _: (  # noqa: E731
        tfp.distributions.kl_divergence(q, p) / (NUM_TRAIN * 1.0)
    )
    conv = dict(padding="same", activation="relu", kernel_divergence_fn=kernel_divergence_fn)
    model_vi = Sequential()
    model_vi.add(
        tfp.layers.Convolution2DFlipout(8, kernel_size=(3, 3), input_shape=(32, 32, 3), **conv)
    )
    model_vi.add(tfp.layers.Convolution2DFlipout(8, kernel_size=(3, 3), **conv))
    model_vi.add(tf_keras.layers.MaxPooling2D((2, 2)))
    model_vi.add(tfp.layers.Convolution2DFlipout(16, kernel_size=(3, 3), **conv))
    model_vi.add(tfp.layers.Convolution2DFlipout(16, kernel_size=(3, 3), **conv))
    model_vi.add(tf_keras.layers.MaxPooling2D((2, 2)))
    model_vi.add(tf_keras.layers.Flatten())
    model_vi.add(
        tfp.layers.DenseFlipout(100, activation="relu", kernel_divergence_fn=kernel_divergence_fn)
    )
    model_vi.add(
        tfp.layers.DenseFlipout(100, activation="relu", kernel_divergence_fn=kernel_divergence_fn)
    )
    model_vi.add(
        tfp.layers.DenseFlipout(9, activation="softmax", kernel_divergence_fn=kernel_divergence_fn)
    )
    model_vi.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model_vi, "categorical_crossentropy"
