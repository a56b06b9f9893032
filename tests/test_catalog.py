"""tfpcheck.catalog against the installed TensorFlow Probability, tf_keras and Keras 3.

Every fact the catalog states is checked on the real classes and functions: the tfp.layers
classes and their params_size, the tfd parameters, the Keras loss names and activations,
and that the source scan and the bytecode reader read the same spellings as distributions.
"""

from __future__ import annotations

import inspect
import marshal
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tfpcheck.catalog.activations import (
    ACTIVATION_LAYER_CLASSES,
    ACTIVATIONS,
    TENSOR_FUNCTIONS,
    Activation,
    OutputRange,
    canonical_activation,
)
from tfpcheck.catalog.distributions import DISTRIBUTIONS, Distribution, heads_reading
from tfpcheck.catalog.keras_losses import (
    KERAS_LOSSES,
    SHORTHANDS,
    KerasLoss,
    canonical_loss_name,
)
from tfpcheck.catalog.tfp_layers import HEADS, TFP_LAYERS, TfpLayer

tfp = pytest.importorskip("tensorflow_probability")  # imports TensorFlow, once per process
tf_keras = pytest.importorskip("tf_keras")
import tensorflow as tf  # noqa: E402

try:
    import keras as keras3

    if not keras3.__version__.startswith("3"):
        keras3 = None
except ImportError:  # Keras 3 is optional: its checks are skipped
    keras3 = None

tfd = tfp.distributions
tfpl = tfp.layers


@pytest.fixture(scope="module")
def kerases() -> dict[str, ModuleType]:
    """The Kerases installed, by the flavor names the catalog uses."""
    found = {"tf_keras": tf_keras}
    if keras3 is not None:
        found["keras3"] = keras3
    return found


# ---- tfp.layers -------------------------------------------------------------------------


def _tfp_class(layer: TfpLayer) -> type:
    return getattr(tfpl, layer.exported_as or layer.name)


# DistributionLambda subclasses that are no head: they have no params_size
_LAMBDA_OTHERS = {"AutoregressiveTransform", "VariationalGaussianProcess"}


@pytest.mark.parametrize("layer", TFP_LAYERS.values(), ids=lambda layer: layer.name)
def test_every_catalog_layer_is_a_tfp_layer(layer: TfpLayer) -> None:
    cls = _tfp_class(layer)
    assert cls.__name__ == layer.name  # what a saved config records
    assert issubclass(cls, tf_keras.layers.Layer)
    lambda_based = issubclass(cls, tfpl.DistributionLambda)
    assert lambda_based == (layer.kind in {"head", "lambda"} or layer.name in _LAMBDA_OTHERS)
    if layer.width_argument is not None:
        parameters = inspect.signature(cls.__init__).parameters
        assert layer.width_argument in parameters and "activation" in parameters


def test_the_catalog_has_every_layer_tfp_exports() -> None:
    exported = {
        obj.__name__
        for name in dir(tfpl)
        if isinstance(obj := getattr(tfpl, name), type) and issubclass(obj, tf_keras.layers.Layer)
    }
    assert exported == set(TFP_LAYERS)


def _event_forms() -> list[Any]:
    return [(), 1, 3, [4], (2, 3), [2, 2, 2]]


def _params_size_cases() -> list[tuple[str, tuple[Any, ...]]]:
    cases: list[tuple[str, tuple[Any, ...]]] = []
    for name, head in HEADS.items():
        arguments = head.arguments
        if arguments == ("event_shape",):
            cases += [(name, (shape,)) for shape in _event_forms()]
        elif arguments == ("event_size",):
            cases += [(name, (n,)) for n in (1, 2, 5, 10)]
        elif arguments == ("num_components", "event_shape"):
            cases += [(name, (k, shape)) for k in (1, 3) for shape in _event_forms()]
        elif arguments == ("event_size", "num_components"):
            cases += [(name, (n, k)) for n in (2, 10) for k in (1, 3, 5)]
        elif arguments == ("num_components", "component_params_size"):
            cases += [(name, (k, c)) for k in (1, 3) for c in (2, 5, 9)]
        else:
            raise AssertionError(f"{name}: no test cases for the arguments {arguments}")
    return cases


@pytest.mark.parametrize(("name", "arguments"), _params_size_cases(), ids=str)
def test_params_size_formula_is_tfps(name: str, arguments: tuple[Any, ...]) -> None:
    head = HEADS[name]
    assert head.params_size is not None
    real = getattr(tfpl, name).params_size
    real_arguments = list(inspect.signature(real).parameters)
    assert real_arguments[: len(head.arguments)] == list(head.arguments)
    assert head.params_size(*arguments) == int(real(*arguments))


def _built(dist: Any) -> Any:
    """The distribution a tfp.layers head returned, without its tensor-coercible wrapper."""
    return getattr(dist, "tensor_distribution", dist)


def _class_name(dist: Any) -> str:
    """The tfd class a distribution is: TFP builds some as a private twin (_MixtureSameFamily)."""
    return type(dist).__name__.lstrip("_")


def _family(dist: Any) -> Any:
    dist = _built(dist)
    return _built(dist.distribution) if _class_name(dist) == "Independent" else dist


def _head_layer(head: TfpLayer) -> tuple[Any, int]:
    """A real layer of the head's class, and how many values it consumes."""
    values = {"event_shape": [2], "event_size": 3, "num_components": 3}
    if head.name == "MixtureSameFamily":
        component = tfpl.IndependentNormal(2)
        size = head.params_size(3, tfpl.IndependentNormal.params_size(2))  # type: ignore[misc]
        return tfpl.MixtureSameFamily(3, component), size
    arguments = [values[a] for a in head.arguments]
    assert head.params_size is not None
    return getattr(tfpl, head.name)(*arguments), head.params_size(*arguments)


@pytest.mark.parametrize("head", HEADS.values(), ids=lambda head: head.name)
def test_each_head_builds_the_parameters_it_is_said_to(head: TfpLayer) -> None:
    layer, size = _head_layer(head)
    dist = _built(layer(tf.zeros([2, size])))
    assert head.distribution in DISTRIBUTIONS
    if head.is_mixture:
        assert _class_name(dist) == "MixtureSameFamily"
        mixture = _built(dist.mixture_distribution)
        for parameter in head.parameters:
            assert mixture.parameters[parameter] is not None
        components = _family(dist.components_distribution)
        if head.component is not None:
            assert _class_name(components) == head.distribution
            for parameter in HEADS[head.component].parameters:
                assert components.parameters[parameter] is not None
        else:
            assert head.distribution == "MixtureSameFamily"
        return
    inner = _family(dist)
    assert _class_name(inner) == head.distribution
    for parameter in head.parameters:
        assert inner.parameters[parameter] is not None, parameter
    logits = inner.parameters.get("logits")
    assert (head.reads == "logits") == (logits is not None)


def test_logit_heads_are_the_softmax_and_sigmoid_ones() -> None:
    assert heads_reading("softmax") == {
        "OneHotCategorical",
        "CategoricalMixtureOfOneHotCategorical",
    }
    assert heads_reading("sigmoid") == {"IndependentBernoulli"}


# ---- tfd distributions --------------------------------------------------------------------


def _constructor_parameters(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - {"self"}


@pytest.mark.parametrize("dist", DISTRIBUTIONS.values(), ids=lambda d: d.name)
def test_distribution_parameters_are_tfps(dist: Distribution) -> None:
    cls = getattr(tfd, dist.name)
    properties = cls.parameter_properties(tf.float32)
    known = set(properties) | _constructor_parameters(cls)
    assert set(dist.parameters) <= known
    assert dist.positive <= set(dist.parameters)
    for name in dist.positive:
        # TFP's own constraint for the parameter maps any real to a value > 0
        bijector = properties[name].default_constraining_bijector_fn()
        assert float(tf.reduce_min(bijector.forward(tf.constant([-20.0, 0.0, 20.0])))) > 0
    # and no other parameter is: probabilities and counts may be 0
    for name in set(dist.parameters) - dist.positive - {"probs", "total_count"}:
        if name not in properties or properties[name].event_ndims != 0:
            continue  # a matrix (scale_tril): its diagonal is kept positive, not all of it
        try:
            bijector = properties[name].default_constraining_bijector_fn()
        except Exception:  # no constraint of its own: it depends on another parameter
            continue
        assert float(tf.reduce_min(bijector.forward(tf.constant([-20.0])))) <= 0, name


@pytest.mark.parametrize("dist", DISTRIBUTIONS.values(), ids=lambda d: d.name)
def test_parameters_are_in_the_constructors_order(dist: Distribution) -> None:
    """Positional arguments are named by this order (tfd.Normal(t[..., :1], t[..., 1:]))."""
    cls = getattr(tfd, dist.name)
    order = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert order[: len(dist.parameters)] == list(dist.parameters)


# What the logits families need besides their logits to be built.
_EXTRA = {
    "RelaxedOneHotCategorical": {"temperature": 0.5},
    "ExpRelaxedOneHotCategorical": {"temperature": 0.5},
    "RelaxedBernoulli": {"temperature": 0.5},
    "Multinomial": {"total_count": 3.0},
    "Binomial": {"total_count": 3.0},
    "NegativeBinomial": {"total_count": 3.0},
    "FiniteDiscrete": {"outcomes": [1.0, 2.0, 3.0]},
}
LOGITS = [[-1.0, 0.5, 2.0]]


@pytest.mark.parametrize(
    "dist", [d for d in DISTRIBUTIONS.values() if d.family], ids=lambda d: d.name
)
def test_logits_family_is_the_squash_tfp_applies(dist: Distribution) -> None:
    assert dist.logits == "logits" and dist.probs == "probs"
    built = getattr(tfd, dist.name)(logits=LOGITS, **_EXTRA.get(dist.name, {}))
    probs = built.probs_parameter().numpy()
    expected = tf.nn.softmax(LOGITS) if dist.family == "softmax" else tf.sigmoid(LOGITS)
    np.testing.assert_allclose(probs, expected.numpy(), rtol=1e-5)


# ---- Keras losses -------------------------------------------------------------------------


def _function_name(obj: Any) -> str:
    return str(getattr(getattr(obj, "fn", obj), "__name__", ""))


@pytest.mark.parametrize("loss", KERAS_LOSSES.values(), ids=lambda loss: loss.name)
def test_loss_names_resolve_to_the_canonical_function(
    loss: KerasLoss, kerases: dict[str, ModuleType]
) -> None:
    for flavor, keras in kerases.items():
        names = [loss.name, *loss.aliases, *(loss.tf_keras_aliases if flavor == "tf_keras" else ())]
        for name in names:
            assert _function_name(keras.losses.get(name)) == loss.name, (flavor, name)
        instance = keras.losses.get(loss.class_name)
        assert type(instance).__name__ == loss.class_name
        assert _function_name(instance) == loss.name
        if flavor == "keras3":
            for name in loss.tf_keras_aliases:  # tf_keras' only: Keras 3 refuses them
                with pytest.raises(ValueError):
                    keras.losses.get(name)
    for spelled in (loss.name, *loss.aliases, *loss.tf_keras_aliases, loss.class_name):
        assert canonical_loss_name(spelled) == loss.name
        assert canonical_loss_name(spelled.upper()) == loss.name


def test_shorthands_are_tfpchecks_own(kerases: dict[str, ModuleType]) -> None:
    for shorthand, name in SHORTHANDS.items():
        assert name in KERAS_LOSSES and canonical_loss_name(shorthand) == name
        for keras in kerases.values():
            with pytest.raises(ValueError):
                keras.losses.get(shorthand)


_TARGETS = {
    "one_hot": np.array([[0.0, 0.0, 1.0]], "float32"),
    "sparse": np.array([2], "int64"),
    "binary": np.array([[0.0, 1.0, 1.0]], "float32"),
}


@pytest.mark.parametrize("loss", KERAS_LOSSES.values(), ids=lambda loss: loss.name)
def test_from_logits_applies_the_squash_the_catalog_names(
    loss: KerasLoss, kerases: dict[str, ModuleType]
) -> None:
    for keras in kerases.values():
        cls = getattr(keras.losses, loss.class_name)
        if loss.squash is None:
            assert "from_logits" not in inspect.signature(cls.__init__).parameters
            continue
        assert loss.labels is not None
        y, logits = _TARGETS[loss.labels], np.array(LOGITS, "float32")
        squash = (
            keras.activations.softmax if loss.squash == "softmax" else keras.activations.sigmoid
        )
        with_logits = float(cls(from_logits=True)(y, logits))
        with_probs = float(cls()(y, squash(tf.constant(logits))))
        assert np.isfinite(with_logits)
        np.testing.assert_allclose(with_logits, with_probs, rtol=1e-4)


# ---- activations --------------------------------------------------------------------------

WIDE = np.linspace(-50.0, 50.0, 1001, dtype="float32")[:, None] + np.array([0, 1, -2], "float32")
NARROW = np.linspace(-5.0, 5.0, 401, dtype="float32")[:, None] + np.array([0, 1, -2], "float32")


def _check_range(values: np.ndarray, value_range: OutputRange, strict: bool) -> None:
    """The closed bounds on any input; the open ends (`strict`) on inputs where float32 does
    not round onto them; > 0 everywhere for a positive range."""
    low, high = float(values.min()), float(values.max())
    assert value_range.low <= low and high <= value_range.high
    if strict:
        assert value_range.contains(low) and value_range.contains(high)
    if value_range.positive:
        assert low > 0
    if value_range.simplex:
        np.testing.assert_allclose(values.sum(axis=-1), 1.0, atol=1e-5)


def _apply(function: Any, x: np.ndarray) -> np.ndarray:
    return np.asarray(function(tf.constant(x)))


@pytest.mark.parametrize("activation", ACTIVATIONS.values(), ids=lambda a: a.name)
def test_activation_resolves_and_its_range_holds(
    activation: Activation, kerases: dict[str, ModuleType]
) -> None:
    if not activation.kerases:
        assert activation.name in ACTIVATION_LAYER_CLASSES.values()  # a layer only: PReLU
    for flavor in activation.kerases:
        if flavor not in kerases:
            continue
        get = kerases[flavor].activations.get
        function = get(activation.name)
        _check_range(_apply(function, WIDE), activation.range, strict=False)
        _check_range(_apply(function, NARROW), activation.range, strict=True)
        if activation.keeps_logits:
            np.testing.assert_allclose(
                tf.nn.softmax(_apply(function, NARROW)), tf.nn.softmax(NARROW), atol=1e-6
            )
        if activation.same_as is not None:
            np.testing.assert_allclose(
                _apply(function, NARROW), _apply(get(activation.same_as), NARROW), atol=1e-6
            )
        if activation.squash is not None:
            assert activation.range.unit_interval


def test_tf_keras_resolves_every_activation_it_is_said_to() -> None:
    for activation in ACTIVATIONS.values():
        if "tf_keras" not in activation.kerases:
            with pytest.raises(ValueError):
                tf_keras.activations.get(activation.name)


@pytest.mark.parametrize(("cls", "name"), ACTIVATION_LAYER_CLASSES.items())
def test_activation_layers_output_their_activations_range(
    cls: str, name: str, kerases: dict[str, ModuleType]
) -> None:
    for keras in kerases.values():
        layer = getattr(keras.layers, cls)()
        _check_range(np.asarray(layer(WIDE)), ACTIVATIONS[name].range, strict=False)


def test_configs_spellings_of_activations() -> None:
    # tf_keras serializes tf.nn.softmax under its op name
    assert tf_keras.activations.serialize(tf.nn.softmax) in {"softmax", "softmax_v2"}
    assert canonical_activation("softmax_v2") == "softmax"
    assert canonical_activation("None") == "linear"


def _tensor_function(name: str) -> Any:
    """The TensorFlow function a call's last name is, with its one tensor argument."""
    if name[:1].isupper():
        raw = getattr(tf.raw_ops, name)
        argument = next(iter(inspect.signature(raw).parameters))
        return lambda x: raw(**{argument: x})
    for module in (tf.math, tf.nn, tf, tf_keras.activations, tf.experimental.numpy):
        if hasattr(module, name):
            return getattr(module, name)
    raise AssertionError(f"no TensorFlow function {name}")


@pytest.mark.parametrize("function", TENSOR_FUNCTIONS.values(), ids=lambda f: f.name)
def test_tensor_function_ranges(function: Any) -> None:
    call = _tensor_function(function.name)
    _check_range(_apply(call, WIDE), function.range, strict=False)
    _check_range(_apply(call, NARROW), function.range, strict=True)
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0], "float32")
    y = _apply(call, x[None, :])[0]
    if function.zero == "at_zero":
        assert y[2] == 0 and (np.delete(y, 2) > 0).all()
    elif function.zero == "below_zero":
        assert (y[:3] == 0).all() and (y[3:] > 0).all()
    else:
        assert (y > 0).all() == function.range.positive


# ---- how a distribution call is recognised ------------------------------------------------

SPELLINGS = [
    ("tfd.Normal(loc=t, scale=1.0)", True),
    ("tfp.distributions.Normal(loc=t, scale=1.0)", True),
    ("tfp.d.Normal(loc=t, scale=1.0)", True),
    ("tfpd.Normal(loc=t, scale=1.0)", True),
    ("distributions.Normal(loc=t, scale=1.0)", True),
    ("tensorflow_probability.distributions.Normal(loc=t, scale=1.0)", True),
    ("tensorflow_probability.python.distributions.Normal(loc=t, scale=1.0)", True),
    ("Normal(loc=t, scale=1.0)", True),  # from tensorflow_probability.distributions import ...
    ("tfd.SinhArcsinh(loc=t, scale=1.0)", True),  # not in the catalog: the module says it
    ("tfd.Bernoulli(logits=t)", True),
    ("OneHotCategorical(logits=t)", True),
    ("MultivariateNormalTriL(loc=t, scale_tril=t)", True),
    ("OneHotCategorical(event_size=t)", False),  # the tfp.layers layer of the same name
    ("tfpl.OneHotCategorical(event_size=t)", False),
    ("tfp.layers.IndependentNormal(event_shape=t)", False),
    ("tfp.layers.MixtureSameFamily(num_components=t, component_layer=t)", False),
    ("SinhArcsinh(loc=t, scale=1.0)", False),  # a bare name the catalog does not know
    ("tfk.layers.Dense(units=t)", False),
    ("tfd.kl_divergence(distribution_a=t, distribution_b=t)", False),
    ("tf.exp(x=t)", False),
]


def _source_scan_recognises(tmp_path: Path) -> set[str]:
    from tfpcheck.source_scan import scan_source

    body = "".join(
        f"def f{i}(t):\n    return {spelling}\n\n\n" for i, (spelling, _) in enumerate(SPELLINGS)
    )
    path = tmp_path / "spellings.py"
    path.write_text(textwrap.dedent(body))
    return {f"{call.callee}(" for call in scan_source(path).distributions}


def _bytecode_recognises() -> set[str]:
    from tfpcheck.model_file.bytecode.functions import read_marshal_function
    from tfpcheck.rules.heads import is_distribution_call

    found = set()
    for spelling, _ in SPELLINGS:
        fn = eval(f"lambda t: {spelling}", {})  # compiled, never called
        info = read_marshal_function(marshal.dumps(fn.__code__))
        (call,) = (c for c in info.calls if spelling.startswith(f"{c.callee}("))
        if is_distribution_call(call):
            found.add(f"{call.callee}(")
    return found


def test_source_scan_and_bytecode_read_the_same_spellings(tmp_path: Path) -> None:
    expected = {spelling.partition("(")[0] + "(" for spelling, yes in SPELLINGS if yes}
    assert _source_scan_recognises(tmp_path) == expected
    assert _bytecode_recognises() == expected


def test_a_hard_sigmoid_is_read_as_the_sigmoid_squash_it_is(tmp_path: Path) -> None:
    from tfpcheck.source_scan import scan_source

    path = tmp_path / "loss.py"
    path.write_text(
        "def nll(y_true, y_pred):\n"
        "    p = tf.keras.activations.hard_sigmoid(y_pred)\n"
        "    return -tfd.Bernoulli(logits=p).log_prob(y_true)\n"
    )
    (dist,) = scan_source(path).distributions
    assert dist.arguments["logits"].squash == "sigmoid"
