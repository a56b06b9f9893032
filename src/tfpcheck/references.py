"""`FILE.py:NAME` and `package.module:NAME`: parsed and resolved once, before TensorFlow starts.

Resolving reads the user's source as text with `ast`: the file exists and parses, and it
defines NAME (for a dotted NAME such as `Builder.make`, the class defines the attribute).
Nothing is imported: a module name is looked up on `sys.path` as files, the way the import
system would find it. What cannot be told without running the code (a NAME bound inside an
`if`, by `from x import *`, or a class with base classes) is given the benefit of the doubt:
the probe's import is the final word on it.
"""

from __future__ import annotations

import ast
import difflib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

MAX_SOURCE_BYTES = 4 * 1024 * 1024


class BadReference(Exception):
    """A reference that names nothing: the message is one line saying what to do."""


@dataclass(frozen=True)
class CodeReference:
    """`models.py:build_model`, `pkg.models:Builder.make`: where the code is and its NAME."""

    text: str
    target: str  # "dir/models.py" or "pkg.models"
    name: str  # "build_model" or "Builder.make"

    @property
    def is_file(self) -> bool:
        return is_file_target(self.target)


def is_file_target(target: str) -> bool:
    """A path to a Python file (`models.py`, `src/models`) rather than a dotted module name."""
    return target.endswith(".py") or "/" in target or os.sep in target


def _is_dotted_name(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))


def parse_code_reference(text: str) -> CodeReference | None:
    """The reference `text` makes, or None when it is a path (an existing one with a colon,
    `C:\\models\\m.keras`, or anything whose part after the last ':' is no dotted name)."""
    if ":" not in text or os.path.exists(text):
        return None
    target, _, name = text.rpartition(":")
    if not target or not _is_dotted_name(name):
        return None
    return CodeReference(text, target, name)


def is_code_reference(text: str) -> bool:
    return parse_code_reference(text) is not None


# ---- resolving, without importing ----


def module_file(target: str, search: list[str] | None = None) -> Path | None:
    """The source file of a dotted module on `search` (default: the working directory, then
    sys.path), found as the import system would find it; None when it is no plain file."""
    parts = target.split(".")
    for entry in search if search is not None else [os.getcwd(), *sys.path]:
        base = Path(entry or os.getcwd()).joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _parse(path: Path, what: str, fix: str = "fix the file") -> ast.Module | None:
    """The file's tree; None when it nests deeper than `ast` can build (Python may still
    import it: only the probe can tell)."""
    shown = display(path)
    if path.is_dir():
        raise BadReference(f"{what}: {shown} is a directory, not a Python file")
    if not path.is_file():
        raise BadReference(f"{what}: no such file: {shown}")
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            raise BadReference(f"{what}: {shown} is larger than a Python source file can be")
        source = path.read_bytes()
    except OSError as exc:
        raise BadReference(f"{what}: cannot read {shown} ({exc.strerror or exc})") from None
    try:
        return ast.parse(source, filename=str(path))
    except SyntaxError as exc:  # IndentationError and TabError too
        line = f" at line {exc.lineno}" if exc.lineno else ""
        name = type(exc).__name__
        raise BadReference(f"{what}: {name}{line}: {exc.msg}; {fix}") from None
    except ValueError as exc:  # null bytes
        raise BadReference(f"{what}: {shown} does not parse: {exc}; {fix}") from None
    except RecursionError:
        return None


def display(path: str | Path) -> str:
    """A path as the user would write it: relative below the current directory."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith(os.pardir) else relative


def _bindings(body: list[ast.stmt]) -> tuple[set[str], bool]:
    """Names the statements surely bind, and whether others may be bound out of sight."""
    names: set[str] = set()
    unsure = False
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    unsure = True
                else:
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While | ast.Match):
            unsure = True  # what they bind depends on running them
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            unsure = unsure or _may_write_globals(node.value)
    return names, unsure


def _may_write_globals(call: ast.Call) -> bool:
    name = call.func.id if isinstance(call.func, ast.Name) else None
    return name in {"exec", "globals", "setattr", "vars"}


def _missing(name: str, known: set[str], where: str) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{where} defines no '{name}'{hint}"


def _check_defines(tree: ast.Module, name: str, where: str) -> str | None:
    """Why the module does not define the dotted NAME, or None when it does (or may)."""
    first, *rest = name.split(".")
    names, unsure = _bindings(tree.body)
    if first not in names:
        if unsure or any(n == "__getattr__" for n in names):
            return None
        return _missing(first, names, where)
    if not rest:
        return None
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == first]
    if len(classes) != 1 or classes[0].bases or classes[0].keywords:
        return None  # an instance, an import, inherited attributes: only running tells
    members, unsure = _bindings(classes[0].body)
    if rest[0] in members or unsure:
        return None
    return _missing(rest[0], members, f"{where}'s class {first}")


def check_code_reference(reference: CodeReference, what: str, fix: str = "fix the file") -> None:
    """BadReference when the file or module does not exist, does not parse, or does not
    define NAME. `what` names the reference in the message: "models.py:build", "--loss"."""
    if reference.is_file:
        path = Path(reference.target)
        where = display(path)
    else:
        found = module_file(reference.target)
        if found is None:
            _check_module_exists(reference.target, what)
            return  # an extension module, a zip import: the probe's import will tell
        path, where = found, reference.target
    tree = _parse(path, what, fix)
    if tree is None:
        return
    problem = _check_defines(tree, reference.name, where)
    if problem is not None:
        raise BadReference(f"{what}: {problem}")


def _check_module_exists(target: str, what: str) -> None:
    top = target.split(".")[0]
    # find_spec of a top-level name imports nothing; of a submodule it would import the
    # package, so only the top level is asked.
    if os.path.isdir(top) or importlib.util.find_spec(top) is not None:
        return
    raise BadReference(
        f"{what}: no module named '{top}': check the name, or run tfpcheck where Python can "
        "import it (or give FILE.py)"
    )


def check_module_target(target: str, what: str) -> None:
    """--custom-objects: a Python file that exists and parses, or a module that exists."""
    if is_file_target(target):
        _parse(Path(target), what)
        return
    found = module_file(target)
    if found is None:
        _check_module_exists(target, what)
    else:
        _parse(found, what)
