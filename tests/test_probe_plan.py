"""The probe's plan: a model whose forward pass is expensive gets fewer passes, and every rule
still finds what the full plan finds (TFP107, which needs all N examples alone, aside).

The plan is forced by lowering the threshold in this process, on the real probe.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import FIXTURES, model_path

from tfpcheck.losses import parse_loss_spec
from tfpcheck.probe import plan as probe_plan

pytest.importorskip("tensorflow_probability")

from tfpcheck.probe import ProbeRequest, ProbeResult, run_probe

FACTORIES = """
import keras
import tensorflow as tf


def _mlp(*middle):
    return keras.Sequential([keras.Input(shape=(4,)), *middle, keras.layers.Dense(1, name="out")])


def batch_coupled():
    return _mlp(keras.layers.Lambda(lambda x: x - tf.reduce_mean(x, axis=0), name="center"))


def stopped():
    return _mlp(
        keras.layers.Dense(3, name="frozen_path"),
        keras.layers.Lambda(tf.stop_gradient, name="stop"),
    )
"""


@pytest.fixture(scope="module")
def factories(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plan") / "plan_factories.py"
    path.write_text(textwrap.dedent(FACTORIES))
    return path


def _probe(path: str, loss: str | None, **options: object) -> ProbeResult:
    spec = parse_loss_spec(loss) if loss else None
    return run_probe(ProbeRequest(path=path, flavor=None, loss=spec, unsafe=True, **options))  # type: ignore[arg-type]


CASES = [
    ("k3_regression_dense2.keras", f"{FIXTURES / 'losses.py'}:normal_nll_rank_dropping", {}),
    ("tfk_softmax_categorical.keras", "nll", {}),
    ("tfk_normal_dense64_relu.keras", "nll", {}),
    ("tfk_cnn_onehot_cce.keras", None, {}),
    (str(FIXTURES / "factories" / "flipout.py") + ":build_model", None, {"num_examples": 1000}),
    ("batch_coupled", "mse", {}),
    ("stopped", "mse", {}),
]


def _target(name: str, factories: Path) -> str:
    if name.endswith((".keras", ".h5")):
        return model_path(name)
    return name if ":" in name else f"{factories}:{name}"


@pytest.mark.parametrize(("name", "loss", "options"), CASES, ids=[c[0] for c in CASES])
def test_the_cheap_plan_finds_what_the_full_plan_finds(
    name: str,
    loss: str | None,
    options: dict[str, object],
    factories: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = _target(name, factories)
    full = _probe(path, loss, **options)
    assert not any(n.startswith("probe plan:") for n in full.notes)  # a small model
    monkeypatch.setattr(probe_plan, "EXPENSIVE_SECONDS", -1.0)  # every model is expensive
    cheap = _probe(path, loss, **options)
    assert any(n.startswith("probe plan: a forward pass at batch 32 takes") for n in cheap.notes)
    found = {(f.code, f.severity) for f in full.findings if f.code != "TFP107"}
    assert {(f.code, f.severity) for f in cheap.findings} == found
    assert found, "each case has a finding to keep"


def test_a_cheap_plan_says_what_it_left_out() -> None:
    cheap, full = probe_plan.ProbePlan(2.0, True), probe_plan.plan_for(0.01)
    assert not full.economical and full.note(32) is None
    assert full.singles_limit is None and full.traced_singles and full.stochastic_batch(32) == 32
    assert cheap.singles_limit == probe_plan.FEW_EXAMPLES and not cheap.traced_singles
    assert cheap.stochastic_batch(32) == 1 and not cheap.gradients_for_other_targets
    assert cheap.note(32) == (
        "probe plan: a forward pass at batch 32 takes 2.0 s, so gradients only for the first "
        "target shape, the stochastic check at batch 1, and 4 examples alone for TFP106 "
        "(TFP107 skipped)"
    )
    assert probe_plan.plan_for(probe_plan.EXPENSIVE_SECONDS + 0.1).economical
