"""The SARIF 2.1.0 report, for code scanning (GitHub, GitLab, IDE viewers).

One run. Rules come from the registry with their documentation. A result's first location
is the checked model file, with the layer (or function) as a logical location; when the
finding knows the source line that causes it (a lambda, a loss function), that line is a
related location. A file that could not be checked is a result of its error code and a
tool execution notification, so nothing reported in text or JSON is lost here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tfpcheck import __version__
from tfpcheck.findings import FileResult, Finding, Severity, Where
from tfpcheck.report import Summary
from tfpcheck.report.locations import artifact_uri, model_file
from tfpcheck.rules import REGISTRY
from tfpcheck.rules.base import Rule

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
INFORMATION_URI = "https://pypi.org/project/tfpcheck/"
SRCROOT = "SRCROOT"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
RULE_INDEX = {rule.code: index for index, rule in enumerate(REGISTRY)}

Json = dict[str, Any]


def _indent(block: str) -> str:
    return "\n".join("    " + line for line in block.splitlines())


def rule_descriptor(rule: Rule) -> Json:
    doc = rule.doc
    text = (
        f"{doc.what}\n\nWhy is this bad?\n{doc.why}\n\n"
        f"Example:\n{_indent(doc.example)}\n\nUse instead:\n{_indent(doc.use_instead)}"
    )
    markdown = (
        f"{doc.what}\n\n## Why is this bad?\n\n{doc.why}\n\n"
        f"## Example\n\n```\n{doc.example}\n```\n\n"
        f"## Use instead\n\n```\n{doc.use_instead}\n```"
    )
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": doc.what},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": list(rule.tiers)},
    }


def _artifact(path: str, base: Path) -> Json:
    uri, relative = artifact_uri(path, base)
    return {"uri": uri, "uriBaseId": SRCROOT} if relative else {"uri": uri}


def _model_location(path: str, where: Where, base: Path) -> Json:
    location: Json = {}
    file = model_file(path)
    if file is not None:
        location["physicalLocation"] = {"artifactLocation": _artifact(file, base)}
    logical: list[Json] = []
    if where.layer is not None:
        # SARIF's own `index` points into run.logicalLocations, so the layer's position in
        # the model goes in properties.
        layer: Json = {"name": where.layer, "kind": "member"}
        if where.layer_index is not None:
            layer["properties"] = {"layerIndex": where.layer_index}
        logical.append(layer)
    if where.function is not None:
        logical.append({"name": where.function, "kind": "function"})
    if file is None:  # package.module:NAME names no file
        logical.append({"name": path, "fullyQualifiedName": path, "kind": "module"})
    if logical:
        location["logicalLocations"] = logical
    return location


def _source_location(where: Where, base: Path) -> Json | None:
    if where.file is None:
        return None
    physical: Json = {"artifactLocation": _artifact(where.file, base)}
    if where.line is not None:
        physical["region"] = {"startLine": where.line}
    what = f"function {where.function}" if where.function else "source"
    return {"id": 1, "physicalLocation": physical, "message": {"text": f"{what} is here"}}


def _rule_reference(code: str) -> Json:
    index = RULE_INDEX.get(code)
    return {"ruleId": code} if index is None else {"ruleId": code, "ruleIndex": index}


def _finding_result(path: str, finding: Finding, base: Path) -> Json:
    result: Json = {
        **_rule_reference(finding.code),
        "level": LEVELS[finding.severity],
        "message": {"text": f"{finding.message}\nFix: {finding.fix}"},
        "locations": [_model_location(path, finding.where, base)],
    }
    source = _source_location(finding.where, base)
    if source is not None:
        result["relatedLocations"] = [source]
    result["properties"] = {
        "name": finding.name,
        "tier": finding.tier,
        "confidence": finding.confidence.value,
        "fix": finding.fix,
        "where": finding.where.as_dict(),
        # Evidence may hold shapes or numbers of any type: keep what JSON can carry.
        "evidence": json.loads(json.dumps(dict(finding.evidence), default=str)),
    }
    return result


def _error_result(result: FileResult, base: Path) -> Json:
    assert result.error is not None
    return {
        **_rule_reference(result.error.code),
        "level": "error",
        "message": {"text": f"{result.path}: {result.error.message}"},
        "locations": [_model_location(result.path, Where(), base)],
        "properties": {"fileNotChecked": True},
    }


def _notifications(results: list[FileResult], base: Path) -> list[Json]:
    notifications: list[Json] = []
    for result in results:
        locations = [_model_location(result.path, Where(), base)]
        if result.error is not None:
            reference = _rule_reference(result.error.code)
            associated = {"id": reference["ruleId"]}
            if "ruleIndex" in reference:
                associated["index"] = reference["ruleIndex"]
            notifications.append(
                {
                    "level": "error",
                    "message": {"text": f"{result.path} not checked: {result.error.message}"},
                    "locations": locations,
                    "associatedRule": associated,
                }
            )
        notifications.extend(
            {"level": "note", "message": {"text": f"{result.path}: {note}"}, "locations": locations}
            for note in result.notes
        )
    return notifications


def _base_uri(base: Path) -> str:
    uri = base.as_uri()
    return uri if uri.endswith("/") else uri + "/"


def sarif_document(results: list[FileResult], summary: Summary, base: Path | None = None) -> Json:
    root = Path(os.path.abspath(base if base is not None else os.getcwd()))
    sarif_results: list[Json] = []
    for result in results:
        if result.error is not None:
            sarif_results.append(_error_result(result, root))
        sarif_results.extend(_finding_result(result.path, f, root) for f in result.findings)
    invocation: Json = {
        # The tool ran to the end; files it could not check are results and notifications.
        "executionSuccessful": True,
        "workingDirectory": {"uri": _base_uri(root)},
    }
    notifications = _notifications(results, root)
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: Json = {
        "tool": {
            "driver": {
                "name": "tfpcheck",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [rule_descriptor(rule) for rule in REGISTRY],
            }
        },
        "originalUriBaseIds": {SRCROOT: {"uri": _base_uri(root)}},
        "invocations": [invocation],
        "results": sarif_results,
        "columnKind": "unicodeCodePoints",
        "properties": {"summary": summary.as_dict()},
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render(results: list[FileResult], summary: Summary, base: Path | None = None) -> str:
    return json.dumps(sarif_document(results, summary, base), indent=2)
