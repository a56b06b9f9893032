"""Konrad-H/FE2020NAX ``custom_loss``: a Gaussian NLL written with ``y_pred[:, 0]`` (rank dropped).

``NAX_model`` (``SimpleRNN(3)`` -> ``Dense(2)``) is trained with ``custom_loss``, which takes
``mean = clip(y_pred[:, 0])`` and ``var = clip(y_pred[:, 1])`` of shape (N,) and subtracts
them from ``y_true``, which tf.keras gives as (N, 1): the terms broadcast to (N, N) and the
loss averages every prediction against every target. A later version of the same file
(commit 2f5ae036) keeps the rank with ``tf.gather(y_pred, [0], axis=1)``.
"""

from __future__ import annotations

from typing import Any

import tf_keras
import tf_keras.backend as k
from numpy import pi

SOURCE = (
    "https://github.com/Konrad-H/FE2020NAX/blob/c4cf7113cbd2bad70f87236fb2f31d8d028d136d/"
    "custom_loss.py (model: NAX_model in "
    "https://github.com/Konrad-H/FE2020NAX/blob/0c6de0330bd71c27504de6b9d0e8dd05ac5b3163/"
    "NAX_f.py)"
)
FLAVOR = "tf_keras"
VERBATIM = False
ADAPTED = (
    "tensorflow.keras -> tf_keras (the tf.keras 2.x the code was written for; it expands "
    "targets of shape (N,) to (N, 1)); NAX_model with its defaults; data and fit removed"
)
BUG = (
    "mean and var have shape (N,) while y_true is (N, 1): mean - y_true and the log-likelihood "
    "terms are (N, N), so k.mean averages N x N pairs instead of N examples."
)
EXPECTED: tuple[str, ...] = ("TFP101",)


def custom_loss(y_true: Any, y_pred: Any) -> Any:
    # calculate loss, using likehood function for residual Rt
    # strike = 1/(2*pi)
    strike = 0.00001
    mean = k.clip(y_pred[:, 0], -1, 1)
    var = k.clip((y_pred[:, 1]), strike, None)

    log_L = -k.log(2 * pi * var) / 2 - k.square(mean - y_true) / (2 * var)
    return -(10000) * k.mean(log_L)


def NAX_model(
    INPUT_SHAPE: tuple[int, int] = (2, 10),
    REG_PARAM: float = 0.0001,
    ACT_FUN: str = "softmax",
    LEARN_RATE: float = 0.003,
    HIDDEN_NEURONS: int = 3,
    OUTPUT_NEURONS: int = 2,
    LOSS_FUNCTION: Any = custom_loss,
) -> tf_keras.Model:
    act_reg = tf_keras.regularizers.l1(REG_PARAM)
    opt = tf_keras.optimizers.Adam(LEARN_RATE)

    model = tf_keras.models.Sequential()
    model.add(
        tf_keras.layers.SimpleRNN(
            HIDDEN_NEURONS,
            input_shape=INPUT_SHAPE,
            activation=ACT_FUN,
            activity_regularizer=act_reg,
        )
    )
    model.add(tf_keras.layers.Dense(OUTPUT_NEURONS))
    model.compile(optimizer=opt, loss=LOSS_FUNCTION)
    return model


def build() -> tuple[tf_keras.Model, Any]:
    return NAX_model(), custom_loss
