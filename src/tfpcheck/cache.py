"""A per-user cache of check results, so an unchanged model re-checked by a hook costs no import.

A result depends on the model (every file of a SavedModel directory), on the user's Python
code the check runs, on --data, on the options, on tfpcheck's code, the Python version and
the installed libraries (their versions read from metadata, never imported). All of these
but one are known before the check runs and make the key. The exception is what the user's
code imports (a factory's helpers, the modules beside it or in a package of the user's): the
probe reports the files it ran, the entry lists them with their content's hash, and a lookup
is a hit only while every one of them is unchanged. Selection (--select/--ignore) is applied
after the cache, so one entry serves any selection.

Only deterministic results are stored: never a failure of tfpcheck itself, nor a probe that
did not finish, nor one during which the user's code changed. `cache_store` keeps the
entries: atomic writes, a size cap, least recently used out first.

This module must stay light: a cache hit imports neither TensorFlow nor the model readers.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, fields, is_dataclass, replace
from importlib import machinery
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfpcheck import __version__
from tfpcheck.cache_store import EntryStore, max_bytes
from tfpcheck.findings import Confidence, FileError, FileResult, Finding, Severity, Where
from tfpcheck.options import UNKEYED
from tfpcheck.selection import Selector
from tfpcheck.shapes import ShapeTable
from tfpcheck.user_files import UserFile, unchanged

if TYPE_CHECKING:
    from tfpcheck.engine import CheckOptions
    from tfpcheck.losses import LossSpec

# 2: entries list the user's files they depend on, and say if probed; 3: the shapes table
ENTRY_FORMAT = 3
CACHE_ENV = "TFPCHECK_CACHE_DIR"
# Distributions whose versions change what the static reader or the probe finds.
LIBRARIES = (
    "tensorflow",
    "tensorflow-cpu",
    "tensorflow-probability",
    "tf-keras",
    "keras",
    "numpy",
    "h5py",
)
# Results that say tfpcheck itself failed, or that a probe was cut short, are not stored:
# the next run may well succeed.
TRANSIENT_MARKERS = (
    "rerun with --debug",
    "probe failed inside tfpcheck",
    "did not finish",
    "timed out",
    "ignoring TFPCHECK_",  # a bad setting in the environment, fixed by the next run
)
TRANSIENT_CODES = frozenset({"TFP008"})
_CHUNK = 1 << 20


def cache_dir() -> Path:
    """`$TFPCHECK_CACHE_DIR`, else `$XDG_CACHE_HOME/tfpcheck`, else `~/.cache/tfpcheck`."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "tfpcheck"


# --- what a result depends on -------------------------------------------------------------


class Uncacheable(Exception):
    """Something the result depends on cannot be fingerprinted: do not cache."""


def _hash_file(path: Path, digest: Any) -> None:
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise Uncacheable(str(exc)) from None


def _walk(root: Path) -> Iterator[Path]:
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            yield Path(directory, name)


def content_hash(path: Path) -> str:
    """sha256 of a file, or of every file (name and content) under a directory."""
    digest = hashlib.sha256()
    if path.is_dir():
        for file in _walk(path):
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
            _hash_file(file, digest)
            digest.update(b"\0")
    elif path.is_file():
        _hash_file(path, digest)
    else:
        raise Uncacheable(f"{path} is not a file")
    return digest.hexdigest()


def _module_files(name: str) -> list[Path]:
    """The files of a dotted module and its parent packages, found without importing any.

    `importlib.util.find_spec("a.b")` imports `a`; instead each level is looked up with the
    path finder, the way the probe's import would find it (the working directory first).
    Anything else (a namespace package, a custom finder, a compiled module) is Uncacheable.
    """
    parts = name.split(".")
    if not all(part.isidentifier() for part in parts):
        raise Uncacheable(f"'{name}' is not a module name")
    search: list[str] | None = [os.getcwd(), *sys.path]
    files: list[Path] = []
    for i in range(len(parts)):
        spec = machinery.PathFinder.find_spec(".".join(parts[: i + 1]), search)
        origin = getattr(spec, "origin", None)
        if spec is None or not origin or not origin.endswith(".py"):
            raise Uncacheable(f"cannot locate module '{name}' without importing it")
        files.append(Path(origin))
        search = spec.submodule_search_locations
        if i + 1 < len(parts) and not search:
            raise Uncacheable(f"'{'.'.join(parts[: i + 1])}' is not a package")
    return files


def _beside(path: Path) -> list[str]:
    """The names of the modules beside a FILE.py: one that appears there may be imported
    instead of one found elsewhere (`try: import fast_helpers except ImportError: ...`)."""
    suffixes = tuple(machinery.all_suffixes())
    try:
        names = os.listdir(path.resolve().parent)
    except OSError as exc:
        raise Uncacheable(str(exc)) from None
    return sorted(name for name in names if name.endswith(suffixes))


def _target_fingerprint(target: str) -> dict[str, Any]:
    """`FILE.py` or `package.module` (a factory, a loss, --custom-objects): its own files by
    content. What they import is not known before the probe ran it: each entry lists those
    files (see `ResultCache.get`)."""
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target)
        if not path.is_file():
            raise Uncacheable(f"no such file: {target}")
        return {"files": _fingerprint_files([path]), "beside": _beside(path)}
    return {"files": _fingerprint_files(_module_files(target))}


def _fingerprint_files(files: list[Path]) -> list[list[str]]:
    return [[str(f.resolve()), content_hash(f)] for f in files]


def _package_fingerprint() -> str:
    """tfpcheck's own code: its version number alone stays the same across edits."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for file in _walk(root):
        if file.suffix == ".py":
            stat = file.stat()
            digest.update(f"{file.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def library_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


# CheckOptions fields that cannot change what is found, and why (from the table of options).
# Every other field is in the key, so an option added to CheckOptions is keyed unless its
# row says why it is not.
UNKEYED_OPTIONS = UNKEYED


def _loss_fingerprint(loss: LossSpec) -> dict[str, Any]:
    found = asdict(loss)
    if loss.kind == "function" and loss.target:
        found["source"] = _target_fingerprint(loss.target.rpartition(":")[0])
    return found


def _data_fingerprint(data: str) -> list[str]:
    return [data, content_hash(Path(data))]


def _custom_objects_fingerprint(target: str) -> list[Any]:
    return [target, _target_fingerprint(target)]


# Options that name files: the key holds what is in them, not only their names.
_FILE_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "loss": _loss_fingerprint,
    "data": _data_fingerprint,
    "custom_objects": _custom_objects_fingerprint,
}


def options_fingerprint(options: CheckOptions) -> dict[str, Any]:
    """Every field of CheckOptions but UNKEYED_OPTIONS, by value (files by content)."""
    found: dict[str, Any] = {}
    for option in fields(options):
        if option.name in UNKEYED_OPTIONS:
            continue
        value = getattr(options, option.name)
        fingerprint = _FILE_OPTIONS.get(option.name)
        if value is not None and fingerprint is not None:
            value = fingerprint(value)
        elif is_dataclass(value) and not isinstance(value, type):
            value = asdict(value)
        found[option.name] = value
    return found


def result_key(path: str, options: CheckOptions, is_factory: bool) -> str | None:
    """The cache key of checking `path` with `options`, or None when it cannot be cached.

    The files the probe imports are not in it: they are only known once it ran, and each
    entry lists them (`ResultCache.get` checks them).
    """
    try:
        model: dict[str, Any]
        if is_factory:
            model = {"factory": _target_fingerprint(path.rpartition(":")[0])}
        else:
            model = {"content": content_hash(Path(path))}
        parts = {
            "format": ENTRY_FORMAT,
            "tfpcheck": [__version__, _package_fingerprint()],
            "python": sys.version,
            "libraries": library_versions(),
            "path": [path, os.path.abspath(path)],
            "model": model,
            "options": options_fingerprint(options),
        }
    except (Uncacheable, OSError, ValueError):
        return None
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --- entries ------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    """How the reports show an evidence value (see report.text and report.json_format)."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def encode_result(result: FileResult) -> dict[str, Any] | None:
    """A JSON-ready dict of the result, or None when JSON would not give back the same report.

    Evidence values go through JSON the way the reports write them; a value that JSON would
    turn into something shown differently (a bare non-JSON scalar) makes the result uncached.
    """
    encoded = result.as_dict()
    del encoded["cached"]  # where this result came from, not part of it
    encoded["shapes"] = [table.as_dict() for table in result.shapes]
    for data, finding in zip(encoded["findings"], result.findings, strict=True):
        evidence = json.loads(json.dumps(data["evidence"], default=str))
        original = finding.evidence
        if list(evidence) != [str(k) for k in original]:
            return None
        for (_, value), restored in zip(original.items(), evidence.values(), strict=True):
            if _shown(value) != _shown(restored):
                return None
        data["evidence"] = evidence
    return encoded


def decode_result(data: dict[str, Any], path: str) -> FileResult:
    findings = tuple(
        Finding(
            code=f["code"],
            name=f["name"],
            severity=Severity(f["severity"]),
            message=f["message"],
            fix=f["fix"],
            where=Where(**f["where"]),
            evidence=dict(f["evidence"]),
            tier=f["tier"],
            confidence=Confidence(f["confidence"]),
        )
        for f in data["findings"]
    )
    error = data["error"]
    return FileResult(
        path,
        findings,
        error=None if error is None else FileError(error["code"], error["message"]),
        notes=tuple(str(note) for note in data["notes"]),
        not_probed=data["reason"] if isinstance(data.get("reason"), str) else None,
        shapes=tuple(ShapeTable.from_dict(table) for table in data["shapes"]),
    )


def is_deterministic(result: FileResult) -> bool:
    texts = [*result.notes]
    if result.not_probed is not None:
        texts.append(result.not_probed)
    if result.error is not None:
        texts.append(result.error.message)
    if any(marker in text for text in texts for marker in TRANSIENT_MARKERS):
        return False
    return not any(f.code in TRANSIENT_CODES for f in result.findings)


class ResultCache:
    """Results by key, each with the user's files it depends on; a hit only while every one
    of them has the content it had when the result was stored."""

    def __init__(self, directory: Path, limit: int | None = None) -> None:
        self.limit_note: str | None = None
        if limit is None:
            limit, self.limit_note = max_bytes()
        self.store = EntryStore(directory, ENTRY_FORMAT, limit)

    def get(self, key: str, path: str) -> FileResult | None:
        data = self.store.read(key)
        try:
            if data["key"] != key:
                return None
            user_files = tuple(UserFile(str(p), str(h)) for p, h in data["user_files"])
            stored_at = float(data["stored_at"])
            result = decode_result(data["result"], path)
        except Exception:  # missing, unreadable or corrupt: a miss, overwritten by put
            return None
        # A module the check imported has changed since: the stored result is no answer.
        if not unchanged(user_files):
            return None
        self.store.touch(key)
        return replace(result, cached_at=stored_at)

    def put(self, key: str, result: FileResult) -> bool:
        """Store the result atomically; False when it was not stored (that is fine)."""
        encoded = encode_result(result)
        if encoded is None or result.user_files is None:
            return False
        document = {
            "format": ENTRY_FORMAT,
            "key": key,
            "stored_at": time.time(),
            "user_files": [[f.path, f.sha256] for f in result.user_files],
            "result": encoded,
        }
        return self.store.write(key, document)


def _selected(result: FileResult, selector: Selector) -> FileResult:
    kept = tuple(f for f in result.findings if selector.is_selected(f.code))
    return result if len(kept) == len(result.findings) else replace(result, findings=kept)


def cached_check(
    path: str,
    options: CheckOptions,
    check: Callable[[str, CheckOptions], FileResult],
    is_factory: bool,
    cache: ResultCache | None = None,
) -> FileResult:
    """`check(path, options)`, through the cache: stored with every finding, then selected."""
    cache = cache or ResultCache(cache_dir())
    everything = replace(options, selector=Selector())
    key = result_key(path, everything, is_factory)
    result = cache.get(key, path) if key is not None else None
    if result is None:
        result = check(path, everything)
        if key is not None and is_deterministic(result):
            cache.put(key, result)
    if cache.limit_note is not None:  # after put: the note is about this run's setting
        result = replace(result, notes=(*result.notes, cache.limit_note))
    return _selected(result, options.selector)


def clear(directory: Path | None = None) -> int:
    """Empty the cache (`tfpcheck cache clear`); how many entries it held."""
    return EntryStore(directory or cache_dir(), ENTRY_FORMAT, 0).clear()
