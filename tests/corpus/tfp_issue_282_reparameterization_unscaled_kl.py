"""tensorflow/probability#282 "Wrong output of custom loss function when using bayesian layer".

One ``DenseReparameterization(10, activation='softmax')`` on flattened MNIST (55,000
training images), compiled with a categorical cross-entropy and fit with batches of 128.
The layer's default divergence adds the full KL of its 7,850 weights to every batch's loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow_probability as tfp
import tf_keras
from tf_keras import optimizers

SOURCE = "https://github.com/tensorflow/probability/issues/282"
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tensorflow.keras -> tf_keras (the Keras of TFP 0.25's layers); SGD's lr= -> "
    "learning_rate=; tf.keras.losses.categorical_crossentropy -> tf_keras'; wrapped in a "
    "function; the TF1 MNIST reader and fit removed"
)
BUG = (
    "The loss Keras reports and minimises is the cross-entropy plus sum(model.losses), the "
    "unscaled KL of the layer's weights (about 2e4 at initialisation against a "
    "cross-entropy of about 2.3), added in full at every batch of 128 as if each batch were "
    "the 55,000-image training set: the KL dominates the loss (the issue's 'wrong output'); "
    "the divergence must be divided by the number of training examples."
)
EXPECTED: tuple[str, ...] = ("TFP402",)
NUM_EXAMPLES = 55000  # mnist_data.read_data_sets(...).train
ARGS = ("--num-examples", "55000", "--target-shape", "10")  # NUM_EXAMPLES; to_categorical(y, 10)


def my_loss(y_true: Any, y_pred: Any) -> Any:
    return tf_keras.losses.categorical_crossentropy(y_true, y_pred)


def build() -> tuple[tf_keras.Model, Callable[[Any, Any], Any]]:
    model = tf_keras.Sequential()
    model.add(tfp.layers.DenseReparameterization(10, activation="softmax", input_shape=(784,)))
    sgd = optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    model.compile(loss=my_loss, optimizer=sgd, metrics=["accuracy"])
    return model, my_loss
