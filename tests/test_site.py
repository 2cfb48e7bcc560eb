"""The course website: `python3 site/build.py` (Jupyter Book 2 / MyST) builds the learner notebooks into pages, in
the course's order, with their lessons, formulas, figures and exercise stubs (no solutions), and no local link or
image of it leads nowhere. Needs Node.js, npm and jupyter-book (.ci/run installs them)."""
import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MISSING = [what for what, ok in [("node", shutil.which("node")), ("npm", shutil.which("npm")),
                                 ("jupyter-book", importlib.util.find_spec("jupyter_book"))] if not ok]
# In CI a missing tool is a failure (.ci/run installs them); on a developer's machine, a skip that says why.
pytestmark = pytest.mark.skipif(bool(MISSING) and not os.environ.get("CI"),
                                reason=f"{' and '.join(MISSING)} not installed (.ci/run installs them)")


def load_build(clone):
    spec = importlib.util.spec_from_file_location("site_build", clone / "site" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(learner_clone):
    """The site built in the learner's clone by the README's command: (clone, html folder, build's stdout)."""
    done = subprocess.run([sys.executable, "site/build.py"], cwd=learner_clone, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    return learner_clone, learner_clone / "site" / "_build" / "html", done.stdout


def cells(path, kind):
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == kind]


def text_of(page):
    """The page's text with the tags out and the entities decoded (what a reader reads)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def lesson_pages(html_dir):
    report = json.loads((html_dir / "site-report.json").read_text())
    assert report["unknown_node_types"] == []
    assert report["pages"][0] == "index.html"
    return [html_dir / name for name in report["pages"][1:]]


def test_one_page_per_notebook_in_the_courses_order(site):
    _clone, html_dir, out = site
    assert f"{len(NOTEBOOKS) + 1} pages" in out
    pages = lesson_pages(html_dir)
    assert len(pages) == len(NOTEBOOKS)
    titles = [cells(nb, "markdown")[0].splitlines()[0].lstrip("# ").strip() for nb in NOTEBOOKS]
    for page, title in zip(pages, titles):
        assert f"<h1>{html.escape(title)}</h1>" in page.read_text(), page.name
    nav = re.search(r'<nav class="toc".*?</nav>', (html_dir / "index.html").read_text(), re.S).group(0)
    shown = [html.unescape(t) for t in re.findall(r"<li><a [^>]*>(.*?)</a></li>", nav)]
    assert shown[1:] == titles  # every page's navigation: the course's order
    for i, page in enumerate(pages):
        body = page.read_text()
        assert 'rel="prev"' in body and ('rel="next"' in body) == (i + 1 < len(pages))


def test_the_lessons_formulas_and_figures_are_there(site):
    _clone, html_dir, _out = site
    for nb, page in zip(NOTEBOOKS, lesson_pages(html_dir)):
        body, text = page.read_text(), text_of(page)
        markdown = "\n".join(cells(nb, "markdown"))
        for heading in re.findall(r"^#{2,3} (.+)$", markdown, re.M):
            plain = re.split(r"[`*$\\]", heading)[0].strip()[:30]  # its words before any code or formula
            assert len(plain) < 4 or plain in text, f"{page.name}: heading {heading!r}"
        formulas = len(re.findall(r"\$\$.+?\$\$|\$[^$\n]+\$", markdown, re.S))
        assert (body.count("<math") > 0) == (formulas > 0), f"{page.name}: {formulas} formulas, MathML?"
        assert "$$" not in re.sub(r"<pre>.*?</pre>", "", body, flags=re.S)
        figures = sorted(Path(src).stem for src in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", markdown))
        shown = sorted(re.sub(r"-[0-9a-f]{32}$", "", Path(src).stem) for src in re.findall(r'<img src="([^"]+)"', body))
        assert [s[:20] for s in shown] == [f[:20] for f in figures], page.name  # MyST shortens long names


def test_the_exercises_are_stubs_and_no_solution_is_there(site):
    """Each line a solution adds to a learner cell is absent from the site; the learner's stub lines are there."""
    _clone, html_dir, _out = site
    checked = 0
    for nb, page in zip(NOTEBOOKS, lesson_pages(html_dir)):
        text = text_of(page)
        learner = cells(nb, "code")
        solution = cells(nb.parent / "solutions" / nb.name, "code")
        for mine, answer in zip(learner, solution):
            if mine == answer:
                continue
            stub_lines = set(mine.splitlines())
            for line in answer.splitlines():
                if line.strip() and line not in stub_lines and len(line.strip()) > 12:
                    assert line.strip() not in text, f"{page.name}: a solution line is on the site: {line!r}"
                    checked += 1
            assert mine.strip().splitlines()[-1].strip() in text
    assert checked >= 7  # one or more solution lines in each exercise of notebooks 01-05 and 07
    assert "BEGIN SOLUTION" not in "".join(p.read_text() for p in html_dir.glob("*.html"))


def test_every_local_link_and_image_resolves(site):
    clone, html_dir, _out = site
    assert load_build(clone).check(html_dir) == []
    assert len(list((html_dir / "_static").glob("*.ipynb"))) == len(NOTEBOOKS)  # each page's notebook download


def test_the_check_sees_a_broken_link_and_a_missing_image(site, tmp_path):
    clone, html_dir, _out = site
    copy = shutil.copytree(html_dir, tmp_path / "html")
    image = next((copy / "_static").glob("05_result-*.jpg"))
    image.unlink()
    page = copy / "content-loss.html"
    page.write_text(page.read_text().replace("</main>", '<a href="nowhere.html">x</a><a href="#no-such-id">y</a>'
                                                        "</main>"))
    problems = load_build(clone).check(copy)
    assert f"style-transfer.html: img src='_static/{image.name}': no such file" in problems
    assert "content-loss.html: a href='nowhere.html': no such file" in problems
    assert "content-loss.html: a href='#no-such-id': no id 'no-such-id' there" in problems
