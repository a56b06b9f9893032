"""keras.io "Timeseries forecasting for weather prediction" (Keras 3): one LSTM, mse.

``LSTM(32)`` over 120 hourly steps of 7 features, ``Dense(1)``, trained with ``mse`` on the
temperature 12 hours ahead. A correct configuration.
"""

from __future__ import annotations

import keras

SOURCE = (
    "https://github.com/keras-team/keras-io/blob/0a57de48c864d63b80083820e8988368ee5c3149/"
    "examples/timeseries/timeseries_weather_forecasting.py"
)
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "`from tensorflow import keras` -> `import keras` (the same Keras 3 with TensorFlow "
    "2.21); the input shape taken from the first batch written as (120, 7) (past 720 / step "
    "6, 7 selected features); wrapped in a function; data, callbacks and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
SEQUENCE_LENGTH = 120  # int(past / step)
NUM_FEATURES = 7  # selected_features
learning_rate = 0.001


def build() -> tuple[keras.Model, str]:
    inputs = keras.layers.Input(shape=(SEQUENCE_LENGTH, NUM_FEATURES))
    lstm_out = keras.layers.LSTM(32)(inputs)
    outputs = keras.layers.Dense(1)(lstm_out)

    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mse")
    return model, "mse"
