"""How many values each built-in tfp.layers head consumes: TFP's own `params_size` formulas.

A head is described by the arguments its `params_size` takes (event shape, number of
components, a mixture's component layer), read from a saved or described model here and
from the live layer in the probe (tfpcheck.probe.head_inputs). The formulas, and the order
of each head's arguments, are those of tfpcheck.catalog.tfp_layers; tests check them against
the installed TFP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from tfpcheck.catalog.tfp_layers import (
    EVENT_SIZE_HEADS,
    HEADS,
    MIXTURE_HEADS,
    head_params_size,
)
from tfpcheck.model_file.types import FunctionInfo, Layer

# Heads whose argument is `event_size` (an int); the others take `event_shape`.
EVENT_SIZE_CLASSES = EVENT_SIZE_HEADS
MIXTURES = MIXTURE_HEADS
# The heads with a params_size formula (tfpcheck.catalog.tfp_layers).
FORMULAS = HEADS


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
        component = None if self.component is None else self.component.params_size
        arguments: dict[str, object] = {
            "event_shape": self.event_shape,
            "event_size": self.event_size,
            "num_components": self.num_components,
            "component_params_size": component,
        }
        return head_params_size(self.layer_class, arguments)

    def with_event_size(self, size: int) -> HeadSpec:
        return replace(self, event_shape=(size,))

    def render(self) -> str:
        """The layer as written: IndependentNormal(4), MixtureSameFamily(3, ...TriL(2))."""
        return f"{self.layer_class}({', '.join(self._arguments())})"

    def params_size_call(self, prefix: str = "tfp.layers.") -> str:
        """The expression that sizes the layer before it, as in TFP's examples."""
        component = None if self.component is None else self.component.params_size_call(prefix)
        return f"{prefix}{self.layer_class}.params_size({', '.join(self._arguments(component))})"

    def _arguments(self, component: str | None = None) -> list[str]:
        """The layer's arguments as written, in TFP's order: (num_components, event_shape)
        for MixtureNormal, (event_size, num_components) for its one-hot mixture."""
        head = HEADS.get(self.layer_class)
        if head is None:
            return [_render_shape(self.event_shape)] if self.event_shape else []
        if component is None:
            component = self.component.render() if self.component is not None else "..."
        rendered = {
            "event_shape": _render_shape(self.event_shape),
            "event_size": _render_shape(self.event_shape),
            "num_components": str(self.num_components),
            "component_params_size": component,
        }
        if not head.is_mixture and not self.event_shape:
            return []  # IndependentNormal(): a scalar event is the default
        return [rendered[name] for name in head.arguments]


def _render_shape(shape: tuple[int, ...]) -> str:
    if len(shape) == 1:
        return str(shape[0])
    return "()" if not shape else "(" + ", ".join(map(str, shape)) + ")"


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
    key = HEADS[cls].event_argument
    event: tuple[int, ...] | None = () if key is None else None  # MixtureSameFamily: none
    k: int | None = None
    for source in sources:
        if event is None and key is not None and key in source:
            event = event_shape_of(source[key])
        if k is None:
            k = _count(source.get("num_components"))
    if event is None or (HEADS[cls].is_mixture and k is None):
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
