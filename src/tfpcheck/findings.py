"""The records every check returns: a Finding, where it points, how sure it is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

Tier = Literal["static", "probe"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


class Confidence(StrEnum):
    # A static guess from the config is MEDIUM; evidence from running the model is HIGH.
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Where:
    layer: str | None = None
    layer_index: int | None = None
    function: str | None = None
    file: str | None = None
    line: int | None = None

    def describe(self) -> str:
        parts = []
        if self.layer is not None:
            idx = f" (#{self.layer_index})" if self.layer_index is not None else ""
            parts.append(f"layer '{self.layer}'{idx}")
        if self.function is not None:
            parts.append(f"function {self.function}")
        if self.file is not None:
            parts.append(f"{self.file}:{self.line}" if self.line is not None else self.file)
        return ", ".join(parts) if parts else "model"

    def as_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "layer_index": self.layer_index,
            "function": self.function,
            "file": self.file,
            "line": self.line,
        }


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    severity: Severity
    message: str
    fix: str
    where: Where = field(default_factory=Where)
    evidence: Mapping[str, Any] = field(default_factory=dict)
    tier: Tier = "static"
    confidence: Confidence = Confidence.MEDIUM

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "confidence": self.confidence.value,
            "message": self.message,
            "fix": self.fix,
            "where": self.where.as_dict(),
            "evidence": dict(self.evidence),
            "tier": self.tier,
        }


@dataclass(frozen=True)
class FileError:
    """A file that could not be checked at all (exit status 2)."""

    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class FileResult:
    path: str
    findings: tuple[Finding, ...] = ()
    error: FileError | None = None
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The JSON report's entry for one file (also what the result cache stores)."""
        return {
            "path": self.path,
            "findings": [f.as_dict() for f in self.findings],
            "error": None if self.error is None else self.error.as_dict(),
            "notes": list(self.notes),
        }
