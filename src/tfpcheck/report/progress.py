"""A transient progress display on stderr while several models are checked at a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tfpcheck.findings import FileResult

OnResult = Callable[[FileResult], None]


def wanted(paths: list[str], quiet: bool) -> bool:
    # Only a person at a terminal sees it: never in a pipe, a log file or CI, even when
    # FORCE_COLOR makes rich treat the stream as a terminal.
    return len(paths) > 1 and not quiet and sys.stderr.isatty()


@contextmanager
def progress(paths: list[str], enabled: bool) -> Iterator[OnResult | None]:
    """Yield the engine's `on_result` callback, or None when there is nothing to show."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    from tfpcheck.report.text import make_console

    columns = (
        SpinnerColumn(),
        TextColumn("checking {task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
    )
    with Progress(*columns, console=make_console(stderr=True), transient=True) as display:
        task = display.add_task(paths[0], total=len(paths))
        done = 0

        def on_result(result: FileResult) -> None:
            nonlocal done
            done += 1
            upcoming = paths[done] if done < len(paths) else result.path
            display.update(task, advance=1, description=upcoming)

        yield on_result
