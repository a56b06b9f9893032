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
import tfpcheck.keras

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


def fixed_normal_loss(y_true, y_pred):  # type: ignore[no-untyped-def]
    return -tfd.Normal(y_pred[:, 0:1], 1.0).log_prob(y_true)


class Steps:
    """Counts what fit ran after the callbacks before it (a plain duck-typed callback's
    hooks would do; this derives from the flavor's own base)."""

    def __init__(self) -> None:
        self.epochs = 0
        self.batches = 0

    def hooks(self, base: type) -> object:
        counter = self

        class Counting(base):  # type: ignore[misc,valid-type]
            def on_epoch_begin(self, epoch, logs=None):  # type: ignore[no-untyped-def]
                counter.epochs += 1

            def on_train_batch_begin(self, batch, logs=None):  # type: ignore[no-untyped-def]
                counter.batches += 1

        return Counting()


def fit_with_callback(model, train_x, train_y, base, **callback):  # type: ignore[no-untyped-def]
    """fit for two epochs with CheckCallback first: what it printed, raised, and let run."""
    printed: list[str] = []
    steps = Steps()
    check = tfpcheck.keras.CheckCallback(print_fn=printed.append, **callback)
    before = weights(model)
    outcome: dict[str, object] = {"raised": None}
    try:
        history = model.fit(
            train_x,
            train_y,
            epochs=2,
            batch_size=16,
            verbose=0,
            callbacks=[check, steps.hooks(base)],
        )
        outcome["losses"] = [float(v) for v in history.history["loss"]]
    except AssertionError as exc:
        outcome["raised"] = [type(exc).__name__, str(exc)]
    outcome.update(
        printed=printed,
        epochs=steps.epochs,
        batches=steps.batches,
        weights_unchanged=unchanged(before, weights(model)),
        report_codes=codes(check.report) if check.report is not None else None,
    )
    return outcome


def callbacks() -> dict[str, object]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    out: dict[str, object] = {}
    for name, loss in (("keras3_broadcast", normal_loss), ("keras3_fixed", fixed_normal_loss)):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)])
        model.compile(optimizer="adam", loss=loss)
        out[name] = fit_with_callback(model, x, y, keras.callbacks.Callback, x=x[:32], y=y[:32])
    labels = rng.integers(0, 10, size=(64,)).astype("float32")
    x4 = rng.normal(size=(64, 4)).astype("float32")
    for name, softmax in (("tf_keras_softmax", True), ("tf_keras_fixed", False)):
        model = categorical(softmax)
        model.compile(optimizer="adam", loss=lambda y, d: -d.log_prob(y))
        out[name] = fit_with_callback(model, x4, labels, tfk.callbacks.Callback)
    # fail_on="warning" stops on a warning the default lets through
    model = categorical(False)
    model.compile(optimizer="adam", loss=lambda y, d: -d.log_prob(y))
    out["tf_keras_fail_on_info"] = fit_with_callback(
        model, x4, labels, tfk.callbacks.Callback, fail_on="info"
    )
    return out


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
        "shapes": broadcast.shapes.to_dict(),
        "shapes_text": str(broadcast.shapes),
        "shapes_html": broadcast.shapes._repr_html_(),
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
    out["callbacks"] = callbacks()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
