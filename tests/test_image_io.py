"""Loading any image PIL reads as RGB, resizing, pre/deprocessing, the noise start, atomic saves."""
import io
import os

import numpy as np
import pytest
from PIL import Image

import nst_utils as nst
from nst_tools import cli


def test_rgba_is_composited_on_white(tmp_path):
    arr = np.zeros((4, 6, 4), np.uint8)
    arr[..., 0] = 200  # red, fully transparent on the left half, opaque on the right
    arr[:, 3:, 3] = 255
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    img = nst.load_image(tmp_path / "a.png")
    assert img.shape == (4, 6, 3) and img.dtype == np.float32
    np.testing.assert_array_equal(img[:, :3], 255)
    np.testing.assert_array_equal(img[:, 3:], np.broadcast_to([200, 0, 0], (4, 3, 3)))


@pytest.mark.parametrize("mode", ["L", "P", "1", "LA", "CMYK"])
def test_other_modes_become_rgb(tmp_path, mode):
    src = Image.fromarray(np.tile(np.arange(0, 250, 10, dtype=np.uint8), (5, 1))).convert("RGB")
    img = src.convert(mode)
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    img.save(path)
    out = nst.load_image(path)
    assert out.shape == (5, 25, 3) and 0 <= out.min() and out.max() <= 255


def test_greyscale_values_are_kept(tmp_path):
    Image.fromarray(np.full((3, 3), 77, np.uint8), "L").save(tmp_path / "g.png")
    np.testing.assert_array_equal(nst.load_image(tmp_path / "g.png"), 77)


def test_16_bit_is_scaled_to_8_bit(tmp_path):
    arr = np.array([[0, 65535], [32768, 1000]], np.uint16)
    Image.fromarray(arr).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    out = nst.load_image(tmp_path / "deep.png")
    np.testing.assert_allclose(out[..., 0], [[0, 255], [128, 4]], atol=1)


def test_exif_rotation_is_applied(tmp_path):
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[:, :10] = 255  # white left half
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(arr).save(tmp_path / "r.jpg", exif=exif, quality=95)
    out = nst.load_image(tmp_path / "r.jpg")
    assert out.shape == (20, 10, 3)
    assert out[:8].mean() > 200 and out[12:].mean() < 50  # the white half is now on top


def test_resize_exact_and_longest_side(tmp_path):
    Image.fromarray(np.zeros((30, 60, 3), np.uint8)).save(tmp_path / "x.png")
    assert nst.load_image(tmp_path / "x.png", size=(11, 13)).shape == (11, 13, 3)
    assert nst.load_image(tmp_path / "x.png", max_size=20).shape == (10, 20, 3)
    assert nst.fit_size(300, 451, 128) == (85, 128)
    assert nst.resize_image(np.zeros((30, 60, 3)), (15, 30)).shape == (15, 30, 3)


def test_bad_images(tmp_path):
    with pytest.raises(nst.NSTError, match="image not found"):
        nst.load_image(tmp_path / "missing.png")
    (tmp_path / "t.png").write_text("not an image")
    with pytest.raises(nst.NSTError, match="cannot read .* as an image"):
        nst.load_image(tmp_path / "t.png")


@pytest.mark.parametrize("text,expected", [("300x400", (300, 400)), ("64X32", (64, 32))])
def test_parse_size(text, expected):
    assert cli.parse_size(text) == expected


@pytest.mark.parametrize("text", ["300", "300x", "axb", "0x10", "-3x4", "20000x10", "1x2x3"])
def test_parse_size_errors(text):
    with pytest.raises(nst.NSTError, match="size"):
        cli.parse_size(text)


def test_preprocess_deprocess_round_trip(rng):
    img = rng.integers(0, 256, (5, 7, 3)).astype(np.float32)
    x = nst.preprocess(img)
    assert x.shape == (1, 5, 7, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], img - nst.VGG_MEAN, rtol=1e-6)
    back = nst.deprocess(x)
    assert back.dtype == np.uint8 and back.shape == (5, 7, 3)
    np.testing.assert_array_equal(back, img.astype(np.uint8))
    np.testing.assert_array_equal(nst.deprocess(np.full((1, 2, 2, 3), 500.0)), 255)  # clipped


def test_noise_image_is_the_assignments(rng):
    content = nst.preprocess(rng.integers(0, 256, (6, 8, 3)))
    x = nst.generate_noise_image(content, seed=3)
    noise = (x - 0.4 * content) / 0.6
    assert x.shape == content.shape and x.dtype == np.float32
    assert noise.min() >= -20 - 1e-3 and noise.max() <= 20 + 1e-3 and noise.std() > 5
    np.testing.assert_array_equal(x, nst.generate_noise_image(content, seed=3))
    assert not np.array_equal(x, nst.generate_noise_image(content, seed=4))


def test_save_image_is_atomic(tmp_path, rng, monkeypatch):
    img = rng.integers(0, 256, (4, 5, 3)).astype(np.uint8)
    nst.save_image(tmp_path / "ok.png", img)
    np.testing.assert_array_equal(nst.load_image(tmp_path / "ok.png"), img)
    with pytest.raises(nst.NSTError, match="output folder does not exist"):
        nst.save_image(tmp_path / "nope" / "x.png", img)
    with pytest.raises(nst.NSTError, match="use an image extension"):
        nst.save_image(tmp_path / "x.txt", img)

    real_save = Image.Image.save

    def broken_save(self, fp, *a, **k):
        if isinstance(fp, io.BytesIO):  # image_format's tiny test save in memory: no disk involved
            return real_save(self, fp, *a, **k)
        with open(fp, "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError):
        nst.save_image(tmp_path / "half.png", img)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.png"]  # no half file, no temp file


def test_saved_files_get_the_usual_permissions(tmp_path, rng):
    img = rng.integers(0, 256, (4, 5, 3)).astype(np.uint8)
    old = os.umask(0o022)
    try:
        path = nst.save_image(tmp_path / "perm.png", img)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # as open() would make it, not mkstemp's 0600


# -- wrong arguments: one NSTError naming the argument and what it must be --------------------------

@pytest.mark.parametrize("kw,words", [
    ({"path": 123}, ["path", "file name", "int"]),
    ({"path": None}, ["path", "file name", "NoneType"]),
    ({"path": b"c.png"}, ["path", "file name", "bytes"]),
    ({"size": "300x400"}, ["size", "(height, width)"]),
    ({"size": (1.5, 2)}, ["size", "whole numbers"]),
    ({"size": ("a", "b")}, ["size", "whole numbers"]),
    ({"size": 300}, ["size", "(height, width)"]),
    ({"max_size": "big"}, ["max_size", "whole number"]),
    ({"max_size": 2.5}, ["max_size", "whole number"]),
])
def test_load_image_wrong_arguments(tmp_path, kw, words):
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(tmp_path / "c.png")
    kw = {"path": tmp_path / "c.png", **kw}
    with pytest.raises(nst.NSTError) as info:
        nst.load_image(**kw)
    for w in words:
        assert w in str(info.value)


def test_load_image_checks_memory_before_allocating(tmp_path):
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(tmp_path / "c.png")
    with pytest.raises(nst.NSTError, match="GiB.*smaller size"):
        nst.load_image(tmp_path / "c.png", size=(50000, 50000))  # about 37 GiB for the float32 result alone
    with pytest.raises(nst.NSTError, match="GiB.*smaller size"):
        nst.load_image(tmp_path / "c.png", max_size=10**6)


def test_save_image_float_in_0_1_is_refused_not_black(tmp_path, rng):
    with pytest.raises(nst.NSTError, match=r"looks like \[0, 1\].*multiply .*255"):
        nst.save_image(tmp_path / "o.png", rng.uniform(0, 1, (4, 6, 3)).astype(np.float32))
    assert list(tmp_path.iterdir()) == []
    nst.save_image(tmp_path / "black.png", np.zeros((4, 6, 3), np.float32))  # all zero: black is meant
    np.testing.assert_array_equal(nst.load_image(tmp_path / "black.png"), 0)


def test_save_image_uint8_with_a_batch_axis_is_not_brightened(tmp_path, rng):
    arr = rng.integers(0, 256, (1, 4, 6, 3), dtype=np.uint8)
    nst.save_image(tmp_path / "o.png", arr)
    np.testing.assert_array_equal(nst.load_image(tmp_path / "o.png"), arr[0])
    x = nst.preprocess(arr[0].astype(np.float32))  # a float 4-D array is the model's input: the mean comes back
    nst.save_image(tmp_path / "p.png", x)
    np.testing.assert_array_equal(nst.load_image(tmp_path / "p.png"), arr[0])


def test_save_image_rgba(tmp_path, rng):
    rgba = rng.integers(0, 256, (4, 6, 4), dtype=np.uint8)
    with pytest.raises(nst.NSTError, match=r"alpha.*\.png"):
        nst.save_image(tmp_path / "o.jpg", rgba)
    assert list(tmp_path.iterdir()) == []
    nst.save_image(tmp_path / "o.png", rgba)
    assert Image.open(tmp_path / "o.png").mode == "RGBA"


@pytest.mark.parametrize("image,words", [
    ("abc", ["image", "array"]),
    (np.zeros((4, 6)), ["image", "(H, W, 3)", "(4, 6)"]),
    (np.zeros((4, 6, 2)), ["image", "(H, W, 3)"]),
    (np.zeros((2, 4, 6, 3), np.float32), ["image", "(1, H, W, 3)"]),
    (np.full((4, 6, 3), np.nan, np.float32), ["NaN"]),
])
def test_save_image_wrong_images(tmp_path, image, words):
    with pytest.raises(nst.NSTError) as info:
        nst.save_image(tmp_path / "o.png", image)
    for w in words:
        assert w in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_nan_pixels_are_refused(tmp_path):
    arr = np.full((4, 6), 100, np.float32)
    arr[1, 1] = np.nan
    Image.fromarray(arr, "F").save(tmp_path / "f.tif")
    with pytest.raises(nst.NSTError, match="NaN"):
        nst.load_image(tmp_path / "f.tif")
