"""Live previews (LivePreview) and style reconstructions (reconstruct_style, grey_noise_image)."""
import io

import matplotlib
import numpy as np
import pytest
from PIL import Image

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import nst_utils as nst  # noqa: E402
from nst_tools import course, transfer  # noqa: E402
from nst_tools.preview import LivePreview  # noqa: E402


class FakeHandle:
    def __init__(self, log):
        self.log = log

    def update(self, obj):
        self.log.append(("update", obj))


class FakeDisplay:
    """Stands in for IPython.display.display: records what is shown and how."""

    def __init__(self):
        self.log = []

    def __call__(self, obj, display_id=None):
        assert display_id is True, "the preview must ask for a display handle"
        self.log.append(("display", obj))
        return FakeHandle(self.log)


def _png_of(obj):
    data = obj.data
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return Image.open(io.BytesIO(data))


def _costs(i):
    return {"J": 100.0 / i + 1.0, "J_content": 2.0 / i, "J_style": 1.0 / i, "seconds": 0.1 * i}


def test_one_display_then_in_place_updates_every_n_iterations():
    fake = FakeDisplay()
    preview = LivePreview(alpha=10, beta=40, every=10, display=fake)
    image = np.zeros((12, 16, 3), np.uint8)
    for i in range(1, 26):
        preview(i, _costs(i), image)
    kinds = [kind for kind, _ in fake.log]
    assert kinds == ["display", "update", "update"]  # drawn at 1, 10, 20
    assert preview.draws == 3
    assert [h["iteration"] for h in preview.history] == list(range(1, 26))  # every call is recorded
    png = _png_of(fake.log[-1][1])
    assert png.size == (10 * 80, round(3.6 * 80))  # figsize x dpi


def test_sparse_callbacks_still_draw_when_a_multiple_is_crossed():
    fake = FakeDisplay()
    preview = LivePreview(every=10, display=fake)
    for i in (3, 6, 9, 12, 15, 18, 21):
        preview(i, _costs(i), np.zeros((4, 4, 3), np.uint8))
    assert [k for k, _ in fake.log] == ["display", "update", "update"]  # 3, 12 (crossed 10), 21 (crossed 20)


def test_curves_are_the_weighted_costs_against_the_iteration():
    preview = LivePreview(alpha=10, beta=40, display=FakeDisplay())
    for i in range(1, 6):
        preview(i, _costs(i), np.zeros((4, 4, 3), np.uint8))
    curves = preview.curves()
    it = np.arange(1, 6)
    np.testing.assert_array_equal(curves["alpha J_content"][0], it)
    np.testing.assert_allclose(curves["alpha J_content"][1], 10 * 2.0 / it)
    np.testing.assert_allclose(curves["beta J_style"][1], 40 * 1.0 / it)
    np.testing.assert_allclose(curves["J (total)"][1], 100.0 / it + 1.0)
    rest = 100.0 / it + 1.0 - 20.0 / it - 40.0 / it  # J is not alpha Jc + beta Js here: the rest is drawn
    np.testing.assert_allclose(curves["rest (e.g. tv_weight J_TV)"][1], rest)
    fig = preview.figure()
    ax = fig.axes[1]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "iteration"
    assert [line.get_label() for line in ax.get_lines()] == list(curves)


def test_no_rest_curve_when_j_is_the_weighted_sum_and_no_zero_curve_on_the_log_axis():
    preview = LivePreview(alpha=0, beta=2, display=FakeDisplay())
    for i in range(1, 4):
        preview(i, {"J": 2.0 * 5 / i, "J_content": 3.0, "J_style": 5.0 / i, "seconds": 0}, np.zeros((4, 4, 3)))
    assert list(preview.curves()) == ["J (total)", "beta J_style"]


def test_no_pyplot_figures_are_left_behind():
    before = plt.get_fignums()
    preview = LivePreview(every=1, display=FakeDisplay())
    for i in range(1, 6):
        preview(i, _costs(i), np.zeros((4, 4, 3), np.uint8))
    assert plt.get_fignums() == before


def test_every_must_be_positive():
    with pytest.raises(nst.NSTError, match="every must be 1 or more"):
        LivePreview(every=0)


def test_as_the_callback_of_a_real_run(tiny_model, rng):
    content = rng.uniform(0, 255, (16, 24, 3)).astype(np.float32)
    style = rng.uniform(0, 255, (16, 24, 3)).astype(np.float32)
    fake = FakeDisplay()
    preview = LivePreview(alpha=10, beta=40, every=2, display=fake)
    result = transfer.run_transfer(tiny_model, content, style, iterations=5, seed=0, callback=preview,
                                    callback_every=1)
    assert [h["iteration"] for h in preview.history] == [1, 2, 3, 4, 5]
    assert [k for k, _ in fake.log] == ["display", "update", "update"]  # 1, 2, 4
    preview.done(result)
    assert [k for k, _ in fake.log][-1] == "update" and preview.draws == 4
    np.testing.assert_array_equal(preview.image, result.image)
    assert preview.label.startswith("done: 5 iterations")
    np.testing.assert_allclose(preview.curves()["beta J_style"][1],
                               [40 * h["J_style"] for h in result.history], rtol=1e-6)


def test_grey_noise_image_is_mid_grey_noise_and_seeded():
    a = course.grey_noise_image((30, 40), amplitude=10, seed=3)
    assert a.shape == (30, 40, 3) and a.dtype == np.float32
    assert 117.5 <= a.min() and a.max() <= 137.5 and abs(a.mean() - 127.5) < 1.0 and a.std() > 4
    np.testing.assert_array_equal(a, course.grey_noise_image((30, 40), amplitude=10, seed=3))
    assert not np.array_equal(a, course.grey_noise_image((30, 40), amplitude=10, seed=4))


def test_reconstruct_style_lowers_the_style_cost(tiny_model, rng):
    style = rng.uniform(0, 255, (24, 32, 3)).astype(np.float32)
    layers = ["conv1_1", "conv2_1", "conv3_1"]
    result = course.reconstruct_style(tiny_model, style, layers, iterations=15, seed=0)
    assert result.image.shape == (24, 32, 3)
    pairs = [(n, 1 / 3) for n in layers]
    a_S = tiny_model(nst.preprocess(style, tiny_model.mean), layers)

    def J_style(image):
        return float(nst.compute_style_cost(a_S, tiny_model(nst.preprocess(image, tiny_model.mean), layers), pairs))

    start = course.grey_noise_image((24, 32), seed=0)
    assert J_style(result.image) < 0.5 * J_style(start)
    assert result.J == pytest.approx(result.J_style, rel=1e-5)  # alpha = 0, beta = 1
    np.testing.assert_allclose(result.J_style, J_style(result.image), rtol=0.05)  # uint8 rounding


def test_reconstruct_style_size_and_weights(tiny_model, rng):
    style = rng.uniform(0, 255, (24, 32, 3)).astype(np.float32)
    result = course.reconstruct_style(tiny_model, style, [("conv1_1", 1.0), ("conv2_1", 0.0)], size=(16, 20),
                                   iterations=3)
    assert result.image.shape == (16, 20, 3)


@pytest.mark.parametrize("layers, message", [([], "non-empty list"), ("conv1_1", "non-empty list"),
                                             (["conv1_1", "conv9_9"], "conv9_9 not in")])
def test_reconstruct_style_bad_layers(tiny_model, layers, message):
    with pytest.raises(nst.NSTError, match=message):
        course.reconstruct_style(tiny_model, np.zeros((8, 8, 3), np.float32), layers, iterations=1)
