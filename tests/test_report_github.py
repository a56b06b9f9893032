"""`--format github`: one workflow command per finding, escaped the way the runner reads them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import MODELS, ROOT, model_path, source_line

from tfpcheck.report.github_format import command, escape_data, escape_property

TFP202 = (
    "::error file=tfk_softmax_categorical.keras,title=tfpcheck TFP202::"
    "softmax output of Activation('softmax', name='softmax') is passed as logits to "
    "tfd.Categorical(logits=...) in 'label_dist': the distribution applies a second softmax, "
    "so probabilities are flattened and training is slow and wrong"
    "%0Aat layer 'softmax' (#1), function build_tfk_softmax_categorical.<locals>.<lambda>"
    "%0AFix: Feed raw logits: remove the layer Activation('softmax', name='softmax'), and keep "
    "tfd.Categorical(logits=t). Or keep the softmax and pass probabilities: "
    "tfd.Categorical(probs=t)."
)
TFP001 = (
    "::error file=not_a_model.keras,title=tfpcheck TFP001::not a Keras model: expected a "
    ".keras archive (zip), an .h5 file or a SavedModel directory; this file starts with text"
)
TFP301 = (
    "::warning file=tfk_normal_raw_scale.keras,title=tfpcheck TFP301::"
    "tfd.Normal(scale=t[..., 1:]) in 'normal' takes scale straight from the network's outputs: "
    "nothing keeps it positive, so log_prob returns NaN as soon as one value is <= 0"
    "%0Aat layer 'normal' (#1), function build_tfk_normal.<locals>.<lambda>"
    "%0AFix: Constrain it: scale=1e-3 + tf.math.softplus(t[..., 1:])."
)


def test_findings_and_file_errors_are_annotations_on_the_model(
    run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lambdas' source (recorded at build time) is outside fixtures/models, so every
    # annotation points at the model file, with no line.
    monkeypatch.chdir(MODELS)
    names = (
        "tfk_softmax_categorical.keras",
        "not_a_model.keras",
        "k3_softmax_probs.keras",
        "tfk_normal_raw_scale.keras",
    )
    result = run_cli("--static", "--format", "github", *(model_path(n) for n in names))
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [TFP202, TFP001, TFP301]
    assert result.stderr == ""


def test_finding_with_a_source_line_in_the_checkout_points_at_it(
    run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    result = run_cli(
        "--static",
        "--format",
        "github",
        "--loss",
        "fixtures/losses.py:mvn_full_cov_nll",
        "fixtures/models/k3_regression_dense2.keras",
    )
    line = source_line("MultivariateNormalFullCovariance(", path=ROOT / "fixtures" / "losses.py")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"::warning file=fixtures/losses.py,line={line},title=tfpcheck TFP304::"
        "'mvn_full_cov_nll' builds tfd.MultivariateNormalFullCovariance: the class is "
        "deprecated, and a covariance computed from network outputs is rarely positive "
        "definite: the Cholesky decomposition fails or log_prob is NaN"
        "%0Aat fixtures/models/k3_regression_dense2.keras, function mvn_full_cov_nll"
        "%0AFix: Parameterize the Cholesky factor instead: tfd.MultivariateNormalTriL("
        "loc=t[..., :d], scale_tril=tfp.bijectors.FillScaleTriL()(t[..., d:])) with "
        "d + d*(d+1)//2 inputs, or tfp.layers.MultivariateNormalTriL(d) after "
        "Dense(tfp.layers.MultivariateNormalTriL.params_size(d))."
    ]


def test_a_file_name_with_commas_colons_and_percent_is_escaped(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    awkward = tmp_path / "v1,final:100%.keras"
    shutil.copy(model_path("tfk_normal_raw_scale.keras"), awkward)
    monkeypatch.chdir(tmp_path)
    result = run_cli("--static", "--format", "github", str(awkward))
    (line,) = result.stdout.splitlines()
    assert line.startswith("::warning file=v1%2Cfinal%3A100%25.keras,title=tfpcheck TFP301::")


def test_escaping_rules() -> None:
    assert escape_data("100% sure\r\nnext: a,b") == "100%25 sure%0D%0Anext: a,b"
    assert escape_property("C:\\x,y%\n") == "C%3A\\x%2Cy%25%0A"
    assert command("notice", {"file": "a:b", "line": 3}, "50%\nok") == (
        "::notice file=a%3Ab,line=3::50%25%0Aok"
    )
