"""TFP004 from the static tier: tfp.layers in a Keras 3 file, or the file's Keras missing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from conftest import model_path

from tfpcheck.rules import tfp004_keras_flavor_mismatch as tfp004

# What tfp.layers.IndependentNormal(1) serializes to, as a Keras 3 layer entry would hold it.
TFP_LAYER = {
    "module": "tensorflow_probability.python.layers.distribution_layer",
    "class_name": "IndependentNormal",
    "config": {"name": "normal", "trainable": True, "event_shape": [1]},
    "registered_name": "IndependentNormal",
}


def keras3_with_tfp_layer(tmp_path: Path) -> Path:
    """A real Keras 3 archive (k3_regression_dense2.keras) whose Sequential ends in a
    tfp.layers layer: what keras.saving writes when a tfp layer is in the model's config."""
    source = Path(model_path("k3_regression_dense2.keras"))
    target = tmp_path / "k3_tfp_layer.keras"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"]["layers"].append(TFP_LAYER)
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    return target


def test_tfp_layer_in_keras3_file(run_cli, tmp_path: Path) -> None:
    path = keras3_with_tfp_layer(tmp_path)
    result = run_cli(str(path), "--static", "--format", "json")
    assert result.exit_code == 1
    findings = [f for f in result.json()["files"][0]["findings"] if f["code"] == "TFP004"]
    assert len(findings) == 1
    finding = findings[0]
    assert finding["severity"] == "error" and finding["where"]["layer"] == "normal"
    assert finding["evidence"]["layer_class"] == "IndependentNormal"
    assert finding["evidence"]["keras_version"].startswith("3.")
    assert "tf_keras" in finding["fix"] and "TF_USE_LEGACY_KERAS=1" in finding["fix"]


@pytest.mark.parametrize("name", ["k3_regression_dense2.keras", "tfk_independent_normal.keras"])
def test_keras3_and_tf_keras_files_without_mismatch(run_cli, name: str) -> None:
    result = run_cli(model_path(name), "--static", "--format", "json")
    assert "TFP004" not in [f["code"] for f in result.json()["files"][0]["findings"]]


def test_missing_keras_of_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from tfpcheck.model_file.load import read_model_file
    from tfpcheck.rules.context import StaticContext

    model = read_model_file(model_path("tfk_independent_normal.keras"))
    ctx = StaticContext(model=model, loss=None, probe_requested=True)
    present = tfp004.installed
    assert present("tensorflow") and present("tf_keras")  # this environment: no finding
    assert list(tfp004.check(ctx)) == []
    # The same file where tf_keras is not installed (the lookup is what the rule asks).
    monkeypatch.setattr(tfp004, "installed", lambda name: name != "tf_keras" and present(name))
    (finding,) = tfp004.check(ctx)
    assert finding.code == "TFP004"
    assert finding.evidence == {"keras_version": model.keras_version, "missing_package": "tf_keras"}
    assert "pip install tf-keras" in finding.fix
    # A static-only run never asks: its install has no Keras by design.
    static_only = StaticContext(model=model, loss=None, probe_requested=False)
    assert list(tfp004.check(static_only)) == []
