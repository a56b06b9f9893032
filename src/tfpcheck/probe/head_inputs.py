"""What a tfp.layers head receives when it is called, read from the live layer.

The width a head gets is the last axis of its input, whatever made it (a Dense, Conv and
Flatten, a Concatenate, a Lambda); the width it needs is its `params_size`, for the
arguments kept in the closure of the lambda its __init__ wrote.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from tfpcheck.catalog.tfp_layers import HEADS
from tfpcheck.evidence.observations import HeadCall, Shape
from tfpcheck.rules.heads import WidthSource
from tfpcheck.rules.params_size import HeadSpec

TFP_MODULE = "tensorflow_probability"


def _builtin_class(layer: Any) -> str | None:
    """The tfp.layers class a layer is (or subclasses), when it has a params_size formula."""
    for cls in type(layer).__mro__:
        if cls.__name__ in HEADS and cls.__module__.startswith(TFP_MODULE):
            return cls.__name__
    return None


def _closure(fn: Any) -> dict[str, Any]:
    code = getattr(fn, "__code__", None)
    cells = getattr(fn, "__closure__", None) or ()
    if code is None:
        return {}
    values: dict[str, Any] = {}
    for name, cell in zip(code.co_freevars, cells, strict=False):
        with contextlib.suppress(ValueError):  # an empty cell
            values[name] = cell.cell_contents
    return values


def _shape(value: Any) -> tuple[int, ...] | None:
    """An event shape as the user passed it: 4, np.int32(4), [4, 4], (), a TensorShape."""
    if isinstance(value, bool):
        return None
    with contextlib.suppress(Exception):
        as_list = getattr(value, "as_list", None)  # a TensorShape
        array = np.asarray(as_list() if callable(as_list) else value)
        if array.ndim == 1 and array.size == 0:
            return ()  # a scalar event; numpy reads () as an empty float array
        if array.dtype.kind in "iu" and array.ndim <= 1:
            return tuple(int(v) for v in array.reshape(-1))
    return None


def _count(value: Any) -> int | None:
    shape = _shape(value)
    return shape[0] if shape is not None and len(shape) == 1 else None


def live_head_spec(layer: Any) -> HeadSpec | None:
    cls = _builtin_class(layer)
    if cls is None:
        return None
    head = HEADS[cls]
    closure = _closure(getattr(layer, "_make_distribution_fn", None))
    key = head.event_argument
    event = () if key is None else _shape(closure.get(key))  # MixtureSameFamily: none
    k = _count(closure.get("num_components"))
    if event is None or (head.is_mixture and k is None):
        return None
    component = None
    if "component_params_size" in head.arguments:
        component = live_head_spec(closure.get("component_layer"))
        if component is None:
            return None
    return HeadSpec(cls, event, k, component)


def _inbound_layer(layer: Any, inputs: Any) -> Any:
    """The one layer whose output `inputs` is: from the symbolic tensor while the model is
    connected, else from the layer's one inbound node."""
    history = getattr(inputs, "_keras_history", None)
    if history is not None:
        return history.layer
    nodes = layer.inbound_nodes
    if len(nodes) != 1:
        return None  # a shared layer: which call this is, is unknown
    inbound = nodes[0].inbound_layers
    if isinstance(inbound, list | tuple):
        return inbound[0] if len(inbound) == 1 else None
    return inbound


def _width_source(layer: Any) -> WidthSource:
    name, cls = str(layer.name), type(layer).__name__
    activation = getattr(getattr(layer, "activation", None), "__name__", None)
    activation = None if activation in (None, "linear") else activation
    units, filters = getattr(layer, "units", None), getattr(layer, "filters", None)
    if isinstance(units, int) and not isinstance(units, bool):
        return WidthSource(name, cls, "units", units, activation)
    if (
        isinstance(filters, int)
        and not isinstance(filters, bool)
        and getattr(layer, "data_format", "channels_last") == "channels_last"
    ):
        return WidthSource(name, cls, "filters", filters, activation)
    return WidthSource(name, cls, None, None)


def _producer(layer: Any, inputs: Any) -> WidthSource | None:
    with contextlib.suppress(Exception):
        inbound = _inbound_layer(layer, inputs)
        return None if inbound is None else _width_source(inbound)
    return None


def describe_call(layer: Any, inputs: Any, input_shape: Shape | None, depth: int) -> HeadCall:
    return HeadCall(
        layer=str(getattr(layer, "name", "?")),
        class_name=type(layer).__name__,
        input_shape=input_shape,
        head=live_head_spec(layer),
        depth=depth,
        producer=_producer(layer, inputs),
    )
