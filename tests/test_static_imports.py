"""The static path never imports TensorFlow, Keras or TFP (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import model_path

HEAVY = ("tensorflow", "tensorflow_probability", "keras", "tf_keras", "jax", "torch")

SCRIPT = """
import json, sys
from tfpcheck.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})
print(json.dumps({{"exit": code, "heavy": heavy}}), file=sys.stderr)
"""


def _run(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(heavy=set(HEAVY)), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(proc.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [
        ("--static", "tfk_softmax_categorical.keras"),
        ("--static", "tfk_softmax_categorical.h5"),
        ("--static", "k3_softmax_from_logits.keras"),
        ("--static", "--loss", "cce", "tfk_onehot_layer_cce.keras"),
        ("--static", "k3_lambda_py312.keras"),
        ("--static", "tfk_savedmodel"),
    ],
    ids=lambda a: a[-1],
)
def test_static_check_imports_no_tensorflow(args: tuple[str, ...]) -> None:
    *options, name = args
    result = _run(*options, model_path(name))
    assert result["heavy"] == []
    assert result["exit"] in (0, 1)


@pytest.mark.parametrize(
    "args",
    [
        ("rules",),
        ("rules", "--format", "json"),
        ("explain", "TFP202"),
        ("doctor",),
        ("doctor", "--format", "json"),
        ("--version",),
        ("--help",),
    ],
)
def test_commands_import_no_tensorflow(args: tuple[str, ...]) -> None:
    result = _run(*args)
    assert result["heavy"] == []
    assert result["exit"] == 0


@pytest.mark.parametrize("fmt", ["json", "sarif", "github"])
def test_machine_formats_import_no_tensorflow(fmt: str) -> None:
    result = _run("--static", "--format", fmt, model_path("tfk_softmax_categorical.keras"))
    assert result["heavy"] == []
    assert result["exit"] == 1
