"""What a rule is: a stable code, a name for the mistake, documentation and a check."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tfpcheck.findings import Confidence, Finding, Severity, Tier, Where

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation
    from tfpcheck.rules.context import StaticContext


@dataclass(frozen=True)
class RuleDoc:
    what: str
    why: str
    example: str
    use_instead: str


StaticCheck = Callable[["StaticContext"], Iterable[Finding]]
# Judges what one probe run observed (the probe fills it; tfpcheck.evidence holds the type)
ProbeCheck = Callable[["Observation"], Iterable[Finding]]
# Takes one of the rule's static findings (a guess from the configuration or the source) and
# a probe Observation; returns what the probe saw that disproves the guess (it ran what the
# guess is about, at the shapes in question, without the problem), or None.
RefuteCheck = Callable[[Finding, "Observation"], str | None]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    title: str
    severity: Severity
    tiers: tuple[Tier, ...]
    doc: RuleDoc
    check_static: StaticCheck | None = field(default=None, compare=False)
    check_probe: ProbeCheck | None = field(default=None, compare=False)
    refute_probe: RefuteCheck | None = field(default=None, compare=False)

    def finding(
        self,
        message: str,
        fix: str,
        where: Where | None = None,
        evidence: Mapping[str, Any] | None = None,
        *,
        severity: Severity | None = None,
        confidence: Confidence = Confidence.MEDIUM,
        tier: Tier = "static",
    ) -> Finding:
        return Finding(
            code=self.code,
            name=self.name,
            severity=severity or self.severity,
            message=message,
            fix=fix,
            where=where or Where(),
            evidence=dict(evidence or {}),
            tier=tier,
            confidence=confidence,
        )
