"""What a rule is: a stable code, a name for the mistake, documentation, and one hook per
channel it reads: the model description, the user's source, the probe's observation, the
probe's confirmation of a static guess. Its tiers follow from its hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tfpcheck.findings import Confidence, Finding, Severity, Tier, Where

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import HeadCall, Observation
    from tfpcheck.rules.context import StaticContext
    from tfpcheck.source_scan import SourceScan


@dataclass(frozen=True)
class RuleDoc:
    what: str
    why: str
    example: str
    use_instead: str


# The model description: a saved file's configuration, or a live model's (a factory's)
StaticCheck = Callable[["StaticContext"], Iterable[Finding]]
# The user's own source named as FILE.py:NAME (a loss or a factory), read with ast
SourceCheck = Callable[["SourceScan"], Iterable[Finding]]
# Judges what one probe run observed (the probe fills it; tfpcheck.evidence holds the type)
ProbeCheck = Callable[["Observation"], Iterable[Finding]]
# The probe's evidence for a mistake the static tier also looks for: the values it saw, and
# the static findings (the probe's finding then replaces the static one at the same place).
ConfirmCheck = Callable[["Observation", tuple[Finding, ...]], Iterable[Finding]]
# Takes one of the rule's static findings (a guess from the configuration or the source) and
# a probe Observation; returns what the probe saw that disproves the guess (it ran what the
# guess is about, at the shapes in question, without the problem), or None.
RefuteCheck = Callable[[Finding, "Observation"], str | None]
# A model that could not be built or loaded: the tfp.layers heads called while building it
# and the loading's findings; returns the findings to report in their place.
UnbuiltCheck = Callable[[list["HeadCall"], list[Finding]], list[Finding]]
# A model with several outputs, each probed on its own: the observations by output name, the
# outputs' loss weights and the layers' indices, for what only the whole model shows.
OutputsCheck = Callable[
    [Mapping[str, "Observation"], Mapping[str, float], Mapping[str, int]], Iterable[Finding]
]
# Whether one of this rule's findings (first) explains another finding (second) so fully
# that the second is its evidence, not a mistake of its own.
AbsorbCheck = Callable[[Finding, Finding], bool]


@dataclass(frozen=True)
class FixedBy:
    """A rule whose finding at a layer is a symptom of another rule's finding there: its fix
    points to the cause's. `fix` may name '{layer}' and '{cause}'."""

    cause: str
    fix: str


PROBE_MODULES = "tfpcheck.probe"


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    title: str
    severity: Severity
    doc: RuleDoc
    check_static: StaticCheck | None = field(default=None, compare=False)
    check_source: SourceCheck | None = field(default=None, compare=False)
    check_probe: ProbeCheck | None = field(default=None, compare=False)
    confirm_probe: ConfirmCheck | None = field(default=None, compare=False)
    refute_probe: RefuteCheck | None = field(default=None, compare=False)
    confirm_unbuilt: UnbuiltCheck | None = field(default=None, compare=False)
    check_outputs: OutputsCheck | None = field(default=None, compare=False)
    # Codes whose findings this rule's finding explains: they are dropped when it is found.
    explains: frozenset[str] = frozenset()
    absorbs: AbsorbCheck | None = field(default=None, compare=False)
    fixed_by: FixedBy | None = None
    # The module that raises this rule's findings where it decides whether a model can be
    # read, loaded or probed at all (no hook: the reading or loading itself is the check).
    raised_by: str | None = None

    @property
    def tiers(self) -> tuple[Tier, ...]:
        """Where the rule runs, from its hooks: the static tier reads the model description
        and the user's source; the probe observes, confirms or loads."""
        raised = self.raised_by or ""
        probe_raised = raised == PROBE_MODULES or raised.startswith(PROBE_MODULES + ".")
        static = bool(self.check_static or self.check_source or (raised and not probe_raised))
        probe = bool(
            self.check_probe
            or self.confirm_probe
            or self.confirm_unbuilt
            or self.check_outputs
            or probe_raised
        )
        tiers: list[Tier] = []
        if static:
            tiers.append("static")
        if probe:
            tiers.append("probe")
        return tuple(tiers)

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
