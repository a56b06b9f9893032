"""What the installed cloudpickle records as a pickled function's file.

cloudpickle 3.1.3 and later write `<dynamic-code>` where 3.1.2 kept the path of the source
file; tests that pickle at test time expect whichever the installed version writes.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import cloudpickle

DYNAMIC_CODE = "<dynamic-code>"


def recorded_file(fn: Callable[..., Any]) -> str:
    """The co_filename a function has after a round trip through the installed cloudpickle."""
    # our own test function, unpickled in the test process: nothing from a model file
    return pickle.loads(cloudpickle.dumps(fn)).__code__.co_filename


def _local() -> Callable[[], None]:
    # a local function is pickled by value, with its code, as a saved lambda is
    def inner() -> None:
        pass

    return inner


RECORDS_FILES = recorded_file(_local()) != DYNAMIC_CODE


def pickled_file(path: str) -> str:
    """What a function written in `path` and pickled by the installed cloudpickle records."""
    return path if RECORDS_FILES else DYNAMIC_CODE
