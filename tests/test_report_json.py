"""The JSON report keeps the documented, versioned shape (README "JSON output")."""

from __future__ import annotations

from conftest import model_path, source_line

from tfpcheck import __version__

FINDING_KEYS = {
    "code",
    "name",
    "severity",
    "confidence",
    "message",
    "fix",
    "where",
    "evidence",
    "tier",
}
WHERE_KEYS = {"layer", "layer_index", "function", "file", "line"}


def test_json_document_shape(run_cli) -> None:
    bad = model_path("not_a_model.keras")
    result = run_cli(
        "--static", "--format", "json", model_path("tfk_softmax_categorical.keras"), bad
    )
    doc = result.json()
    assert result.exit_code == 2
    assert doc["version"] == 1
    assert doc["tool"] == {"name": "tfpcheck", "version": __version__}
    first, second = doc["files"]
    assert {"path", "findings", "error", "notes", "cached"} <= set(first)
    assert first["error"] is None
    (finding,) = first["findings"]
    assert set(finding) == FINDING_KEYS
    assert set(finding["where"]) == WHERE_KEYS
    assert finding["code"] == "TFP202" and finding["name"] == "double-softmax"
    assert finding["severity"] == "error" and finding["tier"] == "static"
    assert finding["where"]["layer"] == "softmax" and finding["where"]["layer_index"] == 1
    expected_line = source_line("tfd.Categorical(logits=t)", "def build_tfk_softmax_categorical")
    assert finding["where"]["line"] == expected_line
    assert second["findings"] == [] and second["error"]["code"] == "TFP001"
    assert doc["summary"]["files"] == 2
    assert doc["summary"]["files_not_checked"] == 1
    assert doc["summary"]["by_severity"] == {"error": 1, "warning": 0, "info": 0}
