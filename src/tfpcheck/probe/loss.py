"""Build the loss training would use, from the model's own Keras, and record what it returns.

The loss is compiled into the model and evaluated through `compute_loss`/`compiled_loss`, as
`fit` does, because the two Keras versions align target ranks differently. To see the
per-example loss before Keras reduces it, the function is wrapped (functions) or its `call`
is (Loss instances); the wrapper keeps the shapes and values of the last call.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tfpcheck.catalog.keras_losses import LOGIT_AWARE_LOSSES, LOSS_CLASSES, canonical_loss_name
from tfpcheck.evidence.observations import LossInfo, Shape
from tfpcheck.evidence.sites import Site
from tfpcheck.losses import LossSpec, loss_file_error
from tfpcheck.probe.instrument import shape_of
from tfpcheck.probe.user_code import UserCodeError, import_module, resolve, split_reference


class LossUsageError(Exception):
    """A loss spec that cannot apply to this model (a usage error, not a finding)."""


@dataclass
class LossCall:
    y_true_shape: Shape | None
    y_pred_shape: Shape | None
    y_pred_values: np.ndarray | None
    result_shape: Shape | None
    result: np.ndarray | None
    # the dtypes of y_true and y_pred as the function received them; None for a
    # distribution-valued y_pred, which cannot be traced from a shape alone
    dtypes: tuple[str, str] | None = None


def _dtypes(y_true: Any, y_pred: Any) -> tuple[str, str] | None:
    names = [getattr(getattr(t, "dtype", None), "name", None) for t in (y_true, y_pred)]
    if hasattr(y_pred, "log_prob") or not all(isinstance(n, str) for n in names):
        return None
    return str(names[0]), str(names[1])


@dataclass
class LossRecorder:
    calls: list[LossCall] = field(default_factory=list)

    def reset(self) -> None:
        self.calls.clear()

    @property
    def last(self) -> LossCall | None:
        return self.calls[-1] if self.calls else None

    def record(self, y_true: Any, y_pred: Any, result: Any) -> None:
        self.calls.append(
            LossCall(
                shape_of(y_true),
                shape_of(y_pred),
                _values(y_pred),
                shape_of(result),
                _values(result),
                _dtypes(y_true, y_pred),
            )
        )


def _values(tensor: Any) -> np.ndarray | None:
    if tensor is None or not hasattr(tensor, "numpy") or hasattr(tensor, "log_prob"):
        return None
    try:
        return np.asarray(tensor.numpy())
    except Exception:  # symbolic: shapes only
        return None


@dataclass
class LossPlan:
    info: LossInfo
    compiled: Any  # what to pass to model.compile(loss=...)
    recorder: LossRecorder
    needs_distribution: bool = False


def nll(y_true: Any, y_pred: Any) -> Any:
    """`--loss nll`: per-example negative log-likelihood of the output distribution."""
    return -y_pred.log_prob(y_true)


def _site_of(obj: Any) -> Site | None:
    target = obj
    if not inspect.isfunction(target) and not inspect.ismethod(target):
        target = getattr(type(obj), "call", None) or type(obj).__call__
    code = getattr(target, "__code__", None)
    if code is None:
        return None
    return Site(code.co_filename, code.co_firstlineno, code.co_name, "")


def _not_converted(fn: Any) -> Any:
    """Keep autograph away: converted code runs from a generated file, hiding the user's line.

    Eager semantics are the same with or without conversion.
    """
    import tensorflow as tf

    return tf.autograph.experimental.do_not_convert(fn)


def _record_function(fn: Any, recorder: LossRecorder) -> Any:
    @functools.wraps(fn)
    def recorded(y_true: Any, y_pred: Any, *args: Any, **kwargs: Any) -> Any:
        result = fn(y_true, y_pred, *args, **kwargs)
        recorder.record(y_true, y_pred, result)
        return result

    return _not_converted(recorded)


def _record_instance(loss: Any, recorder: LossRecorder) -> Any:
    # Loss.__call__ calls self.call(y_true, y_pred) and reduces what it returns.
    original = loss.call

    def call(y_true: Any, y_pred: Any) -> Any:
        result = original(y_true, y_pred)
        recorder.record(y_true, y_pred, result)
        return result

    loss.call = _not_converted(call)
    return loss


def _keras_loss(keras: Any, name: str, from_logits: bool) -> Any:
    cls_name = LOSS_CLASSES.get(name)
    if cls_name and from_logits and hasattr(keras.losses, cls_name):
        return getattr(keras.losses, cls_name)(from_logits=True)
    return keras.losses.get(name)


def _describe_function(fn: Any, fallback: str) -> str:
    site = _site_of(fn)
    name = getattr(fn, "__name__", None) or type(fn).__name__
    if site is None:
        return fallback
    return f"{name} ({site.describe()})"


def _from_object(obj: Any, keras: Any, from_logits: bool, label: str) -> tuple[LossInfo, Any]:
    """A loss object from a compile config, a factory or the user: a name, Loss or function."""
    if isinstance(obj, str):
        name = canonical_loss_name(obj)
        if name is None:
            return LossInfo("function", label=obj), keras.losses.get(obj)
        return LossInfo("keras", name, from_logits, name), _keras_loss(keras, name, from_logits)
    if isinstance(obj, type):
        obj = obj()
    if hasattr(obj, "get_config") and hasattr(obj, "call"):  # a Loss instance
        config = {}
        with contextlib.suppress(Exception):  # a custom Loss may lack get_config
            config = obj.get_config()
        fn = getattr(obj, "fn", None)
        name = canonical_loss_name(type(obj).__name__) or (
            canonical_loss_name(getattr(fn, "__name__", "")) if fn is not None else None
        )
        if name is not None and "keras" in type(obj).__module__:
            logits = bool(config.get("from_logits", False))
            return LossInfo("keras", name, logits, name), obj
        return LossInfo("function", label=label, site=_site_of(fn or obj)), obj
    if callable(obj):
        name = canonical_loss_name(getattr(obj, "__name__", ""))
        module = getattr(obj, "__module__", "") or ""
        if name is not None and "keras" in module:
            return LossInfo("keras", name, from_logits, name), _keras_loss(keras, name, False)
        if getattr(obj, "__name__", "") == "nll" and module == __name__:
            return LossInfo("nll", label="nll"), obj
        return LossInfo("function", label=_describe_function(obj, label), site=_site_of(obj)), obj
    raise LossUsageError(
        f"the loss {label} is a {type(obj).__name__}; tfpcheck probes one loss for a "
        "single-output model: pass --loss"
    )


def import_loss_module(spec: LossSpec | None) -> str | None:
    """Import the module of `--loss FILE.py:NAME` / `module:NAME` before the model: one whose
    code raises on import fails every model alike, so it is a usage error that names the file
    and line (returned here), never a finding about the model. None when it imports."""
    if spec is None or spec.kind != "function" or not spec.target:
        return None
    try:
        target, _ = split_reference(spec.target)
    except ValueError:
        return None  # build_loss says what is wrong with the reference
    try:
        import_module(target)
    except UserCodeError as exc:
        error, summary = exc.exception, exc.summary
        if isinstance(error, SyntaxError):  # raised by the import system: no frame of the file
            what = type(error).__name__
            return loss_file_error(spec.target, what, error.msg, error.filename, error.lineno)
        site = summary.site
        file, line = (site.file, site.line) if site is not None else (None, None)
        return loss_file_error(spec.target, summary.kind, summary.message, file, line)
    return None


def build_loss(spec: LossSpec | None, loaded: Any) -> LossPlan:
    """The loss for this model; LossUsageError when there is none that applies."""
    keras = loaded.keras
    if spec is None:
        if loaded.factory_loss is not None:
            info, obj = _from_object(loaded.factory_loss, keras, False, "the factory's loss")
        elif loaded.compiled_loss is not None:
            info, obj = _from_object(loaded.compiled_loss, keras, False, "the compiled loss")
        else:
            raise LossUsageError(
                "the model has no compiled loss: pass --loss (nll, a Keras loss name such as "
                "mse, or FILE.py:NAME)"
            )
    elif spec.kind == "nll":
        info, obj = LossInfo("nll", label="nll"), nll
    elif spec.kind == "keras":
        assert spec.name is not None
        logits = spec.from_logits and spec.name in LOGIT_AWARE_LOSSES
        info = LossInfo("keras", spec.name, logits, spec.name)
        obj = _keras_loss(keras, spec.name, logits)
    elif spec.kind == "compiled":
        source = loaded.compiled_loss if loaded.compiled_loss is not None else loaded.factory_loss
        if source is None:
            raise LossUsageError("--loss compiled: the model was saved without a compiled loss")
        info, obj = _from_object(source, keras, spec.from_logits, "the compiled loss")
    else:
        assert spec.target is not None
        info, obj = _from_object(resolve(spec.target), keras, spec.from_logits, spec.target)
        if info.kind == "function" and not info.label:
            info.label = spec.target
    recorder = LossRecorder()
    if hasattr(obj, "get_config") and hasattr(obj, "call"):
        compiled = _record_instance(obj, recorder)
    else:
        compiled = _record_function(obj, recorder)
    return LossPlan(info, compiled, recorder, needs_distribution=info.kind == "nll")
