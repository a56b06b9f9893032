"""TFP008 probe-did-not-finish: loading or running the model crashed, hung or ate the memory.

Reported by `tfpcheck.probe.supervisor`, which runs every probe in a worker process and stops
it when it dies, runs past `--timeout` or grows past the memory limit.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence

from tfpcheck.findings import Confidence, Finding, Severity, Where
from tfpcheck.rules.base import Rule, RuleDoc

MiB = 1024 * 1024
SIGNAL_MEANING = {
    "SIGSEGV": "a segmentation fault",
    "SIGBUS": "a bus error",
    "SIGILL": "an illegal instruction",
    "SIGFPE": "a floating-point exception",
    "SIGABRT": "an abort",
    "SIGKILL": "killed from outside, often by the kernel's out-of-memory killer",
}
ALONE = (
    "To see the failure itself, load or build the model alone in Python; the evidence shows "
    "the last lines the probe printed and the line it was at. `tfpcheck --static` still "
    "checks the file without loading it."
)


def signal_name(exit_code: int) -> str | None:
    """SIGSEGV for a process killed by signal 11 (exit code -11 in subprocess terms)."""
    if exit_code >= 0:
        return None
    try:
        return signal.Signals(-exit_code).name
    except ValueError:
        return None


def describe_exit(exit_code: int) -> str:
    if exit_code >= 0:
        return f"exited with status {exit_code}"
    name = signal_name(exit_code)
    if name is None:
        return f"was killed by signal {-exit_code}"
    meaning = SIGNAL_MEANING.get(name)
    return f"was killed by {name} ({meaning})" if meaning else f"was killed by {name}"


def _evidence(reason: str, output: Sequence[str], **values: object) -> dict[str, object]:
    # The reason first and the process's last words last: the text report shows the first few.
    return {"reason": reason, **values, "output": list(output)}


def crashed(exit_code: int, output: Sequence[str], where: Where | None = None) -> Finding:
    return RULE.finding(
        "the probe crashed while loading or running this model: the Python process "
        + describe_exit(exit_code),
        "A crash inside TensorFlow while loading usually means the file does not match the "
        "installed versions (Python, TensorFlow, Keras, a custom op); a crash in your own "
        f"code is a bug there. {ALONE}",
        where,
        _evidence("crashed", output, exit_code=exit_code, signal=signal_name(exit_code)),
        confidence=Confidence.HIGH,
        tier="probe",
    )


def timed_out(timeout: float, output: Sequence[str], where: Where | None = None) -> Finding:
    return RULE.finding(
        f"the probe did not finish within {timeout:g} s (--timeout) and was stopped",
        f"If the model is just slow to build or run, raise the limit (--timeout "
        f"{max(2 * timeout, 600):g}); if it never finishes, look for a loop or a wait in "
        f"the code that builds it or in the loss. {ALONE}",
        where,
        _evidence("timeout", output, timeout_seconds=timeout),
        confidence=Confidence.HIGH,
        tier="probe",
    )


def out_of_memory(
    peak_rss: int, limit: int, output: Sequence[str], where: Where | None = None
) -> Finding:
    return RULE.finding(
        f"the probe used {peak_rss // MiB} MiB of memory, more than the {limit // MiB} MiB "
        "allowed, and was stopped",
        "Something in building or running the model allocates without bound, or the model is "
        "too big for this machine: probe a smaller version (fewer units, smaller input "
        "shape), or raise the limit with TFPCHECK_PROBE_MEMORY_MB if the machine has the "
        f"memory. {ALONE}",
        where,
        _evidence("memory", output, peak_rss_mib=peak_rss // MiB, limit_mib=limit // MiB),
        confidence=Confidence.HIGH,
        tier="probe",
    )


RULE = Rule(
    code="TFP008",
    name="probe-did-not-finish",
    title="the probe crashed, timed out or ran out of memory on this model",
    severity=Severity.ERROR,
    raised_by="tfpcheck.probe.supervisor",
    doc=RuleDoc(
        what=(
            "Runs every probe in a separate worker process and reports a model whose probe "
            "kills that process (a segmentation fault, an abort), runs longer than "
            "`--timeout` seconds (default 300), or grows past the memory limit (75% of the "
            "machine's memory, or `TFPCHECK_PROBE_MEMORY_MB`). The other models are still "
            "checked; the finding names the signal, the time or the peak memory, and shows "
            "the last lines the process printed, with the Python line it was at."
        ),
        why=(
            "A model that crashes the interpreter on load will crash your training job the "
            "same way, and one that never finishes building blocks it. Bytecode written by "
            "another Python version, a custom op built for another TensorFlow, or a factory "
            "that loops are the usual causes."
        ),
        example=(
            "def build_model():\n"
            "    while not os.path.exists('data/ready'):   # waits forever in CI\n"
            "        time.sleep(1)\n"
            "    ..."
        ),
        use_instead=(
            "def build_model(): # builds the model from code alone: no waiting, no files\n"
            "    ...\n"
            "# and for slow models: tfpcheck models.py:build_model --timeout 900"
        ),
    ),
)
