"""TFP006 save-roundtrip-fails: a factory's model cannot be saved and loaded back.

Reported by `tfpcheck.probe.roundtrip` for `FILE.py:NAME` inputs.
"""

from __future__ import annotations

from tfpcheck.findings import Severity
from tfpcheck.rules.base import Rule, RuleDoc

RULE = Rule(
    code="TFP006",
    name="save-roundtrip-fails",
    title="the model cannot be written with model.save() and read back",
    severity=Severity.INFO,
    raised_by="tfpcheck.probe.roundtrip",
    doc=RuleDoc(
        what=(
            "For a model built by a factory (`FILE.py:NAME`), saves it with "
            "`model.save('model.keras')` into a temporary directory and loads it back, and "
            "reports which layer breaks the round trip."
        ),
        why=(
            "Many TFP layers (`DenseFlipout`, `DenseVariational`, `Conv*Reparameterization`, "
            "a custom `convert_to_tensor_fn`) cannot be serialized. Training code that "
            "saves a checkpoint and reloads it then fails after hours of training."
        ),
        example=(
            "model = build_model()            # DenseFlipout layers\n"
            "model.fit(...)\n"
            "model.save('model.keras')\n"
            "tfk.models.load_model('model.keras')  # fails"
        ),
        use_instead=(
            "model.save_weights('model.weights.h5')\n"
            "model = build_model()            # rebuild from code, then\n"
            "model.load_weights('model.weights.h5')"
        ),
    ),
)
