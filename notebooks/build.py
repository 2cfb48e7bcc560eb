#!/usr/bin/env python3
"""Build the course's notebooks from their sources: ``python3 notebooks/build.py``.

Each source ``notebooks/src/NN_name.py`` (jupytext's percent format: ``# %%`` code cells,
``# %% [markdown]`` text cells) gives two notebooks, with no outputs and stable cell ids:

* ``notebooks/NN_name.ipynb``, the learner's: each solution replaced by its stub;
* ``notebooks/solutions/NN_name.ipynb``, the instructor's: the solutions in, the markers out.

Solutions are marked as nbgrader marks them; an optional stub follows, commented out so that the
source runs as the solution::

    ### BEGIN SOLUTION
    J_content = tf.reduce_sum(tf.square(a_C - a_G)) / (4 * n_H * n_W * n_C)
    ### END SOLUTION
    ### BEGIN STUB
    # J_content = None  # ≈ 1 line
    ### END STUB

Without a stub the learner gets ``# YOUR CODE HERE`` and ``raise NotImplementedError()``.
``--check`` builds into a temporary folder and exits 1 if a committed notebook differs.

Both versions carry nbgrader's cell metadata, so that a teacher can grade them: a cell with a solution is
a solution cell (``grade_id`` the name of the function it defines); a cell that checks an exercise
(``course.check_...(name)`` of a function named as the exercise, not a deliberate mistake) is a read-only
graded cell worth ``POINTS`` (under nbgrader a check that does not pass raises, so the cell fails).
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"
METADATA = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"}}
POINTS = 1
CHECK = re.compile(r"^[^#\n]*\bcourse\.check_(\w+)\((\w+)", re.M)
DEF = re.compile(r"^def (\w+)\(", re.M)
BLOCK = re.compile(r"^([ \t]*)### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*\n"
                   r"(?:^[ \t]*### BEGIN STUB[ \t]*\n(.*?)^[ \t]*### END STUB[ \t]*(?:\n|\Z))?",
                   re.M | re.S)


def _uncomment(line: str) -> str:
    """``    # x = None`` -> ``    x = None`` (the first "# " after the indentation)."""
    return re.sub(r"^([ \t]*)# ?", r"\1", line, count=1)


def solution_version(source: str) -> str:
    """The cell as the instructor sees it: solution lines kept, markers and stubs dropped."""
    return BLOCK.sub(lambda m: m.group(2), source if source.endswith("\n") else source + "\n").rstrip("\n")


def learner_version(source: str) -> str:
    """The cell as the learner sees it: each solution replaced by its stub (or NotImplementedError)."""
    def stub(m):
        indent, given = m.group(1), m.group(3)
        if given is not None:
            return "".join(_uncomment(line) for line in given.splitlines(keepends=True))
        return f"{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError()\n"

    return BLOCK.sub(stub, source if source.endswith("\n") else source + "\n").rstrip("\n")


def nbgrader_metadata(source: str, stem: str) -> dict | None:
    """nbgrader's metadata for a code cell of ``source`` (the cell as written, with its markers), or None."""
    if "### BEGIN SOLUTION" in source:
        name = (DEF.findall(source) or ["solution"])[0]
        return {"solution": True, "grade": False, "locked": False, "grade_id": f"{stem}-{name}",
                "schema_version": 3}
    checks = [(check, fn) for check, fn in CHECK.findall(source) if "deliberate mistake" not in source.lower()]
    if checks:
        check, fn = checks[0]
        return {"solution": False, "grade": True, "locked": True, "points": POINTS,
                "grade_id": f"{stem}-check_{check}", "schema_version": 3}
    return None


def build(source: Path, out_dir: Path) -> list[Path]:
    """Write the learner's and the instructor's notebook of ``source`` under ``out_dir``; their paths."""
    import jupytext
    import nbformat

    text = source.read_text()
    if text.count("### BEGIN SOLUTION") != text.count("### END SOLUTION"):
        raise SystemExit(f"{source}: unbalanced ### BEGIN SOLUTION / ### END SOLUTION markers")
    written = []
    for version, folder in ((learner_version, out_dir), (solution_version, out_dir / "solutions")):
        nb = jupytext.reads(text, fmt="py:percent")
        cells = []
        for i, cell in enumerate(nb.cells):
            body = version(cell.source) if cell.cell_type == "code" else cell.source
            new = (nbformat.v4.new_code_cell(body) if cell.cell_type == "code"
                   else nbformat.v4.new_markdown_cell(body))
            new["id"] = f"cell-{i:02d}"
            grading = nbgrader_metadata(cell.source, source.stem) if cell.cell_type == "code" else None
            if grading is not None:
                new["metadata"]["nbgrader"] = grading
            cells.append(new)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{source.stem}.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=METADATA), str(path))
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed notebook is out of date")
    args = parser.parse_args(argv)
    sources = sorted(SOURCES.glob("[0-9][0-9]_*.py"))
    if not args.check:
        for source in sources:
            for path in build(source, HERE):
                print(f"wrote {path.relative_to(HERE.parent)}")
        return 0
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        for source in sources:
            for path in build(source, Path(tmp)):
                committed = HERE / path.relative_to(tmp)
                if not committed.is_file() or committed.read_text() != path.read_text():
                    stale.append(str(committed.relative_to(HERE.parent)))
    for name in stale:
        print(f"out of date: {name} (run python3 notebooks/build.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
