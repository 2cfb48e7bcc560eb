"""Going further: colour preservation, several styles, style scale, the animation, and their CLI flags."""
import json
import os

import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import nst_utils as nst
from nst_tools import cli, further, lab, lab_panel, transfer

# Rounding to uint8 moves each channel by at most 0.5, so I and Q by at most 0.5 * (sum of |row|).
ROUNDING_I = 0.5 * np.abs(further.RGB_TO_YIQ[1]).sum()
ROUNDING_Q = 0.5 * np.abs(further.RGB_TO_YIQ[2]).sum()


def smooth_image(rng, h, w, saturation=60.0):
    """A colourful but mostly in-gamut test picture: smooth colour gradients plus a little noise."""
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([128 + saturation * np.sin(3 * x + 1), 128 + saturation * np.cos(2 * y),
                     128 + saturation * np.sin(2 * x + 3 * y)], -1)
    return np.clip(base + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.float32)


def chroma(image):
    return further.rgb_to_yiq(image)[..., 1:]


def unclipped(image_uint8):
    """Pixels of a uint8 output with no channel at 0 or 255: there restore_chroma clipped nothing."""
    return np.all((image_uint8 > 0) & (image_uint8 < 255), axis=-1)


# --- colour spaces and colour preservation --------------------------------------------------------


def test_yiq_matches_the_ntsc_formulas_and_inverts(rng):
    rgb = rng.uniform(0, 255, (5, 7, 3))
    yiq = further.rgb_to_yiq(rgb)
    R, G, B = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    np.testing.assert_allclose(yiq[..., 0], 0.299 * R + 0.587 * G + 0.114 * B, rtol=1e-12)
    np.testing.assert_allclose(yiq[..., 1], 0.595716 * R - 0.274453 * G - 0.321263 * B, rtol=1e-12)
    np.testing.assert_allclose(yiq[..., 2], 0.211456 * R - 0.522591 * G + 0.311135 * B, rtol=1e-12)
    np.testing.assert_allclose(further.yiq_to_rgb(yiq), rgb, atol=1e-9)
    grey = np.repeat(rng.uniform(0, 255, (4, 1)), 3, axis=1)
    np.testing.assert_allclose(chroma(grey), 0, atol=1e-9)  # grey has no chroma
    np.testing.assert_allclose(further.rgb_to_yiq(grey)[..., 0], grey[..., 0], rtol=1e-12)


def test_match_luminance_gives_a_grey_image_with_the_contents_statistics(rng):
    style = smooth_image(rng, 20, 30, saturation=90) * 0.5  # darker and flatter than the content
    content = smooth_image(rng, 16, 24)
    L = further.match_luminance(style, content)
    assert L.shape == style.shape and L.dtype == np.float32
    np.testing.assert_array_equal(L[..., 0], L[..., 1])
    np.testing.assert_array_equal(L[..., 0], L[..., 2])
    Y_C = further.rgb_to_yiq(content)[..., 0]
    assert L[..., 0].mean() == pytest.approx(Y_C.mean(), abs=1e-3)
    assert L[..., 0].std() == pytest.approx(Y_C.std(), rel=1e-4)
    # an affine map of the style's luminance: perfectly correlated with it
    assert np.corrcoef(L[..., 0].ravel(), further.rgb_to_yiq(style)[..., 0].ravel())[0, 1] > 0.9999


def test_restore_chroma_keeps_the_contents_chroma_and_the_stylised_luminance(rng):
    content = smooth_image(rng, 24, 32)
    stylised = smooth_image(np.random.default_rng(5), 24, 32, saturation=40)[..., ::-1]
    out = further.restore_chroma(stylised, content)
    assert out.dtype == np.uint8 and out.shape == content.shape
    mask = unclipped(out)
    assert mask.mean() > 0.9
    err = np.abs(chroma(out) - chroma(content))[mask]
    assert err[:, 0].max() <= ROUNDING_I + 1e-6 and err[:, 1].max() <= ROUNDING_Q + 1e-6
    dY = np.abs(further.rgb_to_yiq(out)[..., 0] - further.rgb_to_yiq(stylised)[..., 0])[mask]
    assert dY.max() <= 0.5 + 1e-6
    with pytest.raises(nst.NSTError, match="one size"):
        further.restore_chroma(stylised[:-1], content)


@pytest.mark.parametrize("method", ["eig", "cholesky"])
def test_histogram_matching_gives_the_style_the_contents_mean_and_covariance(rng, method):
    style = rng.uniform(0, 255, (30, 20, 3)) * np.array([1.0, 0.3, 0.6])  # other colours, other shape
    content = smooth_image(rng, 16, 24)
    out = further.match_color_histogram(style, content, method=method, clip=False)
    assert out.shape == style.shape and out.dtype == np.float32
    o, c = out.reshape(-1, 3).astype(np.float64), content.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(o.mean(0), c.mean(0), atol=1e-2)
    np.testing.assert_allclose(np.cov(o, rowvar=False, bias=True), np.cov(c, rowvar=False, bias=True),
                               rtol=1e-3, atol=1e-2)
    clipped = further.match_color_histogram(style, content, method=method)
    assert clipped.min() >= 0 and clipped.max() <= 255


def test_histogram_matching_methods_differ_and_leave_a_matched_image_alone(rng):
    style = rng.uniform(0, 255, (20, 20, 3)) * np.array([1.0, 0.3, 0.6])
    content = smooth_image(rng, 16, 24)
    a = further.match_color_histogram(style, content, "eig", clip=False)
    b = further.match_color_histogram(style, content, "cholesky", clip=False)
    assert np.abs(a - b).max() > 1.0  # two different A with A Sigma_S A^T = Sigma_C
    same = further.match_color_histogram(content, content, clip=False)
    np.testing.assert_allclose(same, content, atol=1e-2)  # A = I when the statistics already match
    with pytest.raises(nst.NSTError, match="'eig' or 'cholesky'"):
        further.match_color_histogram(style, content, method="pca")


def test_luminance_transfer_output_keeps_the_contents_chroma(tiny_model, rng):
    content = smooth_image(rng, 24, 32)
    style = rng.uniform(0, 255, (24, 32, 3)).astype(np.float32)
    rec = further.AnimationRecorder(every=2)
    result = further.stylize(tiny_model, content, style, preserve_colors="luminance", iterations=4, seed=0,
                         recorder=rec)
    out = result.image
    mask = unclipped(out)
    assert mask.mean() > 0.8
    err = np.abs(chroma(out) - chroma(content))[mask]
    assert err[:, 0].max() <= ROUNDING_I + 1e-6 and err[:, 1].max() <= ROUNDING_Q + 1e-6
    np.testing.assert_array_equal(nst.deprocess(result.x, tiny_model.mean), out)
    assert len(rec) == 2  # the film's frames are in colour too
    for frame in rec.frames:
        m = unclipped(frame)
        assert np.abs(chroma(frame) - chroma(content))[m].max() <= ROUNDING_I + 1e-6
    # without colour preservation the chroma does move
    plain = further.stylize(tiny_model, content, style, iterations=4, seed=0).image
    assert np.abs(chroma(plain) - chroma(content)).mean() > 5 * np.abs(chroma(out) - chroma(content)).mean()


def test_luminance_transfer_optimises_grey_images(tiny_model, rng, monkeypatch):
    content = smooth_image(rng, 16, 24)
    style = rng.uniform(0, 255, (20, 20, 3)).astype(np.float32)
    seen = {}
    real = transfer.run_transfer

    def spy(model, c, s, **kw):
        seen["content"], seen["style"] = c, s
        return real(model, c, s, **kw)

    monkeypatch.setattr(further, "run_transfer", spy)
    further.stylize(tiny_model, content, style, preserve_colors="luminance", iterations=1)
    for img in (seen["content"], seen["style"]):
        np.testing.assert_allclose(chroma(img), 0, atol=1e-3)
    np.testing.assert_allclose(seen["content"][..., 0], further.rgb_to_yiq(content)[..., 0], atol=1e-3)


def test_histogram_mode_recolours_the_style_before_the_transfer(rng):
    content = smooth_image(rng, 16, 24)
    style = rng.uniform(0, 255, (20, 20, 3)) * np.array([1.0, 0.2, 0.2])  # a red style
    (prepared,) = further.prepare_styles(style, content, preserve_colors="histogram")
    np.testing.assert_allclose(prepared.reshape(-1, 3).mean(0), content.reshape(-1, 3).mean(0), atol=3)
    with pytest.raises(nst.NSTError, match="preserve_colors"):
        further.prepare_styles(style, content, preserve_colors="rgb")


# --- several styles ---------------------------------------------------------------------------------


def test_normalize_style_weights():
    np.testing.assert_allclose(transfer.normalize_style_weights(None, 4), [0.25] * 4)
    np.testing.assert_allclose(transfer.normalize_style_weights([7, 3], 2), [0.7, 0.3])
    np.testing.assert_allclose(transfer.normalize_style_weights([0, 2], 2), [0, 1])
    for bad, match in [([1], "1 style weight"), ([1, 2, 3], "3 style weight"), ([1, -1], ">= 0"),
                       ([0, 0], "all 0"), ([1, float("nan")], ">= 0")]:
        with pytest.raises(nst.NSTError, match=match):
            transfer.normalize_style_weights(bad, 2)


@pytest.fixture
def two_styles(tiny_model, rng):
    a = nst.preprocess(rng.uniform(0, 255, (16, 24, 3)), tiny_model.mean)
    b = nst.preprocess(smooth_image(rng, 16, 24), tiny_model.mean)
    return a, b


NAMES = [n for n, _ in nst.STYLE_LAYERS]


def single_grams(model, s, layers=NAMES):
    """The taught Gram matrices of one style's own activations (no rescaling)."""
    a = model(s, layers)
    return {n: nst.gram_matrix(nst.unroll(a[n])).numpy() for n in layers}


def targets(model, styles, weights, shape):
    return transfer.style_targets(model, styles, weights, NAMES, shape)


def test_blend_with_weights_1_0_equals_the_single_style_target(tiny_model, two_styles):
    a, b = two_styles
    G_a, single_a = single_grams(tiny_model, a), targets(tiny_model, [a], None, a.shape)
    for weights in ([1, 0], [5, 0]):
        blend = targets(tiny_model, [a, b], weights, a.shape)
        assert set(blend) == set(G_a) == set(single_a)
        for n in G_a:
            np.testing.assert_array_equal(blend[n].numpy(), single_a[n].numpy())  # the same target, exactly
            np.testing.assert_allclose(blend[n].numpy(), G_a[n], rtol=1e-5, atol=1e-3)  # the taught Gram
    only_b = targets(tiny_model, [a, b], [0, 1], a.shape)
    G_b, single_b = single_grams(tiny_model, b), targets(tiny_model, [b], None, a.shape)
    for n in G_b:
        np.testing.assert_array_equal(only_b[n].numpy(), single_b[n].numpy())
        np.testing.assert_allclose(only_b[n].numpy(), G_b[n], rtol=1e-5, atol=1e-3)


def test_blend_is_the_weighted_sum_of_the_grams(tiny_model, two_styles):
    a, b = two_styles
    G_a, G_b = single_grams(tiny_model, a), single_grams(tiny_model, b)
    blend = targets(tiny_model, [a, b], [0.7, 0.3], a.shape)
    equal = targets(tiny_model, [a, b], [2, 2], a.shape)
    default = targets(tiny_model, [a, b], None, a.shape)
    for n in G_a:
        scale = np.abs(G_a[n]).max() + np.abs(G_b[n]).max()
        np.testing.assert_allclose(blend[n].numpy(), 0.7 * G_a[n] + 0.3 * G_b[n], rtol=1e-5, atol=1e-6 * scale)
        np.testing.assert_allclose(equal[n].numpy(), 0.5 * G_a[n] + 0.5 * G_b[n], rtol=1e-5, atol=1e-6 * scale)
        np.testing.assert_allclose(default[n].numpy(), equal[n].numpy(), rtol=1e-6)


def test_blend_rescales_each_style_by_its_own_positions(tiny_model, two_styles, rng):
    a, _ = two_styles
    big = nst.preprocess(rng.uniform(0, 255, (32, 48, 3)), tiny_model.mean)  # about 4x the positions
    blend = targets(tiny_model, [a, big], [0, 1], a.shape)
    G_big = single_grams(tiny_model, big)
    small_acts, big_acts = tiny_model(a, NAMES), tiny_model(big, NAMES)
    ratios = {n: np.prod(small_acts[n].shape[1:3]) / np.prod(big_acts[n].shape[1:3]) for n in NAMES}
    assert ratios["conv1_1"] == 0.25 and ratios["conv5_1"] == pytest.approx(1 / 3)  # 1x2 vs 2x3 positions
    for n in G_big:
        np.testing.assert_allclose(blend[n].numpy(), G_big[n] * ratios[n], rtol=1e-5, atol=1e-6 * np.abs(G_big[n]).max())


def test_cost_and_run_with_weights_1_0_equal_the_single_style(tiny_model, two_styles, rng):
    a, b = two_styles
    c = nst.preprocess(smooth_image(rng, 16, 24), tiny_model.mean)
    x = tf.constant(nst.generate_noise_image(c, seed=3))
    single = transfer.cost_function(tiny_model, c, a)(x)
    blended = transfer.cost_function(tiny_model, c, [a, b], style_weights=[1, 0])(x)
    for u, v in zip(single, blended):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-6)
    half = transfer.cost_function(tiny_model, c, [a, b], style_weights=[1, 1])(x)
    assert abs(float(half[2]) - float(single[2])) > 1e-3 * abs(float(single[2]))  # the target moved
    img_c, img_a, img_b = (nst.deprocess(v, tiny_model.mean) for v in (c, a, b))
    r1 = transfer.run_transfer(tiny_model, img_c, img_a, iterations=3, seed=1)
    r2 = transfer.run_transfer(tiny_model, img_c, [img_a, img_b], style_weights=(1, 0), iterations=3, seed=1)
    np.testing.assert_array_equal(r1.image, r2.image)
    assert r1.J == pytest.approx(r2.J, rel=1e-6)


# --- style scale --------------------------------------------------------------------------------------


def test_style_target_size():
    assert further.style_target_size((300, 400), 1) == (300, 400)
    assert further.style_target_size((300, 400), 0.5) == (150, 200)
    assert further.style_target_size((300, 400), 2.0) == (600, 800)
    assert further.style_target_size((4, 6), 1.0) == (4, 6)  # scale 1 never refuses the content's size
    for bad, match in [(0, "> 0"), (-1, "> 0"), (float("nan"), "> 0"), (float("inf"), "> 0"),
                       ("big", "a number"), (0.01, "between 8 and 3000"), (20, "between 8 and 3000")]:
        with pytest.raises(nst.NSTError, match=match):
            further.style_target_size((300, 400), bad)


def test_style_scale_resizes_the_style_relative_to_the_content(tiny_model, rng, monkeypatch):
    content = smooth_image(rng, 24, 32)
    style = rng.uniform(0, 255, (50, 70, 3)).astype(np.float32)
    for scale, shape in [(0.5, (12, 16, 3)), (1, (24, 32, 3)), (2, (48, 64, 3))]:
        assert [s.shape for s in further.prepare_styles([style, style], content, style_scale=scale)] == [shape] * 2
    assert further.prepare_styles(style, content)[0].shape == style.shape  # None: as given
    seen = []
    real = transfer.run_transfer
    monkeypatch.setattr(further, "run_transfer", lambda m, c, s, **kw: seen.append(s.shape) or real(m, c, s, **kw))
    result = further.stylize(tiny_model, content, style, style_scale=2, iterations=2, seed=0)
    assert seen == [(48, 64, 3)] and result.image.shape == (24, 32, 3)


# --- the animation ------------------------------------------------------------------------------------


def test_recorder_keeps_every_nth_frame_and_writes_a_gif(tiny_model, rng, tmp_path):
    content = smooth_image(rng, 16, 24)
    style = rng.uniform(0, 255, (16, 24, 3)).astype(np.float32)
    rec = further.AnimationRecorder(every=3)
    transfer.run_transfer(tiny_model, content, style, iterations=10, callback=rec, callback_every=1, seed=0)
    assert rec.iterations == [3, 6, 9] and len(rec) == 3
    path = rec.save(tmp_path / "run.gif", fps=5)
    frames = iio.imread(path, index=None)
    assert frames.shape == (3, 16, 24, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.gif"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # a normal file's mode, not mkstemp's 0600


def test_stylize_feeds_recorder_and_callback_each_at_its_own_pace(tiny_model, rng, tmp_path):
    content = smooth_image(rng, 16, 24)
    style = rng.uniform(0, 255, (16, 24, 3)).astype(np.float32)
    rec, calls = further.AnimationRecorder(every=2), []
    further.stylize(tiny_model, content, style, recorder=rec, iterations=7, seed=0,
                callback=lambda i, costs, img: calls.append(i), callback_every=3)
    assert rec.iterations == [2, 4, 6]
    assert calls == [3, 6, 7]  # every 3 and the end
    path = rec.save(tmp_path / "run.mp4", fps=4)
    reader = iio2.get_reader(path)
    assert reader.count_frames() == 3 and reader.get_meta_data()["size"] == (24, 16)


def test_recorder_resizes_frames_of_earlier_scales_and_crops_mp4_to_even_sides(tmp_path):
    rec = further.AnimationRecorder(every=1)
    rec(1, {}, np.zeros((10, 15, 3), np.uint8))
    rec(2, {}, np.full((21, 31, 3), 200, np.uint8))
    frames = iio.imread(rec.save(tmp_path / "a.gif"), index=None)
    assert frames.shape == (2, 21, 31, 3) and frames[0].max() < 10 and frames[1].min() > 190
    reader = iio2.get_reader(rec.save(tmp_path / "a.mp4"))
    assert reader.get_meta_data()["size"] == (30, 20) and reader.count_frames() == 2


def test_recorder_errors(tmp_path):
    for bad in (0, -2, 1.5, "3", True):
        with pytest.raises(nst.NSTError, match="whole number >= 1"):
            further.AnimationRecorder(every=bad)
    rec = further.AnimationRecorder(every=5)
    rec(3, {}, np.zeros((8, 8, 3), np.uint8))  # not a multiple of 5: not kept
    with pytest.raises(nst.NSTError, match="no frames recorded"):
        rec.save(tmp_path / "a.gif")
    rec(5, {}, np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(nst.NSTError, match="use a .gif or .mp4"):
        rec.save(tmp_path / "a.png")
    with pytest.raises(nst.NSTError, match="folder does not exist"):
        rec.save(tmp_path / "missing" / "a.gif")
    with pytest.raises(nst.NSTError, match="fps"):
        rec.save(tmp_path / "a.gif", fps=0)
    assert list(tmp_path.iterdir()) == []


# --- the command line ---------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path, rng):
    Image.fromarray(smooth_image(rng, 24, 32).astype(np.uint8)).save(tmp_path / "c.png")
    Image.fromarray(rng.integers(0, 256, (30, 30, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(rng.integers(0, 256, (40, 20, 3), dtype=np.uint8)).save(tmp_path / "b.png")
    return tmp_path


def test_cli_blend_luminance_and_animation(files, tiny_vgg_path, capsys):
    out, gif = files / "o.png", files / "film.gif"
    code = cli.main(["stylize", str(files / "c.png"), str(files / "a.png"), str(files / "b.png"),
                     "--style-weights", "0.7", "0.3", "--style-scale", "0.5", "--preserve-colors", "luminance",
                     "--animation", str(gif), "--animation-every", "2", "--iterations", "5", "-o", str(out),
                     "--weights", str(tiny_vgg_path), "--size", "24x32", "--json", "--quiet", "--seed", "0"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["output"] == str(out) and summary["iterations"] == 5
    assert summary["animation"] == str(gif) and summary["animation_frames"] == 2
    assert iio.imread(gif, index=None).shape == (2, 24, 32, 3)
    result, content = nst.load_image(out), nst.load_image(files / "c.png")
    mask = unclipped(result.astype(np.uint8))
    assert mask.mean() > 0.8
    assert np.abs(chroma(result) - chroma(content))[mask].max() <= ROUNDING_I + 1e-6


def test_cli_single_style_without_new_flags_writes_no_animation(files, tiny_vgg_path, capsys):
    code = cli.main(["stylize", str(files / "c.png"), str(files / "a.png"), "-o", str(files / "o.png"),
                     "--weights", str(tiny_vgg_path), "--size", "16x24", "--iterations", "2", "--json", "--quiet"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert "animation" not in summary
    assert sorted(p.name for p in files.iterdir()) == ["a.png", "b.png", "c.png", "o.png"]


ERRORS = [
    (["--style-weights", "1"], 1, "1 style weight(s) for 2 style image(s)"),
    (["{d}/a.png", "--style-weights", "1", "2"], 1, "2 style weight(s) for 1 style image(s)"),
    (["--style-weights", "1", "2", "3"], 1, "3 style weight(s) for 2"),
    (["--style-weights", "0", "0"], 1, "all 0"),
    (["--style-weights", "1", "-1"], 2, ">= 0"),
    (["--style-weights", "1", "x"], 2, "expected a number"),
    (["--style-scale", "0"], 1, "style scale must be a number > 0"),
    (["--style-scale", "abc"], 2, "expected a number"),
    (["--style-scale", "-2"], 2, ">= 0"),
    (["--style-scale", "0.01"], 1, "each side must be between"),
    (["--style-scale", "500"], 1, "each side must be between"),
    (["--preserve-colors", "chroma"], 2, "invalid choice"),
    (["--animation", "{d}/film.png"], 1, "use a .gif or .mp4"),
    (["--animation", "{d}/no/such/film.gif"], 1, "animation folder does not exist"),
    (["--animation", "{d}/o.gif", "-o", "{d}/o.gif"], 1, "same file"),
    (["--animation", "{d}/film.gif", "--animation-every", "0"], 2, "must be at least 1"),
    (["--animation-every", "2"], 1, "--animation-every needs --animation"),
    (["--animation", "{d}/film.gif", "--animation-every", "50"], 1, "would have no frames"),
]


@pytest.mark.parametrize("extra,code,message", ERRORS, ids=[" ".join(e[0]) for e in ERRORS])
def test_cli_errors_are_one_line_and_write_nothing(files, tiny_vgg_path, run_main, extra, code, message):
    extra = [a.format(d=files) for a in extra]
    styles = [str(files / "a.png"), str(files / "b.png")]
    if extra[0].endswith(".png"):  # the case gives its own list of styles
        styles, extra = [a for a in extra if a.endswith(".png")], [a for a in extra if not a.endswith(".png")]
    out = [] if "-o" in extra else ["-o", str(files / "o.png")]
    argv = ["stylize", str(files / "c.png"), *styles, *extra, *out, "--weights", str(tiny_vgg_path),
            "--size", "24x32", "--iterations", "4", "--quiet"]
    before = set(files.rglob("*"))
    got, err = run_main(argv)
    assert got == code
    assert len(err) == 1 and message in err[0] and err[0].startswith("nst_utils.py"), err
    assert set(files.rglob("*")) == before  # no output, no animation, no temp file


# --- the lab's "Save film" ----------------------------------------------------------------------------


def test_lab_records_the_run_and_saves_it_as_a_gif(tiny_model, tmp_path):
    every = lab.LAB_FILM_EVERY
    panel = lab_panel.lab("chelsea.jpg", "coffee.jpg", model=tiny_model, size=32, iterations=2 * every + 1,
                    output_dir=tmp_path, preview_interval=0.0)
    w = panel.w
    assert w["film"].disabled and "nst-film" in w["film"]._dom_classes
    w["run"].click()
    assert panel.runner.wait(60)
    assert panel.runner.film.iterations == [every, 2 * every]
    assert not w["film"].disabled
    w["film"].click()
    frames = iio.imread(panel.saved_film, index=None)
    assert panel.saved_film.parent == tmp_path and panel.saved_film.suffix == ".gif"
    assert frames.shape[0] == 2 and frames.shape[1:3] == panel.runner.image.shape[:2]
    w["film"].click()  # a second save never overwrites the first
    assert len(list(tmp_path.glob("lab-film-*.gif"))) == 2
    # "continue" goes on filming from the last iteration; a restart starts a new film
    w["continue"].value = True
    w["run"].click()
    assert panel.runner.wait(60)
    assert panel.runner.film.iterations == [every, 2 * every, 3 * every, 4 * every]
    w["continue"].value = False
    w["run"].click()
    assert panel.runner.wait(60)
    assert panel.runner.film.iterations == [every, 2 * every]
