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


# Notebooks 05 and 07 (the transfer): what their checks print, and 05 painting with the functions saved before.
TRANSFER_EXERCISES = {"05_style_transfer": ["train_step"], "07_going_further": ["restore_chroma"]}

# A learner's functions as notebooks 01-04 save them (course.keep writes the source of each function that
# passed): written in the assignment's style, not copies of the library's code.
LEARNER_SOURCES = {
    "compute_content_cost": '''def compute_content_cost(a_C, a_G):
    m, n_H, n_W, n_C = a_G.get_shape().as_list()
    a_C_unrolled = tf.reshape(a_C, shape=[m, -1, n_C])
    a_G_unrolled = tf.reshape(a_G, shape=[m, -1, n_C])
    return tf.reduce_sum(tf.square(a_C_unrolled - a_G_unrolled)) / (4 * n_H * n_W * n_C)
''',
    "gram_matrix": '''def gram_matrix(A):
    return tf.matmul(A, tf.transpose(A))
''',
    "compute_layer_style_cost": '''def compute_layer_style_cost(a_S, a_G):
    m, n_H, n_W, n_C = a_G.get_shape().as_list()
    a_S = tf.transpose(tf.reshape(a_S, shape=[-1, n_C]))
    a_G = tf.transpose(tf.reshape(a_G, shape=[-1, n_C]))
    return tf.reduce_sum(tf.square(gram_matrix(a_S) - gram_matrix(a_G))) / (4 * n_C**2 * (n_H * n_W)**2)
''',
    "compute_style_cost": '''def compute_style_cost(a_S, a_G, style_layers=None):
    J_style = 0
    for layer_name, coeff in style_layers or [(f"conv{i}_1", 0.2) for i in range(1, 6)]:
        J_style += coeff * compute_layer_style_cost(a_S[layer_name], a_G[layer_name])
    return J_style
''',
    "total_cost": '''def total_cost(J_content, J_style, alpha=10, beta=40):
    return alpha * J_content + beta * J_style
''',
}


def _smoke_stdout(path, tiny_vgg_path, output_dir, monkeypatch):
    """Run one notebook in smoke mode (any error fails the test); the text it printed."""
    import nbformat
    from nbclient import NotebookClient

    for name, value in [("NST_SMOKE", "1"), ("NST_VGG_PATH", str(tiny_vgg_path)),
                        ("NST_OUTPUT_DIR", str(output_dir)), ("MPLBACKEND", "Agg")]:
        monkeypatch.setenv(name, value)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    return "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem in TRANSFER_EXERCISES], ids=_id)
def test_transfer_notebooks_checks_say_not_implemented_or_passed(path, tiny_vgg_path, tmp_path, monkeypatch):
    """Learner: one NOT IMPLEMENTED line per exercise, nothing FAILED. Solution: every check PASSED."""
    lines = _smoke_stdout(path, tiny_vgg_path, tmp_path, monkeypatch).splitlines()
    verdicts = [line for line in lines if line.startswith(("PASSED", "FAILED", "NOT IMPLEMENTED"))]
    missing = [line.split()[2] for line in verdicts if line.startswith("NOT IMPLEMENTED:")]
    assert not [line for line in verdicts if line.startswith("FAILED")], verdicts
    if path.parent.name == "solutions":
        assert missing == [] and verdicts and all(line.startswith("PASSED: ") for line in verdicts)
        assert all(any(line.startswith(f"PASSED: {name} ") for line in verdicts)
                   for name in TRANSFER_EXERCISES[path.stem])
    else:
        assert missing == TRANSFER_EXERCISES[path.stem]


def test_notebook_05_paints_with_the_functions_notebooks_01_to_04_saved(tiny_vgg_path, tmp_path, monkeypatch):
    """Solutions 01-04 that keep their functions run first in one NST_OUTPUT_DIR; the functions they do not
    save (yet) are written there as a learner's would be. 05 then says "yours" for each and runs with them."""
    saved = tmp_path / "my_functions"
    for path in sorted((HERE / "solutions").glob("0[1-4]_*.ipynb")):
        if "course.keep(" in path.read_text():
            _smoke_stdout(path, tiny_vgg_path, tmp_path, monkeypatch)
    saved.mkdir(exist_ok=True)
    for name, source in LEARNER_SOURCES.items():
        if not (saved / f"{name}.py").is_file():
            (saved / f"{name}.py").write_text(source)
    out = _smoke_stdout(HERE / "solutions" / "05_style_transfer.ipynb", tiny_vgg_path, tmp_path, monkeypatch)
    for name in LEARNER_SOURCES:
        assert f"{name}: yours, from {saved / name}.py" in out.splitlines()
    assert "PASSED: train_step" in out
