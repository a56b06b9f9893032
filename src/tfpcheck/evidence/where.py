"""Small helpers the probe rules share to build findings: where they point, shape wording."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tfpcheck.evidence.observations import DistRecord, LossEval, Observation, fmt_shape
from tfpcheck.evidence.sites import ErrorSummary, Site
from tfpcheck.findings import Confidence, Finding, Severity, Where

if TYPE_CHECKING:  # rules import this module: only the type, never the import
    from tfpcheck.rules.base import Rule


def probe_finding(
    rule: Rule,
    message: str,
    fix: str,
    where: Where,
    evidence: dict[str, Any],
    severity: Severity | None = None,
) -> Finding:
    return rule.finding(
        message,
        fix,
        where,
        evidence,
        severity=severity,
        tier="probe",
        confidence=Confidence.HIGH,
    )


def site_where(
    site: Site | None, layer: str | None = None, obs: Observation | None = None
) -> Where:
    index = None
    if layer is not None and obs is not None:
        info = obs.layer(layer)
        index = info.index if info is not None else None
    if site is None:
        return Where(layer=layer, layer_index=index)
    return Where(
        layer=layer, layer_index=index, function=site.function, file=site.file, line=site.line
    )


def record_where(obs: Observation, record: DistRecord) -> Where:
    """A distribution built in a layer points at the layer (and its lambda); else the call."""
    if record.layer is not None:
        return site_where(record.built_at, record.layer, obs)
    site = record.call_site or record.built_at
    if site is None and obs.output_layer is not None:
        return Where(layer=obs.output_layer.name, layer_index=obs.output_layer.index)
    return site_where(site)


def loss_where(obs: Observation) -> Where:
    if obs.loss.site is not None:
        return site_where(obs.loss.site)
    if obs.output_layer is not None:
        return Where(layer=obs.output_layer.name, layer_index=obs.output_layer.index)
    return Where()


def output_where(obs: Observation) -> Where:
    if obs.output_layer is None:
        return Where()
    return Where(layer=obs.output_layer.name, layer_index=obs.output_layer.index)


def severity_for(evaluations: list[LossEval], default: Severity) -> Severity:
    """Findings seen only with the other target shape users feed are warnings."""
    if any(e.target.canonical for e in evaluations):
        return default
    return Severity.WARNING if default == Severity.ERROR else default


def shape_text(shape: tuple[int, ...] | None) -> str:
    return fmt_shape(shape)


def site_text(site: Site | None) -> str | None:
    return site.describe() if site is not None else None


def summary_evidence(summary: ErrorSummary) -> dict[str, Any]:
    """The error, its op and the user's frame (the layer goes into the finding's Where:
    `site_where(summary.site, summary.layer)`)."""
    evidence: dict[str, Any] = {"error": summary.describe()}
    if summary.op:
        evidence["op"] = summary.op
    if summary.site is not None:
        evidence["frame"] = summary.site.describe()
        if summary.site.code:
            evidence["code"] = summary.site.code
    return evidence
