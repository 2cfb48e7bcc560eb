"""Shared fixtures: small MatConvNet-layout VGG files written by the tests themselves."""
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from vgg_fixture import write_vgg_mat  # noqa: E402


@pytest.fixture(scope="session")
def tiny_vgg_path(tmp_path_factory):
    """A VGG19 in the current MatConvNet layout (layers + meta), 4..32 channels."""
    return write_vgg_mat(tmp_path_factory.mktemp("vgg") / "tiny-vgg19.mat", layout="new", arch="vgg19", width=4)


@pytest.fixture(scope="session")
def tiny_model(tiny_vgg_path):
    import nst_utils

    return nst_utils.load_vgg_model(tiny_vgg_path)


def gradient_and_noise(height, width, seed):
    """A smooth content image (three colour ramps) and a noise style image, RGB float32 in [0, 255]."""
    yy, xx = np.mgrid[0:height, 0:width]
    content = np.stack([yy * 256 / height, xx * 240 / width, (yy + xx) * 96 / height], -1)
    style = np.random.default_rng(seed).integers(0, 256, (height, width, 3))
    return content.clip(0, 255).astype(np.float32), style.astype(np.float32)


@pytest.fixture(scope="session")
def make_images():
    """``make_images(height, width, seed)``: see gradient_and_noise."""
    return gradient_and_noise


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def run_main(capsys):
    """Run ``cli.main(argv)`` in-process: ``(exit status, stderr lines)``, argparse's exits included."""
    from nst_tools import cli

    def run(argv):
        try:
            code = cli.main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's errors
            code = exc.code
        return code, capsys.readouterr().err.strip().splitlines()

    return run
