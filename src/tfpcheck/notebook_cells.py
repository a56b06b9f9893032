"""Name notebook cells as IPython's own tracebacks do: `In[3]`, not the file it compiled into.

IPython compiles each cell into a file of its own (`/tmp/ipykernel_4711/2896475121.py`) and
knows which cell each file holds. A model checked in the notebook's process (the Python API)
has findings pointing into those files; they read better, and match the traceback a user
sees beside them, as `In[3]:4`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from tfpcheck.findings import FileResult, Where


def cell_label(path: str) -> str | None:
    """'In[3]' when IPython, running in this process, compiled a cell into `path`."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        shell = ipython.get_ipython()
        named = shell.compile.format_code_name(path) if shell is not None else None
    except Exception:  # another IPython, or none: paths stay as they are
        return None
    return str(named[1]) if named else None


def name_cells(result: FileResult) -> FileResult:
    """The result with every file IPython compiled a cell into named as that cell."""
    files = {f.where.file for f in result.findings if f.where.file}
    files |= {row.where.file for table in result.shapes for row in table.rows if row.where.file}
    labels = {path: label for path in files if (label := cell_label(path)) is not None}
    if not labels:
        return result
    pattern = re.compile("|".join(re.escape(path) for path in sorted(labels, key=len)[::-1]))

    def text(value: str) -> str:
        return pattern.sub(lambda m: labels[m.group(0)], value)

    def where(w: Where) -> Where:
        return replace(w, file=labels.get(w.file, w.file)) if w.file else w

    def evidence(values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: text(v) if isinstance(v, str) else v for k, v in values.items()}

    findings = tuple(
        replace(
            f,
            message=text(f.message),
            fix=text(f.fix),
            where=where(f.where),
            evidence=evidence(f.evidence),
        )
        for f in result.findings
    )
    shapes = tuple(
        replace(
            table,
            rows=tuple(replace(row, where=where(row.where)) for row in table.rows),
            loss=replace(table.loss, label=text(table.loss.label)) if table.loss else None,
        )
        for table in result.shapes
    )
    return replace(
        result, findings=findings, shapes=shapes, notes=tuple(text(n) for n in result.notes)
    )
