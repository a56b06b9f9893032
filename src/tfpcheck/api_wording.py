"""Findings in the words of the Python API: a fix that says `--target-shape scalar` on the
command line says `target_shape="scalar"` to a `tfpcheck.check` call, the same advice.

The rules write for the command line, where most checks come from; the API rewrites the few
phrases that name an option, exactly as the rules write them (tests/test_api_wording.py
checks that each phrase is still in its rule).
"""

from __future__ import annotations

from dataclasses import replace

from tfpcheck.findings import FileResult, Finding
from tfpcheck.rules.tfp101_loss_broadcasts_across_batch import SETTLE_TARGET_SHAPE

PHRASES: tuple[tuple[str, str], ...] = (
    (
        SETTLE_TARGET_SHAPE,
        'Say which shape the targets have: target_shape="scalar" for (N,), target_shape=1 '
        "for (N, 1), or x= and y= with real examples.",
    ),
    (
        "which tfpcheck was not given (--num-examples)",
        "which tfpcheck was not given (num_examples=)",
    ),
    ("pass --num-examples so that", "pass num_examples= so that"),
    ("; --data holds ", "; x and y hold "),
)


def _text(value: str) -> str:
    for command_line, api in PHRASES:
        value = value.replace(command_line, api)
    return value


def _finding(finding: Finding) -> Finding:
    message, fix = _text(finding.message), _text(finding.fix)
    if (message, fix) == (finding.message, finding.fix):
        return finding
    return replace(finding, message=message, fix=fix)


def in_api_words(result: FileResult) -> FileResult:
    return replace(result, findings=tuple(_finding(f) for f in result.findings))
