"""read_losses on every form a compile config (or .h5 training_config) stores a loss in."""

from __future__ import annotations

import base64
import marshal
from typing import Any

import pytest

from tfpcheck.model_file.compile_config import read_losses
from tfpcheck.model_file.types import LossConfig, ModelReadError

CCE_LOGITS = {
    "module": "keras.losses",
    "class_name": "CategoricalCrossentropy",
    "config": {"name": "categorical_crossentropy", "from_logits": True, "axis": -1},
    "registered_name": None,
}


def summary(losses: list[LossConfig]) -> list[tuple[str | None, bool, str | None]]:
    return [(loss.name, loss.from_logits, loss.output) for loss in losses]


def loss_of(value: Any, outputs: list[str] | None = None) -> list[LossConfig]:
    losses, errors = read_losses({"loss": value}, outputs or ["out"])
    assert errors == []
    return losses


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("categorical_crossentropy", ("categorical_crossentropy", False, None)),
        ("cce", ("categorical_crossentropy", False, None)),
        ("mse", ("mean_squared_error", False, None)),
        (CCE_LOGITS, ("categorical_crossentropy", True, None)),
        # tf_keras .h5 training_config: no module
        (
            {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": True}},
            ("sparse_categorical_crossentropy", True, None),
        ),
        (
            {"module": "builtins", "class_name": "function", "config": "binary_crossentropy"},
            ("binary_crossentropy", False, None),
        ),
        (
            {
                "module": "keras.losses",
                "class_name": "function",
                "config": "categorical_crossentropy",
            },
            ("categorical_crossentropy", False, None),
        ),
        # a user function that is not a Keras loss
        (
            {"module": "builtins", "class_name": "function", "config": "negloglik"},
            (None, False, None),
        ),
        ("negloglik", (None, False, None)),
        # a user class that happens to share a Keras class name is still the user's
        (
            {"module": "__main__", "class_name": "CategoricalCrossentropy", "config": {}},
            (None, False, None),
        ),
        (
            {
                "module": "keras.losses",
                "class_name": "LossFunctionWrapper",
                "config": {
                    "fn": {"module": "keras.losses", "class_name": "function", "config": "mae"},
                    "from_logits": False,
                },
            },
            ("mean_absolute_error", False, None),
        ),
        # from_logits must really be true, not truthy
        (
            {"class_name": "BinaryCrossentropy", "config": {"from_logits": "yes"}},
            ("binary_crossentropy", False, None),
        ),
    ],
)
def test_single_loss(value: Any, expected: tuple[str | None, bool, str | None]) -> None:
    (loss,) = loss_of(value)
    assert summary([loss]) == [expected]
    assert loss.raw == value
    assert loss.function is None


def test_not_compiled() -> None:
    assert read_losses(None, ["out"]) == ([], [])
    assert read_losses({"optimizer": "adam", "loss": None}, ["out"]) == ([], [])


def test_list_per_output() -> None:
    losses = loss_of(["mse", CCE_LOGITS, None], ["a", "b", "c"])
    assert summary(losses) == [
        ("mean_squared_error", False, "a"),
        ("categorical_crossentropy", True, "b"),
    ]


def test_list_that_does_not_match_the_outputs() -> None:
    assert summary(loss_of(["mse"], ["a", "b"])) == [("mean_squared_error", False, None)]


def test_dict_per_output_name() -> None:
    losses = loss_of({"b": CCE_LOGITS, "a": "mae"}, ["a", "b"])
    assert summary(losses) == [
        ("categorical_crossentropy", True, "b"),
        ("mean_absolute_error", False, "a"),
    ]


def _code(fn: Any) -> str:
    return base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii")


def negloglik_lambda() -> Any:
    return lambda y, dist: -dist.log_prob(y)


@pytest.mark.parametrize(
    "form",
    [
        lambda code: {"class_name": "__lambda__", "config": {"value": [code, None, None]}},
        lambda code: {"class_name": "__lambda__", "config": {"code": code, "closure": None}},
    ],
    ids=["legacy-value", "keras3-code"],
)
def test_lambda_loss(form: Any) -> None:
    fn = negloglik_lambda()
    value = form(_code(fn))
    (loss,) = loss_of(value)
    assert (loss.name, loss.raw) == (None, value)
    assert loss.function is not None
    assert (loss.function.filename, loss.function.firstlineno) == (
        __file__,
        fn.__code__.co_firstlineno,
    )
    assert loss.function.argnames == ("y", "dist")


def test_unreadable_lambda_loss_is_reported_not_raised() -> None:
    value = {"class_name": "__lambda__", "config": {"value": ["@@@", None, None]}}
    losses, errors = read_losses({"loss": value}, ["out"])
    assert summary(losses) == [(None, False, None)]
    assert losses[0].function is None
    assert len(errors) == 1
    assert errors[0].startswith("compile_config.loss.config.value: ")


def test_training_config_errors_name_it() -> None:
    with pytest.raises(ModelReadError, match=r"^training_config is a list, not an object$"):
        read_losses(["mse"], ["out"], "training_config")
