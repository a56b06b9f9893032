"""The probe worker: imports TensorFlow once, then probes the models it is sent, one at a time.

Started by `tfpcheck.probe.supervisor` as `python -m tfpcheck.probe.worker RESULTS_FD PARENT_PID`.
Requests arrive on stdin, results leave on RESULTS_FD; fds 1 and 2 belong to TensorFlow's
logging and the user's prints, which the supervisor captures. A model that crashes, hangs or
eats the machine's memory takes this process down, never the user's command.

The worker exits when its stdin closes (the supervisor is done) and when its parent dies, so
that no probe outlives the command that asked for it.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import threading
import time
import traceback
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tfpcheck.probe import stages
from tfpcheck.probe.channel import ChannelClosed, receive, send

if TYPE_CHECKING:
    from tfpcheck.probe import ProbeRequest, ProbeResult

# Sent by the supervisor before it kills a worker that timed out or ran out of memory: the
# Python stack of the main thread goes to stderr, so the finding can say where it was stuck.
DUMP_SIGNAL = getattr(signal, "SIGUSR1", None)
PARENT_CHECK_SECONDS = 1.0


def _die_with_parent(parent: int) -> None:
    """Exit when the command that started us is gone, even mid-probe."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
        except (OSError, AttributeError):  # no prctl: the watchdog thread still covers it
            pass

    def watch() -> None:
        if DUMP_SIGNAL is not None:  # the stack dump must land in the main thread
            signal.pthread_sigmask(signal.SIG_BLOCK, {DUMP_SIGNAL})
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="tfpcheck-parent-watch", daemon=True).start()


def _private_requests_fd() -> int:
    """Move the request pipe off fd 0, so user code reading stdin cannot eat a request."""
    requests = os.dup(0)  # not inheritable: the user's subprocesses do not get it
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return requests


def _failure(exc: BaseException) -> tuple[str, str, str]:
    return ("failed", f"{type(exc).__name__}: {exc}", traceback.format_exc())


def _reply(results: int, message: tuple[Any, ...]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        send(results, message)
    except (AttributeError, TypeError, ValueError, RecursionError) as exc:  # unpicklable
        send(results, ("failed", f"the probe result could not be sent back: {exc}", ""))


def _probe_tracked(request: ProbeRequest, parent_path: list[str]) -> ProbeResult:
    """Probe, and say which of the user's files it ran (for the result cache)."""
    from tfpcheck.probe import run_probe
    from tfpcheck.probe.imports import UserImports

    imports = UserImports()  # from here on, sys.path is put back after the probe
    try:
        sys.path.extend(p for p in parent_path if p not in sys.path)
        result = run_probe(request)
    finally:
        user_files = imports.finish()
    return replace(result, user_files=user_files)


def _serve(requests: int, results: int) -> int:
    while True:
        try:
            _kind, request, cwd, parent_path = receive(requests)
        except ChannelClosed:
            return 0
        # Relative paths in the request mean what they meant to the caller.
        os.chdir(cwd)
        stages.set_reporter(lambda stage: _reply(results, ("stage", stage)))
        try:
            reply: tuple[Any, ...] = ("result", _probe_tracked(request, parent_path))
        except Exception as exc:  # a bug of ours: the supervisor reports it, with traceback
            reply = _failure(exc)
        finally:
            stages.set_reporter(None)
        _reply(results, reply)


def main(argv: list[str]) -> int:
    results, parent = int(argv[0]), int(argv[1])
    os.set_inheritable(results, False)
    requests = _private_requests_fd()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    sys.dont_write_bytecode = True  # never a __pycache__ next to the user's files
    faulthandler.enable(all_threads=False)
    if DUMP_SIGNAL is not None:
        faulthandler.register(DUMP_SIGNAL, all_threads=False)
    _die_with_parent(parent)
    try:
        from tfpcheck.probe.quiet import import_tensorflow

        import_tensorflow()
    except Exception as exc:
        _reply(results, _failure(exc))
        return 1
    _reply(results, ("ready", os.getpid()))
    return _serve(requests, results)


def _exit_now(code: int) -> None:
    """Leave without the interpreter's shutdown: every result has been sent by then.

    Finalizing an interpreter that imported TensorFlow, TFP and Keras takes more than a
    second (module teardown, TensorFlow's exit handlers), and the command waits for its
    worker to be gone before it returns.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_now(main(sys.argv[1:]))
