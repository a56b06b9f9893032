"""Run by test_python_api.py in a process of its own: models built here import TensorFlow,
which the other tests' process must not. Prints one JSON object of what each case saw."""

from __future__ import annotations

import json
import os
import random
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow_probability as tfp
import tf_keras as tfk

import tfpcheck

tfd = tfp.distributions


def categorical(softmax: bool) -> tfk.Model:
    layers = [tfk.Input((4,)), tfk.layers.Dense(10)]
    if softmax:
        layers.append(tfk.layers.Activation("softmax"))
    layers.append(tfp.layers.DistributionLambda(lambda t: tfd.Categorical(logits=t)))
    return tfk.Sequential(layers)


def normal_loss(y_true, y_pred):  # type: ignore[no-untyped-def]
    # y_pred[:, 0] is (N,); y_true is (N, 1): log_prob broadcasts to (N, N)
    return -tfd.Normal(y_pred[:, 0], 1.0).log_prob(y_true)


def keras3_regressor() -> keras.Model:
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])


def weights(model: object) -> list[np.ndarray]:
    return [np.array(w) for w in model.get_weights()]  # type: ignore[attr-defined]


def unchanged(before: list[np.ndarray], after: list[np.ndarray]) -> bool:
    return len(before) == len(after) and all(
        np.array_equal(a, b) for a, b in zip(before, after, strict=True)
    )


def codes(report: tfpcheck.Report) -> list[str]:
    return [f.code for f in report.findings]


def main() -> None:
    out: dict[str, object] = {}

    model = categorical(softmax=True)
    report = tfpcheck.check(model, "nll")
    out["softmax"] = {
        "codes": codes(report),
        "ok": report.ok,
        "text": str(report),
        "html": report._repr_html_(),
        "dict": report.to_dict(),
    }
    try:
        report.raise_for_errors()
        out["softmax"]["raised"] = None  # type: ignore[index]
    except AssertionError as exc:
        out["softmax"]["raised"] = [type(exc).__name__, str(exc)]  # type: ignore[index]

    fixed = tfpcheck.check(categorical(softmax=False), "nll")
    fixed.raise_for_errors()
    out["fixed"] = {"codes": codes(fixed), "ok": fixed.ok, "text": str(fixed)}

    # The state a check must leave as it was, on a compiled Keras 3 model
    regressor = keras3_regressor()
    regressor.compile(optimizer="adam", loss="mse")
    optimizer, loss = regressor.optimizer, regressor.loss
    before = weights(regressor)
    random.seed(7)
    np.random.seed(7)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    broadcast = tfpcheck.check(regressor, loss=normal_loss, x=x, y=y)
    out["keras3"] = {
        "codes": codes(broadcast),
        "ok": broadcast.ok,
        "weights_unchanged": unchanged(before, weights(regressor)),
        "same_optimizer": regressor.optimizer is optimizer,
        "same_loss": regressor.loss == loss,
        "python_random": random.getstate() == python_state,
        "numpy_random": all(
            np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_state, strict=True)
        ),
        "fits": bool(np.isfinite(regressor.fit(x, y, epochs=1, verbose=0).history["loss"][0])),
    }

    # tf_keras, compiled: the optimizer and loss stay, and so do its checkpoint dependencies
    compiled = categorical(softmax=True)
    compiled.compile(optimizer="adam", loss=lambda y, d: -d.log_prob(y))
    tfk_optimizer, tfk_loss = compiled.optimizer, compiled.loss
    tfk_before = weights(compiled)
    tfk_report = tfpcheck.check(compiled)
    out["tf_keras_compiled"] = {
        "codes": codes(tfk_report),
        "weights_unchanged": unchanged(tfk_before, weights(compiled)),
        "same_optimizer": compiled.optimizer is tfk_optimizer,
        "same_loss": compiled.loss is tfk_loss,
    }

    # An uncompiled model stays uncompiled
    bare = keras3_regressor()
    tfpcheck.check(bare, "mse")
    out["uncompiled"] = {"compiled": bool(getattr(bare, "compiled", False))}

    # A zero-argument factory returning (model, loss)
    out["factory"] = {"codes": codes(tfpcheck.check(lambda: (keras3_regressor(), normal_loss)))}
    out["static_only"] = {
        "codes": codes(tfpcheck.check(categorical(softmax=True), "nll", static_only=True)),
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
