"""`tfpcheck.check`: check a model from Python, with the engine and rules of the command line.

A live model is probed in the calling process, on the user's own object: it is not pickled,
saved or sent to a worker. The probe compiles it with the loss it checks and seeds the random
generators, so both are put back afterwards (`_Preserved`). A path or `FILE.py:NAME` goes
through `check_paths`, exactly as on the command line.
"""

from __future__ import annotations

import html
import io
import os
import random
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfpcheck.engine import CheckOptions, check_paths, live_result
from tfpcheck.findings import FileError, FileResult, Finding, Severity
from tfpcheck.losses import parse_loss_spec
from tfpcheck.notebook_cells import name_cells
from tfpcheck.options import DEFAULT_TIMEOUT
from tfpcheck.selection import Selector
from tfpcheck.shapes import Shapes

# Said when static_only=True for a live model: what the structural rules read is its
# description, as a factory's.
STATIC_LIVE = "static_only=True: only the model's description was checked"
SEVERITY_COLORS = {"error": "#c62828", "warning": "#b26a00", "info": "#00838f"}


def _where(finding: Finding) -> str:
    from tfpcheck.report.text import describe_where

    return describe_where(finding)


class CheckFailed(AssertionError):
    """`Report.raise_for_errors()`: a finding at or above the report's fail-on severity."""


@dataclass(frozen=True)
class Report:
    """What `tfpcheck.check` found in one model."""

    result: FileResult
    fail_on: Severity = Severity.ERROR
    seconds: float = 0.0

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.result.findings

    @property
    def error(self) -> FileError | None:
        """Why the model could not be checked at all (the command line's exit status 2)."""
        return self.result.error

    @property
    def ok(self) -> bool:
        """Checked, with no finding at or above `fail_on` (error, unless told otherwise)."""
        return self.error is None and not any(
            f.severity.rank >= self.fail_on.rank for f in self.findings
        )

    def __str__(self) -> str:
        from rich.console import Console

        from tfpcheck.report import summarize
        from tfpcheck.report.text import render

        buffer = io.StringIO()
        # As the command line renders a piped report: no colour, no wrapping.
        # force_jupyter=False: in a notebook, rich would display the text instead of writing it
        console = Console(
            file=buffer,
            color_system=None,
            soft_wrap=True,
            highlight=False,
            force_jupyter=False,
        )
        render(console, [self.result], summarize([self.result], self.seconds))
        return buffer.getvalue().rstrip("\n")

    def __repr__(self) -> str:
        counts = []
        for severity in Severity:
            n = sum(f.severity is severity for f in self.findings)
            counts.append(f"{n} {severity.value}{'' if n == 1 else 's'}")
        state = f"error {self.error.code}" if self.error is not None else ", ".join(counts)
        return f"<tfpcheck.Report {self.result.path}: {state}>"

    def _repr_html_(self) -> str:
        """Jupyter's view: a table of the findings, then the notes."""
        e = html.escape
        parts = [f"<div><strong>{e(self.result.path)}</strong>"]
        if self.error is not None:
            parts.append(
                f"<p><strong>{e(self.error.code)}</strong> "
                f'<span style="color:{SEVERITY_COLORS["error"]}">error</span> '
                f"{e(self.error.message)}</p>"
            )
        if self.findings:
            parts.append(
                "<table><thead><tr><th>code</th><th>severity</th><th>where</th>"
                "<th>message</th><th>fix</th></tr></thead><tbody>"
            )
            for f in self.findings:
                sev = f.severity.value
                parts.append(
                    f"<tr><td><strong>{e(f.code)}</strong><br>{e(f.name)}</td>"
                    f'<td style="color:{SEVERITY_COLORS[sev]}">{e(sev)}</td>'
                    f"<td>{e(_where(f))}</td><td>{e(f.message)}</td>"
                    f"<td><code>{e(f.fix)}</code></td></tr>"
                )
            parts.append("</tbody></table>")
        elif self.error is None:
            clean = "clean" if self.result.probed else "no static finding"
            parts.append(f"<p>{clean}</p>")
        if self.result.not_probed is not None:
            parts.append(f"<p>not probed: {e(self.result.not_probed)}</p>")
        parts += [f"<p><small>note: {e(note)}</small></p>" for note in self.result.notes]
        parts.append("</div>")
        return "\n".join(parts)

    @property
    def shapes(self) -> Shapes:
        """Every distribution the probe saw, in call order, at batch 1 and N (empty when the
        model was not probed); prints as `tfpcheck shapes` does, and as a table in Jupyter."""
        return Shapes(self.result.shapes)

    def raise_for_errors(self) -> None:
        """Raise CheckFailed (an AssertionError, so that it reads well in tests) unless ok."""
        if not self.ok:
            raise CheckFailed(str(self))

    def to_dict(self) -> dict[str, Any]:
        """The JSON report's entry for this model (`tfpcheck --format json`'s `files[i]`)."""
        return self.result.as_dict()


def check(
    model: Any,
    loss: Any = None,
    *,
    x: Any = None,
    y: Any = None,
    batch_size: int = 32,
    num_examples: int | None = None,
    target_shape: tuple[int, ...] | int | str | None = None,
    classes: int | None = None,
    select: str | Iterable[str] | None = None,
    ignore: str | Iterable[str] | None = None,
    static_only: bool = False,
    fail_on: str = "error",
    unsafe: bool = False,
    custom_objects: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Report:
    """Check a model with the rules of the command line; see the README's "In Python"."""
    started = time.perf_counter()
    if (x is None) != (y is None):
        raise ValueError("x and y go together: pass both (example inputs and their targets)")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: must be at least 1")
    if not timeout > 0:
        raise ValueError(f"timeout={timeout}: must be a positive number of seconds")
    options = CheckOptions(
        loss=parse_loss_spec(loss) if isinstance(loss, str) else None,
        static_only=static_only,
        unsafe=unsafe,
        batch_size=batch_size,
        target_shape=_target_shape(target_shape),
        classes=classes,
        num_examples=num_examples,
        custom_objects=custom_objects,
        selector=_selector(select, ignore),
        timeout=timeout,
    )
    severity = Severity(fail_on)
    from tfpcheck.api_wording import in_api_words

    if isinstance(model, str | os.PathLike):
        result = _check_path(os.fspath(model), loss, x, y, options)
    else:
        for name, given in (("unsafe", unsafe), ("custom_objects", custom_objects)):
            if given:
                raise ValueError(
                    f"{name}= is for a model file or FILE.py:NAME: a live model is checked as "
                    "it is, with nothing loaded"
                )
        result = _check_live(model, loss, x, y, options)
    return Report(in_api_words(result), severity, time.perf_counter() - started)


def _check_path(path: str, loss: Any, x: Any, y: Any, options: CheckOptions) -> FileResult:
    if loss is not None and not isinstance(loss, str):
        raise TypeError(
            "a model file or FILE.py:NAME takes a loss as --loss does (a string such as 'nll', "
            "'mse' or 'losses.py:my_loss'); pass the live model to check a loss object"
        )
    if x is None:
        return check_paths([path], options)[0]
    if isinstance(x, dict | list | tuple) or isinstance(y, dict):
        raise TypeError(
            "a model file takes x and y as --data does, one array each; pass the live model "
            "to check one with several inputs or outputs"
        )
    # The worker that probes a file reads --data from a file: write the arrays to one.
    with tempfile.TemporaryDirectory(prefix="tfpcheck-") as folder:
        data = os.path.join(folder, "data.npz")
        np.savez(data, x=np.asarray(x), y=np.asarray(y))
        options = CheckOptions(**{**vars(options), "data": data, "use_cache": False})
        result = check_paths([path], options)[0]
    return result


def _check_live(model: Any, loss: Any, x: Any, y: Any, options: CheckOptions) -> FileResult:
    import tensorflow_probability  # noqa: F401  (the probe instruments its distributions)

    from tfpcheck.options import probe_request
    from tfpcheck.probe.load import Loaded, _factory_flavor, _is_compiled
    from tfpcheck.probe.probe_run import ProbeRun

    given_loss = None if isinstance(loss, str) else loss
    found = _factory_flavor(model)
    if found is None and callable(model):
        returned = model()  # a zero-argument factory: the user's exceptions are theirs
        model = returned
        if isinstance(returned, tuple) and len(returned) == 2:
            model, factory_loss = returned
            given_loss = given_loss if given_loss is not None or loss is not None else factory_loss
        found = _factory_flavor(model)
    if found is None:
        raise TypeError(
            f"tfpcheck.check takes a tf_keras or Keras 3 model, a function returning one (or "
            f"(model, loss)), or a path; got {type(model).__name__}"
        )
    flavor, keras = found
    compiled = model.loss if _is_compiled(model) else None
    loaded = Loaded(
        model,
        flavor,
        keras,
        compiled_loss=compiled,
        factory_loss=given_loss,
        # described by the structural rules as a factory's model is, but never saved
        is_factory=True,
        check_saving=False,
    )
    label = f"<{type(model).__name__} '{getattr(model, 'name', '?')}'>"
    if options.static_only:
        from tfpcheck.engine import _finish
        from tfpcheck.probe.describe import structural_findings

        with _Preserved(model, (given_loss, compiled)):
            described = structural_findings(loaded, options.loss)
        return name_cells(_finish(label, described, options, [], not_probed=STATIC_LIVE))
    request = probe_request(
        options,
        label,
        flavor,
        unsafe=True,  # the user's own object: nothing is deserialized
        arrays=(x, y) if x is not None else None,
    )
    with _Preserved(model, (given_loss, compiled)):
        result = ProbeRun(request, loaded=loaded).run()
    return name_cells(live_result(label, options, result))


class _Preserved:
    """Put back what a probe in this process changes: the attributes `compile` sets on the
    model (optimizer, loss, compiled state, checkpoint dependencies), those the probe sets on
    a loss object (it records `call`), Python's and NumPy's global random state and Keras 3's
    global seed, and TensorFlow's traceback filtering.

    TensorFlow's global seed is set by the probe (`tf.random.set_seed`) and cannot be read
    back: code that relies on it after a check draws as if seeded with the probe's seed.
    """

    def __init__(self, model: Any, losses: Iterable[Any]) -> None:
        self.objects = [_Attributes(obj) for obj in (model, *losses) if hasattr(obj, "__dict__")]

    def __enter__(self) -> None:
        import tensorflow as tf

        self.python_random = random.getstate()
        self.numpy_random = np.random.get_state()
        self.keras_seed = _keras3_seed()
        self.filtering = tf.debugging.is_traceback_filtering_enabled()
        # Filtered tracebacks hide the user's frame, which findings point at.
        tf.debugging.disable_traceback_filtering()
        # Keras' warnings while the probe describes and runs the model (a lambda serialized)
        # are about the probe's calls, not the user's.
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc: object) -> None:
        import tensorflow as tf

        self.warnings.__exit__(None, None, None)
        for attributes in self.objects:
            attributes.restore()
        random.setstate(self.python_random)
        np.random.set_state(self.numpy_random)
        _set_keras3_seed(self.keras_seed)
        if self.filtering:
            tf.debugging.enable_traceback_filtering()


class _Attributes:
    """An object's attributes, and the contents of its plain lists and dicts: Keras' `compile`
    replaces some attributes and appends to others (its checkpoint dependencies). Restored in
    `__dict__` directly, past Keras' attribute tracking, which would track them anew."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self.values = dict(vars(obj))
        self.lists = {k: list(v) for k, v in self.values.items() if type(v) is list}
        self.dicts = {k: dict(v) for k, v in self.values.items() if type(v) is dict}

    def restore(self) -> None:
        current = vars(self.obj)
        for key in [k for k in current if k not in self.values]:
            del current[key]
        for key, value in self.values.items():
            if current.get(key) is not value:
                current[key] = value
        for key, items in self.lists.items():
            if self.values[key] != items:
                self.values[key][:] = items
        for key, entries in self.dicts.items():
            if self.values[key] != entries:
                self.values[key].clear()
                self.values[key].update(entries)


KERAS3_SEED_KEYS = ("global_random_seed", "global_seed_generator")


def _keras3_seed() -> tuple[Any, ...] | None:
    if "keras" not in sys.modules:
        return None
    try:
        from keras.src.backend.common import global_state
    except ImportError:  # another Keras layout: its seed is not restored
        return None
    return tuple(global_state.get_global_attribute(key) for key in KERAS3_SEED_KEYS)


def _set_keras3_seed(saved: tuple[Any, ...] | None) -> None:
    if saved is None:
        return
    from keras.src.backend.common import global_state

    for key, value in zip(KERAS3_SEED_KEYS, saved, strict=True):
        global_state.set_global_attribute(key, value)


def _target_shape(value: tuple[int, ...] | int | str | None) -> tuple[int, ...] | None:
    """As --target-shape: (1,), 1, (28, 28), or () / "scalar" for one number per example."""
    if value is None:
        return None
    if isinstance(value, str):
        from tfpcheck.option_values import SCALAR_TARGET

        if value.replace(" ", "").lower() in SCALAR_TARGET:
            return ()
        value = tuple(int(d) for d in value.strip("() ").split(",") if d.strip())
    shape = (value,) if isinstance(value, int) else tuple(int(d) for d in value)
    if any(d <= 0 for d in shape):
        raise ValueError(f"target_shape={value!r}: dimensions must be positive")
    return shape


def _listed(codes: str | Iterable[str] | None) -> list[str]:
    return [codes] if isinstance(codes, str) else list(codes or [])


def _selector(select: str | Iterable[str] | None, ignore: str | Iterable[str] | None) -> Selector:
    """As the command line selects without -v; a code that matches no rule is a ValueError."""
    from tfpcheck.option_values import UsageError
    from tfpcheck.options import selector

    try:
        return selector(_listed(select), _listed(ignore), False, ("select", "ignore"))
    except UsageError as exc:
        raise ValueError(str(exc)) from None


__all__ = ["CheckFailed", "Report", "check"]
