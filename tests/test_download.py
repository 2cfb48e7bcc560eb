"""download-weights against a small file served on 127.0.0.1 by the test: resume, MD5, no half files."""
import errno
import hashlib
import http.server
import re
import threading

import numpy as np
import pytest

import nst_utils as nst
from nst_tools import cli, download

PAYLOAD = np.random.default_rng(7).bytes(300_000)
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    ranges = True  # honour Range requests
    cut_at = None  # close the connection after this many bytes
    extra = b""  # bytes sent after the payload (a server whose file is bigger than expected)
    seen = []

    def do_GET(self):
        rng = self.headers.get("Range")
        type(self).seen.append(rng)
        start = int(re.match(r"bytes=(\d+)-", rng).group(1)) if rng and self.ranges else 0
        if start >= len(PAYLOAD):  # as real servers do
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
            self.end_headers()
            return
        body = PAYLOAD[start:] + self.extra
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.end_headers()
        if self.cut_at is not None:
            self.wfile.write(body[: self.cut_at])
            self.wfile.flush()
            self.connection.close()
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.ranges, Handler.cut_at, Handler.extra, Handler.seen = True, None, b"", []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/imagenet-vgg-verydeep-19.mat"
    httpd.shutdown()
    httpd.server_close()


def fetch(url, out, **kw):
    return download.download_weights(out, url=url, md5=kw.pop("md5", MD5), size=kw.pop("size", len(PAYLOAD)),
                                progress=False, timeout=10, **kw)


def test_full_download(server, tmp_path):
    out = tmp_path / "w.mat"
    assert fetch(server, out) == out
    assert out.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.mat"]
    assert Handler.seen == [None]


def test_resumes_a_partial_download(server, tmp_path):
    out = tmp_path / "w.mat"
    (tmp_path / "w.mat.part").write_bytes(PAYLOAD[:123_456])
    fetch(server, out)
    assert Handler.seen == ["bytes=123456-"]
    assert out.read_bytes() == PAYLOAD and not (tmp_path / "w.mat.part").exists()


def test_server_without_ranges_restarts_cleanly(server, tmp_path):
    Handler.ranges = False
    (tmp_path / "w.mat.part").write_bytes(PAYLOAD[:1000])
    fetch(server, tmp_path / "w.mat")
    assert (tmp_path / "w.mat").read_bytes() == PAYLOAD


def test_dropped_connection_keeps_the_part_and_resumes(server, tmp_path):
    out = tmp_path / "w.mat"
    Handler.cut_at = 100_000
    with pytest.raises(nst.NSTError, match="run the same command again to resume"):
        fetch(server, out)
    assert not out.exists()
    assert (tmp_path / "w.mat.part").stat().st_size == 100_000
    Handler.cut_at = None
    fetch(server, out)
    assert out.read_bytes() == PAYLOAD and Handler.seen[-1] == "bytes=100000-"


def test_md5_mismatch_leaves_nothing(server, tmp_path):
    out = tmp_path / "w.mat"
    with pytest.raises(nst.NSTError, match="MD5 mismatch"):
        fetch(server, out, md5="0" * 32)
    assert list(tmp_path.iterdir()) == []


def test_existing_good_file_is_kept(server, tmp_path):
    out = tmp_path / "w.mat"
    out.write_bytes(PAYLOAD)
    fetch(server, out)
    assert Handler.seen == []


def test_unreachable_server_is_one_clear_error(tmp_path):
    with pytest.raises(nst.NSTError, match="download failed: cannot reach"):
        fetch("http://127.0.0.1:9/none.mat", tmp_path / "w.mat")


def test_cli_download_weights(server, tmp_path, capsys):
    out = tmp_path / "sub" / "w.mat"
    argv = ["download-weights", "--output", str(out), "--url", server, "--md5", MD5, "--size", str(len(PAYLOAD)),
            "--quiet"]
    assert cli.main(argv) == 1  # a folder given with --output must exist, as for stylize -o
    assert capsys.readouterr().err.strip() == f"nst_utils.py download-weights: error: output folder does not exist: " \
                                              f"{tmp_path / 'sub'}"
    assert list(tmp_path.iterdir()) == [] and Handler.seen == []
    (tmp_path / "sub").mkdir()
    code = cli.main(argv)
    assert code == 0 and out.read_bytes() == PAYLOAD
    assert capsys.readouterr().out.strip() == f"saved {out}"
    code = cli.main(["download-weights", "--output", str(tmp_path / "x.mat"), "--url", server,
                     "--md5", "f" * 32, "--size", str(len(PAYLOAD)), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "MD5 mismatch" in err[0]


def test_defaults_are_the_real_file():
    assert download.WEIGHTS_MD5 == "106118b7cf60435e6d8e04f6a6dc3657" and download.WEIGHTS_SIZE == 534_904_783
    assert download.WEIGHTS_URL.endswith("/imagenet-vgg-verydeep-19.mat")


def test_keras_source_downloads_its_file_and_checks_its_md5(server, tmp_path, capsys, monkeypatch):
    out = tmp_path / "k.h5"
    monkeypatch.setitem(download.SOURCES, "keras", {"url": server, "md5": MD5, "size": len(PAYLOAD), "output": out})
    assert cli.main(["download-weights", "--source", "keras", "--quiet"]) == 0
    assert out.read_bytes() == PAYLOAD and capsys.readouterr().out.strip() == f"saved {out}"
    monkeypatch.setitem(download.SOURCES, "keras", dict(download.SOURCES["keras"], md5="e" * 32))
    out.unlink()
    assert cli.main(["download-weights", "--source", "keras", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"MD5 mismatch ({MD5}, expected {'e' * 32})" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_keras_source_defaults_are_kerass_file(server, tmp_path, capsys):
    keras = download.SOURCES["keras"]
    assert keras["url"] == ("https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
                            "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    assert keras["md5"] == "253f8cb515780f3b799900260a226db6" and keras["size"] == 80_134_624  # Keras's vgg19.py
    assert keras["output"] == nst.KERAS_WEIGHTS == nst.ROOT / "pretrained-model" / keras["url"].rsplit("/", 1)[1]
    assert download.SOURCES["matconvnet"] == {"url": download.WEIGHTS_URL, "md5": download.WEIGHTS_MD5,
                                              "size": download.WEIGHTS_SIZE, "output": nst.DEFAULT_WEIGHTS}
    # Only the URL replaced (size unknown): the payload is checked against Keras's MD5, and rejected.
    code = cli.main(["download-weights", "--source", "keras", "--url", server, "--output", str(tmp_path / "k.h5"),
                     "--size", "0", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == [f"nst_utils.py download-weights: error: MD5 mismatch ({MD5}, expected "
                                 "253f8cb515780f3b799900260a226db6); the corrupt download was deleted, run the "
                                 "same command again"]


def test_unknown_source_is_a_library_error(tmp_path):
    with pytest.raises(nst.NSTError, match=r"^source must be one of keras, matconvnet, not 'caffe'$"):
        download.download_weights(tmp_path / "x", source="caffe")


def test_existing_corrupt_file_is_downloaded_again(server, tmp_path):
    out = tmp_path / "w.mat"
    out.write_bytes(PAYLOAD[:-1] + b"x")  # right size, wrong bytes: only the MD5 tells
    fetch(server, out)
    assert out.read_bytes() == PAYLOAD and Handler.seen == [None]


@pytest.mark.parametrize("argv,message", [
    (["--output", "{d}"], "is a directory"),
    (["--output", "/sys/w.mat"], "cannot write"),
    (["--url", "notaurl"], "http:// or https://"),
    (["--url", "http://"], "http:// or https://"),
    (["--size", "-5"], "must be at least 0"),
])
def test_bad_arguments_are_one_line_before_any_transfer(server, tmp_path, run_main, argv, message):
    if "/sys/" in argv[-1] and not __import__("os").path.isdir("/sys"):
        pytest.skip("no /sys")
    argv = [a.format(d=tmp_path) for a in argv]
    base = {"--output": str(tmp_path / "w.mat"), "--url": server, "--size": str(len(PAYLOAD))}
    base.update(dict(zip(argv[::2], argv[1::2])))
    code, err = run_main(["download-weights", "--quiet", "--md5", MD5, *[x for kv in base.items() for x in kv]])
    assert code in (1, 2) and len(err) == 1 and message in err[0], err
    assert Handler.seen == [] and list(tmp_path.iterdir()) == []


def test_more_bytes_than_expected_is_not_resumable(server, tmp_path):
    Handler.extra = b"0" * 5000
    for _ in range(2):  # the same answer each time, never "run again to resume"
        with pytest.raises(nst.NSTError, match="more than the expected") as info:
            fetch(server, tmp_path / "w.mat")
        assert "resume" not in str(info.value)
        assert list(tmp_path.iterdir()) == []


def test_unknown_size_with_a_complete_part(server, tmp_path):
    out = tmp_path / "w.mat"
    (tmp_path / "w.mat.part").write_bytes(PAYLOAD)
    assert fetch(server, out, size=0) == out  # the server answers 416: the .part is complete
    assert out.read_bytes() == PAYLOAD and not (tmp_path / "w.mat.part").exists()
    (tmp_path / "v.mat.part").write_bytes(PAYLOAD[:-1] + b"x")
    with pytest.raises(nst.NSTError, match="MD5 mismatch"):
        fetch(server, tmp_path / "v.mat", size=0)
    assert not (tmp_path / "v.mat.part").exists()


def test_unreachable_server_claims_partial_data_only_if_there_is_some(tmp_path):
    with pytest.raises(nst.NSTError) as info:
        fetch("http://127.0.0.1:9/none.mat", tmp_path / "w.mat")
    assert "partial data" not in str(info.value)
    (tmp_path / "w.mat.part").write_bytes(PAYLOAD[:10])
    with pytest.raises(nst.NSTError, match="partial data kept"):
        fetch("http://127.0.0.1:9/none.mat", tmp_path / "w.mat")


def test_full_disk_says_so(server, tmp_path, monkeypatch):
    class Full:
        def __init__(self, *a):
            self.f = open(*a)

        def write(self, block):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(download, "open", Full, raising=False)
    with pytest.raises(nst.NSTError, match="disk is full") as info:
        fetch(server, tmp_path / "w.mat")
    assert "No space left on device" in str(info.value)


@pytest.mark.parametrize("given", [MD5.upper(), f"{MD5}  imagenet-vgg-verydeep-19.mat", f"{MD5} *w.mat",
                                   f"\\{MD5}  odd\\nname.mat", f"MD5 (w.mat) = {MD5}", f" {MD5}\n"])
def test_md5_as_people_paste_it(server, tmp_path, given):
    out = tmp_path / "w.mat"
    assert fetch(server, out, md5=given) == out and out.read_bytes() == PAYLOAD
    out.write_bytes(PAYLOAD[:-1] + b"x")  # and it is still checked: a wrong file is fetched again
    fetch(server, out, md5=given)
    assert out.read_bytes() == PAYLOAD


@pytest.mark.parametrize("given", [MD5[:-1], MD5 + "0", "g" * 32, f"{MD5[:16]} {MD5[16:]}", "md5", "None"])
def test_malformed_md5_is_refused_before_any_transfer(server, tmp_path, given):
    with pytest.raises(nst.NSTError, match=r"^md5 must be 32 hexadecimal digits \(as md5sum prints them\), or '' "
                                           r"to skip the check; got "):
        fetch(server, tmp_path / "w.mat", md5=given)
    assert Handler.seen == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("offset", [-1, 1])
def test_a_server_file_of_another_size_is_refused_before_its_body(server, tmp_path, offset, monkeypatch):
    wrote = []
    monkeypatch.setattr(download, "_receive", lambda *a: wrote.append(1))
    with pytest.raises(nst.NSTError, match=rf"^the server's file has {len(PAYLOAD)} bytes, "
                                           rf"{'more' if offset < 0 else 'fewer'} than the expected"):
        fetch(server, tmp_path / "w.mat", size=len(PAYLOAD) + offset)
    assert wrote == [] and list(tmp_path.iterdir()) == []


def test_the_default_folder_is_made_but_a_given_one_must_exist(server, tmp_path, monkeypatch):
    default = tmp_path / "pretrained-model" / "k.h5"
    monkeypatch.setitem(download.SOURCES, "keras", {"url": server, "md5": MD5, "size": len(PAYLOAD), "output": default})
    assert download.download_weights(source="keras", progress=False) == default and default.read_bytes() == PAYLOAD
    with pytest.raises(nst.NSTError, match=rf"^output folder does not exist: {re.escape(str(tmp_path / 'other'))}$"):
        download.download_weights(tmp_path / "other" / "k.h5", source="keras", progress=False)
    assert not (tmp_path / "other").exists()


def test_a_416_to_a_short_part_is_not_complete(server, tmp_path, monkeypatch):
    """However the 416 comes (with the server's size, or without), a .part shorter than the file never lands."""
    out = tmp_path / "w.mat"
    real, bare = Handler.do_GET, {"yes": False}

    def always_416(self):
        if self.headers.get("Range"):
            type(self).seen.append(self.headers["Range"])
            self.send_response(416)
            if not bare["yes"]:
                self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
            self.end_headers()
            return
        real(self)

    monkeypatch.setattr(Handler, "do_GET", always_416)
    for bare["yes"], size in [(False, 0), (False, len(PAYLOAD)), (True, 0)]:
        (tmp_path / "w.mat.part").write_bytes(PAYLOAD[:5000])
        with pytest.raises(nst.NSTError, match="HTTP 416"):
            fetch(server, out, md5="", size=size)
        assert not out.exists()
        assert fetch(server, out, md5="", size=size) == out and out.read_bytes() == PAYLOAD  # the next run: afresh
        out.unlink()
