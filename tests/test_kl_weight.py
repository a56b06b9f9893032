"""TFP402 by the effective KL weight: what a Bayesian layer adds to model.losses over its KL.

The rule's decision table first (plain data), then real tf_keras models from
fixtures/factories/ probed in this process (TensorFlow is imported once for the module).
"""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any, Literal

import pytest
from conftest import FIXTURES
from probe_helpers import codes, errors, probe

from tfpcheck.evidence.observations import KLTerm
from tfpcheck.findings import Finding, Severity
from tfpcheck.probe import ProbeResult
from tfpcheck.rules.tfp402_kl_dominates_loss import problem_of

FACTORIES = FIXTURES / "factories"
FLIPOUT = FACTORIES / "flipout.py"
VARIATIONAL = FACTORIES / "variational.py"
TUTORIALS = FACTORIES / "tutorials.py"

needs_tfp = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_probability") is None, reason="needs the [tf] extra"
)


def _term(weight: float | None, kind: Literal["weights", "latent"] = "weights") -> KLTerm:
    return KLTerm("hidden", "hidden", "DenseFlipout", kind, "kernel", weight=weight)


@pytest.mark.parametrize(
    ("weight", "num_examples", "expected"),
    [
        (1.0, 1000, "unscaled"),
        (1.0, None, "unscaled"),  # a warning: the number of examples is not known
        (1 / 1000, 1000, None),
        (1.6 / 1000, 1000, None),  # within 2x of 1/N: a validation split, a rounded N
        (1 / 32, 1000, "misscaled"),  # divided by the batch size
        (1 / 10, 1000, "misscaled"),
        (1 / 60000, 1000, "misscaled"),  # divided by far too much
        (1 / 32, None, None),  # scaled by something: without N it cannot be judged
        (1.0, 1, None),  # one training example: 1/N is 1
        (1.0, 2, None),
        (None, 1000, None),  # not measured
        (-0.5, 1000, None),  # a Monte Carlo KL's noise, not a weight
    ],
)
def test_problem_of_weight(
    weight: float | None, num_examples: int | None, expected: str | None
) -> None:
    assert problem_of(_term(weight), num_examples) == expected


def test_a_latent_kl_is_never_judged_by_the_number_of_examples() -> None:
    # a VAE's KLDivergenceRegularizer of weight 1: per example, averaged over the batch
    assert problem_of(_term(1.0, kind="latent"), 60000) is None
    assert problem_of(_term(1.0, kind="latent"), None) is None


# ---- real models ---------------------------------------------------------------------------


def only(result: ProbeResult, code: str) -> Finding:
    found = [f for f in result.findings if f.code == code]
    assert len(found) == 1, f"{code}: {[(f.code, f.message) for f in result.findings]}"
    assert found[0].tier == "probe"
    return found[0]


def _import(path: Any) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"kl_fixture_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_tfp
def test_unscaled_flipout_with_num_examples_is_an_error_with_the_exact_fix() -> None:
    finding = only(probe(f"{FLIPOUT}:build_model", num_examples=1000), "TFP402")
    ev = finding.evidence
    assert finding.severity == Severity.ERROR
    assert (finding.where.layer, finding.where.layer_index) == ("hidden", 0)
    assert ev["problem"] == "unscaled" and ev["layer_class"] == "DenseFlipout"
    # the default divergence is the analytic KL itself: the weight is exactly 1
    assert ev["effective_weight"] == pytest.approx(1.0, abs=1e-3)
    assert ev["kl_method"] == "analytic" and ev["weight_measured_against"] == "prior"
    assert ev["added"] == pytest.approx(ev["kl"], rel=1e-3)
    assert ev["expected_divisor"] == 1000 and ev["num_examples"] == 1000
    assert set(ev["weights_by_layer"]) == {"hidden", "params"}
    assert ev["ratio"] > 10
    assert "1/1000" in finding.message and "'params'" in finding.message
    assert "'hidden', 'params'" in finding.fix
    assert "kernel_divergence_fn=lambda q, p, _: tfd.kl_divergence(q, p) / 1000" in finding.fix


@needs_tfp
def test_unscaled_flipout_without_num_examples_is_a_warning_asking_for_it() -> None:
    result = probe(f"{FLIPOUT}:build_model")
    finding = only(result, "TFP402")
    assert finding.severity == Severity.WARNING and errors(result) == []
    assert finding.where.layer == "hidden"
    assert finding.evidence["effective_weight"] == pytest.approx(1.0, abs=1e-3)
    assert finding.evidence["expected_divisor"] is None
    assert "--num-examples" in finding.message and "--num-examples" in finding.fix
    assert "tfd.kl_divergence(q, p) / NUM_EXAMPLES" in finding.fix


@needs_tfp
def test_kl_scaled_by_num_examples_is_clean_even_when_it_dwarfs_the_data_loss() -> None:
    import tensorflow as tf

    # The premise: scaled right, the KL of 17 664 weights is still over 10x the NLL.
    model, loss = _import(FLIPOUT).build_wide_scaled()
    x = tf.random.stateless_normal((32, 8), seed=(1, 2))
    y = tf.random.stateless_normal((32, 1), seed=(3, 4))
    out = model(x)
    kl = float(tf.add_n(model.losses))
    nll = float(tf.reduce_mean(loss(y, out)))
    assert kl > 10 * abs(nll)

    result = probe(f"{FLIPOUT}:build_wide_scaled", num_examples=1000)
    assert "TFP402" not in codes(result) and errors(result) == []


@needs_tfp
def test_kl_scaled_by_the_batch_size_names_both_divisors() -> None:
    finding = only(probe(f"{FLIPOUT}:build_batch_scaled", num_examples=1000), "TFP402")
    ev = finding.evidence
    assert finding.severity == Severity.ERROR and ev["problem"] == "misscaled"
    assert finding.where.layer in {"wide1", "wide2", "params"}
    assert ev["effective_weight"] == pytest.approx(1 / 32, rel=1e-3)
    assert ev["divisor"] == pytest.approx(32, rel=1e-3) and ev["expected_divisor"] == 1000
    assert all(w == pytest.approx(1 / 32, rel=1e-3) for w in ev["weights_by_layer"].values())
    assert ev["ratio"] > 10
    assert "divides the KL of its kernel by 32" in finding.message
    assert "not by the 1000 training examples" in finding.message
    assert "tfd.kl_divergence(q, p) / 1000)  # not / 32" in finding.fix


@needs_tfp
def test_dense_variational_with_kl_weight_one_over_n_is_clean() -> None:
    result = probe(f"{VARIATIONAL}:build_scaled", num_examples=500)
    assert "TFP402" not in codes(result) and errors(result) == []


@needs_tfp
def test_dense_variational_with_kl_weight_one_is_reported() -> None:
    finding = only(probe(f"{VARIATIONAL}:build_unscaled", num_examples=500), "TFP402")
    ev = finding.evidence
    assert finding.severity == Severity.ERROR and ev["problem"] == "unscaled"
    assert (finding.where.layer, finding.where.layer_index) == ("hidden", 0)
    assert ev["layer_class"] == "DenseVariational" and ev["part"] == "kernel and bias"
    # the layer's KL is a Monte Carlo estimate: its average over draws is about the KL
    assert ev["effective_weight"] == pytest.approx(1.0, rel=0.2)
    assert set(ev["weights_by_layer"]) == {"hidden", "params"}
    assert ev["expected_divisor"] == 500 and ev["ratio"] > 10
    assert "DenseVariational(..., kl_weight=1 / 500)" in finding.fix

    unknown = only(probe(f"{VARIATIONAL}:build_unscaled"), "TFP402")
    assert unknown.severity == Severity.WARNING
    assert "kl_weight=1 / NUM_EXAMPLES" in unknown.fix


@needs_tfp
def test_trainable_prior_weight_is_measured_against_a_reference_prior() -> None:
    # The tutorial's prior starts where its posterior does (KL 0 at initialization): the
    # weight 1/150 is read from the layer's penalty on a pair whose KL is not 0.
    assert errors(probe(f"{TUTORIALS}:build_epistemic", num_examples=150)) == []
    finding = only(probe(f"{TUTORIALS}:build_epistemic", num_examples=10000), "TFP402")
    ev = finding.evidence
    assert ev["problem"] == "misscaled" and ev["weight_measured_against"] == "reference"
    assert ev["divisor"] == pytest.approx(150, rel=0.3) and ev["expected_divisor"] == 10000


@needs_tfp
def test_vae_latent_kl_is_not_reported_as_unscaled() -> None:
    # KLDivergenceRegularizer(prior) has weight 1, and that is the per-example ELBO.
    result = probe(f"{TUTORIALS}:build_vae", num_examples=60000)
    assert "TFP402" not in codes(result) and errors(result) == []


@needs_tfp
def test_custom_kl_layer_is_judged_by_size_as_a_warning() -> None:
    finding = only(probe(f"{VARIATIONAL}:build_custom_kl", num_examples=500), "TFP402")
    assert finding.severity == Severity.WARNING
    assert (finding.where.layer, finding.where.layer_index) == ("bayesian_scale", 0)
    assert finding.evidence["ratio"] > 10
    assert "not one of tfp.layers' Bayesian layers" in finding.message
    assert "/ 500" in finding.fix
