"""`tfpcheck doctor`: are the installed TensorFlow, TFP, tf_keras and Keras a working set?

Versions come from the installed distributions' metadata: nothing is imported, so the
answer is quick and comes even when importing TensorFlow would crash. The rules are TFP's
own: `tensorflow_probability/python/__init__.py` checks `required_tensorflow_version` and
imports `tf_keras` (TFP >= 0.24), and its release notes pair each TFP with a TensorFlow.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
import sys
from dataclasses import dataclass

# The combination the `tf` extra installs (pyproject.toml; a test keeps them equal).
TESTED = {
    "tensorflow": "2.21",
    "tensorflow-probability": "0.25",
    "tf-keras": "2.21",
    "keras": "3.15",
}
INSTALL_TF_EXTRA = "pip install 'tfpcheck[tf]'"
# TFP release -> the oldest TensorFlow it accepts (`required_tensorflow_version`).
TFP_MIN_TF = {
    (0, 25): (2, 18),
    (0, 24): (2, 16),
    (0, 23): (2, 15),
    (0, 22): (2, 14),
    (0, 21): (2, 13),
    (0, 20): (2, 12),
    (0, 19): (2, 11),
}
# TensorFlow 2.16 made Keras 3 its tf.keras; tfp.layers then needs tf_keras (Keras 2), which
# TFP supports from 0.24 on.
KERAS3_TF = (2, 16)
TF_KERAS_TFP = (0, 24)

# Distribution names that provide each package, first match wins.
DISTRIBUTIONS = {
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tf-nightly"),
    "tensorflow-probability": ("tensorflow-probability", "tfp-nightly"),
    "tf-keras": ("tf-keras", "tf-keras-nightly"),
    "keras": ("keras", "keras-nightly"),
    "setuptools": ("setuptools",),
    "ml_dtypes": ("ml-dtypes",),
}
# ml_dtypes 0.7 takes more than half a second to import (0.6: a hundredth), and TensorFlow
# imports it in every probe worker; the `tf` extra holds it below 0.7.
SLOW_ML_DTYPES = (0, 7)

Version = tuple[int, int]


@dataclass(frozen=True)
class Installed:
    python: str
    tensorflow: str | None = None
    tensorflow_probability: str | None = None
    tf_keras: str | None = None
    keras: str | None = None
    setuptools: str | None = None
    ml_dtypes: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "python": self.python,
            "tensorflow": self.tensorflow,
            "tensorflow-probability": self.tensorflow_probability,
            "tf-keras": self.tf_keras,
            "keras": self.keras,
        }


@dataclass(frozen=True)
class Diagnosis:
    working: bool
    problems: tuple[str, ...]  # each says what is wrong and what to run
    notes: tuple[str, ...] = ()


def major_minor(version: str | None) -> Version | None:
    match = re.match(r"(\d+)\.(\d+)", version or "")
    return (int(match[1]), int(match[2])) if match else None


def _text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


def _tfp_for_tf(tf: Version) -> Version | None:
    """The newest known TFP whose minimum TensorFlow is at most `tf`."""
    fitting = [tfp for tfp, min_tf in TFP_MIN_TF.items() if min_tf <= tf]
    return max(fitting) if fitting else None


def diagnose(installed: Installed) -> Diagnosis:
    """Whether tfp.layers can work with these versions; a pure function of them."""
    tf = major_minor(installed.tensorflow)
    tfp = major_minor(installed.tensorflow_probability)
    tf_keras = major_minor(installed.tf_keras)
    keras = major_minor(installed.keras)
    python = major_minor(installed.python)
    problems: list[str] = []
    notes: list[str] = []

    if tf is None:
        problems.append(
            f"TensorFlow is not installed: the probe tier needs it ({INSTALL_TF_EXTRA})"
        )
    if tfp is None:
        problems.append(
            f"TensorFlow Probability is not installed: the probe tier needs it ({INSTALL_TF_EXTRA})"
        )
    if tf is not None and tfp is not None:
        min_tf = TFP_MIN_TF.get(tfp)
        if min_tf is None and tfp < min(TFP_MIN_TF):
            problems.append(
                f"TensorFlow Probability {installed.tensorflow_probability} is too old for "
                f"tfpcheck: pip install 'tensorflow-probability[tf]=={_text(max(TFP_MIN_TF))}.*'"
            )
        elif min_tf is not None and tf < min_tf:
            problems.append(
                f"TensorFlow Probability {installed.tensorflow_probability} requires TensorFlow "
                f">= {_text(min_tf)}, found {installed.tensorflow}: "
                f"pip install 'tensorflow=={_text(min_tf)}.*' 'tf-keras=={_text(min_tf)}.*'"
            )
        elif tf >= KERAS3_TF and tfp < TF_KERAS_TFP:
            wanted = _tfp_for_tf(tf) or max(TFP_MIN_TF)
            problems.append(
                f"TensorFlow {installed.tensorflow} makes Keras 3 its tf.keras, which "
                f"TensorFlow Probability {installed.tensorflow_probability} cannot use: "
                f"pip install 'tensorflow-probability[tf]=={_text(wanted)}.*'"
            )

    needs_tf_keras = (tf is not None and tf >= KERAS3_TF) or (
        tfp is not None and tfp >= TF_KERAS_TFP
    )
    if needs_tf_keras and tf_keras is None:
        pin = f"=={_text(tf)}.*" if tf is not None else ""
        problems.append(
            "tf_keras is not installed: Keras 3 alone cannot host tfp.layers "
            f"(TensorFlow Probability imports tf_keras): pip install 'tf-keras{pin}'"
        )
    if tf is not None and tf_keras is not None and tf_keras != tf:
        problems.append(
            f"tf_keras {installed.tf_keras} does not match TensorFlow {installed.tensorflow}: "
            f"each tf_keras release requires its own TensorFlow major.minor: "
            f"pip install 'tf-keras=={_text(tf)}.*'"
        )
    if tf is not None and tf < KERAS3_TF and keras is not None and keras >= (3, 0):
        problems.append(
            f"Keras {installed.keras} replaces the Keras 2 that TensorFlow {installed.tensorflow} "
            "uses as tf.keras, and importing TensorFlow Probability fails: "
            f"pip install 'keras=={_text(tf)}.*'"
        )
    if tf is not None and tf >= KERAS3_TF and keras is None:
        notes.append(
            "Keras 3 is not installed: models written by Keras 3 cannot be probed "
            f"(pip install 'keras=={TESTED['keras']}.*')"
        )
    # TFP 0.25 imports distutils when it loads; Python 3.12 dropped it and setuptools
    # provides it again.
    if (
        tfp is not None
        and python is not None
        and python >= (3, 12)
        and installed.setuptools is None
    ):
        problems.append(
            f"Python {installed.python} has no distutils, which TensorFlow Probability imports "
            "when it loads: pip install setuptools"
        )

    if major_minor(installed.ml_dtypes) == SLOW_ML_DTYPES:
        notes.append(
            f"ml_dtypes {installed.ml_dtypes} takes more than half a second to import, and "
            "every probe worker imports it with TensorFlow: pip install 'ml_dtypes<0.7' "
            "(TensorFlow accepts it) makes each probing call that much faster"
        )
    if not problems:
        found = {
            "tensorflow": tf,
            "tensorflow-probability": tfp,
            "tf-keras": tf_keras,
            "keras": keras,
        }
        untested = [
            f"{name} {_text(version)}"
            for name, version in found.items()
            if version is not None and _text(version) != TESTED[name]
        ]
        if untested:
            tested = ", ".join(f"{name} {version}" for name, version in TESTED.items())
            notes.append(
                f"tfpcheck is tested with {tested}; found {', '.join(untested)} "
                f"({INSTALL_TF_EXTRA} installs the tested set)"
            )
    return Diagnosis(working=not problems, problems=tuple(problems), notes=tuple(notes))


def _version(package: str) -> str | None:
    for distribution in DISTRIBUTIONS[package]:
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def installed_versions() -> Installed:
    return Installed(
        python=platform.python_version(),
        tensorflow=_version("tensorflow"),
        tensorflow_probability=_version("tensorflow-probability"),
        tf_keras=_version("tf-keras"),
        keras=_version("keras"),
        setuptools=_version("setuptools"),
        ml_dtypes=_version("ml_dtypes"),
    )


def report_text(installed: Installed, diagnosis: Diagnosis) -> str:
    rows = [
        ("Python", f"{installed.python} ({sys.executable})"),
        ("TensorFlow", installed.tensorflow),
        ("TensorFlow Probability", installed.tensorflow_probability),
        ("tf_keras", installed.tf_keras),
        ("Keras", installed.keras),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {version or 'not installed'}" for name, version in rows]
    lines.append("")
    if diagnosis.working:
        lines.append("ok: a working combination for tfp.layers; the probe tier can run")
    else:
        lines.append("not a working combination for tfp.layers (the static tier still runs):")
        lines.extend(f"  - {problem}" for problem in diagnosis.problems)
        lines.append(f"or install the tested set: {INSTALL_TF_EXTRA}")
    lines.extend(f"note: {note}" for note in diagnosis.notes)
    return "\n".join(lines) + "\n"


def report_dict(installed: Installed, diagnosis: Diagnosis) -> dict[str, object]:
    return {
        "versions": installed.as_dict(),
        "working": diagnosis.working,
        "problems": list(diagnosis.problems),
        "notes": list(diagnosis.notes),
        "install": None if diagnosis.working else INSTALL_TF_EXTRA,
    }
