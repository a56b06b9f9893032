"""The structural rules find a mistake the same way in a factory's model as in a saved file.

Each factory in fixtures/factories/structural.py builds the twin of a saved fixture (or a
Bayesian classifier that cannot be saved); the expected codes are the saved fixture's (see
fixtures/README.md) and SPEC §9.8.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import FIXTURES, model_path

pytest.importorskip("tensorflow_probability")

FACTORIES = FIXTURES / "factories" / "structural.py"
# factory -> (code, layer) of every error and warning it must give
EXPECTED = {
    "normal_dense64_relu": {("TFP104", "normal"), ("TFP105", "normal"), ("TFP303", "hidden")},
    "onehot_layer_cce": {("TFP201", "onehot")},
    "relu_independent_normal": {("TFP303", "params")},
    "independent_normal": set(),
    "onehot_cce_dense_variational": {("TFP201", "onehot")},
    "onehot_cce_flipout": {("TFP201", "onehot")},
    "relu_onehot": {("TFP303", "logits")},
    "elu_categorical_logits": {("TFP303", "logits")},
    "leaky_relu_onehot": {("TFP303", "leaky")},
    "flipout_elu_onehot": {("TFP303", "logits")},
    "elu_hidden_linear_logits": set(),
    "softplus_scale_normal": set(),
    "sigmoid_inside_probs": set(),
    "linear_into_probs": {("TFP204", "logits")},
    "abs_scale_normal": {("TFP301", "normal")},
    "square_scale_normal": {("TFP301", "normal")},
    "relu_scale_normal": {("TFP301", "normal")},
    "epsilon_abs_scale_normal": set(),
}
TWINS = {
    "normal_dense64_relu": "tfk_normal_dense64_relu.keras",
    "relu_independent_normal": "tfk_relu_independent_normal.keras",
    "independent_normal": "tfk_independent_normal.keras",
}


# A warning about the target shape the probe guessed ((N,) or (N, 1)), not about structure
TARGET_SHAPE_GUESS = "TFP101"


def _serious(entry: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {
        (f["code"], f["where"]["layer"])
        for f in entry["findings"]
        if f["severity"] in ("error", "warning") and f["code"] != TARGET_SHAPE_GUESS
    }


def _check(run_cli, *args: str) -> dict[str, Any]:
    result = run_cli(*args, "--no-cache", "--format", "json")
    (entry,) = result.json()["files"]
    assert entry["error"] is None, entry["error"]
    return entry


@pytest.mark.parametrize("factory", sorted(EXPECTED))
def test_factory_gives_the_structural_findings(run_cli, factory: str) -> None:
    entry = _check(run_cli, f"{FACTORIES}:{factory}")
    assert entry["probed"] is True
    assert _serious(entry) == EXPECTED[factory]


@pytest.mark.parametrize("factory", sorted(TWINS))
def test_factory_and_saved_twin_agree(run_cli, factory: str) -> None:
    saved = _check(run_cli, model_path(TWINS[factory]), "--unsafe")
    built = _check(run_cli, f"{FACTORIES}:{factory}")
    assert _serious(built) == _serious(saved) == EXPECTED[factory]


def test_structural_finding_from_a_factory_points_at_the_lambda(run_cli) -> None:
    entry = _check(run_cli, f"{FACTORIES}:normal_dense64_relu")
    (tfp105,) = [f for f in entry["findings"] if f["code"] == "TFP105"]
    assert tfp105["where"]["layer_index"] == 1
    assert tfp105["evidence"]["units"] == 64


def test_clamped_logits_say_what_they_lose(run_cli) -> None:
    entry = _check(run_cli, f"{FACTORIES}:elu_categorical_logits", "--loss", "nll")
    (tfp303,) = [f for f in entry["findings"] if f["code"] == "TFP303"]
    assert tfp303["message"].startswith(
        "Dense(10, activation='elu', name='logits') applies elu to the values that become the "
        "parameters of 'label' (Categorical): logits cannot range over all reals"
    )
    assert tfp303["evidence"] == {
        "activation_layer": "logits",
        "activation": "elu",
        "consumer": "label",
    }


def test_save_roundtrip_info_only_with_verbose(run_cli) -> None:
    reference = f"{FIXTURES / 'factories' / 'logits_heads.py'}:onehot_from_logits"
    quiet = _check(run_cli, reference)
    assert [f["code"] for f in quiet["findings"]] == []
    verbose = run_cli(reference, "--no-cache", "--format", "json", "-v").json()["files"][0]
    assert [f["code"] for f in verbose["findings"]] == ["TFP006"]
    selected = run_cli(reference, "--no-cache", "--format", "json", "--select", "TFP006")
    assert [f["code"] for f in selected.json()["files"][0]["findings"]] == ["TFP006"]


def test_a_live_function_is_described_as_its_saved_lambda_would_be() -> None:
    """A DistributionLambda whose config Keras cannot write is described from its live
    function: the marshalled code and its plain closure values, read by the static reader."""
    import numpy as np

    from tfpcheck.model_file.bytecode.functions import read_marshal_function
    from tfpcheck.probe.describe import _function_entry

    floor = np.float32(0.25)
    width = 3
    marker = object()

    def make(t: Any) -> Any:
        return (t[..., :width], floor, marker)

    entry = _function_entry(make)
    assert entry is not None and entry["class_name"] == "__lambda__"
    code, defaults, closure = entry["config"]["value"]
    assert defaults is None
    info = read_marshal_function(code, closure=closure)
    assert info.argnames == ("t",)
    # in the closure's order (co_freevars): floor, marker, width; the object is left out
    assert dict(zip(make.__code__.co_freevars, closure, strict=True)) == {
        "floor": 0.25,
        "marker": None,
        "width": 3,
    }
    assert 0.25 in info.closure_values and 3 in info.closure_values
    assert _function_entry(int) is None  # a class (DistributionLambda(tfd.Poisson)): no code
