"""tensorflow/probability#166 "DenseFlipout accuracy and uncertainty issue".

A one-weight ``DenseFlipout(units=1)`` fits ``y = -0.5 x + 0.1`` on 1000 examples with
``mse``. The layer's default ``kernel_divergence_fn`` adds the full KL of the weight
posterior to the loss at every batch of 32, as if each batch were the whole data set: the
prior dominates, and the posterior stays wide.
"""

from __future__ import annotations

import tensorflow_probability as tfp
from tf_keras.layers import Input
from tf_keras.models import Model

DenseFlipout = tfp.layers.DenseFlipout

SOURCE = "https://github.com/tensorflow/probability/issues/166"
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tensorflow.python.keras -> tf_keras (the Keras of TFP 0.25's layers); wrapped in a "
    "function; data and fit removed"
)
BUG = (
    "DenseFlipout's default kernel_divergence_fn is the unscaled KL, added in full at every "
    "batch, so the KL counts as much as ~31 epochs of data per epoch: the reported weights are "
    "off and the uncertainty is 'unreasonably high'; dividing the KL by the 1000 examples "
    "fixes it."
)
EXPECTED: tuple[str, ...] = ("TFP402",)
NUM_EXAMPLES = 1000  # random_xdata = np.random.normal(0, 1, (1000, 1))
ARGS = ("--num-examples", "1000")  # NUM_EXAMPLES


def build() -> tuple[Model, str]:
    input = Input(shape=[1])
    output = DenseFlipout(units=1, name="polyfit")(input)
    model = Model(inputs=input, outputs=output)
    model.compile(optimizer="adam", loss="mse")
    return model, "mse"
