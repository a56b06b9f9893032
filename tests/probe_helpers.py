"""Probe calls shared by the probe test modules: each result is computed once per test run."""

from __future__ import annotations

from functools import cache

from tfpcheck.findings import Finding, Severity
from tfpcheck.losses import parse_loss_spec
from tfpcheck.probe import ProbeRequest, ProbeResult, run_probe


@cache
def probe(path: str, loss: str | None = None, **options: object) -> ProbeResult:
    spec = parse_loss_spec(loss) if loss else None
    return run_probe(ProbeRequest(path=path, flavor=None, loss=spec, unsafe=True, **options))


def codes(result: ProbeResult) -> list[str]:
    return [f.code for f in result.findings]


def errors(result: ProbeResult) -> list[Finding]:
    return [f for f in result.findings if f.severity == Severity.ERROR]
