#!/usr/bin/env python3
"""nst_utils: the one library of the neural style transfer course (Gatys et al.).

Everything the notebooks use lives here, as small pure functions with explicit arguments:

* weights   -- ``load_vgg_model`` reads a MatConvNet VGG ``.mat`` file (VGG19 or VGG16, either layout)
* images    -- ``load_image``, ``preprocess``, ``deprocess``, ``generate_noise_image``, ``save_image``
* losses    -- ``compute_content_cost``, ``gram_matrix``, ``compute_layer_style_cost``,
               ``compute_style_cost``, ``total_cost``, ``total_variation_cost``
* transfer  -- ``run_style_transfer`` (Adam or L-BFGS, callbacks for live previews, stop requests)
* CLI       -- ``python nst_utils.py stylize CONTENT STYLE -o OUT`` and ``download-weights``

Notation (as in the deeplearning.ai assignment): an activation ``a`` has shape ``(1, n_H, n_W, n_C)``;
``a_C``, ``a_S`` and ``a_G`` are the activations of the content, style and generated images.
Nothing runs at import time except importing TensorFlow.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's start-up chatter

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# --------------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent
DEFAULT_WEIGHTS = ROOT / "pretrained-model" / "imagenet-vgg-verydeep-19.mat"
WEIGHTS_URL = "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat"
WEIGHTS_MD5 = "106118b7cf60435e6d8e04f6a6dc3657"
WEIGHTS_SIZE = 534_904_783
DOWNLOAD_COMMAND = "python nst_utils.py download-weights"
IMAGES_DIR = ROOT / "images"

#: RGB mean pixel of ImageNet, used when a file carries none.
VGG_MEAN = np.array([123.68, 116.779, 103.939], dtype=np.float32)

#: The content layer of the assignment and of Gatys et al.
CONTENT_LAYER = "conv4_2"

#: (layer, weight) pairs of the style cost: conv1_1 .. conv5_1, 0.2 each.
STYLE_LAYERS = [("conv1_1", 0.2), ("conv2_1", 0.2), ("conv3_1", 0.2), ("conv4_1", 0.2), ("conv5_1", 0.2)]


class NSTError(Exception):
    """An error meant for a person: its message is one line that says what to do."""


class NonFiniteLossError(NSTError):
    """The cost became NaN or infinite during the optimisation."""


# --------------------------------------------------------------------------------------------------
# Weights: MatConvNet VGG files
# --------------------------------------------------------------------------------------------------


def resolve_weights_path(path=None) -> Path:
    """The weights file to use: ``path``, else ``$NST_VGG_PATH``, else ``pretrained-model/...-19.mat``."""
    chosen = path or os.environ.get("NST_VGG_PATH") or DEFAULT_WEIGHTS
    return Path(chosen).expanduser()


def _text(value) -> str:
    """A MATLAB char array as read by ``scipy.io.loadmat`` -> Python str."""
    arr = np.asarray(value)
    if arr.dtype.kind in "US":
        return "".join(str(s) for s in arr.ravel())
    if arr.dtype == object and arr.size:
        return _text(arr.ravel()[0])
    return ""


def _field(record, name):
    """Field ``name`` of a MATLAB struct read by loadmat (a numpy record), or None."""
    names = getattr(getattr(record, "dtype", None), "names", None) or ()
    return record[name] if name in names else None


def _struct(value):
    """Unwrap loadmat's ``[[record]]`` nesting to the record itself."""
    while isinstance(value, np.ndarray) and value.dtype.names is None and value.dtype == object:
        if value.size == 0:
            return None
        value = value.ravel()[0]
    while isinstance(value, np.ndarray) and value.dtype.names is not None and value.ndim > 0:
        value = value.ravel()[0]
    return value


def _mean_pixel(data) -> np.ndarray:
    """RGB mean pixel from ``meta.normalization`` (current layout) or ``normalization`` (older)."""
    norm = None
    if "meta" in data:
        norm = _struct(_field(_struct(data["meta"]), "normalization"))
    elif "normalization" in data:
        norm = _struct(data["normalization"])
    avg = _field(norm, "averageImage") if norm is not None else None
    if avg is None or np.asarray(avg).size < 3:
        return VGG_MEAN.copy()
    avg = np.asarray(avg, dtype=np.float64)
    return avg.reshape(-1, 3).mean(axis=0).astype(np.float32)


@dataclass
class VGGLayer:
    """One layer of the feature extractor: a conv (with its ReLU folded in) or a pool."""

    name: str
    kind: str  # "conv" or "pool"
    kernel: tf.Tensor | None = None  # [H, W, in, out]
    bias: tf.Tensor | None = None  # [out]
    relu: bool = False


class VGG:
    """A VGG feature extractor read from a MatConvNet file. Call it on a preprocessed image.

    ``model(image, layers=None)``: ``image`` is float32 ``(1, H, W, 3)``, RGB minus ``model.mean``.
    Returns ``{layer name: activation (1, n_H, n_W, n_C)}``; ``convX_Y`` is the map *after* its ReLU.
    With ``layers`` given, it computes only up to the deepest layer asked for and returns those.
    """

    def __init__(self, layers, mean, pooling="avg", path=None):
        self.layers = list(layers)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.pooling = pooling
        self.path = path
        self.names = [layer.name for layer in self.layers]
        self.conv_names = [layer.name for layer in self.layers if layer.kind == "conv"]

    def __repr__(self):
        return f"VGG({len(self.conv_names)} conv layers, pooling={self.pooling!r}, path={str(self.path)!r})"

    def check_layers(self, names):
        """Raise NSTError naming the layers this file has if any of ``names`` is missing."""
        missing = [n for n in names if n not in self.names]
        if missing:
            raise NSTError(f"layer(s) {', '.join(missing)} not in {self.path or 'this model'}; "
                           f"it has: {', '.join(self.names)}")

    def channels(self, name) -> int:
        """Number of channels of the activation ``name``."""
        self.check_layers([name])
        for layer in self.layers[: self.names.index(name) + 1][::-1]:
            if layer.kind == "conv":
                return int(layer.kernel.shape[-1])
        return 3

    def __call__(self, image, layers=None):
        wanted = list(layers) if layers is not None else self.names
        self.check_layers(wanted)
        last = max(self.names.index(n) for n in wanted) if wanted else -1
        x = tf.convert_to_tensor(image, dtype=tf.float32)
        out = {}
        for layer in self.layers[: last + 1]:
            if layer.kind == "conv":
                x = tf.nn.conv2d(x, layer.kernel, strides=1, padding="SAME")
                x = tf.nn.bias_add(x, layer.bias)
                if layer.relu:
                    x = tf.nn.relu(x)
            elif self.pooling == "avg":
                x = tf.nn.avg_pool2d(x, ksize=2, strides=2, padding="SAME")
            else:
                x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="SAME")
            if layer.name in wanted:
                out[layer.name] = x
        return out


def _read_layers(cell):
    """Layer records of a MatConvNet ``layers`` cell -> list of VGGLayer (stops at the fc layers)."""
    records = [_struct(item) for item in np.asarray(cell).ravel()]
    result = []
    for rec in records:
        if rec is None or _field(rec, "type") is None:
            raise ValueError("a layer without a 'type' field")
        kind, name = _text(_field(rec, "type")), _text(_field(rec, "name"))
        if name.startswith("fc") or kind not in ("conv", "relu", "pool"):
            break  # the classifier head: not needed for style transfer
        if kind == "conv":
            weights = np.asarray(_field(rec, "weights")).ravel()
            kernel = np.asarray(weights[0], dtype=np.float32)
            if kernel.ndim == 3:  # MATLAB drops a trailing singleton "out" dimension
                kernel = kernel[..., None]
            bias = np.asarray(weights[1], dtype=np.float32).ravel()
            if kernel.ndim != 4 or bias.shape[0] != kernel.shape[3]:
                raise ValueError(f"layer {name}: kernel {kernel.shape} and bias {bias.shape} do not match")
            result.append(VGGLayer(name, "conv", tf.constant(kernel), tf.constant(bias)))
        elif kind == "relu":
            if result and result[-1].kind == "conv":
                result[-1].relu = True
        else:
            result.append(VGGLayer(name, "pool"))
    return result


def load_vgg_model(path=None, pooling="avg") -> VGG:
    """Load a MatConvNet VGG file (VGG19/VGG16, current or older layout) as a callable ``VGG``.

    ``path``: the file; default ``$NST_VGG_PATH``, else ``pretrained-model/imagenet-vgg-verydeep-19.mat``.
    ``pooling``: ``"avg"`` (Gatys et al., the assignment) or ``"max"`` (as VGG was trained).
    """
    import scipy.io

    if pooling not in ("avg", "max"):
        raise NSTError(f"pooling must be 'avg' or 'max', not {pooling!r}")
    path = resolve_weights_path(path)
    if not path.is_file():
        raise NSTError(f"VGG weights not found at {path}; get them with: {DOWNLOAD_COMMAND}"
                       + (f" --output {path}" if path != DEFAULT_WEIGHTS else ""))
    hint = f"re-download it with: {DOWNLOAD_COMMAND}"
    try:
        data = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises many types for bad bytes
        raise NSTError(f"{path} is not a readable MatConvNet .mat file ({type(exc).__name__}); {hint}") from None
    if "layers" not in data:
        raise NSTError(f"{path} has no 'layers' variable, so it is not a MatConvNet VGG file; {hint}")
    try:
        layers = _read_layers(data["layers"])
    except Exception as exc:
        raise NSTError(f"{path} is not a MatConvNet VGG file ({exc}); {hint}") from None
    if not any(layer.kind == "conv" for layer in layers):
        raise NSTError(f"{path} has no convolution layers, so it is not a VGG file; {hint}")
    if int(layers[0].kernel.shape[2]) != 3:
        raise NSTError(f"{path}: the first layer takes {layers[0].kernel.shape[2]} channels, not RGB; {hint}")
    return VGG(layers, _mean_pixel(data), pooling=pooling, path=path)


# --------------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------------


def parse_size(text):
    """``"300x400"`` -> ``(300, 400)`` as (height, width); raises NSTError on anything else."""
    try:
        h, w = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise NSTError(f"size must look like HEIGHTxWIDTH, for example 300x400, not {text!r}") from None
    if h < 1 or w < 1 or h > 10000 or w > 10000:
        raise NSTError(f"size {text!r} is out of range: each side must be between 1 and 10000 pixels")
    return h, w


def fit_size(height, width, max_size):
    """(h, w) scaled so that the longest side is ``max_size``, keeping the aspect ratio."""
    scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _to_rgb(img):
    """Any PIL image (RGBA, LA, P, L, 1, I;16, I, F, CMYK ...) -> 8-bit RGB, transparency on white."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info or img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def load_image(path, size=None, max_size=None) -> np.ndarray:
    """Read any image PIL reads as RGB float32 ``(H, W, 3)`` in [0, 255], EXIF rotation applied.

    ``size=(H, W)`` resizes exactly; ``max_size=N`` scales so the longest side is N (aspect kept).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise NSTError(f"image not found: {path}")
    try:
        with Image.open(path) as img:
            img.load()
            img = _to_rgb(ImageOps.exif_transpose(img))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NSTError(f"cannot read {path} as an image ({exc.__class__.__name__}); "
                       "use a PNG, JPEG or another format Pillow reads") from None
    if size is None and max_size is not None:
        size = fit_size(img.height, img.width, int(max_size))
    if size is not None and (img.height, img.width) != tuple(size):
        img = img.resize((int(size[1]), int(size[0])), Image.LANCZOS)
    return np.asarray(img, dtype=np.float32)


def resize_image(image, size) -> np.ndarray:
    """Resize an ``(H, W, 3)`` image in [0, 255] to ``size=(H, W)`` (bicubic, float32)."""
    x = tf.image.resize(np.asarray(image, np.float32)[None], size, method="bicubic", antialias=True)
    return np.clip(x[0].numpy(), 0, 255)


def preprocess(image, mean=VGG_MEAN) -> np.ndarray:
    """``(H, W, 3)`` RGB in [0, 255] -> the model's input: float32 ``(1, H, W, 3)``, minus the mean pixel."""
    return (np.asarray(image, dtype=np.float32) - np.asarray(mean, np.float32))[None]


def deprocess(x, mean=VGG_MEAN) -> np.ndarray:
    """The model's input ``(1, H, W, 3)`` -> uint8 ``(H, W, 3)`` RGB: add the mean, clip to [0, 255]."""
    x = np.asarray(x, dtype=np.float32).reshape(np.shape(x)[-3:])
    return np.clip(x + np.asarray(mean, np.float32), 0, 255).round().astype(np.uint8)


def generate_noise_image(content, noise_ratio=0.6, seed=None) -> np.ndarray:
    """The assignment's start image: ``noise_ratio * U(-20, 20) + (1 - noise_ratio) * content``.

    ``content`` is a preprocessed ``(1, H, W, 3)`` image; the result has the same shape, float32.
    """
    rng = np.random.default_rng(seed)
    noise = rng.uniform(-20, 20, size=np.shape(content)).astype(np.float32)
    return (noise_ratio * noise + (1 - noise_ratio) * np.asarray(content, np.float32)).astype(np.float32)


def _atomic_write(path, write):
    """Call ``write(tmp_path)`` then move the file to ``path``: never a half-written file at ``path``."""
    path = Path(path)
    if not path.parent.is_dir():
        raise NSTError(f"output folder does not exist: {path.parent}")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def image_format(path) -> str:
    """Pillow's format name for ``path``'s extension, or NSTError if Pillow cannot write it."""
    from PIL import Image

    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise NSTError(f"cannot write {Path(path).name!r}: use an image extension such as .png or .jpg")
    return fmt


def save_image(path, image) -> Path:
    """Save a uint8 ``(H, W, 3)`` image (or a preprocessed ``(1, H, W, 3)`` one with VGG_MEAN) atomically."""
    from PIL import Image

    arr = np.asarray(image)
    if arr.ndim == 4:
        arr = deprocess(arr)
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    fmt = image_format(path)
    return _atomic_write(path, lambda tmp: Image.fromarray(arr).save(tmp, format=fmt))


# --------------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------------


def compute_content_cost(a_C, a_G):
    r"""Content cost between two activations of one layer.

    J_content(C, G) = 1 / (4 n_H n_W n_C) * sum_{h,w,c} (a_C[h,w,c] - a_G[h,w,c])^2

    a_C, a_G: tensors of shape (1, n_H, n_W, n_C). Returns a scalar tensor.
    """
    _, n_H, n_W, n_C = a_G.shape
    return tf.reduce_sum(tf.square(tf.subtract(a_C, a_G))) / float(4 * n_H * n_W * n_C)


def gram_matrix(A):
    r"""Gram matrix of the unrolled filters: G_A = A A^T, G[i, j] = sum_k A[i, k] A[j, k].

    A: shape (n_C, n_H * n_W). Returns G_A of shape (n_C, n_C).
    """
    return tf.matmul(A, A, transpose_b=True)


def unroll(a):
    """Activation (1, n_H, n_W, n_C) -> A of shape (n_C, n_H * n_W), one row per channel."""
    n_C = a.shape[-1]
    return tf.transpose(tf.reshape(a, (-1, n_C)))


def activation_gram(a):
    """Gram matrix (n_C, n_C) of an activation (1, n_H, n_W, n_C): gram_matrix(unroll(a))."""
    n_C = a.shape[-1]
    flat = tf.reshape(a, (-1, n_C))  # (n_H n_W, n_C) = A^T, so A A^T = flat^T flat
    return tf.matmul(flat, flat, transpose_a=True)


def layer_style_cost_from_gram(G_S, a_G):
    r"""Style cost of one layer against a precomputed style Gram matrix ``G_S`` (n_C, n_C).

    J_style^[l] = 1 / (4 n_C^2 (n_H n_W)^2) * sum_{i,j} (G_S[i,j] - G_G[i,j])^2,  a_G: (1, n_H, n_W, n_C)
    """
    _, n_H, n_W, n_C = a_G.shape
    G_G = activation_gram(a_G)
    return tf.reduce_sum(tf.square(G_S - G_G)) / float(4 * n_C**2 * (n_H * n_W) ** 2)


def compute_layer_style_cost(a_S, a_G):
    r"""Style cost of one layer.

    J_style^[l](S, G) = 1 / (4 n_C^2 (n_H n_W)^2) * sum_{i,j} (G_S[i,j] - G_G[i,j])^2
    with G_S = gram_matrix(A_S), A_S of shape (n_C, n_H n_W) the unrolled a_S (same for G).

    a_S, a_G: tensors of shape (1, n_H, n_W, n_C). Returns a scalar tensor.
    """
    return layer_style_cost_from_gram(activation_gram(a_S), a_G)


def style_grams(a_S, style_layers=STYLE_LAYERS, target_positions=None):
    """Style targets: ``{layer: G_S}`` for each style layer of the activations dict ``a_S``.

    If the generated image will have ``target_positions[layer]`` = n_H n_W positions at a layer and the
    style image has a different number, G_S is scaled by that ratio so its magnitude matches.
    """
    grams = {}
    for name, _ in style_layers:
        a = a_S[name]
        G = activation_gram(a)
        if target_positions is not None:
            G = G * (target_positions[name] / float(a.shape[1] * a.shape[2]))
        grams[name] = G
    return grams


def style_cost_from_grams(grams, a_G, style_layers=STYLE_LAYERS):
    """J_style = sum_l lambda_l J_style^[l]: ``grams`` {layer: G_S}, ``a_G`` {layer: activation}."""
    J = tf.constant(0.0)
    for name, weight in style_layers:
        if weight:
            J += weight * layer_style_cost_from_gram(grams[name], a_G[name])
    return J


def compute_style_cost(a_S, a_G, style_layers=STYLE_LAYERS):
    r"""Overall style cost over several layers.

    J_style(S, G) = sum_l lambda^[l] J_style^[l](S, G)

    a_S, a_G: dicts {layer name: activation (1, n_H, n_W, n_C)}; style_layers: [(name, lambda), ...],
    by default conv1_1 .. conv5_1 at 0.2 each. Returns a scalar tensor.
    """
    return style_cost_from_grams(style_grams(a_S, style_layers), a_G, style_layers)


def total_cost(J_content, J_style, alpha=10, beta=40):
    r"""Total cost: J(G) = alpha J_content(C, G) + beta J_style(S, G)."""
    return alpha * J_content + beta * J_style


def total_variation_cost(x):
    r"""Total variation of an image, a smoothness prior (squared differences of neighbours).

    J_TV(G) = 1 / (n_H n_W) * sum_{h,w,c} ((x[h+1,w,c] - x[h,w,c])^2 + (x[h,w+1,c] - x[h,w,c])^2)

    x: (1, n_H, n_W, 3), the preprocessed generated image. Returns a scalar tensor.
    """
    _, n_H, n_W, _ = x.shape
    dh = x[:, 1:, :, :] - x[:, :-1, :, :]
    dw = x[:, :, 1:, :] - x[:, :, :-1, :]
    return (tf.reduce_sum(tf.square(dh)) + tf.reduce_sum(tf.square(dw))) / float(n_H * n_W)


# --------------------------------------------------------------------------------------------------
# Optimisation
# --------------------------------------------------------------------------------------------------


@dataclass
class TransferResult:
    """What ``run_style_transfer`` returns. ``image`` is the lowest-cost image seen, uint8 (H, W, 3)."""

    image: np.ndarray
    x: np.ndarray  # the same image, preprocessed (1, H, W, 3)
    iterations: int
    seconds: float
    J: float
    J_content: float
    J_style: float
    history: list = field(default_factory=list)
    stopped: str = "finished"  # "finished", "stop requested" or "interrupted"

    def summary(self):
        """A JSON-ready dict of the numbers (no pixels)."""
        return {"iterations": self.iterations, "seconds": round(self.seconds, 3), "J": self.J,
                "J_content": self.J_content, "J_style": self.J_style, "stopped": self.stopped,
                "history": self.history}


def make_cost_function(model, content, style, content_layer=CONTENT_LAYER, style_layers=STYLE_LAYERS,
                       alpha=10, beta=40, tv_weight=0.0):
    """Compile ``cost(x) -> (J, J_content, J_style, dJ/dx)`` for images of ``content``'s size.

    ``content`` and ``style`` are preprocessed (1, H, W, 3) arrays. The content activation and the
    style Gram matrices are computed once here and kept as constants; the step runs the network only
    up to the deepest layer the costs need, inside ``tf.function``.
    """
    style_layers = [(n, float(w)) for n, w in style_layers]
    needed = [content_layer] + [n for n, w in style_layers if w]
    model.check_layers(needed)
    a_C = tf.constant(model(content, [content_layer])[content_layer])
    gen_shapes = {n: model(tf.zeros_like(content), [n])[n].shape for n in dict(style_layers)} \
        if style.shape[1:3] != content.shape[1:3] else None
    a_S = model(style, [n for n, _ in style_layers])
    positions = {n: s[1] * s[2] for n, s in gen_shapes.items()} if gen_shapes else None
    grams = {n: tf.constant(g) for n, g in style_grams(a_S, style_layers, positions).items()}
    alpha, beta, tv_weight = float(alpha), float(beta), float(tv_weight)

    @tf.function(reduce_retracing=True)
    def cost(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            feats = model(x, needed)
            J_content = compute_content_cost(a_C, feats[content_layer])
            J_style = style_cost_from_grams(grams, feats, style_layers)
            J = total_cost(J_content, J_style, alpha, beta)
            if tv_weight:
                J += tv_weight * total_variation_cost(x)
        return J, J_content, J_style, tape.gradient(J, x)

    return cost


def _check_finite(J, iteration):
    if not np.isfinite(J):
        raise NonFiniteLossError(
            f"the cost became {J} at iteration {iteration}; nothing was saved. "
            "Lower the learning rate (--lr) or alpha/beta and run again")


def run_style_transfer(model, content, style, *, iterations=200, optimizer="adam", alpha=10, beta=40,
                       lr=2.0, init="noise", seed=None, content_layer=CONTENT_LAYER,
                       style_layers=STYLE_LAYERS, tv_weight=0.0, callback=None, callback_every=10,
                       stop_event=None, init_image=None) -> TransferResult:
    """Neural style transfer: find G minimising J(G) = alpha J_content + beta J_style (+ tv_weight J_TV).

    content, style: RGB images (H, W, 3) in [0, 255] (the style may have another size).
    optimizer: "adam" (the assignment's, lr 2.0) or "lbfgs" (scipy's L-BFGS-B, one state for the run).
    init: "noise" (the assignment's noisy content), "content", or give ``init_image`` (H, W, 3).
    callback(iteration, costs, image): called every ``callback_every`` iterations and at the end, with
    costs = {"J", "J_content", "J_style", "seconds"} and the current uint8 image.
    stop_event: a ``threading.Event``; when set (or on Ctrl-C) the run ends and returns the best image.
    A NaN or infinite cost raises NonFiniteLossError.
    """
    if optimizer not in ("adam", "lbfgs"):
        raise NSTError(f"optimizer must be 'adam' or 'lbfgs', not {optimizer!r}")
    if init not in ("noise", "content"):
        raise NSTError(f"init must be 'noise' or 'content', not {init!r}")
    if int(iterations) < 0:
        raise NSTError("iterations must be 0 or more")
    mean = model.mean
    c = preprocess(content, mean)
    s = preprocess(style, mean)
    if init_image is not None:
        x0 = preprocess(init_image, mean)
    elif init == "noise":
        x0 = generate_noise_image(c, 0.6, seed)
    else:
        x0 = c.copy()
    cost = make_cost_function(model, c, s, content_layer, style_layers, alpha, beta, tv_weight)
    run = _run_lbfgs if optimizer == "lbfgs" else _run_adam
    return run(cost, x0, mean, int(iterations), float(lr), callback, max(1, int(callback_every)), stop_event)


class _Tracker:
    """Bookkeeping shared by both optimisers: history, best image, callbacks, stop requests."""

    def __init__(self, mean, callback, every, stop_event):
        self.mean, self.callback, self.every, self.stop_event = mean, callback, every, stop_event
        self.start = time.perf_counter()
        self.history, self.best, self.best_x, self.last = [], None, None, None
        self.stopped = "finished"

    def record(self, iteration, J, Jc, Js, x):
        J, Jc, Js = float(J), float(Jc), float(Js)
        _check_finite(J, iteration)
        entry = {"iteration": iteration, "seconds": round(time.perf_counter() - self.start, 4),
                 "J": J, "J_content": Jc, "J_style": Js}
        self.history.append(entry)
        self.last = entry
        if self.best is None or J < self.best["J"]:
            self.best, self.best_x = entry, np.array(x, dtype=np.float32)

    def notify(self, iteration, x, force=False):
        if self.callback is not None and self.last is not None and (force or iteration % self.every == 0):
            costs = {k: self.last[k] for k in ("J", "J_content", "J_style", "seconds")}
            self.callback(iteration, costs, deprocess(x, self.mean))

    def should_stop(self):
        if self.stop_event is not None and self.stop_event.is_set():
            self.stopped = "stop requested"
            return True
        return False

    def result(self, x_final):
        if self.best_x is None:  # zero iterations
            x = np.asarray(x_final, np.float32)
            return TransferResult(deprocess(x, self.mean), x, 0, 0.0, float("nan"), float("nan"),
                                  float("nan"), [], self.stopped)
        b = self.best
        return TransferResult(deprocess(self.best_x, self.mean), self.best_x, len(self.history),
                              time.perf_counter() - self.start, b["J"], b["J_content"], b["J_style"],
                              self.history, self.stopped)


def _pixel_bounds(mean):
    """Lower and upper bounds of a preprocessed pixel: [-mean, 255 - mean] per channel."""
    mean = np.asarray(mean, np.float32).reshape(1, 1, 1, 3)
    return -mean, 255.0 - mean


def _run_adam(cost, x0, mean, iterations, lr, callback, every, stop_event, beta1=0.9, beta2=0.999,
              eps=1e-8):
    """Adam on the pixels, clipped to the valid range after each step (see run_style_transfer)."""
    lo, hi = _pixel_bounds(mean)
    x = tf.Variable(x0)
    m = tf.Variable(tf.zeros_like(x0))
    v = tf.Variable(tf.zeros_like(x0))
    t = tf.Variable(0.0)

    @tf.function
    def step():
        J, Jc, Js, g = cost(x)
        t.assign_add(1.0)
        m.assign(beta1 * m + (1 - beta1) * g)
        v.assign(beta2 * v + (1 - beta2) * tf.square(g))
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        x_before = tf.identity(x)
        x.assign(tf.clip_by_value(x - lr * m_hat / (tf.sqrt(v_hat) + eps), lo, hi))
        return J, Jc, Js, x_before

    track = _Tracker(mean, callback, every, stop_event)
    try:
        for i in range(1, iterations + 1):
            if track.should_stop():
                break
            J, Jc, Js, x_before = step()
            track.record(i, J, Jc, Js, x_before.numpy())
            track.notify(i, track.best_x if i == iterations else x.numpy())
    except KeyboardInterrupt:
        track.stopped = "interrupted"
    result = track.result(x.numpy())
    if callback is not None and result.iterations and result.iterations % every:
        track.notify(result.iterations, result.x, force=True)
    return result


def _run_lbfgs(cost, x0, mean, iterations, lr, callback, every, stop_event):
    """scipy's L-BFGS-B with the pixel range as bounds: one optimiser state for the whole run."""
    import scipy.optimize

    shape = x0.shape
    lo, hi = _pixel_bounds(mean)
    bounds = np.stack([np.broadcast_to(lo, shape).ravel(), np.broadcast_to(hi, shape).ravel()], axis=1)
    track = _Tracker(mean, callback, every, stop_event)
    last_eval = {}
    n_iter = [0]

    def fun(flat):
        x = tf.constant(flat.reshape(shape), dtype=tf.float32)
        J, Jc, Js, g = cost(x)
        last_eval.update(J=J.numpy(), Jc=Jc.numpy(), Js=Js.numpy(), x=flat)
        _check_finite(float(last_eval["J"]), n_iter[0] + 1)
        return float(last_eval["J"]), g.numpy().astype(np.float64).ravel()

    def on_iteration(intermediate_result):
        n_iter[0] += 1
        xk = np.asarray(intermediate_result.x, np.float32).reshape(shape)
        J = float(intermediate_result.fun)
        same = "x" in last_eval and np.array_equal(last_eval["x"], intermediate_result.x)
        Jc, Js = (last_eval["Jc"], last_eval["Js"]) if same else cost(tf.constant(xk))[1:3]
        track.record(n_iter[0], J, Jc, Js, xk)
        track.notify(n_iter[0], xk)
        if track.should_stop():
            raise StopIteration

    x_final = x0
    if iterations > 0:
        try:
            res = scipy.optimize.minimize(fun, x0.astype(np.float64).ravel(), jac=True, method="L-BFGS-B",
                                          bounds=bounds, callback=on_iteration,
                                          options={"maxiter": iterations, "maxfun": iterations * 2 + 20,
                                                   "maxcor": 20, "ftol": 0.0, "gtol": 0.0})
            x_final = res.x.reshape(shape).astype(np.float32)
        except KeyboardInterrupt:
            track.stopped = "interrupted"
    result = track.result(x_final)
    if callback is not None and result.iterations and result.iterations % every:
        track.notify(result.iterations, result.x, force=True)
    return result


# --------------------------------------------------------------------------------------------------
# Downloading the weights
# --------------------------------------------------------------------------------------------------


def file_md5(path, chunk=1 << 20) -> str:
    """MD5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def download_weights(output=DEFAULT_WEIGHTS, url=WEIGHTS_URL, md5=WEIGHTS_MD5, size=WEIGHTS_SIZE,
                     progress=True, timeout=60) -> Path:
    """Download the VGG weights to ``output``: resumable (``output.part``), MD5-checked, then moved.

    A partial download is kept as ``<output>.part`` and resumed with an HTTP Range request next time.
    The file appears at ``output`` only once its size and MD5 match.
    """
    from tqdm import tqdm

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.is_file() and (not md5 or file_md5(output) == md5):
        print(f"{output} is already there and its MD5 matches", file=sys.stderr)
        return output
    part = output.with_name(output.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    if size and have > size:
        part.unlink()
        have = 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and size and have == size:  # already complete
            response = None
        else:
            raise NSTError(f"download failed: HTTP {exc.code} from {url}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NSTError(f"download failed: cannot reach {url} ({reason}); partial data kept in {part}, "
                       f"run the same command again to resume") from None
    if response is not None:
        with response:
            if have and response.status != 206:  # server ignored the Range: start again
                have = 0
            total = size or (have + int(response.headers.get("Content-Length") or 0)) or None
            with open(part, "ab" if have else "wb") as f, tqdm(
                    total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                    desc=output.name, disable=not progress, file=sys.stderr) as bar:
                try:
                    for block in iter(lambda: response.read(1 << 16), b""):
                        f.write(block)
                        bar.update(len(block))
                except (OSError, urllib.error.URLError) as exc:
                    raise NSTError(f"download interrupted ({exc}); run the same command again to resume") \
                        from None
    got = part.stat().st_size
    if size and got != size:
        raise NSTError(f"download incomplete: {got} of {size} bytes in {part}; run the same command again "
                       "to resume")
    if md5:
        actual = file_md5(part)
        if actual != md5:
            part.unlink()
            raise NSTError(f"MD5 mismatch ({actual}, expected {md5}); the corrupt download was deleted, "
                           "run the same command again")
    os.replace(part, output)
    return output


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line on stderr."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _int_at_least(low):
    """argparse type: a whole number >= ``low``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def _float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def _size(text):
    try:
        return parse_size(text)
    except NSTError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser():
    """The ``nst_utils.py`` command line."""
    parser = _Parser(prog="nst_utils.py", description="Neural style transfer (Gatys et al.) on VGG19.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    st = sub.add_parser("stylize", help="paint CONTENT in the style of STYLE")
    st.add_argument("content", help="content image (any format Pillow reads)")
    st.add_argument("style", help="style image")
    st.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, ...)")
    st.add_argument("--weights", help="MatConvNet VGG .mat (default: $NST_VGG_PATH or pretrained-model/)")
    size = st.add_mutually_exclusive_group()
    size.add_argument("--size", type=_size, help="exact output size HxW (default 300x400)")
    size.add_argument("--max-size", type=_int_at_least(1), help="longest side in pixels, keeping the aspect")
    st.add_argument("--iterations", type=_int_at_least(0), default=200)
    st.add_argument("--optimizer", choices=["adam", "lbfgs"], default="adam")
    st.add_argument("--alpha", type=_float, default=10.0, help="content weight (default 10)")
    st.add_argument("--beta", type=_float, default=40.0, help="style weight (default 40)")
    st.add_argument("--tv-weight", type=_float, default=0.0, help="total variation weight (default 0)")
    st.add_argument("--lr", type=_float, default=2.0, help="Adam learning rate (default 2.0)")
    st.add_argument("--init", choices=["noise", "content"], default="noise")
    st.add_argument("--pooling", choices=["avg", "max"], default="avg")
    st.add_argument("--seed", type=int, default=None)
    st.add_argument("--json", action="store_true", help="print a JSON summary as the last line of stdout")
    st.add_argument("--quiet", action="store_true", help="no progress bar")

    dl = sub.add_parser("download-weights", help="fetch imagenet-vgg-verydeep-19.mat (resumable, MD5-checked)")
    dl.add_argument("--output", default=str(DEFAULT_WEIGHTS), help="where to put the file")
    dl.add_argument("--url", default=WEIGHTS_URL)
    dl.add_argument("--md5", default=WEIGHTS_MD5, help="expected MD5 ('' to skip the check)")
    dl.add_argument("--size", type=int, default=WEIGHTS_SIZE, help="expected size in bytes (0: unknown)")
    dl.add_argument("--quiet", action="store_true")
    return parser


def _cmd_stylize(args):
    from tqdm import tqdm

    out = Path(args.output)
    image_format(out)
    if not out.parent.is_dir():
        raise NSTError(f"output folder does not exist: {out.parent}")
    if args.size is None and args.max_size is None:
        args.size = (300, 400)
    content = load_image(args.content, size=args.size, max_size=args.max_size)
    style = load_image(args.style, size=content.shape[:2])
    model = load_vgg_model(args.weights, pooling=args.pooling)
    bar = tqdm(total=args.iterations, unit="it", disable=args.quiet, file=sys.stderr)

    def progress(i, costs, _image):
        bar.update(i - bar.n)
        bar.set_postfix(J=f"{costs['J']:.4g}")

    result = run_style_transfer(model, content, style, iterations=args.iterations, optimizer=args.optimizer,
                                alpha=args.alpha, beta=args.beta, lr=args.lr, init=args.init,
                                seed=args.seed, tv_weight=args.tv_weight, callback=progress,
                                callback_every=1)
    bar.close()
    save_image(out, result.image)
    if result.stopped != "finished":
        print(f"{result.stopped}: saved the best image so far", file=sys.stderr)
    if args.json:
        print(json.dumps({"output": str(out), **result.summary()}))
    else:
        print(f"saved {out} ({result.iterations} iterations, {result.seconds:.1f} s, J = {result.J:.6g})")


def main(argv=None):
    """Entry point of ``python nst_utils.py``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "stylize":
            _cmd_stylize(args)
        elif args.command == "download-weights":
            path = download_weights(args.output, args.url, args.md5, args.size, progress=not args.quiet)
            print(f"saved {path}")
    except NSTError as exc:
        print(f"nst_utils.py {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nst_utils.py {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
