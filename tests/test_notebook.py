"""The example notebook runs in a real Jupyter kernel, and says what the README says it does.

The kernel is a process of its own (it imports TensorFlow; this process does not).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest
from conftest import ROOT

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXAMPLES = ROOT / "examples"
NOTEBOOK = EXAMPLES / "broadcast_bug.ipynb"


def _execute_module() -> Any:
    spec = importlib.util.spec_from_file_location("examples_execute", EXAMPLES / "execute.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _texts(cell: Any) -> str:
    parts = []
    for output in cell.outputs:
        assert output.output_type != "error", "".join(output.get("traceback", []))
        if "text" in output:
            parts.append(output.text)
        data = output.get("data", {})
        parts += [data.get("text/plain", ""), data.get("text/html", "")]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def cells() -> list[str]:
    before = NOTEBOOK.read_bytes()
    notebook = _execute_module().execute(NOTEBOOK)
    assert NOTEBOOK.read_bytes() == before  # running it leaves the file alone
    return [_texts(cell) for cell in notebook.cells if cell.cell_type == "code"]


def test_the_report_shows_the_broadcast_in_the_cell_that_has_it(cells: list[str]) -> None:
    report = cells[1]
    assert "<tfpcheck.Report <Sequential" in report and "1 error, 0 warnings" in report
    assert "<td><strong>TFP101</strong><br>loss-broadcasts-across-batch</td>" in report
    # the location names the notebook cell, as IPython's tracebacks do
    assert "<td>function nll, In[2]:4</td>" in report
    assert "at In[2]:3 write `normal = tfd.Normal(loc=y_pred[:, 0:1]" in report
    assert "returns (32, 32)" in report


def test_the_shapes_table_shows_the_n_by_n_log_prob(cells: list[str]) -> None:
    table = cells[2].splitlines()
    assert table[0] == "N = 32, targets (N, 1) (data)"
    row = table[2].split()
    assert row[:4] == ["loss:", "function", "nll,", "In[2]:4"]
    assert "(32,) | ()" in table[2] and table[2].rstrip().endswith("(32, 1)    (32, 32)")


def test_the_fixed_loss_is_clean_and_trains(cells: list[str]) -> None:
    fixed = cells[3]
    assert fixed.startswith("0 errors, 0 warnings, 0 infos in 1 file")
    assert "(32, 1) | ()" in fixed and "TFP" not in fixed
    trained = cells[4]
    assert "0 errors, 0 warnings, 0 infos in 1 file" in trained
    assert "trained: 3 epochs" in trained


def test_the_stored_notebook_has_the_outputs_of_a_run() -> None:
    import nbformat

    stored = nbformat.read(NOTEBOOK, as_version=4)
    texts = [_texts(cell) for cell in stored.cells if cell.cell_type == "code"]
    assert "TFP101" in texts[1] and "trained: 3 epochs" in texts[4]
    assert all("ipykernel_" not in text for text in texts)  # cells named, not temp files
