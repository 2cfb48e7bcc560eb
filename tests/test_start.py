"""``python3 nst_utils.py start`` (nst_tools/start.py): Jupyter opens whatever the download does, the missing-weights
message gives every way to the weights, and a learner's whole session leaves nothing for git to see."""
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nst_utils as nst
from nst_tools import cli, start

pytestmark = pytest.mark.slow  # a notebook, a browser, a server or subprocesses

ROOT = Path(__file__).resolve().parents[1]
#: What the missing-weights message must name: both downloads with their sizes, the Kaggle mirror, --weights and
#: NST_VGG_PATH, commands with python3.
EVERY_WAY = ["`python3 nst_utils.py download-weights` (imagenet-vgg-verydeep-19.mat, 535 MB)",
             "`python3 nst_utils.py download-weights --source keras` (Keras's VGG19 .h5, 80 MB)",
             "Kaggle", "`--weights PATH`", "`NST_VGG_PATH=PATH`"]


def words(text):
    return " ".join(text.split())


def test_the_weights_help_names_every_way():
    for way in EVERY_WAY:
        assert way in nst.WEIGHTS_HELP
    assert "python nst_utils" not in nst.WEIGHTS_HELP and "\n" not in nst.WEIGHTS_HELP


def test_the_library_and_the_cli_say_it_when_the_weights_are_missing(tmp_path, run_main):
    missing = tmp_path / "none.mat"
    with pytest.raises(nst.NSTError) as err:
        nst.load_vgg_model(missing)
    command = f"; to download it to that path: python3 nst_utils.py download-weights --output {missing}"
    assert str(err.value) == f"VGG weights not found at {missing}; {nst.WEIGHTS_HELP}{command}"
    img = tmp_path / "c.png"
    from PIL import Image

    Image.new("RGB", (16, 16), "red").save(img)
    code, lines = run_main(["stylize", img, img, "-o", tmp_path / "o.png", "--weights", missing])
    assert code == 1 and len(lines) == 1 and lines[0].endswith(nst.WEIGHTS_HELP + command)


def test_notebook_00_says_it_when_the_weights_are_missing(tmp_path, monkeypatch, capsys):
    """The learner notebook's weights cell, run as it is with NST_VGG_PATH naming a missing file."""
    nb = json.loads((ROOT / "notebooks" / "00_setup_and_vgg19.ipynb").read_text())
    cell = next("".join(c["source"]) for c in nb["cells"]
                if c["cell_type"] == "code" and "resolve_weights_path()" in "".join(c["source"]))
    monkeypatch.setenv("NST_VGG_PATH", str(tmp_path / "none.mat"))
    exec(cell, {"nst": nst})
    said = words(capsys.readouterr().out)
    assert said.startswith(f"No VGG weights at {tmp_path / 'none.mat'}")
    assert words(nst.WEIGHTS_HELP) in said


def test_one_python_range_stated_once(tmp_path):
    """pyproject.toml's requires-python is the range; the README's set-up and notebook 00 say that range, in the
    same words, and nothing else claims another; the Python running the tests is inside it."""
    text = (ROOT / "pyproject.toml").read_text()
    low, high = re.search(r'requires-python = ">=3\.(\d+),<3\.(\d+)"', text).groups()
    stated = f"Python 3.{low} to 3.{int(high) - 1}"
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set up and run", 1)[1].split("\n## ", 1)[0]
    notebook = (ROOT / "notebooks" / "src" / "00_setup_and_vgg19.py").read_text()
    assert stated in setup and stated in notebook
    for name, body in [("README.md", readme), ("notebook 00", notebook)]:
        assert body.count(stated) == 1, f"{name} states the range {body.count(stated)} times"
        claims = re.findall(r"Python 3\.\d+(?: or newer|\+| to 3\.\d+| or later)", body)
        assert claims == [stated], f"{name}: {claims}"
    assert (3, int(low)) <= sys.version_info[:2] < (3, int(high))


# --- the weights step ----------------------------------------------------------------------------------------

@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    """No weights anywhere start looks: NST_VGG_PATH unset, the default file missing."""
    monkeypatch.delenv("NST_VGG_PATH", raising=False)
    missing = tmp_path / "pretrained-model" / "imagenet-vgg-verydeep-19.mat"
    monkeypatch.setattr(start, "resolve_weights_path", lambda: missing)
    return missing


def never(*_args):
    raise AssertionError("no download was expected")


def test_found_weights_are_not_downloaded(tiny_vgg_path, monkeypatch):
    monkeypatch.setenv("NST_VGG_PATH", str(tiny_vgg_path))
    said = []
    assert start.ensure_weights(fetch=never, say=said.append) == tiny_vgg_path
    assert said == [f"weights: {tiny_vgg_path}"]


@pytest.mark.parametrize("failure", [nst.NSTError("download failed: cannot reach the server"), KeyboardInterrupt(),
                                     OSError(28, "No space left on device")], ids=["nsterror", "ctrl-c", "oserror"])
def test_a_failed_download_says_every_way_and_goes_on(no_weights, failure):
    def fetch():
        raise failure

    said = []
    assert start.ensure_weights(fetch=fetch, say=said.append) is None
    assert len(said) == 2 and said[0].startswith(f"no VGG weights at {no_weights}: downloading")
    assert said[1].startswith(f"No VGG weights at {no_weights} (") and nst.WEIGHTS_HELP in said[1]
    assert "The course opens anyway" in said[1]


def test_a_download_that_works_gives_its_file(no_weights):
    assert start.ensure_weights(fetch=lambda: no_weights, say=lambda _: None) == no_weights


def test_no_download_and_a_wrong_nst_vgg_path_fetch_nothing(no_weights, monkeypatch):
    said = []
    assert start.ensure_weights(download=False, fetch=never, say=said.append) is None
    assert "--no-download" in said[0] and nst.WEIGHTS_HELP in said[0]
    monkeypatch.setenv("NST_VGG_PATH", str(no_weights))
    said.clear()
    assert start.ensure_weights(fetch=never, say=said.append) is None
    assert "NST_VGG_PATH" in said[0].split(")")[0] and nst.WEIGHTS_HELP in said[0]


# --- the learner's copies ------------------------------------------------------------------------------------

def fake_course(folder):
    (folder / "figures").mkdir(parents=True)
    (folder / "solutions").mkdir()
    for name in ("00_a.ipynb", "01_b.ipynb", "solutions/01_b.ipynb"):
        (folder / name).write_text(json.dumps({"cells": [], "name": name}))
    (folder / "figures" / "x.png").write_bytes(b"x1")
    return folder


def test_the_copies_never_overwrite_a_learners_work(tmp_path):
    source, dest = fake_course(tmp_path / "notebooks"), tmp_path / "course"
    said = []
    assert [p.name for p in start.make_course(dest, source, said.append)] == ["00_a.ipynb", "01_b.ipynb"]
    assert sorted(p.name for p in dest.iterdir()) == ["00_a.ipynb", "01_b.ipynb", "figures"]  # no solutions
    assert said[0] == f"added to {dest}/: 00_a.ipynb, 01_b.ipynb" and "1 figure" in said[1]
    (dest / "01_b.ipynb").write_text("my answers")
    (dest / "00_a.ipynb").unlink()
    (source / "figures" / "x.png").write_bytes(b"x2")  # a figure rendered again
    said.clear()
    assert [p.name for p in start.make_course(dest, source, said.append)] == ["00_a.ipynb"]
    assert (dest / "01_b.ipynb").read_text() == "my answers"
    assert (dest / "figures" / "x.png").read_bytes() == b"x2"
    assert said[1].startswith(f"kept your 1 notebook(s) already in {dest}/ (never overwritten")
    said.clear()
    start.make_course(dest, source, said.append)
    assert not [s for s in said if "figure" in s or "added" in s]  # nothing new, nothing said about it


@pytest.mark.parametrize("port", ["x", "0", "70000", "-5"])
def test_a_bad_port_is_one_line(run_main, port):
    code, lines = run_main(["start", "--port", port])
    assert code == 2 and len(lines) == 1 and lines[0].startswith("nst_utils.py start: error: argument --port: ")


def test_a_file_named_course_is_one_clear_error(tmp_path):
    source = fake_course(tmp_path / "notebooks")
    (tmp_path / "course").write_text("not a folder")
    with pytest.raises(nst.NSTError, match="course is in the way"):
        start.make_course(tmp_path / "course", source, print)


def test_start_runs_jupyter_lab_on_the_copies_even_when_the_download_fails(no_weights, tmp_path, monkeypatch,
                                                                           capsys):
    """The CLI's start: the download fails, the message is said, the copies are made, jupyter lab course/ is run
    with the options given (os.execv replaced, so that the test sees the command)."""
    import nst_tools.download

    def fail(*_a, **_k):
        raise nst.NSTError("download failed: cannot reach the server")

    monkeypatch.setattr(nst_tools.download, "download_weights", fail)
    monkeypatch.setattr(start, "COURSE", tmp_path / "course")
    ran = []
    monkeypatch.setattr(start.os, "execv", lambda path, argv: ran.append(argv))
    assert cli.main(["start", "--no-browser", "--port", "8999", "--", "--ServerApp.ip=127.0.0.1"]) == 0
    root = ["--allow-root"] if os.geteuid() == 0 else []  # as root jupyter lab refuses to start without it
    assert ran == [[sys.executable, "-m", "jupyterlab", str(tmp_path / "course"), "--no-browser", "--port=8999",
                    *root, "--ServerApp.ip=127.0.0.1"]]
    out = capsys.readouterr().out
    assert nst.WEIGHTS_HELP in out and "download failed: cannot reach the server" in out
    assert sorted(p.name for p in (tmp_path / "course").glob("*.ipynb")) == sorted(
        p.name for p in start.learner_notebooks())
    assert sorted(p.name for p in (tmp_path / "course" / "figures").iterdir()) == sorted(
        p.name for p in (ROOT / "notebooks" / "figures").iterdir())


# --- a learner's whole session -------------------------------------------------------------------------------

def git(clone, *args):
    return subprocess.run(["git", *args], cwd=clone, capture_output=True, text=True, check=True).stdout


def test_a_learners_session_leaves_nothing_to_undo(course_started, tiny_vgg_path, monkeypatch):
    """In a clone, the README's start command runs Jupyter on course/. The learner answers every exercise (the
    solutions' code in place of each stub) in every notebook and saves it with outputs; notebook 01 really runs
    from course/ in smoke mode (it finds the repository from there, its check passes, the function it kept lands
    in course/outputs/). Then git sees nothing, the committed notebooks are what the build writes, and start
    again keeps every answer."""
    import nbformat
    from nbclient import NotebookClient

    clone, _base, _token, log = course_started
    course = clone / "course"
    assert "added to course/: 00_setup_and_vgg19.ipynb" in log.read_text()
    names = [p.name for p in sorted((clone / "notebooks").glob("[0-9][0-9]_*.ipynb"))]
    assert sorted(p.name for p in course.glob("*.ipynb")) == names
    answered = 0
    for name in names:
        nb = nbformat.read(course / name, as_version=4)
        solution = {c.id: c.source for c in nbformat.read(clone / "notebooks" / "solutions" / name, as_version=4).cells}
        for cell in nb.cells:
            if cell.source != solution[cell.id]:
                cell.source = solution[cell.id]  # the learner's answer
                answered += 1
        if name == "01_content_loss.ipynb":
            for var, value in [("NST_SMOKE", "1"), ("NST_VGG_PATH", str(tiny_vgg_path)), ("MPLBACKEND", "Agg")]:
                monkeypatch.setenv(var, value)
            monkeypatch.delenv("NST_OUTPUT_DIR", raising=False)
            NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(course)}}
                           ).execute()
            printed = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")  # verdicts are display data
                              for c in nb.cells if c.cell_type == "code" for o in c.outputs)
            assert "PASSED: compute_content_cost" in printed
        else:
            for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
                cell.execution_count = i + 1
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
        nbformat.write(nb, course / name)
    assert answered >= 7  # one or more exercises in 01 to 05 and 07
    assert (course / "outputs" / "my_functions" / "compute_content_cost.py").is_file()
    (course / ".ipynb_checkpoints").mkdir(exist_ok=True)  # what JupyterLab leaves when it saves
    (course / ".ipynb_checkpoints" / "01_content_loss-checkpoint.ipynb").write_text("{}")
    (course / "outputs" / "result.png").write_bytes(b"\x89PNG")

    assert git(clone, "status", "--porcelain", "--untracked-files=all") == ""
    check = subprocess.run([sys.executable, "notebooks/build.py", "--check"], cwd=clone, capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stderr
    again = subprocess.run([sys.executable, "-c", "from nst_tools.start import make_course; make_course()"],
                           cwd=clone, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "added" not in again.stdout and f"kept your {len(names)} notebook(s)" in again.stdout
    assert "PASSED: compute_content_cost" in (course / "01_content_loss.ipynb").read_text()


def test_the_clone_is_clean_before_the_session(learner_clone):
    """The check above would see a learner's file: an untracked file outside course/ shows in git status."""
    (learner_clone / "stray.ipynb").write_text("{}")
    try:
        assert git(learner_clone, "status", "--porcelain").strip() == "?? stray.ipynb"
    finally:
        (learner_clone / "stray.ipynb").unlink()


def test_textwrap_keeps_the_paragraph_whole():
    """notebook 00 wraps the message (never inside a file name); words() undoes exactly that."""
    assert words(textwrap.fill(nst.WEIGHTS_HELP, 100, break_on_hyphens=False)) == words(nst.WEIGHTS_HELP)
