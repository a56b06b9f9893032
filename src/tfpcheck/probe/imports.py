"""Which of the user's modules one probe imported; forgotten once the probe is done.

The worker serves probe after probe. A user's module left in `sys.modules` would answer the
next probe's import with its first version (after an edit), or with a namesake from another
directory (two factories, each beside its own `helpers.py`); and this probe's imports would
not show a module an earlier probe had imported, so the cache would not learn that this
result depends on it. So every probe imports the user's code afresh, and says which files
it ran.
"""

from __future__ import annotations

import functools
import importlib
import os
import site
import sys
import sysconfig
import time
from types import ModuleType

from tfpcheck.user_files import UserFile, file_sha256

# TensorFlow's autograph writes converted functions to temporary modules of its own.
_GENERATED_PREFIXES = ("__autograph_generated_file",)
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


@functools.cache
def _library_dirs() -> tuple[str, ...]:
    """Where Python's own modules and installed distributions live, and tfpcheck itself."""
    dirs = {
        path
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (path := sysconfig.get_paths().get(key))
    }
    dirs.update(site.getsitepackages())
    dirs.add(site.getusersitepackages())
    dirs.add(_OWN_DIR)
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs)


def is_user_file(path: str) -> bool:
    """A file of the user's code: not Python's, not an installed distribution's, not ours."""
    if path.startswith("<") or os.path.basename(path).startswith(_GENERATED_PREFIXES):
        return False
    real = os.path.realpath(path)
    parts = real.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    return not real.startswith(_library_dirs())


def _user_locations(module: ModuleType) -> list[str] | None:
    """The user's file of a module, or the directories of a namespace package of the user's;
    None for a module of Python, of a library, or of no file at all."""
    file = getattr(module, "__file__", None)
    if isinstance(file, str):
        return [os.path.abspath(file)] if is_user_file(file) else None
    spec = getattr(module, "__spec__", None)
    directories = list(getattr(spec, "submodule_search_locations", None) or [])
    if directories and all(isinstance(d, str) and is_user_file(d) for d in directories):
        return []  # a namespace package: its modules carry the files
    return None


class UserImports:
    """Started before a probe; `finish` after it names the user's files it imported."""

    def __init__(self) -> None:
        self._before = set(sys.modules)
        self._path = list(sys.path)
        self._started = time.time_ns()
        # A file written since the last probe must be seen, even within the resolution of
        # its directory's modification time (which the finders' listings are cached by).
        importlib.invalidate_caches()

    def finish(self) -> tuple[UserFile, ...] | None:
        """The user's files imported since the start, by content; None when one of them
        changed during the probe (the result then belongs to no one version of the code).

        The modules are forgotten and `sys.path` is put back as it was.
        """
        files: set[str] = set()
        for name, module in list(sys.modules.items()):
            if name in self._before:
                continue
            found = _user_locations(module)
            if found is not None:
                files.update(found)
                del sys.modules[name]
        sys.path[:] = self._path
        return _pinned(sorted(files), self._started)


def _pinned(paths: list[str], started: int) -> tuple[UserFile, ...] | None:
    pinned = []
    for path in paths:
        try:
            # Written after the probe started: what was imported may not be what is hashed.
            if os.stat(path).st_mtime_ns >= started:
                return None
            pinned.append(UserFile(path, file_sha256(path)))
        except OSError:  # gone since it was imported
            return None
    return tuple(pinned)
