"""TFP105 for built-in tfp.layers heads: the width each one receives against its params_size.

The factories in fixtures/factories/params_width.py build real tf_keras models; each is
checked end to end (its description and the probe, merged). The params_size formulas are
checked against the installed TFP, and the live reader against real layers.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import FIXTURES, ROOT

tfp = pytest.importorskip("tensorflow_probability")
tfpl = tfp.layers

from tfpcheck.probe.head_inputs import live_head_spec  # noqa: E402
from tfpcheck.rules.params_size import HeadSpec  # noqa: E402

FACTORIES = FIXTURES / "factories" / "params_width.py"
ISSUE_1379 = ROOT / "tests" / "corpus" / "tfp_issue_1379_independent_normal_params_size.py"


def _real_params_size(spec: HeadSpec) -> int:
    """The installed TFP's own params_size for the same arguments."""
    cls = getattr(tfpl, spec.layer_class)
    event: Any = list(spec.event_shape) if len(spec.event_shape) != 1 else spec.event_shape[0]
    if spec.layer_class == "MixtureSameFamily":
        assert spec.component is not None
        size = cls.params_size(spec.num_components, _real_params_size(spec.component))
    elif spec.layer_class == "CategoricalMixtureOfOneHotCategorical":
        size = cls.params_size(event, spec.num_components)
    elif spec.layer_class in {"MixtureNormal", "MixtureLogistic"}:
        size = cls.params_size(spec.num_components, event)
    else:
        size = cls.params_size(event)
    return int(size)


SPECS = [
    *(
        HeadSpec(cls, (n,))
        for cls in ("OneHotCategorical", "MultivariateNormalTriL")
        for n in (1, 2, 5)
    ),
    *(
        HeadSpec(cls, shape)
        for cls in (
            "IndependentNormal",
            "IndependentLogistic",
            "IndependentBernoulli",
            "IndependentPoisson",
        )
        for shape in ((), (1,), (3,), (4, 4))
    ),
    *(
        HeadSpec(cls, shape, k)
        for cls in ("MixtureNormal", "MixtureLogistic")
        for shape, k in (((), 3), ((2,), 3), ((2, 2), 4))
    ),
    HeadSpec("CategoricalMixtureOfOneHotCategorical", (2,), 3),
    HeadSpec("CategoricalMixtureOfOneHotCategorical", (10,), 5),
    HeadSpec("MixtureSameFamily", (), 3, HeadSpec("MultivariateNormalTriL", (2,))),
    HeadSpec("MixtureSameFamily", (), 5, HeadSpec("IndependentNormal", (1,))),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.render())
def test_params_size_formula_is_tfps(spec: HeadSpec) -> None:
    assert spec.params_size == _real_params_size(spec)


LIVE_LAYERS = [
    (
        lambda: tfpl.IndependentNormal(tfpl.IndependentNormal.params_size(2)),
        HeadSpec("IndependentNormal", (4,)),
    ),
    (lambda: tfpl.IndependentNormal(), HeadSpec("IndependentNormal", ())),
    (lambda: tfpl.IndependentBernoulli((4, 4)), HeadSpec("IndependentBernoulli", (4, 4))),
    (lambda: tfpl.MultivariateNormalTriL(2), HeadSpec("MultivariateNormalTriL", (2,))),
    (lambda: tfpl.OneHotCategorical(10), HeadSpec("OneHotCategorical", (10,))),
    (lambda: tfpl.MixtureNormal(3, [2]), HeadSpec("MixtureNormal", (2,), 3)),
    (
        lambda: tfpl.CategoricalMixtureOfOneHotCategorical(2, 3),
        HeadSpec("CategoricalMixtureOfOneHotCategorical", (2,), 3),
    ),
    (
        lambda: tfpl.MixtureSameFamily(3, tfpl.MultivariateNormalTriL(2)),
        HeadSpec("MixtureSameFamily", (), 3, HeadSpec("MultivariateNormalTriL", (2,))),
    ),
]


@pytest.mark.parametrize("build, expected", LIVE_LAYERS, ids=lambda v: getattr(v, "render", str)())
def test_live_layer_arguments(build: Any, expected: HeadSpec) -> None:
    assert live_head_spec(build()) == expected


def test_a_plain_distribution_lambda_is_no_builtin_head() -> None:
    assert live_head_spec(tfpl.DistributionLambda(lambda t: t)) is None


def _findings(run_cli, reference: str) -> list[dict[str, Any]]:
    result = run_cli(reference, "--loss", "nll", "--no-cache", "--format", "json")
    (entry,) = result.json()["files"]
    assert entry["error"] is None, entry["error"]
    return [f for f in entry["findings"] if f["severity"] in ("error", "warning")]


def _only_tfp105(run_cli, factory: str) -> dict[str, Any]:
    findings = _findings(run_cli, f"{FACTORIES}:{factory}")
    assert [f["code"] for f in findings] == ["TFP105"], findings  # no TFP108 beside it
    return findings[0]


def test_independent_normal_given_its_parameter_count_as_event_shape(run_cli) -> None:
    finding = _only_tfp105(run_cli, "independent_normal_event_is_params_size")
    assert finding["tier"] == "probe"
    assert (finding["where"]["layer"], finding["where"]["layer_index"]) == ("normal", 1)
    evidence = finding["evidence"]
    assert (evidence["units"], evidence["params_size"]) == (4, 8)
    assert evidence["units_layer"] == "params"  # from the description
    assert evidence["input_shape"] == "(32, 4)"  # from the probe
    assert evidence["event_is_params_size_of"] == 2
    assert evidence["op"] == "Reshape" and evidence["batch_sizes"] == [1, 32]
    assert "4 is IndependentNormal.params_size(2)" in finding["message"]
    fix = finding["fix"]
    assert "IndependentNormal(2) consumes the 4 values" in fix
    assert "change Dense(4, name='params') to Dense(8, name='params')" in fix


def test_independent_normal_after_conv_and_flatten(run_cli) -> None:
    # Flatten's width is not in the description: only the probe sees the 16 values.
    finding = _only_tfp105(run_cli, "independent_normal_conv_flatten")
    assert (finding["where"]["layer"], finding["where"]["layer_index"]) == ("normal", 2)
    evidence = finding["evidence"]
    assert (evidence["units"], evidence["params_size"]) == (16, 32)
    assert evidence["input_shape"] == "(32, 16)" and evidence["input_from"] == "flatten"
    assert "units_layer" not in evidence and "event_is_params_size_of" not in evidence
    assert finding["fix"] == (
        "Put Dense(32) between 'flatten' (Flatten) and 'normal' "
        "(tfp.layers.IndependentNormal.params_size((4, 4)) = 32)."
    )


def test_mvn_tril_fed_four_cannot_be_built(run_cli) -> None:
    result = run_cli(
        f"{FACTORIES}:mvn_tril_dense4", "--loss", "nll", "--no-cache", "--format", "json"
    )
    (entry,) = result.json()["files"]
    assert entry["probed"] is False and "TFP105" in entry["reason"]
    (finding,) = entry["findings"]
    assert finding["code"] == "TFP105"
    # the model does not exist, so no index; the factory line that connects the layer
    assert (finding["where"]["layer"], finding["where"]["layer_index"]) == ("mvn", None)
    assert finding["where"]["file"].endswith("params_width.py")
    evidence = finding["evidence"]
    assert (evidence["units"], evidence["params_size"]) == (4, 5)
    assert evidence["input_shape"] == "(None, 4)" and evidence["stage"] == "load"
    assert "does not correspond to a triangular matrix" in evidence["error"]
    assert finding["fix"] == (
        "Change Dense(4, name='params') to Dense(5, name='params') "
        "(tfp.layers.MultivariateNormalTriL.params_size(2) = 5)."
    )


def test_mixture_of_mvn_missing_its_logits(run_cli) -> None:
    finding = _only_tfp105(run_cli, "mixture_mvn_missing_logits")
    assert (finding["where"]["layer"], finding["where"]["layer_index"]) == ("mixture", 1)
    evidence = finding["evidence"]
    assert (evidence["units"], evidence["params_size"]) == (15, 18)
    assert evidence["head"] == "MixtureSameFamily(3, MultivariateNormalTriL(2))"
    assert evidence["missing_mixture_logits"] == 3
    assert evidence["units_layer"] == "params"  # the description holds the component's lambda
    # the failure is raised in the component layer; it is this finding's evidence
    assert "triangular matrix" in evidence["error"]
    assert "the 3 mixture logits are missing" in finding["message"]
    assert finding["fix"].startswith("Change Dense(15, name='params') to Dense(18, name='params')")
    assert (
        "MixtureSameFamily.params_size(3, tfp.layers.MultivariateNormalTriL.params_size(2))"
        in (finding["fix"])
    )


def test_onehot_categorical_fed_nine_logits_fails_silently(run_cli) -> None:
    finding = _only_tfp105(run_cli, "onehot_dense9")
    assert (finding["where"]["layer"], finding["where"]["layer_index"]) == ("onehot", 1)
    evidence = finding["evidence"]
    assert (evidence["units"], evidence["params_size"]) == (9, 10)
    assert evidence["input_shape"] == "(32, 9)" and "error" not in evidence
    assert "raises no error" in finding["message"]
    assert finding["fix"] == (
        "Change Dense(9, name='logits') to Dense(10, name='logits') "
        "(tfp.layers.OneHotCategorical.params_size(10) = 10)."
    )


@pytest.mark.parametrize(
    "factory, head, units, needed, missing_logits",
    [
        ("bernoulli_dense3", "IndependentBernoulli(4)", 3, 4, None),
        ("poisson_dense2", "IndependentPoisson(1)", 2, 1, None),
        ("logistic_dense1", "IndependentLogistic(1)", 1, 2, None),
        ("categorical_mixture_dense6", "CategoricalMixtureOfOneHotCategorical(2, 3)", 6, 9, 3),
        ("mixture_normal_dense6", "MixtureNormal(3, 1)", 6, 9, 3),
        ("mixture_logistic_dense8", "MixtureLogistic(2, 2)", 8, 10, 2),
    ],
)
def test_every_builtin_head_fed_the_wrong_width(
    run_cli, factory: str, head: str, units: int, needed: int, missing_logits: int | None
) -> None:
    finding = _only_tfp105(run_cli, factory)
    assert finding["where"]["layer"] == "head"
    evidence = finding["evidence"]
    assert (evidence["units"], evidence["params_size"], evidence["head"]) == (units, needed, head)
    assert evidence.get("missing_mixture_logits") == missing_logits
    assert f"Dense({needed}, name='params')" in finding["fix"]


@pytest.mark.parametrize(
    "factory",
    [
        "independent_normal_from_params_size",
        "independent_normal_conv2_flatten",
        "mvn_tril_dense5",
        "mixture_mvn",
        "onehot_dense10",
    ],
)
def test_heads_fed_their_params_size_are_clean(run_cli, factory: str) -> None:
    assert _findings(run_cli, f"{FACTORIES}:{factory}") == []


def test_issue_1379_names_the_event_shape_confusion(run_cli) -> None:
    (finding,) = _findings(run_cli, f"{ISSUE_1379}:build")
    assert finding["code"] == "TFP105"
    # The issue names no layer: Keras numbers them after the layers of the same class built
    # before in the probe worker.
    assert finding["where"]["layer"].startswith("independent_normal")
    assert finding["where"]["layer_index"] == 2
    evidence = finding["evidence"]
    assert (evidence["units"], evidence["params_size"]) == (8, 16)
    conv = evidence["units_layer"]
    assert conv.startswith("conv2d")
    assert evidence["input_shape"] == "(32, 6, 10, 8)"
    assert evidence["event_is_params_size_of"] == 4
    assert "IndependentNormal(4) consumes the 8 values it receives" in finding["fix"]
    assert f"give '{conv}' 16 filters: Conv2D(16, ..., name='{conv}')" in finding["fix"]


def test_broadcast_refers_to_the_width_finding(run_cli) -> None:
    """One cause, one fix: TFP104's broadcast comes from the width TFP105 names."""
    factory = FIXTURES / "factories" / "structural.py"
    findings = _findings(run_cli, f"{factory}:normal_dense64_relu")
    by_code = {f["code"]: f for f in findings if f["where"]["layer"] == "normal"}
    assert set(by_code) == {"TFP104", "TFP105"}
    assert "Dense(2)" in by_code["TFP105"]["fix"]
    assert by_code["TFP104"]["fix"] == "The width feeding 'normal' is the cause: see TFP105's fix."
