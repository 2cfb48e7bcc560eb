#!/usr/bin/env python3
"""Build the course website and check it: ``python3 site/build.py``.

Runs Jupyter Book 2 (MyST) on site/myst.yml (``jupyter book build --html`` in site/; the pages are the learner
notebooks of notebooks/, in the course's order, with the theme in site/theme/), writes site/_build/html/, then
walks every page: each local link and image must lead to a file of the site (and each #anchor to an id on its
page), each image must open as an image. Exits 1, with one line per problem, if one does not.
``--check-only`` checks an existing build. The notebooks are not executed: the site shows them as a learner
gets them (no outputs), with the figures rendered ahead of time in notebooks/figures/.
"""
from __future__ import annotations

import argparse
import html.parser
import json
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
HTML = HERE / "_build" / "html"


class _Refs(html.parser.HTMLParser):
    """The ids of a page and its references: (tag, attribute, value)."""

    def __init__(self):
        super().__init__()
        self.ids, self.refs = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name) is not None:
                self.refs.append((tag, name, attrs[name]))


def _parse(path: Path) -> _Refs:
    parser = _Refs()
    parser.feed(path.read_text())
    return parser


def check(site: Path = HTML) -> list[str]:
    """Every problem of the built site at ``site``, one line each (none: it is whole)."""
    from PIL import Image

    pages = sorted(site.rglob("*.html"))
    if not pages:
        return [f"{site}: no pages (build it first: python3 site/build.py)"]
    parsed = {page: _parse(page) for page in pages}
    problems = []
    for page, refs in parsed.items():
        name = page.relative_to(site)
        for tag, attr, value in refs.refs:
            url = urllib.parse.urlsplit(value)
            if url.scheme or value.startswith("//"):
                continue  # http(s), mailto: outside the site
            target = (page.parent / urllib.parse.unquote(url.path)).resolve() if url.path else page
            if site.resolve() not in target.parents and target != site.resolve():
                problems.append(f"{name}: {tag} {attr}={value!r} leads outside the site")
                continue
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{name}: {tag} {attr}={value!r}: no such file")
                continue
            if url.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if urllib.parse.unquote(url.fragment) not in ids:
                    problems.append(f"{name}: {tag} {attr}={value!r}: no id {url.fragment!r} there")
            if tag == "img":
                try:
                    with Image.open(target) as img:
                        img.verify()
                        if not img.width:
                            raise ValueError("no pixels")
                except Exception as exc:  # anything Pillow cannot open is a missing image to a reader
                    problems.append(f"{name}: img src={value!r} is not an image ({exc})")
    return problems


def build() -> None:
    try:
        import jupyter_book  # noqa: F401
    except ImportError:
        raise SystemExit("site/build.py: error: jupyter-book is not installed: python3 -m pip install "
                         "-r requirements-dev.txt (it needs Node.js 18+ and npm: apt-get install nodejs npm)") from None
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"site/build.py: error: Jupyter Book 2 needs Node.js 18+ and npm, {' and '.join(missing)} "
                         "not found: apt-get install nodejs npm")
    done = subprocess.run([sys.executable, "-m", "jupyter_book", "build", "--html"], cwd=HERE,
                          capture_output=True, text=True, timeout=600)
    log = done.stdout + done.stderr
    report = HTML / "site-report.json"
    if done.returncode != 0 or not report.is_file():
        sys.stderr.write(log[-4000:])
        raise SystemExit(f"site/build.py: error: jupyter book build --html failed (exit {done.returncode})")
    unknown = json.loads(report.read_text())["unknown_node_types"]
    if unknown:
        raise SystemExit(f"site/build.py: error: site/theme/render.py does not know the node types {unknown}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check-only", action="store_true", help="check site/_build/html without building it")
    args = parser.parse_args(argv)
    if not args.check_only:
        build()
    problems = check(HTML)
    for line in problems:
        print(f"site/build.py: {line}", file=sys.stderr)
    if problems:
        return 1
    pages = sorted(HTML.glob("*.html"))
    print(f"site/build.py: {len(pages)} pages in {HTML.relative_to(HERE.parent)}/, every local link and image "
          f"resolves; open {(HTML / 'index.html').relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
