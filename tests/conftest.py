"""Shared fixtures: small MatConvNet-layout VGG files written by the tests themselves."""
import contextlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from vgg_fixture import write_vgg_mat  # noqa: E402


@pytest.fixture(scope="session")
def tiny_vgg_path(tmp_path_factory):
    """A VGG19 in the current MatConvNet layout (layers + meta), 4..32 channels."""
    return write_vgg_mat(tmp_path_factory.mktemp("vgg") / "tiny-vgg19.mat", layout="new", arch="vgg19", width=4)


@pytest.fixture(scope="session")
def tiny_model(tiny_vgg_path):
    import nst_utils

    return nst_utils.load_vgg_model(tiny_vgg_path)


def gradient_and_noise(height, width, seed):
    """A smooth content image (three colour ramps) and a noise style image, RGB float32 in [0, 255]."""
    yy, xx = np.mgrid[0:height, 0:width]
    content = np.stack([yy * 256 / height, xx * 240 / width, (yy + xx) * 96 / height], -1)
    style = np.random.default_rng(seed).integers(0, 256, (height, width, 3))
    return content.clip(0, 255).astype(np.float32), style.astype(np.float32)


@pytest.fixture(scope="session")
def make_images():
    """``make_images(height, width, seed)``: see gradient_and_noise."""
    return gradient_and_noise


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def forward_passes(monkeypatch):
    """The toolbox's compiled forward passes (the targets' and nothing else: transfer._Compiled), counted: a list
    that gets the name of the thread of each one as it runs."""
    import threading

    from nst_tools import transfer

    seen, real = [], transfer._Compiled.__call__
    monkeypatch.setattr(transfer._Compiled, "__call__", lambda self, image, layers: seen.append(
        threading.current_thread().name) or real(self, image, layers))
    return seen


@pytest.fixture
def run_main(capsys):
    """Run ``cli.main(argv)`` in-process: ``(exit status, stderr lines)``, argparse's exits included."""
    from nst_tools import cli

    def run(argv):
        try:
            code = cli.main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's errors
            code = exc.code
        return code, capsys.readouterr().err.strip().splitlines()

    return run


def scratch_repository(dest):
    """A git repository at ``dest`` holding this working tree's files as they are (tracked and not ignored),
    committed: the learner's clone, where ``start`` and a learner's session can run without touching ours."""
    import shutil
    import subprocess

    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    git = ["git", "-c", "user.name=learner", "-c", "user.email=learner@example.invalid", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "the course as cloned"]):
        subprocess.run(git + args, cwd=dest, check=True)
    return dest


@pytest.fixture(scope="session")
def learner_clone(tmp_path_factory):
    """A scratch clone of the course (see scratch_repository)."""
    return scratch_repository(tmp_path_factory.mktemp("clone"))


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_server(cmd, cwd, log, env=None, timeout=120):
    """Run ``cmd`` (a command that ends in a Jupyter server) in ``cwd``; yield ``(base_url, token)`` once the
    server answers its API with that token (read from the log, as a learner reads it in the terminal)."""
    import re
    import subprocess
    import time
    import urllib.request

    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.monotonic() + timeout
        while True:
            found = re.search(r"(http://127\.0\.0\.1:\d+/)lab\?token=(\w+)", log.read_text(errors="replace"))
            if found:
                base, token = found.groups()
                try:
                    with urllib.request.urlopen(f"{base}api/status?token={token}", timeout=5) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
            if proc.poll() is not None:
                raise AssertionError(f"{cmd[:4]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > end:
                raise AssertionError(f"no Jupyter server within {timeout} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def start_command(port):
    """The README's start command, with a free port, no browser, on 127.0.0.1 (the token is read from the log)."""
    return [sys.executable, "nst_utils.py", "start", "--no-browser", "--port", str(port), "--",
            "--ServerApp.ip=127.0.0.1"]


@pytest.fixture(scope="session")
def course_started(learner_clone, tiny_vgg_path, tmp_path_factory):
    """``python3 nst_utils.py start`` running in the learner's clone: ``(clone, base_url, token, log path)``."""
    log = tmp_path_factory.mktemp("start") / "start.log"
    env = {"NST_VGG_PATH": str(tiny_vgg_path), "MPLBACKEND": "Agg"}
    with jupyter_server(start_command(free_port()), learner_clone, log, env) as (base, token):
        yield learner_clone, base, token, log


#: Files whose every test starts a browser, a server, a fresh venv or subprocesses, and the single tests
#: elsewhere that take seconds each (timed here with --durations): `python3 -m pytest -m "not slow"` leaves
#: them out, so that the quick loop takes about a minute; `.ci/run` runs them all.
SLOW_FILES = {"test_course_browser.py", "test_lab_browser.py", "test_install.py", "test_course_figures.py",
              "test_robustness.py", "test_site.py", "test_notebooks.py", "test_hostile.py", "test_hostile_cli.py",
              "test_start.py"}
SLOW_TESTS = {
    "test_cli.py": {"test_stylize_keeps_the_aspect_and_says_the_size", "test_missing_weights_prints_the_download_command",
                    "test_import_is_silent_but_tensorflow_errors_stay_visible", "test_stylize_json"},
    "test_speed.py": {"test_bench_json", "test_bench_memory_row_and_the_estimate", "test_bench_memory_part",
                      "test_cli_scales_and_precision"},
    "test_further.py": {"test_lab_records_the_run_and_saves_it_as_a_gif"},
    "test_images.py": {"test_make_styles_reproduces_the_shipped_styles"},
    "test_layout.py": {"test_python3_nst_utils_py_delegates_to_the_cli", "test_started_as_a_script_the_core_runs_once"},
    "test_lab.py": {"test_panel_buttons_drive_the_runner", "test_stop_answers_fast_keeps_the_image_then_continue_and_restart"},
    "test_transfer.py": {"test_passing_the_library_losses_gives_the_default_run"},
    "test_preview.py": {"test_as_the_callback_of_a_real_run", "test_no_pyplot_figures_are_left_behind"},
    "test_checks.py": {"test_train_step_check_passes_a_correct_step"},
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.path.name
        if name in SLOW_FILES or item.originalname in SLOW_TESTS.get(name, ()):
            item.add_marker(pytest.mark.slow)

