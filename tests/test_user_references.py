"""A FILE.py:NAME or module:NAME that names nothing is a usage error (exit 2), not a finding."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, model_path

pytest.importorskip("tensorflow_probability")

MODEL = "k3_softmax_probs.keras"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--loss", "no_such_file.py:nll"], "no such file: no_such_file.py"),
        (
            ["--loss", f"{FIXTURES / 'losses.py'}:no_such_loss"],
            f"{FIXTURES / 'losses.py'} defines no 'no_such_loss'",
        ),
        (["--loss", "no_such_module_xyz:nll"], "no module named 'no_such_module_xyz'"),
        (["--custom-objects", "no_such_file.py"], "no such file: no_such_file.py"),
    ],
)
def test_a_loss_or_custom_objects_reference_that_names_nothing(
    run_cli, args: list[str], message: str
) -> None:
    result = run_cli("--no-cache", "--format", "json", *args, model_path(MODEL))
    assert result.exit_code == 2, result.stdout
    [entry] = result.json()["files"]
    assert entry["error"]["code"] == "usage"
    assert message in entry["error"]["message"]
    assert entry["findings"] == []  # nothing from other functions of the loss file
    assert "Traceback" not in result.stdout + result.stderr


def test_a_directory_is_not_a_loss_file(run_cli, tmp_path: Path) -> None:
    result = run_cli(
        "--no-cache", "--format", "json", "--loss", f"{tmp_path}:nll", model_path(MODEL)
    )
    assert result.exit_code == 2
    assert result.json()["files"][0]["error"]["message"] == (
        f"{tmp_path} is a directory, not a Python file"
    )


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("no_such_file.py:build_model", "no such file: no_such_file.py"),
        (
            f"{FIXTURES / 'factories' / 'flipout.py'}:no_such_factory",
            "flipout.py defines no 'no_such_factory'",
        ),
    ],
)
def test_a_factory_reference_that_names_nothing(run_cli, factory: str, message: str) -> None:
    result = run_cli("--no-cache", "--format", "json", factory)
    assert result.exit_code == 2
    [entry] = result.json()["files"]
    assert entry["error"]["code"] == "usage"
    assert message in entry["error"]["message"]
