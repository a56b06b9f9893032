"""The JSON report: stable and versioned (see README, "JSON output")."""

from __future__ import annotations

import json

from tfpcheck import __version__
from tfpcheck.findings import FileResult
from tfpcheck.report import Summary

SCHEMA_VERSION = 1


def render(results: list[FileResult], summary: Summary) -> str:
    doc = {
        "version": SCHEMA_VERSION,
        "tool": {"name": "tfpcheck", "version": __version__},
        "files": [r.as_dict() for r in results],
        "summary": summary.as_dict(),
    }
    return json.dumps(doc, indent=2, default=str)
