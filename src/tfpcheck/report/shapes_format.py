"""`tfpcheck shapes`: the shapes table of each model, as text or JSON."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape

from tfpcheck import __version__
from tfpcheck.findings import FileResult, Severity
from tfpcheck.report.json_format import SCHEMA_VERSION
from tfpcheck.report.locations import display_path
from tfpcheck.report.text import describe_location


def shown(result: FileResult) -> bool:
    """Whether the result has a table to show (it was probed)."""
    return result.error is None and result.probed


def _findings_line(result: FileResult) -> str | None:
    if not result.findings:
        return None
    counts = {s: sum(f.severity is s for f in result.findings) for s in Severity}
    parts = [f"{n} {s.value}{'' if n == 1 else 's'}" for s, n in counts.items() if n]
    codes = ", ".join(dict.fromkeys(f.code for f in result.findings))
    return f"{', '.join(parts)} ({codes}): tfpcheck {result.path} says what and how to fix"


def render_text(console: Console, results: list[FileResult]) -> None:
    for index, result in enumerate(results):
        if index:
            console.print()
        console.print(escape(display_path(result.path)), style="bold")
        if result.error is not None:
            console.print(f"  {result.error.code} error: {escape(result.error.message)}")
            continue
        if not result.probed:
            console.print(f"  no shapes: not probed ({escape(result.not_probed or '')})")
            continue
        for number, table in enumerate(result.shapes):
            if number:  # the next output of a model with several
                console.print()
            for line in table.lines(describe_location):
                console.print("  " + escape(line), soft_wrap=True, highlight=False)
        findings = _findings_line(result)
        if findings is not None:
            console.print("  " + escape(findings), style="dim", soft_wrap=True)


def render_json(results: list[FileResult]) -> str:
    doc = {
        "version": SCHEMA_VERSION,
        "tool": {"name": "tfpcheck", "version": __version__},
        "files": [
            {
                "path": r.path,
                "shapes": [table.as_dict() for table in r.shapes],
                "error": None if r.error is None else r.error.as_dict(),
                "probed": r.probed,
                "reason": r.not_probed,
                "findings": [f.code for f in r.findings],
            }
            for r in results
        ],
    }
    return json.dumps(doc, indent=2)
