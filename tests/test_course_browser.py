"""The figures show where the README starts Jupyter: every learner notebook, opened in JupyterLab in Debian's
chromium (Playwright), from a server started by the README's start command (and by ``jupyter lab notebooks/``),
has every image loaded (natural width > 0) once scrolled into view. Screenshots go to artifacts/."""
import json
import re
import shutil
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
from conftest import free_port, jupyter_server

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                                          "(.ci/run installs it: apt-get install chromium)")


def linked_images(path):
    """The images the notebook's markdown links, as written."""
    cells = json.loads(path.read_text())["cells"]
    return [m for c in cells if c["cell_type"] == "markdown"
            for m in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", "".join(c["source"]))]


#: In the page: the open notebook's scroller moved by ``step`` screens, then, once the cells for the new view are
#: attached, every <img> in its cells, each {src, complete, width}; markdown cells not rendered yet; at the end?
SCROLL_AND_LOOK = """async (step) => {
    const panel = Array.from(document.querySelectorAll(".jp-NotebookPanel")).find(
        p => p.offsetParent !== null && !p.classList.contains("lm-mod-hidden"));
    const scroller = panel.querySelector(".jp-WindowedPanel-outer") || panel.querySelector(".jp-Notebook");
    scroller.scrollTop += step * scroller.clientHeight;
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));  // the list re-renders ...
    await new Promise(r => setTimeout(r, 150));                                        // ... and attaches cells
    const images = Array.from(panel.querySelectorAll(".jp-Cell img")).map(
        img => ({src: img.getAttribute("src"), complete: img.complete, width: img.naturalWidth}));
    const unrendered = Array.from(panel.querySelectorAll(".jp-MarkdownCell")).filter(
        c => !c.querySelector(".jp-RenderedMarkdown")).length;
    const end = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - 2;
    return {images, end, unrendered};
}"""


def look_through(page, name, expected, shot):
    """Scroll the notebook top to bottom, 0.8 of a screen at a time (JupyterLab only attaches the cells near the
    view); {file name: natural width} of every image seen, each once it has loaded (or failed)."""
    seen, end_at = {}, time.monotonic() + 120
    page.wait_for_selector(".jp-NotebookPanel .jp-RenderedMarkdown h1", timeout=90_000)  # markdown rendered
    step, shot_taken, at_end = 0, False, 0
    while time.monotonic() < end_at:
        state = page.evaluate(SCROLL_AND_LOOK, step)
        for im in state["images"]:
            if im["complete"]:  # JupyterLab rewrites figures/X.jpg to its files/ URL: keep the file's name
                src = Path(urllib.parse.urlparse(im["src"]).path).name
                seen[src] = max(seen.get(src, 0), im["width"])
        if state["unrendered"] or any(not im["complete"] for im in state["images"]):
            step = 0  # stay until this screenful has rendered and its images have loaded
            time.sleep(0.2)
            continue
        if shot and not shot_taken and state["images"]:
            shown = page.locator(".jp-NotebookPanel .jp-Cell img:visible")  # a missing figure may have no box
            if shown.count():
                shown.first.scroll_into_view_if_needed()
            time.sleep(0.3)
            page.screenshot(path=str(shot))
            shot_taken = True
        at_end = at_end + 1 if state["end"] else 0
        if at_end >= 3:  # the end, and it stayed the end (cell heights settle as they render)
            return seen
        step = 0.8
    raise AssertionError(f"{name}: scrolling did not reach the end in 120 s; seen {seen}, expected {expected}")


def check_every_notebook(base, token, folder, tag, names=NOTEBOOKS):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    failures = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            for name in names:
                t = time.monotonic()
                expected = sorted({Path(src).name for src in linked_images(folder / name)})
                page.goto(f"{base}lab/tree/{name}?reset&token={token}", timeout=120_000)  # reset: only this tab
                page.wait_for_selector(".jp-NotebookPanel .jp-RenderedMarkdown h1", timeout=90_000)
                panels = page.evaluate("document.querySelectorAll('.jp-NotebookPanel').length")
                assert panels == 1, f"{name}: {panels} notebooks open"  # the one asked for
                shot = ARTIFACTS / f"course_{tag}_{name.split('_')[0]}.png" if expected else None
                seen = look_through(page, name, expected, shot)
                if sorted(seen) != expected:
                    failures.append(f"{name}: images in the page {sorted(seen)}, linked {expected}")
                failures += [f"{name}: {src} did not load (natural width 0)" for src, w in seen.items() if not w]
                print(f"{name}: {len(seen)} image(s) in {time.monotonic() - t:.1f} s")
        finally:
            browser.close()
    return failures


def test_every_figure_loads_where_the_readme_starts_jupyter(course_started):
    """The README's `python3 nst_utils.py start`: JupyterLab serves course/, the figures are in course/figures."""
    clone, base, token, _log = course_started
    failures = check_every_notebook(base, token, clone / "course", "start")
    assert not failures, "\n".join(failures)


def test_jupyter_lab_notebooks_shows_them_too_and_the_check_sees_a_missing_one(learner_clone, tmp_path):
    """`jupyter lab notebooks/` serves the tracked notebooks, and the figures are under it too: notebook 00's
    loads. With 05's figure gone from notebooks/figures, the check reports it (the test above can fail)."""
    figure = learner_clone / "notebooks" / "figures" / "05_result.jpg"
    kept = figure.read_bytes()
    figure.unlink()
    try:
        cmd = [sys.executable, "-m", "jupyterlab", "notebooks/", "--no-browser", f"--port={free_port()}",
               "--ServerApp.ip=127.0.0.1", "--allow-root"]
        with jupyter_server(cmd, learner_clone, tmp_path / "lab.log") as (base, token):
            failures = check_every_notebook(base, token, learner_clone / "notebooks", "notebooks",
                                            ["00_setup_and_vgg19.ipynb", "05_style_transfer.ipynb"])
    finally:
        figure.write_bytes(kept)
    assert failures == ["05_style_transfer.ipynb: 05_result.jpg did not load (natural width 0)"]
