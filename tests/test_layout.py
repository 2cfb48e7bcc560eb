"""The project's shape: a short core a learner reads, a toolbox beside it, dependencies pointing one way."""
import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "nst_utils.py"
TOOLS = sorted((ROOT / "nst_tools").glob("*.py"))
#: The course's ceiling for the core (issue: at most 700 lines); the loop of notebook 05 within LOOP_BUDGET.
CORE_BUDGET, LOOP_BUDGET = 700, 160
#: Modules the core must not import at module level: they belong to the CLI, the download, the lab, previews.
FORBIDDEN = {"argparse", "urllib", "http", "hashlib", "ipywidgets", "threading", "subprocess", "matplotlib",
             "nst_tools", "IPython", "tqdm", "imageio", "h5py"}


def module_level_imports(path):
    """Top-level module names imported outside any function or class body (with/if/try blocks included)."""
    found = set()

    def visit(nodes):
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or \
                    isinstance(node, ast.If) and "__name__" in ast.dump(node.test):  # the __main__ hand-over
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                found.add(node.module)
            for field in ("body", "orelse", "finalbody", "handlers"):
                visit(getattr(node, field, []) or [])

    visit(ast.parse(path.read_text()).body)
    return found


def all_imports(path):
    """Every module a file imports, at any depth (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_core_stays_within_its_budget():
    lines = len(CORE.read_text().splitlines())
    assert lines <= CORE_BUDGET, f"nst_utils.py has {lines} lines: move what is not the course's core to nst_tools/"


def test_the_core_imports_no_ui_cli_network_or_toolbox_module_at_module_level():
    roots = {name.split(".")[0] for name in module_level_imports(CORE)}
    assert not roots & FORBIDDEN, f"nst_utils.py imports {sorted(roots & FORBIDDEN)} at module level"


def test_the_checker_sees_a_forbidden_import(tmp_path):
    """The two tests above would catch a regression: a stray import at module level, even inside a block."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nif True:\n    import argparse\ntry:\n    from nst_tools import cli\nexcept ImportError:\n"
                   "    pass\ndef f():\n    import matplotlib\n")
    assert module_level_imports(bad) == {"os", "argparse", "nst_tools"}


def reached_lines(path, start="run_style_transfer"):
    """{name: lines} of every top-level definition of ``path`` that ``start`` reaches by name, at any depth, but
    those of the sections "Constants", "Losses" and "Images" (``# --- Section ---`` lines open a section)."""
    source = path.read_text()
    lines, tree, defs = source.splitlines(), ast.parse(source), {}
    for node in tree.body:
        names = [node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else \
            [n.id for t in getattr(node, "targets", []) for n in ast.walk(t) if isinstance(n, ast.Name)]
        defs.update(dict.fromkeys(names, node))
    section = lambda node: next((lines[i][6:].split(" -")[0] for i in range(node.lineno - 1, -1, -1)
                                 if lines[i].startswith("# --- ")), "")
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen and name in defs:
            seen.add(name)
            todo += [n.id for n in ast.walk(defs[name]) if isinstance(n, ast.Name)]
    first = lambda node: min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
    return {n: defs[n].end_lineno - first(defs[n]) + 1 for n in seen
            if section(defs[n]).split(":")[0] not in ("Constants", "Losses", "Images")}


def test_the_loop_of_notebook_05_reads_in_160_lines():
    reached = reached_lines(CORE)
    assert {"adam", "follow", "make_cost_function", "Settings", "run_style_transfer"} <= set(reached)
    assert sum(reached.values()) <= LOOP_BUDGET, f"run_style_transfer reaches {sum(reached.values())} lines: {reached}"


def test_the_loop_counter_counts_what_is_reached(tmp_path):
    core = tmp_path / "core.py"
    core.write_text("# --- Losses ---\ndef loss(x):\n    return x\n\n\n# --- Loop ---\nclass Box:\n    pass\n\n\n"
                    "def helper(x):\n    return Box(loss(x))\n\n\ndef unused():\n    pass\n\n\n"
                    "def run_style_transfer(x):\n    y = helper(x)\n    return y\n")
    assert reached_lines(core) == {"Box": 2, "helper": 2, "run_style_transfer": 3}


def test_a_learner_meets_the_content_cost_in_the_first_screenfuls():
    lines = CORE.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("def "))
    assert lines.index("def compute_content_cost(a_C, a_G):") < 120
    assert max(i for i, line in enumerate(lines) if line.startswith("def total_variation_cost")) < 150  # losses first
    order = [re.match(r"def (\w+)", line).group(1) for line in lines[first:] if line.startswith("def ")]
    taught = ["compute_content_cost", "gram_matrix", "compute_layer_style_cost", "compute_style_cost", "total_cost",
              "load_vgg_model", "load_image", "make_cost_function", "adam", "follow", "run_style_transfer"]
    assert [name for name in order if name in taught] == taught


def _outside_main_guard(path):
    """``all_imports`` of ``path`` less what its ``if __name__ == "__main__":`` block imports."""
    tree = ast.parse(path.read_text())
    guard = {id(n) for node in tree.body if isinstance(node, ast.If) and "__name__" in ast.dump(node.test)
             for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in guard:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module)
    return found


def _toolbox_graph():
    """{module: modules it imports at any depth}, the core ("nst_utils") included."""
    graph = {"nst_utils": {n.split(".")[1] if "." in n else n for n in _outside_main_guard(CORE)
                           if n.split(".")[0] == "nst_tools"}}
    for path in TOOLS:
        deps = set()
        for name in all_imports(path):
            parts = name.split(".")
            if parts[0] == "nst_tools" and len(parts) > 1 and (ROOT / "nst_tools" / f"{parts[1]}.py").exists():
                deps.add(parts[1])
            if parts[0] == "nst_utils":
                deps.add("nst_utils")
        graph[path.stem] = deps - {path.stem}
    return graph


def _cycle(graph):
    """A cycle in ``graph`` {node: deps} as a list of nodes, or None."""
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                return stack[stack.index(dep):] + [dep] if dep in stack else [node, dep]
            if dep not in state:
                found = visit(dep, stack + [dep])
                if found:
                    return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def test_the_core_stands_alone_at_any_depth():
    """nst_utils imports nothing of nst_tools, even inside a function (only its __main__ hand-over may)."""
    assert _toolbox_graph()["nst_utils"] == set(), f"the core imports {_toolbox_graph()['nst_utils']}"


def test_the_guard_finder_sees_a_function_level_import(tmp_path):
    bad = tmp_path / "core.py"
    bad.write_text("def f():\n    from nst_tools import fast\nif __name__ == '__main__':\n    from nst_tools import cli\n")
    assert _outside_main_guard(bad) == {"nst_tools"}


def test_started_as_a_script_the_core_runs_once():
    """python3 nst_utils.py ...: the hand-over comes before anything is defined (or TensorFlow imported) and
    exits, so the file's body runs once, as the module ``nst_utils`` the command line imports."""
    body = ast.parse(CORE.read_text()).body
    guard = next(i for i, node in enumerate(body) if isinstance(node, ast.If) and "__name__" in ast.dump(node.test))
    assert not any(isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Assign, ast.With)) for node in body[:guard])
    assert "sys.exit" in ast.unparse(body[guard])
    import subprocess

    done = subprocess.run([sys.executable, "-X", "importtime", str(CORE), "stylize", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: nst_utils.py stylize")
    imported = [line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert imported.count("nst_utils") == 1 and "nst_tools.cli" in imported


def test_no_import_cycle_among_the_toolbox_modules():
    assert _cycle(_toolbox_graph()) is None, f"import cycle: {' -> '.join(_cycle(_toolbox_graph()))}"


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_toolbox_never_needs_the_core_to_import_it_first():
    for path in TOOLS:  # and the toolbox never needs the core to import it first
        assert "nst_tools" not in {n.split(".")[0] for n in module_level_imports(path) if n == "nst_tools"}


def test_the_package_init_re_exports_nothing():
    tree = ast.parse((ROOT / "nst_tools" / "__init__.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _requirement_names(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        name = re.match(r"[A-Za-z0-9_.\-]+", line).group(0).lower().replace("_", "-")
        out.setdefault(name, set()).add(re.sub(r"\s+", "", line))
    return out


def test_pyproject_dependencies_match_requirements_txt():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _requirement_names(project["dependencies"])
    required = _requirement_names((ROOT / "requirements.txt").read_text().splitlines())
    norm = lambda d: {k: {s.replace("'", '"') for s in v} for k, v in d.items()}  # noqa: E731
    assert norm(declared) == norm(required)
    assert project["scripts"]["nst"] == "nst_tools.console:main"  # tests/test_install.py runs it
    assert (ROOT / "LICENSE").is_file()


def test_python3_nst_utils_py_delegates_to_the_cli():
    import subprocess

    done = subprocess.run([sys.executable, str(CORE), "stylize", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: nst_utils.py stylize")
    assert "--preserve-colors" in done.stdout  # the whole CLI, from nst_tools.cli


def test_every_test_the_quick_loop_leaves_out_exists():
    """A renamed test would silently rejoin the quick loop: each name in conftest's lists must be there."""
    from conftest import SLOW_FILES, SLOW_TESTS

    assert not [f for f in SLOW_FILES if not (ROOT / "tests" / f).is_file()]
    for name, tests in SLOW_TESTS.items():
        text = (ROOT / "tests" / name).read_text()
        assert not [t for t in tests if f"def {t}(" not in text], name
