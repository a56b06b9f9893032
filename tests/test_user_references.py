"""References that name nothing are usage errors: one line, exit 2, before TensorFlow starts.

Each case runs the real command in a fresh interpreter, which also says whether TensorFlow,
TFP or a Keras was imported by then, with and without `--static`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, model_path

HEAVY = {"tensorflow", "tensorflow_probability", "keras", "tf_keras"}
SCRIPT = """
import json, sys
from tfpcheck.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})
print(json.dumps({{"exit": code, "heavy": heavy}}), file=sys.stderr)
"""
MODEL = model_path("k3_softmax_probs.keras")
FLIPOUT = FIXTURES / "factories" / "flipout.py"
LOSSES = FIXTURES / "losses.py"


def run(cwd: Path, *args: str) -> tuple[int, str, str, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )
    *lines, last = proc.stderr.strip().splitlines()
    status = json.loads(last)
    return status["exit"], proc.stdout, "\n".join(lines), status["heavy"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("references")
    (root / "badsyntax.py").write_text("def nll(y, p):\n    return -p.log_prob(y\n")
    (root / "models.py").write_text(
        "def build_model():\n    pass\n\n\nclass Builder:\n    def make(self):\n        pass\n"
    )
    return root


CASES = [
    (["--loss", "nope.py:nll", MODEL], "--loss nope.py:nll: no such file: nope.py"),
    (
        ["--loss", f"{LOSSES}:normal_nl", MODEL],
        f"--loss {LOSSES}:normal_nl: {LOSSES} defines no 'normal_nl' (did you mean 'normal_nll'?)",
    ),
    (
        ["--loss", "badsyntax.py:nll", MODEL],
        "--loss badsyntax.py:nll: SyntaxError at line 2: '(' was never closed; "
        "fix the file or give another --loss",
    ),
    (
        ["--loss", "no_such_module_xyz:nll", MODEL],
        "--loss no_such_module_xyz:nll: no module named 'no_such_module_xyz': check the name, "
        "or run tfpcheck where Python can import it (or give FILE.py)",
    ),
    (
        ["models.py:build_modle"],
        "models.py:build_modle: models.py defines no 'build_modle' (did you mean 'build_model'?)",
    ),
    (["nothere.py:build_model"], "nothere.py:build_model: no such file: nothere.py"),
    (
        ["models.py:Builder.mak"],
        "models.py:Builder.mak: models.py's class Builder defines no 'mak' (did you mean 'make'?)",
    ),
    (
        ["--custom-objects", "nope.py", MODEL],
        "--custom-objects nope.py: no such file: nope.py",
    ),
    (
        ["--data", "nope.npz", MODEL],
        "--data nope.npz: no such file; give an .npz file with arrays x and y",
    ),
    (
        ["--select", "TPF202", MODEL],
        "--select TPF202: no rule code starts with 'TPF202' (did you mean 'TFP202'?)",
    ),
    (
        ["--batch-size", "1", MODEL],
        "Invalid value for '--batch-size': 1 is not in the range x>=2. (tfpcheck --help)",
    ),
    (
        ["--format", "xml", MODEL],
        "Invalid value for '--format': 'xml' is not one of 'text', 'json', 'sarif', "
        "'github'. (tfpcheck --help)",
    ),
    (
        ["--loss", "nlll", MODEL],
        "--loss: unknown loss 'nlll' (did you mean 'nll'?): use nll, compiled, a Keras loss "
        "name (categorical_crossentropy/cce, sparse_categorical_crossentropy/scce, "
        "binary_crossentropy/bce, mse, mae, huber, kld, poisson, ...) or FILE.py:NAME",
    ),
]


@pytest.mark.parametrize("static", [False, True], ids=["probe", "static"])
@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(c[0][:2]) for c in CASES])
def test_usage_error_is_one_line_before_tensorflow(
    workdir: Path, args: list[str], message: str, static: bool
) -> None:
    code, stdout, stderr, heavy = run(workdir, *args, *(["--static"] if static else []))
    assert code == 2
    assert stdout == ""
    assert stderr == f"tfpcheck: error: {message}"
    assert heavy == []


def test_a_directory_is_not_a_loss_file(workdir: Path) -> None:
    directory = workdir / "adir"
    directory.mkdir(exist_ok=True)
    code, _, stderr, heavy = run(workdir, "--loss", f"{directory}:nll", MODEL)
    assert (code, heavy) == (2, [])
    assert stderr == (
        f"tfpcheck: error: --loss {directory}:nll: adir is a directory, not a Python file"
    )


def test_a_dotted_factory_name_is_a_factory(run_cli, workdir: Path, monkeypatch) -> None:
    monkeypatch.chdir(workdir)
    result = run_cli("models.py:Builder.make", "--static", "--format", "json")
    assert result.exit_code == 0, result.stderr
    (entry,) = result.json()["files"]
    assert entry["error"] is None
    assert entry["reason"] == "--static: only the factory's source text was read"


def test_references_that_resolve_are_accepted(workdir: Path) -> None:
    # the factory fixture and a loss module found on sys.path, as the probe would import it
    code, _, stderr, heavy = run(
        workdir, f"{FLIPOUT}:build_model", "--static", "--loss", "json:loads"
    )
    assert (code, stderr, heavy) == (0, "", [])
