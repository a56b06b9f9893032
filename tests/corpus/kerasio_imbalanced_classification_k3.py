"""keras.io "Imbalanced classification: credit card fraud detection" (Keras 3).

Three ``Dense(256, relu)`` layers with dropout and ``Dense(1, activation="sigmoid")``,
trained with ``binary_crossentropy`` on (N, 1) integer targets. A correct configuration.
"""

from __future__ import annotations

import keras

SOURCE = (
    "https://github.com/keras-team/keras-io/blob/0e2570ad95239574579c493d03eac955af344c24/"
    "examples/structured_data/imbalanced_classification.py"
)
FLAVOR = "keras3"
VERBATIM = False
ADAPTED = (
    "train_features.shape[1:] written as the 30 features of creditcard.csv; the 256 units "
    "-> 32; wrapped in a function; data "
    "loading, class weights and fit removed"
)
BUG = None
EXPECTED: tuple[str, ...] = ()
NUM_FEATURES = 30  # creditcard.csv: 31 columns, the last is the class
UNITS = 32  # the example: 256


def build() -> tuple[keras.Model, str]:
    model = keras.Sequential(
        [
            keras.Input(shape=(NUM_FEATURES,)),
            keras.layers.Dense(UNITS, activation="relu"),
            keras.layers.Dense(UNITS, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(UNITS, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    metrics = [
        keras.metrics.FalseNegatives(name="fn"),
        keras.metrics.FalsePositives(name="fp"),
        keras.metrics.TrueNegatives(name="tn"),
        keras.metrics.TruePositives(name="tp"),
        keras.metrics.Precision(name="precision"),
        keras.metrics.Recall(name="recall"),
    ]
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=metrics
    )
    return model, "binary_crossentropy"
