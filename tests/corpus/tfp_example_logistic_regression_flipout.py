"""TFP example ``logistic_regression.py``: Bayesian logistic regression with one DenseFlipout.

``DenseFlipout(1, activation="sigmoid")`` on two features, mean-field normal posteriors for
the kernel and the bias, the KL divided by the 256 training examples, trained with
``binary_crossentropy`` on int32 labels of shape ``(N, 1)``. A correct configuration.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

tfd = tfp.distributions

SOURCE = (
    "https://github.com/tensorflow/probability/blob/c847a4160de33119ec44cf47ebc750d9659cb515/"
    "tensorflow_probability/examples/logistic_regression.py"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "create_model(num_samples=256, num_dimensions=2) with the flags' defaults; "
    "Adam(lr=FLAGS.learning_rate) -> Adam(learning_rate=0.01) (tf_keras 2.21 has no lr); the "
    "toy data, the Sequence and the plots removed; the labels' (num_examples, 1) shape given "
    "as --target-shape 1"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
NUM_EXAMPLES = 256  # FLAGS.num_examples
NUM_DIMENSIONS = 2
ARGS = ("--target-shape", "1", "--num-examples", "256")


def create_model(num_samples: int, num_dimensions: int) -> tf_keras.Model:
    kl_divergence_function = lambda q, p, _: (  # noqa: E731 - the example's own lambda
        tfd.kl_divergence(q, p) / tf.cast(num_samples, dtype=tf.float32)
    )
    input_layer = tf_keras.layers.Input(shape=num_dimensions)
    dense_layer = tfp.layers.DenseFlipout(
        units=1,
        activation="sigmoid",
        kernel_posterior_fn=tfp.layers.default_mean_field_normal_fn(),
        bias_posterior_fn=tfp.layers.default_mean_field_normal_fn(),
        kernel_divergence_fn=kl_divergence_function,
    )(input_layer)
    model = tf_keras.Model(inputs=input_layer, outputs=dense_layer)
    optimizer = tf_keras.optimizers.Adam(learning_rate=0.01)
    model.compile(optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return model


def build() -> tf_keras.Model:
    return create_model(NUM_EXAMPLES, NUM_DIMENSIONS)
