"""The records every check returns: a Finding, where it points, how sure it is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from tfpcheck.recorded_files import is_placeholder, why_unknown
from tfpcheck.user_files import UserFile

if TYPE_CHECKING:  # shapes.py builds on Where
    from tfpcheck.shapes import ShapeTable

Tier = Literal["static", "probe"]

# Evidence of a function whose recorded file is a placeholder such as `<dynamic-code>`
FUNCTION_LINE = "function_line"
SOURCE_FILE = "source_file"


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

    def __post_init__(self) -> None:
        # A recorded `<dynamic-code>` or `<string>` is no place a reporter can point at, and
        # every way a finding is built passes here: it points at the layer and the model
        # file instead, and the function's line and why its file is unknown become evidence.
        recorded = self.where.file
        if recorded is None or not is_placeholder(recorded):
            return
        evidence = dict(self.evidence)
        if self.where.line is not None:
            evidence.setdefault(FUNCTION_LINE, self.where.line)
        evidence.setdefault(SOURCE_FILE, f"unknown: {why_unknown(recorded)}")
        object.__setattr__(self, "where", replace(self.where, file=None, line=None))
        object.__setattr__(self, "evidence", evidence)

    def unplaced_source(self) -> str | None:
        """`line 13, source file unknown: …` for a function whose file was not recorded."""
        note = self.evidence.get(SOURCE_FILE)
        if self.where.file is not None or not isinstance(note, str):
            return None
        line = self.evidence.get(FUNCTION_LINE)
        return (
            f"line {line}, source file {note}" if isinstance(line, int) else f"source file {note}"
        )

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
class Refutation:
    """A static guess the probe disproved: it ran what the guess is about and saw no problem."""

    finding: Finding
    reason: str  # what the probe saw instead: "log_prob returned (32,) with targets (N, 1)"


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
    # Why the model was not probed (--static, no TensorFlow, TFP002, ...); None if it was.
    # Its findings are only what reading the file or its source could show.
    not_probed: str | None = None
    # Where the result came from, not what it says: two results that report the same are
    # equal whether or not one was served from the cache.
    # The user's source files the check ran (the probe's imports); None when one changed
    # while it ran. The result cache stores them with the result and checks them on a hit.
    user_files: tuple[UserFile, ...] | None = field(default=(), compare=False)
    # When the cached result was stored (seconds since the epoch); None: checked just now.
    cached_at: float | None = field(default=None, compare=False)
    # The shapes table of each probed model or output (`tfpcheck shapes`, `Report.shapes`);
    # not part of the JSON report's entry.
    shapes: tuple[ShapeTable, ...] = ()

    @property
    def probed(self) -> bool:
        return self.error is None and self.not_probed is None

    @property
    def cached(self) -> bool:
        return self.cached_at is not None

    def as_dict(self) -> dict[str, Any]:
        """The JSON report's entry for one file (also what the result cache stores)."""
        return {
            "path": self.path,
            "findings": [f.as_dict() for f in self.findings],
            "error": None if self.error is None else self.error.as_dict(),
            "notes": list(self.notes),
            "probed": self.probed,
            "reason": self.not_probed,
            "cached": self.cached,
        }
