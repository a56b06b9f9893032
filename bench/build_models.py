"""Build the models the bench measures that are not fixtures, into a directory of its own.

    python bench/build_models.py FLAVOR DIRECTORY < SPECS.json

bench.py runs this once per flavor (tf_keras, keras3) and per run, in a process of its own,
so that its own process never imports TensorFlow and the two Keras never share a process
(as fixtures/build_fixtures.py does). SPECS is a JSON list of {"file", "kind", "inputs",
"hidden"}; nothing is downloaded (ResNet50 gets `weights=None`). Seeds are fixed, so every
run measures the same models.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SEED = 0

# Module globals, as in user code: the lambdas below refer to `tf` and `tfd` by global name,
# so the serialized functions find them again when the file is loaded.
tf: Any = None
tfp: Any = None
tfd: Any = None


def _import_tf() -> None:
    global tf, tfp, tfd
    import tensorflow
    import tensorflow_probability

    tf = tensorflow
    tfp = tensorflow_probability
    tfd = tensorflow_probability.distributions


# --------------------------------------------------------------------------------------------
# tf_keras + tfp.layers
# --------------------------------------------------------------------------------------------


def _tfk_head(tfk: Any, kind: str) -> list[Any]:
    """The layers after the trunk: parameters, then the distribution."""
    if kind == "normal":
        return [
            tfk.layers.Dense(2, name="params"),
            tfp.layers.DistributionLambda(
                lambda t: tfd.Normal(loc=t[..., :1], scale=1e-3 + tf.math.softplus(t[..., 1:])),
                name="normal",
            ),
        ]
    if kind == "categorical":
        return [
            tfk.layers.Dense(10, name="logits"),
            tfp.layers.DistributionLambda(lambda t: tfd.Categorical(logits=t), name="label_dist"),
        ]
    if kind == "bernoulli":
        return [
            tfk.layers.Dense(1, name="logits"),
            tfp.layers.DistributionLambda(lambda t: tfd.Bernoulli(logits=t), name="bernoulli"),
        ]
    if kind == "independent_normal":
        return [
            tfk.layers.Dense(tfp.layers.IndependentNormal.params_size(1), name="params"),
            tfp.layers.IndependentNormal(1, name="normal"),
        ]
    raise SystemExit(f"build_models: unknown tf_keras head {kind!r}")


def _tfk_mlp(tfk: Any, spec: dict[str, Any]) -> Any:
    return tfk.Sequential(
        [
            tfk.Input(shape=(spec["inputs"],), name="features"),
            tfk.layers.Dense(spec["hidden"], activation="relu", name="hidden"),
            *_tfk_head(tfk, spec["kind"]),
        ],
        name=Path(spec["file"]).stem,
    )


def _tfk_resnet(tfk: Any, spec: dict[str, Any]) -> Any:
    """ResNet50 without its top (random weights) -> Dense(10) -> Categorical(logits)."""
    size = spec["inputs"]
    trunk = tfk.applications.ResNet50(
        weights=None, include_top=False, input_shape=(size, size, 3), pooling="avg"
    )
    return tfk.Sequential([trunk, *_tfk_head(tfk, "categorical")], name=f"resnet50_{size}")


def build_tf_keras(specs: list[dict[str, Any]], directory: Path) -> None:
    import tf_keras as tfk

    for spec in specs:
        tfk.backend.clear_session()
        tfk.utils.set_random_seed(SEED)
        build = _tfk_resnet if spec["kind"] == "resnet50" else _tfk_mlp
        # Not compiled: a distribution output without a loss is probed with `nll`, and the
        # baseline takes the same negative log-likelihood.
        build(tfk, spec).save(directory / spec["file"])


# --------------------------------------------------------------------------------------------
# Keras 3: tfp.layers need tf_keras, so these are tensor heads with a compiled Keras loss
# --------------------------------------------------------------------------------------------

# kind -> (output units, the loss to compile with)
K3_HEADS: dict[str, tuple[int, Callable[[Any], Any]]] = {
    "k3_logits_scce": (10, lambda k: k.losses.SparseCategoricalCrossentropy(from_logits=True)),
    "k3_logit_bce": (1, lambda k: k.losses.BinaryCrossentropy(from_logits=True)),
    "k3_regression_mse": (1, lambda k: "mse"),
}


def build_keras3(specs: list[dict[str, Any]], directory: Path) -> None:
    import keras

    for spec in specs:
        keras.backend.clear_session()
        keras.utils.set_random_seed(SEED)
        units, loss = K3_HEADS[spec["kind"]]
        model = keras.Sequential(
            [
                keras.Input(shape=(spec["inputs"],), name="features"),
                keras.layers.Dense(spec["hidden"], activation="relu", name="hidden"),
                keras.layers.Dense(units, name="out"),
            ],
            name=Path(spec["file"]).stem,
        )
        model.compile(loss=loss(keras))
        model.save(directory / spec["file"])


BUILDERS = {"tf_keras": build_tf_keras, "keras3": build_keras3}


def main(argv: list[str]) -> int:
    flavor, directory = argv
    warnings.filterwarnings("ignore")  # lambda and legacy-format notices, not errors
    _import_tf()
    BUILDERS[flavor](json.load(sys.stdin), Path(directory))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
