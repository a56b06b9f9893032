"""Pickles by cloudpickle 3.1.2 (records the file) and 3.1.3+ (records `<dynamic-code>`).

The `.h5` models under tests/data/cloudpickle/ were saved by the real tf_keras with each
cloudpickle (see build.py there); their manifest says what each pickle records, as the
build script saw it. No reporter may ever show a placeholder as a location.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from tfpcheck.findings import FUNCTION_LINE, SOURCE_FILE, Finding, Severity, Where
from tfpcheck.model_file.load import read_model_file
from tfpcheck.probe.frames import is_library, user_frame_of_traceback
from tfpcheck.report.locations import display_path

DATA = ROOT / "tests" / "data" / "cloudpickle"
MANIFEST: dict[str, dict[str, Any]] = json.loads((DATA / "manifest.json").read_text())
OLD = "softmax_categorical_cp312.h5"  # cloudpickle 3.1.2: the lambda's file is recorded
NEW = "softmax_categorical_cp313.h5"  # cloudpickle 3.1.3: `<dynamic-code>`
UNKNOWN = "source file unknown: cloudpickle 3.1.3 and later do not record it"
FUNCTION = "build.<locals>.<lambda>"


def test_the_manifest_covers_both_behaviours() -> None:
    assert MANIFEST[OLD]["cloudpickle"] == "3.1.2"
    assert MANIFEST[OLD]["recorded_file"].endswith("tests/data/cloudpickle/build.py")
    assert MANIFEST[NEW]["cloudpickle"] == "3.1.3"
    assert MANIFEST[NEW]["recorded_file"] == "<dynamic-code>"


@pytest.mark.parametrize("name", [OLD, NEW])
def test_static_reader_keeps_what_the_pickle_recorded(name: str) -> None:
    entry = MANIFEST[name]
    model = read_model_file(DATA / name)
    dist = model.layer("label_dist")
    assert dist is not None
    (fn,) = dist.functions
    assert (fn.source, fn.qualname) == ("cloudpickle", FUNCTION)
    assert (fn.filename, fn.firstlineno) == (entry["recorded_file"], entry["line"])
    if name == OLD:
        assert fn.source_file == entry["recorded_file"]
        assert fn.location == f"{entry['recorded_file']}:{entry['line']}"
    else:
        assert fn.source_file is None
        assert fn.location == f"<lambda> (line {entry['line']}, {UNKNOWN})"


def _tfp202(report: dict[str, Any]) -> dict[str, Any]:
    (file,) = report["files"]
    (finding,) = [f for f in file["findings"] if f["code"] == "TFP202"]
    return finding


def test_json_where_is_the_layer_and_the_evidence_keeps_the_line(run_cli) -> None:
    path = str(DATA / NEW)
    result = run_cli(path, "--static", "--no-cache", "--format", "json")
    assert result.exit_code == 1
    finding = _tfp202(result.json())
    assert finding["where"] == {
        "layer": "softmax",
        "layer_index": 1,
        "function": FUNCTION,
        "file": None,
        "line": None,
    }
    assert finding["evidence"][FUNCTION_LINE] == MANIFEST[NEW]["line"]
    assert (
        finding["evidence"][SOURCE_FILE] == "unknown: cloudpickle 3.1.3 and later do not record it"
    )
    assert "<dynamic-code>" not in result.stdout


def test_json_where_names_the_recorded_file_of_a_312_pickle(run_cli) -> None:
    result = run_cli(str(DATA / OLD), "--static", "--no-cache", "--format", "json")
    assert result.exit_code == 1
    finding = _tfp202(result.json())
    assert finding["where"] == {
        "layer": "softmax",
        "layer_index": 1,
        "function": FUNCTION,
        "file": MANIFEST[OLD]["recorded_file"],
        "line": MANIFEST[OLD]["line"],
    }
    assert FUNCTION_LINE not in finding["evidence"]
    assert SOURCE_FILE not in finding["evidence"]


def test_text_says_why_the_source_file_is_unknown(run_cli) -> None:
    result = run_cli(str(DATA / NEW), "--static", "--no-cache")
    assert result.exit_code == 1
    at = f"at layer 'softmax' (#1), function {FUNCTION} (line {MANIFEST[NEW]['line']}, {UNKNOWN})"
    assert at in result.stdout
    assert "<dynamic-code>" not in result.stdout
    old = run_cli(str(DATA / OLD), "--static", "--no-cache")
    recorded = display_path(MANIFEST[OLD]["recorded_file"])
    assert f"function {FUNCTION}, {recorded}:{MANIFEST[OLD]['line']}" in old.stdout


def test_github_annotation_sits_on_the_model_file(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DATA)
    result = run_cli(NEW, "--static", "--no-cache", "--format", "github")
    assert result.exit_code == 1
    (line,) = [ln for ln in result.stdout.splitlines() if "TFP202" in ln]
    assert line.startswith(f"::error file={NEW},title=tfpcheck TFP202::")
    assert f"function {FUNCTION}, line {MANIFEST[NEW]['line']}, {UNKNOWN}" in line
    assert "dynamic-code" not in result.stdout


def test_sarif_has_no_placeholder_artifact(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DATA)
    result = run_cli(NEW, "--static", "--no-cache", "--format", "sarif")
    assert result.exit_code == 1
    (run,) = result.json()["runs"]
    (tfp202,) = [r for r in run["results"] if r["ruleId"] == "TFP202"]
    (location,) = tfp202["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == NEW
    assert "relatedLocations" not in tfp202
    assert tfp202["properties"]["evidence"][FUNCTION_LINE] == MANIFEST[NEW]["line"]
    assert "<dynamic-code>" not in result.stdout


@pytest.mark.parametrize(
    ("recorded", "why"),
    [
        ("<dynamic-code>", "cloudpickle 3.1.3 and later do not record it"),
        ("<string>", "the code was compiled from a string"),
        ("<stdin>", "the code was typed at an interactive prompt"),
        ("<ipython-input-3-8f2a>", "the code was defined in a notebook cell"),
    ],
)
def test_any_finding_built_on_a_placeholder_points_at_the_layer(recorded: str, why: str) -> None:
    finding = Finding(
        "TFP108",
        "loss-or-forward-fails",
        Severity.ERROR,
        "fails",
        "fix it",
        Where(layer="dist", layer_index=2, function="<lambda>", file=recorded, line=13),
        {"error": "boom"},
    )
    assert finding.where == Where(layer="dist", layer_index=2, function="<lambda>")
    assert dict(finding.evidence) == {
        "error": "boom",
        FUNCTION_LINE: 13,
        SOURCE_FILE: f"unknown: {why}",
    }
    assert finding.unplaced_source() == f"line 13, source file unknown: {why}"
    # a finding read back (from the cache) stays as it is
    assert Finding(**{**finding.__dict__}) == finding


def _raise_in(filename: str, module: str) -> BaseException:
    code = compile("def user_fn(t):\n    return t[5]\n", filename, "exec")
    namespace: dict[str, Any] = {"__name__": module}
    # our own two lines, standing in for a lambda rebuilt from a pickle
    exec(code, namespace)
    try:
        namespace["user_fn"]([])
    except IndexError as exc:
        return exc
    raise AssertionError("no error")


def test_probe_finds_the_users_frame_in_a_rebuilt_lambda() -> None:
    # a lambda unpickled by cloudpickle 3.1.3 runs with co_filename `<dynamic-code>`
    exc = _raise_in("<dynamic-code>", "__main__")
    site = user_frame_of_traceback(exc.__traceback__)
    assert site is not None
    assert (site.file, site.line, site.function) == ("<dynamic-code>", 2, "user_fn")
    assert site.describe() == f"user_fn, line 2 ({UNKNOWN})"
    # tfp's own lambdas, rebuilt the same way, stay library code: the user's frame is the
    # caller's
    tfp_module = "tensorflow_probability.python.layers.distribution_layer"
    site = user_frame_of_traceback(_raise_in("<dynamic-code>", tfp_module).__traceback__)
    assert site is not None
    assert (site.file, site.function) == (__file__, "_raise_in")
    assert is_library("<string>", "__main__")
    assert is_library("<frozen importlib._bootstrap>")
    assert not is_library("<dynamic-code>", "__main__")


def test_probe_confirms_on_a_313_pickle_without_a_placeholder(run_cli) -> None:
    result = run_cli(str(DATA / NEW), "--unsafe", "--loss", "nll", "--no-cache", "--format", "json")
    assert result.exit_code == 1, result.stderr
    finding = _tfp202(result.json())
    assert finding["tier"] == "probe"
    assert finding["where"]["layer"] == "softmax"
    assert finding["where"]["file"] is None
    assert finding["evidence"][FUNCTION_LINE] == MANIFEST[NEW]["line"]
    assert "<dynamic-code>" not in result.stdout


def test_a_real_path_is_never_taken_for_a_placeholder(tmp_path: Path) -> None:
    finding = Finding(
        "TFP202", "double-softmax", Severity.ERROR, "m", "f", Where(file=str(tmp_path), line=3)
    )
    assert finding.where.file == str(tmp_path)
    assert finding.unplaced_source() is None


def test_library_code_saved_on_another_machine_is_still_library() -> None:
    # a marshalled tfp wrapper keeps the path of the environment that saved the model
    saved = "/home/someone/venv/lib/python3.11/site-packages/tensorflow_probability/layers/u.py"
    assert is_library(saved)
    assert is_library("C:\\Python311\\Lib\\site-packages\\tf_keras\\src\\engine\\base.py")
    # a user's own package installed in site-packages is the user's code
    assert not is_library("/home/someone/venv/lib/python3.11/site-packages/mymodels/heads.py")
