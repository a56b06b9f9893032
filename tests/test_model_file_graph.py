"""build_graph on config shapes the real-model tests do not cover, and on random damage."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from tfpcheck.model_file.graph import build_graph
from tfpcheck.model_file.types import ModelFile, ModelReadError


def leaf(class_name: str, name: str, nodes: Any = None, **config: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"class_name": class_name, "name": name, "config": {"name": name}}
    entry["config"].update(config)
    if nodes is not None:
        entry["inbound_nodes"] = nodes
    return entry


def tfk_input(name: str) -> dict[str, Any]:
    return leaf("InputLayer", name, [], batch_input_shape=[None, 4])


def tfk_call(*names: str, **kwargs: Any) -> list[list[Any]]:
    return [[[name, 0, 0, kwargs] for name in names]]


def k3_tensor(name: str, node: int = 0, tensor: int = 0) -> dict[str, Any]:
    return {"class_name": "__keras_tensor__", "config": {"keras_history": [name, node, tensor]}}


def functional(name: str, layers: list[Any], inputs: Any, outputs: Any, **extra: Any) -> Any:
    config = {"name": name, "layers": layers, "input_layers": inputs, "output_layers": outputs}
    return {"class_name": "Functional", "name": name, "config": config, **extra}


def sequential(name: str, layers: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "class_name": "Sequential",
        "name": name,
        "config": {"name": name, "layers": layers},
        **extra,
    }


def edges(config: Any) -> list[tuple[str, int, list[str], str | None]]:
    graph = build_graph(config)
    return [(lay.name, lay.index, lay.inbound, lay.parent) for lay in graph.layers]


def test_shared_layer_called_twice_gets_both_producers() -> None:
    config = functional(
        "m",
        [
            tfk_input("a"),
            tfk_input("b"),
            leaf("Dense", "shared", [[["a", 0, 0, {}]], [["b", 0, 0, {}]]]),
            leaf("Add", "add", [[["shared", 0, 0, {}], ["shared", 1, 0, {}]]]),
        ],
        [["a", 0, 0], ["b", 0, 0]],
        [["add", 0, 0]],
    )
    assert edges(config) == [
        ("a", 0, [], None),
        ("b", 1, [], None),
        ("shared", 2, ["a", "b"], None),
        ("add", 3, ["shared"], None),
    ]


def test_tf_keras_op_lambda_constants_and_tensor_kwargs() -> None:
    config = functional(
        "m",
        [
            tfk_input("x"),
            leaf("Dense", "d1", tfk_call("x")),
            leaf("Dense", "d2", tfk_call("x")),
            # tf.math.add(d1, d2) and d1 * 2.0 as tf_keras saves them
            leaf("TFOpLambda", "tf.math.add", tfk_call("d1", y=["d2", 0, 0], name=None)),
            leaf("TFOpLambda", "tf.math.multiply", [[["d1", 0, 0, {"y": 2.0}]]]),
            leaf("TFOpLambda", "tf.math.scale", [[["_CONSTANT_VALUE", -1, 2.0, {}]]]),
        ],
        [["x", 0, 0]],
        [["tf.math.add", 0, 0]],
    )
    assert [(name, inbound) for name, _, inbound, _ in edges(config)] == [
        ("x", []),
        ("d1", ["x"]),
        ("d2", ["x"]),
        ("tf.math.add", ["d1", "d2"]),
        ("tf.math.multiply", ["d1"]),
        ("tf.math.scale", []),
    ]


def test_keras3_tensors_in_nested_args_and_kwargs() -> None:
    node = {
        "args": [[k3_tensor("q"), {"nested": [k3_tensor("k")]}], 3, ["q", 0, 0]],
        "kwargs": {"value": k3_tensor("v"), "mask": None},
    }
    config = functional(
        "m",
        [leaf("InputLayer", n, []) for n in ("q", "k", "v")]
        + [leaf("MultiHeadAttention", "mha", [node])],
        [["q", 0, 0], ["k", 0, 0], ["v", 0, 0]],
        ["mha", 0, 0],
    )
    graph = build_graph(config)
    assert graph.layers[-1].inbound == ["q", "k", "v"]
    assert graph.outputs == ["mha"]


def test_nested_model_outputs_by_tensor_index() -> None:
    inner = functional(
        "two_heads",
        [tfk_input("i"), leaf("Dense", "h1", tfk_call("i")), leaf("Dense", "h2", tfk_call("i"))],
        [["i", 0, 0]],
        [["h1", 0, 0], ["h2", 0, 0]],
        inbound_nodes=tfk_call("x"),
    )
    config = functional(
        "m",
        [
            tfk_input("x"),
            inner,
            leaf("Dense", "use_second", [[["two_heads", 1, 1, {}]]]),
            leaf("Dense", "use_first", [[["two_heads", 1, 0, {}]]]),
        ],
        [["x", 0, 0]],
        [["use_second", 0, 0], ["two_heads", 1, 0]],
    )
    graph = build_graph(config)
    by_name = {lay.name: lay for lay in graph.layers}
    assert by_name["i"].inbound == ["x"]
    assert by_name["use_second"].inbound == ["h2"]
    assert by_name["use_first"].inbound == ["h1"]
    # a nested model among the outputs stands for its output leaf layer
    assert graph.outputs == ["use_second", "h1"]


def test_sequential_inside_sequential_inside_functional() -> None:
    inner = sequential("inner", [leaf("Dense", "dense"), leaf("Dense", "last")])
    middle = sequential(
        "middle",
        [tfk_input("middle_input"), leaf("Dense", "dense"), inner],
        inbound_nodes=tfk_call("x"),
    )
    config = functional(
        "m",
        [tfk_input("x"), middle, leaf("Dense", "dense", tfk_call("middle"))],
        [["x", 0, 0]],
        [["dense", 0, 0]],
    )
    assert edges(config) == [
        ("x", 0, [], None),
        ("middle/dense", 0, ["x"], "middle"),
        ("middle/inner/dense", 0, ["middle/dense"], "inner"),
        ("last", 1, ["middle/inner/dense"], "inner"),
        ("dense", 2, ["last"], None),
    ]
    model = ModelFile("m.keras", "keras_zip", "tf_keras", None, build_graph(config).layers, [])
    assert model.layer("middle/inner/last") is model.layer("last")
    assert model.layer("middle/inner/dense") is not model.layer("dense")
    assert model.layer("inner/dense") is None


def test_functional_inside_sequential() -> None:
    inner = functional(
        "block",
        [tfk_input("block_in"), leaf("Dense", "proj", tfk_call("block_in"))],
        [["block_in", 0, 0]],
        [["proj", 0, 0]],
    )
    config = sequential("s", [leaf("Dense", "first"), inner, leaf("Dense", "head")])
    assert edges(config) == [
        ("first", 0, [], None),
        ("block_in", 0, ["first"], "block"),
        ("proj", 1, ["block_in"], "block"),
        ("head", 2, ["proj"], None),
    ]


def test_functional_without_output_layers_ends_at_its_last_layer() -> None:
    config = functional("m", [tfk_input("x"), leaf("Dense", "d", tfk_call("x"))], None, None)
    del config["config"]["input_layers"], config["config"]["output_layers"]
    graph = build_graph(config)
    assert graph.outputs == ["d"]


def test_colliding_nested_model_names_qualify_the_parent() -> None:
    def block(outer: str) -> dict[str, Any]:
        return sequential(
            outer, [sequential("block", [leaf("Dense", "d")])], inbound_nodes=tfk_call("x")
        )

    config = functional(
        "m",
        [tfk_input("x"), block("left"), block("right")],
        [["x", 0, 0]],
        [["left", 1, 0], ["right", 1, 0]],
    )
    graph = build_graph(config)
    assert [(lay.name, lay.parent, lay.qualified_name) for lay in graph.layers] == [
        ("x", None, "x"),
        ("left/block/d", "left/block", "left/block/d"),
        ("right/block/d", "right/block", "right/block/d"),
    ]
    assert graph.outputs == ["left/block/d", "right/block/d"]


def test_unbuilt_sequential_without_input_layer() -> None:
    graph = build_graph(sequential("s", [leaf("Dense", "a"), leaf("Dense", "b")]))
    assert [(lay.name, lay.index, lay.inbound) for lay in graph.layers] == [
        ("a", 0, []),
        ("b", 1, ["a"]),
    ]
    assert graph.outputs == ["b"]


def test_old_keras_model_class_is_functional() -> None:
    config = functional("m", [tfk_input("x"), leaf("Dense", "d", tfk_call("x"))], [], ["d", 0, 0])
    config["class_name"] = "Model"
    assert edges(config) == [("x", 0, [], None), ("d", 1, ["x"], None)]


def test_h5_layers_get_tfp_module() -> None:
    graph = build_graph(sequential("s", [leaf("IndependentNormal", "n", event_shape=1)]))
    assert graph.layers[0].module == "tensorflow_probability.python.layers"
    assert graph.layers[0].is_tfp


# ---- random damage never escapes as another exception ----

TEMPLATES: list[Any] = [
    functional(
        "tfk",
        [
            tfk_input("a"),
            tfk_input("b"),
            leaf("Concatenate", "cat", tfk_call("a", "b")),
            sequential(
                "inner",
                [tfk_input("inner_input"), leaf("Dense", "dense", units=4)],
                inbound_nodes=[[["cat", 0, 0, {}]]],
            ),
            leaf(
                "Lambda",
                "lam",
                [[["inner", 1, 0, {}]]],
                function=["bm90IGNvZGU=", None, [{"class_name": "__lambda__", "config": {}}]],
                function_type="lambda",
                make_distribution_fn="gAWVnotapickle",
            ),
        ],
        [["a", 0, 0], ["b", 0, 0]],
        [["lam", 0, 0]],
    ),
    functional(
        "k3",
        [
            leaf("InputLayer", "x", [], batch_shape=[None, 3]),
            leaf("Dense", "d", [{"args": [k3_tensor("x")], "kwargs": {}}], units=2),
            leaf(
                "Lambda",
                "l",
                [{"args": [[k3_tensor("d"), k3_tensor("x")]], "kwargs": {"m": None}}],
                function={"class_name": "__lambda__", "config": {"code": "4wE=", "closure": None}},
            ),
        ],
        [["x", 0, 0]],
        ["l", 0, 0],
    ),
]
JUNK: list[Any] = [None, 0, -1, 7, True, "x", "", [], {}, ["x"], [None, 0, 0], {"a": 1}, 1.5]


def _containers(node: Any) -> list[Any]:
    found = [node]
    children = node.values() if isinstance(node, dict) else node
    for child in children:
        if isinstance(child, dict | list):
            found.extend(_containers(child))
    return found


def _damage(config: Any, rng: random.Random) -> Any:
    config = copy.deepcopy(config)
    for _ in range(rng.randint(1, 3)):
        target = rng.choice(_containers(config))
        if isinstance(target, dict) and target:
            key = rng.choice(list(target))
            if rng.random() < 0.3:
                del target[key]
            else:
                target[key] = copy.deepcopy(rng.choice(JUNK))
        elif isinstance(target, list) and target:
            i = rng.randrange(len(target))
            if rng.random() < 0.3:
                del target[i]
            else:
                target[i] = copy.deepcopy(rng.choice(JUNK))
    return config


@pytest.mark.parametrize("seed", range(8))
def test_damaged_configs_raise_only_model_read_error(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        damaged = _damage(rng.choice(TEMPLATES), rng)
        try:
            graph = build_graph(damaged)
        except ModelReadError as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert all(isinstance(lay.name, str) for lay in graph.layers)
