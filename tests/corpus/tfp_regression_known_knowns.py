"""TFP "Probabilistic Layers Regression" tutorial, case 1: no uncertainty (known knowns).

``Dense(1)`` gives the mean of ``Normal(loc=t, scale=1)``, trained with the tutorial's
``negloglik``. A correct configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    "tf.keras -> tf_keras; wrapped in a function; an explicit Input(shape=(1,)) added (the "
    "notebook builds the model on its first fit); data loading and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()


def negloglik(y: Any, rv_y: Any) -> Any:
    """The notebook's ``negloglik = lambda y, rv_y: -rv_y.log_prob(y)``."""
    return -rv_y.log_prob(y)


def build() -> tuple[tf_keras.Model, Callable[[Any, Any], Any]]:
    model = tf_keras.Sequential(
        [
            tf_keras.Input(shape=(1,)),
            tf_keras.layers.Dense(1),
            tfp.layers.DistributionLambda(lambda t: tfd.Normal(loc=t, scale=1)),
        ]
    )
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=0.01), loss=negloglik)
    return model, negloglik
