"""How many values each built-in tfp.layers head consumes: TFP's own `params_size` formulas.

A head is described by the arguments its `params_size` takes (event shape, number of
components, a mixture's component layer), read from a saved or described model here and
from the live layer in the probe (tfpcheck.probe.head_inputs). The formulas are those of
tensorflow_probability/python/layers/distribution_layer.py (TFP 0.25); a test checks them
against the installed TFP.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from tfpcheck.model_file.types import FunctionInfo, Layer

# Classes whose argument is `event_size` (an int); the others take `event_shape`.
EVENT_SIZE_CLASSES = frozenset(
    {"OneHotCategorical", "MultivariateNormalTriL", "CategoricalMixtureOfOneHotCategorical"}
)
MIXTURES = frozenset(
    {
        "MixtureSameFamily",
        "MixtureNormal",
        "MixtureLogistic",
        "CategoricalMixtureOfOneHotCategorical",
    }
)


@dataclass(frozen=True)
class HeadSpec:
    """A built-in head's `params_size` arguments, e.g. IndependentNormal((4, 4)).

    `event_shape` is () for a scalar event; MixtureSameFamily has no event of its own, only
    `num_components` and its `component`.
    """

    layer_class: str
    event_shape: tuple[int, ...] = ()
    num_components: int | None = None
    component: HeadSpec | None = None

    @property
    def event_size(self) -> int:
        return math.prod(self.event_shape)

    @property
    def params_size(self) -> int | None:
        formula = FORMULAS.get(self.layer_class)
        return None if formula is None else formula(self)

    def with_event_size(self, size: int) -> HeadSpec:
        return replace(self, event_shape=(size,))

    def render(self) -> str:
        """The layer as written: IndependentNormal(4), MixtureSameFamily(3, ...TriL(2))."""
        return f"{self.layer_class}({', '.join(self._arguments())})"

    def params_size_call(self, prefix: str = "tfp.layers.") -> str:
        """The expression that sizes the layer before it, as in TFP's examples."""
        if self.layer_class == "MixtureSameFamily" and self.component is not None:
            args = [str(self.num_components), self.component.params_size_call(prefix)]
        else:
            args = self._arguments()
        return f"{prefix}{self.layer_class}.params_size({', '.join(args)})"

    def _arguments(self) -> list[str]:
        event = _render_shape(self.event_shape)
        k = str(self.num_components)
        if self.layer_class == "MixtureSameFamily":
            component = self.component.render() if self.component is not None else "..."
            return [k, component]
        if self.layer_class == "CategoricalMixtureOfOneHotCategorical":
            return [event, k]  # CategoricalMixtureOfOneHotCategorical(event_size, num_components)
        if self.layer_class in MIXTURES:
            return [k, event]  # MixtureNormal(num_components, event_shape)
        return [event] if self.event_shape else []


def _render_shape(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return str(shape[0])
    return "()" if not shape else "(" + ", ".join(map(str, shape)) + ")"


def _mixture(per_component: Callable[[HeadSpec], int | None]) -> Callable[[HeadSpec], int | None]:
    # MixtureSameFamily.params_size(k, c) = k * (1 + c): k mixture logits, then k components.
    def formula(spec: HeadSpec) -> int | None:
        size = per_component(spec)
        k = spec.num_components
        return None if size is None or k is None else k * (1 + size)

    return formula


def _component(spec: HeadSpec) -> int | None:
    return None if spec.component is None else spec.component.params_size


def _normal(spec: HeadSpec) -> int:
    return 2 * spec.event_size  # a location and a scale per value


FORMULAS: dict[str, Callable[[HeadSpec], int | None]] = {
    "OneHotCategorical": lambda spec: spec.event_size,
    "IndependentBernoulli": lambda spec: spec.event_size,
    "IndependentPoisson": lambda spec: spec.event_size,
    "IndependentNormal": _normal,
    "IndependentLogistic": _normal,
    # a location, then the lower triangle of the scale matrix
    "MultivariateNormalTriL": lambda spec: (
        spec.event_size + spec.event_size * (spec.event_size + 1) // 2
    ),
    "CategoricalMixtureOfOneHotCategorical": _mixture(lambda spec: spec.event_size),
    "MixtureNormal": _mixture(_normal),
    "MixtureLogistic": _mixture(_normal),
    "MixtureSameFamily": _mixture(_component),
}


def event_shape_of(value: object) -> tuple[int, ...] | None:
    """An event shape as a config or closure holds it: 4, [4, 4], (), [] (a scalar event)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (value,)
    if isinstance(value, list | tuple) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return tuple(value)
    return None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _own_lambda_class(fn: FunctionInfo) -> str | None:
    """The tfp.layers class whose __init__ wrote this lambda ("IndependentNormal")."""
    qualname = fn.qualname or ""
    cls, _, rest = qualname.partition(".")
    return cls if fn.is_tfp_code and rest.startswith("__init__.") and cls in FORMULAS else None


def _spec_from(cls: str, sources: list[dict[str, object]]) -> HeadSpec | None:
    key = "event_size" if cls in EVENT_SIZE_CLASSES else "event_shape"
    event: tuple[int, ...] | None = () if cls == "MixtureSameFamily" else None
    k: int | None = None
    for source in sources:
        if event is None and key in source:
            event = event_shape_of(source[key])
        if k is None:
            k = _count(source.get("num_components"))
    if event is None or (cls in MIXTURES and k is None):
        return None
    return HeadSpec(cls, event, k)


def head_spec(layer: Layer) -> HeadSpec | None:
    """The `params_size` arguments of a built-in head, from its config and its lambdas.

    Layers that lack `get_config` of their own (OneHotCategorical, MultivariateNormalTriL,
    MixtureSameFamily) keep their arguments only in the closure of the lambda their
    __init__ wrote; a MixtureSameFamily's description holds its component layer's lambda too.
    """
    cls = layer.class_name
    if cls not in FORMULAS:
        return None
    by_class: dict[str, list[FunctionInfo]] = {}
    for fn in layer.functions:
        owner = _own_lambda_class(fn)
        if owner is not None:
            by_class.setdefault(owner, []).append(fn)
    own = by_class.pop(cls, None)
    # Without a recognizable lambda (an older pickle), any closure of the layer will do.
    own_closures = [fn.closure() for fn in (own if own is not None else layer.functions)]
    spec = _spec_from(cls, [layer.config, *own_closures])
    if spec is None or cls != "MixtureSameFamily":
        return spec
    if len(by_class) != 1:
        return None  # no component lambda, or several: which one is the component is unknown
    ((component_class, fns),) = by_class.items()
    component = _spec_from(component_class, [fn.closure() for fn in fns])
    return None if component is None else replace(spec, component=component)
