"""The lab in a real browser: Voila serves notebooks/06_lab.ipynb, Playwright drives Debian's chromium.

Moves the alpha slider, presses Run, sees the preview change (and decodes it in the page: a real
picture) and the cost plot redraw, presses Stop, sees it stop (within 2 s), presses Save, finds the
file and checks that the preview the browser shows is that image. Screenshots and timings go to artifacts/.
By hand, on real weights: NST_LAB_TEST_WEIGHTS=/path/to/vgg16.mat python3 -m pytest tests/test_lab_browser.py -s
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                                          "(.ci/run installs it: apt-get install chromium)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url, proc, timeout):
    """Poll ``url`` until it answers 200; fail early if the server process died."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"voila exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"voila did not answer at {url} within {timeout} s")


#: In the page: decode the <img> matched by the selector and draw it on a canvas; its size and RGBA
#: pixels (width 0 if the browser cannot decode what it was given).
SHOWN_PIXELS = """async (selector) => {
    const img = document.querySelector(selector);
    try { await img.decode(); } catch (e) { return {width: 0, height: 0, src: img.src, data: []}; }
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const data = canvas.width ? Array.from(ctx.getImageData(0, 0, canvas.width, canvas.height).data) : [];
    return {width: img.naturalWidth, height: img.naturalHeight, src: img.src, data: data};
}"""


def shown_image(page, selector):
    """The image the page shows in ``selector``, decoded by the browser: uint8 (H, W, 3), or None if it
    cannot be decoded (or has no pixels)."""
    shown = page.evaluate(SHOWN_PIXELS, selector)
    if not shown["width"] or not shown["height"]:
        return None
    rgba = np.array(shown["data"], np.uint8).reshape(shown["height"], shown["width"], 4)
    assert (rgba[..., 3] == 255).all(), "the preview has transparent pixels"
    return rgba[..., :3]


def wait_until(predicate, timeout, what, step=0.05):
    """Poll ``predicate()`` until it is truthy; return its value, or fail saying ``what`` did not happen."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def voila_server(tiny_vgg_path, tmp_path):
    """Voila serving the lab on 127.0.0.1 with the tiny weights; yields (url, output folder, log path)."""
    weights = os.environ.get("NST_LAB_TEST_WEIGHTS") or str(tiny_vgg_path)
    port = free_port()
    out = tmp_path / "saved"
    log = tmp_path / "voila.log"
    env = {**os.environ, "NST_VGG_PATH": weights, "NST_SMOKE": "1", "NST_OUTPUT_DIR": str(out),
           "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "voila", "notebooks/06_lab.ipynb", "--no-browser", f"--port={port}",
           "--Voila.ip=127.0.0.1"]
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_for_http(url, proc, timeout=90)
            yield url, out, log
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def test_lab_in_chromium(voila_server):
    from playwright.sync_api import sync_playwright

    url, out, log = voila_server
    ARTIFACTS.mkdir(exist_ok=True)
    tag = "real" if os.environ.get("NST_LAB_TEST_WEIGHTS") else "tiny"
    timings = {"weights": os.environ.get("NST_LAB_TEST_WEIGHTS") or "tiny fixture", "size_px": 128}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1320, "height": 900})
            page.set_default_timeout(30_000)
            page.goto(url, timeout=60_000)
            try:
                page.wait_for_selector(".nst-run", state="visible", timeout=120_000)
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "lab_browser_failed.png"), full_page=True)
                raise AssertionError("the panel did not appear; voila log:\n" + log.read_text()[-3000:]) from None

            def attr(selector, name="src"):
                return page.get_attribute(selector, name)

            def text(selector):
                return page.inner_text(selector)

            # The smoke defaults came from the voila process's environment (NST_SMOKE=1: 20 iterations).
            assert page.input_value(".nst-iterations input") == "20"
            # Markdown is hidden when served as an app: the page shows only the panel.
            assert not page.locator(".jp-MarkdownCell").first.is_visible()

            # Move the alpha slider (keyboard on its handle): the ratio text follows.
            ratio0 = text(".nst-ratio")
            page.locator(".nst-alpha .noUi-handle").focus()
            for _ in range(5):
                page.keyboard.press("ArrowRight")
            wait_until(lambda: text(".nst-ratio") != ratio0, 10, "the ratio text to follow the alpha slider")
            assert "β/α" in text(".nst-ratio")

            # A long run at 128 px, so that there is time to watch it and to stop it.
            page.select_option(".nst-size select", label="128 px")
            page.fill(".nst-iterations input", "5000")
            page.press(".nst-iterations input", "Enter")
            page.locator(".nst-lab h3").click()  # blur the text box so the value is sent

            preview0, plot0 = attr(".nst-preview"), attr(".nst-plot")
            t_run = time.monotonic()
            page.click(".nst-run")
            wait_until(lambda: attr(".nst-preview") != preview0, 60, "the first preview")
            timings["run_to_first_preview_s"] = round(time.monotonic() - t_run, 3)
            # the browser decodes what it is shown: a picture of the run's size, not all one colour
            first = wait_until(lambda: [im for im in [shown_image(page, ".nst-preview")] if im is not None], 10,
                               "a preview the browser can decode")[0]
            # the first preview, at once: the start (the photo in the style's colours) at the run's size
            assert first.shape[1] == 128 and 0 < first.shape[0] <= 128 and np.ptp(first) > 0
            previews, plots = {attr(".nst-preview")}, set()
            wait_until(lambda: previews.add(attr(".nst-preview")) or plots.add(attr(".nst-plot"))
                       or len(previews) >= 3 and len(plots - {plot0}) >= 2, 30,
                       "the preview to change twice more and the cost plot to be redrawn twice")
            first = int(text(".nst-status").split("iteration ")[1].split(" ")[0])
            wait_until(lambda: int(text(".nst-status").split("iteration ")[1].split(" ")[0]) > first, 20,
                       "the iteration count to grow")
            # A slider moved mid-run is applied at once (the run goes on from its current image).
            page.locator(".nst-beta .noUi-handle").focus()
            page.keyboard.press("ArrowRight")
            wait_until(lambda: "β: applied now at iteration" in text(".nst-note"), 10, "the live change message")
            wait_until(lambda: text(".nst-status").startswith("Running"), 10, "the run to go on")
            page.screenshot(path=str(ARTIFACTS / f"lab_running_{tag}.png"), full_page=True)

            # Stop: the status says so within 2 s and the image stays as it is.
            t_stop = time.monotonic()
            page.click(".nst-stop")
            wait_until(lambda: text(".nst-status").startswith("Stopped"), 10, "the run to stop")
            timings["stop_latency_s"] = round(time.monotonic() - t_stop, 3)
            assert timings["stop_latency_s"] < 2.0, timings
            stopped_at = attr(".nst-preview")
            time.sleep(1.5)
            assert attr(".nst-preview") == stopped_at, "the preview still changes after Stop"
            assert page.is_enabled(".nst-run") and page.is_disabled(".nst-stop")

            # Save: a PNG (and its settings) appears in NST_OUTPUT_DIR.
            page.click(".nst-save")
            wait_until(lambda: "Saved" in text(".nst-note"), 10, "the panel to say Saved")
            pngs = sorted(out.glob("lab-*.png"))
            assert len(pngs) == 1 and pngs[0].name in text(".nst-note")
            assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            # the image the browser shows (decoded, drawn on a canvas) is the one saved
            shown = shown_image(page, ".nst-preview")
            saved = np.asarray(Image.open(pngs[0]).convert("RGB"))
            assert shown is not None and shown.shape == saved.shape and np.ptp(shown) > 0
            diff = np.abs(shown.astype(int) - saved.astype(int))
            assert diff.max() <= 3, f"the shown preview differs from the saved PNG by up to {diff.max()}"
            settings = json.loads(pngs[0].with_suffix(".json").read_text())
            assert settings["size"] == 128 and settings["iterations"] == 5000
            page.screenshot(path=str(ARTIFACTS / f"lab_stopped_saved_{tag}.png"), full_page=True)
        finally:
            browser.close()
    (ARTIFACTS / f"lab_timings_{tag}.json").write_text(json.dumps(timings, indent=1))
    print(f"lab in chromium: {timings}")
