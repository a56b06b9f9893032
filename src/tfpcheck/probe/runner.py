"""Probe one model: load it, run batches of size 1 and N, check, merge with static findings."""

from __future__ import annotations

from typing import Any

from tfpcheck.probe import ProbeRequest, ProbeResult
from tfpcheck.probe.quiet import import_tensorflow
from tfpcheck.probe.seeding import fresh_keras_state, seed_everything


def probe_model(request: ProbeRequest) -> ProbeResult:
    import_tensorflow()

    if not request.unsafe and any(f.code in {"TFP002", "TFP007"} for f in request.static_findings):
        return ProbeResult((), not_probed="the file holds serialized code (TFP002)")
    fresh_keras_state()  # layer names as in a process of its own
    seed_everything()  # before the factory builds its weights or the file is loaded
    from tfpcheck.probe.probe_run import ProbeRun

    return ProbeRun(request).run()


def current_layer_getter(flavor: str) -> Any:
    """The innermost Keras layer being called, for tf_keras (Keras 3 has no public hook)."""
    if flavor != "tf_keras":
        return lambda: None
    try:
        from tf_keras.src.engine import base_layer_utils
    except ImportError:
        return lambda: None

    def current() -> str | None:
        layer = base_layer_utils.call_context().layer
        return getattr(layer, "name", None)

    return current
