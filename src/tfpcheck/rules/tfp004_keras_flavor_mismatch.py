"""TFP004 keras-flavor-mismatch: tfp.layers in a Keras 3 model, or the right Keras missing.

Static: a Keras 3 file whose config holds tfp.layers classes, or a file whose Keras
(tf_keras for keras_version 2.x, keras 3 for 3.x) is not installed (looked up without
importing it). The probe reports it when loading the file or calling the factory fails that
way (`tfpcheck.probe.load`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tfpcheck.findings import Finding, Severity, Where
from tfpcheck.rules.base import Rule, RuleDoc
from tfpcheck.rules.context import StaticContext
from tfpcheck.rules.heads import layer_where

if TYPE_CHECKING:
    from tfpcheck.evidence.sites import ErrorSummary

TFP_MODULE = "tensorflow_probability"
FLAVOR_FIX = (
    "tfp.layers are tf_keras (Keras 2) layers: build and save the model with tf_keras "
    "(`import tf_keras as tfk`; tfk.Sequential / tfk.Model), `pip install tf-keras`, or set "
    "TF_USE_LEGACY_KERAS=1 before importing TensorFlow so that tf.keras is tf_keras."
)


def installed(package: str) -> bool:
    """Whether a package can be imported, without importing it."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def _keras_major() -> str | None:
    # Imported here: importlib.metadata costs a static check 20 ms, and only a Keras 3
    # model that meets a Keras 2 installation asks for it.
    import importlib.metadata

    try:
        return importlib.metadata.version("keras").split(".", 1)[0]
    except importlib.metadata.PackageNotFoundError:
        return None


def check(ctx: StaticContext) -> Iterator[Finding]:
    model = ctx.model
    if model.flavor == "keras3":
        for layer in model.layers:
            if (layer.module or "").startswith(TFP_MODULE):
                yield RULE.finding(
                    f"this Keras 3 model holds the tfp.layers layer '{layer.name}' "
                    f"({layer.class_name}, module {layer.module}): Keras 3 cannot load it "
                    "('Only instances of `keras.Layer` can be added')",
                    FLAVOR_FIX,
                    layer_where(layer),
                    {
                        "keras_version": model.keras_version,
                        "layer_class": layer.class_name,
                        "module": layer.module,
                    },
                )
    # Only for a probe with TensorFlow installed: the static-only install (a pre-commit hook)
    # has no Keras by design.
    if not ctx.probe_requested or not installed("tensorflow"):
        return
    needed = "tf_keras" if model.flavor == "tf_keras" else "keras"
    missing = not installed(needed) or (needed == "keras" and _keras_major() not in {"3"})
    if missing:
        pip = "tf-keras" if needed == "tf_keras" else "'keras>=3'"
        yield RULE.finding(
            f"the file was written by Keras {model.keras_version or '?'} and needs the "
            f"'{needed}' package to be loaded, which is not installed: the probe cannot run",
            f"pip install {pip} (the version matching your TensorFlow), or: "
            "pip install 'tfpcheck[tf]'",
            None,
            {"keras_version": model.keras_version, "missing_package": needed},
        )


# The fix when the model was built (a factory) or loaded with Keras 3 and tfp.layers met it
BUILD_FIX = (
    "tfp.layers are tf_keras (Keras 2) layers: build the model with tf_keras "
    "(`import tf_keras as tfk` and tfk.layers / tfk.Sequential / tfk.Model instead of "
    "keras.* or tf.keras.*), `pip install tf-keras` if it is missing, or set "
    "TF_USE_LEGACY_KERAS=1 before importing TensorFlow so that tf.keras is tf_keras."
)


def flavor_mismatch(summary: ErrorSummary, context: str) -> Finding:
    """The probe's loader: Keras 3 refused a tfp.layers layer, or tf_keras a Keras 3 one."""
    from tfpcheck.evidence.where import probe_finding, site_where, summary_evidence

    return probe_finding(
        RULE,
        f"{context}: {summary.message} — tfp.layers only work with tf_keras, and this model "
        "is built with Keras 3",
        BUILD_FIX,
        site_where(summary.site, summary.layer),
        summary_evidence(summary),
    )


def missing_keras(package: str, context: str) -> Finding:
    """The probe's loader: the Keras that wrote the file (or the factory needs) is missing."""
    from tfpcheck.evidence.where import probe_finding

    return probe_finding(
        RULE,
        f"{context} needs the '{package}' package, which is not installed",
        f"pip install {'tf-keras' if package == 'tf_keras' else 'keras'} (the version "
        "matching your TensorFlow), or: pip install 'tfpcheck[tf]'",
        Where(),
        {"missing_package": package},
    )


RULE = Rule(
    code="TFP004",
    name="keras-flavor-mismatch",
    title="tfp.layers used with Keras 3, or the Keras that wrote the model is missing",
    severity=Severity.ERROR,
    check_static=check,
    raised_by="tfpcheck.probe.load",
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
