"""What the notebooks/make_NN_*.py scripts share: collect cells, write the notebook clean and stable.

    nb = Notebook()
    md, code = nb.md, nb.code
    md(r"# Title ...")
    code(r"import nst_utils as nst")
    nb.write("NN_name.ipynb")   # next to this file; no outputs, fixed metadata, cell ids from positions

So running a script twice writes the same bytes, and tests/test_notebooks.py can check that each
committed notebook is exactly what its script writes.
"""
import os
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
METADATA = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"}}


class Notebook:
    """A list of cells in the order they are added."""

    def __init__(self):
        self.cells = []

    def md(self, text):
        """Add a Markdown cell (leading and trailing blank lines dropped)."""
        self.cells.append(new_markdown_cell(text.strip("\n")))

    def code(self, text):
        """Add a code cell (leading and trailing blank lines dropped)."""
        self.cells.append(new_code_cell(text.strip("\n")))

    def build(self):
        """The notebook: fixed metadata, cell ids ``cell-00``, ``cell-01``, ... (stable across runs)."""
        for i, cell in enumerate(self.cells):
            cell["id"] = f"cell-{i:02d}"
        return new_notebook(cells=self.cells, metadata=METADATA)

    def write(self, name) -> Path:
        """Write ``notebooks/<name>`` (or ``$NBMAKE_DIR/<name>``) and print where."""
        path = Path(os.environ.get("NBMAKE_DIR", HERE)) / name
        nbformat.write(self.build(), str(path))
        print(f"wrote {path}")
        return path
