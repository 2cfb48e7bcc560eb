"""Downloading the VGG weights: resumable, size- and MD5-checked, never a half-written file.
"""
from __future__ import annotations

import errno
import hashlib
import http.client
import os
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from nst_utils import DEFAULT_WEIGHTS, KERAS_WEIGHTS, NSTError

WEIGHTS_URL = "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat"

WEIGHTS_MD5 = "106118b7cf60435e6d8e04f6a6dc3657"

WEIGHTS_SIZE = 534_904_783

# The weights one can download: source -> URL, MD5, size in bytes, default output. Keras's file (VGG19 without
# its classifier, the same Caffe-trained weights in HDF5): URL and MD5 (`file_hash`) as in Keras's vgg19.py.
SOURCES = {
    "matconvnet": {"url": WEIGHTS_URL, "md5": WEIGHTS_MD5, "size": WEIGHTS_SIZE, "output": DEFAULT_WEIGHTS},
    "keras": {"url": "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
                     "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
              "md5": "253f8cb515780f3b799900260a226db6", "size": 80_134_624, "output": KERAS_WEIGHTS},
}

# What to do when the server's answer is not the file (an HTML page, nothing, a redirect loop): running again won't help.
BROWSER = "the URL is wrong or needs a login; download the file in a browser and give it to stylize with --weights PATH"


def probe_writable(folder):
    """Make and remove a temporary file in ``folder``: raises OSError where no file can be written."""
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".nst-probe-")
    os.close(fd)
    os.remove(probe)


def file_md5(path, chunk=1 << 20) -> str:
    """MD5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def download_weights(output=None, url=None, md5=None, size=None, progress=True, timeout=60,
                     source="matconvnet") -> Path:
    """Download the VGG weights to ``output``: resumable (``output.part``), MD5-checked, then moved.

    ``source``: a key of ``SOURCES``, which gives each of ``output``, ``url``, ``md5``, ``size`` left as None.
    ``md5``: 32 hex digits in either case, or a line as ``md5sum`` prints it; ``""`` skips the check.
    The folder of a given ``output`` must exist; the source's default folder (pretrained-model/) is made.
    A partial download is kept as ``<output>.part`` and resumed with an HTTP Range request next time.
    The file appears at ``output`` only once its size and MD5 match. Everything the arguments, the file already
    at ``output`` and the server's headers can tell is checked before the body is read.
    """
    if source not in SOURCES:
        raise NSTError(f"source must be one of {', '.join(sorted(SOURCES))}, not {source!r}")
    default_folder = output is None
    given = {"output": output, "url": url, "md5": md5, "size": size}
    output, url, md5, size = (SOURCES[source][k] if v is None else v for k, v in given.items())
    md5 = _check_md5(md5)
    made = [p for p in (Path(output).parent, *Path(output).parent.parents) if not p.exists()]  # innermost first
    try:
        return _fetch(_check_download(output, url, size, make_folder=default_folder), url, md5, size, progress,
                      timeout)
    except BaseException:
        for folder in made:  # a failed download leaves no empty folders behind (a kept .part keeps its own)
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _fetch(output, url, md5, size, progress, timeout) -> Path:
    """download_weights once its arguments are checked and ``output``'s folder exists."""
    from tqdm import tqdm

    if output.is_file():
        there = output.stat().st_size
        if size and there != size:
            raise NSTError(f"{output} is already there but has {there} bytes, not the expected {size}: it is "
                           f"another file or a damaged copy; move it away or delete it (rm {output}), or give "
                           "another --output")
        if not md5 or file_md5(output) == md5:
            print(f"{output} is already there" + (" and its MD5 matches" if md5 else ""), file=sys.stderr)
            return output
        print(f"{output} is there but its MD5 does not match: downloading it again", file=sys.stderr)
    part = output.with_name(output.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    if size and have > size:
        part.unlink()
        have = 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        response = None
        if exc.code == 416 and have:
            _after_416(exc, part, have, size, md5, url)  # returns only if the .part may be complete
        elif 300 <= exc.code < 400 and "loop" in str(exc.reason):  # urllib's words for a loop or too many hops
            raise NSTError(f"download failed: {url} redirects in a loop (HTTP {exc.code}); {BROWSER}") from None
        else:
            raise NSTError(f"download failed: HTTP {exc.code} from {url}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        then = (f"partial data kept in {part}, run the same command again to resume" if have else
                "check the URL and the connection, then run the same command again")
        raise NSTError(f"download failed: cannot reach {url} ({reason}); {then}") from None
    expected = size
    if response is not None:
        with response:
            if have and response.status != 206:  # server ignored the Range: start again
                have = 0
            expected = _check_response(response, url, have, size)
            _receive(response, part, have, expected, tqdm(
                total=expected or None, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                desc=output.name, disable=not progress, file=sys.stderr))
    got = part.stat().st_size
    if expected and got > expected:
        part.unlink()
        raise NSTError(f"the server sent more than the expected {expected} bytes: check the URL and the size "
                       "(0: unknown); nothing was kept")
    if expected and got != expected:
        raise NSTError(f"download incomplete: {got} of {expected} bytes in {part}; run the same command again "
                       "to resume")
    if md5:
        actual = file_md5(part)
        if actual != md5:
            part.unlink()
            raise NSTError(f"MD5 mismatch ({actual}, expected {md5}); the corrupt download was deleted, "
                           "run the same command again")
    os.replace(part, output)
    return output


def _check_md5(md5) -> str:
    """The expected MD5 as 32 lower-case hex digits ('' to skip): case and md5sum's "HASH  name" line accepted."""
    text = str(md5).strip()
    if not text:
        return ""
    match = (re.fullmatch(r"\\?([0-9a-fA-F]{32})(?:[ \t]+\*?\S.*)?", text)  # md5sum: "HASH  name", "HASH *name"
             or re.fullmatch(r"MD5 ?\(.*\) ?= ?([0-9a-fA-F]{32})", text))  # BSD/macOS md5: "MD5 (name) = HASH"
    if match is None:
        raise NSTError(f"md5 must be 32 hexadecimal digits (as md5sum prints them), or '' to skip the check; "
                       f"got {text!r}")
    return match.group(1).lower()


def _after_416(exc, part, have, size, md5, url):
    """HTTP 416 to ``Range: bytes=have-``: return if ``part`` may be the whole file (its size and MD5 are checked
    next); else delete it and raise. The .part is complete only if it has the size expected (``size``, or the
    server's "Content-Range: bytes */N"), or, with no size known at all, if an MD5 is there to check it."""
    found = re.fullmatch(r"bytes \*/(\d+)", (exc.headers or {}).get("Content-Range", "").strip())
    total = int(found.group(1)) if found else 0
    expected = size or total
    if expected and have == expected and (not size or not total or total == size) or not expected and md5:
        return
    part.unlink()
    raise NSTError(f"download failed: HTTP 416 from {url}: the server would not resume the partial download "
                   f"({have} of {expected or 'an unknown number of'} bytes), which was deleted; run the same command "
                   "again to download it from the start")


def _check_response(response, url, have, size) -> int:
    """The file's size as the headers give it (``size`` if known); NSTError before any body is read if the
    answer is an HTML page, empty, has a malformed Content-Length or a size other than ``size``."""
    if response.headers.get_content_type() == "text/html":
        raise NSTError(f"download failed: the server sent an HTML page, not the weights: {BROWSER}")
    length = response.headers.get("Content-Length")
    if length is not None and not length.strip().isdigit():
        raise NSTError(f"download failed: the server sent an invalid Content-Length ({length!r}) for {url}; {BROWSER}")
    if length is None:
        return size
    found = re.fullmatch(r"bytes \d+-\d+/(\d+)", response.headers.get("Content-Range", "").strip())
    total = int(found.group(1)) if found and have else have + int(length)
    if total == have:
        raise NSTError(f"download failed: the server sent an empty file for {url}; {BROWSER}" if not have else
                       f"download failed: the server sent nothing after the {have} bytes in the .part; delete it "
                       "and run the same command again")
    if size and total != size:
        more = "more" if total > size else "fewer"
        raise NSTError(f"the server's file has {total} bytes, {more} than the expected {size}: check the URL and "
                       "the size (0: unknown); nothing was downloaded")
    return total


def _check_download(output, url, size, make_folder=False) -> Path:
    """``output`` as a Path once the arguments make sense and its folder takes a new file, else NSTError.
    ``make_folder``: create a missing folder (the source's default one); a folder the user names must exist,
    as for ``stylize -o``: a typo in it would otherwise put the file where nothing looks for it."""
    try:
        parts = urllib.parse.urlsplit(str(url))
        _ = parts.port  # ValueError for a port that is not a number
    except ValueError as exc:
        raise NSTError(f"url {url!r} is not a valid URL ({exc}): give one like https://host/path/file.mat") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NSTError(f"url must start with http:// or https:// and name a server, got {url!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise NSTError(f"size must be a whole number of bytes >= 0 (0: unknown), got {size!r}")
    output = Path(output)
    if output.is_dir():
        raise NSTError(f"output {output} is a directory: give a file path, e.g. {output / DEFAULT_WEIGHTS.name}")
    if not make_folder and not output.parent.is_dir():
        raise NSTError(f"output folder does not exist: {output.parent}")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        probe_writable(output.parent)
    except OSError as exc:
        raise NSTError(f"cannot write in {output.parent} ({exc.strerror or exc}): give another output path") \
            from None
    return output


def _receive(response, part, have, size, bar):
    """Append the response's body to ``part`` (or write it afresh if ``have`` is 0), never far past ``size``.
    A fresh body that starts like an HTML page, or is empty, is refused before anything is written."""
    try:
        block = response.read(1 << 16)
        if not have and _looks_like_html(block):
            raise NSTError(f"download failed: the server sent an HTML page, not the weights: {BROWSER}")
        if not have and not block:
            raise NSTError(f"download failed: the server sent an empty file; {BROWSER}")
        with bar, open(part, "ab" if have else "wb") as f:
            while block:
                f.write(block)
                bar.update(len(block))
                have += len(block)
                if size and have > size:
                    break  # more than expected: the caller says so
                block = response.read(1 << 16)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise NSTError(f"the disk is full ({exc.strerror}) while writing {part}: free some space, then "
                           "run the same command again to resume") from None
        if not isinstance(exc, urllib.error.URLError) and exc.filename is not None:
            raise NSTError(f"cannot write {part} ({exc.strerror or exc})") from None
        raise NSTError(f"download interrupted ({exc}); run the same command again to resume") from None
    except (urllib.error.URLError, http.client.HTTPException) as exc:
        raise NSTError(f"download interrupted ({exc}); run the same command again to resume") from None


def _looks_like_html(block) -> bool:
    """Whether the first bytes of a body are an HTML page (a login or error page served as the file)."""
    head = block.lstrip()[:14].lower()
    return head.startswith(b"<!doctype html") or head.startswith(b"<html")
