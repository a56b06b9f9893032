"""The order in which `--jobs` starts its checks: the costliest first.

With several workers, a big model taken last keeps one worker busy while the others sit
idle; started first, it runs beside the small ones (longest-processing-time scheduling).
The cost of a probe grows with the model's weights, so a file's size stands for it. Results
are still reported in the order the paths were given.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from tfpcheck.references import is_code_reference

UNKNOWN = float("inf")


def estimated_cost(path: str) -> float:
    """Bytes of the model's file or SavedModel directory. A factory (FILE.py:NAME) builds
    its model from code, so its size cannot be told before it runs: it goes first, like the
    biggest, rather than last, where a big one would run alone. A path that cannot be read
    costs nothing here: its check fails at once."""
    if is_code_reference(path):
        return UNKNOWN
    try:
        if not os.path.isdir(path):
            return float(os.path.getsize(path))
        total = 0
        for directory, _dirs, files in os.walk(path):
            total += sum(os.path.getsize(os.path.join(directory, f)) for f in files)
        return float(total)
    except OSError:
        return 0.0


def costliest_first(paths: Sequence[str]) -> list[str]:
    """`paths` ordered by estimated cost, the costliest first; equal costs keep their order."""
    costs = {path: estimated_cost(path) for path in paths}
    return sorted(paths, key=lambda path: -costs[path])
