"""The terminal report: a block per finding with its evidence and a Fix, then a summary."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import replace
from typing import Literal

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from tfpcheck.findings import FUNCTION_LINE, SOURCE_FILE, FileResult, Finding, Where
from tfpcheck.report import Summary
from tfpcheck.report.locations import display_path

STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}
# Evidence shown without -v: the keys that make the finding checkable at a glance.
KEY_EVIDENCE = 4
# Code inside a fix is written between backticks; it is shown on its own lines, highlighted.
CODE_SPAN = re.compile(r"`([^`]+)`")
FIX_INDENT = "      "
CODE_INDENT = "        "
ColorSystem = Literal["auto", "standard", "256", "truecolor", "windows"]


def color_system() -> ColorSystem | None:
    """None (no escape codes at all) when NO_COLOR is set: https://no-color.org/.

    rich's own NO_COLOR handling drops colours but keeps bold and underline.
    """
    return None if os.environ.get("NO_COLOR") else "auto"


def make_console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Piped output is not wrapped: a line per finding stays greppable.
    return Console(
        stderr=stderr,
        soft_wrap=not stream.isatty(),
        highlight=False,
        color_system=color_system(),
    )


def _evidence_lines(finding: Finding, verbose: bool) -> list[str]:
    items = list(finding.evidence.items())
    if finding.unplaced_source() is not None:  # already on the "at" line
        items = [(k, v) for k, v in items if k not in (FUNCTION_LINE, SOURCE_FILE)]
    if not verbose:
        items = [(k, v) for k, v in items if v is not None][:KEY_EVIDENCE]
    return [
        f"{key}: {value if isinstance(value, str) else json.dumps(value, default=str)}"
        for key, value in items
    ]


def describe_where(finding: Finding) -> str:
    """Where a finding points, with a source file inside the working directory made relative."""
    where = finding.where
    if where.file is None:
        unplaced = finding.unplaced_source()
        return where.describe() + (f" ({unplaced})" if unplaced else "")
    return describe_location(where)


def describe_location(where: Where) -> str:
    """A location, with a source file inside the working directory made relative."""
    if where.file is None:
        return where.describe()
    return replace(where, file=display_path(where.file)).describe()


def _finding_block(console: Console, finding: Finding, verbose: bool) -> None:
    sev = finding.severity.value
    head = Text("  ")
    head.append(finding.code, style="bold")
    head.append(" ")
    head.append(sev, style=STYLES[sev])
    head.append(f" [{finding.name}] ", style="dim")
    head.append(finding.message)
    console.print(head)
    console.print(f"    [dim]at[/dim] {escape(describe_where(finding))}")
    for line in _evidence_lines(finding, verbose):
        console.print(f"    [dim]{escape(line)}[/dim]")
    _fix_block(console, finding.fix)
    if verbose:
        confidence = finding.confidence.value
        console.print(f"    [dim]tier: {finding.tier}, confidence: {confidence}[/dim]")


def _fix_block(console: Console, fix: str) -> None:
    """The fix under its own heading: prose indented, code spans on lines of their own."""
    # rich.syntax (and pygments) only when there is a fix to show: not for a clean or -q run.
    from rich.syntax import Syntax

    console.print("    [bold green]Fix:[/bold green]")
    syntax = Syntax("", "python", theme="ansi_dark", background_color="default")
    for i, part in enumerate(CODE_SPAN.split(fix)):
        if i % 2:  # inside backticks
            for code_line in part.splitlines():
                code = syntax.highlight(code_line)
                code.rstrip()  # in place: highlight() ends the text with a newline
                console.print(Text(CODE_INDENT).append_text(code))
        elif part.strip():
            console.print(Text(FIX_INDENT + part.strip()))


def render(
    console: Console,
    results: list[FileResult],
    summary: Summary,
    *,
    quiet: bool = False,
    verbose: bool = False,
) -> None:
    if not quiet:
        for result in results:
            # A model that was not probed says so, unless --static asked for just that: the
            # summary line says it once for all of them.
            unprobed = result.not_probed is not None and not result.not_probed.startswith(
                "--static"
            )
            if result.error is None and not result.findings and not verbose and not unprobed:
                continue
            console.print(Text(result.path, style="bold underline"))
            if result.error is not None:
                line = Text("  ")
                line.append(result.error.code, style="bold")
                line.append(" error ", style=STYLES["error"])
                line.append(result.error.message)
                console.print(line)
            for finding in result.findings:
                _finding_block(console, finding, verbose)
            if unprobed and result.error is None and result.not_probed is not None:
                console.print(f"  [yellow]not probed:[/yellow] {escape(result.not_probed)}")
            notes = [*result.notes, *([cache_note(result)] if verbose and result.cached else [])]
            for note in notes:
                console.print(f"  [dim]note: {escape(note)}[/dim]")
            if result.error is None and not result.findings:
                clean = "clean" if result.probed else "no static finding"
                console.print(f"  [green]{clean}[/green]")
            console.print()
    console.print(_summary_text(summary))


def cache_note(result: FileResult) -> str:
    stored = time.time() - (result.cached_at or 0.0)
    return f"result from the cache (stored {_age(stored)} ago); --no-cache checks again"


def _age(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if unit == 'day' and count != 1 else ''}"
    return f"{int(seconds)} s"


def _summary_text(summary: Summary) -> Text:
    text = Text()
    counts = summary.counts
    parts = [
        (f"{counts.get(sev, 0)} {sev}{'s' if counts.get(sev, 0) != 1 else ''}", STYLES[sev])
        for sev in ("error", "warning", "info")
    ]
    for i, (label, style) in enumerate(parts):
        if i:
            text.append(", ")
        text.append(label, style=style if label[0] != "0" else "")
    files = f"{summary.files} file{'s' if summary.files != 1 else ''}"
    text.append(f" in {files}")
    if summary.files_with_errors:
        text.append(f", {summary.files_with_errors} not checked", style=STYLES["error"])
    if summary.not_probed:
        text.append(", ")
        text.append(_not_probed_text(summary), style="yellow")
    text.append(f" ({summary.seconds:.2f} s)", style="dim")
    return text


def _not_probed_text(summary: Summary) -> str:
    """`1 of 3 models not probed: --static: …`, or `(see above)` for several reasons."""
    count, reasons = len(summary.not_probed), set(summary.not_probed)
    checked = summary.files - summary.files_with_errors
    models = "model" if checked == 1 else "models"
    if len(reasons) > 1:
        return f"{count} of {checked} {models} not probed (see above)"
    return f"{count} of {checked} {models} not probed: {summary.not_probed[0]}"
