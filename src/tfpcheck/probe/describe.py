"""The model description the structural rules read, built from a live model (a factory's).

A saved file's description comes from its `config.json`; a factory's model is serialized in
the worker the way saving would write that JSON (the real Keras' `serialize_keras_object`,
lambdas included, as marshal and cloudpickle payloads) and read by the same static reader.
So a mistake is found the same way whatever the input kind. Layers whose configuration
cannot be serialized (DenseVariational, some tfp.layers, a lambda whose source Keras cannot
find) are described from their attributes: class, name, units, activation, and a
DistributionLambda's own function as the marshalled code Keras would have saved.
"""

from __future__ import annotations

import base64
import json
import marshal
from typing import Any

from tfpcheck.findings import Finding
from tfpcheck.model_file.compile_config import read_losses
from tfpcheck.model_file.graph import build_graph
from tfpcheck.model_file.types import LossConfig, ModelFile
from tfpcheck.probe.load import Loaded

# Rules about a file (unreadable, serialized code, bytecode versions, Keras flavor): they
# say nothing about a model built in this process.
FILE_RULE_FAMILY = "TFP0"


def describe_live(loaded: Loaded) -> ModelFile | None:
    """The description of a live model; None when not even its layers can be listed."""
    keras = loaded.keras
    try:
        config = _model_config(loaded.model, keras)
        graph = build_graph(json.loads(json.dumps(config, default=_unserializable)))
    except Exception:  # an exotic model: the probe still runs, only these rules do not
        return None
    losses: list[LossConfig] = []
    compile_config = _compile_config(loaded, keras)
    if compile_config is not None:
        try:
            losses, _ = read_losses(compile_config, graph.outputs)
        except Exception:
            losses = []
    return ModelFile(
        path="<live model>",
        format="keras_zip",
        flavor="tf_keras" if loaded.flavor == "tf_keras" else "keras3",
        keras_version=getattr(keras, "__version__", None),
        layers=graph.layers,
        outputs=graph.outputs,
        compile_config=compile_config,
        losses=losses,
        model_class=graph.model_class,
    )


def structural_findings(loaded: Loaded, loss: Any) -> list[Finding]:
    """What the static rules find in the live model's description (file rules left out)."""
    from tfpcheck.engine import run_static_rules
    from tfpcheck.rules.context import StaticContext

    model = describe_live(loaded)
    if model is None:
        return []
    ctx = StaticContext(model=model, loss=loss, probe_requested=True, unsafe=True)
    try:
        findings = run_static_rules(ctx)
    except Exception:  # a rule that cannot read this description must not stop the probe
        return []
    return [f for f in findings if not f.code.startswith(FILE_RULE_FAMILY)]


def _unserializable(value: Any) -> Any:
    return f"<{type(value).__name__}>"


def _serialize(obj: Any, keras: Any) -> Any:
    return keras.saving.serialize_keras_object(obj)


def _model_config(model: Any, keras: Any) -> dict[str, Any]:
    try:
        config: dict[str, Any] = _serialize(model, keras)
        return config
    except Exception:
        pass
    # One layer that cannot be serialized fails the whole model: describe layer by layer.
    if type(model).__name__ == "Sequential":
        layers = [_layer_config(layer, keras) for layer in model.layers]
        return {
            "class_name": "Sequential",
            "module": type(model).__module__,
            "config": {"name": model.name, "layers": layers},
        }
    network_config = _tf_keras_network_config(model, keras)
    return {"class_name": type(model).__name__, "config": network_config}


def _tf_keras_network_config(model: Any, keras: Any) -> dict[str, Any]:
    """A functional tf_keras model's config with every layer serialized on its own."""
    from tf_keras.src.engine import functional

    config: dict[str, Any] = functional.get_network_config(
        model, serialize_layer_fn=lambda layer: _layer_config(layer, keras)
    )
    return config


def _layer_config(layer: Any, keras: Any) -> dict[str, Any]:
    try:
        config: dict[str, Any] = _serialize(layer, keras)
        json.dumps(config, default=_unserializable)
        return config
    except Exception:
        return _attributes(layer, keras)


def _attributes(layer: Any, keras: Any) -> dict[str, Any]:
    """A layer described by what it is, where its configuration cannot be written."""
    config: dict[str, Any] = {"name": layer.name}
    units = getattr(layer, "units", None)
    if isinstance(units, int):
        config["units"] = units
    activation = getattr(layer, "activation", None)
    if activation is not None:
        try:
            config["activation"] = keras.activations.serialize(activation)
        except Exception:
            name = getattr(activation, "__name__", None)
            if isinstance(name, str):
                config["activation"] = name
    function = _function_entry(getattr(layer, "_make_distribution_fn", None))
    if function is not None:
        config["make_distribution_fn"] = function
    return {"class_name": type(layer).__name__, "module": type(layer).__module__, "config": config}


def _function_entry(fn: Any) -> dict[str, Any] | None:
    """A live function as Keras' legacy serialization writes a lambda ([code, defaults,
    closure], the code marshalled in base64), for the static reader to decompile as data.
    Closure cells the JSON cannot hold are left out (None), as a saved file's would be."""
    code = getattr(fn, "__code__", None)
    if code is None:  # a class (DistributionLambda(tfd.Poisson)) or a builtin
        return None
    cells = []
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
            if hasattr(value, "item") and getattr(value, "shape", None) == ():
                value = value.item()  # a NumPy scalar (a closure's `scale = np.float32(1)`)
            json.dumps(value)
        except (ValueError, TypeError):  # an empty cell, or an object
            value = None
        cells.append(value)
    raw = base64.b64encode(marshal.dumps(code)).decode("ascii")
    return {"class_name": "__lambda__", "config": {"value": [raw, None, cells or None]}}


def _compile_config(loaded: Loaded, keras: Any) -> dict[str, Any] | None:
    """The loss the factory compiled or returned, as a saved compile config holds it."""
    loss = loaded.factory_loss if loaded.factory_loss is not None else loaded.compiled_loss
    if loss is None:
        return None
    try:
        serialized = loss if isinstance(loss, str) else _serialize(loss, keras)
        result: dict[str, Any] = json.loads(
            json.dumps({"loss": serialized}, default=_unserializable)
        )
        return result
    except Exception:
        return None
