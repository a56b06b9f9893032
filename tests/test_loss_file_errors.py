"""A `--loss FILE.py:NAME` whose file does not import is a usage error (exit 2) that names the
file and the line: a SyntaxError before TensorFlow starts (also with --static), an exception
raised while importing from the probe. Never a TFP108 finding about the model."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest
from conftest import model_path
from probe_helpers import probe
from test_static_imports import _run

# Seeing an exception raised on import takes the probe; a SyntaxError does not.
needs_probe = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_probability") is None, reason="needs the probe tier"
)
MODEL = "k3_regression_dense2.keras"
FIX = "fix the file or give another --loss"
UNCLOSED = """\
    import tensorflow as tf

    def nll(y_true, y_pred):
        return tf.reduce_mean((y_true - y_pred) ** 2
    """
UNINDENTED = """\
    def nll(y_true, y_pred):
    return y_true
    """
RAISES = """\
    import math

    SCALE = 1 / math.floor(0.5)

    def nll(y_true, y_pred):
        return (y_true - y_pred) * SCALE
    """


def _write(directory: Path, name: str, source: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(source))
    return path


@pytest.mark.parametrize("static", [False, True], ids=["probe", "static"])
@pytest.mark.parametrize(
    ("source", "what"),
    [
        (UNCLOSED, "SyntaxError at line 4: '(' was never closed"),
        (
            UNINDENTED,
            "IndentationError at line 2: expected an indented block after function "
            "definition on line 1",
        ),
    ],
    ids=["syntax", "indentation"],
)
def test_a_loss_file_that_does_not_parse_is_one_usage_line(
    run_cli, tmp_path: Path, source: str, what: str, static: bool
) -> None:
    loss = _write(tmp_path, "losses.py", source)
    args = ["--static"] if static else []
    result = run_cli("--no-cache", *args, "--loss", f"{loss}:nll", model_path(MODEL))
    assert result.exit_code == 2
    assert result.stderr == f"tfpcheck: error: --loss {loss}:nll: {what}; {FIX}\n"
    assert result.stdout == ""


def test_a_loss_file_that_does_not_parse_stops_before_tensorflow(tmp_path: Path) -> None:
    loss = _write(tmp_path, "losses.py", UNCLOSED)
    # Not --static: the probe was asked for, and still nothing heavy is imported.
    result = _run("--no-cache", "--loss", f"{loss}:nll", model_path(MODEL))
    assert result == {"exit": 2, "heavy": []}


def test_a_relative_loss_file_is_named_as_given(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path, "broken.py", UNCLOSED)
    monkeypatch.chdir(tmp_path)
    result = run_cli("--static", "--loss", "broken.py:nll", model_path(MODEL))
    assert result.exit_code == 2
    assert result.stderr == (
        "tfpcheck: error: --loss broken.py:nll: SyntaxError at line 4: '(' was never closed; "
        f"{FIX}\n"
    )


@needs_probe
def test_a_loss_file_that_raises_on_import_is_a_usage_error(run_cli, tmp_path: Path) -> None:
    loss = _write(tmp_path, "losses.py", RAISES)
    result = run_cli("--no-cache", "--format", "json", "--loss", f"{loss}:nll", model_path(MODEL))
    assert result.exit_code == 2
    [entry] = result.json()["files"]
    assert entry["error"] == {
        "code": "usage",
        "message": f"--loss {loss}:nll: ZeroDivisionError at line 3: division by zero; {FIX}",
    }
    assert entry["findings"] == []  # no TFP108 about the model


@needs_probe
def test_the_import_error_is_one_line_of_the_text_report(run_cli, tmp_path: Path) -> None:
    loss = _write(tmp_path, "losses.py", RAISES)
    result = run_cli("--no-cache", "--loss", f"{loss}:nll", model_path(MODEL))
    assert result.exit_code == 2
    message = f"--loss {loss}:nll: ZeroDivisionError at line 3: division by zero; {FIX}"
    assert f"  usage error {message}" in result.stdout.splitlines()
    assert "TFP108" not in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_static_does_not_run_the_loss_file(run_cli, tmp_path: Path) -> None:
    # Only importing shows that a file raises, and --static imports nothing of the user's.
    loss = _write(tmp_path, "losses.py", RAISES)
    result = run_cli("--static", "--format", "json", "--loss", f"{loss}:nll", model_path(MODEL))
    assert result.exit_code == 0
    assert result.json()["files"][0]["error"] is None


@needs_probe
def test_an_error_in_a_module_the_loss_file_imports_names_that_file(
    run_cli, tmp_path: Path
) -> None:
    helper = _write(tmp_path, "loss_helpers.py", "WEIGHTS = [1.0][3]\n")
    loss = _write(
        tmp_path,
        "losses.py",
        "from loss_helpers import WEIGHTS\n\ndef nll(y_true, y_pred):\n    return y_true\n",
    )
    result = run_cli("--no-cache", "--format", "json", "--loss", f"{loss}:nll", model_path(MODEL))
    assert result.exit_code == 2
    assert result.json()["files"][0]["error"]["message"] == (
        f"--loss {loss}:nll: IndexError at {helper}:1: list index out of range; {FIX}"
    )


@needs_probe
def test_the_probe_maps_a_syntax_error_too(tmp_path: Path) -> None:
    """The Python API and `module:NAME` reach the probe without the command line's check."""
    loss = _write(tmp_path, "losses.py", UNCLOSED)
    result = probe(model_path(MODEL), f"{loss}:nll")
    assert result.findings == ()
    assert result.error == (
        "usage",
        f"--loss {loss}:nll: SyntaxError at line 4: '(' was never closed; {FIX}",
    )


@needs_probe
def test_a_module_loss_that_raises_names_its_file(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _write(tmp_path, "raising_loss_module.py", RAISES)
    monkeypatch.chdir(tmp_path)
    result = run_cli(
        "--no-cache", "--format", "json", "--loss", "raising_loss_module:nll", model_path(MODEL)
    )
    assert result.exit_code == 2
    assert result.json()["files"][0]["error"]["message"] == (
        f"--loss raising_loss_module:nll: ZeroDivisionError at {module}:3: division by zero; {FIX}"
    )
