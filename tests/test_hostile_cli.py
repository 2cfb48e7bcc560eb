"""Hostile command lines, one table: each input gets its one line (a key phrase), its exit status, no
traceback, no warning, no stray file, every input intact, and with --json a last stdout line that is one
strict JSON object with the error and the status. Add a row to add a case.

A row whose checks should all pass ends at the run, which the test replaces by an error saying RUN STARTED:
that is the proof the input was accepted and checked before any long work.
"""
import json
import shutil
import warnings

import numpy as np
import pytest
from PIL import Image

from nst_tools import cli

pytestmark = pytest.mark.slow  # a notebook, a browser, a server or subprocesses

RUN = "RUN STARTED"  # the run (a transfer, a benchmark) was reached: every check before it passed
LONG = "o" * 246 + ".png"  # 250 characters: a valid name, but not with anything added
TOO_LONG = "p" * 296 + ".png"  # 300 characters: no file system takes that name

STYLIZE = ["stylize", "{d}/c.png", "{d}/s.jpg", "--weights", "{d}/w.mat", "--iterations", "2", "--quiet"]


def _bomb_warning(d, monkeypatch):
    """Pillow warns (a multi-line DecompressionBombWarning) between its limit and twice it: c.png is 2400 px."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)


# (id, argv, exit status, key phrase, setup(d, monkeypatch) or None)
ROWS = [
    # every input of a run is protected, the weights included
    ("output is the weights", [*STYLIZE, "-o", "{d}/w.png", "--weights", "{d}/w.png"], 1, "is the input", None),
    ("animation is the weights", [*STYLIZE, "-o", "{d}/o.png", "--weights", "{d}/w.gif", "--animation", "{d}/w.gif"],
     1, "is the input", None),
    ("bench plot is the weights", ["bench", "--quick", "--weights", "{d}/w.png", "--plot", "{d}/w.png"],
     1, "is the input", None),
    ("bench pictures is the quality weights", ["bench", "--quick", "--quality-weights", "{d}/w.png",
                                               "--pictures", "{d}/w.png"], 1, "is the input", None),
    ("bench plot is the content", ["bench", "--quick", "--content", "{d}/c.png", "--plot", "{d}/c.png"],
     1, "is the input", None),
    # names the save cannot use
    ("a 300-character output name", [*STYLIZE, "-o", "{d}/" + TOO_LONG], 1, "name is too long", None),
    ("a 300-character animation name", [*STYLIZE, "-o", "{d}/o.png", "--animation", "{d}/" + "a" * 296 + ".gif"],
     1, "name is too long", None),
    ("a 250-character output name is fine", [*STYLIZE, "-o", "{d}/" + LONG], 1, RUN, None),
    (".ico resizes the picture", [*STYLIZE, "-o", "{d}/o.ico"], 1, "'o.ico'", None),
    (".icns resizes the picture", [*STYLIZE, "-o", "{d}/o.icns"], 1, "'o.icns'", None),
    # messages that must be about what was given
    ("a big --size is not about a style scale", [*STYLIZE, "-o", "{d}/o.png", "--size", "3001x64"], 1, RUN, None),
    ("a big --max-size is not about a style scale", [*STYLIZE, "-o", "{d}/o.png", "--max-size", "5000"],
     1, RUN, None),
    ("--scales is checked against --iterations", [*STYLIZE, "-o", "{d}/o.png", "--scales", "0.5:30,1"],
     1, "--iterations 2", None),
    ("bench --memory-sizes abc", ["bench", "--memory-sizes", "abc"], 2, "--memory-sizes", None),
    ("bench --memory-sizes 0", ["bench", "--memory-sizes", "512,0"], 2, "--memory-sizes", None),
    ("NaN pixels in a float TIFF", [*STYLIZE[:1], "{d}/nan.tif", *STYLIZE[2:], "-o", "{d}/o.png"], 1, "NaN", None),
    ("a picture just over Pillow's limit: no warning", [*STYLIZE, "-o", "{d}/o.png"], 1, RUN, _bomb_warning),
    # --json says what went wrong, also when argparse does
    ("a bad size", [*STYLIZE, "-o", "{d}/o.png", "--size", "300by400"], 2, "HEIGHTxWIDTH", None),
    ("no output", STYLIZE, 2, "required", None),
]


@pytest.fixture
def d(tmp_path, tiny_vgg_path, rng):
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(tmp_path / "c.png")
    Image.fromarray(rng.integers(0, 256, (50, 50, 3), dtype=np.uint8)).save(tmp_path / "s.jpg")
    nan = np.full((20, 30), 128, np.float32)
    nan[3, 4] = np.nan
    Image.fromarray(nan, "F").save(tmp_path / "nan.tif")
    for name in ("w.mat", "w.png", "w.gif"):  # a weights file may have any name
        shutil.copy(tiny_vgg_path, tmp_path / name)
    return tmp_path


@pytest.fixture
def no_run(monkeypatch):
    def reached(*a, **k):
        raise cli.NSTError(RUN)
    monkeypatch.setattr(cli, "stylize", reached)
    monkeypatch.setattr(cli, "benchmark", reached)


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("argv,code,phrase,setup", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_hostile_input_gets_one_line(d, no_run, monkeypatch, capsys, argv, code, phrase, setup, as_json):
    if setup:
        setup(d, monkeypatch)
    argv = [a.format(d=d) for a in argv] + ["--json"] * as_json
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # NumPy's and Pillow's warnings are RuntimeWarnings
        warnings.simplefilter("error", UserWarning)
        try:
            got = cli.main(argv)
        except SystemExit as exc:  # argparse
            got = exc.code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert got == code, lines
    assert len(lines) == 1 and lines[0].startswith("nst_utils.py ") and phrase in lines[0], lines
    assert "Traceback" not in err and "Warning" not in err
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before  # nothing written, nothing lost
    if as_json:
        last = json.loads(out.strip().splitlines()[-1], parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
        assert last == {"error": lines[0].split(": error: ", 1)[-1], "status": code}
