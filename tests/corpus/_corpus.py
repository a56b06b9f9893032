"""The real-world corpus: find its cases, read their metadata, run tfpcheck on them, tally.

Every other module of this directory (except ``report.py``) is one configuration taken from a
public source: a factory ``build()`` and module-level metadata (``SOURCE``, ``VERBATIM``,
``ADAPTED``, ``BUG``, ``EXPECTED``, optional ``ARGS`` and ``FLAVOR``). The metadata is read
from the source text with ``ast`` (literals only), so listing the corpus imports no
TensorFlow; the factories run only in tfpcheck's probe worker.

A case passes when tfpcheck reports every ``EXPECTED`` code, and, for a correct
configuration (``EXPECTED == ()``), reports no finding of severity ``error`` or ``warning``.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CORPUS_DIR = Path(__file__).resolve().parent
ROOT = CORPUS_DIR.parent.parent
NOT_CASES = frozenset({"report"})
REQUIRED = ("SOURCE", "VERBATIM", "ADAPTED", "BUG", "EXPECTED")
OPTIONAL = ("ARGS", "FLAVOR")
FAMILIES = {
    "0": "0xx loading",
    "1": "1xx shapes",
    "2": "2xx heads",
    "3": "3xx parameters",
    "4": "4xx training signal",
}
CORRECT = "correct"
FAMILY_ORDER = (*FAMILIES.values(), CORRECT)


class CorpusError(Exception):
    """A corpus module whose metadata is missing or not a literal."""


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    source: str
    verbatim: bool
    adapted: str
    bug: str | None
    expected: tuple[str, ...]
    args: tuple[str, ...] = ()
    flavor: str | None = None

    @property
    def reference(self) -> str:
        """The factory reference tfpcheck is given, relative to the repository root."""
        return f"{self.path.relative_to(ROOT).as_posix()}:build"

    @property
    def correct(self) -> bool:
        return not self.expected

    @property
    def family(self) -> str:
        """The rule family of the (first) expected code, or ``correct``."""
        return family_of(self.expected[0]) if self.expected else CORRECT


def family_of(code: str) -> str:
    """``TFP105`` -> ``1xx shapes``."""
    return FAMILIES.get(code[3:4], "other")


def _literals(path: Path) -> dict[str, Any]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    values: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in (*REQUIRED, *OPTIONAL):
            try:
                values[target.id] = ast.literal_eval(value)
            except ValueError as exc:
                raise CorpusError(f"{path.name}: {target.id} is not a literal") from exc
    return values


def read_case(path: Path) -> Case:
    values = _literals(path)
    missing = [name for name in REQUIRED if name not in values]
    if missing:
        raise CorpusError(f"{path.name}: missing {', '.join(missing)}")
    return Case(
        name=path.stem,
        path=path,
        source=values["SOURCE"],
        verbatim=values["VERBATIM"],
        adapted=values["ADAPTED"],
        bug=values["BUG"],
        expected=tuple(values["EXPECTED"]),
        args=tuple(values.get("ARGS", ())),
        flavor=values.get("FLAVOR"),
    )


def discover() -> list[Case]:
    """Every case of the corpus, by name."""
    paths = sorted(CORPUS_DIR.glob("*.py"))
    return [
        read_case(path)
        for path in paths
        if not path.stem.startswith("_") and path.stem not in NOT_CASES
    ]


@dataclass
class Result:
    case: Case
    exit_code: int
    findings: list[dict[str, Any]] = field(default_factory=list)
    file_error: dict[str, Any] | None = None
    crash: str | None = None  # tfpcheck printed no report: its stderr

    @property
    def codes(self) -> list[str]:
        """Every code reported, in report order (a file error's code too)."""
        codes = [finding["code"] for finding in self.findings]
        if self.file_error is not None:
            codes.append(self.file_error["code"])
        return codes

    @property
    def warnings(self) -> list[str]:
        """The codes reported with severity warning: a linter that warns on correct models
        gets uninstalled, so a correct case has none either."""
        return [finding["code"] for finding in self.findings if finding["severity"] == "warning"]

    @property
    def errors(self) -> list[str]:
        """The codes reported with severity error (a file that could not be checked too)."""
        errors = [finding["code"] for finding in self.findings if finding["severity"] == "error"]
        if self.file_error is not None:
            errors.append(self.file_error["code"])
        return errors

    @property
    def found(self) -> list[str]:
        return [code for code in self.case.expected if code in self.codes]

    @property
    def missed(self) -> list[str]:
        return [code for code in self.case.expected if code not in self.codes]

    @property
    def passed(self) -> bool:
        if self.crash is not None:
            return False
        if self.case.correct:
            return not self.errors
        return not self.missed

    def describe(self) -> str:
        """What tfpcheck reported, for a failure message or the report."""
        if self.crash is not None:
            return f"tfpcheck crashed (exit {self.exit_code}): {self.crash}"
        shown = []
        for finding in self.findings:
            shown.append(f"{finding['code']} {finding['severity']}: {finding['message'][:300]}")
        if self.file_error is not None:
            shown.append(f"{self.file_error['code']} (file): {self.file_error['message'][:300]}")
        return "; ".join(shown) if shown else "no findings"


def run(case: Case, extra: Sequence[str] = ()) -> Result:
    """tfpcheck on one case, in this process, as ``tfpcheck --format json --no-cache REF ARGS``."""
    from tfpcheck.cli import main

    argv = ["--format", "json", "--no-cache", "--isolated", case.reference, *case.args, *extra]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        exit_code = main(argv)
    try:
        doc = json.loads(out.getvalue())
    except json.JSONDecodeError:
        return Result(case, exit_code, crash=err.getvalue().strip() or out.getvalue().strip())
    (file_result,) = doc["files"]
    return Result(
        case,
        exit_code,
        findings=list(file_result["findings"]),
        file_error=file_result.get("error"),
    )


@dataclass
class Row:
    family: str
    cases: int = 0
    expected: int = 0
    found: int = 0
    flagged: int = 0  # correct cases with an error finding
    error_findings: int = 0  # error findings on correct cases


def tally(results: Iterable[Result]) -> list[Row]:
    """One row per family present, in family order, then the total."""
    rows: dict[str, Row] = {}
    total = Row("total")
    for result in results:
        case = result.case
        row = rows.setdefault(case.family, Row(case.family))
        for target in (row, total):
            target.cases += 1
            if case.correct:
                errors = len(result.errors) + (1 if result.crash is not None else 0)
                target.flagged += 1 if errors else 0
                target.error_findings += errors
            else:
                target.expected += len(case.expected)
                target.found += len(result.found)
    ordered = [rows[name] for name in FAMILY_ORDER if name in rows]
    ordered += [row for name, row in rows.items() if name not in FAMILY_ORDER]
    return [*ordered, total]


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


def markdown_table(rows: Sequence[Row]) -> str:
    """The recall / false-positive table, as README shows it."""
    correct = next((row for row in rows if row.family == CORRECT), Row(CORRECT))
    lines = [
        "| family | cases | expected codes found | recall | correct cases with an error |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        is_total = row.family == "total"
        if row.family == CORRECT:
            found, recall = "—", "—"
        else:
            found, recall = f"{row.found}/{row.expected}", _percent(row.found, row.expected)
        if row.family == CORRECT or is_total:
            flagged = f"{row.flagged}/{correct.cases} ({row.error_findings} error findings)"
        else:
            flagged = "—"
        name = f"**{row.family}**" if is_total else row.family
        lines.append(f"| {name} | {row.cases} | {found} | {recall} | {flagged} |")
    return "\n".join(lines)
