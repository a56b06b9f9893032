"""TFP "Probabilistic Layers Regression" tutorial, case 3: epistemic uncertainty (known unknowns).

``DenseVariational(1, posterior_mean_field, prior_trainable, kl_weight=1/x.shape[0])`` gives
the mean of ``Normal(loc=t, scale=1)``; the KL is weighted by the 150 training examples.
A correct configuration.
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
    "wrapped in a function; an explicit Input(shape=(1,)) added; x.shape[0] written as the "
    "notebook's 150 examples (NUM_EXAMPLES); data loading and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
NUM_EXAMPLES = 150  # load_dataset(n=150)
ARGS = ("--num-examples", "150")  # NUM_EXAMPLES


def negloglik(y: Any, rv_y: Any) -> Any:
    return -rv_y.log_prob(y)


def posterior_mean_field(kernel_size: int, bias_size: int = 0, dtype: Any = None) -> Any:
    n = kernel_size + bias_size
    c = np.log(np.expm1(1.0))
    return tf_keras.Sequential(
        [
            tfp.layers.VariableLayer(2 * n, dtype=dtype),
            tfp.layers.DistributionLambda(
                lambda t: tfd.Independent(
                    tfd.Normal(loc=t[..., :n], scale=1e-5 + tf.nn.softplus(c + t[..., n:])),
                    reinterpreted_batch_ndims=1,
                )
            ),
        ]
    )


def prior_trainable(kernel_size: int, bias_size: int = 0, dtype: Any = None) -> Any:
    n = kernel_size + bias_size
    return tf_keras.Sequential(
        [
            tfp.layers.VariableLayer(n, dtype=dtype),
            tfp.layers.DistributionLambda(
                lambda t: tfd.Independent(tfd.Normal(loc=t, scale=1), reinterpreted_batch_ndims=1)
            ),
        ]
    )


def build() -> tuple[tf_keras.Model, Callable[[Any, Any], Any]]:
    model = tf_keras.Sequential(
        [
            tf_keras.Input(shape=(1,)),
            tfp.layers.DenseVariational(
                1, posterior_mean_field, prior_trainable, kl_weight=1 / NUM_EXAMPLES
            ),
            tfp.layers.DistributionLambda(lambda t: tfd.Normal(loc=t, scale=1)),
        ]
    )
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=0.01), loss=negloglik)
    return model, negloglik
