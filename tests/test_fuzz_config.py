"""Property-based fuzzing of the static tier with mutated real `config.json` files.

Every input, however broken, must end in findings or a clean FileError (TFP001 with one line),
never in another exception. The mutations start from the fixtures' real configs (Keras 3 and
tf_keras, with marshalled lambdas and pickled functions) so they reach deep into the reader,
the serialized-code scanner and the rules, not just the JSON parser.

The profile is derandomized with a fixed number of examples: CI sees the same inputs every run.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import model_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfpcheck.engine import CheckOptions, check_path
from tfpcheck.findings import FileResult

SEEDS = (
    "k3_softmax_from_logits.keras",  # Keras 3, compiled loss object
    "k3_lambda.keras",  # Keras 3, marshalled Lambda
    "k3_functional_nested.keras",  # a model inside a model
    "tfk_softmax_categorical.keras",  # tf_keras, pickled DistributionLambda
    "tfk_mvn_tril.keras",  # tfp.layers with a marshalled function
    "tfk_normal_dense64_relu.keras",  # slicing lambda, params-size rule
    "tfk_functional_softmax_categorical.keras",  # Functional with a nested Sequential
)
# Debug: an exception from the reader or a rule propagates instead of becoming TFP001,
# so the property sees it.
OPTIONS = CheckOptions(static_only=True, debug=True)
FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Path_ = tuple[Any, ...]  # keys and indices from the root of the config


@dataclass(frozen=True)
class Seed:
    name: str
    members: dict[str, bytes]  # the archive's other files, unchanged
    config: Any


def _load_seed(name: str) -> Seed:
    with zipfile.ZipFile(model_path(name)) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n != "config.json"}
        config = json.loads(zf.read("config.json"))
    return Seed(name, members, config)


MAX_TEXT = 8 * 1024 * 1024
MAX_NODES = 20_000  # mutations pick among the first nodes of a config grown by nesting


def _nodes(root: Any) -> list[tuple[int, Any, Any]]:
    """(parent index, key, node) for at most MAX_NODES nodes, iteratively: mutations nest
    hundreds of levels deep. An entry keeps its parent's index, not its path: paths of a chain
    D deep would cost D², and shared (duplicated) subtrees multiply that."""
    entries: list[tuple[int, Any, Any]] = [(-1, None, root)]
    stack = [0]
    while stack and len(entries) < MAX_NODES:
        index = stack.pop()
        node = entries[index][2]
        children = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else ()
        )
        for key, value in children:
            entries.append((index, key, value))
            stack.append(len(entries) - 1)
    return entries


def _path_of(entries: list[tuple[int, Any, Any]], index: int) -> Path_:
    path = []
    while entries[index][0] >= 0:
        parent, key, _ = entries[index]
        path.append(key)
        index = parent
    return tuple(reversed(path))


LOADED = [_load_seed(name) for name in SEEDS]
CLASS_NAMES = sorted(
    {
        node["class_name"]
        for seed in LOADED
        for _, _, node in _nodes(seed.config)
        if isinstance(node, dict) and isinstance(node.get("class_name"), str)
    }
)


def _parent_and_key(root: Any, path: Path_) -> tuple[Any, Any]:
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    return parent, path[-1]


ODD_VALUES = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        -1,
        2**63,
        -(2**70),
        1e308,
        -1e308,
        math.inf,
        math.nan,
        0.5,
        "",
        "x",
        "32",
        "-1",
        "1e9",
        "None",
        "linear",
        "softmax",
        "lambda",
        [],
        {},
        [None],
        {"class_name": None},
        {"config": {}},
        {"class_name": "Dense"},
    ]
)


def _number_variants(value: float) -> list[Any]:
    return [str(value), -value, value * 10**12, 0, -1, 10**30, float(value) + 0.5, [value]]


def _mutate(draw: st.DrawFn, config: Any) -> Any:
    nodes = _nodes(config)
    chosen = draw(st.integers(0, len(nodes) - 1))
    path, node = _path_of(nodes, chosen), nodes[chosen][2]
    kind = draw(
        st.sampled_from(
            ["delete", "odd", "number", "wrap", "unwrap", "deep", "string", "class", "dup"]
        )
    )
    if kind == "number" and isinstance(node, int | float) and not isinstance(node, bool):
        new = draw(st.sampled_from(_number_variants(node)))
    elif kind == "wrap":
        new = draw(st.sampled_from([[node], {"config": node}, [node, node]]))
    elif kind == "unwrap" and isinstance(node, list | dict) and node:
        values = list(node.values()) if isinstance(node, dict) else node
        new = draw(st.sampled_from(values))
    elif kind == "deep":
        depth = draw(st.sampled_from([5, 60, 99, 101, 150, 400, 900]))
        new = node
        for level in range(depth):
            new = [new] if level % 2 else {"config": new, "class_name": "Sequential"}
    elif kind == "string" and isinstance(node, str):
        cut = draw(st.integers(0, len(node)))
        new = draw(
            st.sampled_from(
                [node[:cut], node[:cut] + "!" + node[cut + 1 :], node * 3, node.upper()]
            )
        )
    elif kind == "class" and isinstance(node, dict) and "class_name" in node:
        new = {**node, "class_name": draw(st.sampled_from(CLASS_NAMES))}
    elif kind == "delete" and path:
        parent, key = _parent_and_key(config, path)
        del parent[key]
        return config
    elif kind == "dup" and isinstance(node, list) and node:
        new = node + node  # duplicate layer names, repeated inbound nodes
    else:
        new = draw(ODD_VALUES)
    if not path:
        return new
    parent, key = _parent_and_key(config, path)
    parent[key] = new
    return config


@st.composite
def broken_archives(draw: st.DrawFn) -> tuple[Seed, bytes]:
    seed = draw(st.sampled_from(LOADED))
    config = json.loads(json.dumps(seed.config))  # a private copy to mutate
    for _ in range(draw(st.integers(1, 4))):
        config = _mutate(draw, config)
    try:
        text = json.dumps(config).encode()
    except ValueError:  # a mutation made a dict key unhashable etc.: keep the seed's
        text = json.dumps(seed.config).encode()
    if len(text) > MAX_TEXT:  # duplicated subtrees grew it: the size limit has its own tests
        text = json.dumps(seed.config).encode()
    if draw(st.integers(0, 9)) == 0:  # sometimes cut the text short
        text = text[: draw(st.integers(0, len(text)))]
    return seed, text


def _write(path: Path, seed: Seed, config: bytes) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", config)
        for name, data in seed.members.items():
            zf.writestr(name, data)


def _assert_clean_outcome(result: FileResult, path: Path) -> None:
    assert result.path == str(path)
    if result.error is not None:
        assert result.error.code == "TFP001"
        assert result.error.message and "\n" not in result.error.message
        assert not result.findings
    for finding in result.findings:
        assert finding.code.startswith("TFP") and finding.message


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(case=broken_archives())
def test_mutated_configs_give_findings_or_a_clean_error(
    fuzz_dir: Path, case: tuple[Seed, bytes]
) -> None:
    seed, config = case
    path = fuzz_dir / seed.name
    _write(path, seed, config)
    _assert_clean_outcome(check_path(str(path), OPTIONS), path)


@FUZZ
@given(
    seed=st.sampled_from(LOADED),
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(["class_name", "config", "layers", "name", "module", "units"]),
                children,
                max_size=4,
            )
        ),
        max_leaves=20,
    ),
    where=st.sampled_from(["root", "config", "layers", "layer", "layer_config", "compile"]),
)
def test_arbitrary_json_in_place_of_a_config_part(
    fuzz_dir: Path, seed: Seed, value: Any, where: str
) -> None:
    """Any JSON value at the places the reader looks first."""
    config = json.loads(json.dumps(seed.config))
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    layers = inner.get("layers") or [{}]
    if where == "root":
        config = value
    elif where == "config":
        config["config"] = value
    elif where == "layers":
        inner["layers"] = value
    elif where == "layer":
        layers[-1] = value
    elif where == "layer_config":
        layers[0]["config"] = value
    else:
        config["compile_config"] = value
    path = fuzz_dir / f"any_{seed.name}"
    _write(path, seed, json.dumps(config).encode())
    _assert_clean_outcome(check_path(str(path), OPTIONS), path)
