"""TFP004 keras-flavor-mismatch: tfp.layers in a Keras 3 model, or the right Keras missing.

The probe reports it when loading the file or calling the factory fails that way
(`tfpcheck.probe.load`).
"""

from __future__ import annotations

from tfpcheck.findings import Severity
from tfpcheck.rules.base import Rule, RuleDoc

RULE = Rule(
    code="TFP004",
    name="keras-flavor-mismatch",
    title="tfp.layers used with Keras 3, or the Keras that wrote the model is missing",
    severity=Severity.ERROR,
    tiers=("static", "probe"),
    doc=RuleDoc(
        what=(
            "Finds TensorFlow Probability layers (`tfp.layers.*`) inside a Keras 3 model "
            "(`keras.*` or `tf.keras.*` with TensorFlow 2.16+), and models whose Keras "
            "package (tf_keras for Keras 2 files) is not installed."
        ),
        why=(
            "tfp.layers are tf_keras (Keras 2) layers. Keras 3 rejects them ('Only instances "
            "of `keras.Layer` can be added to a Sequential model', 'A KerasTensor cannot be "
            "used as input to a TensorFlow function'), or the model cannot be loaded at all."
        ),
        example=(
            "import keras\n"
            "model = keras.Sequential([keras.layers.Dense(2),\n"
            "                          tfp.layers.IndependentNormal(1)])"
        ),
        use_instead=(
            "import tf_keras as tfk  # pip install tf-keras\n"
            "model = tfk.Sequential([tfk.layers.Dense(2),\n"
            "                        tfp.layers.IndependentNormal(1)])\n"
            "# or set TF_USE_LEGACY_KERAS=1 so that tf.keras is tf_keras"
        ),
    ),
)
