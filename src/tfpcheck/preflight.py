"""Every reference on the command line resolved before anything is loaded or imported.

A model `FILE.py:NAME`, `--loss FILE.py:NAME`, `--custom-objects` and `--data` that name
nothing are usage errors found here, in well under a second, in `--static` too: not after the
probe worker has spent seconds importing TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tfpcheck.losses import LOSS_FILE_FIX
from tfpcheck.references import (
    BadReference,
    check_code_reference,
    check_module_target,
    parse_code_reference,
)

if TYPE_CHECKING:
    from tfpcheck.engine import CheckOptions


def check_references(paths: Iterable[str], options: Iterable[CheckOptions]) -> None:
    """BadReference (one line) for the first reference that names nothing."""
    for path in paths:
        reference = parse_code_reference(path)
        if reference is not None:
            check_code_reference(reference, path)
    seen: set[tuple[str, str]] = set()
    for option in options:
        for what, value in _option_references(option):
            if (what, value) in seen:
                continue
            seen.add((what, value))
            _check_option(what, value)


def _option_references(options: CheckOptions) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if options.loss is not None and options.loss.kind == "function" and options.loss.target:
        found.append(("--loss", options.loss.target))
    if options.custom_objects:
        found.append(("--custom-objects", options.custom_objects))
    if options.data:
        found.append(("--data", options.data))
    return found


def _check_option(what: str, value: str) -> None:
    if what == "--loss":
        reference = parse_code_reference(value)
        if reference is None:
            raise BadReference(f"--loss {value}: expected FILE.py:NAME or module:NAME")
        check_code_reference(reference, f"--loss {value}", LOSS_FILE_FIX)
    elif what == "--custom-objects":
        check_module_target(value, f"--custom-objects {value}")
    elif not os.path.isfile(value):
        why = "is a directory" if os.path.isdir(value) else "no such file"
        raise BadReference(f"--data {value}: {why}; give an .npz file with arrays x and y")
