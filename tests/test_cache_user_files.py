"""A cached result follows the user's modules the probe imported: editing one that a factory,
a loss or --custom-objects imports changes the cached verdict, both ways (real probes)."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import model_path

from tfpcheck import cache
from tfpcheck.engine import CheckOptions, check_path, check_paths
from tfpcheck.findings import FileResult
from tfpcheck.losses import parse_loss_spec

pytest.importorskip("tensorflow_probability")

NLL = CheckOptions(loss=parse_loss_spec("nll"))
# Dense(UNITS) feeds a Normal taking t[..., :1] and softplus(t[..., 1:]): with 2 units each
# parameter gets one value; with 64 the scale gets 63 and every example 63 distributions.
FACTORY = """\
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as tfk

from {module} import UNITS

tfd = tfp.distributions


def build_model():
    return tfk.Sequential(
        [
            tfk.Input(shape=(8,)),
            tfk.layers.Dense(UNITS, name="params"),
            tfp.layers.DistributionLambda(
                lambda t: tfd.Normal(loc=t[..., :1], scale=tf.math.softplus(t[..., 1:])),
                name="normal",
            ),
        ]
    )
"""
# Where UNITS is defined: (files of the layout, the module the factory imports).
LAYOUTS = {
    "package": (("lib/__init__.py", "lib/heads.py"), "lib.heads"),
    "namespace-package": (("lib/heads.py",), "lib.heads"),
    "sibling": (("heads.py",), "heads"),
}


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("TFPCHECK_CACHE_DIR", str(directory))
    return directory


class CountingCheck:
    """The real check_path, counting how often the cache let it run."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, path: str, options: CheckOptions) -> FileResult:
        self.calls += 1
        return check_path(path, options)


def _project(root: Path, layout: str, units: int) -> tuple[str, Path]:
    """The factory spec and the file defining UNITS."""
    files, module = LAYOUTS[layout]
    root.mkdir(parents=True, exist_ok=True)
    (root / "factory.py").write_text(FACTORY.format(module=module))
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    units_file = root / files[-1]
    units_file.write_text(f"UNITS = {units}\n")
    return f"{root / 'factory.py'}:build_model", units_file


def _entry(directory: Path) -> dict:
    [entry] = [p for p in directory.rglob("*.json")]
    return json.loads(entry.read_text())


def _assert_broadcast(result: FileResult) -> None:
    # the probe sees the broadcast (TFP104); the model's description, Dense(64) into a head
    # that reads two parameters (TFP105)
    assert [(f.code, f.where.layer) for f in result.findings] == [
        ("TFP104", "normal"),
        ("TFP105", "normal"),
    ]
    finding = result.findings[0]
    assert finding.where.layer == "normal"
    assert finding.evidence["batch_shape"] == "(32, 63)"
    assert finding.evidence["parameters_at_32"] == {"loc": "(32, 1)", "scale": "(32, 63)"}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_editing_an_imported_module_changes_the_cached_verdict(
    cache_dir: Path, tmp_path: Path, layout: str
) -> None:
    spec, units = _project(tmp_path / "project", layout, 2)
    counter = CountingCheck()

    def check() -> FileResult:
        return cache.cached_check(spec, NLL, counter, is_factory=True)

    clean = check()
    assert (clean.findings, clean.error, clean.cached) == ((), None, False)
    imported = [path for path, _ in _entry(cache_dir)["user_files"]]
    assert imported == sorted(
        [os.path.abspath(spec.rpartition(":")[0]), *(str(p) for p in _layout_files(units))]
    )
    assert check().cached and counter.calls == 1

    units.write_text("UNITS = 64\n")  # the bug
    broken = check()
    assert (broken.cached, counter.calls) == (False, 2)
    _assert_broadcast(broken)
    served = check()
    assert (served.cached, counter.calls) == (True, 2)
    assert served == broken

    units.write_text("UNITS = 2\n")  # the fix
    fixed = check()
    assert (fixed.findings, fixed.cached, counter.calls) == ((), False, 3)


def _layout_files(units: Path) -> list[Path]:
    """The files of the layout the factory imports: a package's __init__ too."""
    init = units.parent / "__init__.py"
    return [init, units] if init.exists() else [units]


def test_the_command_line_says_what_the_cache_answered(
    run_cli, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tfpcheck factory.py:build_model`, run where the factory is, with lib/heads.py."""
    _, units = _project(tmp_path / "project", "package", 2)
    monkeypatch.chdir(tmp_path / "project")
    args = ("--loss", "nll", "--format", "json", "factory.py:build_model")

    def run() -> tuple[int, list[str], bool]:
        result = run_cli(*args)
        [entry] = result.json()["files"]
        return result.exit_code, [f["code"] for f in entry["findings"]], entry["cached"]

    assert run() == (0, [], False)
    assert run() == (0, [], True)
    units.write_text("UNITS = 64\n")
    assert run() == (1, ["TFP104", "TFP105"], False)
    assert run() == (1, ["TFP104", "TFP105"], True)
    units.write_text("UNITS = 2\n")
    assert run() == (0, [], False)


def test_two_factories_beside_namesake_modules_get_their_own(
    cache_dir: Path, tmp_path: Path
) -> None:
    """One worker probes both (one job): each factory imports the heads.py beside it."""
    narrow, narrow_units = _project(tmp_path / "narrow", "sibling", 2)
    wide, wide_units = _project(tmp_path / "wide", "sibling", 64)
    one_job = replace(NLL, jobs=1)
    first = check_paths([narrow, wide, narrow], one_job)
    assert [r.cached for r in first] == [False, False, True]
    assert first[0].findings == first[2].findings == ()
    _assert_broadcast(first[1])
    entries = [json.loads(p.read_text()) for p in sorted(cache_dir.rglob("*.json"))]
    by_factory = {e["result"]["path"]: {path for path, _ in e["user_files"]} for e in entries}
    assert str(narrow_units) in by_factory[narrow] and str(wide_units) not in by_factory[narrow]
    assert str(wide_units) in by_factory[wide] and str(narrow_units) not in by_factory[wide]
    again = check_paths([wide, narrow], one_job)
    assert [r.cached for r in again] == [True, True]
    assert again == [first[1], first[0]]


LOSS = """\
import tensorflow as tf
import tensorflow_probability as tfp

from loss_parts import loc_of

tfd = tfp.distributions


def nll(y_true, y_pred):
    return -tfd.Normal(loc=loc_of(y_pred), scale=tf.exp(y_pred[:, 1:2])).log_prob(y_true)
"""
KEEPS_RANK = "def loc_of(p):\n    return p[:, 0:1]\n"
DROPS_RANK = "def loc_of(p):\n    return p[:, 0]\n"  # (N,) against y_true (N, 1): TFP101


def test_modules_a_loss_and_custom_objects_import_are_followed(
    cache_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "my_loss.py").write_text(LOSS)
    parts = tmp_path / "loss_parts.py"
    parts.write_text(KEEPS_RANK)
    (tmp_path / "objects.py").write_text(
        "from object_parts import SCALE\n\n\ndef scaled(x):\n    return x * SCALE\n"
    )
    object_parts = tmp_path / "object_parts.py"
    object_parts.write_text("SCALE = 2\n")
    options = CheckOptions(
        loss=parse_loss_spec(f"{tmp_path / 'my_loss.py'}:nll"),
        target_shape=(1,),
        custom_objects=str(tmp_path / "objects.py"),
    )
    path = model_path("k3_regression_dense2.keras")
    counter = CountingCheck()

    def check() -> FileResult:
        return cache.cached_check(path, options, counter, is_factory=False)

    assert (check().findings, counter.calls) == ((), 1)
    assert {Path(p).name for p, _ in _entry(cache_dir)["user_files"]} == {
        "my_loss.py",
        "loss_parts.py",
        "objects.py",
        "object_parts.py",
    }
    assert check().cached
    parts.write_text(DROPS_RANK)
    dropped = check()
    assert ([f.code for f in dropped.findings], dropped.cached) == (["TFP101"], False)
    assert dropped.findings[0].evidence["log_prob_shape_at_32"] == "(32, 32)"
    assert check().cached and counter.calls == 2
    object_parts.write_text("SCALE = 3\n")
    assert not check().cached
    assert counter.calls == 3
