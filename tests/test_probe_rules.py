"""The probe tier on real models: every probe rule fires on its failing case and not on the fix.

TensorFlow is imported once for the whole module; each probe result is computed once.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT, model_path, source_line
from probe_helpers import codes, errors, probe

from tfpcheck.findings import Finding, Severity
from tfpcheck.losses import parse_loss_spec

pytest.importorskip("tensorflow_probability")

from tfpcheck.probe import ProbeRequest, ProbeResult, run_probe

LOSSES = FIXTURES / "losses.py"
FLIPOUT = FIXTURES / "factories" / "flipout.py"
TUTORIALS = FIXTURES / "factories" / "tutorials.py"
TWO_OUTPUTS = FIXTURES / "factories" / "two_outputs.py"

# Small user files the tests probe: custom losses and Keras 3 factories.
USER_CODE = """
import keras
import tensorflow as tf
import tensorflow_probability as tfp


def reshape_fixed_batch(y_true, y_pred):
    cov = tf.reshape(y_pred[:, 1:5], (32, 2, 2))  # RESHAPE-32
    return tf.reduce_mean(cov, axis=[1, 2]) + tf.square(y_true[:, 0] - y_pred[:, 0])


def squared_no_reduction(y_true, y_pred):
    return tf.square(y_true - y_pred)


def squared_mean(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)


def log_of_raw(y_true, y_pred):
    return -tf.math.log(y_pred[:, 0:1]) + 0.0 * y_true


def against_batch_mean(y_true, y_pred):
    return tf.square(y_true - tf.reduce_mean(y_pred, axis=0))


def gaussian_nll_rank_dropping(y_true, y_pred):
    mean = y_pred[:, 0]  # MEAN-DROPS-RANK
    var = tf.math.softplus(y_pred[:, 1]) + 1e-6  # VAR-DROPS-RANK
    terms = tf.math.log(var) / 2 + tf.square(mean - y_true) / (2 * var)  # PAIRS
    return tf.reduce_mean(terms)


def gaussian_nll(y_true, y_pred):
    mean = y_pred[:, 0:1]
    var = tf.math.softplus(y_pred[:, 1:2]) + 1e-6
    terms = tf.math.log(var) / 2 + tf.square(mean - y_true) / (2 * var)
    return tf.reduce_mean(terms)


def _mlp(*middle):
    return keras.Sequential([keras.Input(shape=(4,)), *middle, keras.layers.Dense(1, name="out")])


def batch_coupled():
    return _mlp(keras.layers.Lambda(lambda x: x - tf.reduce_mean(x, axis=0), name="center"))


def per_example():
    return _mlp(keras.layers.Dense(3, name="hidden"))


def stopped():
    return _mlp(
        keras.layers.Dense(3, name="frozen_path"),
        keras.layers.Lambda(tf.stop_gradient, name="stop"),
    )


def keras3_with_tfp_layers():
    return keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(2), tfp.layers.IndependentNormal(1)]
    )
"""


@pytest.fixture(scope="module")
def user_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("user") / "user_code.py"
    path.write_text(textwrap.dedent(USER_CODE))
    return path


def only(result: ProbeResult, code: str) -> Finding:
    found = [f for f in result.findings if f.code == code]
    assert len(found) == 1, f"{code}: {[(f.code, f.message) for f in result.findings]}"
    assert found[0].tier == "probe" and found[0].confidence.value == "high"
    return found[0]


# ---- TFP101 ------------------------------------------------------------------------------


def test_tfp101_rank_dropping_slice_broadcasts_n_by_n() -> None:
    result = probe(model_path("k3_regression_dense2.keras"), f"{LOSSES}:normal_nll_rank_dropping")
    finding = only(result, "TFP101")
    assert finding.severity == Severity.ERROR
    assert finding.where.file == str(LOSSES)
    assert finding.where.line == source_line("loc=y_pred[:, 0], scale", path=LOSSES)
    ev = finding.evidence
    assert ev["target_shape"] == "(N, 1)"
    assert ev["loss_shape_at_1"] == "(1, 1)" and ev["loss_shape_at_32"] == "(32, 32)"
    assert ev["parameters"] == {"loc": "(32,)", "scale": "(32,)"}
    assert "y_pred[:, 0:1]" in finding.fix and "y_pred[:, 1:2]" in finding.fix


def test_tfp101_class_labels_n_by_1_are_squeezed_not_the_parameters() -> None:
    # tensorflow/probability#535: Categorical(probs=softmax) with labels fed as (N, 1). The
    # (N,) batch comes from (N, K) probabilities: only the labels can change, at the loss.
    path = model_path("tfk_softmax_categorical_probs.keras")
    result = probe(path, f"{LOSSES}:negloglik", target_shape=(1,))
    finding = only(result, "TFP101")
    assert finding.severity == Severity.ERROR
    assert finding.evidence["y_true_shape"] == "(32, 1)"
    assert "Categorical with batch shape (32,), so the targets must be (32,)" in finding.fix
    assert f"where the loss calls log_prob ({LOSSES}:" in finding.fix
    assert "rv.log_prob(tf.squeeze(y_true, -1))" in finding.fix
    assert "rank-keeping" not in finding.fix


def test_tfp101_fixed_loss_has_no_error() -> None:
    result = probe(model_path("k3_regression_dense2.keras"), f"{LOSSES}:normal_nll")
    assert errors(result) == []
    # Only targets shaped (N,) (not what the fixed loss expects) broadcast, and the probe
    # guessed the shape: one info line that says how to settle it.
    finding = only(result, "TFP101")
    assert finding.severity == Severity.INFO and finding.evidence["target_shape"] == "(N,)"
    assert finding.message.startswith("only if the targets are fed as (N,): ")
    assert finding.fix.startswith("Say which shape the targets have: --target-shape scalar")


def test_tfp101_pinned_target_shape_settles_the_guess() -> None:
    fixed = f"{LOSSES}:normal_nll"
    assert probe(model_path("k3_regression_dense2.keras"), fixed, target_shape=(1,)).findings == ()
    # one scalar per example: the shape the fixed loss does not expect, pinned, is an error
    pinned = probe(model_path("k3_regression_dense2.keras"), fixed, target_shape=())
    finding = only(pinned, "TFP101")
    assert finding.severity == Severity.ERROR and finding.evidence["target_shape"] == "(N,)"


def test_tfp101_hand_written_nll_pairs_examples_before_reducing(user_file: Path) -> None:
    # No distribution, and the loss is a scalar at every batch size: only its own terms
    # show the broadcast, (N,) - (N, 1) -> (N, N), at the line that computes them.
    result = probe(
        model_path("k3_regression_dense2.keras"), f"{user_file}:gaussian_nll_rank_dropping"
    )
    finding = only(result, "TFP101")
    assert finding.severity == Severity.ERROR
    assert finding.where.file == str(user_file)
    assert finding.where.line == source_line("# PAIRS", path=user_file)
    assert finding.where.function == "gaussian_nll_rank_dropping"
    ev = finding.evidence
    assert ev["target_shape"] == "(N, 1)" and ev["loss_shape_at_32"] == "()"
    assert ev["op"] == "Sub" and ev["input_shapes"] == ["(32,)", "(32, 1)"]
    assert ev["result_shape_at_32"] == "(32, 32)" and ev["result_shape_at_1"] == "(1, 1)"
    assert ev["rank_dropped_at"] == [
        f"{user_file}:{source_line('# MEAN-DROPS-RANK', path=user_file)}",
        f"{user_file}:{source_line('# VAR-DROPS-RANK', path=user_file)}",
    ]
    assert "mean = y_pred[:, 0:1]" in finding.fix
    assert "tf.math.softplus(y_pred[:, 1:2])" in finding.fix
    assert "TFP107" not in codes(result)


def test_tfp101_hand_written_nll_with_rank_keeping_slices_is_clean(user_file: Path) -> None:
    loss = f"{user_file}:gaussian_nll"
    result = probe(model_path("k3_regression_dense2.keras"), loss, target_shape=(1,))
    assert result.findings == ()
    # targets (N,) against terms (N, 1) would pair examples: said once, as what it depends on
    guessed = probe(model_path("k3_regression_dense2.keras"), loss)
    assert errors(guessed) == []
    finding = only(guessed, "TFP101")
    assert finding.severity == Severity.INFO and finding.evidence["target_shape"] == "(N,)"


# ---- TFP108 / TFP102 ----------------------------------------------------------------------


def test_tfp108_reshape_fails_at_every_batch_size() -> None:
    result = probe(model_path("k3_mvn_dense4.keras"), f"{LOSSES}:mvn_full_cov_nll")
    finding = only(result, "TFP108")
    assert finding.where.file == str(LOSSES)
    assert finding.where.line == source_line("covariance_matrix=tf.reshape", path=LOSSES)
    assert finding.evidence["op"] == "Reshape"
    assert "tf.reshape(y_pred[:, 2:], (32, 2, 2))" in finding.evidence["code"]
    assert "64 values" in finding.evidence["error"]


def test_tfp108_fixed_mvn_loss_is_clean() -> None:
    result = probe(model_path("k3_mvn_dense5.keras"), f"{LOSSES}:mvn_tril_nll")
    assert [f.message for f in result.findings] == [] and result.error is None


def test_tfp102_fixed_batch_reshape_fails_only_at_one(user_file: Path) -> None:
    result = probe(model_path("k3_mvn_dense5.keras"), f"{user_file}:reshape_fixed_batch")
    finding = only(result, "TFP102")
    assert finding.evidence["works_at_batch_size"] == 32
    assert finding.evidence["fails_at_batch_size"] == 1
    assert finding.evidence["op"] == "Reshape"
    assert finding.where.line == source_line("RESHAPE-32", path=user_file)
    # y_true[:, 0] needs rank-2 targets: (N,) fails everywhere, a warning only.
    assert all(f.severity == Severity.WARNING for f in result.findings if f.code == "TFP108")


# ---- TFP103 / TFP104 / TFP105 -------------------------------------------------------------


def test_tfp103_unreduced_loss_has_extra_axes(user_file: Path) -> None:
    result = probe(model_path("k3_regression_dense2.keras"), f"{user_file}:squared_no_reduction")
    finding = only(result, "TFP103")
    assert finding.evidence["loss_shape_at_32"] == "(32, 2)"
    assert finding.evidence["y_shape"] == "(32, 1)"
    assert finding.where.line == source_line("def squared_no_reduction", path=user_file)


def test_tfp103_reduced_loss_is_clean(user_file: Path) -> None:
    result = probe(model_path("k3_regression_dense2.keras"), f"{user_file}:squared_mean")
    assert "TFP103" not in codes(result) and errors(result) == []


def test_tfp104_unequal_parameter_slices_broadcast() -> None:
    result = probe(model_path("tfk_normal_dense64_relu.keras"), "nll")
    finding = only(result, "TFP104")
    assert (finding.where.layer, finding.where.layer_index) == ("normal", 1)
    # the path recorded when the fixtures were built, wherever this checkout lives now
    assert finding.where.file.endswith("fixtures/build_fixtures.py")
    assert finding.evidence["parameters_at_32"] == {"loc": "(32, 1)", "scale": "(32, 63)"}
    assert finding.evidence["parameters_at_1"] == {"loc": "(1, 1)", "scale": "(1, 63)"}
    assert "Dense(2)" in finding.fix and "'hidden'" in finding.fix
    assert "TFP103" not in codes(result)


def test_tfp104_tfp105_merge_with_static_finding() -> None:
    from tfpcheck.findings import Where
    from tfpcheck.rules import BY_CODE

    static = BY_CODE["TFP105"].finding(
        "static guess", "fix", Where(layer="normal", layer_index=1), {"units": 64}
    )
    result = run_probe(
        ProbeRequest(
            model_path("tfk_normal_dense64_relu.keras"),
            None,
            parse_loss_spec("nll"),
            True,
            static_findings=(static,),
        )
    )
    finding = only(result, "TFP105")
    assert finding.evidence["units"] == 64  # static evidence kept
    assert finding.evidence["parameter_widths"] == {"loc": 1, "scale": 63}
    assert finding.where.layer == "normal"


def test_tfp104_fixed_head_is_clean() -> None:
    assert probe(model_path("tfk_normal_dense2.keras"), "nll").findings == ()


# ---- TFP106 / TFP107 ----------------------------------------------------------------------


def test_tfp106_batch_statistics_in_inference(user_file: Path) -> None:
    result = probe(f"{user_file}:batch_coupled", "mse")
    finding = only(result, "TFP106")
    assert finding.evidence["max_abs_difference"] > 1e-3
    assert finding.where.layer == "out"


def test_tfp106_tfp107_per_example_model_is_clean(user_file: Path) -> None:
    result = probe(f"{user_file}:per_example", "mse")
    assert not {"TFP106", "TFP107"} & set(codes(result))


def test_tfp107_loss_against_batch_mean(user_file: Path) -> None:
    result = probe(f"{user_file}:per_example", f"{user_file}:against_batch_mean")
    finding = only(result, "TFP107")
    assert finding.evidence["batch_size"] == 32
    assert finding.evidence["batch_loss"] != finding.evidence["mean_single_loss"]
    assert finding.where.file == str(user_file)


# ---- TFP201 / TFP202 / TFP203 / TFP204 / TFP205 ------------------------------------------


def test_tfp201_onehot_categorical_with_cross_entropy() -> None:
    result = probe(model_path("tfk_cnn_onehot_cce.keras"))
    finding = only(result, "TFP201")
    assert (finding.where.layer, finding.where.layer_index) == ("onehot", 3)
    assert finding.evidence["output_dtype"] == "int32"
    assert not {"TFP108", "TFP401"} & set(codes(result))


def test_tfp201_fixed_with_nll_is_clean() -> None:
    result = probe(model_path("tfk_cnn_onehot_nll.keras"), "nll")
    assert result.findings == ()


@pytest.mark.parametrize("loss", ["nll", "cce", "scce"])
def test_tfp202_softmax_into_categorical_logits(loss: str) -> None:
    result = probe(model_path("tfk_cnn_softmax_categorical.keras"), loss)
    finding = only(result, "TFP202")
    assert (finding.where.layer, finding.where.layer_index) == ("label_dist", 4)
    assert finding.evidence["logits_shape"] == "(32, 10)"
    assert finding.evidence["min"] >= 0 and finding.evidence["max"] <= 1


def test_tfp202_softmax_output_with_from_logits() -> None:
    finding = only(probe(model_path("k3_softmax_from_logits.keras")), "TFP202")
    assert (finding.where.layer, finding.where.layer_index) == ("probs", 1)
    assert finding.evidence["from_logits"] is True


@pytest.mark.parametrize(
    ("path", "loss"),
    [("k3_logits_from_logits.keras", None), ("tfk_cnn_categorical_logits.keras", "nll")],
)
def test_tfp202_fixed_versions_have_no_error(path: str, loss: str | None) -> None:
    result = probe(model_path(path), loss)
    assert errors(result) == [] and "TFP202" not in codes(result)


def test_tfp203_sigmoid_into_bernoulli_logits() -> None:
    finding = only(probe(model_path("tfk_sigmoid_bernoulli.keras"), "nll"), "TFP203")
    assert finding.where.layer == "bernoulli"
    assert "TFP203" not in codes(probe(model_path("tfk_bernoulli_logits.keras"), "nll"))


def test_tfp204_logits_as_probabilities() -> None:
    finding = only(probe(model_path("k3_linear_cce.keras")), "TFP204")
    assert finding.where.layer == "logits"
    assert "TFP204" not in codes(probe(model_path("k3_softmax_probs.keras")))


def test_tfp205_one_hot_targets_for_categorical() -> None:
    result = probe(model_path("tfk_cnn_categorical_logits.keras"), "nll", target_shape=(10,))
    finding = only(result, "TFP205")
    assert finding.evidence["target_shape"] == "(32, 10)"
    assert finding.evidence["expected"] == "integer labels"
    assert "TFP101" not in codes(result)
    ok = probe(model_path("tfk_cnn_categorical_logits.keras"), "nll", target_shape=())
    assert "TFP205" not in codes(ok) and errors(ok) == []


# ---- TFP301 / TFP302 / TFP401 / TFP402 ----------------------------------------------------


def test_tfp301_raw_scale_seen_non_positive() -> None:
    result = probe(model_path("tfk_normal_raw_scale.keras"), "nll")
    finding = only(result, "TFP301")
    assert finding.severity == Severity.ERROR and finding.where.layer == "normal"
    assert finding.evidence["parameter"] == "scale" and finding.evidence["min"] <= 0
    assert "TFP302" not in codes(result)


def test_tfp302_nan_loss(user_file: Path) -> None:
    result = probe(model_path("k3_regression_dense2.keras"), f"{user_file}:log_of_raw")
    finding = only(result, "TFP302")
    assert finding.where.line == source_line("def log_of_raw", path=user_file)
    assert finding.evidence["non_finite_loss_values"] > 0


def test_tfp401_stop_gradient_names_layer(user_file: Path) -> None:
    result = probe(f"{user_file}:stopped", "mse")
    finding = only(result, "TFP401")
    assert finding.severity == Severity.WARNING
    assert finding.evidence["layers"] == ["frozen_path"]
    assert (finding.where.layer, finding.where.layer_index) == ("frozen_path", 0)
    assert "TFP401" not in codes(probe(f"{user_file}:per_example", "mse"))


def test_tfp402_unscaled_flipout_kl() -> None:
    result = probe(f"{FLIPOUT}:build_model", num_examples=1000)
    finding = only(result, "TFP402")
    assert finding.severity == Severity.ERROR
    assert finding.where.layer == "hidden" and finding.where.layer_index == 0
    assert finding.evidence["effective_weight"] == pytest.approx(1.0, abs=1e-3)
    assert finding.evidence["ratio"] > 10
    assert set(finding.evidence["kl_by_layer"]) >= {"hidden"}
    assert "tfd.kl_divergence(q, p) / 1000" in finding.fix


def test_tfp402_two_outputs_compares_the_kl_with_the_weighted_sum_once() -> None:
    result = probe(f"{TWO_OUTPUTS}:build_model", num_examples=1000)
    finding = only(result, "TFP402")  # once for the model, not once per output
    ev = finding.evidence
    assert "output" not in ev
    assert (finding.where.layer, finding.where.layer_index) == ("hidden", 1)
    assert finding.severity == Severity.ERROR and ev["problem"] == "unscaled"
    assert set(ev["weights_by_layer"]) == {"hidden", "y_params"}
    assert set(ev["kl_by_layer"]) == {"hidden", "y_params"}  # every Bayesian layer, once
    assert ev["loss_weights"] == {"y": 1.0, "z": 0.5}
    by_output = ev["data_loss_by_output"]
    assert set(by_output) == {"y", "z"}
    assert ev["data_loss"] == pytest.approx(by_output["y"] + 0.5 * by_output["z"], abs=1e-3)
    assert ev["kl_total"] == pytest.approx(sum(ev["kl_by_layer"].values()), abs=1e-3)
    assert "y + 0.5 x z" in finding.message
    assert "/ 1000" in finding.fix and "DenseFlipout" in finding.fix


def test_tfp402_two_outputs_scaled_kl_is_clean() -> None:
    result = probe(f"{TWO_OUTPUTS}:build_model_scaled")
    assert "TFP402" not in codes(result) and errors(result) == []


def test_error_evidence_drops_tensorflow_function_node_prefix() -> None:
    finding = only(probe(f"{TWO_OUTPUTS}:reshape_in_head"), "TFP108")
    assert finding.evidence["error"] == (
        "InvalidArgumentError: Input to reshape is a tensor with 128 values, but the "
        "requested shape requires a multiple of 3 [op Reshape]"
    )
    assert finding.evidence["op"] == "Reshape"
    assert "{{" not in finding.message and "[Op:" not in finding.message
    assert finding.where.line == source_line("# RESHAPE-3", path=TWO_OUTPUTS)


def test_tfp402_scaled_flipout_is_clean() -> None:
    result = probe(f"{FLIPOUT}:build_model_scaled")
    assert "TFP402" not in codes(result) and errors(result) == []


# ---- loading: TFP004 / TFP005 / TFP006, usage errors --------------------------------------


def test_tfp004_tfp_layers_in_keras3(user_file: Path) -> None:
    finding = only(probe(f"{user_file}:keras3_with_tfp_layers", "nll"), "TFP004")
    assert "tf_keras" in finding.fix and "TF_USE_LEGACY_KERAS=1" in finding.fix


def test_tfp005_unknown_compiled_loss_and_custom_objects() -> None:
    finding = only(probe(model_path("tfk_categorical_logits.keras")), "TFP005")
    assert finding.evidence["object"] == "negloglik"
    assert "--custom-objects" in finding.fix
    fixed = probe(model_path("tfk_categorical_logits.keras"), custom_objects=str(LOSSES))
    assert fixed.error is None and errors(fixed) == [] and "TFP005" not in codes(fixed)


def test_tfp006_flipout_factory_cannot_round_trip() -> None:
    finding = only(probe(f"{FLIPOUT}:build_model", num_examples=1000), "TFP006")
    assert finding.severity == Severity.INFO
    assert (finding.where.layer, finding.evidence["layer_class"]) == ("hidden", "DenseFlipout")


def test_tfp006_vae_names_the_decoder_head_that_fails() -> None:
    # The encoder's MultivariateNormalTriL fails a layer-alone round trip too, but the model's
    # load fails on the decoder's IndependentBernoulli(convert_to_tensor_fn=Bernoulli.logits).
    finding = only(probe(f"{TUTORIALS}:build_vae"), "TFP006")
    assert finding.evidence["layer_class"] == "IndependentBernoulli"
    assert "/independent_bernoulli" in finding.where.layer  # in the nested decoder
    assert "'logits'" in finding.evidence["error"]


def test_tfp108_factory_that_raises_names_the_users_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("def build():\n    raise RuntimeError('boom')\n")
    finding = only(probe(f"{path}:build"), "TFP108")
    assert (finding.where.file, finding.where.line) == (str(path), 2)
    assert not (tmp_path / "__pycache__").exists()


def test_nll_on_tensor_output_is_a_usage_error() -> None:
    result = probe(model_path("k3_regression_dense2.keras"), "nll")
    assert result.error is not None and result.error[0] == "usage"
    assert "'params' returns a tensor" in result.error[1]


# ---- the tutorials must come out clean ----------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "build_no_uncertainty",
        "build_aleatoric",
        "build_epistemic",
        "build_aleatoric_epistemic",
        "build_vgp",
        "build_vae",
    ],
)
def test_tutorial_models_have_no_error_or_warning(name: str) -> None:
    result = probe(f"{TUTORIALS}:{name}")
    assert result.error is None
    assert [f for f in result.findings if f.severity != Severity.INFO] == []


def test_probe_package_import_is_tensorflow_free() -> None:
    code = "import sys, tfpcheck.probe; print('tensorflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src")},
        check=True,
    )
    assert out.stdout.strip() == "False"
