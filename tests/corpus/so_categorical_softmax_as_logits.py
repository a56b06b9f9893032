"""Stack Overflow "Learning a Categorical Variable with TensorFlow Probability".

A toy model: one input unit, ``Dense(3, activation=tf.nn.softmax)`` into
``DistributionLambda(tfd.Categorical)``, fit with a negative log-likelihood on labels drawn
with probabilities (0.1, 0.7, 0.2). ``tfd.Categorical``'s first argument is ``logits``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp
from tf_keras import layers
from tf_keras.models import Model
from tf_keras.optimizers import SGD

tfd = tfp.distributions

SOURCE = (
    "https://whosebug.com/question/5703808/Learning-a-Categorical-Variable-with-TensorFlow-"
    "Probability (a mirror of the Stack Overflow question of that title)"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tensorflow.keras -> tf_keras; the question imports nll from its own module (not shown): "
    "written as -y_pred.log_prob(y_true); true_p's length written as 3; data and fit removed"
)
BUG = (
    "The softmax probabilities are passed as Categorical's logits (its first positional "
    "argument), so they are softmaxed again: no setting of the weights can give the "
    "probabilities (0.1, 0.7, 0.2) (the largest reachable is e/(e+2) = 0.58), and the fit "
    "drifts to (0.005, 0.989, 0.006), as the question reports; the fix is "
    "Categorical(probs=...) or no softmax."
)
EXPECTED: tuple[str, ...] = ("TFP202",)
NUM_CLASSES = 3  # len(true_p), true_p = np.array([0.1, 0.7, 0.2])


def nll(y_true: Any, y_pred: Any) -> Any:
    return -y_pred.log_prob(y_true)


def build() -> tuple[Model, Callable[[Any, Any], Any]]:
    input_layer = layers.Input(shape=(1,))
    p_layer = layers.Dense(NUM_CLASSES, activation=tf.nn.softmax)(input_layer)
    p_y = tfp.layers.DistributionLambda(tfd.Categorical)(p_layer)
    model_p = Model(inputs=input_layer, outputs=p_y)
    model_p.compile(SGD(), loss=nll)
    return model_p, nll
