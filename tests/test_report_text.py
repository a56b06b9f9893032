"""The terminal report: the fix as a block, NO_COLOR, -q/-v, and progress only at a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest
from conftest import FIXTURES, ROOT, model_path, source_line

BROKEN = "tfk_softmax_categorical.keras"
ANSI = "\x1b["


def test_fix_is_a_block_with_code_on_its_own_line(run_cli, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = run_cli(
        "fixtures/models/k3_regression_dense2.keras",
        "--loss",
        "fixtures/losses.py:normal_nll_rank_dropping",
    )
    lines = result.stdout.splitlines()
    line = source_line("log_prob(y_true)", "def normal_nll_rank", FIXTURES / "losses.py")
    fix = lines.index("    Fix:")
    assert lines[fix + 1].startswith(
        "      Keep the parameters rank-aligned with y_true (32, 1): at "
    )
    assert lines[fix + 1].endswith(f"fixtures/losses.py:{line} write")
    assert lines[fix + 2] == (
        "        return -tfd.Normal(loc=y_pred[:, 0:1], scale=tf.exp(y_pred[:, 1:2]))"
        ".log_prob(y_true)"
    )
    assert lines[fix + 3].startswith("      (slices such as y_pred[:, 0:1] keep")
    # The source file is shown relative to the working directory.
    assert f"    at function normal_nll_rank_dropping, fixtures/losses.py:{line}" in lines


def test_color_when_forced_and_none_with_no_color(run_cli, monkeypatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    colored = run_cli("--static", model_path(BROKEN))
    assert ANSI in colored.stdout
    monkeypatch.setenv("NO_COLOR", "1")
    plain = run_cli("--static", model_path(BROKEN))
    assert ANSI not in plain.stdout
    assert "  TFP202 error [double-softmax] softmax output of" in plain.stdout
    assert "\n    Fix:\n      Feed raw logits:" in plain.stdout
    assert ANSI not in run_cli("rules").stdout


def test_verbose_shows_all_evidence_and_quiet_only_the_summary(run_cli) -> None:
    normal = run_cli("--static", model_path(BROKEN)).stdout
    verbose = run_cli("-v", "--static", model_path(BROKEN)).stdout
    quiet = run_cli("-q", "--static", model_path(BROKEN)).stdout
    # Four key items by default; -v adds the rest and the tier.
    assert "    expression: tfd.Categorical(logits=t)" not in normal
    assert "    expression: tfd.Categorical(logits=t)" in verbose
    assert "    tier: static, confidence: medium" in verbose
    assert quiet.splitlines() == [quiet.strip()]
    assert quiet.startswith("1 error, 0 warnings, 0 infos in 1 file")


SCRIPT = "import sys; from tfpcheck.cli import main; sys.exit(main(sys.argv[1:]))"
TWO_MODELS = (model_path(BROKEN), model_path("k3_softmax_probs.keras"))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "NO_COLOR"}}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return env


def test_piped_output_has_no_progress() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, "--static", *TWO_MODELS],
        capture_output=True,
        text=True,
        check=False,
        env=_env(),
    )
    assert proc.returncode == 1
    assert proc.stderr == ""
    assert "checking" not in proc.stdout and ANSI not in proc.stdout


@pytest.mark.skipif(not hasattr(pty, "openpty"), reason="needs a pseudo-terminal")
def test_progress_is_shown_on_a_terminal_stderr() -> None:
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT, "--static", *TWO_MODELS],
            stdout=subprocess.PIPE,
            stderr=follower,
            check=False,
            env=_env(),
        )
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: everything is read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert proc.returncode == 1
    text = shown.decode(errors="replace")
    assert f"checking {FIXTURES / 'models' / 'k3_softmax_probs.keras'}" in text
    assert "2/2" in text
    # The report itself is on stdout, untouched by the progress display.
    assert b"TFP202 error" in proc.stdout and b"checking" not in proc.stdout
