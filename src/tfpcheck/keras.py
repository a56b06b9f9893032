"""`tfpcheck.keras.CheckCallback`: check the model `fit` is about to train, before epoch 1.

    model.fit(x, y, epochs=10, callbacks=[tfpcheck.keras.CheckCallback(x=x[:32], y=y[:32])])

At `on_train_begin` the callback runs `tfpcheck.check` on the model being trained (with its
compiled loss unless `loss` is given), prints the report, and raises `tfpcheck.CheckFailed`
on a finding at or above `fail_on`, which stops `fit` before the first step. The check leaves
the model's weights, compile state and random state as they were, so a clean model trains as
it would have without the callback.

One class serves tf_keras and Keras 3: it derives from tf_keras' `Callback` where tf_keras is
installed (that `CallbackList` asks its callbacks which hooks they implement; Keras 3's only
calls the hooks), and from Keras 3's otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tfpcheck.api import Report, check


def _callback_base() -> type:
    try:
        from tf_keras.callbacks import Callback
    except ImportError:
        from keras.callbacks import Callback
    base: type = Callback
    return base


class CheckCallback(_callback_base()):  # type: ignore[misc]
    """Check the model before training; see the module's docstring."""

    def __init__(
        self,
        loss: Any = None,
        x: Any = None,
        y: Any = None,
        fail_on: str = "error",
        *,
        batch_size: int = 32,
        print_fn: Callable[[str], None] = print,
        **options: Any,
    ) -> None:
        super().__init__()
        if (x is None) != (y is None):
            raise ValueError("x and y go together: pass both (example inputs and their targets)")
        self.loss, self.x, self.y, self.fail_on = loss, x, y, fail_on
        self.batch_size = batch_size
        self.print_fn = print_fn
        self.options = options  # the other keywords of tfpcheck.check (select, ignore, ...)
        self.report: Report | None = None  # the last check's, for code that wants to look

    def on_train_begin(self, logs: Any = None) -> None:
        report = check(
            self.model,
            self.loss,
            x=self.x,
            y=self.y,
            batch_size=self.batch_size,
            fail_on=self.fail_on,
            **self.options,
        )
        self.report = report
        self.print_fn(str(report))
        report.raise_for_errors()


__all__ = ["CheckCallback"]
