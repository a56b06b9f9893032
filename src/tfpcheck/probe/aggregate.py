"""One finding per cause: drop findings another one explains, merge static + probe evidence."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from tfpcheck.findings import Confidence, Finding, Refutation, Where

if TYPE_CHECKING:
    from tfpcheck.evidence.observations import Observation

# code -> codes it explains (and so suppresses) among the probe's own findings.
EXPLAINS = {
    "TFP201": {"TFP108", "TFP102", "TFP401", "TFP302"},
    "TFP101": {"TFP107", "TFP103"},
    "TFP104": {"TFP103"},
    "TFP301": {"TFP302"},
    "TFP304": {"TFP302"},  # a covariance that is not positive definite: its log_prob is NaN
    "TFP205": {"TFP101", "TFP102", "TFP103", "TFP108", "TFP107"},
    # logits read as probabilities: samples out of range and NaN log_probs follow from it
    "TFP204": {"TFP108", "TFP302"},
}


def suppress(findings: list[Finding]) -> list[Finding]:
    codes = {f.code for f in findings}
    dropped = set().union(*(EXPLAINS[c] for c in codes if c in EXPLAINS))
    kept = [f for f in findings if f.code not in dropped]
    # A head that fails because of its input width is TFP105's evidence: the failure at
    # that layer, or the same error raised deeper (a mixture's component layer, the factory).
    width = [f for f in kept if f.code == "TFP105"]
    wrong_width = {f.where.layer for f in width if "op" in f.evidence}
    width_errors = {f.evidence["error"] for f in width if "error" in f.evidence}
    kept = [
        f
        for f in kept
        if not (
            f.code == "TFP108"
            and (f.where.layer in wrong_width or f.evidence.get("error") in width_errors)
        )
    ]
    # A failed Cholesky is TFP304's evidence, not a separate failure.
    if any(f.code == "TFP304" and "op" in f.evidence for f in kept):
        kept = [
            f
            for f in kept
            if not (f.code in {"TFP108", "TFP102"} and "cholesky" in str(f.evidence).lower())
        ]
    return _refer(kept)


# code -> the code whose finding at the same layer names the cause and carries the fix:
# a broadcast (TFP104) of a head fed the wrong width (TFP105) is fixed by fixing the width.
FIXED_BY = {"TFP104": "TFP105"}


def _refer(findings: list[Finding]) -> list[Finding]:
    """Findings with one cause carry one fix: the symptom's fix points to the cause's."""
    present = {(f.code, _base(f.where.layer)) for f in findings}
    referred = []
    for finding in findings:
        cause = FIXED_BY.get(finding.code)
        layer = _base(finding.where.layer)
        if cause is not None and layer is not None and (cause, layer) in present:
            finding = replace(
                finding, fix=f"The width feeding '{layer}' is the cause: see {cause}'s fix."
            )
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
    from tfpcheck.rules import BY_CODE

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
