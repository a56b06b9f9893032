"""The command line: bad paths, mixed good and bad files, exit statuses, options anywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import model_path

from tfpcheck import __version__

BROKEN = "k3_softmax_from_logits.keras"
CLEAN = "k3_softmax_probs.keras"


def test_version(run_cli) -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"tfpcheck {__version__}"


def test_finding_exits_1_and_clean_exits_0(run_cli) -> None:
    assert run_cli("--static", model_path(BROKEN)).exit_code == 1
    assert run_cli("--static", model_path(CLEAN)).exit_code == 0


def test_options_may_follow_paths(run_cli) -> None:
    result = run_cli(model_path(BROKEN), "--format", "json", "--static")
    assert result.exit_code == 1
    assert result.json()["files"][0]["findings"][0]["code"] == "TFP202"


def test_missing_path_is_one_clear_line_and_other_files_still_checked(run_cli) -> None:
    result = run_cli("--static", "no/such/model.keras", model_path(BROKEN))
    assert result.exit_code == 2
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if "no/such/model.keras" in line]
    assert lines == ["no/such/model.keras"]
    assert "TFP001 error no such file" in result.stdout
    assert "TFP202" in result.stdout  # the good file was still checked


def test_directory_and_text_file_are_reported_by_name(run_cli, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    result = run_cli("--static", "--format", "json", str(folder), model_path("not_a_model.keras"))
    assert result.exit_code == 2
    files = result.json()["files"]
    assert [f["path"] for f in files] == [str(folder), model_path("not_a_model.keras")]
    assert files[0]["error"]["code"] == "TFP001"
    assert "directory" in files[0]["error"]["message"]
    assert files[1]["error"]["code"] == "TFP001"
    assert "not a Keras model" in files[1]["error"]["message"]


def test_bad_file_with_good_file_in_text_mode(run_cli) -> None:
    result = run_cli("--static", model_path("not_a_model.keras"), model_path(CLEAN))
    assert result.exit_code == 2
    assert "TFP001" in result.stdout
    assert "1 file" not in result.stdout and "2 files" in result.stdout
    assert "1 not checked" in result.stdout


def test_unknown_loss_is_a_usage_error(run_cli) -> None:
    result = run_cli("--static", "--loss", "crossentropyy", model_path(CLEAN))
    assert result.exit_code == 2
    assert result.stderr.startswith("tfpcheck: error: --loss: unknown loss 'crossentropyy'")
    assert "Traceback" not in result.stderr


def test_unknown_option_is_a_usage_error(run_cli) -> None:
    result = run_cli("--static", "--no-such-option", model_path(CLEAN))
    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_fail_on_warning(run_cli) -> None:
    # TFP303 (a relu feeding IndependentNormal) is a warning: it fails only with --fail-on warning
    path = model_path("tfk_relu_independent_normal.keras")
    assert run_cli("--static", path).exit_code == 0
    assert run_cli("--static", "--fail-on", "warning", path).exit_code == 1


def test_ignore_and_select_by_prefix(run_cli) -> None:
    path = model_path(BROKEN)
    assert run_cli("--static", "--ignore", "TFP202", path).exit_code == 0
    assert run_cli("--static", "--ignore", "TFP2", "--select", "TFP202", path).exit_code == 1
    assert run_cli("--static", "--select", "TFP1", path).exit_code == 0


def test_quiet_prints_only_the_summary(run_cli) -> None:
    result = run_cli("-q", "--static", model_path(BROKEN))
    assert result.exit_code == 1
    assert result.stdout.strip().splitlines() == [result.stdout.strip()]
    assert result.stdout.startswith("1 error, 0 warnings, 0 infos in 1 file")


def test_python_dash_m_and_console_script() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tfpcheck", "--static", model_path(BROKEN)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "TFP202" in proc.stdout


def test_rules_as_json_carry_the_documentation(run_cli) -> None:
    from tfpcheck.rules import REGISTRY

    result = run_cli("rules", "--format", "json")
    assert result.exit_code == 0
    rules = result.json()
    assert [r["code"] for r in rules] == [rule.code for rule in REGISTRY]
    tfp202 = next(r for r in rules if r["code"] == "TFP202")
    assert tfp202["name"] == "double-softmax"
    assert tfp202["severity"] == "error"
    assert tfp202["tiers"] == ["static", "probe"]
    assert tfp202["title"] == "softmax output used as logits"
    assert set(tfp202["doc"]) == {"what", "why", "example", "use_instead"}
    assert "softmax" in tfp202["doc"]["example"]


def test_rules_table_stays_the_default(run_cli) -> None:
    result = run_cli("rules")
    assert result.stdout.split()[:5] == ["code", "name", "severity", "tier", "what"]
    assert "TFP202  double-softmax" in result.stdout


def test_target_shape_scalar_is_one_value_per_example() -> None:
    from tfpcheck.option_values import parse_shape as _parse_shape

    assert _parse_shape("scalar") == ()
    assert _parse_shape("()") == ()
    assert _parse_shape("1") == (1,)
    assert _parse_shape("28, 28") == (28, 28)
