"""Every notebook runs top to bottom in smoke mode on the tiny weights, and is committed clean."""
import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a notebook, a browser, a server or subprocesses

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
#: says NOT IMPLEMENTED for the stub and PASSED for the solution): from the course's registry.
def _exercises():
    import sys

    sys.path.insert(0, str(HERE.parent))
    from nst_tools import course

    out = {p.stem: [] for p in LEARNER}
    for name, ex in course.EXERCISES.items():
        out[ex.notebook].append(name)
    return out


EXERCISES = _exercises()
VERDICT = re.compile(r"^(PASSED|FAILED|NOT IMPLEMENTED): (\w+)")


def _execute(path, vgg_path, out_dir, monkeypatch, nb=None):
    """Run ``path`` (or ``nb``, a changed copy of it) top to bottom in smoke mode as a learner's Jupyter would; one
    ``(source, text, errors)`` per code cell: what the cell printed (stdout, stderr, a check's verdict) and its
    error outputs."""
    import nbformat
    from nbclient import NotebookClient

    for name, value in [("NST_SMOKE", "1"), ("NST_VGG_PATH", str(vgg_path)), ("NST_OUTPUT_DIR", str(out_dir)),
                        ("MPLBACKEND", "Agg")]:
        monkeypatch.setenv(name, value)
    # As in a learner's Jupyter: no log-level variable, and ipykernel shows what C++ code writes to
    # fd 2 in the notebook (it does not while PYTEST_CURRENT_TEST is set).
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    nb = nbformat.read(path, as_version=4) if nb is None else nb
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return [(cell.source, "".join(_text(o) for o in cell.outputs),
             [f"{o.get('ename')}: {o.get('evalue')}" for o in cell.outputs if o.get("output_type") == "error"])
            for cell in nb.cells if cell.cell_type == "code"]


def _text(output):
    """What an output says as text: a stream's text, a verdict's text/plain (a check shows HTML and text)."""
    if output.get("output_type") == "stream":
        return output.get("text", "")
    if output.get("output_type") == "display_data" and "text/html" in output.get("data", {}):
        return output["data"].get("text/plain", "") + "\n"
    return ""


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


# A learner's answers, written as the assignment teaches them (never the solution cells): the body of each
# exercise, put under the def line of the learner's own stub. The layer style cost uses a helper of its own
# (defined in a cell of its own, as HELPERS) and nst.unroll: both must travel to notebook 05 with it.
ANSWERS = {
    "compute_content_cost": """    m, n_H, n_W, n_C = a_G.get_shape().as_list()
    a_C_unrolled = tf.reshape(a_C, shape=[m, -1, n_C])
    a_G_unrolled = tf.reshape(a_G, shape=[m, -1, n_C])
    return tf.reduce_sum(tf.square(a_C_unrolled - a_G_unrolled)) / (4 * n_H * n_W * n_C)
""",
    "gram_matrix": """    return tf.matmul(A, tf.transpose(A))
""",
    "compute_layer_style_cost": """    m, n_H, n_W, n_C = a_G.get_shape().as_list()
    GS = gram_matrix(unrolled(a_S))
    GG = gram_matrix(nst.unroll(a_G))
    return tf.reduce_sum(tf.square(GS - GG)) / (4 * n_C**2 * (n_H * n_W)**2)
""",
    "compute_style_cost": """    J_style = 0
    for layer_name, coeff in style_layers:
        J_style += coeff * compute_layer_style_cost(a_S[layer_name], a_G[layer_name])
    return J_style
""",
    "total_cost": """    return alpha * J_content + beta * J_style
""",
    "my_train_step": """    with tf.GradientTape() as tape:
        a_G = model(G, LAYERS)
        J = total_cost(compute_content_cost(a_C, a_G[nst.CONTENT_LAYER]), compute_style_cost(a_S, a_G), alpha, beta)
    g = tape.gradient(J, G)
    state["t"] = state["t"] + 1
    t = state["t"]
    state["m"] = beta1 * state["m"] + (1 - beta1) * g
    state["v"] = beta2 * state["v"] + (1 - beta2) * g**2
    G.assign(tf.clip_by_value(G - lr * (state["m"] / (1 - beta1**t)) / (tf.sqrt(state["v"] / (1 - beta2**t)) + eps),
                              LO, HI))
    return J
""",
    "restore_chroma": """    yiq = further.rgb_to_yiq(content)
    yiq[..., 0] = further.rgb_to_yiq(stylised)[..., 0]
    return np.clip(further.yiq_to_rgb(yiq), 0, 255).round().astype(np.uint8)
""",
}
HELPERS = {"compute_layer_style_cost": "def unrolled(a):\n    _, n_H, n_W, n_C = a.shape\n"
                                       "    return tf.transpose(tf.reshape(a, (n_H * n_W, n_C)))\n"}
DEF_LINE = re.compile(r"^def (\w+)\((.*)\):$", re.M)


def _answered(path, answers=ANSWERS, helpers=HELPERS):
    """The learner's notebook ``path`` with each stub's body replaced by ``answers[name]`` under the stub's own
    def line (checked against the signature the registry says the later notebooks call)."""
    import nbformat

    from nst_tools import course

    nb = nbformat.read(path, as_version=4)
    cells = []
    for cell in nb.cells:
        m = DEF_LINE.search(cell.source) if cell.cell_type == "code" else None
        if m and m.group(1) in answers and "None" in cell.source:
            name = m.group(1)
            ex = course.EXERCISES["train_step" if name == "my_train_step" else name]
            assert f"{name}({m.group(2)})" == ex.signature, (name, m.group(2))
            if name in helpers:
                cells.append(nbformat.v4.new_code_cell(helpers[name]))
            cell = nbformat.v4.new_code_cell(m.group(0) + "\n" + answers[name])
        cells.append(cell)
    nb.cells = cells
    return nb


def _verdicts(cells):
    return [(m.group(1), m.group(2), source) for source, text, _ in cells
            for m in map(VERDICT.match, text.splitlines()) if m]


def test_a_learner_who_does_everything_right_passes_every_check_and_paints_with_all_five(tiny_vgg_path, tmp_path,
                                                                                        monkeypatch):
    """The learner's notebooks 01-05 in order, in one output folder, with answers under the stubs' signatures
    (the saved functions are never touched): every exercise's check says PASSED, and 05 says "yours" of all
    five functions and paints with them."""
    saved = tmp_path / "my_functions"
    outputs = {}
    for path in LEARNER[1:6]:
        cells = _execute(path, tiny_vgg_path, tmp_path, monkeypatch, nb=_answered(path))
        assert not [e for _, _, e in cells if e], (path.name, [e for _, _, e in cells if e])
        for verdict, name, source in _verdicts(cells):
            if "deliberate mistake" not in source.lower():
                assert verdict == "PASSED", (path.name, name, [t for _, t, _ in cells if name in t])
        outputs[path.stem] = "".join(text for _, text, _ in cells)
    assert sorted(p.stem for p in saved.glob("*.py")) == sorted(["compute_content_cost", "gram_matrix",
                                                                  "compute_layer_style_cost", "compute_style_cost",
                                                                  "total_cost"])
    assert "def unrolled(a):" in (saved / "compute_layer_style_cost.py").read_text()
    lines = outputs["05_style_transfer"].splitlines()
    for name in ["compute_content_cost", "gram_matrix", "compute_layer_style_cost", "compute_style_cost", "total_cost"]:
        assert f"{name}: yours, from {saved / name}.py (its check passed again), and the painting uses it" in lines, \
            "\n".join(lines[:12])
    assert "PASSED: train_step" in outputs["05_style_transfer"]
    assert "my_train_step has not passed" not in outputs["05_style_transfer"]


WRONG_01 = [  # (the body of compute_content_cost, what the verdict line must start with, a hint it must give)
    ("    J = tf.reduce_sum(tf.square(a_C - a_G)) / (4 * 4 * 4 * 3)\n    return J\n",
     "FAILED: compute_content_cost: the division uses the numbers of the first case", "a_G.shape"),
    ("    _, n_H, n_W, n_C = a_G.shape\n    return np.sum(np.square(a_C - a_G)) / (4 * n_H * n_W * n_C)\n",
     "FAILED: compute_content_cost returns a NumPy number", "inside tf.function"),
    ("    _, n_H, n_W, n_C = a_G.shape\n    return float(tf.reduce_sum(tf.square(a_C - a_G)) / (4 * n_H * n_W * n_C))\n",
     "FAILED: compute_content_cost returns a Python float", "tf.reduce_sum"),
    ("    _, n_H, n_W, n_C = a_G.shape\n    return tf.reduce_sum(tf.square(a_C - a_G)) / (n_H * n_W * n_C)\n",
     "FAILED: compute_content_cost: the factor 1/4 is missing", "course.case_inputs('compute_content_cost', 0)"),
    ("    _, n_H, n_W, n_C = a_G.shape\n    J_content = tf.reduce_sum(tf.square(a_C - a_G)) / (4 * n_H * n_W * n_C)\n",
     "FAILED: compute_content_cost returns nothing", "return J_content"),
    ("    return nst.compute_content_cost(a_C, a_G)\n", "NOT IMPLEMENTED: compute_content_cost only calls the library's",
     "code of your own"),
]


def test_a_learner_who_makes_the_classic_mistakes_reads_why(tiny_vgg_path, tmp_path, monkeypatch):
    """Notebook 01 as a learner plays it: the check run twice on the untouched stub (NOT IMPLEMENTED both times,
    nothing saved), then each classic mistake under the stub's def line, then the library's function handed to
    the check: each verdict and hint as the catalogue says."""
    import nbformat

    path = HERE / "01_content_loss.ipynb"
    nb = nbformat.read(path, as_version=4)
    stub = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "def compute_content_cost" in c.source)
    at = next(i for i, c in enumerate(nb.cells) if i > stub and "course.check_content_cost" in c.source)
    check = nb.cells[at]
    def_line = DEF_LINE.search(nb.cells[stub].source).group(0)
    extra = [nbformat.v4.new_code_cell(check.source)]  # the check again, on the untouched stub
    for body, _, _ in WRONG_01:
        extra += [nbformat.v4.new_code_cell(def_line + "\n" + body), nbformat.v4.new_code_cell(check.source)]
    extra.append(nbformat.v4.new_code_cell("course.check_content_cost(nst.compute_content_cost)"))
    nb.cells = nb.cells[:at + 1] + extra + nb.cells[at + 1:]
    cells = _execute(path, tiny_vgg_path, tmp_path, monkeypatch, nb=nb)
    assert not [e for _, _, e in cells if e]
    texts = [text for source, text, _ in cells if "course.check_content_cost(" in source]
    assert texts[0].startswith("NOT IMPLEMENTED: compute_content_cost") and texts[1].startswith("NOT IMPLEMENTED")
    for text, (_, verdict, hint) in zip(texts[2:], WRONG_01):
        assert text.startswith(verdict) and hint in text, text
    assert texts[len(WRONG_01) + 2].startswith("NOT IMPLEMENTED: compute_content_cost: this is the library's own")
    assert not (tmp_path / "my_functions" / "compute_content_cost.py").exists()


def test_nbgrader_validates_the_solutions_and_fails_the_learners_stubs(tiny_vgg_path, tmp_path, monkeypatch):
    """The build writes nbgrader's metadata (solution cells, locked graded check cells with ids and points);
    nbgrader's own validation passes the solutions' notebook 01 and fails the learner's (its stub)."""
    pytest.importorskip("nbgrader")
    from nbgrader.validator import Validator
    from traitlets.config import Config

    nb = json.loads((HERE / "01_content_loss.ipynb").read_text())
    graded = [c["metadata"]["nbgrader"] for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    assert graded == [{"solution": False, "grade": True, "locked": True, "points": 1,
                       "grade_id": "01_content_loss-check_content_cost", "schema_version": 3}]
    for name, value in [("NST_SMOKE", "1"), ("NST_VGG_PATH", str(tiny_vgg_path)), ("NST_OUTPUT_DIR", str(tmp_path)),
                        ("MPLBACKEND", "Agg")]:
        monkeypatch.setenv(name, value)
    config = Config()
    config.Execute.timeout = 600
    assert Validator(config=config).validate(str(HERE / "solutions" / "01_content_loss.ipynb")) == {}
    failed = Validator(config=config).validate(str(HERE / "01_content_loss.ipynb"))["failed"]
    assert len(failed) == 1 and "course.check_content_cost" in failed[0]["source"]
    assert "NOT IMPLEMENTED" in failed[0]["raw_error"]


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
