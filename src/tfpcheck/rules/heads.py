"""Graph questions the static rules share: which layers build distributions, what feeds them."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from tfpcheck.findings import Where
from tfpcheck.model_file.types import CallSite, FunctionInfo, Layer, ModelFile

# Layers that pass their input's values through unchanged in sign and scale.
TRANSPARENT_LAYERS = frozenset(
    {
        "Dropout",
        "GaussianDropout",
        "GaussianNoise",
        "AlphaDropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "Reshape",
        "Flatten",
        "Identity",
        "ActivityRegularization",
    }
)
# Layers whose class alone says which activation they apply.
ACTIVATION_LAYER_CLASSES = {
    "Softmax": "softmax",
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "ELU": "elu",
    "PReLU": "prelu",
}
# Layers with an `activation` config entry and `units`/`filters` of their own.
ACTIVATED_LAYERS = frozenset(
    {
        "Dense",
        "EinsumDense",
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "Conv1DTranspose",
        "Conv2DTranspose",
        "Conv3DTranspose",
        "SeparableConv1D",
        "SeparableConv2D",
        "DepthwiseConv2D",
        "DenseFlipout",
        "DenseReparameterization",
        "DenseLocalReparameterization",
        "DenseVariational",
    }
)

# Distribution classes whose `logits=` must be unnormalized, by what normalizes them.
SOFTMAX_LOGIT_DISTRIBUTIONS = frozenset(
    {
        "Categorical",
        "OneHotCategorical",
        "RelaxedOneHotCategorical",
        "Multinomial",
        "ExpRelaxedOneHotCategorical",
    }
)
SIGMOID_LOGIT_DISTRIBUTIONS = frozenset(
    {"Bernoulli", "RelaxedBernoulli", "Binomial", "ContinuousBernoulli", "NegativeBinomial"}
)

# tfp.layers distribution layers: the distribution they build and how it reads its input.
# "logits": softmax/sigmoid logits; "real": unconstrained parameters it transforms itself.
TFP_LAYER_DISTRIBUTIONS: dict[str, tuple[str, str]] = {
    "OneHotCategorical": ("OneHotCategorical", "logits"),
    "CategoricalMixtureOfOneHotCategorical": ("OneHotCategorical", "logits"),
    "IndependentBernoulli": ("Bernoulli", "logits"),
    "IndependentNormal": ("Normal", "real"),
    "IndependentLogistic": ("Logistic", "real"),
    "IndependentPoisson": ("Poisson", "real"),
    "MultivariateNormalTriL": ("MultivariateNormalTriL", "real"),
    "MixtureNormal": ("Normal", "real"),
    "MixtureLogistic": ("Logistic", "real"),
    "MixtureSameFamily": ("MixtureSameFamily", "real"),
}
DISTRIBUTION_LAYERS = frozenset({"DistributionLambda", *TFP_LAYER_DISTRIBUTIONS})


def _event_size(layer: Layer, key: str = "event_size") -> int | None:
    """Read event_size/event_shape from the config or, failing that, the stored closure."""
    sources: list[object] = [layer.config.get(key), layer.config.get("event_shape")]
    for fn in layer.functions:
        closure = fn.closure()
        sources += [closure.get(key), closure.get("event_shape")]
    for value in sources:
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            return value
        if isinstance(value, list | tuple) and value and all(isinstance(v, int) for v in value):
            return math.prod(value)
    return None


def _num_components(layer: Layer) -> int | None:
    value = layer.config.get("num_components")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    for fn in layer.functions:
        value = fn.closure().get("num_components")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _params_independent(n: int) -> int:
    return 2 * n


# params_size of each tfp.layers class, as tfp defines it, from event size (and components).
PARAMS_SIZE: dict[str, Callable[[int, int | None], int | None]] = {
    "OneHotCategorical": lambda n, _k: n,
    "IndependentBernoulli": lambda n, _k: n,
    "IndependentPoisson": lambda n, _k: n,
    "IndependentNormal": lambda n, _k: _params_independent(n),
    "IndependentLogistic": lambda n, _k: _params_independent(n),
    "MultivariateNormalTriL": lambda n, _k: n + n * (n + 1) // 2,
    "CategoricalMixtureOfOneHotCategorical": lambda n, k: None if k is None else k * (1 + n),
    "MixtureNormal": lambda n, k: None if k is None else k * (1 + 2 * n),
    "MixtureLogistic": lambda n, k: None if k is None else k * (1 + 2 * n),
}


def params_size(layer: Layer) -> int | None:
    formula = PARAMS_SIZE.get(layer.class_name)
    if formula is None:
        return None
    n = _event_size(layer)
    if n is None:
        return None
    return formula(n, _num_components(layer))


def user_functions(layer: Layer) -> list[FunctionInfo]:
    """Functions the user wrote (not tfp's own wrappers around them)."""
    return [fn for fn in layer.functions if not fn.is_tfp_code]


DISTRIBUTION_PREFIXES = ("tfd.", "tfp.distributions.", "distributions.", "tfp.d.")


def is_distribution_call(call: CallSite) -> bool:
    name = call.short_name
    if not name[:1].isupper():
        return False
    return call.callee.startswith(DISTRIBUTION_PREFIXES) or name in KNOWN_DISTRIBUTIONS


KNOWN_DISTRIBUTIONS = frozenset(
    {
        *SOFTMAX_LOGIT_DISTRIBUTIONS,
        *SIGMOID_LOGIT_DISTRIBUTIONS,
        "Normal",
        "LogNormal",
        "Logistic",
        "Laplace",
        "StudentT",
        "Cauchy",
        "Gamma",
        "InverseGamma",
        "Beta",
        "Exponential",
        "Poisson",
        "Dirichlet",
        "Independent",
        "MixtureSameFamily",
        "MultivariateNormalDiag",
        "MultivariateNormalTriL",
        "MultivariateNormalFullCovariance",
        "MultivariateNormalLinearOperator",
        "TruncatedNormal",
        "HalfNormal",
        "Weibull",
        "VonMises",
    }
)


@dataclass
class Head:
    """A layer that turns tensors into a distribution, and what feeds it."""

    layer: Layer
    distributions: list[str]  # short class names, e.g. ["Categorical"]
    calls: list[CallSite] = field(default_factory=list)  # constructor calls in user code
    function: FunctionInfo | None = None  # the user's make_distribution_fn
    parameterization: str | None = None  # "logits", "probs" or "real" when known

    @property
    def is_builtin(self) -> bool:
        return self.layer.class_name in TFP_LAYER_DISTRIBUTIONS


def _head_for(layer: Layer) -> Head | None:
    if layer.class_name in TFP_LAYER_DISTRIBUTIONS:
        dist, param = TFP_LAYER_DISTRIBUTIONS[layer.class_name]
        return Head(layer, [dist], parameterization=param)
    if layer.class_name != "DistributionLambda":
        return None
    for fn in user_functions(layer):
        calls = [c for c in fn.calls if is_distribution_call(c)]
        if calls:
            outer = calls[-1]
            given = "logits" if outer.kwarg("logits") else "probs" if outer.kwarg("probs") else None
            return Head(layer, [c.short_name for c in calls], calls, fn, given)
    fns = user_functions(layer)
    return Head(layer, [], function=fns[0] if fns else None)


def distribution_heads(model: ModelFile) -> list[Head]:
    return [head for layer in model.layers if (head := _head_for(layer)) is not None]


def feeder(model: ModelFile, layer: Layer) -> Layer | None:
    """The single layer feeding `layer`, or None when it has none or several."""
    producers = model.producers(layer)
    return producers[0] if len(producers) == 1 else None


def activation_source(model: ModelFile, layer: Layer) -> tuple[Layer, str] | None:
    """The layer that decides the activation of `layer`'s input, and that activation.

    Walks back through layers that do not change values (Dropout, Reshape, ...). None when
    something in between (a custom layer, a merge) makes the answer unknown.
    """
    current = feeder(model, layer)
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.class_name in ACTIVATION_LAYER_CLASSES:
            return current, ACTIVATION_LAYER_CLASSES[current.class_name]
        if current.class_name == "Activation" or current.class_name in ACTIVATED_LAYERS:
            act = current.activation or "linear"
            return current, normalize_activation(act)
        if current.class_name not in TRANSPARENT_LAYERS:
            return None
        current = feeder(model, current)
    return None


def units_source(model: ModelFile, layer: Layer) -> Layer | None:
    """The Dense-like layer whose units are the width of `layer`'s input."""
    current = feeder(model, layer)
    while current is not None:
        if current.units is not None:
            return current
        if current.class_name not in {"Activation", "Dropout", "GaussianNoise", "Identity"} and (
            current.class_name not in ACTIVATION_LAYER_CLASSES
        ):
            return None
        current = feeder(model, current)
    return None


def normalize_activation(name: str) -> str:
    name = name.lower()
    return {"none": "linear", "softmax_v2": "softmax"}.get(name, name)


def output_layers(model: ModelFile, only: str | None = None) -> list[Layer]:
    """The output layers; `only`: the one output a per-output loss ({name: loss}) applies to."""
    names = [name for name in model.outputs if only is None or name == only]
    return [layer for name in names if (layer := model.layer(name)) is not None]


def output_activation(model: ModelFile, layer: Layer) -> tuple[Layer, str] | None:
    """The activation a tensor-valued output layer applies (itself or through pass-throughs)."""
    if layer.class_name in ACTIVATION_LAYER_CLASSES:
        return layer, ACTIVATION_LAYER_CLASSES[layer.class_name]
    if layer.class_name == "Activation" or layer.class_name in ACTIVATED_LAYERS:
        return layer, normalize_activation(layer.activation or "linear")
    if layer.class_name in TRANSPARENT_LAYERS:
        return activation_source(model, layer)
    return None


def keras_layer_call(layer: Layer) -> str:
    """How the layer reads in source, for fixes: Dense(10, activation='softmax', name='probs')."""
    args: list[str] = []
    if layer.units is not None:
        args.append(str(layer.units))
    act = layer.activation
    if layer.class_name == "Activation" and act:
        args.append(repr(act))
    elif act and normalize_activation(act) != "linear":
        args.append(f"activation={act!r}")
    args.append(f"name={layer.name!r}")
    return f"{layer.class_name}({', '.join(args)})"


def layer_where(layer: Layer, fn: FunctionInfo | None = None, line: int | None = None) -> Where:
    """Point at a layer and, when known, the user's function inside it."""
    name = f"{layer.parent}/{layer.name}" if layer.parent else layer.name
    if fn is None:
        return Where(layer=name, layer_index=layer.index)
    return Where(
        layer=name,
        layer_index=layer.index,
        function=fn.qualname or fn.name,
        file=fn.filename,
        line=line or fn.firstlineno,
    )


def function_where(fn: FunctionInfo, line: int | None = None) -> Where:
    return Where(function=fn.qualname or fn.name, file=fn.filename, line=line or fn.firstlineno)


def render_call(call: CallSite) -> str:
    parts = [arg.render() for arg in call.args]
    parts += [f"{key}={value.render()}" for key, value in call.kwargs]
    return f"{call.callee}({', '.join(parts)})"
