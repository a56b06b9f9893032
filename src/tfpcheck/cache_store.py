"""The cache directory: JSON entries, bounded in size, the least recently used evicted first.

Several tfpcheck processes may share it at once (pre-commit runs hooks in parallel). An
entry is written to a temporary file and renamed into place, so a reader finds a whole entry
or none; any file may vanish under a process because another one evicted it, which is a miss
or nothing to do, never an error. Recency is an entry's modification time, renewed on a hit.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_ENV = "TFPCHECK_CACHE_MAX_MB"
DEFAULT_MAX_MB = 64
MiB = 1 << 20
TEMP_PREFIX = ".tmp-"
# A temporary file this old was left by a process that died before renaming it.
TEMP_GRACE_SECONDS = 600.0
# Only names the cache writes are ever removed: the directory may be set to any folder.
_VERSION = re.compile(r"v\d+")
_BUCKET = re.compile(r"[0-9a-f]{2}")
_FILE = re.compile(re.escape(TEMP_PREFIX) + r"\w+\.json|[0-9a-f]{64}\.json")


def max_bytes() -> tuple[int, str | None]:
    """The size cap from `$TFPCHECK_CACHE_MAX_MB` (MiB; 0 stores nothing), and a note when
    the setting is not a number and the default is used instead."""
    text = os.environ.get(MAX_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_MB * MiB, None
    try:
        mib = float(text)
    except ValueError:
        mib = math.nan
    if math.isfinite(mib) and mib >= 0:
        return int(mib * MiB), None
    note = (
        f"ignoring {MAX_ENV}={text!r}: expected a number of MiB (0 stores nothing); "
        f"the cache keeps up to {DEFAULT_MAX_MB} MiB"
    )
    return DEFAULT_MAX_MB * MiB, note


@dataclass(frozen=True)
class _Stored:
    mtime: float
    size: int
    path: str


def _listing(directory: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except OSError:  # missing, or removed by another process meanwhile
        return []


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _remove(path: str) -> bool:
    """Whether the file is gone now: removed here, or by another process first."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


class EntryStore:
    """`DIR/v<format>/<first two characters of the key>/<key>.json`."""

    def __init__(self, directory: Path, version: int, limit: int) -> None:
        self.directory = directory
        self.version = version
        self.limit = limit

    def path(self, key: str) -> Path:
        return self.directory / f"v{self.version}" / key[:2] / f"{key}.json"

    def read(self, key: str) -> Any:
        """The entry's JSON; None when it is missing, unreadable or not JSON (a miss)."""
        try:
            with self.path(key).open("rb") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def touch(self, key: str) -> None:
        """Mark the entry as just used, so that eviction keeps it longest."""
        with contextlib.suppress(OSError):
            os.utime(self.path(key))

    def write(self, key: str, document: Any) -> bool:
        """Store atomically, then evict beyond the cap; False when not stored (that is fine)."""
        if self.limit <= 0:
            return False
        entry = self.path(key)
        text = json.dumps(document)
        tmp = None
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=TEMP_PREFIX, suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, entry)
        except OSError:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            return False
        self.evict()
        return True

    def _buckets(self) -> Iterator[tuple[os.DirEntry[str], list[os.DirEntry[str]]]]:
        """Each entry format's folder and the folders of entries in it (old formats too,
        so that their entries age out)."""
        for version in _listing(str(self.directory)):
            if _VERSION.fullmatch(version.name) and _is_dir(version):
                buckets = _listing(version.path)
                yield version, [b for b in buckets if _BUCKET.fullmatch(b.name) and _is_dir(b)]

    def _files(self) -> Iterator[os.DirEntry[str]]:
        for _version, buckets in self._buckets():
            for bucket in buckets:
                yield from (f for f in _listing(bucket.path) if _FILE.fullmatch(f.name))

    def _stored(self) -> list[_Stored]:
        """The entries, oldest first; stale temporary files are removed on the way."""
        found = []
        stale = time.time() - TEMP_GRACE_SECONDS
        for file in self._files():
            try:
                stat = file.stat(follow_symlinks=False)
            except OSError:  # evicted by another process since the listing
                continue
            if file.name.startswith(TEMP_PREFIX):
                if stat.st_mtime < stale:
                    _remove(file.path)
                continue  # another process is writing it
            found.append(_Stored(stat.st_mtime, stat.st_size, file.path))
        return sorted(found, key=lambda s: (s.mtime, s.path))

    def size(self) -> int:
        return sum(stored.size for stored in self._stored())

    def evict(self) -> int:
        """Remove the least recently used entries until they fit the cap; how many went."""
        stored = self._stored()
        total = sum(s.size for s in stored)
        removed = 0
        for oldest in stored:
            if total <= self.limit:
                break
            if _remove(oldest.path):
                total -= oldest.size
                removed += 1
        return removed

    def clear(self) -> int:
        """Remove every entry and the folders they were in; how many entries there were."""
        removed = 0
        for file in list(self._files()):
            if _remove(file.path) and not file.name.startswith(TEMP_PREFIX):
                removed += 1
        for version, buckets in list(self._buckets()):
            for bucket in buckets:
                with contextlib.suppress(OSError):  # not empty: a write came in meanwhile
                    os.rmdir(bucket.path)
            with contextlib.suppress(OSError):
                os.rmdir(version.path)
        return removed
