"""Write small VGG files in MatConvNet's layouts with ``scipy.io.savemat``, for tests and smoke runs.

    python tests/vgg_fixture.py OUT.mat [--layout new|old] [--arch vgg19|vgg16] [--width 4]

The layer sequence, names, field names and shapes follow imagenet-vgg-verydeep-19.mat (and -16);
only the channel counts are small (``width`` x 1, 2, 4, 8, 8 per block), so everything runs in seconds.
"""
import argparse

import numpy as np
import scipy.io

MEAN_RGB = np.array([123.68, 116.779, 103.939])
BLOCKS = {"vgg19": [2, 2, 4, 4, 4], "vgg16": [2, 2, 3, 3, 3]}


def _stored(value):
    """float32 as in the real files; a complex value stays complex (a damaged file, for the loader's tests)."""
    return np.asarray(value).astype(np.complex64 if np.iscomplexobj(value) else np.float32)


def _conv(name, kernel, bias, old):
    w = np.empty((1, 2), dtype=object)
    w[0, 0] = _stored(kernel)
    w[0, 1] = _stored(bias.reshape(1, -1) if old else bias.reshape(-1, 1))
    pad, stride = np.array([[1.0, 1, 1, 1]]), np.array([[1.0, 1]])
    if old:  # the older file's field order
        return {"weights": w, "pad": pad, "type": "conv", "name": name, "stride": stride}
    return {"name": name, "type": "conv", "weights": w, "size": np.array([list(kernel.shape)], float),
            "pad": pad, "stride": stride, "precious": 0, "dilate": 1.0}


def _simple(name, kind, old, **extra):
    layer = {"type": kind, "name": name, **extra}
    if not old:
        layer = {"name": name, "type": kind, **extra, "weights": np.empty((0, 0), dtype=object), "precious": 0}
    return layer


def conv_weights(rng, arch="vgg19", width=4, kernels=None, corrupt=None):
    """[(block, index, kernel, bias)] of the conv layers, drawn from ``rng`` in layer order.

    ``kernels`` may override {name: (kernel, bias)}; ``corrupt`` {name: f} replaces a layer's weights by
    ``f(kernel, bias) -> (kernel, bias)`` after drawing them (the other layers keep their values).
    """
    convs, c_in = [], 3
    for b, n in enumerate(BLOCKS[arch], 1):
        c_out = width * min(2 ** (b - 1), 8)
        for i in range(1, n + 1):
            name = f"conv{b}_{i}"
            if kernels and name in kernels:
                k, bias = kernels[name]
            else:  # He initialisation keeps activations alive through 16 layers
                k = rng.normal(0, np.sqrt(2.0 / (9 * c_in)), (3, 3, c_in, c_out))
                if b == 1 and i == 1:
                    k = k / 60.0  # raw pixels are in +-128: keep conv1_1 in a sane range
                bias = rng.normal(0, 0.05, c_out)
            if corrupt and name in corrupt:
                k, bias = corrupt[name](np.array(k, dtype=np.float64), np.array(bias, dtype=np.float64))
            convs.append((b, i, np.asarray(k), np.asarray(bias)))
            c_in = c_out
    return convs


def vgg_layers(arch="vgg19", width=4, seed=0, kernels=None, head=True, old=False, corrupt=None):
    """The list of layer dicts; ``kernels`` and ``corrupt`` as for ``conv_weights``."""
    rng = np.random.default_rng(seed)
    layers = []
    convs = conv_weights(rng, arch, width, kernels, corrupt)
    for b, i, k, bias in convs:
        layers.append(_conv(f"conv{b}_{i}", k, bias, old))
        layers.append(_simple(f"relu{b}_{i}", "relu", old))
        if i == BLOCKS[arch][b - 1]:
            layers.append(_simple(f"pool{b}", "pool", old, method="max", pool=np.array([[2.0, 2]]),
                                  stride=np.array([[2.0, 2]]), pad=np.array([[0.0, 0, 0, 0]])))
    c_in = width * min(2 ** (len(BLOCKS[arch]) - 1), 8)
    if head:  # a small classifier head, as in the real file (the loader must stop before it)
        fc = [("fc6", (1, 1, c_in, 8)), ("fc7", (1, 1, 8, 8)), ("fc8", (1, 1, 8, 5))]
        for j, (name, shape) in enumerate(fc):
            layers.append(_conv(name, rng.normal(0, 0.1, shape), np.zeros(shape[-1]), old))
            if j < 2:
                layers.append(_simple(f"relu{6 + j}", "relu", old))
        layers.append(_simple("prob", "softmax", old))
    return layers


def write_vgg_mat(path, layout="new", arch="vgg19", width=4, seed=0, kernels=None, mean=MEAN_RGB,
                  head=True, corrupt=None):
    """Write a MatConvNet-layout VGG file to ``path``; returns ``path``. ``corrupt``: see ``conv_weights``."""
    old = layout == "old"
    mean = np.asarray(mean, complex if np.iscomplexobj(mean) else float)  # complex: a damaged file
    layers = vgg_layers(arch, width, seed, kernels, head, old, corrupt)
    cell = np.empty((1, len(layers)), dtype=object)
    for j, layer in enumerate(layers):
        cell[0, j] = layer
    classes = {"name": np.empty((1, 0), dtype=object), "description": np.empty((1, 0), dtype=object)}
    if old:
        data = {"layers": cell, "classes": classes,
                "normalization": {"averageImage": np.broadcast_to(mean, (224, 224, 3)).copy(),
                                  "keepAspect": 1, "imageSize": np.array([[224, 224, 3]])}}
    else:
        data = {"layers": cell,
                "meta": {"inputs": {"name": "input", "size": np.array([[224.0, 224, 3, 10]])}, "classes": classes,
                         "normalization": {"imageSize": np.array([[224.0, 224, 3, 10]]), "keepAspect": 1,
                                           "averageImage": mean.reshape(1, 1, -1)}}}
    scipy.io.savemat(str(path), data, do_compression=False, oned_as="column")
    return path


def write_vgg_h5(path, arch="vgg19", width=4, seed=0, kernels=None, naming="scoped", head=False, corrupt=None):
    """Write the Keras twin of ``write_vgg_mat(path, arch=arch, width=width, seed=seed, ...)``: same weights, in
    the legacy Keras HDF5 layout, conv1_1's input channels in Caffe's BGR order. Returns ``path``.

    ``naming``: "scoped" (Keras 2/3: ``block1_conv1/kernel:0`` in a subgroup, names as str) or "flat" (the
    2016 files: ``block1_conv1_W_1:0`` beside ``..._b_1:0``, names as bytes). ``head``: add flatten/fc1.
    """
    import h5py

    convs = conv_weights(np.random.default_rng(seed), arch, width, kernels, corrupt)
    def text(names):  # a list-of-names attribute as Keras writes it (an empty one as an empty float array)
        if not names:
            return np.zeros(0)
        return np.array(names, dtype=h5py.string_dtype()) if naming == "scoped" else np.array([n.encode() for n in names])

    with h5py.File(path, "w") as f:
        f.attrs["backend"], f.attrs["keras_version"] = "tensorflow", "2.1.6"
        layers = ["input_1"]
        f.create_group("input_1").attrs["weight_names"] = text([])
        for b, i, k, bias in convs:
            name = f"block{b}_conv{i}"
            if b == 1 and i == 1:
                k = np.asarray(k)[:, :, ::-1]  # RGB -> Caffe's BGR
            suffixes = ("/kernel:0", "/bias:0") if naming == "scoped" else ("_W_1:0", "_b_1:0")
            group = f.create_group(name)
            group.attrs["weight_names"] = text([name + s for s in suffixes])
            for s, value in zip(suffixes, (k, bias)):
                group[name + s] = _stored(value)
            layers.append(name)
            if i == BLOCKS[arch][b - 1]:
                layers.append(f"block{b}_pool")
                f.create_group(f"block{b}_pool").attrs["weight_names"] = text([])
        if head:
            f.create_group("flatten").attrs["weight_names"] = text([])
            group = f.create_group("fc1")
            group.attrs["weight_names"] = text(["fc1/kernel:0", "fc1/bias:0"])
            group["fc1/kernel:0"], group["fc1/bias:0"] = np.ones((4, 8), np.float32), np.zeros(8, np.float32)
            layers += ["flatten", "fc1"]
        f.attrs["layer_names"] = text(layers)
    return path


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--layout", choices=["new", "old"], default="new")
    ap.add_argument("--arch", choices=sorted(BLOCKS), default="vgg19")
    ap.add_argument("--width", type=int, default=4)
    a = ap.parse_args()
    write_vgg_mat(a.out, a.layout, a.arch, a.width)
    print(f"wrote {a.out}")
