"""TFP009: a saved file whose layer its own Keras cannot rebuild names that layer and what to
do, next to the static findings; never TFP108 with a generic fix. Also TFP005 at the layer for
the user's own unregistered class."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import FIXTURES, model_path
from probe_helpers import probe

from tfpcheck.findings import Finding, Severity

pytest.importorskip("tensorflow_probability")

STAND_IN = re.compile(r"`(import tensorflow_probability as tfp\n\w+ = [\w.]+)`")


def only(findings: tuple[Finding, ...] | list[Finding], code: str) -> Finding:
    found = [f for f in findings if f.code == code]
    assert len(found) == 1, [(f.code, f.message) for f in findings]
    return found[0]


@pytest.mark.parametrize(
    ("fixture", "layer", "index", "layer_class", "error"),
    [
        (
            "tfk_onehot_layer_cce.keras",
            "onehot",
            1,
            "OneHotCategorical",
            "TypeError: The added layer must be an instance of class Layer. "
            "Received: layer=OneHotCategorical of type <class 'str'>.",
        ),
        (
            "tfk_onehot_layer_cce.h5",
            "onehot",
            1,
            "OneHotCategorical",
            "ValueError: Unknown layer: 'OneHotCategorical'. Please ensure",
        ),
        (
            "tfk_functional_onehot_layer_cce.keras",
            "onehot",
            2,  # a Functional's InputLayer is layer 0
            "OneHotCategorical",
            "TypeError: 'str' object is not callable",
        ),
        (
            "tfk_mvn_tril.keras",
            "mvn",
            1,
            "MultivariateNormalTriL",
            "TypeError: The added layer must be an instance of class Layer. "
            "Received: layer=MultivariateNormalTriL of type <class 'str'>.",
        ),
        (
            "tfk_flipout_normal.h5",
            "flipout",
            0,  # a Sequential's Input is not one of its layers
            "DenseFlipout",
            "ValueError: Unknown layer: 'DenseFlipout'. Please ensure",
        ),
    ],
)
def test_an_unregistered_tfp_layer_is_named_with_what_to_do(
    fixture: str, layer: str, index: int, layer_class: str, error: str
) -> None:
    result = probe(model_path(fixture))
    assert result.error is None
    assert [f.code for f in result.findings] == ["TFP009"]  # not TFP108, not TFP005
    finding = result.findings[0]
    assert finding.severity == Severity.WARNING and finding.tier == "probe"
    assert (finding.where.layer, finding.where.layer_index) == (layer, index)
    assert finding.evidence["layer_class"] == f"tfp.layers.{layer_class}"
    assert finding.evidence["error"].startswith(error)
    assert finding.evidence["stage"] == "load"
    assert f"cannot rebuild layer '{layer}' (tfp.layers.{layer_class})" in finding.message
    assert f"TensorFlow Probability does not register {layer_class} for loading" in (
        finding.message
    )
    assert "the model was not probed" in finding.message
    assert "`tfpcheck models.py:build_model`" in finding.fix
    assert "model.save_weights('model.weights.h5')" in finding.fix
    assert "model.load_weights('model.weights.h5')" in finding.fix
    assert "frame shown" not in finding.fix


@pytest.mark.parametrize(
    ("fixture", "layer_class", "stand_in"),
    [
        ("tfk_onehot_layer_cce.keras", "OneHotCategorical", True),
        ("tfk_mvn_tril.keras", "MultivariateNormalTriL", True),
        # DenseFlipout is not a DistributionLambda: nothing else rebuilds it from its config.
        ("tfk_flipout_normal.h5", "DenseFlipout", False),
    ],
)
def test_the_stand_in_is_offered_only_where_it_loads(
    fixture: str, layer_class: str, stand_in: bool
) -> None:
    fix = only(probe(model_path(fixture)).findings, "TFP009").fix
    found = STAND_IN.search(fix)
    if not stand_in:
        assert found is None and "--custom-objects" not in fix
        return
    assert found is not None
    assert found.group(1) == (
        f"import tensorflow_probability as tfp\n{layer_class} = tfp.layers.DistributionLambda"
    )


def test_the_stand_in_of_the_fix_loads_the_file_and_the_probe_runs(tmp_path: Path) -> None:
    path = model_path("tfk_onehot_layer_cce.keras")
    fix = only(probe(path).findings, "TFP009").fix
    found = STAND_IN.search(fix)
    assert found is not None
    stand_ins = tmp_path / "stand_ins.py"
    stand_ins.write_text(found.group(1) + "\n")
    result = probe(path, custom_objects=str(stand_ins))
    assert result.error is None
    codes = [f.code for f in result.findings]
    assert "TFP009" not in codes and "TFP108" not in codes
    # The model was probed: the sampled one-hot output has no gradient.
    finding = only(result.findings, "TFP201")
    assert finding.tier == "probe"
    assert (finding.where.layer, finding.where.layer_index) == ("onehot", 1)


@pytest.mark.parametrize("fixture", ["tfk_onehot_layer_cce.keras", "tfk_onehot_layer_cce.h5"])
def test_the_real_class_as_custom_object_meets_a_config_without_event_size(
    tmp_path: Path, fixture: str
) -> None:
    objects = tmp_path / "real_class.py"
    objects.write_text("from tensorflow_probability.python.layers import OneHotCategorical\n")
    finding = only(probe(model_path(fixture), custom_objects=str(objects)).findings, "TFP009")
    assert (finding.where.layer, finding.where.layer_index) == ("onehot", 1)
    assert finding.evidence["missing_arguments"] == ["event_size"]
    assert finding.evidence["error"] == (
        "TypeError: OneHotCategorical.__init__() missing 1 required positional argument: "
        "'event_size'"
    )
    assert "its saved config lacks the constructor argument 'event_size'" in finding.message
    assert "OneHotCategorical = tfp.layers.DistributionLambda" in finding.fix


def test_dense_flipout_given_its_class_still_cannot_be_built(tmp_path: Path) -> None:
    objects = tmp_path / "flipout_class.py"
    objects.write_text("from tensorflow_probability.python.layers import DenseFlipout\n")
    path = model_path("tfk_flipout_normal.h5")
    finding = only(probe(path, custom_objects=str(objects)).findings, "TFP009")
    assert (finding.where.layer, finding.where.layer_index) == ("flipout", 0)
    assert finding.evidence["layer_class"] == "tfp.layers.DenseFlipout"
    assert finding.evidence["error"] == "TypeError: 'str' object is not callable"
    assert "building the layer from its saved config fails" in finding.message


def test_the_users_own_unregistered_layer_is_tfp005_at_that_layer() -> None:
    result = probe(model_path("tfk_custom_layer.keras"))
    assert [f.code for f in result.findings] == ["TFP005"]
    finding = result.findings[0]
    assert (finding.where.layer, finding.where.layer_index) == ("scale", 2)
    assert finding.evidence["object"] == "Scale"
    assert finding.evidence["kind"] == "layer"
    assert finding.evidence["error"] == "TypeError: 'str' object is not callable"
    assert "--custom-objects FILE.py (a file or module defining 'Scale')" in finding.fix


def test_the_users_layer_loads_with_the_file_that_defines_it() -> None:
    objects = str(FIXTURES / "custom_layers.py")
    result = probe(model_path("tfk_custom_layer.keras"), custom_objects=objects)
    assert result.error is None
    assert not {"TFP005", "TFP009", "TFP108"} & {f.code for f in result.findings}


def test_the_static_findings_are_reported_with_tfp009(run_cli) -> None:
    path = model_path("tfk_onehot_layer_cce.keras")
    result = run_cli("--no-cache", "--unsafe", "--format", "json", path)
    assert result.exit_code == 1  # TFP201 is an error; TFP009 a warning
    [entry] = result.json()["files"]
    assert entry["error"] is None
    found = {f["code"]: f for f in entry["findings"]}
    assert sorted(found) == ["TFP009", "TFP201"]
    assert found["TFP201"]["tier"] == "static"
    assert found["TFP201"]["where"]["layer"] == "onehot"
    assert found["TFP009"]["where"]["layer"] == "onehot"
    assert found["TFP009"]["where"]["layer_index"] == 1
    assert found["TFP009"]["severity"] == "warning"


def test_a_file_with_only_tfp009_passes_the_default_gate_and_says_why(run_cli) -> None:
    result = run_cli("--no-cache", "--unsafe", model_path("tfk_mvn_tril.keras"))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    [head] = [line for line in lines if line.startswith("  TFP009")]
    assert head.startswith(
        "  TFP009 warning [saved-layer-cannot-be-reloaded] tfk_mvn_tril.keras cannot be "
        "loaded: tf_keras "
    )
    assert "    at layer 'mvn' (#1)" in lines
    assert "        tfpcheck models.py:build_model" in lines
    assert "        model.save_weights('model.weights.h5')" in lines
    assert "TFP108" not in result.stdout
