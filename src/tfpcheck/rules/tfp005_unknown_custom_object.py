"""TFP005 unknown-custom-object: loading needs a class or function tfpcheck cannot find.

Reported by the probe's loader (`tfpcheck.probe.load`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from tfpcheck.findings import Finding, Severity, Where
from tfpcheck.rules.base import Rule, RuleDoc

if TYPE_CHECKING:
    from tfpcheck.evidence.sites import ErrorSummary


def unknown_object(
    summary: ErrorSummary, kind: str, name: str, path: str, where: Where | None = None
) -> Finding:
    """The probe's loader: the file names a class or function nobody registered."""
    from tfpcheck.evidence.where import probe_finding

    return probe_finding(
        RULE,
        f"loading {os.path.basename(path)} needs the {kind} '{name}', which is not "
        f"registered: {summary.message}",
        f"Point tfpcheck at the code that defines it: --custom-objects FILE.py (a file or "
        f"module defining '{name}'), or register it where it is defined with "
        "@keras.saving.register_keras_serializable() (tf_keras: "
        "@tf_keras.saving.register_keras_serializable()).",
        where or Where(),
        {"object": name, "kind": kind, "error": summary.describe()},
    )


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
