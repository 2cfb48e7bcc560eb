"""Hostile inputs, each run as a user would (``python3 nst_utils.py ...`` in a subprocess), and the one line it must get.

To add a case, add one row to ROWS (a dict; ``download()`` and ``stylize()`` fill in the usual arguments):

    id        the test's name
    argv      the command line after ``nst_utils.py``; ``{tmp}`` is the row's own folder, ``{url}`` the test
              server (routes below), ``{md5}`` / ``{size}`` the MD5 and size of the file it serves
    says      a phrase the single stderr line must contain (formatted like argv); None for a row that succeeds
    code      the exit status (1: a refused input, 2: argparse, 0: accepted)
    setup     optional ``setup(tmp)``: write the files the row needs before the run
    absent    paths that must not exist afterwards (default: ``{tmp}/w.mat`` for download rows, ``{tmp}/o.png``
              for stylize rows)
    present   paths that must exist afterwards
    hits      {route: requests}: how many requests each route must have had (0: refused before any transfer)
    not_says  phrases the line must not contain (e.g. "run the same command again" where rerunning cannot help)
    unchanged paths whose bytes must be the same as after setup
    no_read   True: run without root's override of file permissions (a chmod 000 file must stay unreadable)

Every row also asserts: no "Traceback" on stderr, and one stderr line when ``says`` is given. The server listens
on 127.0.0.1 only.
"""
import collections
import hashlib
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from vgg_fixture import write_vgg_h5, write_vgg_mat

pytestmark = pytest.mark.slow  # a notebook, a browser, a server or subprocesses

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = np.random.default_rng(16).bytes(300_000)
MD5 = hashlib.md5(PAYLOAD).hexdigest()
HTML = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please sign in</body></html>\n"


def run_nst(argv, timeout=180, no_read=False):
    """``python3 nst_utils.py *argv`` -> CompletedProcess (text). ``no_read``: as root, drop the capabilities that
    let root read any file, so that file permissions apply as they do for a learner."""
    cmd = [sys.executable, str(ROOT / "nst_utils.py"), *map(str, argv)]
    if no_read and os.geteuid() == 0:
        drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
        if not shutil.which("setpriv") or subprocess.run([*drop, "true"], capture_output=True).returncode:
            pytest.skip("root, and setpriv cannot drop the override of file permissions here")
        cmd = [*drop, *cmd]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("NST_VGG_PATH", None)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


# -- the test server: one route per kind of answer ----------------------------------------------------------------

class Server(http.server.BaseHTTPRequestHandler):
    hits = collections.Counter()

    def do_GET(self):
        route = self.path.strip("/")
        type(self).hits[route] += 1
        getattr(self, "route_" + route.replace("-", "_"), self.route_missing)()

    def log_message(self, *args):
        pass

    def _send(self, status, body, headers=()):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _start(self):
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        return int(match.group(1)) if match else 0

    def route_missing(self):
        self._send(404, b"not found", [("Content-Length", "9")])

    def route_file(self):  # a good server: ranges, 416 past the end (with the size, as real servers say it)
        start = self._start()
        if start >= len(PAYLOAD):
            return self._send(416, b"", [("Content-Range", f"bytes */{len(PAYLOAD)}"), ("Content-Length", "0")])
        body = PAYLOAD[start:]
        headers = [("Content-Length", str(len(body))), ("Content-Type", "application/octet-stream")]
        if start:
            headers.append(("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"))
        self._send(206 if start else 200, body, headers)

    def route_html(self):  # a login or "file moved" page
        self._send(200, HTML, [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(HTML)))])

    def route_html_as_binary(self):  # the same page, mislabelled
        self._send(200, HTML, [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(HTML)))])

    def route_empty(self):
        self._send(200, b"", [("Content-Length", "0")])

    def route_loop(self):
        self._send(302, b"", [("Location", "/loop"), ("Content-Length", "0")])

    def route_bad_length(self):
        self.close_connection = True
        self._send(200, PAYLOAD, [("Content-Length", "abc")])

    def route_short(self):  # promises the whole file, sends a third, hangs up
        self.close_connection = True
        self._send(200, PAYLOAD[:100_000], [("Content-Length", str(len(PAYLOAD)))])

    def route_always_416(self):  # answers every Range with 416 and the full size, however short the .part
        if self.headers.get("Range"):
            return self._send(416, b"", [("Content-Range", f"bytes */{len(PAYLOAD)}"), ("Content-Length", "0")])
        self.route_file()

    def route_bare_416(self):  # 416 without saying the file's size
        if self.headers.get("Range"):
            return self._send(416, b"", [("Content-Length", "0")])
        self.route_file()


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Server)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# -- setups ---------------------------------------------------------------------------------------------------------

def images(tmp):
    for name, value in (("c.png", 90), ("s.png", 200)):
        Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(tmp / name)


def part(data):
    return lambda tmp: (tmp / "w.mat.part").write_bytes(data)


def mat(**kw):
    """Setup: the content and style images and a small VGG .mat at {tmp}/w.mat (``write_vgg_mat``'s keywords)."""
    def setup(tmp):
        images(tmp)
        write_vgg_mat(tmp / "w.mat", width=2, **kw)
    return setup


def h5(**kw):
    def setup(tmp):
        images(tmp)
        write_vgg_h5(tmp / "w.h5", width=2, **kw)
    return setup


def _set(k, b, which, value, where=(0, 0, 0, 0)):
    k, b = k.astype(np.result_type(k, value)), b.astype(np.result_type(b, value))
    if which == "kernel":
        k[where] = value
    else:
        b[-1] = value
    return k, b


def damaged(layer, which, value):
    """``corrupt=`` for write_vgg_mat/h5: one number of ``layer``'s kernel or bias replaced by ``value``."""
    return {layer: lambda k, b: _set(k, b, which, value)}


def unreadable(setup, what="file"):
    """``setup``, then chmod 000 the weights file (or, what="folder", its folder)."""
    def run(tmp):
        setup(tmp)
        weights = tmp / "w.mat"
        if what == "folder":
            (tmp / "private").mkdir()
            weights = weights.rename(tmp / "private" / "w.mat").parent
        weights.chmod(0)
    return run


def in_folder(name):
    """Setup: images, and a folder ``{tmp}/weights`` holding a small VGG saved as ``name`` (None: empty)."""
    def setup(tmp):
        images(tmp)
        (tmp / "weights").mkdir()
        if name:
            write_vgg_mat(tmp / "weights" / name, width=2)
    return setup


def download(id, *args, says, code=1, output="{tmp}/w.mat", **row):
    """A download-weights row: ``--quiet --output {tmp}/w.mat`` then ``args``."""
    row.setdefault("absent", [output])
    return dict(id=id, argv=["download-weights", "--quiet", "--output", output, *args], says=says, code=code, **row)


def stylize(id, *, weights="{tmp}/w.mat", says, code=1, **row):
    """A stylize row on {tmp}/c.png and {tmp}/s.png (16x16, one iteration) with ``--weights weights``."""
    row.setdefault("absent", ["{tmp}/o.png"])
    argv = ["stylize", "{tmp}/c.png", "{tmp}/s.png", "-o", "{tmp}/o.png", "--weights", weights, "--size", "16x16",
            "--iterations", "1", "--quiet"]
    return dict(id=id, argv=argv, says=says, code=code, **row)


MAT_HINT = "re-download it with: python3 nst_utils.py download-weights"
AGAIN = "run the same command again"
UPPER = MD5.upper()

ROWS = [
    # -- download-weights: the MD5 as people paste it ------------------------------------------------------------
    download("md5-upper-case", "--url", "{url}/file", "--md5", UPPER, "--size", "{size}", says=None, code=0,
             absent=[], present=["{tmp}/w.mat"]),
    download("md5-as-md5sum-prints-it", "--url", "{url}/file", "--md5", MD5 + "  imagenet-vgg-verydeep-19.mat",
             "--size", "{size}", says=None, code=0, absent=[], present=["{tmp}/w.mat"]),
    download("md5-too-short", "--url", "{url}/file", "--md5", MD5[:31], "--size", "{size}",
             says="md5 must be 32 hexadecimal digits", hits={"file": 0}),
    download("md5-not-hex", "--url", "{url}/file", "--md5", "z" * 32, "--size", "{size}",
             says="md5 must be 32 hexadecimal digits", hits={"file": 0}),
    # -- download-weights: what is already on disk ---------------------------------------------------------------
    download("wrong-size-file-at-output", "--url", "{url}/file", "--md5", "", "--size", "{size}",
             setup=lambda tmp: (tmp / "w.mat").write_bytes(b"not the weights"), absent=[],
             unchanged=["{tmp}/w.mat"], hits={"file": 0},
             says="{tmp}/w.mat is already there but has 15 bytes, not the expected 300000"),
    download("missing-output-folder", "--url", "{url}/file", "--md5", "{md5}", "--size", "{size}",
             output="{tmp}/no/such/w.mat", absent=["{tmp}/no"], hits={"file": 0},
             says="output folder does not exist: {tmp}/no/such"),
    # -- download-weights: malformed URL and headers ---------------------------------------------------------------
    download("url-bad-ipv6", "--url", "http://[::1", "--md5", "{md5}", "--size", "{size}",
             says="url 'http://[::1' is not a valid URL"),
    download("url-bad-port", "--url", "http://127.0.0.1:port/w.mat", "--md5", "{md5}", "--size", "{size}",
             says="url 'http://127.0.0.1:port/w.mat' is not a valid URL"),
    download("content-length-not-a-number", "--url", "{url}/bad-length", "--md5", "{md5}", "--size", "{size}",
             says="the server sent an invalid Content-Length ('abc')", not_says=[AGAIN],
             absent=["{tmp}/w.mat", "{tmp}/w.mat.part"]),
    download("body-shorter-than-content-length", "--url", "{url}/short", "--md5", "", "--size", "0",
             says="download incomplete: 100000 of 300000 bytes", present=["{tmp}/w.mat.part"]),
    # -- download-weights: answers that are not the file ---------------------------------------------------------
    download("html-page", "--url", "{url}/html", "--md5", "{md5}", "--size", "{size}", not_says=[AGAIN],
             says="the server sent an HTML page, not the weights", absent=["{tmp}/w.mat", "{tmp}/w.mat.part"]),
    download("html-page-unknown-size", "--url", "{url}/html", "--md5", "", "--size", "0", not_says=[AGAIN],
             says="the server sent an HTML page, not the weights", absent=["{tmp}/w.mat", "{tmp}/w.mat.part"]),
    download("html-page-as-binary", "--url", "{url}/html-as-binary", "--md5", "", "--size", "0",
             not_says=[AGAIN], says="the server sent an HTML page, not the weights",
             absent=["{tmp}/w.mat", "{tmp}/w.mat.part"]),
    download("empty-body", "--url", "{url}/empty", "--md5", "{md5}", "--size", "{size}", not_says=[AGAIN],
             says="the server sent an empty file", absent=["{tmp}/w.mat", "{tmp}/w.mat.part"]),
    download("redirect-loop", "--url", "{url}/loop", "--md5", "{md5}", "--size", "{size}", not_says=[AGAIN],
             says="redirects in a loop"),
    # -- download-weights: HTTP 416 is not "complete" unless the .part has the file's size -----------------------
    download("416-to-a-short-part-size-unknown", "--url", "{url}/always-416", "--md5", "", "--size", "0",
             setup=part(PAYLOAD[:1000]), says="HTTP 416"),
    download("416-to-a-short-part-size-known", "--url", "{url}/always-416", "--md5", "", "--size", "{size}",
             setup=part(PAYLOAD[:1000]), says="HTTP 416"),
    download("416-without-a-size", "--url", "{url}/bare-416", "--md5", "", "--size", "0",
             setup=part(PAYLOAD[:1000]), says="HTTP 416"),
    download("416-to-a-complete-part", "--url", "{url}/file", "--md5", "", "--size", "0",
             setup=part(PAYLOAD), says=None, code=0, absent=["{tmp}/w.mat.part"], present=["{tmp}/w.mat"]),
    # -- weights that load but are wrong -------------------------------------------------------------------------
    stylize("mean-nan", setup=mat(mean=[np.nan, 116.8, 103.9]),
            says=f"{{tmp}}/w.mat: the mean pixel (meta.normalization.averageImage) is not 3 finite numbers in "
                 f"[0, 255]: the file is damaged; {MAT_HINT}"),
    stylize("mean-too-big", setup=mat(mean=[123.7, 300.0, 103.9]),
            says="the mean pixel (meta.normalization.averageImage) is not 3 finite numbers in [0, 255]"),
    stylize("mean-four-numbers", setup=mat(mean=[1.0, 2.0, 3.0, 4.0]),
            says="the mean pixel (meta.normalization.averageImage) is not 3 finite numbers in [0, 255]"),
    stylize("mean-complex", setup=mat(mean=np.array([123.7, 116.8, 103.9]) * (1 + 1j)),
            says="the mean pixel (meta.normalization.averageImage) is not 3 finite numbers in [0, 255]"),
    stylize("kernel-1e30", setup=mat(corrupt=damaged("conv3_1", "kernel", 1e30)),
            says=f"{{tmp}}/w.mat: layer conv3_1 has a kernel weight of 1e+30, beyond any real VGG's (at most 1000): "
                 f"the file is damaged; {MAT_HINT}"),
    stylize("bias-1e30", setup=mat(corrupt=damaged("conv5_2", "bias", -1e30)),
            says="layer conv5_2 has a bias of -1e+30, beyond any real VGG's (at most 100000)"),
    stylize("kernel-complex", setup=mat(corrupt=damaged("conv2_1", "kernel", 1j)),
            says=f"{{tmp}}/w.mat: layer conv2_1 has complex weights: the file is damaged; {MAT_HINT}"),
    stylize("h5-kernel-1e30", weights="{tmp}/w.h5", setup=h5(corrupt=damaged("conv4_2", "kernel", 1e30)),
            says="{tmp}/w.h5: layer conv4_2 has a kernel weight of 1e+30, beyond any real VGG's (at most 1000): the "
                 f"file is damaged; {MAT_HINT} --source keras"),
    stylize("h5-kernel-complex", weights="{tmp}/w.h5", setup=h5(corrupt=damaged("conv1_1", "kernel", 1j)),
            says="{tmp}/w.h5: layer conv1_1 has complex weights: the file is damaged"),
    # -- weights a learner cannot read, or a folder -----------------------------------------------------------------
    stylize("weights-permission-denied", setup=unreadable(mat()), no_read=True, not_says=["download"],
            says="cannot read {tmp}/w.mat: permission denied; fix its permissions (chmod u+r {tmp}/w.mat)"),
    stylize("weights-folder-permission-denied", weights="{tmp}/private/w.mat", setup=unreadable(mat(), "folder"),
            no_read=True, not_says=["download"],
            says="cannot read {tmp}/private/w.mat: permission denied; fix the permissions of its folder "
                 "(chmod u+rx {tmp}/private)"),
    stylize("weights-is-an-empty-folder", weights="{tmp}/weights", setup=in_folder(None),
            says="VGG weights not found at {tmp}/weights/imagenet-vgg-verydeep-19.mat; get them with `python3 "
                 "nst_utils.py download-weights`"),
    stylize("weights-is-an-empty-folder-the-command", weights="{tmp}/weights", setup=in_folder(None),
            says="to download it to that path: python3 nst_utils.py download-weights --output "
                 "{tmp}/weights/imagenet-vgg-verydeep-19.mat"),
    stylize("weights-is-a-folder-with-the-mat", weights="{tmp}/weights",
            setup=in_folder("imagenet-vgg-verydeep-19.mat"), says=None, code=0, absent=[], present=["{tmp}/o.png"]),
]


def _fill(text, values):
    return text.format(**values) if isinstance(text, str) else text


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_hostile_input_gets_its_one_line(row, server, tmp_path):
    assert not set(row) - {"id", "argv", "says", "code", "setup", "absent", "present", "hits", "not_says",
                           "unchanged", "no_read"}, "unknown key in the row"
    values = {"tmp": tmp_path, "url": server, "md5": MD5, "size": len(PAYLOAD)}
    if row.get("setup"):
        row["setup"](tmp_path)
    before = {p: Path(_fill(p, values)).read_bytes() for p in row.get("unchanged", [])}
    Server.hits.clear()
    try:
        proc = run_nst([_fill(a, values) for a in row["argv"]], no_read=row.get("no_read", False))
    finally:
        for p in [tmp_path, *tmp_path.rglob("*")]:  # undo a chmod 000, so that pytest can clean up
            if not p.is_symlink():
                p.chmod(0o755 if p.is_dir() else 0o644)
    err = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == row["code"], proc.stderr
    if row["says"] is not None:
        assert len(err) == 1, err
        assert _fill(row["says"], values) in err[0], err[0]
        assert err[0].startswith(f"nst_utils.py {row['argv'][0]}: error: "), err[0]
    for phrase in row.get("not_says", []):
        assert phrase not in proc.stderr, proc.stderr
    for p in row.get("absent", []):
        assert not Path(_fill(p, values)).exists(), f"{p} exists"
    for p in row.get("present", []):
        assert Path(_fill(p, values)).exists(), f"{p} missing"
    for p, data in before.items():
        assert Path(_fill(p, values)).read_bytes() == data, f"{p} changed"
    for route, count in row.get("hits", {}).items():
        assert Server.hits[route] == count, (route, dict(Server.hits))


def test_the_rows_are_well_formed():
    """Each row's id is unique, and a row that expects a refusal expects a non-zero status (and vice versa)."""
    ids = [row["id"] for row in ROWS]
    assert len(ids) == len(set(ids))
    assert all((row["says"] is None) == (row["code"] == 0) for row in ROWS)
