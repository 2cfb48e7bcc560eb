"""Every notebook runs top to bottom in smoke mode on the tiny weights, and is committed clean."""
import json
import re
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


#: The exercises of each notebook, as its checks name them (the learner writes these; each check after one
#: says NOT IMPLEMENTED for the stub and PASSED for the solution).
EXERCISES = {"00_setup_and_vgg19": [], "01_content_loss": ["compute_content_cost"], "02_gram_matrix": ["gram_matrix"],
             "03_style_loss": ["compute_layer_style_cost", "compute_style_cost"], "04_total_loss": ["total_cost"],
             "05_style_transfer": ["train_step"], "06_lab": [], "07_going_further": ["restore_chroma"]}
VERDICT = re.compile(r"^(PASSED|FAILED|NOT IMPLEMENTED): (\w+)")


def _execute(path, vgg_path, out_dir, monkeypatch):
    """Run ``path`` top to bottom in smoke mode as a learner's Jupyter would; one ``(source, text, errors)`` per
    code cell: what the cell printed (stdout, stderr) and its error outputs."""
    import nbformat
    from nbclient import NotebookClient

    for name, value in [("NST_SMOKE", "1"), ("NST_VGG_PATH", str(vgg_path)), ("NST_OUTPUT_DIR", str(out_dir)),
                        ("MPLBACKEND", "Agg")]:
        monkeypatch.setenv(name, value)
    # As in a learner's Jupyter: no log-level variable, and ipykernel shows what C++ code writes to
    # fd 2 in the notebook (it does not while PYTEST_CURRENT_TEST is set).
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return [(cell.source, "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream"),
             [f"{o.get('ename')}: {o.get('evalue')}" for o in cell.outputs if o.get("output_type") == "error"])
            for cell in nb.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_runs_top_to_bottom_in_smoke_mode_and_its_checks_say_the_right_thing(path, tiny_vgg_path, tmp_path,
                                                                               monkeypatch):
    """No error and no TensorFlow start-up line in any cell. Each check prints one verdict line: in the learner's
    notebook NOT IMPLEMENTED (the stub) for every exercise, never PASSED; in the solutions PASSED for every one;
    a check in a cell that calls itself a deliberate mistake prints FAILED in both; a check of the library's
    own behaviour (notebook 07's report) prints PASSED in both. The exercises checked are exactly
    EXERCISES[notebook]."""
    solution = path.parent.name == "solutions"
    checked = []
    for source, text, errors in _execute(path, tiny_vgg_path, tmp_path, monkeypatch):
        assert not errors, f"{_id(path)}: {source[:80]!r} raised {errors}"
        assert "absl" not in text and "oneDNN" not in text, f"TensorFlow start-up lines: {text[:300]}"
        verdicts = [m.groups() for m in map(VERDICT.match, text.splitlines()) if m]
        exercise_checks = len(re.findall(r"\bcourse\.check_\w+\(", source))
        library_checks = len(re.findall(r"^report\(", source, re.M))  # notebook 07's checks of the library
        assert len(verdicts) == exercise_checks + library_checks, (source[:200], text[:500])
        for verdict, name in verdicts:
            if "deliberate mistake" in source.lower():
                assert verdict == "FAILED", (name, text[:300])
            elif not exercise_checks:
                assert verdict == "PASSED", (_id(path), name, text[:300])
            else:
                assert verdict == ("PASSED" if solution else "NOT IMPLEMENTED"), (_id(path), name, text[:300])
                checked.append(name)
    assert checked == EXERCISES[path.stem]


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


def test_notebook_05_paints_with_the_functions_notebooks_01_to_04_saved(tiny_vgg_path, tmp_path, monkeypatch):
    """Solutions 01-04 run first in one NST_OUTPUT_DIR and each keeps the functions it checked; replaced by a
    learner's versions (written in the assignment's style), 05 says "yours" for each and runs with them."""
    saved = tmp_path / "my_functions"
    for path in sorted((HERE / "solutions").glob("0[1-4]_*.ipynb")):
        _execute(path, tiny_vgg_path, tmp_path, monkeypatch)
    assert sorted(p.stem for p in saved.glob("*.py")) == sorted(LEARNER_SOURCES)  # each solution kept its own
    for name, source in LEARNER_SOURCES.items():  # now a learner's, in the assignment's style
        (saved / f"{name}.py").write_text(source)
    cells = _execute(HERE / "solutions" / "05_style_transfer.ipynb", tiny_vgg_path, tmp_path, monkeypatch)
    out = "".join(text for _, text, _ in cells)
    assert not [errors for _, _, errors in cells if errors]
    for name in LEARNER_SOURCES:
        assert f"{name}: yours, from {saved / name}.py" in out.splitlines()
    assert "PASSED: train_step" in out


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
