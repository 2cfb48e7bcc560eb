"""The command line: the JSON summary and every error path (one line on stderr, no output file)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import nst_utils as nst
from nst_tools import cli, further, transfer


@pytest.fixture
def files(tmp_path, rng):
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(tmp_path / "c.png")
    Image.fromarray(rng.integers(0, 256, (50, 50, 3), dtype=np.uint8)).save(tmp_path / "s.jpg")
    return tmp_path


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, str(nst.ROOT / "nst_utils.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)


def test_stylize_json(files, tiny_vgg_path):
    out = files / "out.png"
    p = run_cli("stylize", files / "c.png", files / "s.jpg", "-o", out, "--weights", tiny_vgg_path,
                "--size", "24x32", "--iterations", "4", "--json", "--seed", "1")
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    assert {"output", "iterations", "seconds", "J", "J_content", "J_style", "evaluations", "history"} <= set(summary)
    assert summary["output"] == str(out) and summary["iterations"] == 4
    assert [h["iteration"] for h in summary["history"]] == [1, 2, 3, 4]
    assert set(summary["history"][0]) == {"iteration", "seconds", "J", "J_content", "J_style", "evaluations"}
    assert summary["evaluations"] == 4 and [h["evaluations"] for h in summary["history"]] == [1, 2, 3, 4]  # Adam
    assert summary["J"] == min(h["J"] for h in summary["history"])
    assert nst.load_image(out).shape == (24, 32, 3)
    assert "Traceback" not in p.stderr


def test_stylize_lbfgs_max_size_in_process(files, tiny_vgg_path, capsys):
    out = files / "o.jpg"
    code = cli.main(["stylize", str(files / "c.png"), str(files / "s.jpg"), "-o", str(out), "--weights",
                     str(tiny_vgg_path), "--max-size", "30", "--iterations", "3", "--optimizer", "lbfgs",
                     "--init", "content", "--quiet"])
    assert code == 0
    assert nst.load_image(out).shape == (20, 30, 3)
    assert capsys.readouterr().out.startswith(f"saved {out}")


def test_missing_weights_prints_the_download_command(files, tmp_path):
    out = files / "out.png"
    p = run_cli("stylize", files / "c.png", files / "s.jpg", "-o", out, "--weights", tmp_path / "none.mat")
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "python3 nst_utils.py download-weights" in lines[0]
    assert not out.exists()


ERRORS = [
    (["{d}/missing.png", "{d}/s.jpg", "-o", "{d}/o.png"], 1, "image not found"),
    (["{d}/bad.png", "{d}/s.jpg", "-o", "{d}/o.png"], 1, "cannot read"),
    (["{d}/c.png", "{d}/bad.png", "-o", "{d}/o.png"], 1, "cannot read"),
    (["{d}/c.png", "{d}/s.jpg", "-o", "{d}/no/such/dir/o.png"], 1, "output folder does not exist"),
    (["{d}/c.png", "{d}/s.jpg", "-o", "{d}/o.xyz"], 1, "use an image extension"),
    (["{d}/c.png", "{d}/s.jpg", "-o", "{d}/o.png", "--size", "300by400"], 2, "HEIGHTxWIDTH"),
    (["{d}/c.png", "{d}/s.jpg", "-o", "{d}/o.png", "--size", "0x4"], 2, "out of range"),
    (["{d}/c.png", "{d}/s.jpg", "-o", "{d}/o.png", "--max-size", "0"], 2, "must be at least 1"),
    (["{d}/c.png", "{d}/s.jpg", "-o", "{d}/o.png", "--iterations", "-1"], 2, "must be at least 0"),
    (["{d}/c.png", "{d}/s.jpg", "-o", "{d}/o.png", "--alpha", "abc"], 2, "expected a number"),
    (["{d}/c.png", "{d}/s.jpg", "-o", "{d}/o.png", "--lr", "nan"], 2, "finite number"),
    (["{d}/c.png", "{d}/s.jpg", "-o", "{d}/o.png", "--optimizer", "sgd"], 2, "invalid choice"),
    (["{d}/c.png", "{d}/s.jpg", "-o", "{d}/o.png", "--weights", "{d}/bad.png"], 1, "not a readable"),
    (["{d}/c.png", "{d}/s.jpg"], 2, "required"),
]


@pytest.mark.parametrize("argv,code,message", ERRORS, ids=[e[2] for e in ERRORS])
def test_errors_are_one_line_and_write_nothing(files, tiny_vgg_path, run_main, argv, code, message):
    (files / "bad.png").write_text("this is not an image")
    argv = ["stylize"] + [a.format(d=files) for a in argv] + ["--weights", str(tiny_vgg_path)] * (
        "--weights" not in argv)
    before = set(files.rglob("*"))
    got, err = run_main(argv)
    assert got == code
    assert len(err) == 1 and message in err[0] and err[0].startswith("nst_utils.py")
    assert set(files.rglob("*")) == before  # no output, no temp file


def test_nan_cost_writes_nothing(files, tiny_vgg_path, capsys, monkeypatch):
    # a content cost of your own that turns NaN: the run stops with one message and writes nothing
    real = transfer.run_transfer
    nan_content = lambda a_C, a_G: nst.compute_content_cost(a_C, a_G) * float("nan")  # noqa: E731
    monkeypatch.setattr(further, "run_transfer", lambda *a, **k: real(*a, **{**k, "content_cost": nan_content}))
    code = cli.main(["stylize", str(files / "c.png"), str(files / "s.jpg"), "-o", str(files / "o.png"),
                     "--weights", str(tiny_vgg_path), "--size", "16x24", "--iterations", "3", "--quiet"])
    assert code == 1
    assert "the cost became nan" in capsys.readouterr().err
    assert not (files / "o.png").exists()


def test_import_is_silent_but_tensorflow_errors_stay_visible():
    """Log level 2 hides TensorFlow's C++ info and warnings; 3 would hide its errors too."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import os, nst_utils; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env, cwd=nst.ROOT)
    assert (p.returncode, p.stdout, p.stderr) == (0, "2\n", "")


def test_stylize_keeps_the_aspect_and_says_the_size(files, tiny_vgg_path):
    """No size given: the longest side is --max-size's default (400) and the content keeps its shape (40x60)."""
    out = files / "out.png"
    p = run_cli("stylize", files / "c.png", files / "s.jpg", "-o", out, "--weights", tiny_vgg_path,
                "--iterations", "1", "--quiet", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.strip().splitlines()[-1])["size"] == [267, 400]
    assert nst.load_image(out).shape == (267, 400, 3)
    p = run_cli("stylize", files / "c.png", files / "s.jpg", "-o", out, "--weights", tiny_vgg_path,
                "--iterations", "1", "--quiet", "--size", "20x24")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(f"saved {out} (20x24, 1 iterations")


def test_stylize_defaults_are_the_librarys():
    """The command line reads its defaults from the library's settings (written once, in nst_utils.Settings)."""
    args = cli.build_parser().parse_args(["stylize", "c.png", "s.png", "-o", "o.png"])
    d = transfer.TransferSettings()
    for name in ("iterations", "optimizer", "alpha", "beta", "tv_weight", "lr", "init", "seed"):
        assert getattr(args, name) == getattr(d, name), name
    assert (d.iterations, d.lr, d.alpha, d.beta) == (nst.ITERATIONS, nst.LEARNING_RATE, nst.ALPHA, nst.BETA)
