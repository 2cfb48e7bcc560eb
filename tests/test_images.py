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
