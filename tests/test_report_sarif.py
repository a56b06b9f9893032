"""SARIF output is valid against the official 2.1.0 schema and loses nothing of a finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import FIXTURES, MODELS, ROOT, model_path, source_line
from jsonschema import Draft4Validator

from tfpcheck import __version__
from tfpcheck.findings import FileResult, Finding, Severity, Where
from tfpcheck.report import summarize
from tfpcheck.report.sarif import sarif_document
from tfpcheck.rules import REGISTRY

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text())
VALIDATOR = Draft4Validator(SCHEMA)
LOSSES = FIXTURES / "losses.py"


def valid_sarif(text: str) -> dict:
    doc = json.loads(text)
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    return run


def results_for(run: dict, uri: str) -> list[dict]:
    return [
        r
        for r in run["results"]
        if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == uri
    ]


def test_driver_rules_come_from_the_registry(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(MODELS)
    result = run_cli("--static", "--format", "sarif", model_path("k3_softmax_probs.keras"))
    assert result.exit_code == 0
    run = valid_sarif(result.stdout)
    driver = run["tool"]["driver"]
    assert driver["name"] == "tfpcheck" and driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == [rule.code for rule in REGISTRY]
    by_id = {r["id"]: r for r in driver["rules"]}
    tfp202 = by_id["TFP202"]
    assert tfp202["name"] == "double-softmax"
    assert tfp202["shortDescription"]["text"] == "softmax output used as logits"
    assert tfp202["defaultConfiguration"]["level"] == "error"
    assert "## Why is this bad?" in tfp202["help"]["markdown"]
    assert by_id["TFP301"]["defaultConfiguration"]["level"] == "warning"
    assert by_id["TFP006"]["defaultConfiguration"]["level"] == "note"
    # The clean file gives no result and no notification.
    assert run["results"] == []
    assert "toolExecutionNotifications" not in run["invocations"][0]


def test_static_finding_file_error_and_clean_file(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # From inside fixtures/models the model URIs are bare names, and the lambda's source
    # file (recorded at build time, /work/main/fixtures/build_fixtures.py) lies outside.
    monkeypatch.chdir(MODELS)
    names = ("tfk_softmax_categorical.keras", "not_a_model.keras", "k3_softmax_probs.keras")
    args = ("--static", *(model_path(n) for n in names))
    where = run_cli("--format", "json", *args).json()["files"][0]["findings"][0]["where"]
    result = run_cli("--format", "sarif", *args)
    assert result.exit_code == 2
    run = valid_sarif(result.stdout)
    assert run["originalUriBaseIds"]["SRCROOT"]["uri"] == MODELS.as_uri() + "/"

    (finding,) = results_for(run, "tfk_softmax_categorical.keras")
    assert finding["ruleId"] == "TFP202"
    assert run["tool"]["driver"]["rules"][finding["ruleIndex"]]["id"] == "TFP202"
    assert finding["level"] == "error"
    text = finding["message"]["text"]
    assert text.startswith("softmax output of Activation('softmax', name='softmax')")
    assert "\nFix: Feed raw logits: remove the layer Activation('softmax'" in text
    (location,) = finding["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uriBaseId"] == "SRCROOT"
    layer, function = location["logicalLocations"]
    assert layer == {"name": "softmax", "kind": "member", "properties": {"layerIndex": 1}}
    assert function == {"name": where["function"], "kind": "function"}
    (source,) = finding["relatedLocations"]
    expected_line = source_line("tfd.Categorical(logits=t)", "def build_tfk_softmax_categorical")
    assert source["physicalLocation"]["region"] == {"startLine": expected_line}
    assert source["physicalLocation"]["artifactLocation"] == {"uri": Path(where["file"]).as_uri()}
    props = finding["properties"]
    assert props["tier"] == "static" and props["confidence"] == "medium"
    assert props["evidence"]["expression"] == "tfd.Categorical(logits=t)"
    assert props["evidence"]["consumer"] == "label_dist"

    (error,) = results_for(run, "not_a_model.keras")
    assert error["ruleId"] == "TFP001" and error["ruleIndex"] == 0
    assert error["level"] == "error"
    assert "not a Keras model" in error["message"]["text"]
    (notification,) = run["invocations"][0]["toolExecutionNotifications"]
    assert notification["level"] == "error"
    assert notification["associatedRule"] == {"id": "TFP001", "index": 0}
    location = notification["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location["uri"] == "not_a_model.keras"

    assert results_for(run, "k3_softmax_probs.keras") == []


def test_probe_finding_points_at_the_loss_line(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run_cli(
        "--format",
        "sarif",
        "fixtures/models/k3_regression_dense2.keras",
        "--loss",
        f"{LOSSES}:normal_nll_rank_dropping",
    )
    assert result.exit_code == 1
    run = valid_sarif(result.stdout)
    by_rule = {
        r["ruleId"]: r for r in results_for(run, "fixtures/models/k3_regression_dense2.keras")
    }
    tfp101 = by_rule["TFP101"]
    assert tfp101["level"] == "error"
    assert tfp101["properties"]["tier"] == "probe"
    assert tfp101["properties"]["confidence"] == "high"
    assert tfp101["properties"]["evidence"]["loss_shape_at_32"] == "(32, 32)"
    assert tfp101["properties"]["evidence"]["target_shape"] == "(N, 1)"
    (location,) = tfp101["locations"]
    assert location["logicalLocations"] == [
        {"name": "normal_nll_rank_dropping", "kind": "function"}
    ]
    (source,) = tfp101["relatedLocations"]
    assert source["physicalLocation"] == {
        "artifactLocation": {"uri": "fixtures/losses.py", "uriBaseId": "SRCROOT"},
        "region": {"startLine": source_line("log_prob(y_true)", "def normal_nll_rank", LOSSES)},
    }
    assert "y_pred[:, 0:1]" in tfp101["message"]["text"]


def test_factory_specs_and_notes_stay_valid(tmp_path: Path) -> None:
    """FILE.py:NAME points at FILE.py; module:NAME has no file, only a logical location."""
    finding = Finding(
        "TFP402",
        "kl-dominates-loss",
        Severity.ERROR,
        "KL terms are 100x the data loss",
        "divide the KL by 1000",
        Where(layer="flipout", layer_index=2),
    )
    results = [
        FileResult(str(tmp_path / "build.py") + ":build_model", (finding,)),
        FileResult("mypackage.models:build", (finding,), notes=("probe skipped: no TF",)),
    ]
    doc = sarif_document(results, summarize(results, 0.1), base=tmp_path)
    run = valid_sarif(json.dumps(doc))
    first, second = run["results"]
    assert first["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "build.py",
        "uriBaseId": "SRCROOT",
    }
    assert "physicalLocation" not in second["locations"][0]
    assert second["locations"][0]["logicalLocations"][-1] == {
        "name": "mypackage.models:build",
        "fullyQualifiedName": "mypackage.models:build",
        "kind": "module",
    }
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "note"
    assert note["message"]["text"] == "mypackage.models:build: probe skipped: no TF"


def test_paths_outside_the_working_directory_are_file_uris(tmp_path: Path) -> None:
    outside = tmp_path / "other dir" / "model.keras"
    finding = Finding("TFP202", "double-softmax", Severity.ERROR, "m", "f", Where(layer="x"))
    results = [FileResult(str(outside), (finding,))]
    doc = sarif_document(results, summarize(results, 0.0), base=tmp_path / "repo")
    run = valid_sarif(json.dumps(doc))
    artifact = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": outside.as_uri()}
    assert "%20" in artifact["uri"]
