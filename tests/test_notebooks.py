"""Every notebook runs top to bottom in smoke mode on the tiny weights, and is committed clean."""
import json
import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ has no .ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} has stored outputs"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"
    assert nb["cells"][0]["cell_type"] == "markdown" and nb["cells"][0]["source"][0].startswith("# ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_top_to_bottom_in_smoke_mode(path, tiny_vgg_path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("NST_SMOKE", "1")
    monkeypatch.setenv("NST_VGG_PATH", str(tiny_vgg_path))
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # As in a learner's Jupyter: no log-level variable, and ipykernel shows what C++ code writes to
    # fd 2 in the notebook (it does not while PYTEST_CURRENT_TEST is set).
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "absl" not in stderr and "oneDNN" not in stderr, f"TensorFlow start-up lines: {stderr[:300]}"


def test_importing_the_library_prints_nothing_in_a_notebook(monkeypatch):
    """TensorFlow's C++ start-up lines go to fd 2, which a Jupyter kernel shows in the notebook."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    root = Path(__file__).resolve().parents[1]
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)  # else ipykernel does not capture fd 2
    nb = new_notebook(cells=[new_code_cell(f"import sys; sys.path.insert(0, {str(root)!r})\nimport nst_utils")])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    assert nb.cells[0].outputs == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_what_its_script_writes(path, tmp_path):
    """notebooks/make_<name>.py writes the notebook; the committed file must not drift from it."""
    import subprocess
    import sys

    script = path.with_name(f"make_{path.stem}.py")
    assert script.exists(), f"no {script.name}"
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True, cwd=path.parent,
                   env={**os.environ, "NBMAKE_DIR": str(tmp_path)})
    assert (tmp_path / path.name).read_text() == path.read_text(), f"run python notebooks/{script.name}"
