"""Same input, same verdict: a factory's random weights and the probe's data are seeded.

The factories build raw Dense outputs into a Gamma's concentration and rate: whether a value
<= 0 shows up depends on the weights drawn, so an unseeded probe gives different evidence (or
none) from run to run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FACTORY = """
import tensorflow_probability as tfp
import tf_keras as tfk

tfd = tfp.distributions


def build_tf_keras():
    return tfk.Sequential(
        [
            tfk.layers.InputLayer(input_shape=(4,)),
            tfk.layers.Dense(8, activation="relu"),
            tfk.layers.Dense(2),
            tfp.layers.DistributionLambda(
                lambda t: tfd.Gamma(concentration=t[..., :1], rate=t[..., 1:]), name="gamma"
            ),
        ]
    )


def build_keras3():
    import keras

    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)]
    )


def gamma_nll(y, p):
    return -tfd.Gamma(concentration=p[:, :1], rate=p[:, 1:]).log_prob(y)
"""


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seeded") / "gamma_models.py"
    path.write_text(FACTORY)
    return path


def verdict(report: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    (entry,) = report["files"]
    return [
        (
            f["code"],
            f["where"]["layer"],
            f["evidence"].get("min"),
            f["evidence"].get("non_positive"),
        )
        for f in entry["findings"]
    ]


CASES = {
    "tf_keras": ("build_tf_keras", "--loss", "nll"),
    "keras3": ("build_keras3", "--loss", "{dir}/gamma_models.py:gamma_nll", "--target-shape", "1"),
}


@pytest.mark.parametrize("flavor", sorted(CASES))
def test_five_checks_give_the_same_findings(run_cli, factory: Path, flavor: str) -> None:
    name, *options = CASES[flavor]
    args = [f"{factory}:{name}", *(o.format(dir=factory.parent) for o in options)]
    # In one process the worker is reused: nothing drawn by one check may leak into the next.
    runs = [verdict(run_cli(*args, "--no-cache", "--format", "json").json()) for _ in range(4)]
    # And a fresh process, with a fresh worker.
    fresh = subprocess.run(
        [sys.executable, "-m", "tfpcheck", *args, "--no-cache", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    runs.append(verdict(json.loads(fresh.stdout)))
    first = runs[0]
    assert [code for code, *_ in first] == ["TFP301"]  # the unconstrained concentration
    assert first[0][2] <= 0 < first[0][3]
    assert all(run == first for run in runs), runs


def test_a_factory_without_a_loss_is_probed_with_nll(run_cli, factory: Path) -> None:
    # as a saved model is: its distribution output is trained on -log_prob
    result = run_cli(f"{factory}:build_tf_keras", "--no-cache", "--format", "json")
    (entry,) = result.json()["files"]
    assert entry["error"] is None
    assert entry["probed"] is True
    assert (
        "no loss compiled or given: probing with --loss nll (-log_prob of the output)"
        in (entry["notes"])
    )
    assert [(f["code"], f["where"]["layer"]) for f in entry["findings"]] == [("TFP301", "gamma")]


def test_unnamed_layers_are_named_as_in_a_process_of_their_own(run_cli, tmp_path: Path) -> None:
    # Keras numbers unnamed layers per process: a worker that built models before must not
    # shift the names a finding points at
    unnamed = tmp_path / "unnamed.py"
    unnamed.write_text(
        "import tensorflow as tf\n"
        "import tensorflow_probability as tfp\n"
        "import tf_keras as tfk\n\n\n"
        "def build():\n"
        "    return tfk.Sequential([\n"
        "        tfk.Input(shape=(8,)),\n"
        "        tfk.layers.Dense(64),\n"
        "        tfp.layers.DistributionLambda(lambda t: tfp.distributions.Normal(\n"
        "            loc=t[..., :1], scale=tf.exp(t[..., 1:]))),\n"
        "    ])\n"
    )
    for _ in range(2):
        result = run_cli(f"{unnamed}:build", "--no-cache", "--format", "json")
        layers = {f["where"]["layer"] for f in result.json()["files"][0]["findings"]}
        assert layers == {"distribution_lambda"}, layers
