"""The lab's logic without a browser: settings, ratio text, Run/Stop/Continue/Restart, live changes, save."""
import dataclasses
import datetime
import io
import json
import re
import threading
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import nst_utils as nst
from nst_tools import lab, lab_panel, preview, transfer


def images(rng, content_shape=(20, 30), style_shape=(24, 24)):
    content = rng.uniform(0, 255, content_shape + (3,)).astype(np.float32)
    style = rng.uniform(0, 255, style_shape + (3,)).astype(np.float32)
    return content, style


def wait_for(predicate, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    raise AssertionError("timed out")


# --- settings: widget values -> the full transfer's settings ------------------------------------


def test_settings_from_widget_values_map_to_transfer_settings(tiny_model, rng):
    values = {"alpha": 5.0, "beta": 1e3, "conv1_1": 0.5, "conv2_1": 0.0, "conv3_1": 0.25, "conv4_1": 0.0,
              "conv5_1": 1.0, "content_layer": "conv3_2", "optimizer": "LBFGS", "lr": "0.5", "iterations": 42,
              "size": 96, "init": "content", "tv_weight": "1e-3"}
    s = lab.lab_settings(values)
    assert isinstance(s, transfer.TransferSettings)  # what transfer_steps / run_transfer take as it is
    assert s.style_layers == (("conv1_1", 0.5), ("conv2_1", 0.0), ("conv3_1", 0.25), ("conv4_1", 0.0),
                              ("conv5_1", 1.0))
    assert (s.alpha, s.beta, s.lr, s.tv_weight) == (5.0, 1e3, 0.5, 1e-3)  # text fields read as numbers
    assert (s.optimizer, s.init, s.content_layer, s.iterations, s.size) == ("lbfgs", "content", "conv3_2", 42, 96)
    # a layer weighted 0 is left out of the cost: only the others are computed
    content, style = images(rng, (16, 24), (16, 24))
    x_C, x_S = nst.preprocess(content, tiny_model.mean), nst.preprocess(style, tiny_model.mean)
    cost = transfer.cost_function(tiny_model, x_C, x_S, s)
    assert cost.names == ["conv1_1", "conv3_1", "conv5_1"]
    J, J_content, J_style, g = cost(tf.constant(x_C))
    assert g.shape == x_C.shape and float(J_style) > 0
    assert nst.settings_with(s, {"iterations": 7}, lab.LabSettings).iterations == 7
    with pytest.raises(nst.NSTError, match="unknown setting"):
        nst.settings_with(s, {"callback_every": 1}, lab.LabSettings)


def test_settings_defaults_are_the_assignments_with_the_labs_optimiser():
    s = lab.lab_settings({})
    assert (s.alpha, s.beta, s.lr, s.content_layer) == (10.0, 40.0, 2.0, "conv4_2")
    assert (s.optimizer, s.precision, s.size) == ("lbfgs", "auto", 256)  # the lab's own defaults
    assert dict(s.style_layers) == dict(nst.STYLE_LAYERS)


@pytest.mark.parametrize("values, message", [
    ({"alpha": 0.0, "beta": 0.0}, "alpha is 0 and beta (or every style layer weight) is 0: nothing to optimise"),
    ({"alpha": 0.0, **{n: 0.0 for n in lab.LAB_STYLE_LAYERS}}, "alpha is 0 and beta (or every style layer weight)"),
    ({"alpha": -1.0}, "alpha must be a finite number >= 0, not -1.0"),
    ({"lr": float("nan")}, "lr must be a finite number >= 0, not nan"),
    ({"lr": -1}, "lr must be a finite number >= 0, not -1"),
    ({"conv3_1": -0.5}, "weight of conv3_1 must be a finite number >= 0"),
    ({"optimizer": "sgd"}, "optimizer must be one of ('adam', 'lbfgs'), not 'sgd'"),
    ({"init": "zeros"}, "init must be one of ('noise', 'content', 'colours'), not 'zeros'"),
    ({"iterations": 0}, "iterations must be a whole number >= 1, not 0"),
    ({"size": 8}, "image size must be between 16 and 2048 pixels"),
    ({"size": 4096}, "image size must be between 16 and 2048 pixels"),
])
def test_bad_settings_raise_one_line_errors(values, message):
    with pytest.raises(nst.NSTError, match=re.escape(message)):
        lab.lab_settings(values)


def test_no_style_layers_is_fine_when_beta_is_zero_or_alpha_is_not(tiny_model, rng):
    zeros = {n: 0.0 for n in lab.LAB_STYLE_LAYERS}
    content, style = images(rng, (16, 24), (16, 24))
    x_C, x_S = nst.preprocess(content, tiny_model.mean), nst.preprocess(style, tiny_model.mean)
    for values in ({"beta": 0.0, **zeros}, zeros):  # content only either way
        s = lab.lab_settings(values)
        assert all(w == 0 for _, w in s.style_layers)
        cost = transfer.cost_function(tiny_model, x_C, x_S, s)
        assert cost.names == []
        J, J_content, J_style, _ = cost(tf.constant(x_C))
        assert float(J_style) == 0 and float(J) == pytest.approx(s.alpha * float(J_content), rel=1e-5)


def test_ratio_text():
    assert lab.lab_ratio_text(10, 40) == "β/α = 4"  # the ratio as the course quotes it
    assert lab.lab_ratio_text(1, 1e4) == "β/α = 1e+04"
    assert lab.lab_ratio_text(4, 1) == "β/α = 0.25"
    assert "content only" in lab.lab_ratio_text(5, 0)
    assert "style only" in lab.lab_ratio_text(0, 5)
    assert "nothing to optimise" in lab.lab_ratio_text(0, 0)


def test_changes_split_into_live_and_next_run():
    a = lab.LabSettings()
    b = lab.LabSettings(alpha=3.0, size=128, init="content", lr=1.0)
    live, later = lab.lab_changes(a, b)
    assert live == ["alpha", "lr"] and later == ["init", "size"]
    msg = lab.lab_change_message(live, later, iteration=12)
    assert "α, learning rate: applied now at iteration 12" in msg
    assert "start, image size: takes effect on the next Run" in msg
    assert lab.lab_changes(a, lab.LabSettings()) == ([], [])


def test_lab_images_keep_the_content_aspect_and_crop_the_style(rng):
    content, style = images(rng, (60, 90), (100, 50))
    c, s = lab.lab_images(content, style, 48)
    assert c.shape == s.shape == (32, 48, 3)
    # a style twice as wide as the content's aspect keeps its middle: a left/right striped style loses its sides
    stripes = np.zeros((40, 160, 3), np.float32)
    stripes[:, :40] = stripes[:, 120:] = 255
    _, s = lab.lab_images(np.zeros((40, 80, 3), np.float32), stripes, 80)
    assert s.max() < 10


# --- images, plot, save ---------------------------------------------------------------------------


def test_jpeg_bytes_are_a_close_copy_and_smaller_than_png():
    img = nst.load_image(nst.IMAGES_DIR / "chelsea.jpg", size=(170, 256)).astype(np.uint8)
    data = preview.jpeg_bytes(img)
    assert data[:3] == b"\xff\xd8\xff" and len(data) < len(preview.png_bytes(img))
    assert np.abs(lab.decode_image_bytes(data) - img).mean() < 3  # quality 90: a close copy


def test_png_bytes_round_trip_and_upload_decoding(rng):
    img = rng.integers(0, 256, (9, 13, 3)).astype(np.uint8)
    data = preview.png_bytes(img)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    np.testing.assert_array_equal(lab.decode_image_bytes(data), img.astype(np.float32))
    rgba = io.BytesIO()
    Image.new("RGBA", (4, 3), (255, 0, 0, 0)).save(rgba, format="PNG")
    np.testing.assert_array_equal(lab.decode_image_bytes(rgba.getvalue())[0, 0], [255, 255, 255])
    with pytest.raises(nst.NSTError, match="cannot read cat.txt as an image"):
        lab.decode_image_bytes(b"not an image", "cat.txt")


def test_cost_plot_is_an_svg_of_the_history_in_log_scale():
    import xml.etree.ElementTree as ET

    ns = {"s": "http://www.w3.org/2000/svg"}
    empty = ET.fromstring(lab.lab_cost_plot_svg([]))
    assert (empty.get("width"), empty.get("height")) == ("368", "200")
    assert not empty.findall(".//s:polyline", ns) and "costs (press Run)" in ET.tostring(empty, encoding="unicode")
    h = [{"iteration": i, "J": 10.0 / i + 1, "content": 1.0, "style": 9.0 / i, "segment": i // 5} for i in range(1, 12)]
    h[3]["style"] = 0.0  # a zero has no place on a log scale: left out, not drawn at minus infinity
    svg = ET.fromstring(lab.lab_cost_plot_svg(h))
    lines = {p.get("class"): np.array([[float(v) for v in xy.split(",")] for xy in p.get("points").split()])
             for p in svg.findall(".//s:polyline", ns)}
    assert set(lines) == {"J", "content", "style"}
    assert len(lines["J"]) == 11 and len(lines["style"]) == 10
    for key, pts in lines.items():
        values = np.array([e[key] for e in h if e[key] > 0])
        iterations = np.array([e["iteration"] for e in h if e[key] > 0])
        # x grows with the iteration, y falls with log10(value), both linearly: one scale for all three
        np.testing.assert_allclose(np.diff(pts[:, 0]) / np.diff(iterations), (pts[-1, 0] - lines["J"][0, 0]) / 10,
                                   rtol=1e-2)
        if np.ptp(values):
            slope = np.polyfit(np.log10(values), pts[:, 1], 1)
            np.testing.assert_allclose(pts[:, 1], np.polyval(slope, np.log10(values)), atol=0.1)
            assert slope[0] < 0
    assert lines["content"][0, 1] > lines["J"][0, 1]  # the lower cost is drawn lower
    dotted = [e for e in svg.findall(".//s:line", ns) if e.get("stroke-dasharray")]
    assert len(dotted) == 2  # segments 0 -> 1 at iteration 5, 1 -> 2 at 10
    text = ET.tostring(svg, encoding="unicode")
    assert all(label in text for label in ("J (total)", "α J_content", "β J_style"))
    assert lab.lab_cost_plot_svg(h[:5]) != lab.lab_cost_plot_svg(h)


def test_save_writes_png_and_settings_atomically_without_overwriting(tmp_path, rng, monkeypatch):
    img = rng.integers(0, 256, (8, 10, 3)).astype(np.uint8)
    folder = tmp_path / "new" / "outputs"
    s = lab.LabSettings(alpha=3.0)
    p1, p2 = lab.lab_save(img, folder, s), lab.lab_save(img, folder, s)
    assert p1 != p2 and p1.parent == folder
    np.testing.assert_array_equal(np.asarray(Image.open(p1)), img)
    assert json.loads(p1.with_suffix(".json").read_text())["alpha"] == 3.0
    assert sorted(f.name for f in folder.iterdir() if f.name.startswith(".")) == []  # no temp files left
    # a write that fails half way leaves no file at the target
    import io

    from PIL import Image as PILImage

    real_save = PILImage.Image.save

    def broken_save(self, fp, *args, **kwargs):
        if isinstance(fp, io.BytesIO):  # image_format's tiny test save in memory: no disk involved
            return real_save(self, fp, *args, **kwargs)
        with open(fp, "wb") as f:
            f.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(PILImage.Image, "save", broken_save)
    before = set(folder.iterdir())
    with pytest.raises(OSError, match="disk full"):
        lab.lab_save(img, folder)
    assert set(folder.iterdir()) == before


# --- the state machine on a worker thread, with the tiny model -----------------------------------


def test_run_finishes_on_a_worker_and_previews(tiny_model, rng):
    content, style = images(rng)
    seen, finished, threads, shown = [], [], [], []
    runner = lab.LabRunner(tiny_model, on_preview=lambda r: (seen.append(r.iteration), shown.append(r.image.copy()),
                                                             threads.append(threading.current_thread())),
                           on_finish=lambda r: finished.append(r.outcome), preview_interval=0.0)
    thread = runner.run(lab.LabSettings(iterations=6, size=24), content, style)
    assert thread is not threading.current_thread() and runner.state in ("running", "idle")
    assert runner.wait(60)
    assert (runner.state, runner.outcome, finished) == ("idle", "finished", ["finished"])
    assert seen == [0, 1, 2, 3, 4, 5, 6] and all(t is thread for t in threads)  # 0: the start, shown at once
    c, s = lab.lab_images(content, style, 24)
    np.testing.assert_array_equal(shown[0], np.clip(np.round(transfer.colour_start(c, [s])), 0, 255).astype(np.uint8))
    assert [h["iteration"] for h in runner.history] == [1, 2, 3, 4, 5, 6]
    assert runner.image.shape == (16, 24, 3) and runner.image.dtype == np.uint8
    assert runner.first_preview_seconds is not None
    h = runner.history[0]
    assert h["J"] == pytest.approx(h["content"] + h["style"], rel=1e-5)  # alpha J_content + beta J_style


def test_scales_a_coarse_start_where_the_size_and_the_iterations_allow():
    s = lab.LabSettings(coarse=20)
    assert lab.lab_scales(s, (170, 256)) == [(0.5, 20), 1.0]
    assert lab.lab_scales(lab.LabSettings(iterations=100, coarse=20), (170, 256)) == [(0.5, 10), 1.0]  # a tenth at most
    assert lab.lab_scales(lab.LabSettings(iterations=40, coarse=20), (170, 256)) is None  # 4 coarse: not worth it
    assert lab.lab_scales(lab.LabSettings(), (170, 256)) is None  # the default: from the colours, none
    assert lab.lab_scales(s, (63, 96)) is None  # half of 63 is under MIN_SCALE_SIDE
    assert lab.lab_scales(lab.LabSettings(coarse=0), (170, 256)) is None
    assert lab.lab_scales(lab.LabSettings(scales=3), (170, 256)) == 3  # given: kept
    with pytest.raises(nst.NSTError, match="coarse must be a whole number"):
        lab.LabSettings(coarse=1.5)


def test_a_run_starts_at_half_the_size_then_goes_on_at_the_full_size(tiny_model, rng):
    content, style = images(rng, (128, 192), (64, 64))
    sizes = []
    runner = lab.LabRunner(tiny_model, on_preview=lambda r: sizes.append(r.image.shape[:2]), preview_interval=0.0)
    runner.run(lab.LabSettings(iterations=60, size=96, coarse=8), content, style)
    assert runner.wait(120) and runner.outcome == "finished", runner.error
    assert [h["size"] for h in runner.history] == [(32, 48)] * 6 + [(64, 96)] * 54  # coarse: a tenth of 60
    assert sizes[0] == (64, 96) and sizes[1:7] == [(32, 48)] * 6  # the start at the run's size, then coarse
    assert sizes[-1] == (64, 96) and runner.image.shape == (64, 96, 3)
    assert [h["segment"] for h in runner.history] == [0] * 6 + [1] * 54  # the plot marks the change of scale
    assert [h["iteration"] for h in runner.history] == list(range(1, 61))
    runner.run(lab.LabSettings(iterations=60, size=96, coarse=8), content, style, mode="continue")
    assert runner.wait(120) and {h["size"] for h in runner.history[60:]} == {(64, 96)}  # Continue: full size


def test_a_default_run_starts_from_the_content_in_the_styles_colours_and_continue_from_the_image(tiny_model, rng):
    content, style = images(rng, (32, 48), (40, 40))
    runner = lab.LabRunner(tiny_model, preview_interval=0.0)
    still = dict(optimizer="adam", lr=0.0, iterations=1, size=48)  # Adam with lr 0: the image is the start
    runner.run(lab.LabSettings(**still), content, style)
    assert runner.wait(60) and runner.outcome == "finished", runner.error
    c, s = lab.lab_images(content, style, 48)
    expected = np.clip(np.round(transfer.colour_start(c, [s])), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(runner.image, expected)
    runner.run(lab.LabSettings(**{**still, "init": "noise", "lr": 5.0}), content, style)
    assert runner.wait(60) and np.abs(runner.image.astype(float) - expected).mean() > 5  # another start
    before = runner.image.copy()
    runner.run(lab.LabSettings(**still), content, style, mode="continue")  # Continue: the last image, not a start
    assert runner.wait(60)
    np.testing.assert_array_equal(runner.image, before)


def test_previews_are_throttled(tiny_model, rng):
    content, style = images(rng)
    seen = []
    runner = lab.LabRunner(tiny_model, on_preview=lambda r: seen.append(r.iteration), preview_interval=60.0)
    runner.run(lab.LabSettings(iterations=5, size=24), content, style)
    assert runner.wait(60)
    assert seen == [0] and len(runner.history) == 5  # the start's preview only, but every cost recorded


def test_stop_answers_fast_keeps_the_image_then_continue_and_restart(tiny_model, rng):
    content, style = images(rng)
    runner = lab.LabRunner(tiny_model, preview_interval=0.0)
    with pytest.raises(nst.NSTError, match="mode must be"):
        runner.run(lab.LabSettings(), content, style, mode="resume")
    runner.run(lab.LabSettings(iterations=100000, size=24), content, style)
    wait_for(lambda: runner.iteration >= 3)
    with pytest.raises(nst.NSTError, match="a run is in progress"):
        runner.run(lab.LabSettings(), content, style)
    t = time.perf_counter()
    assert runner.stop() == "stopping"
    assert runner.wait(10)
    assert time.perf_counter() - t < 2.0 and runner.stop_seconds < 2.0
    assert runner.outcome == "stopped" and runner.state == "idle" and runner.stop() == "idle"
    stopped_image, done = runner.image.copy(), runner.history[-1]["iteration"]
    assert done == runner.iteration < 100000

    # Continue: starts from the kept image, the history goes on.
    calls = []
    real = lab.transfer_steps

    def spy(model, content, styles, settings, **kwargs):
        calls.append({"settings": settings, **kwargs})
        return real(model, content, styles, settings, **kwargs)

    import unittest.mock as mock
    with mock.patch.object(lab, "transfer_steps", spy):
        runner.run(lab.LabSettings(iterations=3, size=24), content, style, mode="continue")
        assert runner.wait(60)
    np.testing.assert_array_equal(calls[0]["init_image"], stopped_image)
    assert [h["iteration"] for h in runner.history][-4:] == [done, done + 1, done + 2, done + 3]
    assert runner.history[-1]["segment"] == runner.history[done - 1]["segment"] + 1

    # Continue at another size resizes the kept image; Restart clears the history and starts from its init.
    with mock.patch.object(lab, "transfer_steps", spy):
        runner.run(lab.LabSettings(iterations=2, size=36), content, style, mode="continue")
        assert runner.wait(60)
        assert calls[-1]["init_image"].shape == (24, 36, 3)
        runner.run(lab.LabSettings(iterations=2, size=24, init="noise"), content, style, mode="restart")
        assert runner.wait(60)
    assert calls[-1]["init_image"] is None and calls[-1]["settings"].init == "noise"
    assert [h["iteration"] for h in runner.history] == [1, 2]


def test_live_change_mid_run_is_applied_and_next_run_change_is_announced(tiny_model, rng):
    content, style = images(rng)
    runner = lab.LabRunner(tiny_model, preview_interval=0.0)
    assert runner.update(lab.LabSettings(alpha=1.0)) == ""  # idle: nothing to say
    start = lab.LabSettings(iterations=100000, size=24)
    runner.run(start, content, style)
    wait_for(lambda: runner.iteration >= 3)
    msg = runner.update(lab.LabSettings(iterations=100000, size=24, alpha=1000.0))
    assert "α: applied now at iteration" in msg
    wait_for(lambda: runner.history[-1]["segment"] == 1)
    msg = runner.update(lab.LabSettings(iterations=100000, size=48, alpha=1000.0))
    assert msg == "image size: takes effect on the next Run"
    wait_for(lambda: sum(h["segment"] == 1 for h in runner.history) >= 3)
    runner.stop()
    assert runner.wait(10) and runner.outcome == "stopped"
    assert runner.settings.alpha == 1000.0 and runner.settings.size == 24
    first = [h for h in runner.history if h["segment"] == 0]
    second = [h for h in runner.history if h["segment"] == 1]
    assert second[0]["iteration"] == first[-1]["iteration"] + 1  # one run: the count goes on
    # the costs after the change are weighted with the new alpha: J = 1000 J_content + 40 J_style
    jc = second[0]["content"] / 1000.0
    assert second[0]["J"] == pytest.approx(1000.0 * jc + second[0]["style"], rel=1e-5)
    assert runner.iteration == runner.history[-1]["iteration"]


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_live_change_shows_the_image_its_gradient_moved_to_one_evaluation_after_it(tiny_model, rng, optimizer,
                                                                                     monkeypatch):
    # After a live change the first evaluation is the new cost at the current image, the second the image its
    # gradient moved to: that image is shown as it is evaluated, before its cost is known (with L-BFGS a slider
    # answers after one evaluation, not two).
    content, style = images(rng)
    evaluated, shown = [], []
    real_call = transfer._ScaleCost.__call__
    monkeypatch.setattr(transfer._ScaleCost, "__call__",
                        lambda self, x: evaluated.append((self.weights.numpy().copy(), np.asarray(x).copy()))
                        or real_call(self, x))
    s = lab.LabSettings(iterations=8, size=24, optimizer=optimizer, lr=2.0)
    moved = dataclasses.replace(s, beta=10 * s.beta)

    def on_preview(r):
        shown.append((len(evaluated), r.iteration, r.image.copy(), r.change_seconds))
        if r.iteration == 3 and r.settings == s and not r._pending:
            r.update(moved)  # on the worker, between two steps: sent with the next one

    runner = lab.LabRunner(tiny_model, on_preview=on_preview, preview_interval=0.0)
    runner.run(s, content, style)
    assert runner.wait(60) and runner.error is None and runner.settings.beta == moved.beta
    first_new = next(k for k, (w, _) in enumerate(evaluated) if w[1] == moved.beta)  # its weights read beta x10
    change = next(p for p in shown if p[3] is not None)
    # shown at the second evaluation, before its cost: L-BFGS's trial step, an evaluation before iteration 4
    # (its yield); Adam's step, yielded as iteration 5 right after that evaluation
    assert change[0] == first_new + 2 and change[1] == {"lbfgs": 3, "adam": 4}[optimizer]
    np.testing.assert_array_equal(change[2], nst.deprocess(evaluated[first_new + 1][1], tiny_model.mean))
    before = next(p for p in shown if p[1] == 3)[2]
    assert np.abs(change[2].astype(int) - before).max() > 0  # moved
    assert 0 < runner.change_seconds < 30


def test_prepare_computes_the_next_runs_targets_so_that_run_computes_none(tiny_model, rng, forward_passes):
    content, style = images(rng)
    forwards = forward_passes  # each one's thread
    transfer.forget_targets(tiny_model)
    runner = lab.LabRunner(tiny_model)
    s = lab.LabSettings(iterations=3, size=24)
    runner.prepare(s, content, style).join(30)
    assert forwards == ["nst-lab-prepare"] * 2  # the content's and the style's forward pass
    assert runner.prepare(s, content, style) is None  # the same again: nothing to do
    runner.run(s, content, style)
    assert runner.wait(60) and runner.error is None and forwards == ["nst-lab-prepare"] * 2  # the Run: none
    runner.run(dataclasses.replace(s, size=30), content, style)  # another size: its own
    assert runner.wait(60) and forwards[2:] == ["nst-lab-worker"] * 2
    # prepared for one pair, Run on another: the Run computes its own (nothing stale)
    runner.prepare(s, style, content).join(30)
    runner.run(s, content, style[::-1])
    assert runner.wait(60) and forwards[4:] == ["nst-lab-prepare"] * 2 + ["nst-lab-worker"] * 2


def test_the_panel_prepares_the_images_it_shows(tiny_model, tmp_path, monkeypatch):
    prepared = []
    monkeypatch.setattr(lab.LabRunner, "prepare", lambda self, s, c, st: prepared.append((s.size, c.shape)))
    panel = lab_panel.lab("chelsea.jpg", "coffee.jpg", model=tiny_model, size=32, iterations=4, output_dir=tmp_path)
    assert prepared[-1] == (32, panel.image("chelsea.jpg").shape)
    panel.w["content"].value = "coffee.jpg"
    assert prepared[-1] == (32, panel.image("coffee.jpg").shape)
    panel.w["size"].value = 64
    assert prepared[-1][0] == 64


def test_an_error_in_the_run_ends_the_worker_cleanly(tiny_model, rng):
    content, style = images(rng)
    finished = []

    def broken_preview(_runner):
        raise RuntimeError("the front end went away")

    runner = lab.LabRunner(tiny_model, on_preview=broken_preview, on_finish=lambda r: finished.append(r.outcome))
    runner.run(lab.LabSettings(iterations=5, size=24), content, style)
    assert runner.wait(60)
    assert finished == ["error"] and str(runner.error) == "the front end went away"
    assert runner.state == "idle"


# --- the panel (widgets without a browser) --------------------------------------------------------


def test_panel_buttons_drive_the_runner(tiny_model, tmp_path):
    panel = lab_panel.lab("chelsea.jpg", "coffee.jpg", model=tiny_model, size=32, iterations=4, output_dir=tmp_path,
                    preview_interval=0.0)
    w = panel.w
    assert "nst-run" in w["run"]._dom_classes and "nst-alpha" in w["alpha"]._dom_classes
    assert w["thumb_content"].value[:4] == b"\x89PNG" and w["save"].disabled and w["stop"].disabled
    w["beta"].value = 1000.0
    assert w["ratio"].value == lab.lab_ratio_text(10.0, 1000.0)
    w["run"].click()
    assert panel.runner.wait(60)
    assert w["status"].value.startswith("Finished: iteration 4 / 4")
    assert w["preview"].value[:4] == b"\x89PNG" and w["preview"].format == "png" and w["progress"].value == 4  # the end
    np.testing.assert_array_equal(lab.decode_image_bytes(w["preview"].value), panel.runner.image)
    assert panel.runner.settings.beta == 1000.0 and panel.runner.settings.size == 32
    assert not w["save"].disabled and not w["continue"].disabled and not w["run"].disabled
    w["save"].click()
    assert panel.saved.is_file() and panel.saved.parent == tmp_path
    # every style layer at 0 (alpha stays > 0: its slider cannot reach 0): a content-only run, no style cost
    for n in lab.LAB_STYLE_LAYERS:
        w[n].value = 0.0
    w["run"].click()
    assert panel.runner.wait(60)
    assert w["status"].value.startswith("Finished: iteration 4 / 4")
    assert all(h["style"] == 0 and h["content"] > 0 for h in panel.runner.history)


def test_panel_upload_adds_the_image(tiny_model, tmp_path, rng):
    panel = lab_panel.lab(model=tiny_model, output_dir=tmp_path)
    assert panel.w["content"].value == "chelsea.jpg" and panel.w["style"].value.startswith("style_")
    img = rng.integers(0, 256, (10, 12, 3)).astype(np.uint8)
    panel.w["upload_style"].value = ({"name": "mine.png", "type": "image/png", "size": 1,
                                      "content": memoryview(preview.png_bytes(img)),
                                      "last_modified": datetime.datetime.now(datetime.timezone.utc)},)
    assert panel.w["style"].value == "upload: mine.png" and "upload: mine.png" in panel.w["content"].options
    np.testing.assert_array_equal(panel.image("upload: mine.png"), img.astype(np.float32))
    with pytest.raises(nst.NSTError, match="image not found"):
        lab_panel.lab("no-such.jpg", model=tiny_model)


def test_panel_shows_each_preview_while_running(tiny_model, tmp_path):
    panel = lab_panel.lab("chelsea.jpg", "coffee.jpg", model=tiny_model, size=32, iterations=4, output_dir=tmp_path,
                          preview_interval=0.0)
    shown, formats = [], []  # the preview widget's image, decoded, each time it changes, and its format
    panel.w["preview"].observe(lambda change: (shown.append(np.asarray(Image.open(io.BytesIO(change["new"])).convert(
        "RGB"))), formats.append(panel.w["preview"].format)), "value")
    panel.w["run"].click()
    assert panel.runner.wait(60)
    # a preview per iteration while running (preview_interval 0), not only the final image at the end
    assert len(shown) >= 3 and len({im.tobytes() for im in shown}) >= 3
    assert all(im.shape == panel.runner.image.shape for im in shown)
    np.testing.assert_array_equal(shown[-1], panel.runner.image)  # at the end, the runner's image exactly (PNG)
    assert formats[:-1] and set(formats[:-1]) == {"jpeg"} and formats[-1] == "png"  # while running: JPEGs
    error = np.abs(shown[-2].astype(float) - shown[-1])  # the last JPEG: close to the final image
    assert error.mean() < 10, error.mean()
    assert np.ptp(shown[-1]) > 0
