"""`tfpcheck doctor`: the real environment is a working set; broken sets are named and fixed."""

from __future__ import annotations

import importlib.metadata
import platform
import tomllib

import pytest
from conftest import ROOT

from tfpcheck.doctor import TESTED, Installed, diagnose

WORKING = Installed(
    python="3.11.7",
    tensorflow="2.21.0",
    tensorflow_probability="0.25.0",
    tf_keras="2.21.0",
    keras="3.15.1",
    setuptools="65.5.0",
    ml_dtypes="0.6.0",
)


def with_(**changes: str | None) -> Installed:
    from dataclasses import replace

    return replace(WORKING, **changes)


def test_doctor_on_this_environment(run_cli) -> None:
    result = run_cli("doctor")
    assert result.exit_code == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["Python", platform.python_version()]
    assert lines[1].split() == ["TensorFlow", importlib.metadata.version("tensorflow")]
    assert lines[3].split() == ["tf_keras", importlib.metadata.version("tf-keras")]
    assert "ok: a working combination for tfp.layers" in result.stdout


def test_doctor_json(run_cli) -> None:
    doc = run_cli("doctor", "--format", "json").json()
    assert doc["working"] is True and doc["problems"] == [] and doc["install"] is None
    assert doc["versions"]["tensorflow-probability"] == importlib.metadata.version(
        "tensorflow-probability"
    )
    assert doc["versions"]["keras"] == importlib.metadata.version("keras")


def test_the_tested_set_is_what_the_tf_extra_installs() -> None:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["tf"]
    # The == pins are the tested set; a range (ml_dtypes' upper bound) only shuns a release.
    pins = {req.split("==")[0].split("[")[0]: req.split("==")[1] for req in extra if "==" in req}
    assert {name: pin.removesuffix(".*") for name, pin in pins.items()} == TESTED


def test_working_set_has_no_problem() -> None:
    diagnosis = diagnose(WORKING)
    assert diagnosis.working and diagnosis.problems == () and diagnosis.notes == ()


@pytest.mark.parametrize(
    ("installed", "expected"),
    [
        (
            with_(tf_keras=None),
            "tf_keras is not installed: Keras 3 alone cannot host tfp.layers "
            "(TensorFlow Probability imports tf_keras): pip install 'tf-keras==2.21.*'",
        ),
        (
            with_(tf_keras="2.20.0"),
            "tf_keras 2.20.0 does not match TensorFlow 2.21.0: each tf_keras release requires "
            "its own TensorFlow major.minor: pip install 'tf-keras==2.21.*'",
        ),
        (
            with_(tensorflow="2.17.1", tf_keras="2.17.0"),
            "TensorFlow Probability 0.25.0 requires TensorFlow >= 2.18, found 2.17.1: "
            "pip install 'tensorflow==2.18.*' 'tf-keras==2.18.*'",
        ),
        (
            with_(tensorflow_probability="0.23.0"),
            "TensorFlow 2.21.0 makes Keras 3 its tf.keras, which TensorFlow Probability 0.23.0 "
            "cannot use: pip install 'tensorflow-probability[tf]==0.25.*'",
        ),
        (
            with_(tensorflow_probability="0.17.0"),
            "TensorFlow Probability 0.17.0 is too old for tfpcheck: "
            "pip install 'tensorflow-probability[tf]==0.25.*'",
        ),
        (
            with_(tensorflow="2.15.1", tensorflow_probability="0.23.0", tf_keras=None),
            "Keras 3.15.1 replaces the Keras 2 that TensorFlow 2.15.1 uses as tf.keras, and "
            "importing TensorFlow Probability fails: pip install 'keras==2.15.*'",
        ),
        (
            with_(tensorflow=None),
            "TensorFlow is not installed: the probe tier needs it (pip install 'tfpcheck[tf]')",
        ),
        (
            with_(python="3.12.3", setuptools=None),
            "Python 3.12.3 has no distutils, which TensorFlow Probability imports when it "
            "loads: pip install setuptools",
        ),
    ],
    ids=[
        "no-tf-keras",
        "tf-keras-minor",
        "tf-too-old-for-tfp",
        "tfp-too-old-for-keras3",
        "tfp-too-old",
        "keras3-with-tf215",
        "no-tensorflow",
        "py312-no-setuptools",
    ],
)
def test_broken_sets(installed: Installed, expected: str) -> None:
    diagnosis = diagnose(installed)
    assert not diagnosis.working
    assert expected in diagnosis.problems


def test_an_older_working_set_is_working_with_a_note() -> None:
    older = Installed(
        python="3.11.7",
        tensorflow="2.15.1",
        tensorflow_probability="0.23.0",
        tf_keras=None,
        keras="2.15.0",
    )
    diagnosis = diagnose(older)
    assert diagnosis.working, diagnosis.problems
    (note,) = diagnosis.notes
    assert "found tensorflow 2.15, tensorflow-probability 0.23, keras 2.15" in note


def test_static_only_install_is_not_working() -> None:
    bare = Installed(python="3.11.7")
    diagnosis = diagnose(bare)
    assert not diagnosis.working
    assert len(diagnosis.problems) == 2
    assert all("pip install 'tfpcheck[tf]'" in problem for problem in diagnosis.problems)


def test_slow_ml_dtypes_is_a_note_not_a_problem() -> None:
    diagnosis = diagnose(with_(ml_dtypes="0.7.0"))
    assert diagnosis.working and diagnosis.problems == ()
    assert diagnosis.notes == (
        "ml_dtypes 0.7.0 takes more than half a second to import, and every probe worker "
        "imports it with TensorFlow: pip install 'ml_dtypes<0.7' (TensorFlow accepts it) makes "
        "each probing call that much faster",
    )
    assert diagnose(with_(ml_dtypes="0.8.1")).notes == ()
    assert diagnose(with_(ml_dtypes=None)).notes == ()


def test_the_tf_extra_holds_ml_dtypes_below_the_slow_release() -> None:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["tf"]
    assert "ml_dtypes>=0.5.1,<0.7" in extra
