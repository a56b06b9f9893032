"""TFP example ``bayesian_neural_network.py``: a LeNet-5 of Flipout layers classifying MNIST.

Every ``Convolution2DFlipout``/``DenseFlipout`` divides its KL by ``NUM_TRAIN_EXAMPLES``
(60000); the last ``DenseFlipout(10, activation=softmax)`` gives probabilities, trained with
``categorical_crossentropy`` on one-hot labels. A correct configuration.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

tfd = tfp.distributions

SOURCE = (
    "https://github.com/tensorflow/probability/blob/c847a4160de33119ec44cf47ebc750d9659cb515/"
    "tensorflow_probability/examples/bayesian_neural_network.py"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "create_model() without flags: an explicit Input of IMAGE_SHAPE [28, 28, 1] added (the "
    "example builds on the first fit), the third convolution's 120 filters -> 16 and the "
    "dense 84 units -> 32; Adam(lr=FLAGS.learning_rate) -> Adam(learning_rate=0.001) and "
    "experimental_run_tf_function dropped (tf_keras 2.21 has neither); data and training "
    "loop removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
NUM_TRAIN_EXAMPLES = 60000
NUM_CLASSES = 10
ARGS = ("--num-examples", "60000")  # NUM_TRAIN_EXAMPLES


def build() -> tuple[tf_keras.Model, Any]:
    kl_divergence_function = lambda q, p, _: (  # noqa: E731
        tfd.kl_divergence(q, p) / tf.cast(NUM_TRAIN_EXAMPLES, dtype=tf.float32)
    )
    model = tf_keras.models.Sequential(
        [
            tf_keras.Input(shape=(28, 28, 1)),
            tfp.layers.Convolution2DFlipout(
                6,
                kernel_size=5,
                padding="SAME",
                kernel_divergence_fn=kl_divergence_function,
                activation=tf.nn.relu,
            ),
            tf_keras.layers.MaxPooling2D(pool_size=[2, 2], strides=[2, 2], padding="SAME"),
            tfp.layers.Convolution2DFlipout(
                16,
                kernel_size=5,
                padding="SAME",
                kernel_divergence_fn=kl_divergence_function,
                activation=tf.nn.relu,
            ),
            tf_keras.layers.MaxPooling2D(pool_size=[2, 2], strides=[2, 2], padding="SAME"),
            tfp.layers.Convolution2DFlipout(
                16,  # the example: 120
                kernel_size=5,
                padding="SAME",
                kernel_divergence_fn=kl_divergence_function,
                activation=tf.nn.relu,
            ),
            tf_keras.layers.Flatten(),
            tfp.layers.DenseFlipout(
                32,  # the example: 84
                kernel_divergence_fn=kl_divergence_function,
                activation=tf.nn.relu,
            ),
            tfp.layers.DenseFlipout(
                NUM_CLASSES, kernel_divergence_fn=kl_divergence_function, activation=tf.nn.softmax
            ),
        ]
    )
    optimizer = tf_keras.optimizers.Adam(learning_rate=0.001)
    model.compile(optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    return model, "categorical_crossentropy"
