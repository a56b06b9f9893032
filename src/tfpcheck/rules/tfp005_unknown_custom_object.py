"""TFP005 unknown-custom-object: loading needs a class or function tfpcheck cannot find.

Reported by the probe's loader (`tfpcheck.probe.load`).
"""

from __future__ import annotations

from tfpcheck.findings import Severity
from tfpcheck.rules.base import Rule, RuleDoc

RULE = Rule(
    code="TFP005",
    name="unknown-custom-object",
    title="a custom class or function the model needs cannot be found",
    severity=Severity.ERROR,
    raised_by="tfpcheck.probe.load",
    doc=RuleDoc(
        what=(
            "Reports a model file that names a custom layer, loss or function Keras cannot "
            "find when loading ('Unknown layer', 'Could not locate function')."
        ),
        why=(
            "A saved model stores only the name of a custom object. Without its definition "
            "the model cannot be loaded, so it cannot be checked, and `load_model` will "
            "fail the same way wherever the file is used."
        ),
        example=(
            "def negloglik(y, rv):\n"
            "    return -rv.log_prob(y)\n"
            "model.compile(loss=negloglik)\n"
            "model.save('model.keras')   # tfpcheck model.keras: Unknown 'negloglik'"
        ),
        use_instead=(
            "@tfk.saving.register_keras_serializable()\n"
            "def negloglik(y, rv):\n"
            "    return -rv.log_prob(y)\n"
            "# or: tfpcheck model.keras --custom-objects losses.py"
        ),
    ),
)
