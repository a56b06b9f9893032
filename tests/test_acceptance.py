"""SPEC §9 acceptance examples through the command line, static and probe tiers together.

Every broken example is caught with its code and exits 1; every fixed version exits 0 with no
error finding. The probe imports TensorFlow once for this module's process.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import FIXTURES, model_path, source_line

LOSSES = str(FIXTURES / "losses.py")
FLIPOUT = str(FIXTURES / "factories" / "flipout.py")
TUTORIALS = str(FIXTURES / "factories" / "tutorials.py")


def _check(run_cli, *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = run_cli("--format", "json", *args)
    doc = result.json()
    (file_result,) = doc["files"]
    assert file_result["error"] is None, file_result["error"]
    return result.exit_code, file_result["findings"]


def _one(findings: list[dict[str, Any]], code: str) -> dict[str, Any]:
    matching = [f for f in findings if f["code"] == code]
    assert matching, f"{code} not in {[f['code'] for f in findings]}"
    return matching[0]


def _errors(findings: list[dict[str, Any]]) -> list[str]:
    return [f"{f['code']}: {f['message']}" for f in findings if f["severity"] == "error"]


def test_9_1_rank_dropping_loss_broadcasts(run_cli) -> None:
    code, findings = _check(
        run_cli,
        model_path("k3_regression_dense2.keras"),
        "--loss",
        f"{LOSSES}:normal_nll_rank_dropping",
    )
    assert code == 1
    finding = _one(findings, "TFP101")
    assert finding["where"]["function"] == "normal_nll_rank_dropping"
    assert finding["where"]["file"].endswith("fixtures/losses.py")
    assert finding["where"]["line"] == source_line(
        "y_pred[:, 0], scale", path=FIXTURES / "losses.py"
    )
    assert "(32, 32)" in finding["message"]


def test_9_1_fixed_loss_is_clean(run_cli) -> None:
    code, findings = _check(
        run_cli, model_path("k3_regression_dense2.keras"), "--loss", f"{LOSSES}:normal_nll"
    )
    assert code == 0, _errors(findings)
    assert not _errors(findings)


def test_9_2_full_covariance_reshape(run_cli) -> None:
    code, findings = _check(
        run_cli, model_path("k3_mvn_dense4.keras"), "--loss", f"{LOSSES}:mvn_full_cov_nll"
    )
    assert code == 1
    failing = [f for f in findings if f["code"] in {"TFP108", "TFP105"}]
    assert failing, findings
    assert any("reshape" in (f["message"] + str(f["evidence"])).lower() for f in failing)
    _one(findings, "TFP304")


def test_9_2_fixed_is_clean(run_cli) -> None:
    code, findings = _check(
        run_cli, model_path("k3_mvn_dense5.keras"), "--loss", f"{LOSSES}:mvn_tril_nll"
    )
    assert code == 0, _errors(findings)


def test_9_3_dense64_into_normal(run_cli) -> None:
    code, findings = _check(run_cli, "--unsafe", model_path("tfk_normal_dense64_relu.keras"))
    assert code == 1
    codes = {f["code"] for f in findings}
    assert codes & {"TFP104", "TFP105"}
    assert "TFP303" in codes
    assert _one(findings, "TFP105")["where"]["layer"] == "normal"


def test_9_3_fixed_is_clean(run_cli) -> None:
    code, findings = _check(
        run_cli, "--unsafe", model_path("tfk_normal_dense2.keras"), "--loss", "nll"
    )
    assert code == 0, _errors(findings)


def test_9_4_onehot_categorical_with_cce(run_cli) -> None:
    code, findings = _check(run_cli, "--unsafe", model_path("tfk_cnn_onehot_cce.keras"))
    assert code == 1
    finding = _one(findings, "TFP201")
    assert finding["where"]["layer"] == "onehot"


def test_9_4_fixed_nll_is_clean(run_cli) -> None:
    code, findings = _check(
        run_cli, "--unsafe", model_path("tfk_cnn_onehot_cce.keras"), "--loss", "nll"
    )
    assert code == 0, _errors(findings)


@pytest.mark.parametrize("loss", ["nll", "scce"])
def test_9_5_softmax_into_categorical_logits(run_cli, loss: str) -> None:
    code, findings = _check(
        run_cli, "--unsafe", model_path("tfk_cnn_softmax_categorical.keras"), "--loss", loss
    )
    assert code == 1
    assert _one(findings, "TFP202")["where"]["layer"] == "softmax"


def test_9_5_fixed_is_clean(run_cli) -> None:
    code, findings = _check(
        run_cli, "--unsafe", model_path("tfk_cnn_categorical_logits.keras"), "--loss", "nll"
    )
    assert code == 0, _errors(findings)


def test_9_6_softmax_output_with_from_logits(run_cli) -> None:
    code, findings = _check(run_cli, model_path("k3_softmax_from_logits.keras"))
    assert code == 1
    finding = _one(findings, "TFP202")
    assert finding["where"]["layer"] == "probs"
    assert finding["tier"] == "probe"  # the static guess, confirmed by running


def test_9_6_fixed_is_clean(run_cli) -> None:
    for name in ("k3_softmax_probs.keras", "k3_logits_from_logits.keras"):
        code, findings = _check(run_cli, model_path(name))
        assert code == 0, (name, _errors(findings))


def test_9_7_unscaled_kl_in_flipout_factory(run_cli) -> None:
    code, findings = _check(run_cli, f"{FLIPOUT}:build_model", "--num-examples", "1000")
    assert code == 1
    finding = _one(findings, "TFP402")
    assert "/ 1000" in finding["fix"]


def test_9_7_scaled_kl_is_clean(run_cli) -> None:
    code, findings = _check(run_cli, f"{FLIPOUT}:build_model_scaled")
    assert code == 0, _errors(findings)


@pytest.mark.parametrize(
    "factory",
    [
        "build_no_uncertainty",
        "build_aleatoric",
        "build_epistemic",
        "build_aleatoric_epistemic",
        "build_vgp",
        "build_vae",
    ],
)
def test_tfp_tutorial_models_have_no_error(run_cli, factory: str) -> None:
    code, findings = _check(run_cli, f"{TUTORIALS}:{factory}")
    assert not _errors(findings)
    assert code == 0
