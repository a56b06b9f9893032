"""Graph questions the static rules share: which layers build distributions, what feeds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tfpcheck.catalog.activations import ACTIVATION_LAYER_CLASSES, canonical_activation
from tfpcheck.catalog.distributions import DISTRIBUTIONS
from tfpcheck.catalog.distributions import is_distribution_call as is_distribution_callee
from tfpcheck.catalog.tfp_layers import ACTIVATED_TFP_LAYERS, HEADS
from tfpcheck.findings import Where
from tfpcheck.model_file.types import CallSite, Expr, FunctionInfo, Layer, ModelFile

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
        *ACTIVATED_TFP_LAYERS,  # DenseFlipout, Conv2DFlipout, ...
    }
)

# tfp.layers distribution layers: the distribution they build and how it reads its input.
# "logits": softmax/sigmoid logits; "real": unconstrained parameters it transforms itself.
TFP_LAYER_DISTRIBUTIONS: dict[str, tuple[str, str]] = {
    name: (head.distribution, head.reads)
    for name, head in HEADS.items()
    if head.distribution is not None and head.reads is not None
}
DISTRIBUTION_LAYERS = frozenset({"DistributionLambda", *TFP_LAYER_DISTRIBUTIONS})


def user_functions(layer: Layer) -> list[FunctionInfo]:
    """Functions the user wrote (not tfp's own wrappers around them)."""
    return [fn for fn in layer.functions if not fn.is_tfp_code]


def is_distribution_call(call: CallSite) -> bool:
    """Whether a decompiled call builds a tfd distribution, by its spelling (as the source
    scan decides it)."""
    return is_distribution_callee(call.callee, (key for key, _ in call.kwargs))


@dataclass
class Head:
    """A layer that turns tensors into a distribution, and what feeds it."""

    layer: Layer
    distributions: list[str]  # short class names, e.g. ["Categorical"]
    calls: list[CallSite] = field(default_factory=list)  # constructor calls in user code
    function: FunctionInfo | None = None  # the user's make_distribution_fn
    parameterization: str | None = None  # "logits", "probs" or "real" when known
    # The name the head's input has in `calls` when no user function names it: a tfd class
    # given as make_distribution_fn itself (DIRECT_INPUT)
    input_name: str | None = None

    @property
    def is_builtin(self) -> bool:
        return self.layer.class_name in TFP_LAYER_DISTRIBUTIONS

    @property
    def input_variable(self) -> str | None:
        """The name the head's input tensor has in its calls (the lambda's argument)."""
        if self.function is not None and self.function.argnames:
            return self.function.argnames[0]
        return self.input_name


# DistributionLambda(tfd.Poisson): tfp calls the class with the tensor as its first argument,
# as if the user had written `lambda t: tfd.Poisson(t)`; the head's calls say so.
DIRECT_INPUT = "t"


def call_arguments(call: CallSite) -> list[tuple[str, Expr]]:
    """A distribution call's arguments by parameter name: positional ones named by the
    constructor's order (the catalog's), up to a `*args` or past the known parameters, then
    the keywords."""
    order = DISTRIBUTIONS[call.short_name].parameters if call.short_name in DISTRIBUTIONS else ()
    named: list[tuple[str, Expr]] = []
    for index, expr in enumerate(call.args):
        starred = expr.kind == "unary" and expr.value in ("*", "**")
        if starred or index >= len(order):
            break  # which parameters these fill is not known from the call alone
        named.append((order[index], expr))
    return [*named, *call.kwargs]


def _direct_class(layer: Layer) -> str | None:
    """The tfd class a DistributionLambda was given as its make_distribution_fn, if any."""
    for fn in layer.functions:
        if fn.is_tfp_code and fn.name in DISTRIBUTIONS:
            return fn.name
    return None


def _head_for(layer: Layer) -> Head | None:
    if layer.class_name in TFP_LAYER_DISTRIBUTIONS:
        dist, builtin = TFP_LAYER_DISTRIBUTIONS[layer.class_name]
        return Head(layer, [dist], parameterization=builtin)
    if layer.class_name != "DistributionLambda":
        return None
    for fn in user_functions(layer):
        calls = [c for c in fn.calls if is_distribution_call(c)]
        if calls:
            outer = calls[-1]
            given = "logits" if outer.kwarg("logits") else "probs" if outer.kwarg("probs") else None
            return Head(layer, [c.short_name for c in calls], calls, fn, given)
    fns = user_functions(layer)
    name = None if fns else _direct_class(layer)
    if name is not None:
        parameters = DISTRIBUTIONS[name].parameters
        first = parameters[0] if parameters else None
        call = CallSite(callee=name, args=(Expr("name", DIRECT_INPUT),))
        given = first if first in ("logits", "probs") else None
        return Head(layer, [name], [call], None, given, input_name=DIRECT_INPUT)
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


# Layers whose output's last axis is their input's (values may change, the width does not).
WIDTH_PRESERVING_LAYERS = frozenset(
    {
        "Activation",
        *ACTIVATION_LAYER_CLASSES,
        "Dropout",
        "GaussianDropout",
        "GaussianNoise",
        "AlphaDropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "Identity",
        "ActivityRegularization",
        "BatchNormalization",
        "LayerNormalization",
        "UnitNormalization",
    }
)


@dataclass(frozen=True)
class WidthSource:
    """The layer a head's input comes from, and whether its own argument decides the width.

    Read from a model description (tfp105's static side) or from the live layer (the probe).
    """

    name: str
    class_name: str
    argument: Literal["units", "filters"] | None  # None: not its own argument (Flatten)
    width: int | None
    activation: str | None = None  # a non-linear activation, written back in a fix

    def render(self, width: int | None = None) -> str:
        """The layer as written with `width` (default its own): Dense(8, name='params')."""
        args = [str(self.width if width is None else width)] if self.argument else []
        if self.argument == "filters":
            args.append("...")  # kernel size, padding: left as they are
        if self.activation:
            args.append(f"activation={self.activation!r}")
        args.append(f"name={self.name!r}")
        return f"{self.class_name}({', '.join(args)})"


def _own_width(layer: Layer) -> WidthSource | None:
    act = normalize_activation(layer.activation or "linear")
    activation = None if act == "linear" else layer.activation
    if layer.units is not None:
        return WidthSource(layer.name, layer.class_name, "units", layer.units, activation)
    filters = layer.config.get("filters")
    # channels_first puts the filters on axis 1, not on the last axis
    channels_last = layer.config.get("data_format") in (None, "channels_last")
    if isinstance(filters, int) and not isinstance(filters, bool) and channels_last:
        return WidthSource(layer.name, layer.class_name, "filters", filters, activation)
    return None


def width_source(model: ModelFile, layer: Layer) -> WidthSource | None:
    """Where the width of `layer`'s input is decided, when the description says so.

    Walks back through layers that keep the last axis (Dropout, BatchNormalization, ...)
    to a Dense-like layer (its units) or a channels-last convolution (its filters). None
    for anything else (Flatten, a merge, a Lambda): the probe sees that width instead.
    """
    current = feeder(model, layer)
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _own_width(current)
        if found is not None:
            return found
        if current.class_name not in WIDTH_PRESERVING_LAYERS:
            return None
        current = feeder(model, current)
    return None


def normalize_activation(name: str) -> str:
    return canonical_activation(name)


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
