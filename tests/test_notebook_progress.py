"""Every notebook cell that runs an optimisation shows how far it is: a progress bar with the time left
(``course.progress``, tqdm.auto) or a live preview (a ``callback=``), unless it runs only a few iterations.
Read from the notebooks' sources (notebooks/src/*.py, jupytext percent cells), so it runs nothing."""
import re
from pathlib import Path

import pytest

SOURCES = sorted((Path(__file__).resolve().parents[1] / "notebooks" / "src").glob("[0-9][0-9]_*.py"))
RUNS = re.compile(r"\b(run_transfer|run_style_transfer|stylize)\(")           # an optimisation
SHOWS = re.compile(r"course\.progress\(|callback=|reconstruct_(content|style)\(")  # reconstruct_*: a bar of its own
SHORT = re.compile(r"iterations=10\b|\"iterations\": 1\}")                     # a few seconds at real settings


def code_cells(path):
    """The code cells of a percent-format source: the text after each ``# %%`` line that is not markdown."""
    cells = re.split(r"^# %%.*$", path.read_text(), flags=re.M)
    markers = re.findall(r"^# %%.*$", path.read_text(), flags=re.M)
    return [cell for marker, cell in zip(markers, cells[1:]) if "[markdown]" not in marker]


def test_there_are_sources():
    assert len(SOURCES) == 8


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.stem)
def test_every_cell_that_optimises_shows_its_progress(path):
    silent = [cell.strip().splitlines()[0] for cell in code_cells(path)
              if RUNS.search(cell) and not SHOWS.search(cell) and not SHORT.search(cell)]
    assert not silent, f"{path.name}: cells that optimise without a progress bar or a live preview: {silent}"
