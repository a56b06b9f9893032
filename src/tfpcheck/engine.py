"""Turn paths into results: static rules, then the probe. Never prints."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from tfpcheck.findings import FileError, FileResult, Finding, Refutation
from tfpcheck.losses import DEFAULT_NLL_NOTE, LossSpec
from tfpcheck.options import DEFAULT_TIMEOUT
from tfpcheck.references import is_code_reference
from tfpcheck.selection import Selector
from tfpcheck.user_files import UserFile

# The model readers and the rules are imported where they are used: a cache hit needs
# neither, and their import is a good part of a cached re-check's time.
if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from tfpcheck.probe import ProbeResult
    from tfpcheck.rules.context import StaticContext
    from tfpcheck.shapes import ShapeTable


@dataclass(frozen=True)
class CheckOptions:
    """What the check needs of its options: each field is set by a row of options.OPTIONS
    (the command line and the configuration), or by the Python API's arguments."""

    loss: LossSpec | None = None
    static_only: bool = False
    unsafe: bool = False
    batch_size: int = 32
    target_shape: tuple[int, ...] | None = None
    classes: int | None = None
    data: str | None = None
    num_examples: int | None = None
    custom_objects: str | None = None
    selector: Selector = field(default_factory=Selector)
    debug: bool = False
    timeout: float = DEFAULT_TIMEOUT  # seconds per model's probe (--timeout)
    use_cache: bool = True
    device: str = "cpu"  # "cpu" | "gpu" (--device): where the probe worker runs
    jobs: int | None = None  # probes at once (--jobs); None: from the cores and the memory


def run_static_rules(ctx: StaticContext) -> list[Finding]:
    from tfpcheck.rules import REGISTRY

    findings: list[Finding] = []
    for rule in REGISTRY:
        if rule.check_static is not None:
            findings.extend(rule.check_static(ctx))
    return findings


def _sort_key(finding: Finding) -> tuple[int, int, str]:
    index = finding.where.layer_index if finding.where.layer_index is not None else -1
    return (-finding.severity.rank, index, finding.code)


# Static findings that forbid loading the file at all, whatever --unsafe says.
NEVER_LOAD = {"TFP007": "it carries code that calls the shell, files or the network"}
# Static findings after which loading cannot give a meaningful answer.
CANNOT_LOAD = {"TFP003": "its bytecode comes from another Python version"}


# Why a model was not probed, as the reports say it after "not probed: "
STATIC_ONLY = "--static: only the static tier ran"
STATIC_FACTORY = "--static: only the factory's source text was read"
SERIALIZED_CODE = "the file holds serialized Python code (TFP002); --unsafe loads it if trusted"


def _probe_blocker(findings: list[Finding], ctx: StaticContext) -> str | None:
    codes = {f.code for f in findings}
    for code, why in (NEVER_LOAD | CANNOT_LOAD).items():
        if code in codes:
            return f"{why} ({code})"
    if ctx.model.has_serialized_code and not ctx.unsafe:
        return SERIALIZED_CODE
    return None


def _merge(
    static: list[Finding], probe: tuple[Finding, ...], refuted: tuple[Refutation, ...] = ()
) -> list[Finding]:
    """A static finding the probe confirmed is reported once: the probe's, which carries both.
    One the probe disproved is not reported at all (a note names it)."""
    confirmed = {(f.code, f.where.layer) for f in probe}
    codes = {f.code for f in probe}
    disproved = [r.finding for r in refuted]
    # A guess from the factory's source text (no layer) is replaced by the same code found
    # at a layer of the model it builds.
    kept = [
        f
        for f in static
        if (f.code, f.where.layer) not in confirmed
        and not (f.where.layer is None and f.code in codes)
        and f not in disproved
    ]
    return kept + list(probe)


def refutation_note(refutation: Refutation) -> str:
    """`TFP101 guess at losses.py:12 refuted by the probe: log_prob returned (32,) ...`"""
    from tfpcheck.report.locations import display_path

    finding, where = refutation.finding, refutation.finding.where
    if where.file is not None:
        place = display_path(where.file) + (f":{where.line}" if where.line is not None else "")
    else:
        place = where.describe()
    return f"{finding.code} guess at {place} refuted by the probe: {refutation.reason}"


@dataclass(frozen=True)
class _Probed:
    findings: list[Finding]
    notes: list[str]
    error: FileError | None = None
    not_probed: str | None = None
    user_files: tuple[UserFile, ...] | None = ()
    shapes: tuple[ShapeTable, ...] = ()


OnStage = Callable[[str, str], None]  # (path, stage): what each model's probe is doing


def _run_probe(
    path: str,
    flavor: str | None,
    static: list[Finding],
    options: CheckOptions,
    on_stage: OnStage | None = None,
    jobs: int = 1,
) -> _Probed:
    from tfpcheck.options import probe_request
    from tfpcheck.probe import NO_TENSORFLOW, tf_available
    from tfpcheck.probe.supervisor import probe_isolated

    if not tf_available():
        return _Probed(static, [], not_probed=NO_TENSORFLOW)

    request = probe_request(options, path, flavor, static_findings=tuple(static))
    try:
        # In a worker process: a model that crashes, hangs or eats memory is TFP008.
        result = probe_isolated(
            request,
            options.timeout,
            debug=options.debug,
            device=options.device,
            on_stage=(lambda stage: on_stage(path, stage)) if on_stage is not None else None,
            jobs=jobs,
        )
    except Exception as exc:  # a probe bug must not stop the other files
        if options.debug:
            raise
        why = f"probe failed inside tfpcheck ({type(exc).__name__}: {exc}); rerun with --debug"
        return _Probed(static, [], not_probed=why)
    error = FileError(*result.error) if result.error is not None else None
    findings = _merge(static, result.findings, result.refuted)
    notes = [*result.notes, *(refutation_note(r) for r in result.refuted)]
    return _Probed(findings, notes, error, result.not_probed, result.user_files, result.shapes)


def _finish(
    path: str,
    findings: list[Finding],
    options: CheckOptions,
    notes: list[str],
    error: FileError | None = None,
    not_probed: str | None = None,
    user_files: tuple[UserFile, ...] | None = (),
    shapes: tuple[ShapeTable, ...] = (),
) -> FileResult:
    kept = [f for f in findings if options.selector.is_selected(f.code)]
    kept.sort(key=_sort_key)
    return FileResult(
        path,
        tuple(kept),
        error=error,
        notes=tuple(notes),
        not_probed=not_probed,
        user_files=user_files,
        shapes=shapes,
    )


def _finish_probed(
    path: str, options: CheckOptions, probed: _Probed, notes: list[str] | None = None
) -> FileResult:
    notes = [*(notes or []), *probed.notes]
    if probed.not_probed is not None:  # the default loss was never evaluated
        notes = [note for note in notes if note != DEFAULT_NLL_NOTE]
    return _finish(
        path,
        probed.findings,
        options,
        notes,
        probed.error,
        probed.not_probed,
        probed.user_files,
        probed.shapes,
    )


def live_result(label: str, options: CheckOptions, result: ProbeResult) -> FileResult:
    """The result of a probe run in this process on a live model (the Python API's), finished
    as a file's: the same selection, order and notes."""
    error = FileError(*result.error) if result.error is not None else None
    notes = [*result.notes, *(refutation_note(r) for r in result.refuted)]
    probed = _Probed(list(result.findings), notes, error, result.not_probed, (), result.shapes)
    return _finish_probed(label, options, probed)


def source_findings(specs: list[str]) -> list[Finding]:
    """Static findings from the user's own source files (a loss or factory FILE.py:NAME)."""
    if not specs:  # a model file with a named loss: no source to read, no scanner to import
        return []
    from tfpcheck.rules import REGISTRY
    from tfpcheck.source_scan import scan_spec

    findings: list[Finding] = []
    for spec in dict.fromkeys(specs):
        scan = scan_spec(spec)
        if scan is None:
            continue
        for rule in REGISTRY:
            if rule.check_source is not None:
                findings.extend(rule.check_source(scan))
    return findings


def _loss_source(options: CheckOptions) -> list[str]:
    loss = options.loss
    return [loss.target] if loss is not None and loss.kind == "function" and loss.target else []


def _default_loss(ctx: StaticContext, options: CheckOptions) -> tuple[CheckOptions, str | None]:
    """No --loss and nothing compiled: a distribution-valued output is trained on its nll."""
    if options.loss is not None or ctx.model.losses or not ctx.model.outputs:
        return options, None
    from tfpcheck.rules.heads import distribution_heads

    heads = {
        name
        for head in distribution_heads(ctx.model)
        for name in (head.layer.name, head.layer.qualified_name)
        if name
    }
    if not set(ctx.model.outputs) <= heads:
        return options, None
    return replace(options, loss=LossSpec("nll")), DEFAULT_NLL_NOTE


def check_path(
    path: str, options: CheckOptions, on_stage: OnStage | None = None, jobs: int = 1
) -> FileResult:
    """One model: static rules, then the probe (in a worker; `jobs` of them run at once)."""
    if is_code_reference(path):
        static = source_findings([path, *_loss_source(options)])
        if options.static_only:
            return _finish(path, static, options, [], not_probed=STATIC_FACTORY)
        probed = _run_probe(path, None, static, options, on_stage, jobs)
        return _finish_probed(path, options, probed)
    from tfpcheck.model_file.load import read_model_file
    from tfpcheck.model_file.types import ModelReadError
    from tfpcheck.rules.context import StaticContext

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
    findings = run_static_rules(ctx) + source_findings(_loss_source(options))
    notes: list[str] = []
    if options.static_only:
        return _finish(path, findings, options, notes, not_probed=STATIC_ONLY)
    blocker = _probe_blocker(findings, ctx)
    if blocker is not None:
        return _finish(path, findings, options, notes, not_probed=blocker)
    options, default_note = _default_loss(ctx, options)
    if default_note:
        notes.append(default_note)
    probed = _run_probe(path, model.flavor, findings, options, on_stage, jobs)
    return _finish_probed(path, options, probed, notes)


def check_paths(
    paths: Iterable[str],
    options: CheckOptions,
    on_result: Callable[[FileResult], None] | None = None,
    per_path: Mapping[str, CheckOptions] | None = None,
    on_stage: OnStage | None = None,
) -> list[FileResult]:
    """Check each path; results in the order of `paths`, whatever order they finish in.

    `per_path`: options for some paths (a configuration's model tables); others get `options`.
    `options.jobs` models are checked at once, each probe in a worker of its own.
    `on_result` hears each result as it is ready, `on_stage` each probe's stages.
    """
    paths = [os.fspath(path) for path in paths]
    probing = [p for p in paths if not (per_path or {}).get(p, options).static_only]
    # Only probes gain from running at once: reading files is Python's, one at a time.
    jobs = min(options.jobs or default_jobs(), len(probing)) or 1

    def one(path: str) -> FileResult:
        path_options = (per_path or {}).get(path, options)

        def check(target: str, chosen: CheckOptions) -> FileResult:
            return check_path(target, chosen, on_stage, jobs)

        if path_options.use_cache:
            from tfpcheck.cache import cached_check

            return cached_check(path, path_options, check, is_code_reference(path))
        return check(path, path_options)

    if jobs == 1:
        serial: list[FileResult] = []
        for path in paths:
            serial.append(one(path))
            if on_result is not None:
                on_result(serial[-1])
        return serial
    from concurrent.futures import as_completed

    # A path given twice is checked once, then answered as one job would answer it (from
    # the cache): its occurrences run in turn, in the same job.
    occurrences: dict[str, list[int]] = {}
    for index, path in enumerate(paths):
        occurrences.setdefault(path, []).append(index)

    def each(path: str) -> list[FileResult]:
        return [one(path) for _ in occurrences[path]]

    from tfpcheck.job_order import costliest_first

    threads = _job_threads(jobs)
    futures = {threads.submit(each, path): path for path in costliest_first(list(occurrences))}
    results: list[FileResult | None] = [None] * len(paths)
    for future in as_completed(futures):
        for index, result in zip(occurrences[futures[future]], future.result(), strict=True):
            results[index] = result
            if on_result is not None:
                on_result(result)
    return [result for result in results if result is not None]


_THREADS: dict[int, ThreadPoolExecutor] = {}


def _job_threads(jobs: int) -> ThreadPoolExecutor:
    """Threads that run `jobs` checks at once, kept for the life of the process.

    Threads suffice: each probe runs in a worker process, and its thread only waits for it.
    They are never shut down because a worker dies with the thread that started it (the
    worker's parent-death signal, PR_SET_PDEATHSIG, follows the thread, not the process),
    and the workers outlive one call: the next call's probes reuse them.
    """
    # Imported here: a serial check (the static tier, one model) has no use for it.
    from concurrent.futures import ThreadPoolExecutor

    if jobs not in _THREADS:
        _THREADS[jobs] = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="tfpcheck-job")
    return _THREADS[jobs]


# Resident memory of one probe worker with TensorFlow, TFP and Keras imported, and a model
WORKER_MEMORY = 1536 * 1024 * 1024


def default_jobs() -> int:
    """Probes at once when --jobs is not given: one per core, as far as memory allows."""
    from tfpcheck.machine import total_memory, usable_cores

    memory = total_memory()
    by_memory = max(1, memory // WORKER_MEMORY) if memory else 1
    return max(1, min(usable_cores(), by_memory))
