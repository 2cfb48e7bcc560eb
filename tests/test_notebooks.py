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


# Notebooks 03 and 04: their exercises are real (stubs in the learner's copy, answers in the solutions).
STYLE_EXERCISES = {"03_style_loss": ["compute_layer_style_cost", "compute_style_cost"],
                   "04_total_loss": ["total_cost"]}


@pytest.mark.parametrize("path", [HERE / f"{n}.ipynb" for n in STYLE_EXERCISES]
                         + [HERE / "solutions" / f"{n}.ipynb" for n in STYLE_EXERCISES], ids=_id)
def test_style_and_total_cost_exercises(path, tiny_vgg_path, tmp_path, monkeypatch):
    """The learner's 03/04 run with their stubs and say NOT IMPLEMENTED once per exercise (no FAILED from an
    exercise, no error); the solutions print PASSED at every exercise's check. A check on another function
    is a deliberate-mistake demo: it must say FAILED in both."""
    import re

    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("NST_SMOKE", "1")
    monkeypatch.setenv("NST_VGG_PATH", str(tiny_vgg_path))
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    exercises = STYLE_EXERCISES[path.stem]
    solution = path.parent.name == "solutions"
    checked = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert not [o for o in cell.outputs if o.get("output_type") == "error"], cell.source[:200]
        lines = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout").splitlines()
        for fn in re.findall(r"course\.check_\w+\((\w+)", cell.source):
            verdicts = [line.split(":")[0] for line in lines if re.match(r"(PASSED|FAILED|NOT IMPLEMENTED):", line)]
            if fn in exercises:
                checked.append(fn)
                assert verdicts == ["PASSED" if solution else "NOT IMPLEMENTED"], (fn, lines)
            else:
                assert verdicts == ["FAILED"], (fn, lines)  # a labelled deliberate mistake
    assert checked == exercises
    saved = sorted(p.stem for p in (tmp_path / "my_functions").glob("*.py"))
    assert saved == (sorted(exercises) if solution else [])


SLIDER_CELL = """import sys; sys.path.insert(0, {root!r})
import matplotlib.pyplot as plt
from nst_tools import course

def draw(k):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, k])
    return fig

slider = course.figure_slider(draw, [1, 2, 3], value=2, description="k")"""


def test_figure_slider_does_not_make_nbclient_talk_on_the_shell_channel(monkeypatch):
    """Headless runs hung in notebook 04's ``interact`` cell: nbclient answers an Output widget's output with a
    comm_msg sent on the shell channel while it waits there for the cell's reply, and the reply can then
    go unseen. course.figure_slider shows its figure as a plain PNG output: nbclient must send nothing
    but the execute_request while the cell runs, and the figure must be in the cell's outputs."""
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    monkeypatch.delenv("MPLBACKEND", raising=False)  # the inline backend, as in Jupyter
    root = str(Path(__file__).resolve().parents[1])
    nb = new_notebook(cells=[new_code_cell(SLIDER_CELL.format(root=root))])
    client = NotebookClient(nb, timeout=300, kernel_name="python3")
    sent = []
    with client.setup_kernel():
        send = client.kc.shell_channel.send

        def recording_send(msg):
            sent.append(msg["header"]["msg_type"])
            return send(msg)

        client.kc.shell_channel.send = recording_send
        client.execute_cell(nb.cells[0], 0)
    assert sent == ["execute_request"]
    outputs = nb.cells[0].outputs
    assert [o for o in outputs if "image/png" in o.get("data", {})], outputs
    assert not [o for o in outputs if o.get("output_type") == "error"]
