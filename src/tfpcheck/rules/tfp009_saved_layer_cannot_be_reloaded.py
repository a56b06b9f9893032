"""TFP009 saved-layer-cannot-be-reloaded: Keras cannot rebuild a layer of the file from its
saved config, so the file cannot be loaded and the model is not probed.

Reported by the probe's loader (`tfpcheck.probe.load`, the layer found by
`tfpcheck.probe.rebuild`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tfpcheck.findings import Confidence, Finding, Severity, Where
from tfpcheck.rules.base import Rule, RuleDoc

# Why Keras cannot rebuild the layer: it has no class for the saved name ("unregistered"), the
# class's constructor does not take the saved config ("arguments"), or the layer built from
# the config fails when it is built ("rebuild").
Cause = Literal["unregistered", "arguments", "rebuild"]


@dataclass(frozen=True)
class SavedLayer:
    """The layer Keras could not rebuild, as the saved file describes it."""

    name: str  # "body/onehot" for a layer of the nested model "body"
    index: int  # in `layers` of the model that holds it
    class_name: str
    module: str | None
    is_tfp: bool  # a tfp.layers class
    cause: Cause
    missing: tuple[str, ...] = ()  # constructor arguments the saved config lacks
    unexpected: tuple[str, ...] = ()  # saved config entries the constructor does not take
    # A class that rebuilds the same layer from this config (tfp.layers.DistributionLambda for
    # the tfp.layers that only store DistributionLambda's config), or None.
    stand_in: str | None = None

    @property
    def display(self) -> str:
        return f"tfp.layers.{self.class_name}" if self.is_tfp else self.class_name


def _because(layer: SavedLayer) -> str:
    if layer.cause == "rebuild":
        return "building the layer from its saved config fails"
    if layer.missing:
        names = ", ".join(f"'{name}'" for name in layer.missing)
        plural = "s" if len(layer.missing) > 1 else ""
        return f"its saved config lacks the constructor argument{plural} {names}"
    if layer.unexpected:
        names = ", ".join(f"'{name}'" for name in layer.unexpected)
        return f"its saved config holds {names}, which the constructor does not take"
    if layer.is_tfp:
        return f"TensorFlow Probability does not register {layer.class_name} for loading"
    return f"{layer.class_name} is not registered for loading"


def _fix(layer: SavedLayer) -> str:
    # Each code span follows a colon: the text report puts it on lines of its own.
    fix = (
        "Check the code that builds the model instead of this file (your file and the "
        "function that returns the model): `tfpcheck models.py:build_model` "
        "To keep a trained model, save its weights only and rebuild the model in code: "
        "`model.save_weights('model.weights.h5')\n"
        "model = build_model()\n"
        "model.load_weights('model.weights.h5')`"
    )
    if layer.stand_in is not None:
        fix += (
            f" To check this very file, give the probe a stand-in for '{layer.name}', the "
            f"{layer.stand_in.rpartition('.')[2]} its saved config describes, in a file "
            "passed with --custom-objects stand_ins.py: "
            f"`import tensorflow_probability as tfp\n{layer.class_name} = {layer.stand_in}`"
        )
    elif not layer.is_tfp and layer.cause != "unregistered":
        fix += (
            f" Or give {layer.class_name} a get_config() that returns exactly the arguments "
            "of its __init__, so that from_config can call it."
        )
    return fix


def finding(layer: SavedLayer, error: str, file_name: str, keras_name: str) -> Finding:
    """`error` is Keras' own, quoted; `keras_name` the Keras that tried ("tf_keras 2.21.0")."""
    evidence: dict[str, object] = {"layer_class": layer.display, "error": error}
    if layer.missing:
        evidence["missing_arguments"] = list(layer.missing)
    if layer.unexpected:
        evidence["unexpected_arguments"] = list(layer.unexpected)
    evidence["stage"] = "load"
    evidence["module"] = layer.module
    return RULE.finding(
        f"{file_name} cannot be loaded: {keras_name} cannot rebuild layer '{layer.name}' "
        f"({layer.display}) from the file, because {_because(layer)}; the model was not "
        "probed (the static findings still stand)",
        _fix(layer),
        Where(layer=layer.name, layer_index=layer.index),
        evidence,
        confidence=Confidence.HIGH,
        tier="probe",
    )


RULE = Rule(
    code="TFP009",
    name="saved-layer-cannot-be-reloaded",
    title="a layer of the saved file cannot be rebuilt, so the file cannot be loaded",
    severity=Severity.WARNING,
    raised_by="tfpcheck.probe.load",
    doc=RuleDoc(
        what=(
            "Reports a saved model that the Keras which wrote it cannot load back because "
            "one layer cannot be rebuilt from its saved config: a tfp.layers class that "
            "TensorFlow Probability does not register for loading (in TFP 0.25, among "
            "others: `OneHotCategorical`, `MultivariateNormalTriL`, "
            "`CategoricalMixtureOfOneHotCategorical`, `MixtureSameFamily`, `DenseFlipout` "
            "and `DenseReparameterization`), or a config that lacks an argument the layer's "
            "constructor needs. The finding names the layer and quotes the loader's error. "
            "The model is not probed; the static findings are still reported."
        ),
        why=(
            "`model.save()` succeeds, so the problem only shows when the file is loaded: in "
            "a serving job, when training resumes, or in tfpcheck's probe. Keras' own errors "
            "(`The added layer must be an instance of class Layer. Received: "
            "layer=OneHotCategorical of type <class 'str'>`, `'str' object is not "
            "callable`, `Unknown layer: 'OneHotCategorical'`) do not say which layer, nor "
            "that the saved file, not the model, is what cannot be used."
        ),
        example=(
            "model = tfk.Sequential([\n"
            "    tfk.Input(shape=(8,)),\n"
            "    tfk.layers.Dense(10, name='logits'),\n"
            "    tfp.layers.OneHotCategorical(10, name='onehot'),\n"
            "])\n"
            "model.save('model.keras')\n"
            "tfk.models.load_model('model.keras')   # TypeError: The added layer must be ..."
        ),
        use_instead=(
            "model.save_weights('model.weights.h5')\n"
            "model = build_model()                  # rebuild from code, then\n"
            "model.load_weights('model.weights.h5')\n"
            "# and check the code rather than the file: tfpcheck models.py:build_model"
        ),
    ),
)
