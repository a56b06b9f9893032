"""The user's own source files a check ran, named by content: what a cached result must match."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

_CHUNK = 1 << 20


@dataclass(frozen=True)
class UserFile:
    path: str  # absolute
    sha256: str


def file_sha256(path: str) -> str:
    """sha256 of the file's bytes; OSError when it cannot be read."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def unchanged(files: Iterable[UserFile]) -> bool:
    """Whether every file still has the content it had (a file gone is a change)."""
    for file in files:
        try:
            if file_sha256(file.path) != file.sha256:
                return False
        except OSError:
            return False
    return True
