"""The real-world corpus (tests/corpus/): configurations from public sources, checked end to end.

Each case is a factory module with its source address, what was adapted, the documented bug
and the codes that bug must produce (decided from the bug and SPEC §4, not from tfpcheck's
output). tfpcheck runs on each in this process, through the command line's ``main`` with
``--format json --no-cache``; the probe worker is shared by all of them. A buggy case must
report every expected code; a correct case must report no finding of severity error or
warning.

``KNOWN_MISSES`` lists what tfpcheck gets wrong today, one reason per case naming the
pattern. Those cases are strict xfails: fixing the rule makes the case pass, the xfail
fails, and the entry must be removed here.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import ROOT

from tfpcheck.rules import get_rule


def _load_corpus() -> ModuleType:
    path = ROOT / "tests" / "corpus" / "_corpus.py"
    spec = importlib.util.spec_from_file_location("_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("_corpus", module)
    spec.loader.exec_module(module)
    return module


corpus = _load_corpus()
CASES = corpus.discover()

# What tfpcheck misses or wrongly reports on the corpus today: case name -> the pattern.
KNOWN_MISSES: dict[str, str] = {}

CODE = re.compile(r"^TFP\d{3}$")


def _params() -> list[object]:
    params: list[object] = []
    for case in CASES:
        marks = []
        if case.name in KNOWN_MISSES:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[case.name]))
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


def test_corpus_metadata_is_complete() -> None:
    assert len(CASES) >= 20
    for case in CASES:
        assert case.source.startswith("https://"), case.name
        assert isinstance(case.verbatim, bool), case.name
        assert case.verbatim or case.adapted.strip(), f"{case.name}: say what was adapted"
        assert (case.bug is None) == case.correct, f"{case.name}: BUG is None iff EXPECTED is ()"
        assert case.flavor in {"tf_keras", "keras3"}, case.name
        for code in case.expected:
            assert CODE.match(code) and get_rule(code) is not None, f"{case.name}: {code}"
        assert all(isinstance(arg, str) for arg in case.args), case.name


def test_known_misses_name_cases() -> None:
    assert set(KNOWN_MISSES) <= {case.name for case in CASES}


def test_each_case_defines_build() -> None:
    for case in CASES:
        text = Path(case.path).read_text(encoding="utf-8")
        assert re.search(r"^def build\(\)", text, re.MULTILINE), case.name


@pytest.mark.parametrize("case", _params())
def test_corpus_case(case: corpus.Case) -> None:
    result = corpus.run(case)
    assert result.crash is None, result.describe()
    if case.correct:
        assert not result.errors, f"error findings on a correct configuration: {result.describe()}"
        assert not result.warnings, f"warnings on a correct configuration: {result.describe()}"
    else:
        assert not result.missed, f"{result.missed} not reported: {result.describe()}"
