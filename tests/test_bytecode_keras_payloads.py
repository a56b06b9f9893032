"""What tf_keras, tfp and Keras 3 really store (tests/data/bytecode/keras_payloads.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tfpcheck.model_file.bytecode.functions import read_cloudpickle_function, read_marshal_function
from tfpcheck.model_file.bytecode.versions import RUNNING
from tfpcheck.model_file.types import CallSite, Expr

PAYLOADS = json.loads((Path(__file__).parent / "data/bytecode/keras_payloads.json").read_text())
TFP_LAYERS = "/work/venv/lib/python3.11/site-packages/tensorflow_probability/python/layers"
TFP_FILE = f"{TFP_LAYERS}/distribution_layer.py"
# Saved under 3.11.7; decoding the calls needs the same Python.
decodes = pytest.mark.skipif(RUNNING != (3, 11), reason="payloads were written by Python 3.11")


def triple(model: str) -> list:
    return PAYLOADS[model]["function"]


def test_distribution_lambda_make_distribution_fn():
    info = read_cloudpickle_function(PAYLOADS["tfk_softmax_cat"]["make_distribution_fn"])
    assert info.name == "<lambda>"
    assert info.qualname == "<lambda>"
    assert info.module == "__main__"
    assert info.filename == "/tmp/exp/a.py"
    assert info.firstlineno == 8
    assert info.argnames == ("t",)
    assert info.names == ("tfd", "Categorical")
    assert info.global_modules == ("tensorflow_probability.python.distributions",)
    assert info.global_refs == (("tfd", "tensorflow_probability.python.distributions"),)
    assert info.python_version == (3, 11)
    assert info.python_versions == ((3, 11),)
    assert info.dangerous == ()


@decodes
def test_distribution_lambda_calls():
    info = read_cloudpickle_function(PAYLOADS["tfk_softmax_cat"]["make_distribution_fn"])
    assert info.version_mismatch is False
    assert info.calls == (
        CallSite("tfd.Categorical", kwargs=(("logits", Expr("name", "t")),), line=8),
    )
    assert info.returns is not None
    assert info.returns.render() == "tfd.Categorical(logits=t)"


def test_tfp_wrapper_and_the_lambda_in_its_closure():
    code, defaults, closure = triple("tfk_softmax_cat")
    wrapper = read_marshal_function(code, defaults=defaults, closure=closure)
    assert wrapper.name == "_fn"
    assert wrapper.qualname == "DistributionLambda.__init__.<locals>._fn"
    assert wrapper.filename == TFP_FILE
    assert wrapper.argnames == ("fargs", "fkwargs")
    assert wrapper.freevars == ("convert_to_tensor_fn", "make_distribution_fn")
    # as stored: a reference to tfd.Distribution.sample, and the user's lambda
    assert wrapper.closure_values == ("<function sample>", "<lambda>")
    assert wrapper.python_version == (3, 11)
    assert wrapper.dangerous == ()
    (nested,) = wrapper.nested
    assert nested.qualname == "DistributionLambda.__init__.<locals>._fn.<locals>.<lambda>"

    user_code, user_defaults, user_closure = closure[1]["config"]["value"]
    user = read_marshal_function(user_code, defaults=user_defaults, closure=user_closure)
    assert (user.name, user.filename, user.firstlineno) == ("<lambda>", "/tmp/exp/a.py", 8)
    assert user.closure_values == ()
    assert user.defaults == ()


@decodes
def test_tfp_wrapper_decoding_stops_at_its_first_jump():
    code, defaults, closure = triple("tfk_softmax_cat")
    wrapper = read_marshal_function(code, defaults=defaults, closure=closure)
    # d = make_distribution_fn(*fargs, **fkwargs)
    # value_is_seq = isinstance(d.dtype, collections.abc.Sequence)
    # maybe_composite_convert_to_tensor_fn = (... if value_is_seq else ...)  <- a jump
    assert [(c.callee, [a.render() for a in c.args], c.line) for c in wrapper.calls] == [
        ("make_distribution_fn", ["*fargs", "**fkwargs"], 167),
        (
            "isinstance",
            ["make_distribution_fn(*fargs, **fkwargs).dtype", "collections.abc.Sequence"],
            168,
        ),
    ]
    assert wrapper.notes == (
        "calls decoded only up to where decoding stopped: "
        "unsupported instruction POP_JUMP_FORWARD_IF_FALSE at byte 94",
    )
    user_code, _, _ = closure[1]["config"]["value"]
    user = read_marshal_function(user_code)
    assert [(c.callee, c.line) for c in user.calls] == [("tfd.Categorical", 8)]


@pytest.mark.parametrize(
    ("model", "line", "call", "closure", "global_class"),
    [
        (
            "tfk_ohc",
            466,
            "OneHotCategorical.new(t, event_size, sample_dtype, validate_args)",
            {"event_size": 10, "sample_dtype": None, "validate_args": False},
            "OneHotCategorical",
        ),
        (
            "tfk_in",
            953,
            "IndependentNormal.new(t, event_shape, validate_args)",
            {"event_shape": 1, "validate_args": False},
            "IndependentNormal",
        ),
    ],
)
def test_tfp_builtin_layers(model, line, call, closure, global_class):
    info = read_cloudpickle_function(PAYLOADS[model]["make_distribution_fn"])
    assert info.filename == TFP_FILE
    assert info.firstlineno == line
    assert info.qualname == f"{global_class}.__init__.<locals>.<lambda>"
    assert info.module == "tensorflow_probability.python.layers.distribution_layer"
    assert info.closure() == closure
    assert info.global_modules == ()
    assert info.global_refs == (
        (global_class, f"tensorflow_probability.python.layers.distribution_layer.{global_class}"),
    )
    # the same lambda, marshalled in the closure of tfp's wrapper
    _, _, wrapper_closure = triple(model)
    code, defaults, values = wrapper_closure[1]["config"]["value"]
    marshalled = read_marshal_function(code, defaults=defaults, closure=values)
    assert marshalled.closure() == closure
    assert (marshalled.filename, marshalled.firstlineno) == (TFP_FILE, line)
    if RUNNING == (3, 11):
        assert [c.line for c in info.calls] == [line]
        assert info.returns is not None
        assert info.returns.render() == call
        assert marshalled.calls == info.calls


def test_keras3_lambda_layer():
    stored = PAYLOADS["k3_lambda"]["function"]
    assert stored["class_name"] == "__lambda__"
    cfg = stored["config"]
    info = read_marshal_function(cfg["code"], defaults=cfg["defaults"], closure=cfg["closure"])
    assert (info.name, info.filename, info.firstlineno) == ("<lambda>", "/tmp/exp/a.py", 21)
    assert info.argnames == ("x",)
    # x * 2 compiles to the same bytes in 3.11 and 3.12: both are possible writers
    assert info.python_versions == ((3, 11), (3, 12))
    assert info.python_version is None
    assert info.version_mismatch is (RUNNING not in info.python_versions)
    if not info.version_mismatch:
        assert info.calls == ()
        assert info.returns == Expr("binop", "*", (Expr("name", "x"), Expr("const", 2)))
