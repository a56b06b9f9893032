"""Reporters: one per output format. They only ever see results, never models."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tfpcheck.findings import FileResult, Severity


@dataclass(frozen=True)
class Summary:
    files: int
    files_with_errors: int  # files that could not be checked
    counts: dict[str, int]  # by severity
    seconds: float
    # why each checked model that was not probed was not, in input order (one per model)
    not_probed: tuple[str, ...] = ()

    @property
    def findings(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "files_not_checked": self.files_with_errors,
            "findings": self.findings,
            "by_severity": {s.value: self.counts.get(s.value, 0) for s in Severity},
            "not_probed": len(self.not_probed),
            "seconds": round(self.seconds, 3),
        }


def summarize(results: list[FileResult], seconds: float) -> Summary:
    counts: Counter[str] = Counter()
    for result in results:
        counts.update(f.severity.value for f in result.findings)
    return Summary(
        files=len(results),
        files_with_errors=sum(1 for r in results if r.error is not None),
        counts=dict(counts),
        seconds=seconds,
        not_probed=tuple(r.not_probed for r in results if r.error is None and r.not_probed),
    )
