"""The shipped images: credited, loadable, and the generated styles in sync with their script."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nst_utils

IMAGES = Path(__file__).resolve().parents[1] / "images"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


def shipped_images():
    """Names of the image files in images/."""
    return sorted(p.name for p in IMAGES.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def credited_images():
    """File names in the first column of the table in images/CREDITS.md."""
    text = (IMAGES / "CREDITS.md").read_text(encoding="utf-8")
    return sorted(re.findall(r"^\|\s*`([^`]+)`\s*\|", text, flags=re.MULTILINE))


def test_credits_list_exactly_the_shipped_images():
    shipped, credited = shipped_images(), credited_images()
    assert shipped, "no images found in images/"
    assert len(credited) == len(set(credited)), "a file is listed twice in CREDITS.md"
    assert set(shipped) - set(credited) == set(), "images without a line in images/CREDITS.md"
    assert set(credited) - set(shipped) == set(), "CREDITS.md lists files that are not in images/"


def test_the_styles_are_shipped():
    assert {"style_swirls.jpg", "style_mosaic.jpg", "style_waves.jpg"} <= set(shipped_images())


@pytest.mark.parametrize("name", shipped_images())
def test_image_loads_as_rgb_float(name):
    image = nst_utils.load_image(IMAGES / name)
    assert image.ndim == 3 and image.shape[2] == 3
    assert image.dtype == np.float32
    assert image.shape[0] >= 256 and image.shape[1] >= 256
    assert image.min() >= 0 and image.max() <= 255
    assert image.std() > 20, "a nearly flat image"


def test_make_styles_reproduces_the_shipped_styles(tmp_path):
    subprocess.run([sys.executable, str(IMAGES / "make_styles.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=120)
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(n for n in shipped_images() if n.startswith("style_"))
    for name in made:
        new = nst_utils.load_image(tmp_path / name)
        old = nst_utils.load_image(IMAGES / name)
        assert new.shape == old.shape, name
        diff = np.abs(new - old).mean()
        assert diff < 2.0, f"{name} differs from the shipped file by {diff:.2f} grey levels on average; " \
                           "rerun python images/make_styles.py"


@pytest.mark.parametrize("height,width,max_size,expected", [
    (300, 401, 128, (96, 128)),  # 95.76 rounds up: truncating gave 95
    (401, 300, 128, (128, 96)),
    (300, 400, 400, (300, 400)),
    (3, 1000, 100, (1, 100)),  # 0.3 px: at least one pixel
    (1000, 1999, 1000, (500, 1000)),  # 500.25
])
def test_fit_size_rounds_to_the_nearest_pixel(height, width, max_size, expected):
    assert nst_utils.fit_size(height, width, max_size) == expected


def test_load_image_with_max_size_rounds(tmp_path):
    from PIL import Image

    Image.new("RGB", (401, 300), (10, 20, 30)).save(tmp_path / "i.png")
    assert nst_utils.load_image(tmp_path / "i.png", max_size=128).shape == (96, 128, 3)


def test_deprocess_rounds_to_the_nearest_level_and_clips():
    values = np.array([10.6, 10.4, 254.7, 255.6, -0.4, -7.0, 0.5001, 99.9999], np.float32)
    x = np.stack([values, values + 1, values - 1], -1).reshape(1, 2, 4, 3)
    out = nst_utils.deprocess(x, mean=np.zeros(3))
    assert out.dtype == np.uint8 and out.shape == (2, 4, 3)
    np.testing.assert_array_equal(out[..., 0].ravel(), [11, 10, 255, 255, 0, 0, 1, 100])
    np.testing.assert_array_equal(out[..., 1].ravel(), [12, 11, 255, 255, 1, 0, 2, 101])
    np.testing.assert_array_equal(out[..., 2].ravel(), [10, 9, 254, 255, 0, 0, 0, 99])
    # With the VGG mean: the preprocessed image of a pixel 0.7 above a level comes back one level up.
    pixel = np.array([[[100.7, 0.7, 200.7]]], np.float32)
    np.testing.assert_array_equal(nst_utils.deprocess(nst_utils.preprocess(pixel)), [[[101, 1, 201]]])
