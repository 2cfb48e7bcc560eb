"""Downloading the VGG weights: resumable, size- and MD5-checked, never a half-written file.
"""
from __future__ import annotations

import errno
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from nst_utils import DEFAULT_WEIGHTS, KERAS_WEIGHTS, NSTError, probe_writable

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
    A partial download is kept as ``<output>.part`` and resumed with an HTTP Range request next time.
    The file appears at ``output`` only once its size and MD5 match.
    """
    if source not in SOURCES:
        raise NSTError(f"source must be one of {', '.join(sorted(SOURCES))}, not {source!r}")
    given = {"output": output, "url": url, "md5": md5, "size": size}
    output, url, md5, size = (SOURCES[source][k] if v is None else v for k, v in given.items())
    made = [p for p in (Path(output).parent, *Path(output).parent.parents) if not p.exists()]  # innermost first
    try:
        return _fetch(_check_download(output, url, size), url, md5, size, progress, timeout)
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
        if exc.code == 416 and have and (not size or have == size):  # the .part is complete (MD5 below)
            response = None
        elif exc.code == 416 and have:  # the .part does not match the server's file
            part.unlink()
            raise NSTError(f"download failed: HTTP 416 from {url}; the partial download did not match the "
                           "server's file and was deleted, run the same command again") from None
        else:
            raise NSTError(f"download failed: HTTP {exc.code} from {url}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        then = (f"partial data kept in {part}, run the same command again to resume" if have else
                "check the URL and the connection, then run the same command again")
        raise NSTError(f"download failed: cannot reach {url} ({reason}); {then}") from None
    if response is not None:
        with response:
            if have and response.status != 206:  # server ignored the Range: start again
                have = 0
            total = size or (have + int(response.headers.get("Content-Length") or 0)) or None
            _receive(response, part, have, size, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                desc=output.name, disable=not progress, file=sys.stderr))
    got = part.stat().st_size
    if size and got > size:
        part.unlink()
        raise NSTError(f"the server sent more than the expected {size} bytes: check the URL and the size "
                       "(0: unknown); nothing was kept")
    if size and got != size:
        raise NSTError(f"download incomplete: {got} of {size} bytes in {part}; run the same command again "
                       "to resume")
    if md5:
        actual = file_md5(part)
        if actual != md5:
            part.unlink()
            raise NSTError(f"MD5 mismatch ({actual}, expected {md5}); the corrupt download was deleted, "
                           "run the same command again")
    os.replace(part, output)
    return output


def _check_download(output, url, size) -> Path:
    """``output`` as a Path once the arguments make sense and its folder takes a new file, else NSTError."""
    parts = urllib.parse.urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NSTError(f"url must start with http:// or https:// and name a server, got {url!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise NSTError(f"size must be a whole number of bytes >= 0 (0: unknown), got {size!r}")
    output = Path(output)
    if output.is_dir():
        raise NSTError(f"output {output} is a directory: give a file path, e.g. {output / DEFAULT_WEIGHTS.name}")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        probe_writable(output.parent)
    except OSError as exc:
        raise NSTError(f"cannot write in {output.parent} ({exc.strerror or exc}): give another output path") \
            from None
    return output


def _receive(response, part, have, size, bar):
    """Append the response's body to ``part`` (or write it afresh if ``have`` is 0), never far past ``size``."""
    try:
        with bar, open(part, "ab" if have else "wb") as f:
            for block in iter(lambda: response.read(1 << 16), b""):
                f.write(block)
                bar.update(len(block))
                have += len(block)
                if size and have > size:
                    break  # more than expected: the caller says so
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise NSTError(f"the disk is full ({exc.strerror}) while writing {part}: free some space, then "
                           "run the same command again to resume") from None
        if not isinstance(exc, urllib.error.URLError) and exc.filename is not None:
            raise NSTError(f"cannot write {part} ({exc.strerror or exc})") from None
        raise NSTError(f"download interrupted ({exc}); run the same command again to resume") from None
    except (urllib.error.URLError, http.client.HTTPException) as exc:
        raise NSTError(f"download interrupted ({exc}); run the same command again to resume") from None
