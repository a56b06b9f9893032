"""`tfpcheck.check` and its Report.

The live models are built and checked in a process of their own (python_api_cases.py): this
process must not import TensorFlow, which other tests assert. Report itself is plain data and
is tested here.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import model_path

import tfpcheck
from tfpcheck.api import CheckFailed, Report
from tfpcheck.findings import FileError, FileResult, Finding, Severity, Where

CASES = Path(__file__).with_name("python_api_cases.py")
HEAVY = ("tensorflow", "tensorflow_probability", "keras", "tf_keras")


@pytest.fixture(scope="module")
def live() -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, str(CASES)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_double_softmax_in_a_live_tf_keras_model(live: dict[str, Any]) -> None:
    case = live["softmax"]
    assert "TFP202" in case["codes"]
    assert not case["ok"]
    assert "TFP202 error [double-softmax]" in case["text"]
    assert "<td><strong>TFP202</strong>" in case["html"]
    assert case["raised"][0] == "CheckFailed"
    assert "TFP202" in case["raised"][1]
    assert [f["code"] for f in case["dict"]["findings"]] == case["codes"]
    assert case["dict"]["probed"] is True


def test_the_fixed_model_is_ok(live: dict[str, Any]) -> None:
    case = live["fixed"]
    assert "TFP202" not in case["codes"]
    assert case["ok"]  # and raise_for_errors() did not raise: the script got this far


def test_keras3_model_with_a_python_loss_and_arrays(live: dict[str, Any]) -> None:
    case = live["keras3"]
    assert case["codes"] == ["TFP101"]
    assert not case["ok"]


def test_a_check_leaves_the_model_and_random_state_as_they_were(live: dict[str, Any]) -> None:
    for name in ("keras3", "tf_keras_compiled"):
        case = live[name]
        assert case["weights_unchanged"], name
        assert case["same_optimizer"], name
        assert case["same_loss"], name
    assert live["keras3"]["python_random"]
    assert live["keras3"]["numpy_random"]
    assert live["keras3"]["fits"]  # the restored compile state still trains
    assert live["uncompiled"]["compiled"] is False


def test_a_compiled_tf_keras_model_is_checked_with_its_loss(live: dict[str, Any]) -> None:
    assert "TFP202" in live["tf_keras_compiled"]["codes"]


def test_a_factory_returning_model_and_loss(live: dict[str, Any]) -> None:
    assert "TFP101" in live["factory"]["codes"]


def test_static_only_reads_the_live_description(live: dict[str, Any]) -> None:
    assert live["static_only"]["codes"] == ["TFP202"]


def test_a_path_goes_through_the_command_line_engine() -> None:
    report = tfpcheck.check(model_path("tfk_softmax_categorical.keras"), static_only=True)
    assert "TFP202" in [f.code for f in report.findings]
    assert report.to_dict()["reason"] == "--static: only the static tier ran"
    assert not report.ok


def test_a_path_takes_no_loss_object() -> None:
    with pytest.raises(TypeError, match="--loss does"):
        tfpcheck.check(model_path("tfk_softmax_categorical.keras"), loss=len, static_only=True)


def test_bad_arguments_are_errors_of_the_call() -> None:
    path = model_path("tfk_softmax_categorical.keras")
    with pytest.raises(ValueError, match="x and y go together"):
        tfpcheck.check(path, x=[[0.0]])
    with pytest.raises(ValueError, match="no rule code starts with 'TFQ'"):
        tfpcheck.check(path, select="TFQ", static_only=True)
    with pytest.raises(ValueError, match="unknown loss"):
        tfpcheck.check(path, loss="nlll", static_only=True)


def test_importing_the_api_imports_no_tensorflow() -> None:
    script = (
        "import sys, tfpcheck; tfpcheck.check, tfpcheck.Report, tfpcheck.CheckFailed; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "[]"


def _finding(severity: Severity, message: str = "m <b>&") -> Finding:
    return Finding(
        "TFP202",
        "double-softmax",
        severity,
        message,
        "use `logits=t` <here>",
        Where(layer="act<1>", layer_index=1),
    )


def test_report_html_escapes_everything() -> None:
    report = Report(FileResult("<model>", (_finding(Severity.ERROR),), notes=("a<b",)))
    page = report._repr_html_()
    assert "&lt;model&gt;" in page
    assert "m &lt;b&gt;&amp;" in page
    assert "<code>use `logits=t` &lt;here&gt;</code>" in page
    assert "layer &#x27;act&lt;1&gt;&#x27; (#1)" in page
    assert "note: a&lt;b" in page
    assert "<b>" not in page


def test_report_ok_follows_fail_on() -> None:
    warning = FileResult("<m>", (_finding(Severity.WARNING),))
    assert Report(warning).ok
    Report(warning).raise_for_errors()
    strict = Report(warning, fail_on=Severity.WARNING)
    assert not strict.ok
    with pytest.raises(CheckFailed) as raised:
        strict.raise_for_errors()
    assert isinstance(raised.value, AssertionError)
    assert str(raised.value) == str(strict)
    assert "TFP202 warning [double-softmax]" in str(strict)


def test_a_model_that_could_not_be_checked_is_not_ok() -> None:
    report = Report(FileResult("<m>", error=FileError("usage", "the model is not built")))
    assert not report.ok
    assert "the model is not built" in str(report)
    assert "the model is not built" in report._repr_html_()
    assert report.to_dict()["error"] == {"code": "usage", "message": "the model is not built"}


def test_text_has_no_colour() -> None:
    assert "\x1b[" not in str(Report(FileResult("<m>", (_finding(Severity.ERROR),))))


def test_report_shapes_show_the_normal_at_batch_n(live: dict[str, Any]) -> None:
    (table,) = live["keras3"]["shapes"]
    assert table["batch_size"] == 16 and table["targets"] == "data"
    (row,) = table["distributions"]
    assert row["distribution"] == "Normal" and row["built_by"] == "loss"
    assert row["where"]["function"] == "normal_loss"
    assert row["where"]["file"].endswith("python_api_cases.py")
    assert row["at_n"] == {
        "batch_shape": [16],
        "event_shape": [],
        "value_shape": [16, 1],
        "log_prob_shape": [16, 16],
    }
    assert table["loss"]["per_example"] == {"at_1": [1, 1], "at_n": [16, 16]}
    assert "(16,) | ()" in live["keras3"]["shapes_text"]
    assert "<td>(16,) | ()</td>" in live["keras3"]["shapes_html"]


def test_the_callback_stops_fit_before_the_first_epoch(live: dict[str, Any]) -> None:
    for name, code in (("keras3_broadcast", "TFP101"), ("tf_keras_softmax", "TFP202")):
        case = live["callbacks"][name]
        assert case["raised"] is not None, name
        assert case["raised"][0] == "CheckFailed", name
        assert code in case["raised"][1], name
        assert case["epochs"] == 0 and case["batches"] == 0, name
        assert case["weights_unchanged"], name
        assert code in case["report_codes"], name
        (printed,) = case["printed"]
        assert f"{code} error" in printed, name


def test_the_callback_lets_a_clean_model_train(live: dict[str, Any]) -> None:
    for name in ("keras3_fixed", "tf_keras_fixed"):
        case = live["callbacks"][name]
        assert case["raised"] is None, (name, case["raised"])
        assert case["epochs"] == 2 and case["batches"] == 8, name
        assert len(case["losses"]) == 2 and all(math.isfinite(v) for v in case["losses"]), name
        assert not case["weights_unchanged"], name  # it trained
        assert case["printed"][0].splitlines()[-1].startswith("0 errors"), name


def test_the_callback_follows_fail_on(live: dict[str, Any]) -> None:
    case = live["callbacks"]["tf_keras_fail_on_info"]
    # the (N, 1) target guess is an info: fail_on="info" stops on it
    assert case["report_codes"] == ["TFP101"]
    assert case["raised"] is not None and case["epochs"] == 0
    # the advice names tfpcheck.check's arguments, not the command line's options
    (printed,) = case["printed"]
    assert 'target_shape="scalar" for (N,)' in printed and "--target-shape" not in printed


def test_a_path_with_arrays_is_probed_on_them() -> None:
    import numpy as np
    from conftest import FIXTURES

    path = model_path("k3_regression_dense2.keras")
    loss = f"{FIXTURES / 'losses.py'}:normal_nll_rank_dropping"
    rng = np.random.default_rng(3)
    x = rng.normal(size=(16, 8)).astype("float32")
    column = tfpcheck.check(path, loss, x=x, y=rng.normal(size=(16, 1)).astype("float32"))
    (finding,) = [f for f in column.findings if f.code == "TFP101"]
    assert finding.severity is Severity.ERROR
    assert finding.evidence["loss_shape_at_16"] == "(16, 16)"
    assert column.shapes[0].at_n is not None and column.shapes[0].at_n.log_prob == (16, 16)
    flat = tfpcheck.check(path, loss, x=x, y=rng.normal(size=(16,)).astype("float32"))
    # targets (N,): the probe sees no broadcast (the source scan's guess is no error)
    assert not [f for f in flat.findings if f.code == "TFP101" and f.tier == "probe"]
    assert flat.ok


def test_unsafe_for_a_path_loads_its_code() -> None:
    path = model_path("tfk_normal_dense64_relu.keras")
    refused = tfpcheck.check(path)
    assert refused.to_dict()["probed"] is False
    assert [f.code for f in refused.findings if f.code == "TFP002"] == ["TFP002"]
    loaded = tfpcheck.check(path, unsafe=True, timeout=120)
    assert {"TFP104", "TFP105"} <= {f.code for f in loaded.findings}
    assert loaded.to_dict()["probed"] is True


def test_loading_options_are_for_paths_only() -> None:
    with pytest.raises(ValueError, match="unsafe= is for a model file"):
        tfpcheck.check(object(), unsafe=True)
    with pytest.raises(ValueError, match="custom_objects= is for a model file"):
        tfpcheck.check(object(), custom_objects="layers.py")
    with pytest.raises(ValueError, match="timeout=0"):
        tfpcheck.check(model_path("tfk_softmax_categorical.keras"), timeout=0)


def test_keras_3_s_terminal_styles_stay_out_of_the_report() -> None:
    import numpy as np

    path = model_path("k3_regression_dense2.keras")
    wrong = np.zeros((4, 3), dtype="float32")  # the model takes 8 features
    report = tfpcheck.check(path, "mse", x=wrong, y=np.zeros((4, 1), dtype="float32"))
    (failure,) = [f for f in report.findings if f.code == "TFP108"]
    assert "expected axis -1 of input shape to have value 8" in failure.message
    assert "\x1b" not in failure.message and "\x1b" not in str(failure.evidence)
