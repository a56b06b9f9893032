"""A per-user cache of check results, so an unchanged model re-checked by a hook costs no import.

An entry is keyed by everything the result depends on: the content of the model (every file
of a SavedModel directory), of the user's Python files the check imports (a factory, a loss
function, --custom-objects) and of --data; every option that changes what is found; the
tfpcheck code, the Python version and the installed versions of the libraries the probe uses
(read from their metadata, never imported). Selection (--select/--ignore) is applied after
the cache, so one entry serves any selection.

Entries are JSON written atomically (a temporary file in the same directory, then
`os.replace`): pre-commit may run several tfpcheck processes at once. An entry that cannot be
read or parsed is a miss and is overwritten; a cache directory that cannot be written means
no caching. Only deterministic results are stored: never a failure of tfpcheck itself, nor a
probe that did not finish.

This module must stay light: a cache hit imports neither TensorFlow nor the model readers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from importlib import machinery
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfpcheck import __version__
from tfpcheck.findings import Confidence, FileError, FileResult, Finding, Severity, Where
from tfpcheck.selection import Selector

if TYPE_CHECKING:
    from tfpcheck.engine import CheckOptions

ENTRY_FORMAT = 2  # 2: a result says whether the model was probed
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


def _python_target_files(target: str) -> list[Path]:
    """The files behind `FILE.py` or `package.module` (a factory, loss or --custom-objects).

    For a FILE.py its sibling .py files count too: the probe puts its directory on sys.path,
    so a factory that imports a helper next to it changes when the helper does.
    """
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target)
        if not path.is_file():
            raise Uncacheable(f"no such file: {target}")
        siblings = sorted(p for p in path.resolve().parent.glob("*.py") if p.is_file())
        return [path, *siblings]
    return _module_files(target)


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


def _loss_fingerprint(options: CheckOptions) -> dict[str, Any] | None:
    loss = options.loss
    if loss is None:
        return None
    found: dict[str, Any] = {
        "kind": loss.kind,
        "name": loss.name,
        "from_logits": loss.from_logits,
        "target": loss.target,
    }
    if loss.kind == "function" and loss.target:
        found["files"] = _fingerprint_files(_python_target_files(loss.target.rpartition(":")[0]))
    return found


def result_key(path: str, options: CheckOptions, is_factory: bool) -> str | None:
    """The cache key of checking `path` with `options`, or None when it cannot be cached."""
    try:
        if is_factory:
            model = {"factory": _fingerprint_files(_python_target_files(path.rpartition(":")[0]))}
        else:
            model = {"content": content_hash(Path(path))}
        parts = {
            "format": ENTRY_FORMAT,
            "tfpcheck": [__version__, _package_fingerprint()],
            "python": sys.version,
            "libraries": library_versions(),
            "path": [path, os.path.abspath(path)],
            "model": model,
            "options": {
                "loss": _loss_fingerprint(options),
                "static_only": options.static_only,
                "unsafe": options.unsafe,
                "batch_size": options.batch_size,
                "target_shape": options.target_shape,
                "classes": options.classes,
                "data": [options.data, content_hash(Path(options.data))] if options.data else None,
                "num_examples": options.num_examples,
                "custom_objects": [
                    options.custom_objects,
                    _fingerprint_files(_python_target_files(options.custom_objects)),
                ]
                if options.custom_objects
                else None,
            },
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
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _entry(self, key: str) -> Path:
        return self.directory / f"v{ENTRY_FORMAT}" / key[:2] / f"{key}.json"

    def get(self, key: str, path: str) -> FileResult | None:
        try:
            with self._entry(key).open("rb") as handle:
                data = json.load(handle)
            if data.get("key") != key:
                return None
            return decode_result(data["result"], path)
        except Exception:  # missing, unreadable or corrupt: a miss, overwritten by put
            return None

    def put(self, key: str, result: FileResult) -> bool:
        """Store the result atomically; False when it was not stored (that is fine)."""
        encoded = encode_result(result)
        if encoded is None:
            return False
        entry = self._entry(key)
        text = json.dumps({"format": ENTRY_FORMAT, "key": key, "result": encoded})
        tmp = None
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, entry)
            return True
        except OSError:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            return False


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
    if key is not None:
        hit = cache.get(key, path)
        if hit is not None:
            return _selected(hit, options.selector)
    result = check(path, everything)
    if key is not None and is_deterministic(result):
        cache.put(key, result)
    return _selected(result, options.selector)
