"""--jobs: models probed at once in workers of their own, reported in the order given, with
the verdicts of one at a time; and the stages each probe reports for the live display."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, model_path

from tfpcheck.engine import CheckOptions, check_paths, default_jobs
from tfpcheck.losses import parse_loss_spec
from tfpcheck.machine import usable_cores

MODELS = (
    "tfk_normal_dense64_relu.keras",
    "k3_softmax_from_logits.keras",
    "tfk_cnn_onehot_cce.keras",
    "k3_linear_cce.keras",
)
CRASHING = """\
import os


def abort():
    os.abort()
"""


def _entries(result: Any) -> list[dict[str, Any]]:
    files = result.json()["files"]
    for entry in files:
        entry.pop("cached")
    return files  # type: ignore[no-any-return]


def test_two_jobs_report_in_input_order_what_one_job_reports(run_cli, tmp_path: Path) -> None:
    crashing = tmp_path / "crashing.py"
    crashing.write_text(CRASHING)
    paths = [model_path(MODELS[0]), f"{crashing}:abort", *map(model_path, MODELS[1:])]
    args = ("--no-cache", "--unsafe", "--format", "json", *paths)
    serial, parallel = run_cli("-j", "1", *args), run_cli("--jobs", "2", *args)
    assert parallel.exit_code == serial.exit_code == 1
    assert [e["path"] for e in _entries(parallel)] == paths
    assert _entries(parallel) == _entries(serial)
    by_path = {e["path"]: e for e in _entries(parallel)}
    # the crash is its model's finding; the models after it were still checked
    assert [f["code"] for f in by_path[f"{crashing}:abort"]["findings"]] == ["TFP008"]
    assert "TFP202" in [f["code"] for f in by_path[model_path(MODELS[1])]["findings"]]
    assert "TFP201" in [f["code"] for f in by_path[model_path(MODELS[2])]["findings"]]


def test_each_probe_says_its_stages_in_order() -> None:
    seen: list[tuple[str, str]] = []
    path = model_path("k3_regression_dense2.keras")
    options = CheckOptions(
        loss=parse_loss_spec(f"{FIXTURES / 'losses.py'}:normal_nll_rank_dropping"),
        use_cache=False,
    )
    (result,) = check_paths([path], options, on_stage=lambda p, s: seen.append((p, s)))
    assert result.probed, [(f.message, f.evidence) for f in result.findings]
    assert "TFP101" in [f.code for f in result.findings if f.tier == "probe"]
    assert {p for p, _ in seen} == {path}, seen
    stages = [stage for p, stage in seen if p == path]
    stages = [s for s in stages if s != "importing TensorFlow"]  # when no worker ran yet
    assert stages == [
        "loading",
        "forward passes at batch 1 and 32",
        "loss and gradients at batch 1 and 32",
        "running examples one at a time",
        "checking the rules",
    ]


def test_the_default_is_one_job_per_core_as_memory_allows() -> None:
    jobs = default_jobs()
    assert 1 <= jobs <= usable_cores()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-j", "0"), "Invalid value for '-j' / '--jobs': "),
        (("--jobs", "many"), "Invalid value for '-j' / '--jobs': "),
    ],
)
def test_bad_jobs_are_usage_errors(run_cli, args: tuple[str, ...], message: str) -> None:
    result = run_cli(*args, "--static", model_path(MODELS[1]))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"tfpcheck: error: {message}")
    assert result.stderr.endswith(" (tfpcheck --help)\n") and result.stderr.count("\n") == 1


def test_jobs_in_the_configuration(run_cli, tmp_path: Path) -> None:
    config = tmp_path / "tfpcheck.toml"
    config.write_text("jobs = 0\n")
    result = run_cli("--config", str(config), "--static", model_path(MODELS[1]))
    assert result.exit_code == 2
    assert "jobs = 0: must be an integer >= 1" in result.stderr
    config.write_text("jobs = 2\n[[models]]\npath = '*.keras'\njobs = 1\n")
    nested = run_cli("--config", str(config), "--static", model_path(MODELS[1]))
    assert "'jobs' applies to the whole run" in nested.stderr
    config.write_text("jobs = 2\n")
    fine = run_cli("--config", str(config), "--static", "--format", "json", model_path(MODELS[1]))
    assert fine.exit_code == 1 and json.loads(fine.stdout)["files"][0]["probed"] is False


def test_a_path_given_twice_is_probed_once_with_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFPCHECK_CACHE_DIR", str(tmp_path / "cache"))  # empty: nothing cached
    first, second = model_path(MODELS[1]), model_path(MODELS[3])
    options = CheckOptions(jobs=2)
    results = check_paths([first, second, first], options)
    assert [r.path for r in results] == [first, second, first]
    assert [r.cached for r in results] == [False, False, True]
    assert results[0] == results[2]
