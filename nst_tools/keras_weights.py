"""Keras's VGG weights (``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``, VGG16's too) as the course's VGG layers.

The legacy Keras HDF5 layout: the root attribute ``layer_names`` lists one group per layer (``block1_conv1`` ..
``block5_conv4``, ``block1_pool`` ..); each group's attribute ``weight_names`` lists its datasets in order (kernel
``[H, W, in, out]``, then bias), wherever they sit (``W_1:0`` next to each other, or ``kernel:0`` in a subgroup).
The weights are the same Caffe-trained VGG as MatConvNet's, whose input is BGR minus Caffe's mean: conv1_1's
input channels are flipped here, so the model takes RGB minus the RGB mean like the ``.mat`` files.
"""
from __future__ import annotations

import re

import numpy as np
import tensorflow as tf

from nst_utils import NSTError, VGGLayer

MEAN_RGB = (123.68, 116.779, 103.939)  # Caffe's BGR mean [103.939, 116.779, 123.68], as RGB
LAYER_NAME = re.compile(r"block(\d+)_(?:conv(\d+)|pool)")


def _names(attrs, key) -> list[str]:
    """A list-of-names attribute (bytes or str; an empty list may be stored as an empty float array)."""
    value = np.asarray(attrs[key] if key in attrs else [])
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in value.ravel()] if value.size else []


def read_layers(f) -> list[VGGLayer]:
    """The feature layers of an open h5py file or group: blockB_convK -> convB_K (ReLU), blockB_pool -> poolB.

    Layers before the first block (the input) are skipped; reading stops at the first layer after the blocks
    (``flatten``, ``fc1``: the classifier). Raises ValueError naming what is missing, NSTError for complex weights.
    """
    if "layer_names" not in f.attrs and "model_weights" in f:  # a whole saved model: its weights group
        f = f["model_weights"]
    if "layer_names" not in f.attrs:
        raise ValueError("no 'layer_names' attribute")
    layers = []
    for name in _names(f.attrs, "layer_names"):
        match = LAYER_NAME.fullmatch(name)
        if match is None:
            if layers:
                break
            continue
        block, conv = match.groups()
        if conv is None:
            layers.append(VGGLayer(f"pool{block}", "pool"))
            continue
        group = f[name]
        if any(group[w].dtype.kind == "c" for w in _names(group.attrs, "weight_names")):
            raise NSTError(f"layer conv{block}_{conv} has complex weights")  # h5py cannot read them as float32
        weights = [np.asarray(group[w], dtype=np.float32) for w in _names(group.attrs, "weight_names")]
        if len(weights) != 2:
            raise ValueError(f"layer {name} has {len(weights)} weight arrays, not a kernel and a bias")
        kernel, bias = weights
        if name == "block1_conv1" and kernel.ndim == 4:  # Caffe's BGR input channels -> RGB
            kernel = kernel[:, :, ::-1]
        layers.append(VGGLayer(f"conv{block}_{conv}", "conv", tf.constant(kernel), tf.constant(bias.ravel()),
                               relu=True))
    return layers


def read_keras_h5(path):
    """``(layers, RGB mean)`` of a Keras VGG weights file; ValueError (one line) if it is not one."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return read_layers(f), np.array(MEAN_RGB, dtype=np.float32)
    except (OSError, KeyError, TypeError, ValueError) as exc:  # h5py's errors for damaged files, ours
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(detail) from None
