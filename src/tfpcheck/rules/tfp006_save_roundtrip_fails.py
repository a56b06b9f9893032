"""TFP006 save-roundtrip-fails: a factory's model cannot be saved and loaded back.

Reported by `tfpcheck.probe.roundtrip` for `FILE.py:NAME` inputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tfpcheck.findings import Finding, Severity, Where
from tfpcheck.rules.base import Rule, RuleDoc

if TYPE_CHECKING:
    from tfpcheck.evidence.sites import ErrorSummary

FIX = (
    "Keep building the model from this factory (tfpcheck checks it as it is); to "
    "checkpoint, save weights only (model.save_weights('model.weights.h5'), rebuild with the "
    "factory, then model.load_weights), and pass named, registered functions instead of "
    "lambdas or bound methods to layer arguments."
)


def loss_not_restored(loss: str, summary: ErrorSummary) -> Finding:
    """The model saves and loads back; its compiled loss does not."""
    from tfpcheck.evidence.where import probe_finding

    return probe_finding(
        RULE,
        f"the model saves and loads, but its compiled loss '{loss}' does not: "
        "load_model() fails unless it is given the function",
        f"Register the loss (@tfk.saving.register_keras_serializable() above "
        f"'def {loss}'), or load with custom_objects={{'{loss}': {loss}}} or compile=False.",
        Where(),
        {"stage": "load (compile)", "error": summary.describe()},
    )


def not_serializable(
    stage: str,
    summary: ErrorSummary,
    layer: str | None,
    index: int | None,
    class_name: str | None,
) -> Finding:
    """model.save() (stage "save") or loading its file back (stage "load") failed."""
    from tfpcheck.evidence.where import probe_finding

    named = f"layer '{layer}' ({class_name})" if layer else "a layer"
    action = "model.save('model.keras') then load_model" if stage == "load" else "model.save"
    return probe_finding(
        RULE,
        f"{action} fails at {stage}: {named} cannot be serialized ({summary.describe()})",
        FIX,
        Where(layer=layer, layer_index=index),
        {"stage": stage, "error": summary.describe(), "layer_class": class_name},
    )


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
