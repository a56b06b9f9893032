"""The published `tfpcheck` hook, run by the real pre-commit (`pre-commit try-repo`).

pre-commit builds the hook's environment with pip from this repository (typer, rich and
h5py from the package index; no TensorFlow) and runs the hook on model files of a throwaway
git repository. try-repo builds that environment in a temporary store of its own on every
call (whatever PRE_COMMIT_HOME says), and each call costs an install, so this module makes
two calls: one that must fail and one that must pass.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, model_path

BROKEN = "k3_softmax_from_logits.keras"  # softmax output + from_logits=True: TFP202
FIXED = "k3_softmax_probs.keras"  # the same model with from_logits=False: clean


def _git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def _clean_env() -> dict[str, str]:
    # A GIT_DIR or GIT_INDEX_FILE inherited from an outer git (a hook running pytest) would
    # point pre-commit's git commands at the wrong repository.
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


@pytest.fixture(scope="session")
def hook_repository() -> Path:
    """This checkout. try-repo installs its working tree: committed files plus uncommitted
    changes to tracked (or staged) files, as pre-commit does with a local path."""
    if importlib.util.find_spec("pre_commit") is None:
        pytest.fail("pre-commit is not installed: pip install -e '.[test]'")
    if not (ROOT / ".git").exists():
        pytest.fail(f"{ROOT} is not a git checkout: try-repo needs one")
    return ROOT


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # pre-commit never writes to the user's ~/.cache/pre-commit from these tests.
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's repository with a broken model and its fixed version, committed."""
    repo = tmp_path / "project"
    (repo / "models").mkdir(parents=True)
    shutil.copy(model_path(BROKEN), repo / "models" / "broken.keras")
    shutil.copy(model_path(FIXED), repo / "models" / "fixed.keras")
    env = _clean_env()
    _git("init", "--quiet", cwd=repo, env=env)
    _git("add", ".", cwd=repo, env=env)
    _git(
        "-c",
        "user.name=tfpcheck tests",
        "-c",
        "user.email=tests@tfpcheck.invalid",
        "commit",
        "--quiet",
        "-m",
        "models",
        cwd=repo,
        env=env,
    )
    return repo


def try_repo(
    hook_repository: Path, pre_commit_home: Path, project: Path, *files: str
) -> subprocess.CompletedProcess[str]:
    """`--verbose` so the hook's output shows even when it passes."""
    env = {**_clean_env(), "PRE_COMMIT_HOME": str(pre_commit_home), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repository), "tfpcheck"]
    return subprocess.run(
        [*command, "--color", "never", "--verbose", "--files", *files],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_hook_fails_on_the_broken_model_only(hook_repository, pre_commit_home, project) -> None:
    proc = try_repo(
        hook_repository, pre_commit_home, project, "models/broken.keras", "models/fixed.keras"
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "tfpcheck (static)" in out and "Failed" in out
    assert "- hook id: tfpcheck" in out
    assert "- exit code: 1" in out
    assert "models/broken.keras\n" in out
    assert "TFP202 error [double-softmax]" in out
    assert "at layer 'probs' (#1)" in out
    assert "models/fixed.keras" not in out.split("- exit code: 1", 1)[1]  # no finding
    assert "1 error, 0 warnings, 0 infos in 2 files" in out


def test_hook_passes_on_the_fixed_model(hook_repository, pre_commit_home, project) -> None:
    proc = try_repo(hook_repository, pre_commit_home, project, "models/fixed.keras")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "tfpcheck (static)" in out and "Passed" in out
    assert "TFP" not in out
    assert "0 errors, 0 warnings, 0 infos in 1 file" in out
