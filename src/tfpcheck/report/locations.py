"""Paths as CI tools want them: relative to the checkout, with forward slashes."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from tfpcheck.references import parse_code_reference


def model_file(path: str) -> str | None:
    """The file a checked PATH lives in: the path itself, or FILE.py of `FILE.py:NAME`.

    None for `package.module:NAME`, which names no file (finding it would mean importing it).
    """
    reference = parse_code_reference(path)
    if reference is None:
        return path
    return reference.target if reference.is_file else None


def relative_posix(path: str, base: Path | None = None) -> str | None:
    """`path` relative to `base` (default: the working directory) with forward slashes.

    None when the path lies outside `base`: a lambda written on another machine, say.
    """
    root = Path(os.path.abspath(base if base is not None else os.getcwd()))
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(root)
    except ValueError:
        return None
    return PurePosixPath(*relative.parts).as_posix()


def display_path(path: str, base: Path | None = None) -> str:
    """Relative with forward slashes inside `base`, else absolute (as the OS writes it)."""
    relative = relative_posix(path, base)
    return relative if relative is not None else os.path.abspath(path)


def artifact_uri(path: str, base: Path | None = None) -> tuple[str, bool]:
    """A SARIF artifact URI and whether it is relative to `base` (the source root)."""
    relative = relative_posix(path, base)
    if relative is not None:
        return quote(relative, safe="/"), True
    return Path(os.path.abspath(path)).as_uri(), False
