"""The static tier reads a loss or factory FILE.py:NAME with ast: TFP101, TFP202, TFP203."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import FIXTURES, model_path, source_line

LOSSES = FIXTURES / "losses.py"
MODEL = "k3_regression_dense2.keras"


def static_findings(run_cli, *args: str) -> list[dict]:
    result = run_cli(*args, "--static", "--format", "json")
    assert result.exit_code in (0, 1), result.stderr
    return result.json()["files"][0]["findings"]


@pytest.mark.parametrize(
    ("loss", "code", "snippet", "severity"),
    [
        ("normal_nll_rank_dropping", "TFP101", "loc=y_pred[:, 0], scale", "warning"),
        ("normal_nll_ellipsis", "TFP101", "dist = tfd.Normal(loc=loc, scale=scale)", "warning"),
        ("categorical_nll_softmax", "TFP202", "return -tfd.Categorical(logits=tf.nn", "error"),
        ("categorical_nll_probs_var", "TFP202", "dist = tfd.Categorical(logits=probs)", "error"),
        ("bernoulli_nll_sigmoid", "TFP203", "return -tfd.Bernoulli(logits=tf.sig", "error"),
    ],
)
def test_loss_source_pattern(run_cli, loss: str, code: str, snippet: str, severity: str) -> None:
    findings = static_findings(run_cli, model_path(MODEL), "--loss", f"{LOSSES}:{loss}")
    assert [f["code"] for f in findings] == [code]
    finding = findings[0]
    assert finding["tier"] == "static" and finding["severity"] == severity
    assert finding["where"]["file"] == str(LOSSES)
    assert finding["where"]["line"] == source_line(snippet, path=LOSSES)
    assert finding["where"]["function"] == loss


def test_rank_dropping_evidence_and_fix(run_cli) -> None:
    findings = static_findings(
        run_cli, model_path(MODEL), "--loss", f"{LOSSES}:normal_nll_ellipsis"
    )
    evidence = findings[0]["evidence"]
    assert evidence["rank_dropping"] == {
        "loc": "y_pred[..., 0]",
        "scale": "tf.squeeze(y_pred[:, 1:2])",
    }
    assert evidence["log_prob_line"] == source_line(
        "return -dist.log_prob(y_true)", "def normal_nll_ellipsis", LOSSES
    )


def test_squash_through_a_variable_names_its_line(run_cli) -> None:
    findings = static_findings(
        run_cli, model_path(MODEL), "--loss", f"{LOSSES}:categorical_nll_probs_var"
    )
    assert findings[0]["evidence"]["squash_line"] == source_line(
        "probs = tf.nn.softmax(y_pred, axis=-1)", path=LOSSES
    )


@pytest.mark.parametrize("loss", ["normal_nll", "categorical_nll", "negloglik"])
def test_fixed_losses_are_clean_and_the_scan_stays_in_the_named_function(
    run_cli, loss: str
) -> None:
    # losses.py also holds MultivariateNormalFullCovariance and the buggy variants: not these.
    assert static_findings(run_cli, model_path(MODEL), "--loss", f"{LOSSES}:{loss}") == []


def test_probe_confirms_the_static_rank_drop_as_one_finding(run_cli) -> None:
    pytest.importorskip("tensorflow_probability")
    result = run_cli(
        model_path(MODEL), "--loss", f"{LOSSES}:normal_nll_rank_dropping", "--format", "json"
    )
    findings = [f for f in result.json()["files"][0]["findings"] if f["code"] == "TFP101"]
    assert len(findings) == 1
    finding = findings[0]
    assert finding["tier"] == "probe" and finding["severity"] == "error"
    assert finding["evidence"]["rank_dropping"]["loc"] == "y_pred[:, 0]"  # static
    assert finding["evidence"]["loss_shape_at_32"] == "(32, 32)"  # probe


FACTORY = """
import tf_keras as tfk
import tensorflow_probability as tfp

tfd = tfp.distributions


def sequential_softmax():
    return tfk.Sequential([
        tfk.Input(shape=(8,)),
        tfk.layers.Dense(10, activation="softmax", name="probs"),
        tfp.layers.DistributionLambda(lambda t: tfd.Categorical(logits=t)),  # SEQ
    ])


def functional_sigmoid():
    inputs = tfk.Input(shape=(8,))
    prob = tfk.layers.Dense(1, activation="sigmoid")(inputs)
    out = tfp.layers.DistributionLambda(lambda t: tfd.Bernoulli(logits=t))(prob)  # FUNC
    return tfk.Model(inputs, out)


def fixed():
    inputs = tfk.Input(shape=(8,))
    logits = tfk.layers.Dense(10)(inputs)
    out = tfp.layers.DistributionLambda(lambda t: tfd.Categorical(logits=t))(logits)
    return tfk.Model(inputs, out)
"""


@pytest.fixture
def factory_file(tmp_path: Path) -> Path:
    path = tmp_path / "factories.py"
    path.write_text(textwrap.dedent(FACTORY))
    return path


@pytest.mark.parametrize(
    ("name", "code", "marker", "squashed_by"),
    [
        ("sequential_softmax", "TFP202", "# SEQ", "Dense(activation='softmax')"),
        ("functional_sigmoid", "TFP203", "# FUNC", "Dense(activation='sigmoid')"),
    ],
)
def test_factory_activation_before_logits(
    run_cli, factory_file: Path, name: str, code: str, marker: str, squashed_by: str
) -> None:
    findings = static_findings(run_cli, f"{factory_file}:{name}")
    assert [f["code"] for f in findings] == [code]
    where = findings[0]["where"]
    assert (where["file"], where["line"]) == (
        str(factory_file),
        source_line(marker, path=factory_file),
    )
    assert findings[0]["evidence"]["squashed_by"] == squashed_by


def test_factory_without_activation_is_clean(run_cli, factory_file: Path) -> None:
    assert static_findings(run_cli, f"{factory_file}:fixed") == []


LOGITS_HEADS = FIXTURES / "factories" / "logits_heads.py"


@pytest.mark.parametrize(
    ("name", "code", "marker", "squashed_by", "squash_marker"),
    [
        (
            "onehot_after_softmax_dense",
            "TFP202",
            "# SOFTMAX-DENSE",
            "Dense(activation='softmax')",
            'Dense(10, activation="softmax", name="probs")',
        ),
        (
            "onehot_after_tf_nn_softmax",
            "TFP202",
            "# TF-NN-HEAD",
            "tf.nn.softmax(...)",
            "# TF-NN-SOFTMAX",
        ),
        (
            "mixture_after_softmax_layer",
            "TFP202",
            "# MIX",
            "Softmax()",
            'tfk.layers.Softmax(name="softmax")',
        ),
        (
            "bernoulli_after_sigmoid",
            "TFP203",
            "# SIGMOID-HEAD",
            "Dense(activation='sigmoid')",
            'Dense(1, activation="sigmoid", name="prob")',
        ),
    ],
)
def test_factory_squash_before_a_tfp_logits_layer(
    run_cli, name: str, code: str, marker: str, squashed_by: str, squash_marker: str
) -> None:
    findings = static_findings(run_cli, f"{LOGITS_HEADS}:{name}")
    assert [f["code"] for f in findings] == [code]
    finding = findings[0]
    assert finding["severity"] == "error" and finding["where"]["function"] == name
    assert (finding["where"]["file"], finding["where"]["line"]) == (
        str(LOGITS_HEADS),
        source_line(marker, path=LOGITS_HEADS),
    )
    evidence = finding["evidence"]
    assert evidence["squashed_by"] == squashed_by
    assert evidence["squash_line"] == source_line(squash_marker, f"def {name}", LOGITS_HEADS)
    assert evidence["distribution"].startswith("tfpl.")


@pytest.mark.parametrize("name", ["onehot_from_logits", "bernoulli_from_logits"])
def test_factory_tfp_logits_layer_on_raw_logits_is_clean(run_cli, name: str) -> None:
    assert static_findings(run_cli, f"{LOGITS_HEADS}:{name}") == []


def test_probe_confirms_the_factory_squash_as_one_finding_at_the_source_line(run_cli) -> None:
    pytest.importorskip("tensorflow_probability")
    name = "onehot_after_tf_nn_softmax"
    result = run_cli(f"{LOGITS_HEADS}:{name}", "--loss", "nll", "--format", "json")
    findings = [f for f in result.json()["files"][0]["findings"] if f["code"] == "TFP202"]
    assert len(findings) == 1
    finding = findings[0]
    assert finding["tier"] == "probe"
    assert finding["where"]["line"] == source_line("# TF-NN-HEAD", path=LOGITS_HEADS)
    assert finding["evidence"]["squashed_by"] == "tf.nn.softmax(...)"  # static
    assert finding["evidence"]["layer"] == "onehot"  # probe
    assert finding["evidence"]["logits_shape"] == "(32, 10)"  # probe


# 600: deeper than the recursive visitor follows; 3000: deeper than the parser builds.
@pytest.mark.parametrize("depth", [600, 3000])
def test_deeply_nested_source_is_skipped_not_an_internal_error(
    run_cli, tmp_path: Path, depth: int
) -> None:
    deep = tmp_path / "deep.py"
    deep.write_text(
        "import tensorflow_probability as tfp\n\n\n"
        "def nll(y_true, y_pred):\n"
        "    dist = tfp.distributions.Normal(loc=y_pred[:, 0], scale=1.0)\n"
        f"    return -dist.log_prob(y_true) + {'y_pred + ' * depth}0.0\n"
    )
    result = run_cli(model_path(MODEL), "--loss", f"{deep}:nll", "--static", "--format", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    (file_result,) = result.json()["files"]
    assert file_result["error"] is None and file_result["findings"] == []


def test_a_name_the_file_does_not_define_selects_nothing_of_it(tmp_path: Path) -> None:
    from tfpcheck.source_scan import scan_spec

    losses = FIXTURES / "losses.py"
    assert scan_spec(f"{losses}:normal_nll_rank_dropping").distributions  # it does read NAME
    missing = scan_spec(f"{losses}:no_such_loss")
    assert missing is not None
    assert (missing.calls, missing.distributions, missing.logits_layers) == ([], [], [])
    # A NAME an assignment at module level may bind (an alias, an instance) reads the module.
    aliased = tmp_path / "aliased.py"
    aliased.write_text(
        "import tensorflow_probability as tfp\n\n"
        "def _nll(y, p):\n"
        "    return -tfp.distributions.Normal(loc=p[:, 0], scale=1.0).log_prob(y)\n\n"
        "loss = _nll\n"
    )
    assert scan_spec(f"{aliased}:loss").distributions


def test_a_target_sliced_like_the_parameters_does_not_broadcast(run_cli, tmp_path: Path) -> None:
    # LogNormal(loc=y_pred[:, 0], ...).log_prob(y_true[:, 0]): (N,) against (N,), nothing to
    # broadcast whatever the target's trailing axis; the same with tf.squeeze(y_true)
    losses = tmp_path / "sliced_losses.py"
    losses.write_text(
        "import tensorflow as tf\n"
        "import tensorflow_probability as tfp\n\n\n"
        "def lognormal_nll(y_true, y_pred):\n"
        "    dist = tfp.distributions.LogNormal(loc=y_pred[:, 0], scale=tf.exp(y_pred[:, 1]))\n"
        "    return -dist.log_prob(y_true[:, 0])\n\n\n"
        "def squeezed_nll(y_true, y_pred):\n"
        "    dist = tfp.distributions.Normal(loc=y_pred[:, 0], scale=tf.exp(y_pred[:, 1]))\n"
        "    return -dist.log_prob(tf.squeeze(y_true, -1))\n\n\n"
        "def broadcasting_nll(y_true, y_pred):\n"
        "    dist = tfp.distributions.Normal(loc=y_pred[:, 0], scale=tf.exp(y_pred[:, 1]))\n"
        "    return -dist.log_prob(y_true)\n"
    )
    for name, codes in (
        ("lognormal_nll", []),
        ("squeezed_nll", []),
        ("broadcasting_nll", ["TFP101"]),
    ):
        args = ("--static", "--format", "json", "--loss", f"{losses}:{name}")
        result = run_cli(model_path(MODEL), *args)
        found = [f["code"] for f in result.json()["files"][0]["findings"]]
        assert found == codes, name


HAND_WRITTEN = """
import tensorflow as tf
import tensorflow_probability as tfp


def gaussian_nll_rank_dropping(y_true, y_pred):
    mean = tf.clip_by_value(y_pred[:, 0], -1.0, 1.0)  # DROP
    var = tf.math.softplus(y_pred[:, 1:2]) + 1e-6
    terms = tf.math.log(var) / 2 + tf.square(mean - y_true) / (2 * var)  # PAIRS
    return tf.reduce_mean(terms)


def gaussian_nll(y_true, y_pred):
    mean = tf.clip_by_value(y_pred[:, 0:1], -1.0, 1.0)
    var = tf.math.softplus(y_pred[:, 1:2]) + 1e-6
    terms = tf.math.log(var) / 2 + tf.square(mean - y_true) / (2 * var)
    return tf.reduce_mean(terms)


def against_the_batch_mean(y_true, y_pred):
    return tf.square(y_true - tf.reduce_mean(y_pred[:, 0]))


def abs_variance_nll(y_true, y_pred):
    y_var = y_pred[:, :1]
    y_std = tf.sqrt(tf.abs(y_var))  # ABS
    dist = tfp.distributions.Normal(loc=y_pred[:, 1:], scale=y_std)  # DIST
    return -dist.log_prob(y_true)


def relu_scale_nll(y_true, y_pred):
    dist = tfp.distributions.Normal(loc=y_pred[:, 1:], scale=tf.nn.relu(y_pred[:, :1]))
    return -dist.log_prob(y_true)


def softplus_scale_nll(y_true, y_pred):
    scale = 1e-3 + tf.math.softplus(y_pred[:, :1])
    return -tfp.distributions.Normal(loc=y_pred[:, 1:], scale=scale).log_prob(y_true)


def exp_scale_nll(y_true, y_pred):
    dist = tfp.distributions.Normal(loc=y_pred[:, 1:], scale=tf.exp(y_pred[:, :1]))
    return -dist.log_prob(y_true)


def abs_epsilon_scale_nll(y_true, y_pred):
    y_std = tf.sqrt(tf.abs(y_pred[:, :1]) + 1e-6)
    return -tfp.distributions.Normal(loc=y_pred[:, 1:], scale=y_std).log_prob(y_true)


def maximum_epsilon_scale_nll(y_true, y_pred):
    scale = tf.maximum(tf.abs(y_pred[:, :1]), 1e-6)
    return -tfp.distributions.Normal(loc=y_pred[:, 1:], scale=scale).log_prob(y_true)


def raw_sqrt_scale_nll(y_true, y_pred):
    # whether y_pred[:, :1] is positive is the model's business (an exp activation, say)
    dist = tfp.distributions.Normal(loc=y_pred[:, 1:], scale=tf.sqrt(y_pred[:, :1]))
    return -dist.log_prob(y_true)


def reshaped_target_nll(y_true, y_pred):
    y = tf.reshape(y_true, [-1])
    dist = tfp.distributions.Normal(loc=y_pred[:, 0], scale=tf.exp(y_pred[:, 1]))  # GUESS
    return -dist.log_prob(y)
"""


@pytest.fixture(scope="module")
def hand_written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hand_written") / "hand_written_losses.py"
    path.write_text(textwrap.dedent(HAND_WRITTEN))
    return path


def test_hand_written_nll_combining_a_rank_dropped_slice_with_y_true(
    run_cli, hand_written: Path
) -> None:
    loss = f"{hand_written}:gaussian_nll_rank_dropping"
    (finding,) = static_findings(run_cli, model_path(MODEL), "--loss", loss)
    assert finding["code"] == "TFP101" and finding["severity"] == "warning"
    assert finding["where"]["file"] == str(hand_written)
    assert finding["where"]["line"] == source_line("# PAIRS", path=hand_written)
    assert finding["where"]["function"] == "gaussian_nll_rank_dropping"
    assert finding["evidence"]["rank_dropping"] == "y_pred[:, 0]"
    assert finding["evidence"]["rank_drop_line"] == source_line("# DROP", path=hand_written)
    assert "mean = tf.clip_by_value(y_pred[:, 0:1], -1.0, 1.0)" in finding["fix"]


@pytest.mark.parametrize("loss", ["gaussian_nll", "against_the_batch_mean"])
def test_hand_written_losses_that_keep_the_rank_are_clean(
    run_cli, hand_written: Path, loss: str
) -> None:
    assert static_findings(run_cli, model_path(MODEL), "--loss", f"{hand_written}:{loss}") == []


def test_probe_confirms_the_hand_written_broadcast_as_one_finding(
    run_cli, hand_written: Path
) -> None:
    pytest.importorskip("tensorflow_probability")
    loss = f"{hand_written}:gaussian_nll_rank_dropping"
    result = run_cli(model_path(MODEL), "--loss", loss, "--format", "json", "--no-cache")
    (finding,) = [f for f in result.json()["files"][0]["findings"] if f["code"] == "TFP101"]
    assert finding["tier"] == "probe" and finding["severity"] == "error"
    assert finding["where"]["line"] == source_line("# PAIRS", path=hand_written)
    assert finding["evidence"]["rank_dropping"] == "y_pred[:, 0]"  # static
    assert finding["evidence"]["input_shapes"] == ["(32,)", "(32, 1)"]  # probe
    assert finding["evidence"]["result_shape_at_32"] == "(32, 32)"


@pytest.mark.parametrize(
    ("loss", "zero_at", "zero_line"),
    [
        ("abs_variance_nll", "tf.abs(y_var)", "# ABS"),
        ("relu_scale_nll", "tf.nn.relu(y_pred[:, :1])", "def relu_scale_nll"),
    ],
)
def test_loss_scale_that_reaches_zero(
    run_cli, hand_written: Path, loss: str, zero_at: str, zero_line: str
) -> None:
    (finding,) = static_findings(run_cli, model_path(MODEL), "--loss", f"{hand_written}:{loss}")
    assert finding["code"] == "TFP301" and finding["severity"] == "warning"
    assert finding["where"]["function"] == loss
    assert finding["evidence"]["parameter"] == "scale"
    assert finding["evidence"]["zero_at"] == zero_at
    line = source_line(zero_line, path=hand_written)
    if zero_line.startswith("def "):
        line += 1  # on the distribution's own line
    assert finding["evidence"]["zero_at_line"] == line
    assert "tf.math.softplus(" in finding["fix"]


def test_loss_scale_zero_line_and_distribution_line(run_cli, hand_written: Path) -> None:
    loss = f"{hand_written}:abs_variance_nll"
    (finding,) = static_findings(run_cli, model_path(MODEL), "--loss", loss)
    assert finding["where"]["line"] == source_line("# DIST", path=hand_written)
    abs_line = source_line("# ABS", path=hand_written)
    assert f"(line {abs_line})" in finding["message"]
    assert finding["fix"].startswith(f"Keep it > 0, not just >= 0: at line {abs_line} write ")
    assert "1e-6 + tf.math.softplus(y_var)" in finding["fix"]


@pytest.mark.parametrize(
    "loss",
    [
        "softplus_scale_nll",
        "exp_scale_nll",
        "abs_epsilon_scale_nll",
        "maximum_epsilon_scale_nll",
        "raw_sqrt_scale_nll",
    ],
)
def test_loss_scales_kept_positive_are_clean(run_cli, hand_written: Path, loss: str) -> None:
    assert static_findings(run_cli, model_path(MODEL), "--loss", f"{hand_written}:{loss}") == []


def test_probe_refutes_a_source_guess_it_ran_without_the_broadcast(
    run_cli, hand_written: Path
) -> None:
    pytest.importorskip("tensorflow_probability")
    loss = f"{hand_written}:reshaped_target_nll"
    line = source_line("# GUESS", path=hand_written)
    # the source text cannot see that y is reshaped to (N,): a guess
    (guess,) = static_findings(run_cli, model_path(MODEL), "--loss", loss)
    assert (guess["code"], guess["where"]["line"]) == ("TFP101", line)
    result = run_cli(model_path(MODEL), "--loss", loss, "--format", "json", "--no-cache")
    entry = result.json()["files"][0]
    assert [f["code"] for f in entry["findings"]] == []
    note = f"TFP101 guess at {hand_written}:{line} refuted by the probe: log_prob returned (32,)"
    assert any(n.startswith(note) for n in entry["notes"]), entry["notes"]
    text = run_cli(model_path(MODEL), "--loss", loss, "-v", "--no-cache")
    assert note in " ".join(text.stdout.split())


ROWS = """
import keras
import tensorflow as tf


def rows():
    return keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(6), keras.layers.Reshape((2, 3))]
    )


def first_row_error(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_pred[:, 0] - y_true), axis=-1)  # ROW
"""


def test_probe_refutes_an_arithmetic_guess_on_a_rank_3_output(run_cli, tmp_path: Path) -> None:
    # y_pred is (N, 2, 3): y_pred[:, 0] is (N, 3), like the targets, and nothing broadcasts
    pytest.importorskip("tensorflow_probability")
    path = tmp_path / "rows.py"
    path.write_text(textwrap.dedent(ROWS))
    args = (f"{path}:rows", "--loss", f"{path}:first_row_error", "--target-shape", "3")
    line = source_line("# ROW", path=path)
    (guess,) = static_findings(run_cli, *args)
    assert (guess["code"], guess["where"]["line"]) == ("TFP101", line)
    result = run_cli(*args, "--format", "json", "--no-cache")
    entry = result.json()["files"][0]
    assert entry["findings"] == []
    assert f"TFP101 guess at {path}:{line} refuted by the probe: " in " ".join(entry["notes"])
    assert "terms of shape (32, 3)" in " ".join(entry["notes"])
