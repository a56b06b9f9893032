"""Run the example notebooks in a Jupyter kernel; `--write` stores their outputs in them.

    python examples/execute.py            # run each notebook; fail on an error in a cell
    python examples/execute.py --write    # also write the fresh outputs into the notebooks

The tests run the notebooks through `execute` (tests/test_notebook.py) and check what the
cells print. TensorFlow's start-up messages on stderr say nothing about the example and
differ between machines, so they are left out of the stored outputs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOKS = sorted(HERE.glob("*.ipynb"))


def execute(path: Path, timeout: int = 600) -> Any:
    """The notebook at `path`, run top to bottom in a fresh kernel (the file is not changed)."""
    notebook = nbformat.read(path, as_version=4)
    # the kernel inherits this: TensorFlow's C++ start-up lines are not the example's output
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")
            ]
    return notebook


def main(argv: list[str]) -> int:
    for path in NOTEBOOKS:
        notebook = execute(path)
        if "--write" in argv:
            nbformat.write(notebook, path)
        print(f"{path.name}: ran")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
