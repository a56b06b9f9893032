"""Serialized functions found in layer configs: where they live, de-duplication, failures."""

from __future__ import annotations

import base64
import marshal
from collections.abc import Callable
from typing import Any

import pytest
from pickled_names import pickled_file

from tfpcheck.model_file import serialized_code
from tfpcheck.model_file.bytecode.errors import BytecodeError
from tfpcheck.model_file.serialized_code import layer_code
from tfpcheck.model_file.types import FunctionInfo

HERE = __file__


def _local_functions() -> tuple[Callable[..., Any], Callable[..., Any]]:
    # Defined in a function: cloudpickle stores local functions by value (with their code),
    # as it does the lambdas of a __main__ script.
    def normal_head(t: Any) -> Any:  # stands for a user's make_distribution_fn
        return tfd.Normal(loc=t[..., :1], scale=tf.exp(t[..., 1:]))  # noqa: F821

    def output_shape(s: Any) -> Any:
        return s

    return normal_head, output_shape


normal_head, output_shape = _local_functions()


def make_wrapper(make_distribution_fn: Any, convert_to_tensor_fn: Any) -> Callable[..., Any]:
    # the shape of tfp's DistributionLambda `_fn`, closing over the user's function
    def _fn(*args: Any) -> Any:
        return convert_to_tensor_fn(make_distribution_fn(*args))

    return _fn


def make_scaled(k: int, shape: tuple[int, ...]) -> Callable[..., Any]:
    return lambda t: t * k + len(shape)


def marshalled(fn: Callable[..., Any]) -> str:
    return base64.encodebytes(marshal.dumps(fn.__code__)).decode("ascii")


def lambda_value(fn: Callable[..., Any], closure: Any = None) -> dict[str, Any]:
    """How tf_keras' serialize_keras_object stores a lambda."""
    return {"class_name": "__lambda__", "config": {"value": [marshalled(fn), None, closure]}}


def where(fn: Callable[..., Any]) -> tuple[str | None, int | None, str]:
    return (HERE, fn.__code__.co_firstlineno, fn.__code__.co_name)


def located(infos: list[FunctionInfo]) -> list[tuple[str | None, int | None, str]]:
    return [(info.filename, info.firstlineno, info.name) for info in infos]


def test_tf_keras_lambda_function_and_output_shape() -> None:
    config = {
        "name": "lam",
        "function": [marshalled(normal_head), None, None],
        "function_type": "lambda",
        "output_shape": [marshalled(output_shape), None, None],
        "output_shape_type": "lambda",
        "arguments": {},
    }
    found = layer_code(config)
    assert found.errors == []
    assert located(found.functions) == [where(normal_head), where(output_shape)]
    assert found.functions[0].source == "marshal"


def test_named_function_and_raw_output_shape_are_not_code() -> None:
    config = {
        "function": "normal_head",
        "function_type": "function",
        "output_shape": [None, 2],
        "output_shape_type": "raw",
        # Keras 3's form of a named function
        "mask": {"module": "__main__", "class_name": "function", "config": "my_mask"},
    }
    found = layer_code(config)
    assert (found.functions, found.library, found.errors) == ([], [], [])


def test_keras3_lambda_code_with_closure() -> None:
    scaled = make_scaled(3, (1, 2))
    config = {
        "function": {
            "class_name": "__lambda__",
            "config": {"code": marshalled(scaled), "defaults": None, "closure": [3, [1, 2]]},
        }
    }
    found = layer_code(config)
    assert found.errors == []
    assert located(found.functions) == [where(scaled)]
    assert found.functions[0].closure() == {"k": 3, "shape": (1, 2)}


def test_lambda_in_a_closure_is_read_and_deduplicated_with_its_pickle() -> None:
    cloudpickle = pytest.importorskip("cloudpickle")
    pickled = base64.encodebytes(cloudpickle.dumps(normal_head)).decode("ascii")
    wrapper = make_wrapper(normal_head, "sample")
    config = {
        "function": [
            marshalled(wrapper),
            None,
            [
                {"module": "builtins", "class_name": "function", "config": "sample"},
                lambda_value(normal_head),
            ],
        ],
        "function_type": "lambda",
        "make_distribution_fn": pickled,
    }
    found = layer_code(config)
    assert found.errors == []
    # the closure's lambda first, then the function that closes over it; the pickle of the
    # same code object adds nothing
    assert located(found.functions) == [where(normal_head), where(wrapper)]
    # the closure names the function read from it
    closure = found.functions[1].closure()
    assert isinstance(closure["make_distribution_fn"], FunctionInfo)
    assert located([closure["make_distribution_fn"]]) == [where(normal_head)]


def test_unreadable_code_is_an_error_message_not_an_exception() -> None:
    config = {
        "function": ["not base64 marshal!", None, None],
        "function_type": "lambda",
        "mask": {"class_name": "__lambda__", "config": {"code": 42}},
        "output_shape": {"class_name": "__lambda__", "config": {"other": 1}},
        "extra": {"function": "x", "function_type": "lambda"},
    }
    found = layer_code(config)
    assert found.functions == []
    assert len(found.errors) == 4
    assert found.errors[0].startswith("config.function: ")
    assert found.errors[1:] == [
        "config.mask.config: code is not base64 text",
        "config.output_shape: a __lambda__ entry without code",
        "config.extra.function: expected [code, defaults, closure]",
    ]


def test_pickles_are_found_under_any_key() -> None:
    cloudpickle = pytest.importorskip("cloudpickle")
    pickled = base64.encodebytes(cloudpickle.dumps(output_shape)).decode("ascii")
    found = layer_code({"name": "custom", "options": {"callback": pickled}})
    # only the pickle holds this code: its file is what the installed cloudpickle recorded
    _, line, name = where(output_shape)
    assert located(found.functions) == [(pickled_file(HERE), line, name)]
    assert found.functions[0].source == "cloudpickle"


def test_failed_pickle_keeps_what_makes_it_dangerous(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(data: bytes | str) -> FunctionInfo:
        raise BytecodeError(
            "pickle ends early",
            pickle_globals=(("os", "system"), ("os", "getenv")),
            dangerous=("os.system",),
        )

    monkeypatch.setattr(serialized_code, "read_cloudpickle_function", refuse)
    found = layer_code({"make_distribution_fn": "gAWVxxxx"})
    assert found.errors == ["config.make_distribution_fn: pickle ends early"]
    assert [(f.source, f.name, f.dangerous, f.global_modules) for f in found.functions] == [
        ("cloudpickle", "<unreadable>", ("os.system",), ("os",))
    ]


def test_tfp_wrapper_goes_to_library(monkeypatch: pytest.MonkeyPatch) -> None:
    real = serialized_code.read_marshal_function

    def as_tfp_wrapper(data: str, **kwargs: Any) -> FunctionInfo:
        info = real(data, **kwargs)
        if info.name != "_fn":
            return info
        return FunctionInfo(
            source="marshal",
            name="_fn",
            filename="/venv/site-packages/tensorflow_probability/python/layers/distribution_layer.py",
            firstlineno=165,
        )

    monkeypatch.setattr(serialized_code, "read_marshal_function", as_tfp_wrapper)
    wrapper = make_wrapper(normal_head, "sample")
    closure = [{"class_name": "function", "config": "sample"}, lambda_value(normal_head)]
    config = {"function": [marshalled(wrapper), None, closure], "function_type": "lambda"}
    found = layer_code(config)
    assert located(found.functions) == [where(normal_head)]
    assert [f.name for f in found.library] == ["_fn"]


def test_code_inside_absurd_nesting_is_reported() -> None:
    config: Any = {"function": {"class_name": "__lambda__", "config": {}}}
    for _ in range(150):
        config = {"wrapped": config}
    found = layer_code(config)
    assert found.functions == []
    assert len(found.errors) == 1
    assert found.errors[0].endswith(": nested too deeply to scan for serialized code")
