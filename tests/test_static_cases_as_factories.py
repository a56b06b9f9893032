"""Each model case of cases/static_rules.toml, checked again through a factory that returns the
same model: the structural rules then read the live model's description (built in the probe
worker from the objects, not from the file's config.json), and must find the same codes at the
same layers as the static reader does on the saved file.

The factory loads the saved fixture with the Keras that wrote it (`safe_mode=False`: the
fixtures are ours), which is how a user's factory hands tfpcheck a model in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import model_path
from test_static_rules import CASES

from tfpcheck.engine import CheckOptions, check_paths
from tfpcheck.findings import FileResult
from tfpcheck.losses import parse_loss_spec
from tfpcheck.model_file.load import read_model_file

pytest.importorskip("tensorflow_probability")

# Cases about the saved file itself, not the model it describes: no factory can show them.
FILE_ONLY = {"TFP002", "TFP003", "TFP007"}
LOADERS = {
    "tf_keras": "import tf_keras\n\n\ndef build():\n"
    "    return tf_keras.models.load_model({path!r}, safe_mode=False)\n",
    "keras3": "import keras\n\n\ndef build():\n"
    "    return keras.saving.load_model({path!r}, safe_mode=False)\n",
}


# Fixtures no loader can hand over, built as the user's factory would build them (as
# fixtures/build_fixtures.py does): tf_keras cannot reload a saved OneHotCategorical layer
# (TFP009), and Dense(3) -> IndependentNormal(1) was saved unbuilt because it cannot be built.
BUILT = {
    "tfk_onehot_layer_cce.keras": """\
import tensorflow_probability as tfp
import tf_keras as tfk


def build():
    model = tfk.Sequential(
        [
            tfk.Input((4,)),
            tfk.layers.Dense(tfp.layers.OneHotCategorical.params_size(10), name="logits"),
            tfp.layers.OneHotCategorical(10, name="onehot"),
        ]
    )
    model.compile(loss="categorical_crossentropy")
    return model
""",
    "tfk_independent_normal_units.keras": """\
import tensorflow_probability as tfp
import tf_keras as tfk


def build():
    return tfk.Sequential(
        [
            tfk.Input((4,)),
            tfk.layers.Dense(3, name="params"),
            tfp.layers.IndependentNormal(1, name="normal"),
        ]
    )
""",
}
# The probe needs a loss where the static reader does not: this file was saved uncompiled.
LOSS_FOR = {"k3_regression_dense2.keras": "mse"}


def _model_cases() -> list[dict[str, Any]]:
    chosen = []
    for case in CASES:
        codes = {e["code"] for e in case.get("expect", [])}
        if codes and codes <= FILE_ONLY:
            continue
        if case["fixture"] == "k3_lambda_py312.keras":  # bytecode this Python cannot load
            continue
        chosen.append(case)
    return chosen


MODEL_CASES = _model_cases()


def _options(case: dict[str, Any]) -> CheckOptions:
    args = list(case.get("args", []))
    loss = args[args.index("--loss") + 1] if "--loss" in args else LOSS_FOR.get(case["fixture"])
    spec = parse_loss_spec(loss, "--from-logits" in args) if loss else None
    return CheckOptions(loss=spec, unsafe=True, use_cache=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FileResult]:
    folder = tmp_path_factory.mktemp("factories")
    found: dict[str, FileResult] = {}
    for number, case in enumerate(MODEL_CASES):
        path = model_path(case["fixture"])
        factory = folder / f"case_{number}.py"
        loader = LOADERS[read_model_file(path).flavor].format(path=path)
        factory.write_text(BUILT.get(case["fixture"], loader))
        (result,) = check_paths([f"{factory}:build"], _options(case))
        found[case["id"]] = result
    return found


@pytest.mark.parametrize("case", MODEL_CASES, ids=[c["id"] for c in MODEL_CASES])
def test_the_factory_finds_what_the_file_shows(
    case: dict[str, Any], results: dict[str, FileResult]
) -> None:
    result = results[case["id"]]
    assert result.error is None, result.error
    findings = result.findings
    for expect in case.get("expect", []):
        same = [f for f in findings if f.code == expect["code"]]
        assert same, f"{expect['code']} not reported; got {[(f.code, f.where) for f in findings]}"
        if "layer" in expect:
            layers = [f.where.layer for f in same]
            assert expect["layer"] in layers, (expect["layer"], layers)
    static = {f.code for f in findings if f.tier == "static"}
    for code in case.get("absent", []):
        assert code not in static, [f.message for f in findings if f.code == code]


def test_a_case_of_every_model_fixture_goes_through_a_factory() -> None:
    assert len(MODEL_CASES) >= 30
    assert all(Path(model_path(c["fixture"])).exists() for c in MODEL_CASES)


def test_a_factory_whose_tf_keras_load_fails_is_no_flavor_mismatch(tmp_path: Path) -> None:
    # tf_keras refuses the saved OneHotCategorical layer ("The added layer must be an
    # instance of class Layer. Received: ... of type <class 'str'>"): nothing of Keras 3 is
    # involved, so not TFP004; the user's factory fails at its load_model line
    factory = tmp_path / "loads_it.py"
    path = model_path("tfk_onehot_layer_cce.keras")
    factory.write_text(LOADERS["tf_keras"].format(path=path))
    (result,) = check_paths([f"{factory}:build"], CheckOptions(unsafe=True, use_cache=False))
    codes = [f.code for f in result.findings]
    assert "TFP004" not in codes
    (failure,) = [f for f in result.findings if f.code == "TFP108"]
    assert "must be an instance of class Layer" in failure.message
    assert (failure.where.file, failure.where.line) == (str(factory), 5)
