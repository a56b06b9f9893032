"""Turn a saved model config into the flat list of leaf layers and the edges between them.

Handles Sequential and Functional models in both config dialects (Keras 3: inbound nodes
{"args", "kwargs"} holding `__keras_tensor__` dicts; tf_keras: [[name, node, tensor, kwargs]])
and models nested inside models, which are flattened so that every leaf layer appears once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from tfpcheck.catalog.tfp_layers import TFP_LAYER_NAMES
from tfpcheck.model_file.json_text import type_name
from tfpcheck.model_file.limits import MAX_MODEL_DEPTH, MAX_WALK_DEPTH
from tfpcheck.model_file.serialized_code import layer_code
from tfpcheck.model_file.types import Layer, ModelReadError

INPUT_LAYER = "InputLayer"
KERAS_TENSOR = "__keras_tensor__"
CONSTANT = "_CONSTANT_VALUE"  # tf_keras TFOpLambda stores constant arguments as fake refs


@dataclass
class Graph:
    layers: list[Layer]
    outputs: list[str]  # leaf layers producing the model's outputs
    model_class: str | None


def build_graph(model: Any) -> Graph:
    """`model` is the saved {"class_name", "config"} object. Raises only ModelReadError."""
    if not isinstance(model, dict):
        raise ModelReadError(f"the model config is {type_name(model)}, not an object")
    class_name = model.get("class_name")
    if not isinstance(class_name, str):
        raise ModelReadError("the model config has no class_name")
    if not _is_model(class_name, model.get("config")):
        # A subclassed model keeps its structure in Python code, not in the config.
        return Graph(layers=[], outputs=[], model_class=class_name)
    builder = _Builder()
    top = builder.model(model, "", (), 0)
    return builder.finish(top, class_name)


@dataclass
class _Leaf:
    name: str
    model_path: tuple[str, ...]  # names of the nested models around it, outermost first
    index: int
    class_name: str
    module: str | None
    config: dict[str, Any]
    inbound: list[int] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)  # the same producers, for a fast lookup


@dataclass
class _Model:
    outputs: list[list[int]]  # leaf ids per output tensor
    entries: list[list[int]]  # leaf ids that receive each input tensor


@dataclass
class _Ref:
    name: str
    tensor: int
    path: str
    required: bool  # a call argument (must exist), not a tensor found among kwargs


class _Builder:
    def __init__(self) -> None:
        self.leaves: list[_Leaf] = []
        self.model_names: Counter[str] = Counter()

    # ---- models ----

    def model(
        self, entry: dict[str, Any], path: str, model_path: tuple[str, ...], depth: int
    ) -> _Model:
        if depth > MAX_MODEL_DEPTH:
            raise ModelReadError(
                f"models nest more than {MAX_MODEL_DEPTH} levels deep (at {_short(path)})"
            )
        cfg_path = _join(path, "config")
        cfg = entry.get("config")
        if not isinstance(cfg, dict):
            raise ModelReadError(f"{cfg_path} is {type_name(cfg)}, not an object")
        layers = cfg.get("layers")
        if not isinstance(layers, list):
            raise ModelReadError(f"{cfg_path}.layers is {type_name(layers)}, not a list")
        if entry.get("class_name") == "Sequential":
            return self._sequential(layers, f"{cfg_path}.layers", model_path, depth)
        return self._functional(cfg, layers, cfg_path, model_path, depth)

    def _sequential(
        self, layers: list[Any], path: str, model_path: tuple[str, ...], depth: int
    ) -> _Model:
        entries: list[int] = []
        previous: list[int] | None = None  # None: the Sequential's own input
        index = 0
        seen: set[str] = set()
        for i, entry in enumerate(layers):
            item = _LayerEntry.parse(entry, f"{path}[{i}]")
            item.check_unique(seen)
            if item.class_name == INPUT_LAYER:
                continue  # not in model.layers of a Sequential: the model's input itself
            if item.is_model:
                inner = self._nested(item, model_path, depth)
                receivers = [leaf for group in inner.entries for leaf in group]
                if previous is None:
                    entries.extend(receivers)
                else:
                    self._feed(receivers, previous)
                previous = [leaf for group in inner.outputs for leaf in group]
            else:
                leaf = self._leaf(item, model_path, index)
                if previous is None:
                    entries.append(leaf)
                else:
                    self._feed([leaf], previous)
                previous = [leaf]
            index += 1
        return _Model(outputs=[previous] if previous else [], entries=[entries])

    def _functional(
        self,
        cfg: dict[str, Any],
        layers: list[Any],
        path: str,
        model_path: tuple[str, ...],
        depth: int,
    ) -> _Model:
        leaves: dict[str, int] = {}
        models: dict[str, _Model] = {}
        items: list[_LayerEntry] = []
        seen: set[str] = set()
        for i, entry in enumerate(layers):
            item = _LayerEntry.parse(entry, f"{path}.layers[{i}]")
            item.check_unique(seen)
            items.append(item)
            if item.is_model:
                models[item.name] = self._nested(item, model_path, depth)
            else:
                leaves[item.name] = self._leaf(item, model_path, i)

        def produce(ref: _Ref) -> list[int]:
            if ref.name in leaves:
                return [leaves[ref.name]]
            outputs = models[ref.name].outputs
            if 0 <= ref.tensor < len(outputs):
                return outputs[ref.tensor]
            return [leaf for group in outputs for leaf in group]

        known = leaves.keys() | models.keys()
        for item in items:
            for node in _node_refs(item.entry, item.path, known):
                if item.is_model:
                    receivers = models[item.name].entries
                    if len(node) == len(receivers):  # the i-th argument feeds the i-th input
                        for group, ref in zip(receivers, node, strict=True):
                            self._feed(group, produce(ref))
                    else:
                        fed = [leaf for ref in node for leaf in produce(ref)]
                        for group in receivers:
                            self._feed(group, fed)
                else:
                    self._feed([leaves[item.name]], [p for ref in node for p in produce(ref)])

        input_refs = self._endpoints(cfg, "input_layers", path, known)
        if input_refs is None:
            entries = [[leaves[it.name]] for it in items if it.class_name == INPUT_LAYER]
        else:
            entries = [produce(ref) for ref in input_refs]
        output_refs = self._endpoints(cfg, "output_layers", path, known)
        if output_refs is None and items:  # Keras lists layers in call order: the last one
            output_refs = [_Ref(items[-1].name, 0, f"{path}.layers[-1]", required=True)]
        return _Model(outputs=[produce(ref) for ref in output_refs or []], entries=entries)

    def _endpoints(
        self, cfg: dict[str, Any], key: str, path: str, known: set[str]
    ) -> list[_Ref] | None:
        value = cfg.get(key)
        if value is None:
            return None
        refs = _triples(value, f"{path}.{key}", 0)
        for ref in refs:
            if ref.name not in known:
                raise ModelReadError(f"{ref.path} refers to unknown layer '{ref.name}'")
        return refs

    def _nested(self, item: _LayerEntry, model_path: tuple[str, ...], depth: int) -> _Model:
        self.model_names[item.name] += 1
        return self.model(item.entry, item.path, (*model_path, item.name), depth + 1)

    def _leaf(self, item: _LayerEntry, model_path: tuple[str, ...], index: int) -> int:
        self.leaves.append(
            _Leaf(
                name=item.name,
                model_path=model_path,
                index=index,
                class_name=item.class_name,
                module=item.module,
                config=item.config,
            )
        )
        return len(self.leaves) - 1

    def _feed(self, receivers: list[int], producers: list[int]) -> None:
        for leaf_id in receivers:
            leaf = self.leaves[leaf_id]
            for producer in producers:
                if producer != leaf_id and producer not in leaf.seen:
                    leaf.seen.add(producer)
                    leaf.inbound.append(producer)

    # ---- the result ----

    def finish(self, top: _Model, class_name: str) -> Graph:
        names = self._display_names()
        layers = []
        for leaf_id, leaf in enumerate(self.leaves):
            code = layer_code(leaf.config)
            layers.append(
                Layer(
                    name=names[leaf_id],
                    index=leaf.index,
                    class_name=leaf.class_name,
                    module=leaf.module,
                    config=leaf.config,
                    inbound=[names[p] for p in leaf.inbound],
                    parent=self._parent(leaf.model_path),
                    functions=code.functions,
                    function_errors=code.errors,
                    qualified_name="/".join((*leaf.model_path, leaf.name)),
                    library_functions=code.library,
                )
            )
        outputs = list(dict.fromkeys(names[leaf] for group in top.outputs for leaf in group))
        return Graph(layers=layers, outputs=outputs, model_class=class_name)

    def _display_names(self) -> list[str]:
        # A nested layer keeps its short name unless another layer in the file has it too;
        # then it is qualified by its enclosing models ("inner/dense").
        counts = Counter(leaf.name for leaf in self.leaves)
        taken: set[str] = set()
        names = []
        for leaf in self.leaves:
            name = leaf.name
            if leaf.model_path and counts[name] > 1:
                name = "/".join((*leaf.model_path, name))
            unique, k = name, 2
            while unique in taken:  # only when a name itself contains "/"
                unique, k = f"{name}#{k}", k + 1
            taken.add(unique)
            names.append(unique)
        return names

    def _parent(self, model_path: tuple[str, ...]) -> str | None:
        if not model_path:
            return None
        if self.model_names[model_path[-1]] > 1:
            return "/".join(model_path)
        return model_path[-1]


@dataclass
class _LayerEntry:
    entry: dict[str, Any]
    path: str
    class_name: str
    module: str | None
    config: dict[str, Any]
    name: str

    @property
    def is_model(self) -> bool:
        return _is_model(self.class_name, self.config)

    @classmethod
    def parse(cls, entry: Any, path: str) -> _LayerEntry:
        if not isinstance(entry, dict):
            raise ModelReadError(f"{path} is {type_name(entry)}, not a layer object")
        if "class_name" not in entry:
            raise ModelReadError(f"{path} has no class_name")
        class_name = entry["class_name"]
        if not isinstance(class_name, str) or not class_name:
            raise ModelReadError(f"{path}.class_name is {type_name(class_name)}, not a name")
        config = entry.get("config")
        if not isinstance(config, dict):
            raise ModelReadError(f"{path}.config is {type_name(config)}, not an object")
        # Functional models refer to layers by the entry's "name"; Sequential has only config's
        name = entry.get("name", config.get("name"))
        if not isinstance(name, str) or not name:
            raise ModelReadError(f"{path} has no name")
        return cls(entry, path, class_name, _module(entry, class_name, config), config, name)

    def check_unique(self, seen: set[str]) -> None:
        if self.name in seen:
            raise ModelReadError(f"{self.path} repeats the layer name '{self.name}'")
        seen.add(self.name)


def _is_model(class_name: str, config: Any) -> bool:
    if class_name in ("Sequential", "Functional"):
        return True
    if not isinstance(config, dict):
        return False
    if class_name == "Model":  # old Keras functional models; a subclass keeps no layer list
        return "layers" in config
    # a Functional subclass registered under its own name still saves a layer graph
    return "layers" in config and "output_layers" in config


def _module(entry: dict[str, Any], class_name: str, config: dict[str, Any]) -> str | None:
    module = entry.get("module")
    if isinstance(module, str):
        return module
    # .h5 configs record no module; a tfp Lambda-based layer records its wrapper's module
    inner = config.get("module")
    if isinstance(inner, str) and inner.startswith("tensorflow_probability"):
        return inner
    if class_name in TFP_LAYER_NAMES:  # tfp.layers classes, in .h5 configs
        return "tensorflow_probability.python.layers"
    return None


# ---- inbound nodes ----


def _node_refs(entry: dict[str, Any], path: str, known: set[str]) -> list[list[_Ref]]:
    """The producers of each call (node) of a layer, checked against the layers in scope."""
    nodes = entry.get("inbound_nodes", [])
    path = f"{path}.inbound_nodes"
    if nodes is None:
        return []
    if not isinstance(nodes, list):
        raise ModelReadError(f"{path} is {type_name(nodes)}, not a list")
    result = []
    for i, node in enumerate(nodes):
        node_path = f"{path}[{i}]"
        if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
            refs = _keras_tensors(node, node_path, 0)
        elif isinstance(node, list):  # tf_keras: [[name, node, tensor, kwargs], ...]
            refs = _triples(node, node_path, 0)
        else:
            raise ModelReadError(f"{node_path} is {type_name(node)}, not a node")
        kept = []
        for ref in refs:
            if ref.name in known:
                kept.append(ref)
            elif ref.required:
                raise ModelReadError(f"{ref.path} refers to unknown layer '{ref.name}'")
        result.append(kept)
    return result


def _keras_tensors(value: Any, path: str, depth: int) -> list[_Ref]:
    """Keras 3: the `__keras_tensor__` dicts anywhere in a node's args and kwargs, in order."""
    if depth > MAX_WALK_DEPTH:
        raise ModelReadError(f"{_short(path)} nests more than {MAX_WALK_DEPTH} levels deep")
    if isinstance(value, list):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
    elif isinstance(value, dict):
        if value.get("class_name") == KERAS_TENSOR:
            return [_keras_history(value, path)]
        items = [(f"{path}.{k}", v) for k, v in value.items()]
    else:
        return []
    return [r for where, v in items for r in _keras_tensors(v, where, depth + 1)]


def _keras_history(value: dict[str, Any], path: str) -> _Ref:
    cfg = value.get("config")
    history = cfg.get("keras_history") if isinstance(cfg, dict) else None
    where = f"{path}.config.keras_history"
    if not _is_triple(history):
        raise ModelReadError(f"{where} is not [layer, node, tensor]")
    return _Ref(history[0], history[2], where, required=True)


def _triples(value: Any, path: str, depth: int, required: bool = True) -> list[_Ref]:
    """[name, node, tensor(, kwargs)] references, in order, from a tf_keras node or endpoint."""
    if depth > MAX_WALK_DEPTH:
        raise ModelReadError(f"{_short(path)} nests more than {MAX_WALK_DEPTH} levels deep")
    if _is_triple(value):
        refs = [] if value[0] == CONSTANT else [_Ref(value[0], value[2], path, required)]
        if len(value) > 3:  # call kwargs may hold tensors too (TFOpLambda's y=...)
            refs += _triples(value[3], f"{path}[3]", depth + 1, required=False)
        return refs
    if isinstance(value, list):
        items = enumerate(value)
    elif isinstance(value, dict):
        items = value.items()  # type: ignore[assignment]
    else:
        return []
    sep = "{}[{}]" if isinstance(value, list) else "{}.{}"
    return [r for k, v in items for r in _triples(v, sep.format(path, k), depth + 1, required)]


def _is_triple(value: Any) -> TypeGuard[list[Any]]:
    return (
        isinstance(value, list)
        and len(value) >= 3
        and isinstance(value[0], str)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:3])
    )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _short(path: str, limit: int = 120) -> str:
    return path if len(path) <= limit else f"{path[:40]}…{path[-(limit - 41) :]}"
