"""load_vgg_model on small MatConvNet-layout files written here with scipy.io.savemat."""
import re

import numpy as np
import pytest
import scipy.io
import tensorflow as tf
from vgg_fixture import write_vgg_h5, write_vgg_mat

import nst_utils as nst


def np_conv_same(x, k, b):
    """MatConvNet's convolution (a cross-correlation), zero padding 1: y[i,j,o] = sum k[u,v,c,o] x[i+u-1,j+v-1,c] + b."""
    h, w, _ = x.shape
    kh, kw = k.shape[:2]
    xp = np.pad(x, ((kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    y = np.zeros((h, w, k.shape[3])) + b
    for u in range(kh):
        for v in range(kw):
            y += np.einsum("hwc,co->hwo", xp[u:u + h, v:v + w], k[u, v])
    return y


def np_pool(x, how):
    h, w, c = x.shape
    blocks = x[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2, c)
    return blocks.mean(axis=(1, 3)) if how == "avg" else blocks.max(axis=(1, 3))


def layer_weights(path, name):
    d = scipy.io.loadmat(str(path))
    for item in d["layers"][0]:
        rec = item[0][0]
        if rec["name"][0] == name:
            return rec["weights"][0][0].astype(np.float64), rec["weights"][0][1].astype(np.float64).ravel()
    raise KeyError(name)


@pytest.mark.parametrize("layout", ["new", "old"])
@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_forward_pass_matches_numpy(tmp_path, rng, layout, pooling):
    path = write_vgg_mat(tmp_path / "v.mat", layout=layout, width=3, seed=1)
    model = nst.load_vgg_model(path, pooling=pooling)
    x = rng.uniform(-100, 100, (8, 12, 3))
    out = model(x[None].astype(np.float32), ["conv1_1", "conv1_2", "pool1", "conv2_1"])
    assert list(out) == ["conv1_1", "conv1_2", "pool1", "conv2_1"]
    ref = {}
    ref["conv1_1"] = np.maximum(np_conv_same(x, *layer_weights(path, "conv1_1")), 0)
    ref["conv1_2"] = np.maximum(np_conv_same(ref["conv1_1"], *layer_weights(path, "conv1_2")), 0)
    ref["pool1"] = np_pool(ref["conv1_2"], pooling)
    ref["conv2_1"] = np.maximum(np_conv_same(ref["pool1"], *layer_weights(path, "conv2_1")), 0)
    for name, expected in ref.items():
        np.testing.assert_allclose(out[name][0].numpy(), expected, rtol=1e-4, atol=1e-4, err_msg=name)


def test_asymmetric_kernel_convolves_as_matconvnet_means(tmp_path):
    # kernel[u, v, in, out] as stored: u is the row (height) offset, v the column offset.
    k = np.zeros((3, 3, 3, 4), np.float32)
    k[0, 1, 0, 0] = 1.0  # out 0 = red channel of the pixel ABOVE (row - 1, same column)
    k[1, 2, 2, 1] = 1.0  # out 1 = blue channel of the pixel to the RIGHT
    path = write_vgg_mat(tmp_path / "asym.mat", kernels={"conv1_1": (k, np.zeros(4))})
    model = nst.load_vgg_model(path)
    x = np.zeros((1, 7, 9, 3), np.float32)
    x[0, 3, 4] = [1.0, 0.0, 2.0]
    a = model(x, ["conv1_1"])["conv1_1"][0].numpy()
    assert np.argwhere(a[..., 0] > 0).tolist() == [[4, 4]]  # seen from the pixel below it
    assert np.argwhere(a[..., 1] > 0).tolist() == [[3, 3]]  # seen from the pixel to its left
    assert a[4, 4, 0] == 1.0 and a[3, 3, 1] == 2.0
    # A loader that transposed the kernel (swapping rows and columns) would put them at [3, 5] and [4, 4].


@pytest.mark.parametrize("layout", ["new", "old"])
@pytest.mark.parametrize("arch,n_conv", [("vgg19", 16), ("vgg16", 13)])
def test_both_layouts_and_vgg16(tmp_path, layout, arch, n_conv):
    path = write_vgg_mat(tmp_path / f"{arch}-{layout}.mat", layout=layout, arch=arch, width=2,
                         mean=[10.0, 20.0, 30.0])
    model = nst.load_vgg_model(path)
    assert len(model.conv_names) == n_conv
    assert "fc6" not in model.names and "prob" not in model.names  # the classifier head is skipped
    assert model.names[-1] == "pool5"
    np.testing.assert_allclose(model.mean, [10.0, 20.0, 30.0])
    assert [a.shape[-1] for a in model(np.zeros((1, 32, 32, 3), np.float32), [f"conv{i}_1" for i in range(1, 6)]).values()] == [2, 4, 8, 16, 16]  # from the file


def test_same_weights_give_same_model_in_both_layouts(tmp_path, rng):
    new = nst.load_vgg_model(write_vgg_mat(tmp_path / "n.mat", layout="new", seed=3))
    old = nst.load_vgg_model(write_vgg_mat(tmp_path / "o.mat", layout="old", seed=3))
    x = rng.normal(0, 50, (1, 16, 16, 3)).astype(np.float32)
    a, b = new(x, ["conv3_1"])["conv3_1"], old(x, ["conv3_1"])["conv3_1"]
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    np.testing.assert_allclose(new.mean, old.mean, rtol=1e-6)


def test_layers_argument_computes_only_up_to_the_deepest(tiny_model, monkeypatch):
    calls = []
    real = tf.nn.conv2d
    monkeypatch.setattr(tf.nn, "conv2d", lambda *a, **k: calls.append(1) or real(*a, **k))
    out = tiny_model(np.zeros((1, 16, 16, 3), np.float32), ["conv2_1", "conv1_1"])
    assert sorted(out) == ["conv1_1", "conv2_1"] and len(calls) == 3
    calls.clear()
    assert len(tiny_model(np.zeros((1, 16, 16, 3), np.float32))) == len(tiny_model.names)
    assert len(calls) == 16


def test_path_from_environment(tiny_vgg_path, monkeypatch, tmp_path):
    monkeypatch.setenv("NST_VGG_PATH", str(tiny_vgg_path))
    assert nst.load_vgg_model().path == tiny_vgg_path
    assert nst.resolve_weights_path(tmp_path / "x.mat") == tmp_path / "x.mat"  # the argument wins
    monkeypatch.delenv("NST_VGG_PATH")
    assert nst.resolve_weights_path() == nst.ROOT / "pretrained-model" / "imagenet-vgg-verydeep-19.mat"


def test_missing_file_says_how_to_get_it(tmp_path):
    with pytest.raises(nst.NSTError, match=r"not found at .*python3 nst_utils.py download-weights"):
        nst.load_vgg_model(tmp_path / "nope.mat")


def test_random_bytes_are_a_clear_error(tmp_path, rng):
    bad = tmp_path / "random.mat"
    bad.write_bytes(rng.bytes(5000))
    with pytest.raises(nst.NSTError, match="not a readable MatConvNet .mat file"):
        nst.load_vgg_model(bad)


def test_truncated_file_is_a_clear_error(tmp_path, tiny_vgg_path):
    cut = tmp_path / "cut.mat"
    data = tiny_vgg_path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(nst.NSTError, match="re-download it with: python3 nst_utils.py download-weights"):
        nst.load_vgg_model(cut)


def test_mat_without_layers_or_convs(tmp_path):
    scipy.io.savemat(str(tmp_path / "x.mat"), {"x": np.ones(3)})
    with pytest.raises(nst.NSTError, match="no 'layers' variable"):
        nst.load_vgg_model(tmp_path / "x.mat")
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0] = {"name": "relu1", "type": "relu"}
    cell[0, 1] = {"name": "pool1", "type": "pool"}
    scipy.io.savemat(str(tmp_path / "noconv.mat"), {"layers": cell})
    with pytest.raises(nst.NSTError, match="no convolution layers"):
        nst.load_vgg_model(tmp_path / "noconv.mat")


def test_unknown_layer_lists_the_names(tiny_model):
    with pytest.raises(nst.NSTError, match=r"conv5_9 not in .*it has: conv1_1, conv1_2, pool1, .*conv5_4"):
        tiny_model(np.zeros((1, 8, 8, 3), np.float32), ["conv5_9"])


def test_bad_pooling(tiny_vgg_path):
    with pytest.raises(nst.NSTError, match="pooling must be 'avg' or 'max'"):
        nst.load_vgg_model(tiny_vgg_path, pooling="median")


def _nan_at_corner(k, b):
    k[0, 0, 0, 0] = np.nan
    return k, b


def _inf_bias(k, b):
    b[-1] = np.inf
    return k, b


def _one(which, value):
    """Replace one number of the kernel (or the last bias) by ``value``, as a damaged file would hold it."""
    def damage(k, b):
        k, b = k.astype(np.result_type(k, value)), b.astype(np.result_type(b, value))
        (k.reshape(-1) if which == "kernel" else b.reshape(-1))[-1] = value
        return k, b
    return damage


DAMAGE = {  # layer -> (how its weights are broken, what the message says about them)
    "half_inputs": ("conv2_1", lambda k, b: (k[:, :, : k.shape[2] // 2], b), r"a \[3, 3, 2, 8\] kernel and 8 biases, "
                    r"not \[k, k, 4, n\] \(k odd\)"),  # silently a grouped convolution before
    "odd_inputs": ("conv3_2", lambda k, b: (k[:, :, :-1], b), r"a \[3, 3, 15, 16\] kernel"),  # a TF traceback
    "even_size": ("conv1_2", lambda k, b: (k[:2, :2], b), r"a \[2, 2, 4, 4\] kernel"),
    "not_square": ("conv4_1", lambda k, b: (k[:, 1:2], b), r"a \[3, 1, 16, 32\] kernel"),
    "short_bias": ("conv2_2", lambda k, b: (k, b[:-1]), r"a \[3, 3, 8, 8\] kernel and 7 biases"),
    "nan_kernel": ("conv4_1", _nan_at_corner, "NaN or infinite weights"),
    "inf_bias": ("conv1_1", _inf_bias, "NaN or infinite weights"),
    "huge_kernel": ("conv3_1", _one("kernel", 1e30), r"a kernel weight of 1e\+30, beyond any real VGG's \(at most 1000\)"),
    "big_kernel": ("conv5_4", _one("kernel", -2000.0), r"a kernel weight of -2e\+03, beyond any real VGG's"),
    "huge_bias": ("conv2_2", _one("bias", 3e5), r"a bias of 3e\+05, beyond any real VGG's \(at most 100000\)"),
    "complex_kernel": ("conv1_2", _one("kernel", 1j), "complex weights"),  # two ComplexWarnings and a run before
    "complex_bias": ("conv4_4", _one("bias", 2 + 1j), "complex weights"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_weights_are_one_error_at_load_time(tmp_path, case):
    layer, damage, what = DAMAGE[case]
    path = write_vgg_mat(tmp_path / "damaged.mat", corrupt={layer: damage})
    with pytest.raises(nst.NSTError) as info:
        nst.load_vgg_model(path)
    message = str(info.value)
    assert "\n" not in message
    assert re.fullmatch(rf"{re.escape(str(path))}: layer {layer} has {what}.*: the file is damaged; "
                        r"re-download it with: python3 nst_utils\.py download-weights", message), message


WRONG_MEANS = [[np.nan, 116.8, 103.9], [123.7, np.inf, 103.9], [123.7, 300.0, 103.9], [-1.0, 116.8, 103.9],
               np.array([123.7, 116.8, 103.9]) * (1 + 1j)]


@pytest.mark.filterwarnings("error")  # a ComplexWarning too would fail it
@pytest.mark.parametrize("layout,mean", [("new", m) for m in WRONG_MEANS + [[1.0, 2.0, 3.0, 4.0], [1.0, 2.0]]]
                         + [("old", m) for m in WRONG_MEANS], ids=str)  # old: a 224 x 224 x 3 mean image
def test_a_wrong_mean_pixel_is_refused_at_load_time(tmp_path, layout, mean):
    field = "meta.normalization.averageImage" if layout == "new" else "normalization.averageImage"
    path = write_vgg_mat(tmp_path / "mean.mat", layout=layout, width=2, mean=mean)
    with pytest.raises(nst.NSTError) as info:
        nst.load_vgg_model(path)
    assert str(info.value) == (f"{path}: the mean pixel ({field}) is not 3 finite numbers in [0, 255]: the file is "
                               "damaged; re-download it with: python3 nst_utils.py download-weights")


@pytest.mark.parametrize("mean", [[0.0, 0.0, 0.0], [255.0, 255.0, 255.0], [10, 20, 30]])
def test_mean_pixels_at_the_edges_are_fine(tmp_path, mean):
    np.testing.assert_allclose(nst.load_vgg_model(write_vgg_mat(tmp_path / "m.mat", width=2, mean=mean)).mean, mean)


def test_weights_near_the_bounds_load(tmp_path):
    path = write_vgg_mat(tmp_path / "ok.mat", width=2, corrupt={"conv2_1": _one("kernel", -999.0),
                                                                "conv3_1": _one("bias", 99_999.0)})
    assert nst.load_vgg_model(path).path == path


def test_a_folder_stands_for_its_weights_file(tmp_path, monkeypatch):
    monkeypatch.delenv("NST_VGG_PATH", raising=False)
    expected = tmp_path / "imagenet-vgg-verydeep-19.mat"
    with pytest.raises(nst.NSTError) as info:
        nst.load_vgg_model(tmp_path)
    assert str(info.value) == (f"VGG weights not found at {expected}; {nst.WEIGHTS_HELP}; to download it to that "
                               f"path: python3 nst_utils.py download-weights --output {expected}")
    write_vgg_h5(tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", width=2)
    assert nst.load_vgg_model(tmp_path).path.suffix == ".h5"  # only the .h5: that one
    write_vgg_mat(expected, width=2)
    assert nst.load_vgg_model(tmp_path).path == expected  # both: the .mat, as in pretrained-model/
    monkeypatch.setenv("NST_VGG_PATH", str(tmp_path))
    assert nst.load_vgg_model().path == expected


def test_damaged_weights_in_the_cli_are_one_line(tmp_path, run_main):
    for name in ("c.png", "s.png"):
        nst.save_image(tmp_path / name, np.full((16, 16, 3), 128, np.uint8))
    path = write_vgg_mat(tmp_path / "damaged.mat", corrupt={"conv2_1": DAMAGE["half_inputs"][1]})
    code, err = run_main(["stylize", tmp_path / "c.png", tmp_path / "s.png", "-o", tmp_path / "o.png",
                          "--weights", path])
    assert code == 1 and len(err) == 1
    assert err[0].startswith(f"nst_utils.py stylize: error: {path}: layer conv2_1 has a [3, 3, 2, 8] kernel")
