"""Shared test helpers: fixture paths and an in-process CLI runner."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
MODELS = FIXTURES / "models"
BUILD_SCRIPT = FIXTURES / "build_fixtures.py"


@pytest.fixture(autouse=True, scope="session")
def _result_cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """The tests' result cache lives in a temporary directory, never in the user's ~/.cache."""
    previous = os.environ.get("TFPCHECK_CACHE_DIR")
    os.environ["TFPCHECK_CACHE_DIR"] = str(tmp_path_factory.mktemp("tfpcheck-cache"))
    yield
    if previous is None:
        os.environ.pop("TFPCHECK_CACHE_DIR", None)
    else:
        os.environ["TFPCHECK_CACHE_DIR"] = previous


def model_path(name: str) -> str:
    path = MODELS / name
    assert path.exists(), f"missing fixture {path}: run python fixtures/build_fixtures.py"
    return str(path)


def source_line(snippet: str, after: str | None = None, path: Path = BUILD_SCRIPT) -> int:
    """1-based line of the first line of `path` containing `snippet` (after `after`)."""
    lines = path.read_text().splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line)
    for i in range(start, len(lines)):
        if snippet in lines[i]:
            return i + 1
    raise AssertionError(f"{snippet!r} not found in {path}")


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):
    from tfpcheck.cli import main

    def run(*args: str) -> CliResult:
        code = main(list(args))
        out, err = capsys.readouterr()
        return CliResult(code, out, err)

    return run
