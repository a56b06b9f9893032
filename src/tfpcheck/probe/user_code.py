"""Import the user's `FILE.py:NAME` / `package.module:NAME`, the way pytest imports tests."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from tfpcheck.evidence.sites import ErrorSummary
from tfpcheck.probe.frames import summarize_error
from tfpcheck.references import is_file_target


class UserCodeError(Exception):
    """Importing or calling the user's code raised: what, and the user's frame."""

    def __init__(self, what: str, summary: ErrorSummary, exception: BaseException) -> None:
        super().__init__(what)
        self.what = what  # "importing models.py" / "calling build_model()"
        self.summary = summary
        self.exception = exception

    def __str__(self) -> str:
        return f"{self.what}: {self.summary.describe()}"


class UserReferenceError(Exception):
    """FILE.py:NAME, module:NAME or --custom-objects names nothing that exists: a mistake in
    the reference (exit 2), not an error of the user's code (a finding)."""


def split_reference(reference: str) -> tuple[str, str]:
    """'dir/models.py:build' -> ('dir/models.py', 'build'); the last ':' separates NAME."""
    target, _, name = reference.rpartition(":")
    if not target or not name:
        raise ValueError(f"'{reference}' is not FILE.py:NAME or module:NAME")
    return target, name


@contextlib.contextmanager
def _no_bytecode() -> Iterator[None]:
    # Never write __pycache__ next to the user's file.
    previous = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = previous


def _module_from_file(path: str) -> ModuleType:
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)  # so the user's sibling imports work, as under pytest
    digest = hashlib.sha1(path.encode()).hexdigest()[:10]
    module_name = f"tfpcheck_user_{os.path.splitext(os.path.basename(path))[0]}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def import_module(target: str) -> ModuleType:
    """Import FILE.py or a dotted module name; UserCodeError when its code raises,
    UserReferenceError when there is no such file or module."""
    is_file = is_file_target(target)
    if is_file and os.path.isdir(target):
        raise UserReferenceError(f"{target} is a directory, not a Python file")
    if is_file and not os.path.isfile(target):
        raise UserReferenceError(f"no such file: {target}")
    with _no_bytecode():
        try:
            if is_file:
                return _module_from_file(target)
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            return importlib.import_module(target)
        except ModuleNotFoundError as exc:
            # The module named by the reference is missing (not one that it imports).
            if exc.name and (target == exc.name or target.startswith(exc.name + ".")):
                raise UserReferenceError(
                    f"no module named '{target}': check the name, or run tfpcheck where "
                    "Python can import it"
                ) from exc
            raise UserCodeError(f"importing {target}", summarize_error(exc), exc) from exc
        except Exception as exc:
            raise UserCodeError(f"importing {target}", summarize_error(exc), exc) from exc


def resolve(reference: str) -> Any:
    """The object NAME of FILE.py:NAME or module:NAME."""
    target, name = split_reference(reference)
    module = import_module(target)
    obj: Any = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise UserReferenceError(f"{target} defines no '{name}' ({reference})")
        obj = getattr(obj, part)
    return obj


def call_factory(reference: str) -> Any:
    factory = resolve(reference)
    if not callable(factory):
        exc = TypeError(f"{reference} is {type(factory).__name__}, not a callable")
        raise UserCodeError(f"calling {reference}", summarize_error(exc), exc)
    with _no_bytecode():
        try:
            return factory()
        except Exception as exc:
            raise UserCodeError(f"calling {reference}()", summarize_error(exc), exc) from exc


def module_objects(target: str) -> dict[str, Any]:
    """Public classes and functions of a --custom-objects module, by name."""
    module = import_module(target)
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_") and callable(value)
    }
