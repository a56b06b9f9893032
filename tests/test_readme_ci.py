"""The CI recipes in the README parse, use real options, and the GitLab conversion runs."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml  # installed with pre-commit (test extra)
from conftest import ROOT, model_path

README = (ROOT / "README.md").read_text()
CI_SECTION = README.split("### In CI", 1)[1].split("\n## ", 1)[0]


def yaml_blocks() -> list[str]:
    return [block.split("```", 1)[0] for block in CI_SECTION.split("```yaml\n")[1:]]


def test_ci_recipes_are_yaml_with_the_documented_formats() -> None:
    workflow, annotations, gitlab = (yaml.safe_load(block) for block in yaml_blocks())
    steps = workflow["jobs"]["tfpcheck"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    assert "tfpcheck models/*.keras --format sarif > tfpcheck.sarif" in runs
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/"))
    assert upload["uses"] == "github/codeql-action/upload-sarif@v3"
    assert upload["with"]["sarif_file"] == "tfpcheck.sarif" and upload["if"] == "always()"
    assert workflow["jobs"]["tfpcheck"]["permissions"]["security-events"] == "write"
    assert annotations == [{"run": "tfpcheck models/*.keras --format github"}]
    assert gitlab["tfpcheck"]["artifacts"]["reports"]["codequality"] == "gl-code-quality.json"


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_gitlab_code_quality_conversion_runs_on_real_output(run_cli) -> None:
    gitlab = yaml.safe_load(yaml_blocks()[2])
    (step,) = [s for s in gitlab["tfpcheck"]["script"] if s.startswith("jq ")]
    program = step.split("'", 2)[1]
    report = run_cli(
        "--static",
        "--format",
        "json",
        model_path("tfk_softmax_categorical.keras"),
        model_path("not_a_model.keras"),
    ).stdout
    proc = subprocess.run(["jq", program], input=report, capture_output=True, text=True, check=True)
    first, second = json.loads(proc.stdout)
    assert first["check_name"] == "TFP202" and first["severity"] == "major"
    assert first["location"]["path"] == model_path("tfk_softmax_categorical.keras")
    assert first["fingerprint"].endswith(":TFP202:softmax")
    assert second["check_name"] == "TFP001" and second["severity"] == "blocker"
