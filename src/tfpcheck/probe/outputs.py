"""Multi-output models: each output is probed as `fit` scores it, through its own loss term.

`fit` on a model with several outputs adds one loss term per output: the compiled loss for
that output (a dict keyed by output name, a list in output order, or one loss for all), with
the target rank aligned per output by the model's own Keras. A view model from the same
inputs to one output shares the layers and weights, and compiled with that output's loss it
computes exactly that term, so every per-output rule runs unchanged on each view.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tfpcheck.findings import Finding, Where
from tfpcheck.probe.load import Loaded


class OutputSplitError(Exception):
    """The outputs cannot be probed one by one (a usage error naming what to pass)."""


@dataclass
class OutputView:
    name: str  # the output's name (its layer's name)
    index: int  # position among the model's outputs
    loaded: Loaded  # the single-output view, with this output's loss


def output_names(model: Any) -> list[str]:
    outputs = getattr(model, "outputs", None) or []
    names = list(getattr(model, "output_names", None) or [])
    if len(names) != len(outputs):
        names = [_tensor_layer_name(t) or f"output_{i}" for i, t in enumerate(outputs)]
    return names


def _tensor_layer_name(tensor: Any) -> str | None:
    history = getattr(tensor, "_keras_history", None)
    layer = getattr(history, "layer", None) if history is not None else None
    if layer is None and isinstance(history, tuple) and history:
        layer = history[0]
    return getattr(layer, "name", None)


def is_multi_output(model: Any) -> bool:
    return len(getattr(model, "outputs", None) or []) > 1


def loss_for(loss: Any, name: str, index: int, count: int) -> Any:
    """The part of a compiled/factory loss that applies to one output; None when absent."""
    if loss is None or isinstance(loss, str) or callable(loss):
        return loss
    if isinstance(loss, Mapping):
        return loss.get(name)
    if isinstance(loss, Sequence):
        if len(loss) != count:
            raise OutputSplitError(
                f"the model has {count} outputs but its loss list has {len(loss)} entries: "
                "pass --loss to use one loss for every output"
            )
        return loss[index]
    return loss


def loss_weights(model: Any, names: list[str]) -> dict[str, float]:
    """Each output's `loss_weights` entry from the model's compile config (1.0 without)."""
    try:
        config = model.get_compile_config() or {}
    except Exception:  # not compiled, or a Keras without compile configs
        config = {}
    weights = config.get("loss_weights") if isinstance(config, Mapping) else None
    found: dict[str, Any] = {}
    if isinstance(weights, Mapping):
        found = dict(weights)
    elif isinstance(weights, Sequence) and not isinstance(weights, str):
        found = dict(zip(names, weights, strict=False)) if len(weights) == len(names) else {}
    return {
        name: float(value) if isinstance(value, int | float) else 1.0
        for name in names
        for value in [found.get(name, 1.0)]
    }


def split_outputs(loaded: Loaded) -> list[OutputView]:
    model = loaded.model
    names = output_names(model)
    views = []
    for index, (name, tensor) in enumerate(zip(names, model.outputs, strict=True)):
        view = loaded.keras.Model(inputs=model.inputs, outputs=tensor, name=f"{model.name}_{name}")
        count = len(names)
        views.append(
            OutputView(
                name,
                index,
                replace(
                    loaded,
                    model=view,
                    compiled_loss=loss_for(loaded.compiled_loss, name, index, count),
                    factory_loss=loss_for(loaded.factory_loss, name, index, count),
                    notes=[],
                ),
            )
        )
    return views


def tag_findings(
    findings: list[Finding], view: OutputView, layer_index: Mapping[str, int]
) -> list[Finding]:
    """Name the output in each finding of its view, with layer indices of the whole model."""
    tagged = []
    for finding in findings:
        where = finding.where
        layer = where.layer or view.name
        base = layer.split("/", 1)[0]
        index = layer_index.get(base, where.layer_index if where.layer else None)
        tagged.append(
            replace(
                finding,
                where=Where(layer, index, where.function, where.file, where.line),
                evidence={"output": view.name, **dict(finding.evidence)},
            )
        )
    return tagged
