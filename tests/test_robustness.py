"""A hostile but realistic user: outputs that name an input, saves that fail, signals at any moment,
images that are bombs or FIFOs, arguments the parser accepts but the run cannot use."""
import errno
import json
import math
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import pytest
from PIL import Image

import nst_utils as nst
from nst_tools import cli, transfer

UNWRITABLE = "/sys"  # not writable even for root


def _writable(folder):
    try:
        fd, name = tempfile.mkstemp(dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.remove(name)
    return True


needs_sys = pytest.mark.skipif(not os.path.isdir(UNWRITABLE) or _writable(UNWRITABLE), reason="needs an unwritable /sys")


@pytest.fixture
def files(tmp_path, rng):
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(tmp_path / "c.png")
    Image.fromarray(rng.integers(0, 256, (50, 50, 3), dtype=np.uint8)).save(tmp_path / "s.jpg")
    return tmp_path


@pytest.fixture
def no_run(monkeypatch):
    """Fail the test if the command gets as far as an optimisation or a benchmark run."""
    def boom(*a, **k):
        raise AssertionError("the run started")
    monkeypatch.setattr(cli, "stylize", boom)
    monkeypatch.setattr(cli, "benchmark", boom)


def stylize_argv(files, weights, *extra, out=None):
    return ["stylize", files / "c.png", files / "s.jpg", "-o", out or files / "o.png", "--weights", weights,
            "--size", "16x24", "--iterations", "2", "--quiet", *extra]


def one_error(err, *words):
    assert len(err) == 1 and err[0].startswith("nst_utils.py "), err
    for w in words:
        assert w in err[0], err
    return err[0]


# -- 1. an output that names an input ------------------------------------------------------------

@pytest.mark.parametrize("target", ["c.png", "./c.png", "sub/../c.png", "link.png", "s.jpg"])
def test_output_naming_an_input_is_refused(files, tiny_vgg_path, run_main, monkeypatch, no_run, target):
    (files / "sub").mkdir()
    (files / "link.png").symlink_to(files / "c.png")
    monkeypatch.chdir(files)
    before = {p: p.read_bytes() for p in (files / "c.png", files / "s.jpg")}
    argv = ["stylize", "c.png", "s.jpg", "-o", target, "--weights", tiny_vgg_path, "--size", "16x24"]
    code, err = run_main(argv)
    assert code == 1
    one_error(err, "input")
    assert {p: p.read_bytes() for p in before} == before


def test_animation_naming_an_input_is_refused(files, tiny_vgg_path, run_main, no_run):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(files / "s.gif")
    argv = ["stylize", files / "c.png", files / "s.gif", "-o", files / "o.png", "--weights", tiny_vgg_path,
            "--animation", files / "s.gif", "--iterations", "10"]
    code, err = run_main(argv)
    assert code == 1
    one_error(err, "input")


# -- 2. saves that cannot work: refused before the run; a save that fails late keeps the result --

@pytest.mark.parametrize("ext", [".xbm", ".msp", ".palm", ".blp", ".h5", ".wmf"])
def test_extensions_pillow_cannot_really_write(files, tiny_vgg_path, run_main, no_run, ext):
    code, err = run_main(stylize_argv(files, tiny_vgg_path, out=files / f"o{ext}"))
    assert code == 1
    one_error(err, f"o{ext}")
    assert sorted(p.name for p in files.iterdir()) == ["c.png", "s.jpg"]


def test_output_that_is_a_directory(files, tiny_vgg_path, run_main, no_run):
    (files / "x.png").mkdir()
    code, err = run_main(stylize_argv(files, tiny_vgg_path, out=files / "x.png"))
    assert code == 1
    one_error(err, "is a directory")


@needs_sys
def test_unwritable_output_folder(files, tiny_vgg_path, run_main, no_run):
    code, err = run_main(stylize_argv(files, tiny_vgg_path, out=f"{UNWRITABLE}/o.png"))
    assert code == 1
    one_error(err, "cannot write", UNWRITABLE)


@needs_sys
@pytest.mark.parametrize("where", ["dir", "unwritable"])
def test_bad_animation_path(files, tiny_vgg_path, run_main, no_run, where):
    anim = files / "a.gif" if where == "dir" else f"{UNWRITABLE}/a.gif"
    if where == "dir":
        anim.mkdir()
    code, err = run_main(stylize_argv(files, tiny_vgg_path, "--animation", anim, "--animation-every", "1"))
    assert code == 1
    one_error(err, "a.gif")


@needs_sys
@pytest.mark.parametrize("flag,path", [("--plot", "{d}/p.bmp"), ("--plot", "{d}/dir.png"),
                                       ("--pictures", f"{UNWRITABLE}/p.png"), ("--pictures", "{d}/p.xbm")])
def test_bad_bench_paths(tmp_path, run_main, no_run, flag, path):
    (tmp_path / "dir.png").mkdir()
    code, err = run_main(["bench", "--quick", flag, path.format(d=tmp_path)])
    assert code == 1
    one_error(err, flag)


def test_a_save_that_fails_late_keeps_the_result(files, tiny_vgg_path, run_main, monkeypatch, tmp_path_factory):
    rescue = tmp_path_factory.mktemp("rescue")
    monkeypatch.setattr("tempfile.tempdir", str(rescue))
    real_save = Image.Image.save

    def full_disk(self, fp, *a, **k):
        if str(fp).startswith(str(files)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, fp, *a, **k)

    monkeypatch.setattr(Image.Image, "save", full_disk)
    code, err = run_main(stylize_argv(files, tiny_vgg_path))
    assert code == 1
    line = one_error(err, "No space left on device")
    kept = [p for p in rescue.iterdir() if p.suffix == ".png"]
    assert len(kept) == 1 and str(kept[0]) in line
    assert nst.load_image(kept[0]).shape == (16, 24, 3)
    assert sorted(p.name for p in files.iterdir()) == ["c.png", "s.jpg"]


# -- 3. signals -----------------------------------------------------------------------------------

#: In-process Ctrl-C tests send SIGINT to this very process: impossible where it inherited SIGINT ignored.
needs_sigint = pytest.mark.skipif(signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
                                  reason="SIGINT is ignored in this process (nohup, or a background job): a "
                                         "Ctrl-C cannot be simulated here")


def _default_signals():
    """In the child, before it starts: the signals a test sends at their default dispositions, even where the
    test runner inherited them ignored (run under nohup, or as a background job that ignores SIGINT)."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


def _popen(*args):
    return subprocess.Popen([sys.executable, str(nst.ROOT / "nst_utils.py"), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_signals)


def _wait_for(proc, pattern, timeout=120):
    """Read the process's stderr until ``pattern`` matches; returns what was read."""
    buf, end = b"", time.time() + timeout
    while time.time() < end:
        ready, _, _ = select.select([proc.stderr], [], [], 1)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            if re.search(pattern, buf.decode(errors="replace")):
                return buf
    proc.kill()
    raise AssertionError(f"never saw {pattern!r}: {buf.decode(errors='replace')}")


def _finish(proc, buf):
    out, rest = proc.communicate(timeout=120)
    return proc.returncode, out.decode(), (buf + rest).decode(errors="replace")


def _last_line(text):
    return re.split(r"[\r\n]", text.strip())[-1]


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_during_the_run_saves_the_best_image(files, tiny_vgg_path, sig):
    out = files / "o.png"
    proc = _popen("stylize", files / "c.png", files / "s.jpg", "-o", out, "--weights", tiny_vgg_path,
                  "--size", "24x32", "--iterations", "100000", "--json")
    buf = _wait_for(proc, r"\b[1-9]\d*/100000")
    proc.send_signal(getattr(signal, sig))
    code, stdout, stderr = _finish(proc, buf)
    assert code == 130, stderr
    assert "Traceback" not in stderr
    last = _last_line(stderr)
    assert last.startswith("nst_utils.py stylize: interrupted") and str(out) in last
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["stopped"] == "interrupted" and math.isfinite(summary["J"]) and summary["iterations"] > 0
    assert nst.load_image(out).shape == (24, 32, 3)


def test_an_ignored_hangup_stays_ignored(files, tiny_vgg_path):
    """nohup: SIGHUP ignored by the parent must not stop the run."""
    out = files / "o.png"
    proc = subprocess.Popen([sys.executable, str(nst.ROOT / "nst_utils.py"), "stylize", str(files / "c.png"),
                             str(files / "s.jpg"), "-o", str(out), "--weights", str(tiny_vgg_path), "--size",
                             "24x32", "--iterations", "100000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    buf = _wait_for(proc, r"\b[1-9]\d*/100000")
    proc.send_signal(signal.SIGHUP)
    time.sleep(2)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    code, _, stderr = _finish(proc, buf)
    assert code == 130 and _last_line(stderr).startswith("nst_utils.py stylize: interrupted"), stderr


@pytest.mark.parametrize("delay", [0.0, 0.5, 1.2])
def test_ctrl_c_at_any_moment_of_a_coarse_to_fine_run(files, tiny_vgg_path, delay):
    out = files / "o.png"
    proc = _popen("stylize", files / "c.png", files / "s.jpg", "-o", out, "--weights", tiny_vgg_path,
                  "--size", "128x160", "--scales", "0.25:3,0.5:3,0.75:3,1", "--iterations", "100000", "--json")
    buf = _wait_for(proc, r"\b[1-9]\d*/100000")
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    code, stdout, stderr = _finish(proc, buf)
    assert code == 130, stderr
    assert "Traceback" not in stderr and _last_line(stderr).startswith("nst_utils.py stylize: interrupted")
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert math.isfinite(summary["J"]) and summary["J"] == min(h["J"] for h in summary["history"]
                                                               if h["scale"] == summary["history"][-1]["scale"])
    assert nst.load_image(out).shape == (128, 160, 3)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_while_tensorflow_loads_is_one_line(files, sig):
    proc = _popen("stylize", files / "c.png", files / "s.jpg", "-o", files / "o.png", "--json")
    time.sleep(1.0)
    proc.send_signal(getattr(signal, sig))
    stdout, stderr = proc.communicate(timeout=60)
    lines = stderr.decode().strip().splitlines()
    assert proc.returncode == 130 and len(lines) == 1 and "interrupted" in lines[0], (proc.returncode, lines)
    assert json.loads(stdout.decode().strip().splitlines()[-1]) == {"error": "interrupted", "status": 130}


@pytest.mark.parametrize("gap", [0.02, 0.3])
def test_two_sigterms_mid_run_exit_130_with_the_image(files, tiny_vgg_path, gap):
    out = files / "o.png"
    proc = _popen("stylize", files / "c.png", files / "s.jpg", "-o", out, "--weights", tiny_vgg_path,
                  "--size", "24x32", "--iterations", "100000")
    buf = _wait_for(proc, r"\b[1-9]\d*/100000")
    proc.send_signal(signal.SIGTERM)
    time.sleep(gap)
    proc.send_signal(signal.SIGTERM)
    code, _, stderr = _finish(proc, buf)
    assert code == 130, stderr
    assert "Traceback" not in stderr and _last_line(stderr).startswith("nst_utils.py stylize: interrupted")
    assert nst.load_image(out).shape == (24, 32, 3)


@pytest.mark.parametrize("dead", ["stderr", "stdout"])
def test_a_dead_terminal_does_not_cost_the_image(files, tiny_vgg_path, dead):
    """The terminal goes away (its end of the pipe is closed), then SIGHUP: the image is still saved."""
    out = files / "o.png"
    proc = _popen("stylize", files / "c.png", files / "s.jpg", "-o", out, "--weights", tiny_vgg_path,
                  "--size", "24x32", "--iterations", "100000", "--json")
    _wait_for(proc, r"\b[1-9]\d*/100000")
    getattr(proc, dead).close()
    time.sleep(0.5)  # a few progress updates into the dead pipe
    proc.send_signal(signal.SIGHUP)
    live = proc.stdout if dead == "stderr" else proc.stderr
    rest = live.read().decode(errors="replace")
    assert proc.wait(timeout=120) == 130, rest
    assert "Traceback" not in rest and "Exception ignored" not in rest and "BrokenPipe" not in rest, rest
    assert nst.load_image(out).shape == (24, 32, 3)
    if dead == "stderr":  # --json's summary still arrives on the live stdout
        assert json.loads(rest.strip().splitlines()[-1])["stopped"] == "interrupted"


def test_a_signal_during_the_save_still_saves_and_exits_130(files, tiny_vgg_path, run_main, monkeypatch):
    """The CLI's handler does not raise once the run has started: a signal while saving keeps the image."""
    real = cli.save_image

    def save_under_fire(path, image):
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            os.kill(os.getpid(), sig)
        return real(path, image)

    monkeypatch.setattr(cli, "save_image", save_under_fire)
    code, err = run_main(stylize_argv(files, tiny_vgg_path))
    assert code == 130
    one_error(err, "interrupted", "o.png")
    assert nst.load_image(files / "o.png").shape == (16, 24, 3)


@needs_sigint
def test_api_a_second_ctrl_c_breaks_out_of_a_long_iteration(tiny_model, make_images):
    """In the Python API the first Ctrl-C asks the run to stop after its step; a second one does not wait."""
    import threading

    def long_step(i, costs, image):
        if i == 2:
            os.kill(os.getpid(), signal.SIGINT)  # the first: the run would stop after this step...
            threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
            time.sleep(60)  # ... which takes a minute: the second one ends it

    t = time.perf_counter()
    r = nst.run_style_transfer(tiny_model, *make_images(16, 16, 0), iterations=50, callback=long_step,
                               callback_every=1, seed=0)
    assert time.perf_counter() - t < 30
    assert r.stopped == "interrupted" and r.iterations == 2 and r.image.shape == (16, 16, 3)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@needs_sigint
@pytest.mark.parametrize("where", ["_scale_inputs", "_ScaleCost"])  # a scale's images, then its cost
def test_api_ctrl_c_at_a_scale_change_returns_the_last_scales_best(tiny_model, make_images, monkeypatch, where):
    content, style = make_images(64, 96, seed=1)
    real, calls = getattr(transfer, where), []

    def interrupted(*a, **k):
        calls.append(1)
        value = real(*a, **k)
        if len(calls) == 2:  # the second scale is being set up
            os.kill(os.getpid(), signal.SIGINT)
        return value

    monkeypatch.setattr(transfer, where, interrupted)
    r = transfer.run_transfer(tiny_model, content, style, iterations=20, scales=[0.5, 1], seed=0)
    assert r.stopped == "interrupted" and r.iterations == 10
    assert math.isfinite(r.J) and r.J == min(h["J"] for h in r.history)
    assert r.image.shape == (64, 96, 3)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_api_keyboard_interrupt_between_scales_does_not_escape(tiny_model, make_images, monkeypatch):
    content, style = make_images(64, 96, seed=1)
    real, calls = transfer._ScaleCost, []

    def raising(*a, **k):  # the second scale's cost
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(transfer, "_ScaleCost", raising)
    r = transfer.run_transfer(tiny_model, content, style, iterations=20, scales=[0.5, 1], seed=0)
    assert r.stopped == "interrupted" and r.iterations == 10 and r.image.shape == (64, 96, 3)


# -- 5. images ------------------------------------------------------------------------------------

def _bomb_png(path, side=30000):
    """A PNG whose header says side x side (no pixel data needed to trip Pillow's bomb check)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10))
                     + chunk(b"IEND", b""))
    return path


def test_decompression_bomb_is_a_clear_refusal(files, tiny_vgg_path, run_main):
    bomb = _bomb_png(files / "bomb.png")
    with pytest.raises(nst.NSTError, match="pixels"):
        nst.load_image(bomb)
    for argv in (["stylize", bomb, files / "s.jpg"], ["stylize", files / "c.png", bomb]):
        code, err = run_main(argv + ["-o", files / "o.png", "--weights", tiny_vgg_path, "--max-size", "32"])
        assert code == 1
        one_error(err, "bomb.png", "pixels", "MAX_IMAGE_PIXELS")


def test_fifo_is_refused_not_read(files, tiny_vgg_path):
    os.mkfifo(files / "fifo.png")
    with pytest.raises(nst.NSTError, match="not a regular file"):
        nst.load_image(files / "fifo.png")
    p = subprocess.run([sys.executable, str(nst.ROOT / "nst_utils.py"), "stylize", str(files / "fifo.png"),
                        str(files / "s.jpg"), "-o", str(files / "o.png"), "--weights", str(tiny_vgg_path),
                        "--max-size", "32"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    one_error(p.stderr.strip().splitlines(), "not a regular file")


@pytest.mark.parametrize("kw", [{"size": (0, 10)}, {"size": (10, -1)}, {"max_size": 0}, {"max_size": -3}])
def test_load_image_sizes_out_of_range(files, kw):
    with pytest.raises(nst.NSTError, match="size"):
        nst.load_image(files / "c.png", **kw)


# -- 6. arguments the parser accepts but the run cannot use ---------------------------------------

def test_alpha_and_beta_both_zero(files, tiny_vgg_path, run_main):
    code, err = run_main(stylize_argv(files, tiny_vgg_path, "--alpha", "0", "--beta", "0"))
    assert code == 1
    one_error(err, "nothing to optimise")
    assert not (files / "o.png").exists()


def test_negative_seed(files, tiny_vgg_path, run_main, tiny_model, make_images):
    code, err = run_main(stylize_argv(files, tiny_vgg_path, "--seed", "-1"))
    assert code == 2
    one_error(err, "--seed")
    with pytest.raises(nst.NSTError, match="seed"):
        transfer.run_transfer(tiny_model, *make_images(16, 16, 0), iterations=1, seed=-1)


def test_zero_iterations_json_is_strict_json(files, tiny_vgg_path, capsys):
    code = cli.main(["stylize", str(files / "c.png"), str(files / "s.jpg"), "-o", str(files / "o.png"),
                     "--weights", str(tiny_vgg_path), "--size", "16x24", "--iterations", "0", "--json", "--quiet"])
    assert code == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    summary = json.loads(line, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    assert summary["J"] is None and summary["iterations"] == 0


@pytest.mark.parametrize("lr", [float("nan"), float("inf"), -1.0])
def test_bad_learning_rate_in_the_api(tiny_model, make_images, lr):
    with pytest.raises(nst.NSTError, match="lr"):
        transfer.run_transfer(tiny_model, *make_images(16, 16, 0), iterations=1, lr=lr)


def test_late_error_is_its_own_line_after_the_bar(files, tiny_vgg_path):
    p = subprocess.run([sys.executable, str(nst.ROOT / "nst_utils.py"), *[
        a for a in stylize_argv(files, tiny_vgg_path, "--tv-weight", "3e38") if a != "--quiet"]], capture_output=True, text=True,
        timeout=300)
    assert p.returncode == 1
    assert _last_line(p.stderr).startswith("nst_utils.py stylize: error: the cost became inf"), p.stderr
    assert not (files / "o.png").exists()


# -- 7. API shapes --------------------------------------------------------------------------------

def _rgb_message(name, want, got):
    return (f"{name} must be an RGB image array of shape {want} in [0, 255] with finite values "
            f"(load_image gives one), got {got}")


@pytest.mark.parametrize("arg,shape,message", [
    ("content", (1, 20, 30, 3), _rgb_message("content", "(H, W, 3)", "(1, 20, 30, 3)")),
    ("content", (20, 30), _rgb_message("content", "(H, W, 3)", "(20, 30)")),
    ("content", (20, 30, 4), _rgb_message("content", "(H, W, 3)", "(20, 30, 4)")),
    ("content", (0, 0, 3), _rgb_message("content", "(H, W, 3)", "(0, 0, 3)")),
    ("style", (20, 30), _rgb_message("style", "(H, W, 3)", "(20, 30)")),
    ("init_image", (10, 30, 3), _rgb_message("init_image", "(20, 30, 3)", "(10, 30, 3)")),
])
@pytest.mark.parametrize("run", ["run_transfer", "run_style_transfer"])
def test_api_shapes(tiny_model, arg, shape, message, run):
    images = {"content": np.zeros((20, 30, 3), np.float32), "style": np.zeros((20, 30, 3), np.float32)}
    images[arg] = np.zeros(shape, np.float32)
    fn = transfer.run_transfer if run == "run_transfer" else nst.run_style_transfer
    with pytest.raises(nst.NSTError) as info:
        fn(tiny_model, iterations=1, **images)
    assert str(info.value) == message


def test_a_250_character_output_name_is_saved(files, tiny_vgg_path, run_main, capsys):
    """Valid, but too long for anything added to it: the save's temporary name must still fit."""
    out = files / ("o" * 246 + ".png")
    code, err = run_main(stylize_argv(files, tiny_vgg_path, out=out))
    assert code == 0, err
    assert nst.load_image(out).shape == (16, 24, 3)
    assert sorted(p.name for p in files.iterdir()) == sorted(["c.png", "s.jpg", out.name])


def test_a_failed_save_of_a_250_character_name_is_kept_in_the_temp_folder(files, tiny_vgg_path, run_main,
                                                                          monkeypatch, tmp_path_factory):
    rescue = tmp_path_factory.mktemp("rescue")
    monkeypatch.setattr("tempfile.tempdir", str(rescue))
    real_save = Image.Image.save

    def full_disk(self, fp, *a, **k):
        if str(fp).startswith(str(files)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, fp, *a, **k)

    monkeypatch.setattr(Image.Image, "save", full_disk)
    code, err = run_main(stylize_argv(files, tiny_vgg_path, out=files / ("o" * 246 + ".png")))
    assert code == 1
    line = one_error(err, "No space left on device", "kept it as")
    kept = [p for p in rescue.iterdir() if p.suffix == ".png"]
    assert len(kept) == 1 and str(kept[0]) in line


def test_a_full_disk_with_an_animation_is_one_line(files, tiny_vgg_path, tmp_path_factory):
    """imageio's writer fails again in its destructor: that must not print a second, 20-line traceback."""
    rescue = tmp_path_factory.mktemp("rescue")
    script = files.parent / f"{files.name}-full_disk.py"
    script.write_text(f"""
import errno, sys, tempfile
sys.path.insert(0, {str(nst.ROOT)!r})
import nst_utils
from PIL import Image
from nst_tools import cli
tempfile.tempdir = {str(rescue)!r}
real = Image.Image.save
def full(self, fp, *a, **k):
    if str(getattr(fp, "name", fp)).startswith({str(files)!r}):
        raise OSError(errno.ENOSPC, "No space left on device")
    return real(self, fp, *a, **k)
Image.Image.save = full
sys.exit(cli.main(sys.argv[1:]))
""")
    p = subprocess.run([sys.executable, str(script), *map(str, stylize_argv(
        files, tiny_vgg_path, "--animation", files / "a.gif", "--animation-every", "1"))],
        capture_output=True, text=True, timeout=300)
    assert p.returncode == 1
    one_error(p.stderr.strip().splitlines(), "No space left on device", "a.gif")
    assert sorted(q.suffix for q in rescue.iterdir()) == [".gif", ".png"]  # both kept
    assert sorted(q.name for q in files.iterdir()) == ["c.png", "s.jpg"]
