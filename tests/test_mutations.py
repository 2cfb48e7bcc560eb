"""Tests that notice one-line bugs a real change could make (the mutation audit of issue 16): each asserts
behaviour directly, where before only an indirect test (or none) would notice."""
import time

import numpy as np
import pytest
import tensorflow as tf

import nst_utils as nst
from nst_tools import lab, lbfgs, transfer


def test_the_line_search_wants_a_sufficient_decrease():
    """A cost a hair lower than J but above Armijo's bound J + c1 g.(x_t - x) is no acceptable step."""
    x = tf.zeros((1, 2, 2, 3))
    g = tf.ones((1, 2, 2, 3))

    def trial(t, J_t):
        return x, J_t, 0.0, 0.0, g, -1.0, -1.0  # drop g.(x_t - x) = -1: the bound is J - 1e-4

    assert lbfgs.line_search(lambda t: trial(t, 1.0 - 1e-6), 1.0, -1.0, 1.0) is None  # decreases, too little
    best = lbfgs.line_search(lambda t: trial(t, 1.0 - 1e-3), 1.0, -1.0, 1.0)  # past the bound: taken
    assert best is not None and best[1] == pytest.approx(1.0 - 1e-3)


def test_the_default_pooling_is_2x2_average(tiny_vgg_path, make_images):
    model = nst.load_vgg_model(tiny_vgg_path)  # the default: Gatys et al.'s and the assignment's average pooling
    x = nst.preprocess(make_images(8, 12, 0)[0], model.mean)
    out = model(x, ["conv1_2", "pool1"])
    a = out["conv1_2"].numpy()[0]
    mean_of_blocks = a.reshape(4, 2, 6, 2, -1).mean(axis=(1, 3))
    np.testing.assert_allclose(out["pool1"].numpy()[0], mean_of_blocks, rtol=1e-5, atol=1e-6)
    assert not np.allclose(mean_of_blocks, a.reshape(4, 2, 6, 2, -1).max(axis=(1, 3)))  # max would differ


def test_coarse_to_fine_goes_on_from_the_coarse_result(tiny_model, make_images):
    """The full-size scale starts from the coarse scale's best image upsampled, not from noise again: its
    first cost is well below that of a run from the noise start at that size (which a restart would equal)."""
    content, style = make_images(64, 96, 3)
    run = dict(optimizer="lbfgs", seed=0)
    fresh = transfer.run_transfer(tiny_model, content, style, iterations=1, **run)
    c2f = transfer.run_transfer(tiny_model, content, style, iterations=11, scales=[(0.5, 10), 1], **run)
    first_full = next(h for h in c2f.history if h["scale"] == 1.0)
    assert first_full["J"] < 0.9 * fresh.history[0]["J"]


def test_at_a_coarse_scale_each_style_shrinks_by_the_fraction_of_its_own_size(tiny_model, make_images, monkeypatch):
    content, _ = make_images(64, 96, 4)
    style = make_images(96, 160, 5)[1]  # another size and aspect than the content's
    sizes = []
    real = transfer.resize_image
    monkeypatch.setattr(transfer, "resize_image", lambda image, size: sizes.append(tuple(size)) or real(image, size))
    transfer.run_transfer(tiny_model, content, style, iterations=2, scales=[(0.5, 1), 1], seed=0)
    assert (48, 80) in sizes  # half the style's own 96x160
    assert sizes.count((32, 48)) == 1  # the content (and the start) at half size; not the style


def test_a_live_change_applies_the_live_settings_only(tiny_model, make_images):
    """Mid-run, alpha applies at once; the optimiser is a next-Run setting, and the run keeps its own."""
    content, style = make_images(32, 48, 6)
    runner = lab.LabRunner(tiny_model, preview_interval=0.0)
    start = lab.LabSettings(iterations=100000, size=32, optimizer="lbfgs", precision="float32", seed=0)
    runner.run(start, content, style)
    while runner.iteration < 2:
        time.sleep(0.01)
    message = runner.update(lab.LabSettings(iterations=100000, size=32, optimizer="adam", precision="float32",
                                            seed=0, alpha=1000.0))
    seen = runner.iteration
    while runner.iteration < seen + 3:
        time.sleep(0.01)
    applied = runner.settings
    runner.stop()
    assert runner.wait(30)
    assert applied.alpha == 1000.0 and applied.optimizer == "lbfgs"
    assert "α: applied now" in message and "optimiser: takes effect on the next Run" in message
