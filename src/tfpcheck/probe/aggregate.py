"""One finding per cause: drop findings another one explains, merge static + probe evidence."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from tfpcheck.findings import Confidence, Finding, Refutation, Where
from tfpcheck.rules import BY_CODE

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation


def suppress(findings: list[Finding]) -> list[Finding]:
    """Drop the findings another one explains, each rule saying what its findings explain
    (`Rule.explains`, whole codes) or absorb as their evidence (`Rule.absorbs`, one finding
    at a time); then a symptom's fix points to its cause's (`Rule.fixed_by`)."""
    codes = {f.code for f in findings}
    dropped = set().union(*(rule.explains for c in codes if (rule := BY_CODE.get(c))))
    kept = [f for f in findings if f.code not in dropped]
    absorbing = [(f, r.absorbs) for f in kept if (r := BY_CODE.get(f.code)) and r.absorbs]
    kept = [f for f in kept if not any(absorbs(own, f) for own, absorbs in absorbing)]
    return _refer(kept)


def _refer(findings: list[Finding]) -> list[Finding]:
    """Findings with one cause carry one fix: the symptom's fix points to the cause's."""
    present = {(f.code, _base(f.where.layer)) for f in findings}
    referred = []
    for finding in findings:
        rule = BY_CODE.get(finding.code)
        cause = rule.fixed_by if rule is not None else None
        layer = _base(finding.where.layer)
        if cause is not None and layer is not None and (cause.cause, layer) in present:
            fix = cause.fix.format(layer=layer, cause=cause.cause)
            finding = replace(finding, fix=fix)
        referred.append(finding)
    return referred


def _base(layer: str | None) -> str | None:
    return layer.rsplit("/", 1)[-1] if layer else None


def _merge_where(probe: Where, static: Where) -> Where:
    return Where(
        layer=probe.layer or static.layer,
        layer_index=probe.layer_index if probe.layer_index is not None else static.layer_index,
        function=probe.function or static.function,
        file=probe.file or static.file,
        line=probe.line if probe.line is not None else static.line,
    )


def merge(probe: list[Finding], static: tuple[Finding, ...]) -> list[Finding]:
    """A probe finding that confirms a static one replaces it in the report: one finding."""
    merged: list[Finding] = []
    for finding in probe:
        same_code = [s for s in static if s.code == finding.code]
        match = next(
            (s for s in same_code if _base(s.where.layer) == _base(finding.where.layer)), None
        )
        probe_same = [f for f in probe if f.code == finding.code]
        if match is None and len(same_code) == 1 and len(probe_same) == 1:
            match = same_code[0]  # the same mistake seen from two sides (e.g. softmax layer)
        if match is None:
            merged.append(finding)
            continue
        where = _merge_where(match.where, finding.where) if match.where.layer else finding.where
        evidence = {**dict(match.evidence), **dict(finding.evidence)}
        if match.where.layer is None and match.where.file and finding.where.layer:
            # Seen in the user's source (FILE.py:NAME) and at a layer by the probe: point at
            # the source line (the report keys a finding by its code and layer, so the
            # static one is then replaced, not repeated) and name the layer in the evidence.
            where = match.where
            evidence = {"layer": finding.where.layer, **evidence}
        merged.append(
            replace(
                finding,
                where=where,
                evidence=evidence,
                tier="probe",
                confidence=Confidence.HIGH,
            )
        )
    return merged


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    unique = []
    for finding in findings:
        key = (finding.code, finding.message)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique


def uncovered(static: list[Finding], final: list[Finding]) -> list[Finding]:
    """The static findings no final finding stands for (same code, same layer)."""
    covered = {(f.code, _base(f.where.layer)) for f in final}
    return [s for s in static if (s.code, _base(s.where.layer)) not in covered]


def finalize(probe: list[Finding], static: tuple[Finding, ...]) -> list[Finding]:
    return merge(suppress(_dedupe(probe)), static)


def refutations(obs: Observation, static: Iterable[Finding]) -> list[Refutation]:
    """The static guesses this observation disproves, each asked of the rule that made it."""
    found = []
    for finding in static:
        rule = BY_CODE.get(finding.code)
        if finding.tier != "static" or rule is None or rule.refute_probe is None:
            continue
        reason = rule.refute_probe(finding, obs)
        if reason is not None:
            found.append(Refutation(finding, reason))
    return found


def standing_refutations(refuted: list[Refutation], final: list[Finding]) -> list[Refutation]:
    """Refutations no final finding contradicts (another output or pass confirmed the same
    code there), once each."""
    kept: list[Refutation] = []
    for refutation in refuted:
        if not uncovered([refutation.finding], final):
            continue
        if all(r.finding != refutation.finding for r in kept):
            kept.append(refutation)
    return kept
