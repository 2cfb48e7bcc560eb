"""Every notebook runs top to bottom in smoke mode on the tiny weights, and is committed clean."""
import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1] / "notebooks"
LEARNER = sorted(HERE.glob("*.ipynb"))
SOLUTIONS = sorted((HERE / "solutions").glob("*.ipynb"))
NOTEBOOKS = LEARNER + SOLUTIONS


def _id(path):
    return f"solutions/{path.name}" if path.parent.name == "solutions" else path.name


def test_there_are_notebooks():
    assert LEARNER, "notebooks/ has no .ipynb"
    assert [p.name for p in SOLUTIONS] == [p.name for p in LEARNER]
    assert [p.stem for p in LEARNER] == sorted(p.stem for p in (HERE / "src").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"cell {i} has stored outputs"
            assert cell.get("execution_count") is None, f"cell {i} has an execution count"
    assert nb["cells"][0]["cell_type"] == "markdown" and nb["cells"][0]["source"][0].startswith("# ")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
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


def test_committed_notebooks_are_what_the_build_writes():
    """notebooks/build.py writes both sets from notebooks/src/; the committed files must not drift from them."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(HERE / "build.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_build_replaces_solutions_with_stubs():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build", HERE / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    cell = ("def f(a):\n    b = 2\n    ### BEGIN SOLUTION\n    c = a * b\n    ### END SOLUTION\n"
            "    ### BEGIN STUB\n    # c = None  # ≈ 1 line\n    ### END STUB\n    return c")
    assert build.solution_version(cell) == "def f(a):\n    b = 2\n    c = a * b\n    return c"
    assert build.learner_version(cell) == "def f(a):\n    b = 2\n    c = None  # ≈ 1 line\n    return c"
    bare = "x = 1\n### BEGIN SOLUTION\ny = x + 1\n### END SOLUTION"
    assert build.learner_version(bare) == "x = 1\n# YOUR CODE HERE\nraise NotImplementedError()"
    assert build.solution_version(bare) == "x = 1\ny = x + 1"


# --- Notebooks 00-02: every exercise is a real one (stubs in the learner's notebook, answers in the
# --- solutions), and each check says so: NOT IMPLEMENTED for a stub, PASSED for a solution.

def _executed_text(path, monkeypatch, vgg_path, out_dir):
    """Run the notebook at ``path`` in smoke mode on the weights at ``vgg_path``.

    Returns one ``(source, text)`` per code cell: ``text`` is what the cell printed (stdout, stderr,
    plain-text results) and, for an error, a line ``ERROR <name>: <value>``.
    """
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("NST_SMOKE", "1")
    monkeypatch.setenv("NST_VGG_PATH", str(vgg_path))
    monkeypatch.setenv("NST_OUTPUT_DIR", str(out_dir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = ""
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                text += o.get("text", "")
            elif o.get("output_type") == "error":
                text += f"ERROR {o.get('ename')}: {o.get('evalue')}\n"
            else:
                text += o.get("data", {}).get("text/plain", "") + "\n"
        cells.append((cell.source, text))
    return cells


CONCEPT_EXERCISES = {"00_setup_and_vgg19": 0, "01_content_loss": 1, "02_gram_matrix": 1}


@pytest.mark.parametrize("version", ["learner", "solution"])
@pytest.mark.parametrize("stem", sorted(CONCEPT_EXERCISES))
def test_concept_notebook_checks_say_not_implemented_or_passed(stem, version, tiny_vgg_path, tmp_path,
                                                                monkeypatch):
    """Learner: one NOT IMPLEMENTED line per exercise. Solution: one PASSED line per check call. Both: a
    check marked "a deliberate mistake" prints FAILED, no other check does, and no cell raises."""
    import re

    path = HERE / f"{stem}.ipynb" if version == "learner" else HERE / "solutions" / f"{stem}.ipynb"
    expected = "NOT IMPLEMENTED:" if version == "learner" else "PASSED:"
    exercises = 0
    for source, text in _executed_text(path, monkeypatch, tiny_vgg_path, tmp_path):
        assert "ERROR " not in text and "Traceback" not in text, f"{path.name}: {source[:80]!r} -> {text[:500]}"
        lines = text.splitlines()
        calls = len(re.findall(r"\bcourse\.check_\w+\(", source))
        failed = sum(line.startswith("FAILED") for line in lines)
        if "deliberate mistake" in source:
            assert failed == calls, f"{path.name}: a deliberate mistake should print FAILED: {text[:300]}"
            continue
        assert failed == 0, f"{path.name}: {text[:300]}"
        assert sum(line.startswith(expected) for line in lines) == calls, f"{path.name}: {text[:300]}"
        if version == "learner":
            assert not any(line.startswith("PASSED") for line in lines), f"{path.name}: a stub passed: {text[:300]}"
        exercises += calls
    assert exercises == CONCEPT_EXERCISES[stem]
