"""Run probes in a worker process, so that a model that crashes, hangs or eats memory is a finding.

Loading a model runs code we do not control: TensorFlow's C++ (a custom op, bytecode from
another Python), the user's factory and loss. A segmentation fault there would kill the
command and every result not yet printed. So each probe runs in one long-lived worker
(`tfpcheck.probe.worker`) that imports TensorFlow once and probes model after model; the
supervisor here waits for each result with a deadline and a memory limit, and when the worker
dies or is stopped, turns that into TFP008 for that model and starts a fresh worker for the
next one. One worker serves the whole process (many `check_paths` calls in a test run or an
editor), and is shut down at exit.

Memory is watched through the worker's resident set (/proc/PID/status, Linux); an address
space limit (RLIMIT_AS) would not do, since TensorFlow reserves far more virtual memory than
it ever touches.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import IO, Any

import tfpcheck
from tfpcheck.findings import Finding, Where
from tfpcheck.machine import total_memory, usable_cores
from tfpcheck.options import DEFAULT_TIMEOUT
from tfpcheck.probe import ProbeRequest, ProbeResult
from tfpcheck.probe.channel import ChannelClosed, receive, send
from tfpcheck.rules import tfp008_probe_did_not_finish as tfp008

# Starting a worker imports TensorFlow (seconds, more on a busy machine): not the model's time.
STARTUP_TIMEOUT = 180.0
MEMORY_ENV = "TFPCHECK_PROBE_MEMORY_MB"
MEMORY_SHARE = 0.75  # of the machine's memory, when MEMORY_ENV is not set
POLL_SECONDS = 0.1
DUMP_WAIT_SECONDS = 1.0  # for the worker's stack dump before it is killed
OUTPUT_LINES = 20
OUTPUT_LINE_CHARS = 300
MiB = 1024 * 1024
DID_NOT_FINISH = "the probe did not finish (TFP008)"

_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(tfpcheck.__file__)))
_OWN_DIR = os.path.dirname(os.path.abspath(tfpcheck.__file__)) + os.sep
_FRAME = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+) in (?P<function>\S+)')


OnStage = Callable[[str], None]  # hears the stage a probe is in ("loading the model", ...)


class WorkerError(Exception):
    """The worker failed for a reason of ours or the machine's, not the model's."""


@dataclass(frozen=True)
class Stopped:
    """A probe that did not finish: why, and what the worker printed last."""

    reason: str  # "crashed" | "timeout" | "memory"
    output: tuple[str, ...]
    exit_code: int | None = None
    timeout: float | None = None
    peak_rss: int | None = None
    memory_limit: int | None = None

    def finding(self) -> Finding:
        where = user_frame(self.output)
        if self.reason == "timeout":
            return tfp008.timed_out(self.timeout or 0.0, self.output, where)
        if self.reason == "memory":
            return tfp008.out_of_memory(
                self.peak_rss or 0, self.memory_limit or 0, self.output, where
            )
        return tfp008.crashed(self.exit_code or 0, self.output, where)


# ---- memory ----


def memory_limit() -> tuple[int | None, str | None]:
    """Bytes of resident memory a probe may use (None: not watched), and a note if any."""
    text = os.environ.get(MEMORY_ENV, "").strip()
    note = None
    if text:
        try:
            mib = float(text)
        except ValueError:
            mib = 0.0
        if mib > 0:
            return int(mib * MiB), None
        note = f"ignoring {MEMORY_ENV}={text!r}: expected a positive number of MiB"
    total = total_memory()
    return (int(total * MEMORY_SHARE) if total else None), note


def resident_memory(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


# ---- the worker's output ----


def _is_users(path: str) -> bool:
    if path.startswith("<") or "site-packages" in path or "dist-packages" in path:
        return False
    path = os.path.abspath(path)
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return not path.startswith(_OWN_DIR) and not any(
        path.startswith(p.rstrip(os.sep) + os.sep) for p in prefixes
    )


def user_frame(output: tuple[str, ...]) -> Where | None:
    """The innermost frame in the user's code from a faulthandler dump (most recent first)."""
    for line in output:
        match = _FRAME.match(line)
        if match and _is_users(match["file"]):
            return Where(function=match["function"], file=match["file"], line=int(match["line"]))
    return None


def _is_noise(line: str) -> bool:
    """Blank lines, and the frames of tfpcheck's own driver under the user's in a stack dump."""
    if not line.strip() or line.startswith("Extension modules:"):
        return True
    match = _FRAME.match(line)
    if match is None:
        return False
    return match["file"].startswith("<frozen") or os.path.abspath(match["file"]).startswith(
        _OWN_DIR
    )


def _tail(log: IO[bytes]) -> tuple[str, ...]:
    log.flush()
    size = os.fstat(log.fileno()).st_size
    log.seek(max(0, size - 64 * 1024))
    text = log.read().decode("utf-8", errors="replace")
    lines = [line.rstrip() for line in text.splitlines() if not _is_noise(line)]
    return tuple(line[:OUTPUT_LINE_CHARS] for line in lines[-OUTPUT_LINES:])


# ---- the worker process ----


def worker_environment(device: str, threads: int | None = None) -> dict[str, str]:
    """The worker's environment: ours, with tfpcheck importable and the device chosen.

    `threads`: TensorFlow's threads per worker when several run at once (--jobs), so that
    they share the cores instead of each taking all of them.
    """
    env = dict(os.environ)
    if threads is not None:
        for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
            env.setdefault(name, str(threads))
        env.setdefault("TF_NUM_INTEROP_THREADS", "1" if threads == 1 else "2")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ next to the user's files
    env["PYTHONUNBUFFERED"] = "1"  # the user's last prints survive a crash
    if sys.version_info < (3, 12):
        # TFP checks TensorFlow's version with distutils, which setuptools replaces by its own
        # copy, importing much of setuptools: 0.2-0.3 s of every worker's start. Python's own
        # distutils (there until 3.12) answers the same.
        env.setdefault("SETUPTOOLS_USE_DISTUTILS", "stdlib")
    if device == "gpu":
        # TensorFlow reserves nearly all of a GPU's memory by default; grow as needed instead
        env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    else:
        # Hidden before TensorFlow starts: it never initializes CUDA, so a hook run beside a
        # training job takes none of its GPU memory.
        env["CUDA_VISIBLE_DEVICES"] = "-1"
    return env


class Worker:
    """One `python -m tfpcheck.probe.worker` process and its pipes."""

    def __init__(self, device: str = "cpu", threads: int | None = None) -> None:
        self.device = device
        self.threads = threads
        # The worker's stdout and stderr (TensorFlow's logging, the user's prints) go to an
        # unlinked file of ours: never to our stdout, which may be JSON or SARIF.
        fd, name = tempfile.mkstemp(prefix="tfpcheck-probe-", suffix=".log")
        os.close(fd)
        self.log: IO[bytes] = open(name, "a+b")  # noqa: SIM115 - lives as long as the worker
        os.unlink(name)
        results_read, results_write = os.pipe()
        env = worker_environment(device, threads)
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tfpcheck.probe.worker",
                    str(results_write),
                    str(os.getpid()),
                ],
                stdin=subprocess.PIPE,
                stdout=self.log,
                stderr=self.log,
                pass_fds=(results_write,),
                env=env,
            )
        except OSError as exc:
            os.close(results_read)
            self.log.close()
            raise WorkerError(f"cannot start the probe worker ({exc})") from exc
        finally:
            os.close(results_write)
        self.results = results_read
        self.pid = self.process.pid

    def send(self, message: tuple[Any, ...]) -> None:
        assert self.process.stdin is not None
        send(self.process.stdin.fileno(), message)

    def clear_output(self) -> None:
        self.log.truncate(0)

    def output(self) -> tuple[str, ...]:
        return _tail(self.log)

    def wait(
        self, seconds: float, memory: int | None, limit: float | None = None
    ) -> tuple[Any, ...] | Stopped:
        """The next message, or how the worker stopped without sending one.

        The results pipe also reports the worker's death (end of file), so without a memory
        limit there is nothing to poll: one wait until a message, a death or the deadline.
        `limit`: the time limit a timeout is reported with (`seconds` is what is left of it).
        """
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self.stop("timeout", timeout=limit if limit is not None else seconds)
            step = remaining if memory is None else min(POLL_SECONDS, remaining)
            readable, _, _ = select.select([self.results], [], [], step)
            if readable:
                try:
                    message: tuple[Any, ...] = receive(self.results)
                    return message
                except ChannelClosed:
                    return self.stop("crashed")
            if memory is not None:
                rss = resident_memory(self.pid)
                # Stopped at the first sample over the limit: that sample is also the peak.
                if rss is not None and rss > memory:
                    return self.stop("memory", peak_rss=rss, memory_limit=memory)

    def stop(self, reason: str, **details: Any) -> Stopped:
        """Make sure the worker is gone (dumping its stack first if it is alive)."""
        if self.process.poll() is None:
            self._dump_stack()
            self.process.kill()
        exit_code = self.process.wait()
        output = self.output()
        self.close()
        if reason == "crashed":
            details["exit_code"] = exit_code
        return Stopped(reason, output, **details)

    def _dump_stack(self) -> None:
        dump = getattr(signal, "SIGUSR1", None)
        if dump is None:
            return
        size = os.fstat(self.log.fileno()).st_size
        try:
            os.kill(self.pid, dump)
        except OSError:
            return
        deadline = time.monotonic() + DUMP_WAIT_SECONDS
        while time.monotonic() < deadline and os.fstat(self.log.fileno()).st_size == size:
            time.sleep(0.02)
        time.sleep(0.05)  # the rest of the dump

    def close(self) -> None:
        """Ask the worker to exit (its stdin closes), then make sure it did; no zombie left."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.results >= 0:
            os.close(self.results)
            self.results = -1
        self.log.close()


class Supervisor:
    """Keeps one worker alive across calls, and a fresh one after a crash or a stop."""

    def __init__(self) -> None:
        self._worker: Worker | None = None
        self._lock = threading.Lock()
        self._registered = False

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid if self._worker is not None else None

    def _start(self, memory: int | None, device: str, threads: int | None) -> Worker:
        if not self._registered:
            atexit.register(self.shutdown)
            self._registered = True
        worker = Worker(device, threads)
        reply = worker.wait(STARTUP_TIMEOUT, memory)
        if isinstance(reply, Stopped):
            how = {
                "timeout": f"did not import TensorFlow within {STARTUP_TIMEOUT:g} s",
                "memory": "ran out of memory importing TensorFlow",
                "crashed": tfp008.describe_exit(reply.exit_code or 0) + " importing TensorFlow",
            }[reply.reason]
            last = f": {reply.output[-1]}" if reply.output else ""
            raise WorkerError(f"the probe worker {how}{last}")
        if reply[0] != "ready":
            worker.close()
            raise WorkerError(f"the probe worker could not import TensorFlow ({reply[1]})")
        return worker

    def probe(
        self,
        request: ProbeRequest,
        timeout: float,
        memory: int | None,
        debug: bool = False,
        device: str = "cpu",
        on_stage: OnStage | None = None,
        threads: int | None = None,
    ) -> ProbeResult | Stopped:
        stage = on_stage or (lambda text: None)
        with self._lock:
            worker = self._worker
            # the device is fixed when TensorFlow starts: another device needs a new worker
            if worker is None or worker.process.poll() is not None or worker.device != device:
                if worker is not None:
                    worker.close()
                self._worker = None
                stage("importing TensorFlow")
                worker = self._worker = self._start(memory, device, threads)
            worker.clear_output()
            try:
                worker.send(("probe", request, os.getcwd(), [p for p in sys.path if p]))
            except BrokenPipeError:  # it died since the poll above
                self._worker = None
                return worker.stop("crashed")
            deadline = time.monotonic() + timeout
            while True:  # stages arrive before the result; the deadline covers them all
                reply = worker.wait(max(deadline - time.monotonic(), 0.0), memory, timeout)
                if isinstance(reply, Stopped):
                    self._worker = None
                    return reply
                if reply[0] != "stage":
                    break
                stage(reply[1])
            if debug:  # what TensorFlow and the user's code printed during this probe
                for line in worker.output():
                    print(f"[probe worker] {line}", file=sys.stderr)
        if reply[0] == "result":
            result: ProbeResult = reply[1]
            return result
        _kind, summary, worker_traceback = reply
        if debug and worker_traceback:  # the parent's traceback alone would not show where
            raise WorkerError(f"{summary}\n\nin the probe worker:\n{worker_traceback}")
        raise WorkerError(summary)

    def shutdown(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None


SUPERVISOR = Supervisor()


class SupervisorPool:
    """The supervisors of the workers that probe at once (--jobs): one per concurrent probe.

    The first is SUPERVISOR, and a lease takes the first idle one in the order they were
    made, so that one probe at a time always goes to the same long-lived worker.
    """

    def __init__(self, first: Supervisor) -> None:
        self._all = [first]
        self._busy: set[int] = set()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lease(self) -> Iterator[Supervisor]:
        with self._lock:
            idle = [s for s in self._all if id(s) not in self._busy]
            supervisor = idle[0] if idle else Supervisor()
            if not idle:
                self._all.append(supervisor)
            self._busy.add(id(supervisor))
        try:
            yield supervisor
        finally:
            with self._lock:
                self._busy.discard(id(supervisor))


POOL = SupervisorPool(SUPERVISOR)


def probe_isolated(
    request: ProbeRequest,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    debug: bool = False,
    device: str = "cpu",
    on_stage: OnStage | None = None,
    jobs: int = 1,
) -> ProbeResult:
    """Probe one model in a worker; a crash, a hang or a memory blow-up is TFP008.

    `jobs`: how many probes run at once; each worker gets its share of the memory limit and
    of the cores. `on_stage(text)` hears what the probe is doing. WorkerError when the probe
    itself fails (a bug of ours, or no worker could start); with `debug` its message
    carries the worker's traceback.
    """
    memory, note = memory_limit()
    threads = None
    if jobs > 1:
        # the machine's share is split between the workers; TFPCHECK_PROBE_MEMORY_MB is each one's
        if memory is not None and not os.environ.get(MEMORY_ENV, "").strip():
            memory //= jobs
        threads = max(1, usable_cores() // jobs)
    with POOL.lease() as supervisor:
        outcome = supervisor.probe(request, timeout, memory, debug, device, on_stage, threads)
    if isinstance(outcome, Stopped):
        outcome = ProbeResult((outcome.finding(),), not_probed=DID_NOT_FINISH)
    if note is not None:
        outcome = replace(outcome, notes=(note, *outcome.notes))
    return outcome
