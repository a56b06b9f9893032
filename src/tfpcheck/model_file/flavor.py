"""Which Keras wrote a model: Keras 3 or tf_keras (Keras 2), from its version or its config."""

from __future__ import annotations

import re
from typing import Any

from tfpcheck.model_file.types import Flavor

_MAJOR = re.compile(r"\s*(\d+)\.")
TF_KERAS_ONLY = ("tensorflow_probability", "tf_keras")


def flavor_from_version(version: str | None) -> Flavor | None:
    match = _MAJOR.match(version or "")
    if match is None:
        return None
    return "keras3" if int(match.group(1)) >= 3 else "tf_keras"


def guess_flavor(config: Any, default: Flavor) -> Flavor:
    """Guess from the config dialect when no usable keras_version was saved.

    Keras 3 writes InputLayer "batch_shape", dtypes as DTypePolicy objects and inbound nodes
    as {"args", "kwargs"}; tf_keras writes "batch_input_shape" and list inbound nodes, and
    only tf_keras models can hold tfp.layers.
    """
    votes = {"keras3": 0, "tf_keras": 0}
    stack: list[tuple[Any, int]] = [(config, 0)]
    seen = 0
    while stack and seen < 50_000:
        node, depth = stack.pop()
        seen += 1
        if isinstance(node, dict):
            if "batch_shape" in node:
                votes["keras3"] += 1
            if "batch_input_shape" in node:
                votes["tf_keras"] += 1
            if node.get("class_name") == "DTypePolicy":
                votes["keras3"] += 1
            module = node.get("module")
            if isinstance(module, str) and module.startswith(
                ("tensorflow_probability", "tf_keras")
            ):
                votes["tf_keras"] += 1
            nodes = node.get("inbound_nodes")
            if isinstance(nodes, list) and nodes:
                votes["keras3" if isinstance(nodes[0], dict) else "tf_keras"] += 1
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth < 64:
            stack.extend((child, depth + 1) for child in children)
    if votes["keras3"] == votes["tf_keras"]:
        return default
    return "keras3" if votes["keras3"] > votes["tf_keras"] else "tf_keras"
