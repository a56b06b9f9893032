"""Say what the probe is doing, for the live progress display at a terminal.

The worker installs a reporter that sends each stage to the supervisor; a probe in the
calling process (the Python API) has none, and `reached` costs nothing there.
"""

from __future__ import annotations

from collections.abc import Callable

_reporter: Callable[[str], None] | None = None


def set_reporter(reporter: Callable[[str], None] | None) -> None:
    global _reporter
    _reporter = reporter


def reached(stage: str) -> None:
    """The probe has reached `stage` ("loading the model", "probing at batch 1 and 32")."""
    if _reporter is not None:
        _reporter(stage)
