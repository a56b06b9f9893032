"""TFP "Probabilistic Layers Regression" tutorial, case 5: functional uncertainty.

``Dense(1, kernel_initializer='ones', use_bias=False)`` feeds a
``tfp.layers.VariationalGaussianProcess`` (40 inducing points, an RBF kernel whose amplitude
and length scale are softplus'ed variables of a small ``RBFKernelFn`` layer), trained with
``rv_y.variational_loss(y, kl_weight=batch_size / x.shape[0])``. A correct configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

tfd = tfp.distributions

SOURCE = (
    "https://github.com/tensorflow/probability/blob/c847a4160de33119ec44cf47ebc750d9659cb515/"
    "tensorflow_probability/examples/jupyter_notebooks/Probabilistic_Layers_Regression.ipynb"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tf.keras -> tf_keras; RBFKernelFn's add_variable -> add_weight (the same variable); "
    "float32 instead of the notebook's tf.keras.backend.set_floatx('float64') (a global "
    "setting that would leak into the other cases of the probe process); x_range, x.dtype "
    "and x.shape[0] written as load_dataset's [-20, 60], float32 and 150; data and fit "
    "removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
NUM_EXAMPLES = 150  # x.shape[0]
X_RANGE = (-20.0, 60.0)  # load_dataset's x_range
ARGS = ("--num-examples", "150")  # NUM_EXAMPLES
batch_size = 32
num_inducing_points = 40


class RBFKernelFn(tf_keras.layers.Layer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        dtype = kwargs.get("dtype")

        self._amplitude = self.add_weight(
            initializer=tf.constant_initializer(0), dtype=dtype, name="amplitude"
        )

        self._length_scale = self.add_weight(
            initializer=tf.constant_initializer(0), dtype=dtype, name="length_scale"
        )

    def call(self, x: Any) -> Any:
        # Never called -- this is just a layer so it can hold variables
        # in a way Keras understands.
        return x

    @property
    def kernel(self) -> Any:
        return tfp.math.psd_kernels.ExponentiatedQuadratic(
            amplitude=tf.nn.softplus(0.1 * self._amplitude),
            length_scale=tf.nn.softplus(5.0 * self._length_scale),
        )


def loss(y: Any, rv_y: Any) -> Any:
    """The notebook's ``loss = lambda y, rv_y: rv_y.variational_loss(y, kl_weight=...)``."""
    return rv_y.variational_loss(y, kl_weight=np.array(batch_size, np.float32) / NUM_EXAMPLES)


def build() -> tuple[tf_keras.Model, Callable[[Any, Any], Any]]:
    model = tf_keras.Sequential(
        [
            tf_keras.layers.InputLayer(input_shape=[1]),
            tf_keras.layers.Dense(1, kernel_initializer="ones", use_bias=False),
            tfp.layers.VariationalGaussianProcess(
                num_inducing_points=num_inducing_points,
                kernel_provider=RBFKernelFn(),
                event_shape=[1],
                inducing_index_points_initializer=tf.constant_initializer(
                    np.linspace(*X_RANGE, num=num_inducing_points, dtype=np.float32)[
                        ..., np.newaxis
                    ]
                ),
                unconstrained_observation_noise_variance_initializer=(
                    tf.constant_initializer(np.array(0.54).astype(np.float32))
                ),
            ),
        ]
    )
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=0.01), loss=loss)
    return model, loss
