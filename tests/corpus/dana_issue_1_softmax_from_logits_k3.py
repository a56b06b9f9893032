"""mmalekzadeh/dana#1 "Usage of from_logits=True on the model that has softmax activated output".

Keras 3.

``Ordonez2016DeepOriginal`` (four ``Conv2D``, two ``LSTM``) ends in ``Dense(out_shape,
activation='softmax')``, and the notebook trains it with
``SparseCategoricalCrossentropy(from_logits=True)``: the probabilities are treated as logits
and go through a second softmax.
"""

from __future__ import annotations

import keras
from keras.layers import LSTM, Conv2D, Dense, Dropout, Input, Reshape

SOURCE = (
    "https://github.com/mmalekzadeh/dana/issues/1 (model: "
    "https://github.com/mmalekzadeh/dana/blob/dea8b7d4b9665197765bc382c202e258e7affc50/"
    "dana/models.py, loss: experiment/DANA_an_example.ipynb at the same commit)"
)
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "tensorflow.keras -> keras (Keras 3, what tensorflow.keras is with TensorFlow 2.21); "
    "nb_filters 64 -> 8 and nb_dense 128 -> 16; an input window of 24 steps x 6 channels and "
    "6 classes stand in for the data set's; data and the custom training loop removed"
)
BUG = (
    "Softmax probabilities are passed to a loss that expects logits (from_logits=True): the "
    "loss applies softmax again, so it is bounded and its gradients are squashed (the issue "
    "reports it with the fix: from_logits=False, or no softmax in the model)."
)
EXPECTED: tuple[str, ...] = ("TFP202",)


def Ordonez2016DeepOriginal(inp_shape: tuple[int, ...], out_shape: int) -> keras.Model:
    nb_filters = 8  # the source: 64
    drp_out_dns = 0.5
    nb_dense = 16  # the source: 128

    inp = Input(inp_shape)

    x = Conv2D(nb_filters, kernel_size=(5, 1), strides=(1, 1), padding="valid", activation="relu")(
        inp
    )
    x = Conv2D(nb_filters, kernel_size=(5, 1), strides=(1, 1), padding="valid", activation="relu")(
        x
    )
    x = Conv2D(nb_filters, kernel_size=(5, 1), strides=(1, 1), padding="valid", activation="relu")(
        x
    )
    x = Conv2D(nb_filters, kernel_size=(5, 1), strides=(1, 1), padding="valid", activation="relu")(
        x
    )
    x = Reshape((x.shape[1], x.shape[2] * x.shape[3]))(x)
    act = LSTM(nb_dense, return_sequences=True, activation="tanh", name="lstm_1")(x)
    act = Dropout(drp_out_dns, name="dot_1")(act)
    act = LSTM(nb_dense, activation="tanh", name="lstm_2")(act)
    act = Dropout(drp_out_dns, name="dot_2")(act)
    out_act = Dense(out_shape, activation="softmax", name="act_smx")(act)

    model = keras.models.Model(inputs=inp, outputs=out_act)
    return model


def build() -> tuple[keras.Model, keras.losses.Loss]:
    model = Ordonez2016DeepOriginal((24, 6, 1), 6)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return model, loss_fn
