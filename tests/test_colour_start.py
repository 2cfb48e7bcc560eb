"""init="colours": the content in the style's colours (transfer.colour_start), from the library, the CLI and the lab."""
import re

import numpy as np
import pytest

import nst_utils as nst
from nst_tools import fast, transfer
from nst_tools.cli import build_parser


def moderate(rng, h, w, scale):
    """An image whose recoloured pixels stay inside [0, 255] (no clipping): a smooth field, coloured."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(3 * yy + 1), np.cos(4 * xx), np.sin(2 * (xx + yy))], -1)
    return (128 + 40 * np.asarray(scale) * (base + 0.3 * rng.standard_normal((h, w, 3)))).clip(0, 255)


def stats(pixels, weights=None):
    p = np.asarray(pixels, np.float64).reshape(-1, 3)
    return np.average(p, 0, weights), np.cov(p, rowvar=False, aweights=weights, bias=True)


def test_recolour_gives_the_styles_mean_and_covariance_by_an_affine_map_of_each_pixel(rng):
    content, style = moderate(rng, 24, 32, [1.0, 0.5, 0.8]), moderate(rng, 40, 30, [0.4, 1.0, 0.6])[..., ::-1]
    out = fast.recolour(content, *fast.colour_stats(style))
    assert out.shape == content.shape and out.dtype == np.float32 and 0 < out.min() and out.max() < 255
    (mu, S), (mu_S, S_S) = stats(out), stats(style)
    np.testing.assert_allclose(mu, mu_S, atol=1e-2)
    np.testing.assert_allclose(S, S_S, rtol=1e-3, atol=5e-2)
    # an affine map of each pixel: the content's pixels, fitted by least squares, explain the result exactly
    X = np.c_[content.reshape(-1, 3), np.ones(content.size // 3)]
    fit, *_ = np.linalg.lstsq(X, out.reshape(-1, 3).astype(np.float64), rcond=None)
    np.testing.assert_allclose(X @ fit, out.reshape(-1, 3), atol=1e-2)


def test_match_marginals_takes_the_references_quantiles_rank_for_rank(rng):
    image, ref = rng.uniform(0, 255, (12, 10, 3)), rng.gamma(2.0, 30.0, (7, 9, 3))  # other sizes, other shapes
    out = fast.match_marginals(image, [ref])
    n = image.size // 3
    for c in range(3):
        ranks = np.argsort(np.argsort(image[..., c].ravel()))
        expected = np.quantile(ref[..., c].ravel(), (ranks + 0.5) / n, method="inverted_cdf")
        np.testing.assert_allclose(out[..., c].ravel(), expected, rtol=1e-6)


def test_the_colours_start_has_the_styles_histograms_and_the_contents_shapes(rng):
    content, style = moderate(rng, 24, 32, [1.0, 0.5, 0.8]), moderate(rng, 32, 24, [0.4, 1.0, 0.6])[..., ::-1]
    out = transfer.colour_start(content, [style])
    assert out.shape == content.shape and out.dtype == np.float32
    recoloured = fast.recolour(content, *fast.colour_stats(style))
    for c in range(3):  # as many pixels: each channel's values are the style's, in the recoloured content's order
        np.testing.assert_allclose(np.sort(out[..., c].ravel()), np.sort(style[..., c].ravel()), atol=1e-3)
        assert np.all(np.diff(out[..., c].ravel()[np.argsort(recoloured[..., c].ravel(), kind="stable")]) >= 0)
    (mu, S), (mu_S, S_S) = stats(out), stats(style)
    np.testing.assert_allclose(mu, mu_S, atol=1e-3)  # the histograms fix each channel's mean and variance,
    np.testing.assert_allclose(np.diag(S), np.diag(S_S), rtol=1e-4)
    corr = S / np.sqrt(np.outer(np.diag(S), np.diag(S)))  # the recolouring before, the correlations
    np.testing.assert_allclose(corr, S_S / np.sqrt(np.outer(np.diag(S_S), np.diag(S_S))), atol=0.05)


def test_several_styles_blend_their_colours_as_a_mixture_of_their_pixels(rng):
    content = moderate(rng, 20, 20, [1.0, 0.7, 0.5])
    a, b = np.full((16, 16, 3), [10.0, 20.0, 30.0]), np.full((10, 40, 3), [200.0, 150.0, 100.0])
    out = transfer.colour_start(content, [a, b], (1, 3))
    pixels = np.concatenate([a.reshape(-1, 3), b.reshape(-1, 3)])  # the blend: every pixel, a's a quarter of it
    mu_ref, S_ref = stats(pixels, np.r_[np.full(256, 0.25 / 256), np.full(400, 0.75 / 400)])
    recoloured = fast.recolour(content, mu_ref, S_ref + 1e-3 * np.eye(3))
    for c in range(3):  # a quarter of the pixels take a's value, the darkest quarter, and the rest b's
        values = out[..., c].ravel()
        assert np.isin(values, [a[0, 0, c], b[0, 0, c]]).all() and np.sum(values == a[0, 0, c]) == 100
        darkest = np.argsort(recoloured[..., c].ravel(), kind="stable")[:100]
        assert set(np.flatnonzero(values == a[0, 0, c])) == set(darkest)
    a, b = moderate(rng, 16, 16, [0.5, 1.0, 0.3]), moderate(rng, 10, 40, [1.0, 0.2, 0.9])[..., ::-1]
    only_b = transfer.colour_start(content, [a, b], (0, 1))
    np.testing.assert_allclose(only_b, transfer.colour_start(content, [b]), atol=1e-3)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_run_from_the_colours_starts_at_colour_start_and_lowers_the_cost(tiny_model, make_images, optimizer):
    content, style = make_images(32, 48, seed=3)
    start = transfer.colour_start(content, [style])
    r0 = transfer.run_transfer(tiny_model, content, style, iterations=0, init="colours")
    np.testing.assert_array_equal(r0.image, np.clip(np.round(start), 0, 255).astype(np.uint8))
    s = transfer.TransferSettings(optimizer=optimizer, iterations=6, init="colours", lr=2.0)
    r = transfer.run_transfer(tiny_model, content, style, s)
    J0 = float(transfer.cost_function(tiny_model, nst.preprocess(content, tiny_model.mean),
                                      nst.preprocess(style, tiny_model.mean))(nst.preprocess(start, tiny_model.mean))[0])
    assert r.history[-1]["J"] < J0  # the steps went on from the colours start


def test_the_core_has_no_colours_start_and_says_so(tiny_model, make_images):
    content, style = make_images(16, 16, seed=4)
    with pytest.raises(nst.NSTError, match="^" + re.escape("init must be one of ('noise', 'content'), not 'colours'")):
        nst.run_style_transfer(tiny_model, content, style, init="colours")
    x_C = nst.preprocess(content, tiny_model.mean)
    with pytest.raises(nst.NSTError, match="^init_image must be an RGB image array"):
        nst.start_image(x_C, transfer.TransferSettings(init="colours"))  # it needs the style: the toolbox's


def test_the_cli_offers_the_colours_start():
    args = build_parser().parse_args(["stylize", "c.jpg", "s.jpg", "-o", "o.png", "--init", "colours"])
    assert args.init == "colours"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["stylize", "c.jpg", "s.jpg", "-o", "o.png", "--init", "colour"])
