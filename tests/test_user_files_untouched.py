"""Nothing the user owns is modified, and nothing is written next to it: model files keep their
bytes through a probe, and importing a factory, a loss or custom objects leaves no __pycache__.

All on copies in tmp_path, so that the whole directory can be compared before and after.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import model_path

from tfpcheck.probe.supervisor import SUPERVISOR

PROBED = (
    "k3_softmax_from_logits.keras",
    "tfk_softmax_categorical.keras",  # serialized code: loaded with --unsafe
    "tfk_categorical_logits.h5",
    "tfk_savedmodel",
)


def _snapshot(root: Path) -> dict[str, str]:
    """Every file and directory under root, with the hash of each file's bytes."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "/"
        for p in sorted(root.rglob("*"))
    }


def test_probe_leaves_model_files_byte_for_byte(run_cli, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in PROBED:
        source = Path(model_path(name))
        if source.is_dir():
            shutil.copytree(source, folder / name)
        else:
            shutil.copy(source, folder / name)
    before = _snapshot(folder)
    assert len(before) > len(PROBED)

    result = run_cli("--format", "json", "--unsafe", *(str(folder / n) for n in PROBED))
    files = result.json()["files"]
    assert [f["error"] for f in files] == [None] * len(PROBED)
    # the probe really loaded each of them (a probe finding or a clean probe)
    assert [f["code"] for f in files[0]["findings"]] == ["TFP202"]
    assert "TFP202" in [f["code"] for f in files[1]["findings"]]
    assert all(f["tier"] == "probe" for f in files[0]["findings"] + files[1]["findings"])

    assert _snapshot(folder) == before


HELPERS = """\
def scale(x):
    return 2.0 * x
"""
MODELS = """\
import tf_keras as tfk
from helpers import scale


def build():
    assert scale(1.0) == 2.0
    return tfk.Sequential([tfk.Input((3,)), tfk.layers.Dense(1, name="out")])
"""
LOSSES = """\
import tensorflow as tf


def scaled_mse(y_true, y_pred):
    from lazy_helper import weight  # imported only when the loss runs

    return weight() * tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)
"""
LAZY = """\
def weight():
    return 1.0
"""
CUSTOM = """\
import tf_keras as tfk


class Unused(tfk.layers.Layer):
    pass
"""


@pytest.fixture(scope="module")
def bytecode_allowed() -> Iterator[None]:
    """Python as most users run it: free to write __pycache__ (many CI images say otherwise,
    which would hide a write). The probe worker starts afresh, once, in this environment."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
        patch.setattr(sys, "dont_write_bytecode", False)
        SUPERVISOR.shutdown()
        yield


@pytest.fixture
def project(tmp_path: Path, bytecode_allowed: None) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    for name, text in {
        "helpers.py": HELPERS,
        "models.py": MODELS,
        "losses.py": LOSSES,
        "lazy_helper.py": LAZY,
        "custom.py": CUSTOM,
    }.items():
        (root / name).write_text(text)
    return root


def test_factory_and_loss_imports_write_no_bytecode(run_cli, project: Path) -> None:
    before = _snapshot(project)
    result = run_cli(
        "--format",
        "json",
        "--loss",
        f"{project / 'losses.py'}:scaled_mse",
        "--custom-objects",
        str(project / "custom.py"),
        f"{project / 'models.py'}:build",
    )
    (file_result,) = result.json()["files"]
    assert file_result["error"] is None
    # the loss ran (and with it the lazy import): no finding says it failed
    assert "TFP108" not in [f["code"] for f in file_result["findings"]]
    assert not list(project.rglob("__pycache__"))
    assert _snapshot(project) == before


def test_module_factory_from_the_current_directory(
    run_cli, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`module:NAME` resolves against the caller's directory, also in the probe worker."""
    monkeypatch.chdir(project)
    before = _snapshot(project)
    result = run_cli("--format", "json", "--loss", "losses:scaled_mse", "models:build")
    (file_result,) = result.json()["files"]
    assert file_result["error"] is None
    assert "TFP108" not in [f["code"] for f in file_result["findings"]]
    assert not list(project.rglob("__pycache__"))
    assert _snapshot(project) == before
