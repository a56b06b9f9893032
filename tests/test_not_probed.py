"""A model that was not probed says so: in the text report, the summary line and JSON.

`--require-probe` turns such a run into exit status 2. The environment without TensorFlow is
a real subprocess in which the probe's packages cannot be imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from conftest import FIXTURES, ROOT, model_path

FLIPOUT = f"{FIXTURES / 'factories' / 'flipout.py'}:build_model"
STATIC_FACTORY = "--static: only the factory's source text was read"
STATIC_FILE = "--static: only the static tier ran"
SERIALIZED = "the file holds serialized Python code (TFP002); --unsafe loads it if trusted"
NO_TF = "TensorFlow and TensorFlow Probability are not installed (pip install 'tfpcheck[tf]')"

# The probe's packages made unimportable, as in an install without the [tf] extra.
WITHOUT_TENSORFLOW = textwrap.dedent(
    """
    import sys
    for name in ("tensorflow", "tensorflow_probability", "tf_keras", "keras"):
        sys.modules[name] = None  # find_spec() answers None, import raises ImportError
    from tfpcheck.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def run_without_tensorflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_TENSORFLOW, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_static_factory_says_only_its_source_was_read(run_cli) -> None:
    result = run_cli(FLIPOUT, "--static", "--no-cache")
    assert result.exit_code == 0
    summary = result.stdout.strip().splitlines()[-1]
    assert f"in 1 file, 1 of 1 model not probed: {STATIC_FACTORY} (" in summary
    (entry,) = run_cli(FLIPOUT, "--static", "--no-cache", "--format", "json").json()["files"]
    assert (entry["probed"], entry["reason"]) == (False, STATIC_FACTORY)


def test_require_probe_exits_2_on_a_model_that_was_not_probed(run_cli) -> None:
    result = run_cli(FLIPOUT, "--static", "--require-probe", "--no-cache")
    assert result.exit_code == 2
    assert result.stderr == (
        f"tfpcheck: error: --require-probe: {FLIPOUT} not probed ({STATIC_FACTORY})\n"
    )


def test_serialized_code_without_unsafe_is_not_probed(run_cli) -> None:
    path = model_path("tfk_softmax_categorical.keras")
    result = run_cli(path, "--no-cache", "--format", "json")
    (entry,) = result.json()["files"]
    assert [f["code"] for f in entry["findings"]] == ["TFP202", "TFP002"]
    assert (entry["probed"], entry["reason"]) == (False, SERIALIZED)
    assert result.json()["summary"]["not_probed"] == 1
    text = run_cli(path, "--no-cache")
    assert f"  not probed: {SERIALIZED}\n" in text.stdout
    assert run_cli(path, "--no-cache", "--require-probe").exit_code == 2


def test_a_probed_model_says_so(run_cli) -> None:
    path = model_path("k3_softmax_probs.keras")
    result = run_cli(path, "--no-cache", "--format", "json")
    assert result.exit_code == 0
    (entry,) = result.json()["files"]
    assert (entry["probed"], entry["reason"], entry["findings"]) == (True, None, [])
    assert result.json()["summary"]["not_probed"] == 0
    assert run_cli(path, "--no-cache", "--require-probe").exit_code == 0


def test_static_is_said_once_on_the_summary_line(run_cli) -> None:
    clean = model_path("k3_softmax_probs.keras")
    serialized = model_path("tfk_softmax_categorical.keras")
    result = run_cli(clean, serialized, "--no-cache")
    assert "1 of 2 models not probed: " + SERIALIZED in result.stdout
    static = run_cli(clean, serialized, "--static", "--no-cache")
    # --static asked for exactly that: said once on the summary line, not per clean model
    assert static.stdout.count("not probed") == 1
    assert f"2 of 2 models not probed: {STATIC_FILE}" in static.stdout


def test_without_tensorflow_a_factory_is_not_called_clean() -> None:
    result = run_without_tensorflow(FLIPOUT, "--no-cache")
    assert result.returncode == 0, result.stderr
    assert f"  not probed: {NO_TF}\n" in result.stdout
    assert "  no static finding\n" in result.stdout
    assert f"1 of 1 model not probed: {NO_TF}" in result.stdout
    gate = run_without_tensorflow(FLIPOUT, "--no-cache", "--require-probe")
    assert gate.returncode == 2
    assert (
        gate.stderr.strip() == f"tfpcheck: error: --require-probe: {FLIPOUT} not probed ({NO_TF})"
    )


def test_without_tensorflow_a_saved_model_keeps_its_static_findings() -> None:
    path = model_path("k3_softmax_from_logits.keras")
    result = run_without_tensorflow(path, "--no-cache", "--format", "json")
    assert result.returncode == 1, result.stderr
    (entry,) = json.loads(result.stdout)["files"]
    assert [f["code"] for f in entry["findings"]] == ["TFP202"]
    assert (entry["probed"], entry["reason"]) == (False, NO_TF)


def test_require_probe_from_the_configuration(run_cli, tmp_path, monkeypatch) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.tfpcheck]\nrequire-probe = true\n")
    monkeypatch.chdir(tmp_path)
    result = run_cli(FLIPOUT, "--static", "--no-cache")
    assert result.exit_code == 2
    assert result.stderr.startswith("tfpcheck: error: --require-probe: ")


def test_a_model_that_could_not_be_loaded_does_not_claim_a_default_loss(run_cli) -> None:
    result = run_cli(model_path("tfk_mvn_tril.keras"), "--unsafe", "--no-cache", "--format", "json")
    (entry,) = result.json()["files"]
    assert (entry["probed"], entry["reason"]) == (False, "the model could not be loaded (TFP009)")
    assert not any("probing with --loss nll" in note for note in entry["notes"])
