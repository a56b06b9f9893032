"""Read the loss a model was compiled with from its compile config (or .h5 training_config)."""

from __future__ import annotations

from typing import Any

from tfpcheck.catalog.keras_losses import canonical_loss_name
from tfpcheck.model_file.json_text import type_name
from tfpcheck.model_file.serialized_code import LAMBDA, lambda_function
from tfpcheck.model_file.types import LossConfig, ModelReadError

# Modules whose loss classes and functions are Keras' own (a user class of the same name
# in another module is the user's, not Keras').
KERAS_MODULES = ("keras", "tf_keras", "tensorflow.python.keras", "builtins")


def read_losses(
    compile_config: Any, outputs: list[str], what: str = "compile_config"
) -> tuple[list[LossConfig], list[str]]:
    """The losses (one per output when given per output) and the code that could not be read."""
    if compile_config is None:
        return [], []
    if not isinstance(compile_config, dict):
        raise ModelReadError(f"{what} is {type_name(compile_config)}, not an object")
    loss = compile_config.get("loss")
    where = f"{what}.loss"
    errors: list[str] = []
    if isinstance(loss, list):
        per_output = len(loss) == len(outputs)
        items = [
            (v, f"{where}[{i}]", outputs[i] if per_output else None) for i, v in enumerate(loss)
        ]
    elif isinstance(loss, dict) and "class_name" not in loss:  # {output name: loss}
        items = [(v, f"{where}.{k}", k) for k, v in loss.items()]
    else:
        items = [(loss, where, None)]
    losses = []
    for value, item_where, output in items:
        config = _one(value, item_where, output, errors)
        if config is not None:
            losses.append(config)
    return losses, errors


def _one(value: Any, where: str, output: str | None, errors: list[str]) -> LossConfig | None:
    if value is None:
        return None  # no loss for this output
    if isinstance(value, str):
        return LossConfig(name=canonical_loss_name(value), raw=value, output=output)
    if not isinstance(value, dict):
        return LossConfig(name=None, raw=value, output=output)
    class_name = value.get("class_name")
    config = value.get("config")
    if class_name == LAMBDA:
        function, problems = lambda_function(value, where)
        errors.extend(problems)
        return LossConfig(name=None, raw=value, function=function, output=output)
    name = None
    if _is_keras(value.get("module")) and isinstance(class_name, str):
        if class_name == "function":  # a loss function saved by name
            name = canonical_loss_name(config) if isinstance(config, str) else None
        elif class_name == "LossFunctionWrapper" and isinstance(config, dict):
            wrapped = _one(config.get("fn"), f"{where}.config.fn", output, errors)
            name = wrapped.name if wrapped is not None else None
        else:
            name = canonical_loss_name(class_name)
    from_logits = isinstance(config, dict) and config.get("from_logits") is True
    return LossConfig(name=name, from_logits=from_logits, raw=value, output=output)


def _is_keras(module: Any) -> bool:
    # .h5 training configs record no module; only Keras' own objects appear without one
    if module is None:
        return True
    return isinstance(module, str) and (
        module in KERAS_MODULES or module.startswith(tuple(m + "." for m in KERAS_MODULES))
    )
