"""Static-tier rules on real saved models; the cases are data in cases/static_rules.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import model_path, source_line

from tfpcheck.engine import run_static_rules
from tfpcheck.findings import Finding
from tfpcheck.losses import parse_loss_spec
from tfpcheck.model_file.load import read_model_file
from tfpcheck.rules.context import StaticContext

CASES = tomllib.loads((Path(__file__).parent / "cases" / "static_rules.toml").read_text())["case"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", CASES, ids=[c["id"] for c in CASES])


def _context(case: dict[str, Any]) -> StaticContext:
    args = list(case.get("args", []))
    loss = args[args.index("--loss") + 1] if "--loss" in args else None
    spec = parse_loss_spec(loss, "--from-logits" in args) if loss else None
    return StaticContext(
        model=read_model_file(model_path(case["fixture"])),
        loss=spec,
        probe_requested=bool(case.get("probe", False)),
        unsafe="--unsafe" in args,
    )


def _matches(finding: Finding, expect: dict[str, Any]) -> list[str]:
    """What differs between a finding and an expectation (empty: it matches)."""
    problems = []
    where = finding.where
    for key in ("layer", "layer_index"):
        if key in expect and getattr(where, key) != expect[key]:
            problems.append(f"{key}={getattr(where, key)!r}")
    if "severity" in expect and finding.severity.value != expect["severity"]:
        problems.append(f"severity={finding.severity.value}")
    if "line" in expect:
        snippet, after = expect["line"]
        if where.line != source_line(snippet, after) or not (where.file or "").endswith(
            "build_fixtures.py"
        ):
            problems.append(f"at {where.file}:{where.line}")
    for key, value in expect.get("evidence", {}).items():
        if finding.evidence.get(key) != value:
            problems.append(f"evidence[{key}]={finding.evidence.get(key)!r}")
    if "fix_contains" in expect and expect["fix_contains"] not in finding.fix:
        problems.append(f"fix={finding.fix!r}")
    if "message_contains" in expect and expect["message_contains"] not in finding.message:
        problems.append(f"message={finding.message!r}")
    return problems


def test_static_rule_case(case: dict[str, Any]) -> None:
    findings = run_static_rules(_context(case))
    for expect in case.get("expect", []):
        same_code = [f for f in findings if f.code == expect["code"]]
        assert same_code, f"{expect['code']} not reported; got {[f.code for f in findings]}"
        mismatches = [_matches(f, expect) for f in same_code]
        assert any(not m for m in mismatches), f"{expect['code']} differs: {mismatches}"
        assert all(f.fix and f.message and f.tier == "static" for f in same_code)
    reported = {f.code for f in findings}
    for code in case.get("absent", []):
        assert code not in reported, [f.message for f in findings if f.code == code]


def test_every_static_rule_has_a_failing_and_a_passing_case() -> None:
    from tfpcheck.rules import REGISTRY

    failing = {e["code"] for c in CASES for e in c.get("expect", [])}
    passing = {code for c in CASES for code in c.get("absent", [])}
    for rule in REGISTRY:
        if rule.check_static is None or rule.code in {"TFP007"}:
            continue  # TFP007 has its own tests with payloads made on purpose
        if rule.code == "TFP004":  # its failing file is an edited archive: test_keras_flavor.py
            assert rule.code in {code for c in CASES for code in c.get("absent", [])}
            continue
        assert rule.code in failing, f"{rule.code} has no failing case"
        assert rule.code in passing, f"{rule.code} has no passing case"
