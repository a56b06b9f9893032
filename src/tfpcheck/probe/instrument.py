"""See every distribution: patch `tfd.Distribution.log_prob` and `__init__` while probing.

Subclasses implement `_log_prob` and call `Distribution.__init__` through `super()`, so
patching the base class sees distributions built in a layer, in a loss or inside TFP
itself. `tfp.layers.DistributionLambda.__call__` is patched too, to see the input each
tfp.layers head receives. The originals are restored on exit, whatever happens.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfpcheck.evidence.observations import DistRecord, HeadCall, Shape
from tfpcheck.evidence.sites import Site
from tfpcheck.probe.frames import user_frame_of_stack
from tfpcheck.probe.head_inputs import describe_call

Distribution = tfp.distributions.Distribution
MAX_VALUES = 200_000  # keep parameter values up to this size (probe batches are small)
# tfp.layers' tensor-coercible wrapper around the distribution a layer built.
WRAPPERS = frozenset({"_TensorCoercible"})


def shape_of(value: Any) -> Shape | None:
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    try:
        return tuple(int(d) if d is not None else -1 for d in shape)
    except TypeError:
        return None


def _tensor_shape(shape: Any) -> Shape | None:
    try:
        return tuple(int(d) for d in tf.TensorShape(shape).as_list())
    except (TypeError, ValueError):
        return None


def _event_ndims(dist: Any) -> dict[str, int]:
    try:
        props = type(dist).parameter_properties()
    except Exception:  # some classes do not implement it; their shapes are still recorded
        return {}
    result: dict[str, int] = {}
    for name, prop in props.items():
        ndims = prop.event_ndims
        try:
            value = ndims(dist) if callable(ndims) else ndims
        except Exception:
            continue
        if isinstance(value, int):
            result[name] = value
    return result


def _numpy(value: Any) -> np.ndarray | None:
    if isinstance(value, np.ndarray | float | int):
        return np.asarray(value)
    if tf.is_tensor(value) or isinstance(value, tf.Variable):
        try:
            array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        except Exception:  # symbolic tensor: shapes only
            return None
        return array if array.size <= MAX_VALUES else None
    return None


class Recorder:
    """Collects DistRecords; `mark_loss()` flags the records made while the loss runs."""

    def __init__(self, current_layer: Callable[[], str | None]) -> None:
        self.records: list[DistRecord] = []  # log_prob calls
        self.constructed: list[DistRecord] = []  # every distribution built
        self._origins: dict[int, tuple[Site | None, str | None, int]] = {}
        self._keep: list[Any] = []  # keep distributions alive so ids are not reused
        self._pending: list[tuple[Any, Site | None, str | None, int, bool, int]] = []
        # Numbers distributions in the order they are built (the shapes table's call order);
        # a log_prob record carries its distribution's number.
        self._serials = itertools.count()
        self._depth = 0
        self._current_layer = current_layer
        self.in_loss = False
        self._paused = False
        self.head_calls: list[HeadCall] = []  # tfp.layers heads called since the last take
        self._head_depth = 0

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Record nothing meanwhile (for runs whose records nobody reads)."""
        previous, self._paused = self._paused, True
        try:
            yield
        finally:
            self._paused = previous

    def take(self) -> tuple[list[DistRecord], list[DistRecord]]:
        """The log_prob records and the construction records since the last take."""
        self._describe_pending()
        records, self.records = self.records, []
        constructed, self.constructed = self.constructed, []
        self._keep.clear()
        self._origins.clear()
        return records, constructed

    def take_head_calls(self) -> list[HeadCall]:
        calls, self.head_calls = self.head_calls, []
        return calls

    def head_called(self, layer: Any, inputs: Any) -> HeadCall | None:
        if self._paused:
            return None
        try:
            call = describe_call(layer, inputs, shape_of(inputs), self._head_depth)
        except Exception:  # a layer this reader does not understand: nothing to record
            return None
        self.head_calls.append(call)
        return call

    def built(self, dist: Any) -> None:
        if self._paused:
            return
        self._keep.append(dist)
        site, layer, serial = user_frame_of_stack(3), self._current_layer(), next(self._serials)
        self._origins[id(dist)] = (site, layer, serial)
        # Distributions are seen when built too: a Keras loss on a tfp.layers output never
        # calls log_prob, and its parameters are still the evidence.
        if type(dist).__name__ in WRAPPERS:
            return  # the distribution it wraps was recorded when it was built
        # Described when taken: a subclass (MultivariateNormalFullCovariance) finishes setting
        # its parameters after the base __init__ returns.
        self._pending.append((dist, site, layer, self._depth, self.in_loss, serial))

    def _describe_pending(self) -> None:
        for dist, site, layer, depth, in_loss, serial in self._pending:
            with contextlib.suppress(Exception):
                record = self._describe(dist, None, site, layer)
                record.depth, record.in_loss, record.serial = depth, in_loss, serial
                self.constructed.append(record)
        self._pending.clear()

    def _describe(
        self, dist: Any, value: Any, built_at: Site | None, layer: str | None
    ) -> DistRecord:
        params = {}
        with contextlib.suppress(Exception):
            params = dict(dist.parameters)
        shapes: dict[str, Shape] = {}
        values: dict[str, np.ndarray] = {}
        for key, param in params.items():
            if key in {"validate_args", "allow_nan_stats", "name"}:
                continue
            shape = shape_of(param)
            if shape is None or isinstance(param, Distribution):
                continue
            shapes[key] = shape
            array = _numpy(param)
            if array is not None:
                values[key] = array
        ndims = _event_ndims(dist)
        batch_parts = {
            k: s[: len(s) - ndims[k]] if ndims.get(k, 0) <= len(s) else s
            for k, s in shapes.items()
            if k in ndims
        }
        return DistRecord(
            distribution=type(dist).__name__,
            param_shapes=shapes,
            param_values=values,
            param_batch_shapes=batch_parts,
            batch_shape=_tensor_shape(dist.batch_shape),
            event_shape=_tensor_shape(dist.event_shape),
            value_shape=shape_of(value),
            built_at=built_at,
            layer=layer,
            depth=self._depth,
            in_loss=self.in_loss,
        )

    def start(self, dist: Any, value: Any) -> DistRecord | None:
        if self._paused:
            return None
        if type(dist).__name__ in WRAPPERS:
            # tfp.layers' output forwards to its private methods: record the real one.
            dist = getattr(dist, "tensor_distribution", None)
            if dist is None:
                return None
        built_at, layer, serial = self._origins.get(id(dist), (None, None, None))
        record = self._describe(dist, value, built_at, layer)
        record.serial = next(self._serials) if serial is None else serial
        record.call_site = user_frame_of_stack(3)
        self.records.append(record)
        return record


@contextlib.contextmanager
def watching_heads(recorder: Recorder) -> Iterator[Recorder]:
    """Record the input of every tfp.layers head called meanwhile (also while a model is
    built: a head fed the wrong width can fail when the factory connects it)."""
    layer_class = tfp.layers.DistributionLambda
    original_call = layer_class.__call__

    @functools.wraps(original_call)
    def call(self: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        record = recorder.head_called(self, inputs)
        recorder._head_depth += 1
        try:
            return original_call(self, inputs, *args, **kwargs)
        except BaseException:
            if record is not None:
                record.failed = True
            raise
        finally:
            recorder._head_depth -= 1

    layer_class.__call__ = call
    try:
        yield recorder
    finally:
        layer_class.__call__ = original_call


@contextlib.contextmanager
def instrumented(recorder: Recorder) -> Iterator[Recorder]:
    original_log_prob = Distribution.log_prob
    original_init = Distribution.__init__

    # TFP builds docstrings of subclasses defined later from these: keep them.
    @functools.wraps(original_log_prob)
    def log_prob(self: Any, value: Any, name: str = "log_prob", **kwargs: Any) -> Any:
        record = recorder.start(self, value)
        recorder._depth += 1
        try:
            result = original_log_prob(self, value, name=name, **kwargs)
        finally:
            recorder._depth -= 1
        if record is not None:
            record.result_shape = shape_of(result)
        return result

    @functools.wraps(original_init)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        recorder.built(self)

    Distribution.log_prob = log_prob
    Distribution.__init__ = init
    try:
        with watching_heads(recorder):
            yield recorder
    finally:
        Distribution.log_prob = original_log_prob
        Distribution.__init__ = original_init
