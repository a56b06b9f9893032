"""A transient progress display on stderr while models are checked at a terminal.

One line counts the models done; below it, each model being probed has a line of its own
with the stage its probe is in (importing TensorFlow, loading, the passes at batch 1 and N,
the gradients) and the time since it started. The display disappears when the report is
written, and is never shown when stderr is not a terminal.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tfpcheck.findings import FileResult

OnResult = Callable[[FileResult], None]
OnStage = Callable[[str, str], None]


def wanted(paths: list[str], quiet: bool) -> bool:
    # Only a person at a terminal sees it: never in a pipe, a log file or CI, even when
    # FORCE_COLOR makes rich treat the stream as a terminal.
    return bool(paths) and not quiet and sys.stderr.isatty()


@dataclass
class Tracker:
    """The engine's callbacks: a result is ready (`on_result`), a probe changed stage."""

    on_result: OnResult
    on_stage: OnStage


@contextmanager
def progress(paths: list[str], enabled: bool) -> Iterator[Tracker | None]:
    """Yield the engine's callbacks, or None when there is nothing to show."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn
    from rich.text import Text

    from tfpcheck.report.text import make_console

    class Count(ProgressColumn):
        """M/N on the line that counts the models; nothing on a model's own line."""

        def render(self, task: Any) -> Text:
            return Text("" if task.total is None else f"{int(task.completed)}/{int(task.total)}")

    class Since(ProgressColumn):
        """A model's time since its probe started (its line only)."""

        def render(self, task: Any) -> Text:
            started = task.fields.get("started")
            return Text("" if started is None else f"{time.monotonic() - started:.1f} s")

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        Count(),
        Since(),
    )
    lock = threading.Lock()  # results and stages arrive from the engine's threads
    with Progress(*columns, console=make_console(stderr=True), transient=True) as display:
        overall = display.add_task(f"checking {paths[0]}", total=len(paths))
        lines: dict[str, Any] = {}
        done: list[str] = []

        def on_stage(path: str, stage: str) -> None:
            with lock:
                text = f"  {path}: {stage}"
                if path not in lines:
                    lines[path] = display.add_task(text, total=None, started=time.monotonic())
                else:
                    display.update(lines[path], description=text)

        def on_result(result: FileResult) -> None:
            with lock:
                done.append(result.path)
                line = lines.pop(result.path, None)
                if line is not None:
                    display.remove_task(line)
                # the first model, in the order given, that is not done yet
                waiting = [p for p in paths if p not in done]
                upcoming = waiting[0] if waiting else result.path
                display.update(overall, advance=1, description=f"checking {upcoming}")

        yield Tracker(on_result, on_stage)
