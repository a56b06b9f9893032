"""TFP001 unreadable-model: the file is not a model tfpcheck can read."""

from __future__ import annotations

from tfpcheck.findings import Severity
from tfpcheck.rules.base import Rule, RuleDoc

# Reported as the file's error (exit status 2), not as a finding: see engine.check_path.
RULE = Rule(
    code="TFP001",
    name="unreadable-model",
    title="not a Keras model, or a corrupt or unsupported file",
    severity=Severity.ERROR,
    raised_by="tfpcheck.engine",
    doc=RuleDoc(
        what=(
            "Reports a path that cannot be checked: missing, not a Keras model (.keras "
            "archive, .h5 file, SavedModel directory), a corrupt or truncated archive, "
            "invalid JSON in the config, or an unsupported format."
        ),
        why=(
            "A linter that silently skips a file it cannot read gives a green check to a "
            "model nobody looked at. The file is reported and the run exits with status 2."
        ),
        example="tfpcheck model.weights.h5   # weights only, no model config",
        use_instead=("model.save('model.keras')   # the whole model\ntfpcheck model.keras"),
    ),
)
