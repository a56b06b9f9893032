"""Read a user's FILE.py (a loss or a factory) as text with `ast`: never imported here."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

MAX_SOURCE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class SourceCall:
    callee: str  # dotted as written: "tfd.MultivariateNormalFullCovariance"
    file: str
    line: int
    function: str | None  # the enclosing def, when there is one

    @property
    def short_name(self) -> str:
        return self.callee.rsplit(".", 1)[-1]


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return None


class _Calls(ast.NodeVisitor):
    def __init__(self, file: str) -> None:
        self.file = file
        self.stack: list[str] = []
        self.calls: list[SourceCall] = []

    def _visit_def(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.stack.append(node.name)
        self.generic_visit(node)
        self.stack.pop()

    visit_FunctionDef = _visit_def
    visit_AsyncFunctionDef = _visit_def

    def visit_Call(self, node: ast.Call) -> None:
        callee = _dotted(node.func)
        if callee is not None:
            function = ".".join(self.stack) if self.stack else None
            self.calls.append(SourceCall(callee, self.file, node.lineno, function))
        self.generic_visit(node)


def file_of_spec(spec: str) -> Path | None:
    """The FILE.py of a `FILE.py:NAME` spec, when it names a readable Python file."""
    target = spec.rpartition(":")[0]
    if not target.endswith(".py"):
        return None
    path = Path(target)
    return path if path.is_file() else None


def calls_in_file(path: Path) -> list[SourceCall]:
    """Every call written in the file; [] when it cannot be read or parsed."""
    try:
        if path.stat().st_size > MAX_SOURCE_BYTES:
            return []
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return []  # the probe reports what importing it says
    visitor = _Calls(str(path))
    visitor.visit(tree)
    return visitor.calls
