"""The packages import in one direction: the probe uses the rules and the evidence types,
the rules use the evidence types, and the evidence types use neither (SPEC: no cycle between
`probe/` and `rules/`)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "src" / "tfpcheck"


def _imports(path: Path, *, typing_only: bool) -> list[tuple[int, str]]:
    """Modules `path` imports; with `typing_only=False`, those under `if TYPE_CHECKING:` are
    left out (they are never imported when the code runs)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    if not typing_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def _offending(folder: str, forbidden: tuple[str, ...], typing_only: bool) -> list[str]:
    bad = []
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        for line, module in _imports(path, typing_only=typing_only):
            if module.startswith(forbidden):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return bad


def test_the_rules_never_import_the_probe() -> None:
    assert _offending("rules", ("tfpcheck.probe",), typing_only=True) == []


def test_the_evidence_types_import_neither_at_run_time() -> None:
    forbidden = ("tfpcheck.probe", "tfpcheck.rules")
    assert _offending("evidence", forbidden, typing_only=False) == []


def test_importing_the_rules_loads_no_probe_module() -> None:
    script = (
        "import sys, tfpcheck.rules, tfpcheck.evidence.where; "
        "print([m for m in sys.modules if m.startswith('tfpcheck.probe')])"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
