"""load_vgg_model on Keras's legacy HDF5 layout (the vgg19 "notop" file's), written here with h5py."""
import re

import h5py
import numpy as np
import pytest
from vgg_fixture import write_vgg_h5, write_vgg_mat

import nst_utils as nst

HINT = "re-download it with: python3 nst_utils.py download-weights --source keras"


@pytest.mark.parametrize("naming", ["scoped", "flat"])
@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_h5_twin_gives_the_mat_files_activations(tmp_path, rng, naming, pooling):
    mat = nst.load_vgg_model(write_vgg_mat(tmp_path / "v.mat", width=3, seed=4), pooling=pooling)
    h5 = nst.load_vgg_model(write_vgg_h5(tmp_path / "v.h5", width=3, seed=4, naming=naming), pooling=pooling)
    assert h5.names == mat.names and h5.pooling == pooling
    np.testing.assert_allclose(h5.mean, [123.68, 116.779, 103.939])
    np.testing.assert_allclose(h5.mean, mat.mean, rtol=1e-6)
    x = nst.preprocess(rng.uniform(0, 255, (20, 24, 3)).astype(np.float32), h5.mean)
    a, b = h5(x), mat(x)
    for name in mat.names:
        np.testing.assert_allclose(a[name].numpy(), b[name].numpy(), rtol=1e-5, atol=1e-5, err_msg=name)


def test_conv1_1_reads_the_files_channels_as_bgr(tmp_path):
    path = write_vgg_h5(tmp_path / "v.h5")
    with h5py.File(path, "r+") as f:  # out 0 = the file's input channel 0 (blue, in Caffe's order)
        k = np.zeros((3, 3, 3, 4), np.float32)
        k[1, 1, 0, 0] = 1.0
        f["block1_conv1"]["block1_conv1/kernel:0"][...] = k
        f["block1_conv1"]["block1_conv1/bias:0"][...] = 0.0
    model = nst.load_vgg_model(path)
    for channel, expected in [(0, 0.0), (1, 0.0), (2, 5.0)]:  # only the RGB image's blue channel reaches it
        x = np.zeros((1, 4, 4, 3), np.float32)
        x[..., channel] = 5.0
        assert model(x, ["conv1_1"])["conv1_1"][0, 2, 2, 0].numpy() == expected


@pytest.mark.parametrize("arch,n_conv", [("vgg19", 16), ("vgg16", 13)])
def test_vgg16_and_vgg19_layouts_and_a_classifier_head(tmp_path, arch, n_conv):
    model = nst.load_vgg_model(write_vgg_h5(tmp_path / f"{arch}.h5", arch=arch, width=2, head=True))
    assert len(model.conv_names) == n_conv and model.names[-1] == "pool5"
    assert model.names[:4] == ["conv1_1", "conv1_2", "pool1", "conv2_1"]
    assert [a.shape[-1] for a in model(np.zeros((1, 32, 32, 3), np.float32), [f"conv{i}_1" for i in range(1, 6)]).values()] == [2, 4, 8, 16, 16]
    assert all(layer.relu for layer in model.layers if layer.kind == "conv")


def _no_layer_names(f):
    del f.attrs["layer_names"]


def _missing_bias(f):
    del f["block2_conv1"]["block2_conv1/bias:0"]


def _kernel_only(f):
    f["block3_conv1"].attrs["weight_names"] = np.array(["block3_conv1/kernel:0"], dtype=h5py.string_dtype())


def _pools_only(f):
    f.attrs["layer_names"] = np.array(["input_1", "block1_pool"], dtype=h5py.string_dtype())


MALFORMED = {
    "no_layer_names": (_no_layer_names, r"is not a Keras VGG weights file \(no 'layer_names' attribute\)"),
    "missing_bias": (_missing_bias, r"is not a Keras VGG weights file \(.*doesn't exist.*\)"),
    "kernel_only": (_kernel_only, r"is not a Keras VGG weights file \(layer block3_conv1 has 1 weight arrays, "),
    "pools_only": (_pools_only, "has no convolution layers"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_h5_is_one_error_line(tmp_path, case):
    damage, what = MALFORMED[case]
    path = write_vgg_h5(tmp_path / "bad.h5")
    with h5py.File(path, "r+") as f:
        damage(f)
    with pytest.raises(nst.NSTError) as info:
        nst.load_vgg_model(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)) and message.endswith(HINT), message
    assert re.search(what, message), message


def test_random_bytes_and_damaged_weights_in_an_h5(tmp_path, rng):
    bad = tmp_path / "random.h5"
    bad.write_bytes(rng.bytes(5000))
    with pytest.raises(nst.NSTError, match=rf"random.h5 is not a Keras VGG weights file \(.*\); {HINT}$"):
        nst.load_vgg_model(bad)
    path = write_vgg_h5(tmp_path / "half.hdf5", corrupt={"conv2_1": lambda k, b: (k[:, :, :2], b)})
    with pytest.raises(nst.NSTError, match=rf"half.hdf5: layer conv2_1 has a \[3, 3, 2, 8\] kernel .*; {HINT}$"):
        nst.load_vgg_model(path)


def test_missing_h5_says_which_download(tmp_path):
    path = tmp_path / "none.h5"
    with pytest.raises(nst.NSTError, match=re.escape(f"not found at {path}; get them with `python3 nst_utils.py "
                                                     "download-weights`") + ".*" + re.escape("--source keras` (Keras's VGG19 .h5")):
        nst.load_vgg_model(path)


def test_default_path_falls_back_to_the_h5(tmp_path, monkeypatch):
    mat, h5 = tmp_path / "w.mat", tmp_path / "w.h5"
    monkeypatch.setattr(nst, "DEFAULT_WEIGHTS", mat)
    monkeypatch.setattr(nst, "KERAS_WEIGHTS", h5)
    monkeypatch.delenv("NST_VGG_PATH", raising=False)
    assert nst.resolve_weights_path() == mat  # neither: the .mat (whose download the error names)
    write_vgg_h5(h5)
    assert nst.resolve_weights_path() == h5  # only the .h5
    assert nst.load_vgg_model().path == h5
    mat.write_bytes(b"")
    assert nst.resolve_weights_path() == mat  # both: the .mat
    monkeypatch.setenv("NST_VGG_PATH", str(tmp_path / "x.mat"))
    assert nst.resolve_weights_path() == tmp_path / "x.mat"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Keras's own, about NumPy 2's copy keyword
def test_keras_itself_agrees(tmp_path, rng):
    """A Keras VGG19 (random weights) saved in the legacy layout by Keras: same activations on Keras's inputs."""
    keras = pytest.importorskip("keras")
    legacy = pytest.importorskip("keras.src.legacy.saving.legacy_h5_format")
    net = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
    with h5py.File(tmp_path / "k.h5", "w") as f:
        legacy.save_weights_to_hdf5_group(f, net)
    model = nst.load_vgg_model(tmp_path / "k.h5", pooling="max")
    image = rng.uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    bgr = keras.applications.vgg19.preprocess_input(image.copy())  # RGB -> BGR minus Caffe's mean
    ours = model(nst.preprocess(image[0], model.mean), ["conv1_1", "conv3_1"])
    for ours_name, keras_name in [("conv1_1", "block1_conv1"), ("conv3_1", "block3_conv1")]:
        expected = keras.Model(net.input, net.get_layer(keras_name).output)(bgr)
        np.testing.assert_allclose(ours[ours_name].numpy(), np.asarray(expected), rtol=1e-4, atol=1e-3)


def test_a_whole_saved_model_reads_its_model_weights_group(tmp_path, rng):
    plain = write_vgg_h5(tmp_path / "plain.h5", width=2, seed=6)
    with h5py.File(plain, "r") as src, h5py.File(tmp_path / "model.h5", "w") as dst:
        group = dst.create_group("model_weights")
        for key, value in src.attrs.items():
            group.attrs[key] = value
        for name in src:
            src.copy(src[name], group, name=name)
        dst.attrs["model_config"] = "{}"
    a, b = nst.load_vgg_model(plain), nst.load_vgg_model(tmp_path / "model.h5")
    x = rng.normal(0, 50, (1, 8, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(a(x, ["conv2_2"])["conv2_2"].numpy(), b(x, ["conv2_2"])["conv2_2"].numpy())


def _one(which, value):
    def damage(k, b):
        k, b = k.astype(np.result_type(k, value)), b.astype(np.result_type(b, value))
        (k.reshape(-1) if which == "kernel" else b.reshape(-1))[0] = value
        return k, b
    return damage


@pytest.mark.filterwarnings("error")  # no ComplexWarning either
@pytest.mark.parametrize("layer,damage,what", [
    ("conv1_1", _one("kernel", 1j), "complex weights"),
    ("conv3_4", _one("bias", 1 - 1j), "complex weights"),
    ("conv4_2", _one("kernel", 1e30), r"a kernel weight of 1e\+30, beyond any real VGG's \(at most 1000\)"),
    ("conv5_1", _one("bias", -1e30), r"a bias of -1e\+30, beyond any real VGG's \(at most 100000\)"),
])
def test_wrong_weights_in_an_h5_are_refused_at_load_time(tmp_path, layer, damage, what):
    path = write_vgg_h5(tmp_path / "w.h5", width=2, corrupt={layer: damage})
    with pytest.raises(nst.NSTError) as info:
        nst.load_vgg_model(path)
    assert re.fullmatch(rf"{re.escape(str(path))}: layer {layer} has {what}: the file is damaged; {HINT}",
                        str(info.value)), str(info.value)
