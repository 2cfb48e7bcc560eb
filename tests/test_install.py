"""A newcomer's first hour: ``pip install .`` then ``nst`` from any folder.

The wheel is built from this checkout's files and installed into a fresh venv (``--system-site-packages``,
so TensorFlow is not reinstalled; ``--no-deps``); the console script then runs from a folder that is not
the repository, with a fresh home: weights in the per-user data folder, the sample images by name, its
own name in the usage and the messages, and no TensorFlow start-up noise.
"""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def _run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    listed = _run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT)
    assert listed.returncode == 0, listed.stderr
    for name in listed.stdout.splitlines():
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    try:  # offline where this setuptools can build the project; else pip fetches one (needs the index)
        import setuptools
        isolation = [] if int(setuptools.__version__.split(".")[0]) < 77 else ["--no-build-isolation"]
    except ImportError:
        isolation = []
    built = _run([sys.executable, "-m", "pip", "wheel", src, "--no-deps", "-q", "-w", tmp / "dist", *isolation])
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("nst_course-*.whl")
    made = _run([sys.executable, "-m", "venv", "--system-site-packages", tmp / "venv"])
    assert made.returncode == 0, made.stderr
    installed = _run([tmp / "venv" / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps", wheel])
    assert installed.returncode == 0, installed.stderr[-3000:]
    return tmp


@pytest.fixture
def elsewhere(venv, tmp_path):
    """(nst, env, folder): the console script, a fresh home, and a folder that is not the repository."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "NST_VGG_PATH", "NST_DATA_DIR", "XDG_CACHE_HOME", "TF_CPP_MIN_LOG_LEVEL")}
    env["HOME"] = str(tmp_path / "home")
    (tmp_path / "work").mkdir()
    return venv / "venv" / "bin" / "nst", env, tmp_path / "work"


def test_nst_calls_itself_nst_and_says_where_the_images_are(elsewhere):
    nst, env, work = elsewhere
    p = _run([nst, "stylize", "--help"], env=env, cwd=work)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("usage: nst stylize ")
    assert "sample images" in " ".join(p.stdout.split()) and "chelsea.jpg" in p.stdout
    assert p.stderr == ""  # no TensorFlow start-up lines


def test_the_weights_are_looked_for_and_downloaded_in_the_per_user_folder(elsewhere):
    nst, env, work = elsewhere
    data = work.parent / "home" / ".cache" / "nst"
    p = _run([nst, "stylize", "chelsea.jpg", "style_swirls.jpg", "-o", "out.png", "--quiet"], env=env, cwd=work)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 1 and len(lines) == 1, p.stderr
    assert lines[0].startswith("nst stylize: error:") and str(data) in lines[0] and "nst download-weights" in lines[0]
    p = _run([nst, "download-weights", "--url", "http://127.0.0.1:9/vgg.mat", "--quiet"], env=env, cwd=work)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 1 and len(lines) == 1 and "download failed" in lines[0], p.stderr
    assert not data.exists()  # no empty folder left behind
    assert sorted(os.listdir(work)) == []


@pytest.mark.parametrize("where", ["NST_DATA_DIR", "XDG_CACHE_HOME"])
def test_stylize_with_the_sample_images_from_any_folder(elsewhere, tiny_vgg_path, where):
    nst, env, work = elsewhere
    data = work.parent / "data"
    env[where] = str(data)
    folder = data if where == "NST_DATA_DIR" else data / "nst"
    folder.mkdir(parents=True)
    shutil.copy(tiny_vgg_path, folder / "imagenet-vgg-verydeep-19.mat")
    p = _run([nst, "stylize", "chelsea.jpg", "style_swirls.jpg", "-o", "out.png", "--max-size", "32",
              "--iterations", "1", "--quiet"], env=env, cwd=work)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""  # no TensorFlow start-up noise
    assert p.stdout.startswith("saved out.png (21x32") and (work / "out.png").is_file()
