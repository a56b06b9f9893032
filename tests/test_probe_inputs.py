"""The probe on every kind of input: several outputs, --data, .h5, SavedModel, several inputs,
integer ids, and the probe side of TFP105/TFP304 merged into the static finding."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, model_path, source_line
from probe_helpers import codes, errors, probe

from tfpcheck.findings import Finding, Severity

pytest.importorskip("tensorflow_probability")

from tfpcheck.probe import ProbeResult

LOSSES = FIXTURES / "losses.py"
BUILD = FIXTURES / "build_fixtures.py"


def only(findings: list[Finding] | tuple[Finding, ...], code: str) -> Finding:
    found = [f for f in findings if f.code == code]
    assert len(found) == 1, f"{code}: {[(f.code, f.message) for f in findings]}"
    return found[0]


# ---- several outputs ----------------------------------------------------------------------


def test_two_heads_compiled_dict_loss_finds_the_softmax_head(run_cli) -> None:
    result = run_cli(
        model_path("tfk_two_heads_softmax.keras"),
        "--unsafe",
        "--custom-objects",
        str(LOSSES),
        "--format",
        "json",
    )
    assert result.exit_code == 1
    file = result.json()["files"][0]
    finding = only([_Json(f) for f in file["findings"]], "TFP202")
    # static (the softmax layer) and probe (the simplex rows) are one finding
    assert finding.raw["tier"] == "probe"
    assert finding.raw["evidence"]["output"] == "cls"
    assert finding.raw["evidence"]["activation_layer"] == "cls_softmax"
    assert finding.raw["evidence"]["logits_shape"] == "(32, 3)"
    assert finding.raw["where"]["layer"] == "cls_softmax"
    assert finding.raw["where"]["line"] == source_line(
        'lambda t: tfd.Categorical(logits=t), name="cls"', path=BUILD
    )
    # the regression head was probed too, and is clean
    assert not [f for f in file["findings"] if f["evidence"].get("output") == "reg"]


def test_two_heads_fixed_is_clean_with_compiled_and_with_nll() -> None:
    compiled = probe(model_path("tfk_two_heads.keras"), custom_objects=str(LOSSES))
    nll = probe(model_path("tfk_two_heads.keras"), "nll")
    for result in (compiled, nll):
        assert result.error is None and errors(result) == []
        assert "TFP202" not in codes(result)


def test_nll_on_every_output_finds_the_softmax_head() -> None:
    finding = only(probe(model_path("tfk_two_heads_softmax.keras"), "nll").findings, "TFP202")
    assert finding.evidence["output"] == "cls"
    # the index is the layer's in the whole model, not in the one-output view
    assert (finding.where.layer, finding.where.layer_index) == ("cls", 6)


def test_keras3_two_heads_each_output_gets_its_own_loss(run_cli) -> None:
    broken = run_cli(model_path("k3_two_heads_from_logits.keras"), "--format", "json")
    assert broken.exit_code == 1
    findings = broken.json()["files"][0]["findings"]
    assert [(f["code"], f["tier"], f["where"]["layer"]) for f in findings] == [
        ("TFP202", "probe", "probs")
    ]
    assert findings[0]["evidence"]["output"] == "probs"
    # mse on 'value' and CCE(from_logits=False) on 'probs': no cross-talk between outputs
    fixed = run_cli(model_path("k3_two_heads.keras"), "--format", "json")
    assert fixed.exit_code == 0 and fixed.json()["files"][0]["findings"] == []


def test_loss_for_every_output_that_cannot_apply_is_a_usage_error(run_cli) -> None:
    result = run_cli(model_path("k3_two_heads.keras"), "--loss", "nll")
    assert result.exit_code == 2
    assert "output 'value'" in result.stderr + result.stdout
    assert "--loss applies to every output" in result.stderr + result.stdout


def test_factory_dict_loss_rank_dropping_on_one_output(tmp_path: Path) -> None:
    path = tmp_path / "heads.py"
    path.write_text(
        textwrap.dedent(
            """
            import keras
            import tensorflow as tf
            import tensorflow_probability as tfp

            tfd = tfp.distributions


            def rank_dropping(y_true, y_pred):
                return -tfd.Normal(loc=y_pred[:, 0], scale=tf.exp(y_pred[:, 1])).log_prob(y_true)


            def build():
                inputs = keras.Input(shape=(8,))
                hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
                params = keras.layers.Dense(2, name="params")(hidden)
                label = keras.layers.Dense(3, activation="softmax", name="label")(hidden)
                model = keras.Model(inputs, [params, label])
                return model, {"params": rank_dropping, "label": "categorical_crossentropy"}
            """
        )
    )
    result = probe(f"{path}:build")
    assert result.error is None
    finding = only(errors(result), "TFP101")
    assert finding.evidence["output"] == "params"
    assert finding.evidence["loss_shape_at_32"] == "(32, 32)"
    assert (finding.where.file, finding.where.line) == (str(path), 10)
    assert not [f for f in result.findings if f.evidence.get("output") == "label"]


# ---- --data FILE.npz --------------------------------------------------------------------


def _npz(tmp_path: Path, name: str, **arrays: np.ndarray) -> str:
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def test_data_targets_with_a_trailing_axis_broadcast(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 8)).astype("float32")
    column = _npz(tmp_path, "column.npz", x=x, y=rng.normal(size=(16, 1)).astype("float32"))
    flat = _npz(tmp_path, "flat.npz", x=x, y=rng.normal(size=(16,)).astype("float32"))
    model = model_path("k3_regression_dense2.keras")
    loss = f"{LOSSES}:normal_nll_rank_dropping"
    broken = probe(model, loss, data=column)
    finding = only(broken.findings, "TFP101")
    assert finding.severity == Severity.ERROR
    assert finding.evidence["target_shape"] == "(N, 1)"
    assert finding.evidence["loss_shape_at_16"] == "(16, 16)"
    assert any("--data has 16 examples" in note for note in broken.notes)
    fine = probe(model, loss, data=flat)
    assert "TFP101" not in codes(fine) and errors(fine) == []


def _saved(save, **arrays) -> bytes:
    buffer = io.BytesIO()
    save(buffer, **arrays)
    return buffer.getvalue()


SCALARS_NPZ = _saved(np.savez, x=np.float32(1.0), y=np.float32(2.0))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"not an npz at all",
            "is not a readable .npz of arrays 'x' and 'y' (neither a zip archive nor a numpy "
            "array file)",
        ),
        (None, "must hold arrays 'x' and 'y'"),
        (
            _saved(np.save, arr=np.zeros((4, 8), "float32")),
            "holds a single array, not an .npz of arrays 'x' and 'y'",
        ),
        (
            SCALARS_NPZ[: len(SCALARS_NPZ) // 2],
            "is not a readable .npz of arrays 'x' and 'y' (BadZipFile: ",
        ),
        (SCALARS_NPZ, "'x' and 'y' must hold one row per example (found shapes () and ())"),
    ],
)
def test_bad_data_file_is_a_clear_usage_error(
    run_cli, tmp_path: Path, content: bytes | None, expected: str
) -> None:
    path = tmp_path / "bad.npz"
    if content is None:
        np.savez(path, inputs=np.zeros((4, 8), "float32"))
    else:
        path.write_bytes(content)
    result = run_cli(
        model_path("k3_regression_dense2.keras"),
        "--loss",
        f"{LOSSES}:normal_nll",
        "--data",
        str(path),
    )
    assert result.exit_code == 2
    text = result.stdout + result.stderr
    assert str(path) in text and expected in text
    assert "Traceback" not in text


# ---- .h5 and SavedModel -------------------------------------------------------------------


def test_h5_softmax_categorical_is_reported() -> None:
    finding = only(probe(model_path("tfk_softmax_categorical.h5")).findings, "TFP202")
    assert (finding.where.layer, finding.where.layer_index) == ("label_dist", 2)
    assert finding.evidence["logits_shape"] == "(32, 10)"


@pytest.mark.parametrize("name", ["tfk_categorical_logits.h5", "tfk_savedmodel"])
def test_h5_and_savedmodel_fixed_models_are_clean(name: str) -> None:
    result = probe(model_path(name), custom_objects=str(LOSSES))
    assert result.error is None
    assert errors(result) == [] and "TFP202" not in codes(result)
    # the compiled negloglik was really evaluated: the (N, 1) targets case is seen, as the
    # one-line info of a guessed target shape
    assert any(f.code == "TFP101" and f.severity == Severity.INFO for f in result.findings)


def test_savedmodel_softmax_lookalike_needs_loss_nll() -> None:
    result = probe(model_path("tfk_savedmodel"), "nll")
    assert result.error is None and errors(result) == []


# ---- several inputs, integer ids ------------------------------------------------------------


def test_embedding_and_float_inputs_run_with_valid_ids() -> None:
    model = model_path("k3_embedding_two_inputs.keras")
    broken = probe(model, f"{LOSSES}:normal_nll_rank_dropping")
    assert "TFP108" not in codes(broken)  # ids within the vocabulary: the forward pass runs
    assert only(broken.findings, "TFP101").evidence["loss_shape_at_32"] == "(32, 32)"
    fixed = probe(model, f"{LOSSES}:normal_nll")
    assert errors(fixed) == []


@pytest.mark.parametrize("keys", [("x_tokens", "x_numeric"), ("x0", "x1")])
def test_data_for_several_inputs_by_name_or_position(tmp_path: Path, keys: tuple[str, str]) -> None:
    model = model_path("k3_embedding_two_inputs.keras")
    rng = np.random.default_rng(0)
    data = tmp_path / "two_inputs.npz"
    arrays = {
        keys[0]: rng.integers(0, 50, size=(40, 6)).astype("int32"),
        keys[1]: rng.normal(size=(40, 3)).astype("float32"),
        "y": rng.normal(size=(40, 1)).astype("float32"),
    }
    np.savez(data, **arrays)
    # real targets (N, 1) and a loss that drops the parameters' rank: the broadcast is an
    # error, with the data's own target shape
    broken = probe(model, f"{LOSSES}:normal_nll_rank_dropping", data=str(data))
    assert broken.error is None
    finding = only(broken.findings, "TFP101")
    assert finding.severity == Severity.ERROR
    assert finding.evidence["target_shape"] == "(N, 1)"
    assert errors(probe(model, f"{LOSSES}:normal_nll", data=str(data))) == []


def test_data_without_the_inputs_names_them(tmp_path: Path) -> None:
    data = tmp_path / "wrong.npz"
    np.savez(data, a=np.zeros((4, 6)), y=np.zeros((4, 1)))
    result = probe(
        model_path("k3_embedding_two_inputs.keras"), f"{LOSSES}:normal_nll", data=str(data)
    )
    assert result.error is not None
    assert "(or x_<input name> / x0, x1, ... for each input)" in result.error[1]


def test_two_float_inputs_through_a_nested_body() -> None:
    finding = only(probe(model_path("k3_functional_nested.keras")).findings, "TFP202")
    assert finding.where.layer == "probs" and finding.evidence["output_shape"] == "(32, 3)"


# ---- probe sides merged with the static finding: TFP304, TFP105 ---------------------------


def test_tfp304_covariance_not_positive_definite_merges_with_source_finding(run_cli) -> None:
    result = run_cli(
        model_path("k3_mvn_dense4.keras"),
        "--loss",
        f"{LOSSES}:mvn_full_cov_raw_nll",
        "--format",
        "json",
    )
    assert result.exit_code == 1
    findings = result.json()["files"][0]["findings"]
    assert [f["code"] for f in findings] == ["TFP304"]  # its NaN loss is not a second finding
    finding = findings[0]
    assert finding["tier"] == "probe" and finding["severity"] == "error"
    assert finding["where"]["line"] == source_line(
        "dist = tfd.MultivariateNormalFullCovariance(", path=LOSSES
    )
    assert finding["evidence"]["call"] == "tfd.MultivariateNormalFullCovariance"  # static
    assert finding["evidence"]["covariance_shape"] == "(32, 2, 2)"  # probe


def test_tfp105_builtin_head_fed_the_wrong_width(tmp_path: Path, run_cli) -> None:
    rng = np.random.default_rng(5)
    data = _npz(
        tmp_path,
        "in.npz",
        x=rng.normal(size=(8, 8)).astype("float32"),
        y=rng.normal(size=(8, 1)).astype("float32"),
    )
    result = run_cli(
        model_path("tfk_independent_normal_units.keras"),
        "--unsafe",
        "--loss",
        "nll",
        "--data",
        data,
        "--format",
        "json",
    )
    assert result.exit_code == 1
    findings = result.json()["files"][0]["findings"]
    assert [f["code"] for f in findings] == ["TFP105"]  # the Split failure is its evidence
    finding = findings[0]
    assert finding["tier"] == "probe"
    assert (finding["where"]["layer"], finding["where"]["layer_index"]) == ("normal", 1)
    assert finding["evidence"]["units"] == 3 and finding["evidence"]["params_size"] == 2
    assert finding["evidence"]["op"] == "Split" and finding["evidence"]["batch_sizes"] == [1, 8]
    fixed = run_cli(
        model_path("tfk_independent_normal.keras"), "--unsafe", "--loss", "nll", "--data", data
    )
    assert fixed.exit_code == 0


class _Json:
    """A JSON finding, with .code for only()."""

    def __init__(self, raw: dict) -> None:
        self.raw = raw
        self.code = raw["code"]
        self.message = raw["message"]


# ---- --data for several outputs: y_<output name> ------------------------------------------


def _two_heads_data(tmp_path: Path, name: str, **targets: np.ndarray) -> str:
    rng = np.random.default_rng(11)
    return _npz(tmp_path, name, x=rng.normal(size=(16, 8)).astype("float32"), **targets)


def test_data_per_output_targets_name_the_output_that_broadcasts(run_cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    y_reg = rng.normal(size=(16, 1)).astype("float32")
    labels = rng.integers(0, 3, size=16).astype("int32")
    column = _two_heads_data(tmp_path, "column.npz", y_reg=y_reg, y_cls=labels[:, None])
    model = model_path("tfk_two_heads.keras")
    args = ("--unsafe", "--custom-objects", str(LOSSES), "--format", "json")
    result = run_cli(model, "--data", column, *args)
    assert result.exit_code == 1, result.stderr
    findings = result.json()["files"][0]["findings"]
    assert [f["code"] for f in findings] == ["TFP101"]
    finding = findings[0]
    assert finding["severity"] == "error"  # the shape the user feeds, not a guess
    assert finding["evidence"]["output"] == "cls"
    assert finding["where"]["layer"] == "cls"
    assert finding["evidence"]["target_shape"] == "(N, 1)"
    assert finding["evidence"]["loss_shape_at_16"] == "(16, 16)"
    # the same labels as (N,), and y_reg as given: clean
    flat = _two_heads_data(tmp_path, "flat.npz", y_reg=y_reg, y_cls=labels)
    fixed = run_cli(model, "--data", flat, *args)
    assert fixed.exit_code == 0 and fixed.json()["files"][0]["findings"] == []


def test_data_missing_an_outputs_targets_is_a_usage_error_naming_the_file(
    run_cli, tmp_path: Path
) -> None:
    rng = np.random.default_rng(13)
    y_reg = rng.normal(size=(16, 1)).astype("float32")
    data = _two_heads_data(tmp_path, "partial.npz", y_reg=y_reg)  # no y_cls, no y
    result = run_cli(
        model_path("tfk_two_heads.keras"),
        "--unsafe",
        "--custom-objects",
        str(LOSSES),
        "--data",
        data,
    )
    assert result.exit_code == 2
    text = result.stdout + result.stderr
    assert data in text and "'y_cls' (or 'y')" in text and "output 'cls'" in text
    assert "Traceback" not in text


# ---- a compiled loss that needs --custom-objects ----------------------------------------


def _summary(result: ProbeResult) -> list[tuple[str, str, str | None]]:
    return [(f.code, f.severity.value, f.evidence.get("target_shape")) for f in result.findings]


@pytest.mark.parametrize(
    "name", ["tfk_categorical_logits.keras", "tfk_categorical_logits.h5", "tfk_savedmodel"]
)
def test_compiled_negloglik_gives_the_same_findings_however_the_loss_is_found(name: str) -> None:
    # Categorical + negloglik is right for labels (N,); fed (N, 1), tf_keras broadcasts
    # log_prob to (N, N). The shape was not pinned, so that is an info naming the shape,
    # whether the loss comes from the compile config (--custom-objects) or from --loss.
    compiled = probe(model_path(name), custom_objects=str(LOSSES))
    by_name = probe(model_path(name), f"{LOSSES}:negloglik")
    nll = probe(model_path(name), "nll")
    expected = [("TFP101", "info", "(N, 1)")]
    assert _summary(compiled) == _summary(by_name) == _summary(nll) == expected
    # Without the code of 'negloglik' no loss runs at all: TFP005 says so and how to run it.
    missing = only(probe(model_path(name)).findings, "TFP005")
    assert [f.code for f in probe(model_path(name)).findings] == ["TFP005"]
    assert missing.evidence["probe"] == "stopped before evaluating the loss"
    assert "evaluated no loss" in missing.message
    assert "--custom-objects" in missing.fix and "--loss FILE.py:negloglik" in missing.fix
