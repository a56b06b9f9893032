"""Run the model and its loss as `fit` would, in inference mode, and record what happens.

Everything here runs eagerly: probe batches are tiny, eager execution keeps the per-example
loss observable, and nothing is traced twice.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from tfpcheck.evidence.observations import (
    ForwardEval,
    GradientInfo,
    LossEval,
    LossGraph,
    OutputInfo,
    Shape,
    TargetVariant,
)
from tfpcheck.probe.batches import take
from tfpcheck.probe.frames import summarize_error
from tfpcheck.probe.instrument import Recorder, shape_of
from tfpcheck.probe.load import TF_KERAS, Loaded
from tfpcheck.probe.loss import LossPlan
from tfpcheck.probe.loss_graph import broadcasts, trace

MAX_KEPT = 200_000  # values kept for the rules (probe batches are small)


def unwrap(dist: Any) -> Any:
    """The distribution inside tfp.layers' tensor-coercible wrapper."""
    return getattr(dist, "tensor_distribution", dist)


def is_distribution(value: Any) -> bool:
    return hasattr(value, "log_prob") and hasattr(value, "batch_shape")


def _numpy(value: Any) -> np.ndarray | None:
    try:
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
    except Exception:
        return None
    return array if array.size <= MAX_KEPT else None


def _shape(value: Any) -> tuple[int, ...]:
    try:
        return tuple(int(d) for d in tf.TensorShape(value).as_list())
    except (TypeError, ValueError):
        return ()


def summarize_output(out: Any) -> OutputInfo:
    if isinstance(out, list | tuple):
        out = out[0]  # tfpcheck probes the first output of multi-output models
    if is_distribution(out):
        dist = unwrap(out)
        batch, event = _shape(dist.batch_shape), _shape(dist.event_shape)
        classes = None
        with contextlib.suppress(Exception):
            params = dist.parameters
            width = (
                params.get("logits") if params.get("logits") is not None else params.get("probs")
            )
            classes = int(width.shape[-1]) if width is not None else None
        summary = None
        for method in ("mean", "mode"):
            with contextlib.suppress(Exception):
                summary = _numpy(getattr(dist, method)())
                break
        return OutputInfo(
            True,
            type(dist).__name__,
            batch + event,
            getattr(dist.dtype, "name", str(dist.dtype)),
            batch,
            event,
            summary,
            classes,
        )
    values = _numpy(out)
    dtype = getattr(out.dtype, "name", str(out.dtype))
    return OutputInfo(False, None, shape_of(out) or (), dtype, summary=values, values=values)


def output_summary_tensor(out: Any) -> Any:
    """What `summarize_output(out).summary` holds, as a tensor (for traced code)."""
    if isinstance(out, list | tuple):
        out = out[0]
    if not is_distribution(out):
        return out
    for method in ("mean", "mode"):
        with contextlib.suppress(Exception):
            return getattr(unwrap(out), method)()
    return None


def sample_output(out: Any, seed: int = 7) -> np.ndarray | None:
    if isinstance(out, list | tuple):
        out = out[0]
    if not is_distribution(out):
        return None
    try:
        return np.asarray(unwrap(out).sample(seed=seed).numpy())
    except Exception:
        try:
            return np.asarray(unwrap(out).sample().numpy())
        except Exception:
            return None


@dataclass
class Session:
    """The loaded model, its loss and instrumentation, shared by every probe batch."""

    loaded: Loaded
    plan: LossPlan
    recorder: Recorder
    variable_owners: dict[int, tuple[str, int]] = field(default_factory=dict)
    # the model's output in the last loss evaluation at each batch size
    last_outputs: dict[int, Any] = field(default_factory=dict)

    @property
    def model(self) -> Any:
        return self.loaded.model

    def forward(self, x: Any) -> tuple[ForwardEval, Any]:
        n = _batch_len(x)
        evaluation = ForwardEval(n)
        self.recorder.take()
        self.recorder.take_head_calls()
        try:
            out = self.model(_as_tensors(x), training=False)
        except Exception as exc:
            evaluation.error = summarize_error(exc)
            evaluation.records, evaluation.constructed = self.recorder.take()
            evaluation.head_calls = self.recorder.take_head_calls()
            return evaluation, None
        evaluation.output = summarize_output(out)
        evaluation.records, evaluation.constructed = self.recorder.take()
        evaluation.head_calls = self.recorder.take_head_calls()
        return evaluation, out

    def extra_losses(self) -> dict[str, float]:
        found: dict[str, float] = {}
        for layer in self.model.layers:
            losses = getattr(layer, "losses", None) or []
            total = 0.0
            for value in losses:
                with contextlib.suppress(Exception):
                    total += float(np.sum(np.asarray(value)))
            if losses:
                found[layer.name] = total
        return found

    def data_loss(self, x: Any, y: Any, y_pred: Any) -> Any:
        """The compiled (data) loss only, reduced the way fit reduces it."""
        if self.loaded.flavor == TF_KERAS:
            return self.model.compiled_loss(y, y_pred, None, regularization_losses=None)
        total = self.model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
        extra = list(self.model.losses)
        return total - tf.add_n([tf.cast(e, total.dtype) for e in extra]) if extra else total

    def loss(
        self,
        x: Any,
        y: np.ndarray,
        target: TargetVariant,
        gradients: bool = True,
        reuse: LossEval | None = None,
    ) -> LossEval:
        """The loss as fit evaluates it, with gradients; `reuse`: an evaluation of the same
        inputs whose model output this one scores instead of running the model again (no
        gradients then: a big model's second target shape, see plan.py)."""
        n = _batch_len(x)
        evaluation = LossEval(
            n, target, tuple(y.shape), str(y.dtype), y if y.size <= MAX_KEPT else None
        )
        self.plan.recorder.reset()
        self.recorder.take()
        self.recorder.take_head_calls()  # the forward passes' own record them
        tape = tf.GradientTape() if gradients else contextlib.nullcontext()
        xt = _as_tensors(x)
        yt = tf.constant(y)
        total = None
        earlier = self.last_outputs.get(n)
        reused = reuse is not None and earlier is not None and not gradients
        try:
            with tape:
                y_pred = earlier if reused else self.model(xt, training=False)
                self.last_outputs[n] = y_pred
                extra = list(self.model.losses)
                self.recorder.in_loss = True
                data = self.data_loss(xt, yt, y_pred)
                self.recorder.in_loss = False
                total = data
                if extra:
                    total = data + tf.add_n([tf.cast(e, data.dtype) for e in extra])
            evaluation.data_loss = float(data.numpy())
            evaluation.extra_losses = self.extra_losses()
        except Exception as exc:
            evaluation.error = summarize_error(exc)
            evaluation.stage = "loss"
        finally:
            self.recorder.in_loss = False
        evaluation.records, evaluation.constructed = self.recorder.take()
        if reused and reuse is not None:  # what the model built, as if it had run again
            evaluation.constructed[:0] = [r for r in reuse.constructed if not r.in_loss]
        call = self.plan.recorder.last
        if call is not None:
            evaluation.per_example_shape = call.result_shape
            evaluation.per_example = call.result
            evaluation.y_true_seen = call.y_true_shape
            evaluation.y_pred_seen = call.y_pred_shape
            evaluation.seen_dtypes = call.dtypes
            evaluation.y_pred_values = call.y_pred_values
        if gradients and evaluation.error is None and total is not None:
            try:
                variables = self.model.trainable_variables
                grads = tape.gradient(total, variables)  # type: ignore[union-attr]
                evaluation.gradients = [
                    self._gradient_info(v, g) for v, g in zip(variables, grads, strict=True)
                ]
            except Exception as exc:
                evaluation.error = summarize_error(exc)
                evaluation.stage = "gradient"
        return evaluation

    def loss_graph(self, one: LossEval, many: LossEval) -> LossGraph | None:
        """The loss function traced with what `fit` gave it at batch 1 and at batch N.

        Only a loss function of the user's (or a Loss subclass): Keras' own losses align
        their inputs, and a distribution-valued y_pred has no shape to trace it from.
        """
        if self.plan.info.kind != "function":
            return None
        specs = [_spec(e) for e in (one, many)]
        if any(s is None for s in specs):
            return None
        compiled = self.plan.compiled
        fn = compiled.call if hasattr(compiled, "get_config") else compiled
        calls = list(self.plan.recorder.calls)
        try:
            with self.recorder.paused():
                traced = trace(fn, [s for s in specs if s is not None])
        except Exception:  # a loss that only runs eagerly: no graph evidence, no finding
            return None
        finally:
            self.plan.recorder.calls[:] = calls  # the traced calls are not evaluations
        if traced is None:
            return None
        return broadcasts(traced[0], traced[1], many.batch_size)

    def _gradient_info(self, variable: Any, grad: Any) -> GradientInfo:
        layer, index = self.variable_owners.get(id(variable), (None, None))
        name = getattr(variable, "path", None) or getattr(variable, "name", "?")
        if grad is None:
            status = "none"
        else:
            if isinstance(grad, tf.IndexedSlices):
                grad = tf.convert_to_tensor(grad)
            values = np.asarray(grad.numpy())
            if not np.all(np.isfinite(values)):
                status = "nonfinite"
            elif not np.any(values):
                status = "zero"
            else:
                status = "ok"
        return GradientInfo(str(name), layer, index, status)  # type: ignore[arg-type]

    def single_losses(
        self, x: Any, y: np.ndarray, n: int, with_loss: bool, budget: float, traced: bool = True
    ) -> tuple[list[float], list[np.ndarray | None]]:
        """Each example alone: its data loss and its output summary.

        Stops early when the examples would take more than `budget` seconds (a slow model:
        the loss comparison then needs all N, so the caller skips it).

        The N examples all have the same shape, so one traced function serves them all:
        eager Keras pays its per-layer overhead N times, a graph pays it once. A model or
        loss the graph cannot run (Python control flow on tensors, say) is run eagerly,
        which gives the same numbers and the errors the eager batches would give.
        Distributions built here are never read: the recorder sits this out.
        """
        with self.recorder.paused():
            if traced:  # a big model's few examples: tracing it would cost more than they do
                try:
                    step = self._single_step(with_loss)
                    return self._single_losses(x, y, n, with_loss, budget, step)
                except Exception:
                    pass
            return self._single_losses(x, y, n, with_loss, budget, self._eager_step(with_loss))

    def _eager_step(self, with_loss: bool) -> Any:
        def step(xi: Any, yi: Any) -> tuple[np.ndarray | None, Any]:
            out = self.model(xi, training=False)
            summary = summarize_output(out).summary
            return summary, self.data_loss(xi, yi, out) if with_loss else None

        return step

    def _single_step(self, with_loss: bool) -> Any:
        def step(xi: Any, yi: Any) -> tuple[Any, Any]:
            out = self.model(xi, training=False)
            return output_summary_tensor(out), self.data_loss(xi, yi, out) if with_loss else None

        # No autograph: converting the code costs more than the examples save, and code that
        # needs it (Python control flow on tensors) fails to trace and runs eagerly instead.
        traced = tf.function(step, reduce_retracing=True, autograph=False)

        def run(xi: Any, yi: Any) -> tuple[np.ndarray | None, Any]:
            summary, loss = traced(xi, yi)
            return (None if summary is None else _numpy(summary)), loss

        return run

    def _single_losses(
        self, x: Any, y: np.ndarray, n: int, with_loss: bool, budget: float, step: Any
    ) -> tuple[list[float], list[np.ndarray | None]]:
        losses: list[float] = []
        summaries: list[np.ndarray | None] = []
        started = time.perf_counter()
        for i in range(n):
            summary, loss = step(_as_tensors(take(x, i, i + 1)), tf.constant(y[i : i + 1]))
            summaries.append(summary)
            if with_loss:
                losses.append(float(loss.numpy()))
            if i == 0:
                started = time.perf_counter()  # the first example pays for tracing
                continue
            elapsed = time.perf_counter() - started
            if i >= 3 and elapsed / i * n > budget:
                break
        return losses, summaries


def _spec(evaluation: LossEval) -> tuple[Shape, str, Shape, str] | None:
    """y_true's and y_pred's shapes and dtypes as the loss function received them."""
    true, pred, dtypes = evaluation.y_true_seen, evaluation.y_pred_seen, evaluation.seen_dtypes
    if true is None or pred is None or dtypes is None or evaluation.error is not None:
        return None
    return true, dtypes[0], pred, dtypes[1]


def owners(model: Any) -> dict[int, tuple[str, int]]:
    found: dict[int, tuple[str, int]] = {}
    for index, layer in enumerate(model.layers):
        for variable in layer.trainable_weights:
            found.setdefault(id(variable), (layer.name, index))
    return found


def _batch_len(x: Any) -> int:
    if isinstance(x, list | tuple):
        return len(x[0])
    if isinstance(x, dict):
        return len(next(iter(x.values())))
    return len(x)


def _as_tensors(x: Any) -> Any:
    if isinstance(x, list | tuple):
        return [tf.constant(a) for a in x]
    if isinstance(x, dict):
        return {k: tf.constant(v) for k, v in x.items()}
    return tf.constant(x)
