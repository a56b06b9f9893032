"""Turn paths into results: static rules, then the probe. Never prints."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tfpcheck.findings import FileError, FileResult, Finding
from tfpcheck.losses import LossSpec
from tfpcheck.model_file.load import read_model_file
from tfpcheck.model_file.types import ModelReadError
from tfpcheck.rules import REGISTRY
from tfpcheck.rules.context import StaticContext
from tfpcheck.selection import Selector


@dataclass(frozen=True)
class CheckOptions:
    loss: LossSpec | None = None
    static_only: bool = False
    unsafe: bool = False
    batch_size: int = 32
    target_shape: tuple[int, ...] | None = None
    classes: int | None = None
    data: str | None = None
    num_examples: int | None = None
    selector: Selector = field(default_factory=Selector)
    debug: bool = False


def run_static_rules(ctx: StaticContext) -> list[Finding]:
    findings: list[Finding] = []
    for rule in REGISTRY:
        if rule.check_static is not None:
            findings.extend(rule.check_static(ctx))
    return findings


def _sort_key(finding: Finding) -> tuple[int, int, str]:
    index = finding.where.layer_index if finding.where.layer_index is not None else -1
    return (-finding.severity.rank, index, finding.code)


def check_path(path: str, options: CheckOptions) -> FileResult:
    try:
        model = read_model_file(path)
    except ModelReadError as exc:
        return FileResult(path, error=FileError("TFP001", str(exc)))
    except Exception as exc:  # a reader bug must not stop the other files
        if options.debug:
            raise
        return FileResult(
            path,
            error=FileError(
                "TFP001", f"could not be read ({type(exc).__name__}: {exc}); rerun with --debug"
            ),
        )
    ctx = StaticContext(
        model=model,
        loss=options.loss,
        probe_requested=not options.static_only,
        unsafe=options.unsafe,
    )
    findings = run_static_rules(ctx)
    notes: list[str] = []
    kept = [f for f in findings if options.selector.is_selected(f.code)]
    kept.sort(key=_sort_key)
    return FileResult(path, tuple(kept), notes=tuple(notes))


def check_paths(
    paths: Iterable[str],
    options: CheckOptions,
    on_result: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    results = []
    for path in paths:
        result = check_path(os.fspath(path), options)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
