"""A saved model's compile config is restored only when its loss is the one probed.

A model compiled with a custom Loss class records the class's module; restoring it imports
that module, which only works from some directories. With `--loss` given, the verdict must
not depend on where tfpcheck runs.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("tensorflow_probability")

LOSSES = """
import keras


@keras.saving.register_keras_serializable(package="project_losses")
class ScaledMSE(keras.losses.Loss):
    def call(self, y_true, y_pred):
        return keras.ops.mean((y_true - y_pred) ** 2, axis=-1)


def mse(y_true, y_pred):
    return keras.ops.mean((y_true - y_pred) ** 2, axis=-1)
"""

BUILD = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
sys.path.insert(0, sys.argv[1])
import keras
import project_losses

model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, name="out")])
model.compile(loss=project_losses.ScaledMSE())
model.save(os.path.join(sys.argv[1], "custom_loss.keras"))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "project_losses.py").write_text(textwrap.dedent(LOSSES))
    subprocess.run(
        [sys.executable, "-c", BUILD, str(root)], check=True, capture_output=True, timeout=300
    )
    return root


@pytest.mark.parametrize("where", ["project", "elsewhere"])
def test_a_given_loss_does_not_need_the_compiled_one(
    run_cli, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    if where == "elsewhere":  # another project's module of the same name, here
        (tmp_path / "project_losses.py").write_text("raise RuntimeError('not this one')\n")
    monkeypatch.chdir(project if where == "project" else tmp_path)
    model = str(project / "custom_loss.keras")
    loss = f"{project / 'project_losses.py'}:mse"
    result = run_cli(model, "--loss", loss, "--no-cache", "--format", "json")
    (entry,) = result.json()["files"]
    assert entry["error"] is None
    assert (entry["probed"], entry["findings"]) == (True, [])
    assert result.exit_code == 0
