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
import http.client
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import contextlib

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's start-up chatter


@contextlib.contextmanager
def _quiet_stderr():
    """Silence C++ logging on file descriptor 2 (TensorFlow's start-up lines); replay it on error.

    Descriptor 2 itself, not ``sys.stderr.fileno()``: in a Jupyter kernel the latter is the kernel's own
    terminal while fd 2 is the pipe whose text ends up in the notebook.
    """
    fd = 2
    try:
        saved = os.dup(fd)
    except OSError:  # no descriptor 2 at all
        yield
        return
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), fd)
        try:
            yield
        except BaseException:
            os.dup2(saved, fd)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, fd)
            os.close(saved)


with _quiet_stderr():
    import tensorflow as tf

    tf.config.list_physical_devices()  # device start-up logs more lines (no CUDA, ...): here, silenced

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


def _open_rgb(source, name, verb):
    """Pillow image of ``source`` (a path or a file object) as RGB, EXIF rotation applied.

    An unreadable image is an NSTError: "cannot read <name> as an image (...); <verb> a PNG, JPEG ...".
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(source) as img:
            img.load()
            return _to_rgb(ImageOps.exif_transpose(img))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NSTError(f"cannot read {name} as an image ({exc.__class__.__name__}); "
                       f"{verb} a PNG, JPEG or another format Pillow reads") from None


def load_image(path, size=None, max_size=None) -> np.ndarray:
    """Read any image PIL reads as RGB float32 ``(H, W, 3)`` in [0, 255], EXIF rotation applied.

    ``size=(H, W)`` resizes exactly; ``max_size=N`` scales so the longest side is N (aspect kept).
    """
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise NSTError(f"image not found: {path}")
    img = _open_rgb(path, path, "use")
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
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file a normal open()'s mode
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
                       alpha=10, beta=40, tv_weight=0.0, style_weights=None, precision="float32"):
    """Compile ``cost(x) -> (J, J_content, J_style, dJ/dx)`` for images of ``content``'s size.

    ``content`` and ``style`` are preprocessed (1, H, W, 3) arrays (``style`` may be a list of them,
    blended with ``style_weights``, see blend_style_grams). The content activation and the
    style Gram matrices are computed once here and kept as constants; the step runs the network only
    up to the deepest layer the costs need, inside ``tf.function``. A term whose weight (alpha or beta)
    is 0 reads 0 unless its layers come for free (see cost_layers).
    precision: "float32", "bfloat16" (convolutions after conv1_1 in bfloat16, Gram matrices and costs
    in float32; see feature_extractor) or "auto" (see resolve_precision).
    """
    alpha, beta, tv_weight = float(alpha), float(beta), float(tv_weight)
    style_layers = [(n, float(w)) for n, w in style_layers]
    model.check_layers([content_layer] + [n for n, _ in style_layers])
    needed = cost_layers(model, content_layer, style_layers, alpha, beta)
    active = [(n, w) for n, w in style_layers if w]
    active = active if all(n in needed for n, _ in active) else []
    forward = feature_extractor(model, resolve_precision(precision), cast=False)
    a_C = tf.constant(model(content, [content_layer])[content_layer]) if content_layer in needed else None
    grams = blend_style_grams(model, style, style_weights, active, content.shape)

    @tf.function(reduce_retracing=True, autograph=False)
    def cost(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            feats = forward(x, needed)
            J_content = (compute_content_cost(a_C, tf.cast(feats[content_layer], tf.float32))
                         if a_C is not None else tf.constant(0.0))
            J_style = tf.add_n([w * fast_layer_style_cost(grams[n], feats[n]) for n, w in active] or [0.0])
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
                       stop_event=None, init_image=None, style_weights=None, scales=None,
                       precision="float32") -> TransferResult:
    """Neural style transfer: find G minimising J(G) = alpha J_content + beta J_style (+ tv_weight J_TV).

    content, style: RGB images (H, W, 3) in [0, 255] (the style may have another size). ``style`` may
    be a list of images: the style target is then sum_k w_k G_S^(k), w = ``style_weights`` (see
    blend_style_grams; default equal weights).
    optimizer: "adam" (the assignment's, lr 2.0) or "lbfgs" (L-BFGS in TensorFlow with one memory for
    the run, see _run_lbfgs; lr is not used).
    init: "noise" (the assignment's noisy content), "content", or give ``init_image`` (H, W, 3).
    callback(iteration, costs, image): called every ``callback_every`` iterations and at the end, with
    costs = {"J", "J_content", "J_style", "seconds"} and the current uint8 image.
    stop_event: a ``threading.Event``; when set (or on Ctrl-C) the run ends and returns the best image.
    scales: coarse to fine (see scale_plan), e.g. "auto", 3 or [0.5, 1]: the run starts at a fraction of
    the size (content and styles resized alike), each later scale starts from the previous result
    upsampled, ``iterations`` is split between the scales. Iterations and seconds count from the start
    of the run, callbacks get images of the current scale's size, history entries carry their "scale";
    the result is the best image of the last scale (of the scale reached, upsampled, if stopped early).
    precision: "float32", "bfloat16" or "auto" (see resolve_precision and feature_extractor).
    A NaN or infinite cost raises NonFiniteLossError; a size that would not fit in memory, NSTError.
    """
    if optimizer not in ("adam", "lbfgs"):
        raise NSTError(f"optimizer must be 'adam' or 'lbfgs', not {optimizer!r}")
    if init not in ("noise", "content"):
        raise NSTError(f"init must be 'noise' or 'content', not {init!r}")
    if int(iterations) < 0:
        raise NSTError("iterations must be 0 or more")
    precision = resolve_precision(precision)
    content = np.asarray(content, np.float32)
    size = content.shape[:2]
    plan = scale_plan(scales, int(iterations), size)
    check_memory(model, size, optimizer, precision)
    styles = [np.asarray(im, np.float32) for im in _styles_list(style)]
    run = _run_lbfgs if optimizer == "lbfgs" else _run_adam
    start, history, x_prev, done = time.perf_counter(), [], None, 0
    for k, (fraction, n) in enumerate(plan):
        final = k == len(plan) - 1
        shape = size if final else scaled_size(size, fraction)
        c, s, x0 = _scale_inputs(model.mean, content, styles, shape, fraction, x_prev, init, init_image, seed)
        track = _Tracker(model.mean, callback, max(1, int(callback_every)), stop_event, start=start,
                         offset=done, final=final, extra={"scale": fraction} if len(plan) > 1 else None)
        try:
            cost = make_cost_function(model, c, s if isinstance(style, (list, tuple)) else s[0],
                                      content_layer, style_layers, alpha, beta, tv_weight,
                                      style_weights=style_weights, precision=precision)
            result = run(cost, x0, model.mean, n, float(lr), callback, track.every, stop_event, track=track)
        except tf.errors.ResourceExhaustedError:
            raise NSTError(f"out of memory at {shape[0]}x{shape[1]}: use a smaller size (--max-size)") from None
        history += result.history
        done += result.iterations
        if final or result.stopped != "finished":
            break
        x_prev = result.x
    if len(plan) == 1:
        return result
    import dataclasses

    if not final:  # stopped at a coarse scale: its best image at the full size
        x = preprocess(resize_image(result.x[0] + model.mean, size), model.mean)
        result = dataclasses.replace(result, image=deprocess(x, model.mean), x=x)
    return dataclasses.replace(result, iterations=done, history=history,
                               seconds=time.perf_counter() - start)


def _scale_inputs(mean, content, styles, shape, fraction, x_prev, init, init_image, seed):
    """Preprocessed content, styles and start image of one scale (see run_style_transfer).

    The content and ``init_image`` are resized to ``shape`` (H, W), each style by ``fraction`` of its
    own size; the start is ``x_prev`` (the last scale's best, preprocessed) upsampled if given.
    """
    full = tuple(shape) == np.shape(content)[:2]
    c = preprocess(content if full else resize_image(content, shape), mean)
    s = [preprocess(im if full else resize_image(im, scaled_size(im.shape[:2], fraction)), mean) for im in styles]
    if x_prev is not None:
        x0 = preprocess(resize_image(x_prev[0] + mean, shape), mean)
    elif init_image is not None:
        x0 = preprocess(np.asarray(init_image, np.float32) if full else resize_image(init_image, shape), mean)
    else:
        x0 = generate_noise_image(c, 0.6, seed) if init == "noise" else c.copy()
    return c, s, x0


class _Tracker:
    """Bookkeeping shared by both optimisers: history, best image, callbacks, stop requests.

    ``offset``: iterations done at earlier scales (numbers and callbacks continue from there);
    ``start``: perf_counter time the whole run began; ``final``: the last scale, whose end is the run's
    end (a last callback then); ``extra``: keys added to each history entry.
    """

    def __init__(self, mean, callback, every, stop_event, start=None, offset=0, final=True, extra=None):
        self.mean, self.callback, self.every, self.stop_event = mean, callback, every, stop_event
        self.start = time.perf_counter() if start is None else start
        self.offset, self.final, self.extra = offset, final, dict(extra or {})
        self.history, self.best, self.best_x, self.last = [], None, None, None
        self.stopped, self.notified = "finished", None

    def record(self, iteration, J, Jc, Js, x):
        """Log the costs of local iteration ``iteration``; keep ``x`` (a fresh array) if it is the best."""
        J, Jc, Js = float(J), float(Jc), float(Js)
        _check_finite(J, self.offset + iteration)
        entry = {"iteration": self.offset + iteration, "seconds": round(time.perf_counter() - self.start, 4),
                 "J": J, "J_content": Jc, "J_style": Js, **self.extra}
        self.history.append(entry)
        self.last = entry
        if self.best is None or J < self.best["J"]:
            self.best, self.best_x = entry, np.asarray(x, dtype=np.float32)

    def notify(self, iteration, x, force=False):
        """Call the callback for local iteration ``iteration`` if due; ``x`` may be a function giving it."""
        number = self.offset + iteration
        if self.callback is not None and self.last is not None and (force or number % self.every == 0):
            costs = {k: self.last[k] for k in ("J", "J_content", "J_style", "seconds")}
            self.notified = number
            self.callback(number, costs, deprocess(x() if callable(x) else x, self.mean))

    def should_stop(self):
        if self.stop_event is not None and self.stop_event.is_set():
            self.stopped = "stop requested"
            return True
        return False

    def result(self, x_final):
        """The TransferResult of this scale; at the run's end, a last callback if none was made."""
        if self.best_x is None:  # zero iterations
            x = np.asarray(x_final, np.float32)
            return TransferResult(deprocess(x, self.mean), x, 0, 0.0, float("nan"), float("nan"),
                                  float("nan"), [], self.stopped)
        b = self.best
        result = TransferResult(deprocess(self.best_x, self.mean), self.best_x, len(self.history),
                                time.perf_counter() - self.start, b["J"], b["J_content"], b["J_style"],
                                self.history, self.stopped)
        if (self.final or self.stopped != "finished") and self.notified != self.last["iteration"]:
            self.notify(len(self.history), result.x, force=True)
        return result


def _pixel_bounds(mean):
    """Lower and upper bounds of a preprocessed pixel: [-mean, 255 - mean] per channel."""
    mean = np.asarray(mean, np.float32).reshape(1, 1, 1, 3)
    return -mean, 255.0 - mean


def _run_adam(cost, x0, mean, iterations, lr, callback, every, stop_event, beta1=0.9, beta2=0.999,
              eps=1e-8, track=None):
    """Adam on the pixels, clipped to the valid range after each step (see run_style_transfer)."""
    lo, hi = _pixel_bounds(mean)
    x = tf.Variable(x0)
    m = tf.Variable(tf.zeros_like(x0))
    v = tf.Variable(tf.zeros_like(x0))
    t = tf.Variable(0.0)

    @tf.function(autograph=False)
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

    track = track or _Tracker(mean, callback, every, stop_event)
    try:
        for i in range(1, iterations + 1):
            if track.should_stop():
                break
            J, Jc, Js, x_before = step()
            track.record(i, J, Jc, Js, x_before.numpy())
            track.notify(i, track.best_x if i == iterations else x.numpy)
    except KeyboardInterrupt:
        track.stopped = "interrupted"
    return track.result(x.numpy())


#: L-BFGS settings: pairs (s, y) kept, Armijo and curvature constants, most cost evaluations per
#: line search, the first step's root-mean-square pixel change, the growth of a step still steep.
LBFGS_MEMORY, LBFGS_C1, LBFGS_C2, LBFGS_EVALS, LBFGS_FIRST_STEP, LBFGS_GROW = 20, 1e-4, 0.9, 8, 25.0, 4.0


def _lbfgs_state(x0, memory):
    """The L-BFGS memory: ``(direction(g) -> (d, g.d), update(s, y), reset())`` on TF variables.

    direction: the two-loop recursion d = -H g, H the inverse Hessian estimate from the last ``memory``
    pairs s_i = x_{i+1} - x_i, y_i = g_{i+1} - g_i (rho_i = 1 / s_i.y_i), H_0 = (s.y / y.y) I from the
    newest pair (I before the first). update stores a pair only if s.y > 0 (curvature).
    """
    n, m = int(np.size(x0)), int(memory)
    S, Y = tf.Variable(tf.zeros((m, n))), tf.Variable(tf.zeros((m, n)))
    rho, pos, count = tf.Variable(tf.zeros(m)), tf.Variable(0), tf.Variable(0)

    @tf.function(autograph=False)  # explicit loops: no dependence on reading this file's source
    def direction(g):
        s_, y_, rho_, k, p = S.value(), Y.value(), rho.value(), count.value(), pos.value()  # read once

        def newest_first(i, q, alphas):
            j = (p - 1 - i) % m
            a = rho_[j] * tf.tensordot(s_[j], q, 1)
            return i + 1, q - a * y_[j], alphas.write(i, a)

        start = (tf.constant(0), tf.reshape(g, [-1]), tf.TensorArray(tf.float32, size=m))
        _, q, alphas = tf.while_loop(lambda i, q, alphas: i < k, newest_first, start)
        newest = (p - 1) % m
        gamma = tf.where(k > 0, 1.0 / (rho_[newest] * tf.tensordot(y_[newest], y_[newest], 1) + 1e-30), 1.0)

        def oldest_first(i, r):
            j = (p - 1 - i) % m
            return i - 1, r + (alphas.read(i) - rho_[j] * tf.tensordot(y_[j], r, 1)) * s_[j]

        _, r = tf.while_loop(lambda i, r: i >= 0, oldest_first, (k - 1, gamma * q))
        return -tf.reshape(r, tf.shape(g)), -tf.tensordot(tf.reshape(g, [-1]), r, 1)

    @tf.function(autograph=False)
    def update(s, y):
        s, y = tf.reshape(s, [-1]), tf.reshape(y, [-1])
        sy = tf.tensordot(s, y, 1)

        def store():
            p = pos.value()
            writes = [S[p].assign(s), Y[p].assign(y), rho[p].assign(1.0 / sy), pos.assign((p + 1) % m),
                      count.assign(tf.minimum(count + 1, m))]
            with tf.control_dependencies(writes):
                return tf.constant(True)

        return tf.cond(sy > 1e-10 * tf.tensordot(y, y, 1), store, lambda: tf.constant(False))

    def reset():
        rho.assign(tf.zeros(m))
        count.assign(0)

    return direction, update, reset


def _line_search(trial, J, gd, t):
    """Find a step t along d with phi(t) = J(clip(x + t d)): returns the best trial tuple, or None.

    ``trial(t) -> (x_t, J_t, J_content, J_style, g_t, g.(x_t - x), g_t.d)``; J = phi(0), gd = phi'(0) < 0.
    A step is acceptable if J_t <= J + c1 g.(x_t - x) (Armijo); it is taken unless the slope is still
    steep (g_t.d < c2 gd), then t grows x LBFGS_GROW; a failed step is halved towards the last
    acceptable one. At most LBFGS_EVALS evaluations.
    """
    t_lo, t_hi, best = 0.0, None, None
    for _ in range(LBFGS_EVALS):
        out = trial(t)
        J_t = float(out[1])
        if np.isfinite(J_t) and J_t <= J + LBFGS_C1 * float(out[5]):
            if best is None or J_t < best[1]:
                best = (out[0], J_t, *out[2:5])
            if float(out[6]) >= LBFGS_C2 * gd:
                break
            t_lo = t
        else:
            t_hi = t
        t = (t_lo + t_hi) / 2 if t_hi is not None else t * LBFGS_GROW
    return best


def _run_lbfgs(cost, x0, mean, iterations, lr, callback, every, stop_event, track=None,
               memory=LBFGS_MEMORY):
    """L-BFGS in TensorFlow (float32), projected on the pixel range, one memory for the whole run.

    Each iteration: d = -H g (see _lbfgs_state), then a line search on x(t) = clip(x + t d) (see
    _line_search): t = 1 first (in the first iteration, a step whose root-mean-square pixel change is
    LBFGS_FIRST_STEP), usually accepted, so one cost evaluation per iteration. The memory is cleared
    only if no step lowers the cost (the run ends if steepest descent fails too). ``lr`` is not used.
    """
    lo, hi = (tf.constant(b) for b in _pixel_bounds(mean))
    direction, update, reset = _lbfgs_state(x0, memory)

    @tf.function(autograph=False)
    def trial(x, g, d, t):
        x_t = tf.clip_by_value(x + t * d, lo, hi)
        J, Jc, Js, g_t = cost(x_t)
        return x_t, J, Jc, Js, g_t, tf.reduce_sum(g * (x_t - x)), tf.reduce_sum(g_t * d)

    track = track or _Tracker(mean, callback, every, stop_event)
    x = tf.constant(x0, tf.float32)
    try:
        if iterations > 0:
            J, _, _, g = cost(x)
            _check_finite(float(J), track.offset + 1)
            J, fresh = float(J), True
        i = 0
        while i < iterations and not track.should_stop():
            d, gd = direction(g)
            if float(gd) >= 0:  # not a descent direction (numerical trouble): steepest descent
                reset()
                d, gd = direction(g)
            t = LBFGS_FIRST_STEP / max(float(tf.sqrt(tf.reduce_mean(tf.square(d)))), 1e-30) if fresh else 1.0
            best = _line_search(lambda t: trial(x, g, d, tf.constant(t, tf.float32)), J, float(gd), t)
            if best is None:
                if fresh:
                    break  # even steepest descent cannot lower the cost: converged
                reset()
                fresh = True
                continue
            x_t, J_t, Jc, Js, g_t = best
            update(x_t - x, g_t - g)
            x, J, g, fresh = x_t, J_t, g_t, False
            i += 1
            track.record(i, J, Jc, Js, x.numpy())
            track.notify(i, track.best_x)
    except KeyboardInterrupt:
        track.stopped = "interrupted"
    return track.result(x.numpy())


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
                except (OSError, urllib.error.URLError, http.client.HTTPException) as exc:
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
# Live previews
# --------------------------------------------------------------------------------------------------


class LivePreview:
    """A ``run_style_transfer`` callback that redraws the image and the cost curves in place.

    ``preview = LivePreview(alpha, beta, every=10)``, then
    ``run_style_transfer(..., alpha=alpha, beta=beta, callback=preview, callback_every=1)`` and
    ``preview.done(result)``. Every call records the costs; every ``every`` iterations one PNG is drawn
    (the current image; J, alpha J_content, beta J_style and any rest such as tv_weight J_TV on a log
    scale against the iteration) and shown with ``display(png, display_id=True)`` the first time and
    ``handle.update(png)`` after that: a single output that changes in place, in Jupyter and under
    nbclient. No pyplot figure is created, so no stale copies pile up. ``display`` defaults to IPython's.
    """

    def __init__(self, alpha=10, beta=40, every=10, title="", display=None, figsize=(10, 3.6), dpi=80):
        if int(every) < 1:
            raise NSTError("every must be 1 or more")
        self.alpha, self.beta, self.every, self.title = float(alpha), float(beta), int(every), title
        self.display, self.figsize, self.dpi = display, figsize, dpi
        self.history, self.image, self.handle, self.label = [], None, None, ""
        self.draws = 0

    def __call__(self, iteration, costs, image):
        crossed = not self.history or iteration // self.every > self.history[-1]["iteration"] // self.every
        self.history.append({"iteration": int(iteration), **{k: float(costs[k]) for k in ("J", "J_content", "J_style")}})
        self.image = np.asarray(image)
        if crossed:
            self.label = f"iteration {iteration}"
            self.show()

    def done(self, result):
        """Final frame: the whole ``result.history`` and the returned (lowest-cost) image."""
        if result.history:
            self.history = [{k: float(h[k]) if k != "iteration" else int(h[k])
                             for k in ("iteration", "J", "J_content", "J_style")} for h in result.history]
        self.image = np.asarray(result.image)
        self.label = f"done: {result.iterations} iterations in {result.seconds:.0f} s, best J = {result.J:.3g}"
        self.show()

    def curves(self):
        """``{label: (iterations, values)}`` of the cost curves as drawn (series that are all 0 left out)."""
        it = np.array([h["iteration"] for h in self.history])
        J = np.array([h["J"] for h in self.history])
        Jc = self.alpha * np.array([h["J_content"] for h in self.history])
        Js = self.beta * np.array([h["J_style"] for h in self.history])
        series = {"J (total)": J, "alpha J_content": Jc, "beta J_style": Js}
        rest = J - Jc - Js
        if len(J) and np.max(np.abs(rest)) > 1e-4 * np.max(np.abs(J)):
            series["rest (e.g. tv_weight J_TV)"] = rest
        return {k: (it, v) for k, v in series.items() if len(v) and np.any(v > 0)}

    def figure(self):
        """A new matplotlib Figure (not registered with pyplot) of the current image and cost curves."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=self.figsize, dpi=self.dpi, layout="constrained")
        ax_img, ax_cost = fig.subplots(1, 2, width_ratios=[1, 1.3])
        if self.image is not None:
            ax_img.imshow(self.image)
        # two lines: "done: ... iterations in ... s, best J = ..." is wider than the image
        ax_img.set_title(f"generated image G\n{self.label}" if self.label else "generated image G")
        ax_img.axis("off")
        for name, (it, values) in self.curves().items():
            keep = values > 0
            ax_cost.plot(it[keep], values[keep], label=name, marker="." if keep.sum() < 30 else None)
        ax_cost.set_yscale("log")
        ax_cost.set_xlabel("iteration")
        ax_cost.set_ylabel("cost (log scale)")
        ax_cost.set_title("cost curves")
        ax_cost.grid(True, which="both", alpha=0.3)
        if self.history:
            ax_cost.legend(loc="best", fontsize="small")  # where it covers the fewest points
        if self.title:
            fig.suptitle(self.title)
        return fig

    def png(self) -> bytes:
        """The current frame as PNG bytes."""
        return _figure_png(self.figure())

    def show(self):
        """Draw the current frame: a new display the first time, an in-place update after that."""
        from IPython.display import Image

        frame = Image(data=self.png(), format="png")
        if self.handle is None:
            show = self.display
            if show is None:
                from IPython.display import display as show
            self.handle = show(frame, display_id=True)
        else:
            self.handle.update(frame)
        self.draws += 1


def _figure_png(fig) -> bytes:
    """A matplotlib Figure as PNG bytes."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def grey_noise_image(size, amplitude=20.0, seed=None) -> np.ndarray:
    """A start image with no content: mid-grey 127.5 + U(-amplitude, amplitude), float32 ``(H, W, 3)``."""
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in size)
    return (127.5 + rng.uniform(-amplitude, amplitude, size=(h, w, 3))).astype(np.float32)


def reconstruct_style(model, style, layers, *, size=None, iterations=100, optimizer="lbfgs", lr=2.0,
                      seed=0, amplitude=20.0, callback=None, callback_every=10) -> TransferResult:
    """Texture synthesis: an image whose Gram matrices at ``layers`` match ``style``'s, from grey noise.

    Minimises J_style(S, G) = sum_l lambda^[l] J_style^[l](S, G) alone (run_style_transfer with
    alpha = 0, beta = 1), starting from ``grey_noise_image``, so nothing of a content image leaks in.
    ``layers``: names (equal weights 1/L) or (name, lambda) pairs; ``size``: (H, W), default the style's.
    """
    if isinstance(layers, str) or not layers:
        raise NSTError("layers must be a non-empty list of layer names, e.g. ['conv1_1', 'conv2_1']")
    pairs = [(n, 1.0 / len(layers)) if isinstance(n, str) else (n[0], float(n[1])) for n in layers]
    model.check_layers([n for n, _ in pairs])
    size = tuple(size) if size is not None else np.shape(style)[:2]
    start = grey_noise_image(size, amplitude, seed)
    shallowest = min((n for n, _ in pairs), key=model.names.index)
    return run_style_transfer(model, start, style, iterations=iterations, optimizer=optimizer, alpha=0,
                              beta=1, lr=lr, content_layer=shallowest, style_layers=pairs,
                              init_image=start, callback=callback, callback_every=callback_every)


# --------------------------------------------------------------------------------------------------
# Course helpers: exercise checks, layer table, network diagram, content reconstructions
# --------------------------------------------------------------------------------------------------


def smoke_mode() -> bool:
    """True when ``$NST_SMOKE`` is "1": notebooks then use tiny images and a few iterations."""
    return os.environ.get("NST_SMOKE") == "1"


def _describe(value) -> str:
    """A check's value as short text: a number, or an array's shape and first entries."""
    if value is None:
        return "None (does the function return its result?)"
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return f"{float(arr):.7g}"
    return f"shape {arr.shape}, first row {np.array2string(arr.reshape(arr.shape[0], -1)[0][:4], precision=5)}"


def _run_check(name, fn, reference, cases, rtol=1e-5):
    """Compare ``fn(*args)`` with ``reference(*args)`` for each (label, args) case; print one line."""
    shown = None
    for label, args in cases:
        expected = np.asarray(reference(*args), dtype=np.float64)
        try:
            got = fn(*args)
            arr = None if got is None else np.asarray(got, dtype=np.float64)
            arr = arr.reshape(()) if arr is not None and expected.ndim == 0 and arr.size == 1 else arr
        except Exception as exc:  # the learner's code: report it, no traceback
            message = (str(exc).strip().splitlines() or [""])[0][:200]
            print(f"FAILED: {name} {label} raised {type(exc).__name__}: {message}")
            return False
        scale = float(np.max(np.abs(expected))) if expected.size else 0.0
        if arr is None or arr.shape != expected.shape or not np.allclose(arr, expected, rtol=rtol,
                                                                         atol=1e-6 * scale):
            print(f"FAILED: {name} {label}: got {_describe(got)}, expected {_describe(expected)}")
            return False
        shown = shown or (arr, expected)
    print(f"PASSED: {name} = {_describe(shown[0])} (expected {_describe(shown[1])}), "
          f"{len(cases)} test cases")
    return True


def _activation_cases(shapes, n_inputs=2, seed=1):
    """(label, args) cases: ``n_inputs`` float32 tensors ~ N(1, 4^2) per shape, seeded."""
    rng = np.random.default_rng(seed)
    return [(f"for inputs of shape {shape}",
             tuple(tf.constant(rng.normal(1.0, 4.0, shape).astype(np.float32)) for _ in range(n_inputs)))
            for shape in shapes]


def check_content_cost(fn) -> bool:
    """Check ``fn(a_C, a_G)`` against compute_content_cost on random activations; prints PASSED/FAILED."""
    cases = _activation_cases([(1, 4, 4, 3), (1, 3, 5, 8), (1, 7, 6, 16)])
    return _run_check("compute_content_cost", fn, compute_content_cost, cases)


def check_gram_matrix(fn) -> bool:
    """Check ``fn(A)`` against gram_matrix on random A of shape (n_C, n_H n_W); prints PASSED/FAILED."""
    cases = _activation_cases([(3, 2), (8, 20), (16, 49)], n_inputs=1)
    return _run_check("gram_matrix", fn, gram_matrix, cases)


def check_layer_style_cost(fn) -> bool:
    """Check ``fn(a_S, a_G)`` against compute_layer_style_cost on random activations; prints PASSED/FAILED."""
    cases = _activation_cases([(1, 4, 4, 3), (1, 3, 5, 8), (1, 6, 7, 16)])
    return _run_check("compute_layer_style_cost", fn, compute_layer_style_cost, cases)


def check_style_cost(fn) -> bool:
    """Check ``fn(a_S, a_G, style_layers)`` against compute_style_cost on random dicts; prints PASSED/FAILED."""
    rng = np.random.default_rng(2)
    shapes = {"conv1_1": (1, 8, 8, 3), "conv2_1": (1, 4, 4, 6), "conv3_1": (1, 4, 2, 8),
              "conv4_1": (1, 2, 2, 12), "conv5_1": (1, 1, 2, 16)}

    def acts():
        return {n: tf.constant(rng.normal(1.0, 4.0, s).astype(np.float32)) for n, s in shapes.items()}

    uneven = [("conv1_1", 0.5), ("conv3_1", 0.3), ("conv5_1", 0.2)]
    cases = [("with STYLE_LAYERS", (acts(), acts(), STYLE_LAYERS)),
             (f"with style_layers={uneven}", (acts(), acts(), uneven))]
    return _run_check("compute_style_cost", fn, compute_style_cost, cases)


def check_total_cost(fn) -> bool:
    """Check ``fn(J_content, J_style[, alpha, beta])`` against total_cost; prints PASSED/FAILED."""
    cases = [("for (0.2, 0.8) with the default alpha, beta", (0.2, 0.8)),
             ("for (1.5, 2.5, 1.0, 0.01)", (1.5, 2.5, 1.0, 0.01)),
             ("for (3.0, 0.5, 10, 1000)", (tf.constant(3.0), tf.constant(0.5), 10, 1000))]
    return _run_check("total_cost", fn, total_cost, cases)


def adam_state(x) -> dict:
    """Adam's state for a hand-written step (notebook 05): ``{"m": 0, "v": 0, "t": 0}``, m and v shaped like x."""
    return {"m": tf.zeros(np.shape(x), tf.float32), "v": tf.zeros(np.shape(x), tf.float32), "t": 0}


def check_train_step(fn, cost, x0, mean=VGG_MEAN, steps=3, lr=2.0, beta1=0.9, beta2=0.999, eps=1e-8) -> bool:
    """Check ``fn(G, state)``, one Adam step on the tf.Variable ``G``, against ``cost``; prints PASSED/FAILED.

    ``cost``: ``make_cost_function`` of the problem ``fn`` solves (same content, style, alpha, beta);
    ``x0``: a preprocessed (1, H, W, 3) start, its top row set to black and its bottom row to white here
    so that clipping matters. ``fn`` gets ``state = adam_state(x0)`` and must return J at G before the
    step and leave G at clip(G - lr m_hat / (sqrt(v_hat) + eps)) (as _run_adam), ``steps`` times.
    """
    lo, hi = _pixel_bounds(mean)
    x = np.array(x0, np.float32)
    x[:, 0], x[:, -1] = lo[0, 0], hi[0, 0]
    G, state = tf.Variable(x), adam_state(x)
    x = tf.constant(x)
    m, v = tf.zeros_like(x), tf.zeros_like(x)
    for t in range(1, steps + 1):
        J_ref, _, _, g = cost(x)
        J_ref = float(J_ref)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * tf.square(g)
        x = tf.clip_by_value(x - lr * (m / (1 - beta1**t)) / (tf.sqrt(v / (1 - beta2**t)) + eps), lo, hi)
        before = G.numpy()
        try:
            got = fn(G, state)
            J = None if got is None else np.asarray(got, dtype=np.float64)
        except Exception as exc:  # the learner's code: report it, no traceback
            message = (str(exc).strip().splitlines() or [""])[0][:200]
            print(f"FAILED: train_step at step {t} raised {type(exc).__name__}: {message}")
            return False
        if J is None or J.size != 1 or not np.isclose(float(J.reshape(())), J_ref, rtol=1e-4):
            print(f"FAILED: train_step at step {t}: returned J = {_describe(J)}, expected {J_ref:.7g} "
                  "(the cost at G before the update)")
            return False
        after = G.numpy()
        if np.array_equal(after, before):
            print(f"FAILED: train_step at step {t}: G did not change (update the variable: G.assign(...))")
            return False
        diff = np.abs(after - x.numpy())
        off = diff > 1e-2
        if off.mean() > 1e-3:
            print(f"FAILED: train_step at step {t}: G is off by more than 0.01 at {off.sum()} of {off.size} "
                  f"values (by up to {diff.max():.3g}); expected clip(G - lr * m_hat / (sqrt(v_hat) + eps))")
            return False
    print(f"PASSED: train_step = {float(J.reshape(())):.7g} (expected {J_ref:.7g}) at step {steps}, "
          f"and G is Adam's update after each of the {steps} steps")
    return True


def layer_table(model, input_size=(224, 224)):
    """One row per layer at ``input_size`` (H, W): name, kind, output shape (n_H, n_W, n_C), receptive field.

    Receptive field r (pixels of the input one output position sees) and jump j (input pixels between
    neighbouring positions) start at r = j = 1; a k x k stride-1 conv adds (k - 1) j, a 2x2 stride-2
    pool adds j and doubles j. Shapes follow the model: SAME padding, pools halve rounding up.
    """
    n_H, n_W = (int(v) for v in input_size)
    n_C, r, j = 3, 1, 1
    rows = []
    for layer in model.layers:
        if layer.kind == "conv":
            r += (int(layer.kernel.shape[0]) - 1) * j
            n_C = int(layer.kernel.shape[3])
        else:
            r, j = r + j, 2 * j
            n_H, n_W = -(-n_H // 2), -(-n_W // 2)
        rows.append({"name": layer.name, "kind": layer.kind, "shape": (n_H, n_W, n_C),
                     "receptive_field": r, "jump": j})
    return rows


def draw_network(model, input_size=(224, 224), content_layer=CONTENT_LAYER, style_layers=STYLE_LAYERS):
    """A matplotlib Figure of the model's layers: one box per layer, grouped by block, channel counts
    from the file, the content layer and the style layers highlighted; box height ~ sqrt(n_H)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    rows = layer_table(model, input_size)
    style = {n for n, w in style_layers if w}
    colours = {"content": "tab:orange", "style": "tab:purple", "conv": "lightsteelblue", "pool": "dimgray"}
    fig, ax = plt.subplots(figsize=(max(8.0, 0.5 * len(rows) + 2), 4.2))
    x, height0 = 0.0, 3.0
    ax.add_patch(Rectangle((x, -height0 / 2), 0.6, height0, color="wheat", ec="black"))
    ax.text(x + 0.3, height0 / 2 + 0.15, f"input\n{input_size[0]}x{input_size[1]}x3", ha="center", va="bottom",
            fontsize=7)
    x += 1.0
    block_start = x
    for i, row in enumerate(rows):
        h = height0 * np.sqrt(row["shape"][0] / input_size[0])
        if row["kind"] == "conv":
            key = "content" if row["name"] == content_layer else "style" if row["name"] in style else "conv"
            ax.add_patch(Rectangle((x, -h / 2), 0.55, h, color=colours[key], ec="black"))
            ax.text(x + 0.275, -h / 2 - 0.1, row["name"], rotation=90, ha="center", va="top", fontsize=7)
            x += 0.7
        else:
            ax.add_patch(Rectangle((x, -h / 2), 0.2, h, color=colours["pool"], ec="black"))
            n_H, n_W, n_C = rows[max(i - 1, 0)]["shape"]  # the block's maps, before this pool
            ax.text((block_start + x) / 2, height0 / 2 + 0.15, f"block {row['name'][4:]}: {n_C} channels\n{n_H}x{n_W}",
                    ha="center", va="bottom", fontsize=8)
            ax.text(x + 0.1, -h / 2 - 0.1, row["name"], rotation=90, ha="center", va="top", fontsize=7)
            x += 0.6
            block_start = x
    legend = [Patch(color=colours["content"], label=f"content layer ({content_layer})"),
              Patch(color=colours["style"], label="style layers (" + ", ".join(n for n, w in style_layers if w) + ")"),
              Patch(color=colours["conv"], label="other conv 3x3 + ReLU"),
              Patch(color=colours["pool"], label=f"2x2 {model.pooling} pool, stride 2")]
    ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2, fontsize=8,
              frameon=False)
    ax.set_xlim(-0.3, x + 0.1)
    ax.set_ylim(-height0 / 2 - 1.3, height0 / 2 + 0.9)
    ax.set_axis_off()
    name = Path(model.path).name if model.path else "VGG"
    ax.set_title(f"{name}: {len(model.conv_names)} conv layers in {sum(r['kind'] == 'pool' for r in rows)} "
                 f"blocks, input {input_size[0]}x{input_size[1]} (box height ~ sqrt of the map's height)")
    fig.tight_layout()
    return fig


def reconstruct_content(model, image, layer, *, iterations=100, optimizer="lbfgs", lr=2.0, seed=0,
                        amplitude=2.0, callback=None, callback_every=10) -> TransferResult:
    """Content reconstruction: an image whose activation at ``layer`` matches ``image``'s, from grey noise.

    Minimises J_content(C, G) at ``layer`` alone (run_style_transfer with beta = 0 and no style layers),
    starting from ``grey_noise_image`` (faint noise: strong noise survives in what deep layers ignore);
    starting from the content would already be a solution. ``image``: RGB (H, W, 3) in [0, 255].
    alpha is set so that J = alpha J_content is 1000 at the start: L-BFGS-B's first step is the raw
    gradient, which would not change a small float32 cost at all. ``result.J_content`` is unscaled.
    """
    model.check_layers([layer])
    start = grey_noise_image(np.shape(image)[:2], amplitude, seed)
    a_C = model(preprocess(image, model.mean), [layer])[layer]
    J0 = float(compute_content_cost(a_C, model(preprocess(start, model.mean), [layer])[layer]))
    return run_style_transfer(model, image, image, iterations=iterations, optimizer=optimizer,
                              alpha=1000.0 / J0 if J0 > 0 else 1.0, beta=0, lr=lr, content_layer=layer,
                              style_layers=[], init_image=start, callback=callback,
                              callback_every=callback_every)


# --------------------------------------------------------------------------------------------------
# Going further: colour preservation, several styles, style scale, animation
# --------------------------------------------------------------------------------------------------

#: RGB -> YIQ (NTSC): [Y, I, Q] = RGB_TO_YIQ @ [R, G, B]. Y is the luminance; I and Q, the chroma, are 0
#: for every grey pixel (their rows sum to 0).
RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                       [0.595716, -0.274453, -0.321263],
                       [0.211456, -0.522591, 0.311135]])

#: YIQ -> RGB, the exact inverse of RGB_TO_YIQ.
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)

PRESERVE_COLORS = ("luminance", "histogram")
ANIMATION_FORMATS = (".gif", ".mp4")
STYLE_SIDE_MIN, STYLE_SIDE_MAX = 8, 3000  # pixels: a style scaled outside this range is refused


def rgb_to_yiq(image) -> np.ndarray:
    """RGB ``(..., 3)`` in [0, 255] -> YIQ ``(..., 3)`` float64: [Y, I, Q] = RGB_TO_YIQ [R, G, B]."""
    return np.asarray(image, np.float64) @ RGB_TO_YIQ.T


def yiq_to_rgb(yiq) -> np.ndarray:
    """YIQ ``(..., 3)`` -> RGB ``(..., 3)`` float64, not clipped: [R, G, B] = YIQ_TO_RGB [Y, I, Q]."""
    return np.asarray(yiq, np.float64) @ YIQ_TO_RGB.T


def luminance_image(image) -> np.ndarray:
    """The luminance Y of an RGB image, as a grey RGB image ``(H, W, 3)`` float32 (R = G = B = Y)."""
    y = rgb_to_yiq(image)[..., 0]
    return np.repeat(np.clip(y, 0, 255)[..., None], 3, axis=-1).astype(np.float32)


def match_luminance(style, content) -> np.ndarray:
    r"""The style's luminance with the content's mean and spread, as a grey image (h, w, 3) float32.

    L_S' = (sigma_C / sigma_S) (L_S - mu_S) + mu_C, with L = Y of YIQ, mu and sigma over all pixels
    (Gatys et al. 2016, luminance-only transfer). style (h, w, 3), content (H, W, 3): RGB in [0, 255].
    """
    L_S, L_C = rgb_to_yiq(style)[..., 0], rgb_to_yiq(content)[..., 0]
    sigma_S = L_S.std()
    L = (L_C.std() / sigma_S if sigma_S > 0 else 1.0) * (L_S - L_S.mean()) + L_C.mean()
    return np.repeat(np.clip(L, 0, 255)[..., None], 3, axis=-1).astype(np.float32)


def restore_chroma(stylised, content) -> np.ndarray:
    """Luminance Y of ``stylised`` with the chroma (I, Q) of ``content`` -> uint8 RGB (H, W, 3).

    Both are RGB ``(H, W, 3)`` of one size. Pixels pushed out of the RGB cube are clipped to [0, 255],
    so only there can the output's I, Q differ from the content's by more than rounding.
    """
    if np.shape(stylised) != np.shape(content):
        raise NSTError(f"restore_chroma needs two images of one size, got {np.shape(stylised)} and "
                       f"{np.shape(content)}")
    yiq = rgb_to_yiq(content)
    yiq[..., 0] = rgb_to_yiq(stylised)[..., 0]
    return np.clip(yiq_to_rgb(yiq), 0, 255).round().astype(np.uint8)


def _sqrtm_psd(S, inverse=False):
    """Symmetric square root S^{1/2} (or S^{-1/2}) of a symmetric positive definite 3x3 matrix."""
    lam, V = np.linalg.eigh(S)
    lam = np.maximum(lam, 1e-12)
    return (V * (lam ** (-0.5 if inverse else 0.5))) @ V.T


def match_color_histogram(style, content, method="eig", eps=1e-3, clip=True) -> np.ndarray:
    r"""Recolour ``style`` so that its pixels' mean and covariance equal ``content``'s.

    x' = A (x - mu_S) + mu_C for every style pixel x (an RGB 3-vector), with A Sigma_S A^T = Sigma_C
    (Gatys et al. 2016, colour histogram matching). Sigma = pixel covariance (+ eps I).
    method "eig" (Image Analogies): A = Sigma_C^{1/2} Sigma_S^{-1/2};
    method "cholesky": A = L_C L_S^{-1}, with Sigma = L L^T.
    style (h, w, 3), content (H, W, 3): RGB in [0, 255]. Returns float32 (h, w, 3), clipped unless clip=False.
    """
    if method not in ("eig", "cholesky"):
        raise NSTError(f"method must be 'eig' or 'cholesky', not {method!r}")
    s = np.asarray(style, np.float64).reshape(-1, 3)
    c = np.asarray(content, np.float64).reshape(-1, 3)
    mu_S, mu_C = s.mean(0), c.mean(0)
    Sigma_S = np.cov(s, rowvar=False, bias=True) + eps * np.eye(3)
    Sigma_C = np.cov(c, rowvar=False, bias=True) + eps * np.eye(3)
    if method == "eig":
        A = _sqrtm_psd(Sigma_C) @ _sqrtm_psd(Sigma_S, inverse=True)
    else:
        A = np.linalg.cholesky(Sigma_C) @ np.linalg.inv(np.linalg.cholesky(Sigma_S))
    out = ((s - mu_S) @ A.T + mu_C).reshape(np.shape(style))
    return (np.clip(out, 0, 255) if clip else out).astype(np.float32)


def normalize_style_weights(weights, n) -> np.ndarray:
    """Blend weights of ``n`` styles as float64 summing to 1 (None: equal); NSTError if they cannot be."""
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, np.float64).ravel()
    if w.size != n:
        raise NSTError(f"got {w.size} style weight(s) for {n} style image(s): give one weight per style")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise NSTError(f"style weights must be finite numbers >= 0, got {list(w)}")
    if w.sum() <= 0:
        raise NSTError("style weights are all 0: give at least one a positive weight")
    return w / w.sum()


def style_target_size(content_size, style_scale):
    """(h, w) of a style at ``style_scale`` x the content's (H, W); NSTError if the scale is not > 0
    or (for a scale other than 1) a side would fall outside [STYLE_SIDE_MIN, STYLE_SIDE_MAX] pixels."""
    try:
        s = float(style_scale)
    except (TypeError, ValueError):
        raise NSTError(f"style scale must be a number, got {style_scale!r}") from None
    if not np.isfinite(s) or s <= 0:
        raise NSTError(f"style scale must be a number > 0 (1 = the content's size), got {style_scale!r}")
    H, W = (int(v) for v in content_size)
    h, w = max(1, round(H * s)), max(1, round(W * s))
    if s != 1 and min(h, w) < STYLE_SIDE_MIN or max(h, w) > STYLE_SIDE_MAX:
        raise NSTError(f"style scale {s:g} makes the {H}x{W} style {h}x{w}; each side must be between "
                       f"{STYLE_SIDE_MIN} and {STYLE_SIDE_MAX} pixels, choose another scale")
    return h, w


def blend_style_grams(model, styles, weights=None, style_layers=STYLE_LAYERS, content_shape=None):
    r"""The style target of one or several style images: G^[l] = sum_k w_k G_S^(k)[l], sum_k w_k = 1.

    styles: one preprocessed (1, h, w, 3) array or a list of them (sizes may differ); weights: one per
    style (normalised to sum 1, None: equal). A style whose n_H n_W differs from the generated image's
    (``content_shape`` (1, H, W, 3)) has its G_S scaled by the ratio of positions (see style_grams).
    Returns {layer: G (n_C, n_C)} as tf constants.
    """
    styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    if not styles:
        raise NSTError("give at least one style image")
    w = normalize_style_weights(weights, len(styles))
    names = [n for n, _ in style_layers]
    positions = None
    if content_shape is not None and any(np.shape(s)[1:3] != tuple(content_shape[1:3]) for s in styles):
        gen = model(tf.zeros(content_shape, tf.float32), names)
        positions = {n: int(a.shape[1] * a.shape[2]) for n, a in gen.items()}
    total = {}
    for w_k, s in zip(w, styles):
        if w_k == 0 and len(styles) > 1:
            continue  # a style with weight 0 adds nothing: do not run the network on it
        own = positions if positions is not None and np.shape(s)[1:3] != tuple(content_shape[1:3]) else None
        grams = style_grams(model(s, names), style_layers, own)
        for n, G in grams.items():
            total[n] = total[n] + float(w_k) * G if n in total else float(w_k) * G
    return {n: tf.constant(G) for n, G in total.items()}


def _styles_list(style):
    """``style`` as a list of images: one (H, W, 3) image, or a list/tuple of them."""
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise NSTError("give at least one style image")
    return styles


def prepare_styles(style, content, style_scale=None, preserve_colors=None):
    """The style images as the optimisation will see them: scaled, then recoloured (see ``stylize``).

    Returns a list of float32 (h, w, 3) RGB images in [0, 255].
    """
    if preserve_colors not in (None, *PRESERVE_COLORS):
        raise NSTError(f"preserve_colors must be None, 'luminance' or 'histogram', not {preserve_colors!r}")
    styles = [np.asarray(s, np.float32) for s in _styles_list(style)]
    if style_scale is not None:
        size = style_target_size(np.shape(content)[:2], style_scale)
        styles = [resize_image(s, size) for s in styles]
    if preserve_colors == "histogram":
        styles = [match_color_histogram(s, content) for s in styles]
    elif preserve_colors == "luminance":
        styles = [match_luminance(s, content) for s in styles]
    return styles


def stylize(model, content, style, *, style_weights=None, style_scale=None, preserve_colors=None,
            recorder=None, callback=None, callback_every=10, **kwargs) -> TransferResult:
    """run_style_transfer plus the extras: several styles, style scale, colour preservation, a film.

    style: one RGB image (h, w, 3) in [0, 255] or a list; style_weights: their blend weights (see
    blend_style_grams). style_scale: resize each style to style_scale x the content's (H, W) first
    (None: use them as given). preserve_colors: None; "histogram" recolours each style with
    match_color_histogram(style, content) first; "luminance" optimises the luminance alone (content Y,
    styles' Y via match_luminance) and puts the content's I, Q back with restore_chroma.
    recorder: an AnimationRecorder, fed every ``recorder.every`` iterations (colour-restored previews).
    Other keyword arguments (iterations, optimizer, alpha, beta, lr, init_image, ...) go to
    run_style_transfer. Returns its TransferResult (``image`` and ``x`` colour-restored if "luminance").
    """
    import dataclasses
    import math

    content = np.asarray(content, np.float32)
    styles = prepare_styles(style, content, style_scale, preserve_colors)
    luminance = preserve_colors == "luminance"
    if luminance:
        content_in = luminance_image(content)
        if kwargs.get("init_image") is not None:
            kwargs["init_image"] = luminance_image(kwargs["init_image"])
    else:
        content_in = content
    cb, every = callback, max(1, int(callback_every))
    if recorder is not None or (luminance and callback is not None):
        every_user = every
        every = math.gcd(every_user, recorder.every) if recorder is not None else every_user
        total = int(kwargs.get("iterations", 200))

        def cb(i, costs, image):  # previews in colour; each listener at its own pace (and at the end)
            frame = restore_chroma(image, content) if luminance else image
            if recorder is not None:
                recorder(i, costs, frame)
            if callback is not None and (i % every_user == 0 or i % every or i == total):
                callback(i, costs, frame)
    result = run_style_transfer(model, content_in, styles if len(styles) > 1 else styles[0],
                                style_weights=style_weights, callback=cb, callback_every=every, **kwargs)
    if luminance:
        image = restore_chroma(result.image, content)
        result = dataclasses.replace(result, image=image, x=preprocess(image, model.mean))
    return result


def check_animation_path(path) -> Path:
    """``path`` if an animation can be written there (.gif, or .mp4 with imageio-ffmpeg), else NSTError."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in ANIMATION_FORMATS:
        raise NSTError(f"cannot write an animation to {path.name!r}: use a .gif or .mp4 file name")
    if not path.parent.is_dir():
        raise NSTError(f"animation folder does not exist: {path.parent}")
    if ext == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise NSTError("writing .mp4 needs imageio-ffmpeg: pip install imageio-ffmpeg, or use .gif") \
                from None
    return path


#: The lab keeps one frame every LAB_FILM_EVERY iterations for its "Save film" button.
LAB_FILM_EVERY = 5


def lab_save_film(recorder, folder, stem="lab-film", fps=10) -> Path:
    """Save ``recorder``'s frames as ``folder/stem-YYYYmmdd-HHMMSS.gif`` (never overwriting); the path."""
    return recorder.save(_timestamped_path(folder, stem, ".gif"), fps=fps)


def _timestamped_path(folder, stem, suffix) -> Path:
    """``folder/stem-YYYYmmdd-HHMMSS<suffix>`` (``-1``, ``-2``, ... if taken); makes ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = folder / f"{base}{suffix}", 1
    while path.exists():
        path, k = folder / f"{base}-{k}{suffix}", k + 1
    return path


class AnimationRecorder:
    """A run_style_transfer callback that keeps every ``every``-th preview; ``save(path)`` writes a film.

    ``rec = AnimationRecorder(every=10)``; ``run_style_transfer(..., callback=rec, callback_every=10)``
    (or ``stylize(..., recorder=rec)``); ``rec.save("run.gif")``. It keeps the frames of the
    iterations that are multiples of ``every`` (a run of N iterations gives N // every frames), each
    frame a uint8 (H, W, 3) copy; frames of other sizes (coarse-to-fine) are resized to the last one's.
    """

    def __init__(self, every=10):
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise NSTError(f"every must be a whole number >= 1, got {every!r}")
        self.every = int(every)
        self.frames, self.iterations = [], []

    def __call__(self, iteration, costs, image):
        if iteration % self.every == 0:
            self.frames.append(np.array(image, dtype=np.uint8))
            self.iterations.append(int(iteration))

    def __len__(self):
        return len(self.frames)

    def _frames(self, even=False):
        """The frames at one size (the last frame's); ``even``: cropped to even sides (for H.264)."""
        from PIL import Image

        h, w = self.frames[-1].shape[:2]
        out = [f if f.shape[:2] == (h, w) else np.asarray(Image.fromarray(f).resize((w, h), Image.LANCZOS))
               for f in self.frames]
        if even:
            out = [f[: h - h % 2, : w - w % 2] for f in out]
        return out

    def save(self, path, fps=10, hold_last=1.0) -> Path:
        """Write the frames as a looping GIF or an H.264 MP4 (by extension), atomically; returns the path.

        fps: frames per second; hold_last: seconds the last frame stays on screen in a GIF.
        """
        import imageio.v3 as iio

        path = check_animation_path(path)
        if not self.frames:
            raise NSTError(f"no frames recorded for {path.name} (a frame is kept every {self.every} "
                           "iterations): run more iterations or lower every")
        if not np.isfinite(fps) or fps <= 0:
            raise NSTError(f"fps must be a number > 0, got {fps!r}")
        ext = path.suffix.lower()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=ext)
        os.close(fd)
        try:
            if ext == ".gif":
                ms = 1000.0 / fps
                durations = [ms] * (len(self.frames) - 1) + [max(ms, 1000.0 * hold_last)]
                iio.imwrite(tmp, np.stack(self._frames()), extension=".gif", duration=durations, loop=0)
            else:
                iio.imwrite(tmp, np.stack(self._frames(even=True)), extension=".mp4", fps=fps,
                            codec="libx264", pixelformat="yuv420p", macro_block_size=1)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it owner-only; give it a normal file's mode
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return path


# --------------------------------------------------------------------------------------------------
# The lab: sliders for alpha, beta and the layers, live previews (ipywidgets; logic here, widgets thin)
# --------------------------------------------------------------------------------------------------

#: Style layers the lab offers a weight for, and the content layers it offers (in VGG16 and VGG19).
LAB_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
LAB_CONTENT_LAYERS = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")
LAB_SIZES = (64, 128, 192, 256, 384, 512)
LAB_TV_WEIGHTS = ("0", "1e-4", "1e-3", "1e-2", "1e-1", "1")
#: Settings a running optimisation picks up at once (it goes on from its current image).
LAB_LIVE_KEYS = ("alpha", "beta", "style_weights", "content_layer", "tv_weight", "lr")
LAB_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_LAB_NAMES = {"alpha": "α", "beta": "β", "style_weights": "style layer weights", "content_layer": "content layer",
              "tv_weight": "TV weight", "lr": "learning rate", "optimizer": "optimiser", "iterations": "iterations",
              "size": "image size", "init": "start", "seed": "seed"}


@dataclass(frozen=True)
class LabSettings:
    """What one Run of the lab uses (``lab_settings`` builds it from the widgets' values)."""

    alpha: float = 10.0
    beta: float = 40.0
    style_weights: tuple = tuple((name, 0.2) for name in LAB_STYLE_LAYERS)
    content_layer: str = CONTENT_LAYER
    optimizer: str = "adam"
    lr: float = 2.0
    iterations: int = 200
    size: int = 128
    init: str = "noise"
    tv_weight: float = 0.0
    seed: int | None = None


def lab_settings(values) -> LabSettings:
    """Widget values ``{"alpha": .., "beta": .., "conv1_1": .., ..., "size": ..}`` -> checked LabSettings.

    Style layer weights come as one value per name in LAB_STYLE_LAYERS; missing keys keep the defaults.
    """
    d = LabSettings()
    get = lambda key: values.get(key, getattr(d, key))  # noqa: E731
    weights = tuple((n, float(values.get(n, dict(d.style_weights)[n]))) for n in LAB_STYLE_LAYERS)
    s = LabSettings(alpha=float(get("alpha")), beta=float(get("beta")), style_weights=weights,
                    content_layer=str(get("content_layer")), optimizer=str(get("optimizer")).lower(),
                    lr=float(get("lr")), iterations=int(get("iterations")), size=int(get("size")),
                    init=str(get("init")), tv_weight=float(get("tv_weight")), seed=get("seed"))
    numbers = {"alpha": s.alpha, "beta": s.beta, "learning rate": s.lr, "TV weight": s.tv_weight,
               **{f"weight of {n}": w for n, w in weights}}
    for name, value in numbers.items():
        if not np.isfinite(value) or value < 0:
            raise NSTError(f"{name} must be a finite number >= 0, not {value}")
    if s.alpha == 0 and s.beta == 0:
        raise NSTError("alpha and beta are both 0, so there is nothing to optimise: raise one of them")
    if s.beta > 0 and not any(w > 0 for _, w in weights):
        raise NSTError("every style layer weight is 0: give one a weight above 0, or set beta to 0")
    if s.optimizer not in ("adam", "lbfgs"):
        raise NSTError(f"optimizer must be 'adam' or 'lbfgs', not {s.optimizer!r}")
    if s.init not in ("noise", "content"):
        raise NSTError(f"start must be 'noise' or 'content', not {s.init!r}")
    if s.iterations < 1:
        raise NSTError("iterations must be 1 or more")
    if not 16 <= s.size <= 2048:
        raise NSTError(f"image size must be between 16 and 2048 pixels, not {s.size}")
    return s


def lab_run_kwargs(settings, *, callback=None, stop_event=None, init_image=None, iterations=None) -> dict:
    """LabSettings -> keyword arguments of run_style_transfer (style layers of weight 0 left out)."""
    s = settings
    return dict(iterations=s.iterations if iterations is None else int(iterations), optimizer=s.optimizer,
                alpha=s.alpha, beta=s.beta, lr=s.lr, init=s.init, seed=s.seed, content_layer=s.content_layer,
                style_layers=[(n, float(w)) for n, w in s.style_weights if w > 0], tv_weight=s.tv_weight,
                callback=callback, callback_every=1, stop_event=stop_event, init_image=init_image)


def lab_ratio_text(alpha, beta) -> str:
    """The panel's line about alpha / beta, e.g. ``"α/β = 0.25 (β/α = 4)"``."""
    alpha, beta = float(alpha), float(beta)
    if alpha == 0 and beta == 0:
        return "α = β = 0: nothing to optimise, raise one of them"
    if beta == 0:
        return "β = 0: content only, no style"
    if alpha == 0:
        return "α = 0: style only, no content"
    return f"α/β = {alpha / beta:.3g} (β/α = {beta / alpha:.3g})"


def lab_changes(old, new):
    """Fields that differ between two LabSettings, split as (applied live, wait for the next Run)."""
    changed = [k for k in LabSettings.__dataclass_fields__ if getattr(old, k) != getattr(new, k)]
    return [k for k in changed if k in LAB_LIVE_KEYS], [k for k in changed if k not in LAB_LIVE_KEYS]


def lab_change_message(live=(), later=(), iteration=None) -> str:
    """One line for a setting changed mid-run: what was applied now, what takes effect on the next Run."""
    parts = []
    if live:
        at = f" at iteration {iteration}" if iteration is not None else ""
        parts.append(f"{', '.join(_LAB_NAMES.get(k, k) for k in live)}: applied now{at}, "
                     "going on from the current image")
    if later:
        parts.append(f"{', '.join(_LAB_NAMES.get(k, k) for k in later)}: takes effect on the next Run")
    return "; ".join(parts)


def lab_images(content, style, size):
    """Content scaled to longest side ``size``; style centre-cropped to the content's aspect, same shape.

    content, style: RGB (H, W, 3) in [0, 255]. Returns two float32 arrays of the same (h, w, 3).
    """
    h, w = fit_size(content.shape[0], content.shape[1], int(size))
    sh, sw = style.shape[:2]
    if sw * h > sh * w:  # style wider than the content: crop its sides
        cw = max(1, round(sh * w / h))
        style = style[:, (sw - cw) // 2:(sw - cw) // 2 + cw]
    else:
        ch = max(1, round(sw * h / w))
        style = style[(sh - ch) // 2:(sh - ch) // 2 + ch]
    return resize_image(content, (h, w)), resize_image(style, (h, w))


def png_bytes(image) -> bytes:
    """A uint8 (H, W, 3) image as PNG bytes (for ipywidgets.Image)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def decode_image_bytes(data, name="the upload") -> np.ndarray:
    """Bytes of an image file (an upload) -> RGB float32 (H, W, 3) in [0, 255], EXIF rotation applied."""
    import io

    return np.asarray(_open_rgb(io.BytesIO(bytes(data)), name, "upload"), dtype=np.float32)


def lab_cost_plot_png(history, width=4.6, height=2.5, dpi=80) -> bytes:
    """PNG of the lab's cost curves: J, α J_content and β J_style (log scale) against the iteration.

    ``history``: LabRunner.history entries {"iteration", "J", "content", "style", "segment"}; a dotted line
    marks each point where the settings changed (a live change or a Continue).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)  # a fixed layout: "constrained" doubles the time
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.17, right=0.97, top=0.9, bottom=0.18)
    if len(history) > 1500:  # keep redraws cheap on long runs
        history = history[:: len(history) // 1000 + 1] + [history[-1]]
    it = np.array([h["iteration"] for h in history], dtype=float)
    for key, label, colour in (("J", "J (total)", "black"), ("content", "α J_content", "tab:blue"),
                               ("style", "β J_style", "tab:red")):
        values = np.array([h[key] for h in history], dtype=float)
        keep = values > 0
        if keep.any():
            ax.plot(it[keep], values[keep], label=label, color=colour, lw=1.4)
    for prev, cur in zip(history, history[1:]):
        if cur["segment"] != prev["segment"]:
            ax.axvline(cur["iteration"] - 0.5, color="grey", ls=":", lw=1)
    ax.set_title("costs" if history else "costs (press Run)", fontsize=10)
    ax.set_xlabel("iteration", fontsize=9)
    ax.set_ylabel("cost (log scale)", fontsize=9)
    ax.tick_params(labelsize=8)
    if any(line.get_label() for line in ax.lines if not line.get_label().startswith("_")):
        ax.set_yscale("log")
        ax.legend(fontsize=8, loc="best")
    ax.grid(True, which="major", alpha=0.3)
    return _figure_png(fig)


def lab_save(image, folder, settings=None, stem="lab") -> Path:
    """Save ``image`` as ``folder/stem-YYYYmmdd-HHMMSS.png`` atomically (never overwriting), settings as .json."""
    path = _timestamped_path(folder, stem, ".png")
    save_image(path, image)
    if settings is not None:
        from dataclasses import asdict

        text = json.dumps(asdict(settings), indent=1)
        _atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text))
    return path


class LabRunner:
    """The lab's state machine: Run (restart or continue), Stop and live changes, on a worker thread.

    States: "idle" --run()--> "running" --stop()--> "stopping" --worker ends--> "idle"; the worker also
    ends by itself after ``settings.iterations``. ``update(settings)`` during a run applies the live
    settings (LAB_LIVE_KEYS) at once: the current segment stops and a new one goes on from its image.
    ``on_preview(runner)`` is called on the worker at the first iteration, then at most every
    ``preview_interval`` seconds; ``on_finish(runner)`` once the worker ends. ``image`` is the latest
    image (uint8 H, W, 3); ``history`` one entry per iteration since the last restart.
    """

    def __init__(self, model, on_preview=None, on_finish=None, preview_interval=0.3):
        import threading

        self.model, self.on_preview, self.on_finish = model, on_preview, on_finish
        self.preview_interval = float(preview_interval)
        self.state, self.settings, self.image, self.history = "idle", None, None, []
        self.iteration, self.target, self.outcome, self.error = 0, 0, "", None
        self.first_preview_seconds = self.stop_seconds = None
        self.film = AnimationRecorder(LAB_FILM_EVERY)  # every Nth image since the last restart ("Save film")
        self._lock = threading.Lock()
        self._event, self._pending, self._thread = threading.Event(), None, None
        self._user_stop, self._segment, self._offset, self._seg_start = False, 0, 0, 0
        self._t_run = self._t_stop = self._t_push = None

    def run(self, settings, content, style, mode="restart"):
        """Start a run on a worker thread from ``settings.init`` ("restart") or the last image ("continue")."""
        import threading

        if mode not in ("restart", "continue"):
            raise NSTError(f"mode must be 'restart' or 'continue', not {mode!r}")
        content, style = lab_images(content, style, settings.size)
        with self._lock:
            if self.state != "idle":
                raise NSTError("a run is in progress: press Stop first")
            init = None
            if mode == "continue" and self.image is not None:
                init = self.image if self.image.shape == content.shape else resize_image(self.image,
                                                                                         content.shape[:2])
                self._offset, self._segment = (self.history[-1]["iteration"] if self.history else 0), \
                    self._segment + 1
            else:
                self.history, self._offset, self._segment = [], 0, 0
                self.film = AnimationRecorder(self.film.every)
            self.state, self.settings, self.iteration, self.target = "running", settings, 0, settings.iterations
            self.outcome, self.error, self.first_preview_seconds, self.stop_seconds = "", None, None, None
            self._event, self._pending, self._user_stop = threading.Event(), None, False
            self._t_run, self._t_stop, self._t_push = time.perf_counter(), None, None
            self._thread = threading.Thread(target=self._work, args=(content, style, init), daemon=True,
                                            name="nst-lab-worker")
            self._thread.start()
        return self._thread

    def stop(self) -> str:
        """Ask the worker to stop after its current iteration (it keeps the image); returns the state."""
        with self._lock:
            if self.state == "running":
                self.state, self._user_stop, self._t_stop = "stopping", True, time.perf_counter()
                self._event.set()
            return self.state

    def update(self, settings) -> str:
        """Settings changed: during a run apply the live ones now; returns a line saying what happens."""
        with self._lock:
            if self.state != "running":
                return ""
            current = self._pending or self.settings
            live, later = lab_changes(self.settings, settings)
            live_now = [k for k in live if getattr(current, k) != getattr(settings, k)]
            if live_now:
                import dataclasses

                self._pending = dataclasses.replace(current, **{k: getattr(settings, k) for k in live_now})
                self._event.set()
            return lab_change_message(live, later, self.iteration if live_now else None)

    @property
    def seconds(self) -> float:
        """Seconds since the last Run was pressed."""
        return time.perf_counter() - self._t_run if self._t_run is not None else 0.0

    def wait(self, timeout=None) -> bool:
        """Wait for the worker to end; True if it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.state == "idle"

    def _work(self, content, style, init):
        """The worker thread: run segments until the target, a Stop, or an error; then report."""
        import threading

        settings = self.settings
        try:
            while True:
                with self._lock:
                    event, self._seg_start = self._event, self.iteration
                kwargs = lab_run_kwargs(settings, callback=self._on_iteration, stop_event=event,
                                        init_image=init, iterations=self.target - self.iteration)
                result = run_style_transfer(self.model, content, style, **kwargs)
                with self._lock:
                    self.iteration = self._seg_start + result.iterations
                    if result.iterations:
                        self.image = init = result.image
                    pending, self._pending = self._pending, None
                    if self._user_stop or pending is None or self.iteration >= self.target:
                        break
                    settings = self.settings = pending
                    self._segment += 1
                    self._event = threading.Event()
            self.outcome = "stopped" if self._user_stop else "finished"
        except Exception as exc:  # shown in the panel; the worker must always end cleanly
            self.error, self.outcome = exc, "error"
        finally:
            with self._lock:
                if self._t_stop is not None:
                    self.stop_seconds = time.perf_counter() - self._t_stop
                self.state = "idle"
            if self.on_finish is not None:
                self.on_finish(self)

    def _on_iteration(self, i, costs, image):
        """run_style_transfer's callback: record the costs, keep the image, push a preview now and then."""
        s, n = self.settings, self._seg_start + i
        self.iteration, self.image = n, image
        self.film(self._offset + n, costs, image)
        self.history.append({"iteration": self._offset + n, "J": costs["J"], "content": s.alpha * costs["J_content"],
                             "style": s.beta * costs["J_style"], "segment": self._segment})
        now = time.perf_counter()
        if self._t_push is None or now - self._t_push >= self.preview_interval:
            if self.first_preview_seconds is None:
                self.first_preview_seconds = now - self._t_run
            self._t_push = now
            if self.on_preview is not None:
                self.on_preview(self)


_LAB_CSS = """<style>
body[data-voila] .jp-MarkdownCell { display: none; }  /* as an app (voila): only the panel */
.nst-lab { padding: 6px; }
.nst-card { border: 1px solid #d0d7de; border-radius: 8px; padding: 6px 10px; margin: 4px; background: #f8f9fb; }
.nst-card h4 { margin: 2px 0 6px 0; font-size: 13px; color: #333; }
.nst-thumb { border: 1px solid #ccc; border-radius: 4px; object-fit: cover; }
.nst-preview, .nst-plot { border: 1px solid #ccc; border-radius: 4px; background: white; }
.nst-preview { object-fit: contain; }
.nst-ratio, .nst-note, .nst-status { font-size: 12px; }
.nst-note { color: #8a5a00; }
.nst-status .widget-html-content, .nst-note .widget-html-content, .nst-ratio .widget-html-content {
  line-height: 1.35; padding: 2px 0; }
</style>"""


class LabPanel:
    """The lab's ipywidgets panel (built by ``lab``): widgets in ``w``, the state machine in ``runner``."""

    def __init__(self, model, sources, content, style, size, iterations, output_dir, preview_interval):
        import ipywidgets as W

        self.sources, self.output_dir, self._full = dict(sources), Path(output_dir), {}
        self.runner = LabRunner(model, self._on_preview, self._on_finish, preview_interval)
        names = list(self.sources)
        d = LabSettings()
        wide, desc = W.Layout(width="330px"), {"description_width": "110px"}

        def log_slider(value, lo, hi, text, cls):
            return self._tag(W.FloatLogSlider(value=value, base=10, min=lo, max=hi, step=0.1, description=text,
                                              readout_format=".3g", continuous_update=False, layout=wide,
                                              style=desc), cls)

        w = self.w = {}
        w["content"] = self._tag(W.Dropdown(options=names, value=content, description="content", layout=W.Layout(
            width="230px"), style={"description_width": "50px"}), "nst-content")
        w["style"] = self._tag(W.Dropdown(options=names, value=style, description="style", layout=W.Layout(
            width="230px"), style={"description_width": "50px"}), "nst-style")
        w["upload_content"] = self._tag(W.FileUpload(accept="image/*", description="upload", layout=W.Layout(
            width="110px")), "nst-upload-content")
        w["upload_style"] = self._tag(W.FileUpload(accept="image/*", description="upload", layout=W.Layout(
            width="110px")), "nst-upload-style")
        w["thumb_content"] = self._tag(W.Image(format="png", layout=W.Layout(height="72px", width="108px")),
                                       "nst-thumb")
        w["thumb_style"] = self._tag(W.Image(format="png", layout=W.Layout(height="72px", width="108px")),
                                     "nst-thumb")
        w["alpha"] = log_slider(d.alpha, -3, 5, "α (content)", "nst-alpha")
        w["beta"] = log_slider(d.beta, -3, 5, "β (style)", "nst-beta")
        w["ratio"] = self._tag(W.HTML(lab_ratio_text(d.alpha, d.beta)), "nst-ratio")
        for name, weight in d.style_weights:
            w[name] = self._tag(W.FloatSlider(value=weight, min=0, max=1, step=0.05, description=f"λ {name}",
                                              readout_format=".2f", continuous_update=False, layout=wide,
                                              style=desc), f"nst-{name}")
        w["content_layer"] = self._tag(W.Dropdown(options=list(LAB_CONTENT_LAYERS), value=d.content_layer,
                                                  description="content layer", layout=wide, style=desc),
                                       "nst-content-layer")
        w["optimizer"] = self._tag(W.ToggleButtons(options=[("Adam", "adam"), ("L-BFGS", "lbfgs")],
                                                   value=d.optimizer, style={"button_width": "86px"}),
                                   "nst-optimizer")
        w["lr"] = self._tag(W.FloatLogSlider(value=d.lr, base=10, min=-2, max=2, step=0.1,
                                             description="learning rate", readout_format=".3g",
                                             continuous_update=False, layout=W.Layout(width="300px"),
                                             style={"description_width": "90px"}), "nst-lr")
        w["iterations"] = self._tag(W.BoundedIntText(value=iterations, min=1, max=100000, step=10,
                                                     description="iterations", layout=W.Layout(width="200px"),
                                                     style={"description_width": "90px"}), "nst-iterations")
        sizes = sorted(set(LAB_SIZES) | {int(size)})
        w["size"] = self._tag(W.Dropdown(options=[(f"{s} px", s) for s in sizes], value=int(size),
                                         description="image size", layout=W.Layout(width="200px"),
                                         style={"description_width": "90px"}), "nst-size")
        w["init"] = self._tag(W.ToggleButtons(options=[("noise", "noise"), ("content", "content")], value=d.init,
                                              style={"button_width": "86px"}),
                              "nst-init")
        w["tv_weight"] = self._tag(W.SelectionSlider(options=list(LAB_TV_WEIGHTS), value="0",
                                                     description="TV weight", continuous_update=False,
                                                     layout=W.Layout(width="300px"),
                                                     style={"description_width": "90px"}), "nst-tv")
        w["continue"] = self._tag(W.Checkbox(value=False, description="Run continues from the current image",
                                             indent=False, disabled=True), "nst-continue")
        w["run"] = self._tag(W.Button(description="Run", button_style="success", icon="play",
                                      layout=W.Layout(width="90px")), "nst-run")
        w["stop"] = self._tag(W.Button(description="Stop", button_style="danger", icon="stop", disabled=True,
                                       layout=W.Layout(width="90px")), "nst-stop")
        w["save"] = self._tag(W.Button(description="Save", icon="save", disabled=True,
                                       layout=W.Layout(width="90px")), "nst-save")
        w["film"] = self._tag(W.Button(description="Save film", icon="film", disabled=True,
                                       tooltip=f"the run as a GIF, one frame every {LAB_FILM_EVERY} iterations",
                                       layout=W.Layout(width="100px")), "nst-film")
        w["progress"] = self._tag(W.IntProgress(value=0, min=0, max=iterations, bar_style="info",
                                                layout=W.Layout(width="384px")), "nst-progress")
        w["status"] = self._tag(W.HTML("Ready: press <b>Run</b>."), "nst-status")
        w["note"] = self._tag(W.HTML(""), "nst-note")
        w["preview"] = self._tag(W.Image(format="png", layout=W.Layout(width="384px", height="288px")),
                                 "nst-preview")
        w["plot"] = self._tag(W.Image(format="png", value=lab_cost_plot_png([]),
                                      layout=W.Layout(width="384px")), "nst-plot")

        def card(title, *children, width=None):
            box = W.VBox([W.HTML(f"<h4>{title}</h4>"), *children], layout=W.Layout(width=width, flex="0 0 auto"))
            return self._tag(box, "nst-card")

        images = card("Images",
                      W.HBox([W.VBox([w["content"], w["upload_content"]]), w["thumb_content"]]),
                      W.HBox([W.VBox([w["style"], w["upload_style"]]), w["thumb_style"]]))
        weights = card("J(G) = α J<sub>content</sub> + β J<sub>style</sub>", w["alpha"], w["beta"], w["ratio"],
                       *[w[n] for n in LAB_STYLE_LAYERS], w["content_layer"])
        def labelled(text, widget):  # ToggleButtons wrap their description onto a line of its own
            label = W.HTML(f"<div style='text-align:right;padding-right:8px'>{text}</div>",
                           layout=W.Layout(width="94px", flex="0 0 94px"))
            return W.HBox([label, widget])

        optim = card("Optimisation", labelled("optimiser", w["optimizer"]), w["lr"], w["iterations"], w["size"],
                     labelled("start from", w["init"]), w["tv_weight"], width="330px")
        result = card("Generated image G", W.HBox([w["run"], w["stop"], w["save"], w["film"]]), w["continue"], w["progress"],
                      w["status"], w["note"], w["preview"], w["plot"], width="410px")
        weights_name = Path(model.path).name if getattr(model, "path", None) else "VGG"
        title = W.HTML(_LAB_CSS + "<h3 style='margin:4px'>Neural style transfer lab <span style='font-weight:"
                       f"normal;font-size:12px;color:#666'>&nbsp; weights: {weights_name}</span></h3>")
        columns = W.HBox([W.VBox([images, weights], layout=W.Layout(flex="0 0 auto")), result, optim],
                         layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))  # wrap, not squeeze
        self.root = self._tag(W.VBox([title, columns]), "nst-lab")

        for key in ("alpha", "beta", *LAB_STYLE_LAYERS, "content_layer", "optimizer", "lr", "iterations",
                    "size", "init", "tv_weight"):
            w[key].observe(self._on_change, "value")
        w["content"].observe(lambda _: self._on_pick("content"), "value")
        w["style"].observe(lambda _: self._on_pick("style"), "value")
        w["upload_content"].observe(lambda _: self._on_upload("content"), "value")
        w["upload_style"].observe(lambda _: self._on_upload("style"), "value")
        w["run"].on_click(self.run)
        w["stop"].on_click(self.stop)
        w["save"].on_click(self.save)
        w["film"].on_click(self.save_film)
        self._on_pick("content")
        self._on_pick("style")

    @staticmethod
    def _tag(widget, cls):
        """Give ``widget`` the CSS class ``cls`` (stable hooks for styling and browser tests)."""
        widget.add_class(cls)
        return widget

    def _repr_mimebundle_(self, **kwargs):
        """Display the panel (a cell ending with ``lab(...)`` shows it)."""
        return self.root._repr_mimebundle_(**kwargs)

    def values(self) -> dict:
        """The settings widgets' current values, as lab_settings takes them."""
        keys = ("alpha", "beta", *LAB_STYLE_LAYERS, "content_layer", "optimizer", "lr", "iterations", "size",
                "init")
        return {**{k: self.w[k].value for k in keys}, "tv_weight": float(self.w["tv_weight"].value)}

    def image(self, name) -> np.ndarray:
        """The picked image ``name`` (a file of the images folder or an upload), cached, longest side <= 1024."""
        if name not in self._full:
            image = self.sources[name]
            image = image if isinstance(image, np.ndarray) else load_image(image)
            if max(image.shape[:2]) > 1024:
                image = resize_image(image, fit_size(image.shape[0], image.shape[1], 1024))
            self._full[name] = image
        return self._full[name]

    def run(self, _button=None):
        """Run button: start the optimisation (continue or restart, as the checkbox says)."""
        try:
            settings = lab_settings(self.values())
            mode = "continue" if self.w["continue"].value else "restart"
            self.runner.run(settings, self.image(self.w["content"].value), self.image(self.w["style"].value), mode)
        except NSTError as exc:
            self.w["status"].value = f"<span style='color:#b00020'>{exc}</span>"
            return
        self._running_picks = (self.w["content"].value, self.w["style"].value)
        self._buttons()
        self.w["progress"].max, self.w["progress"].value, self.w["progress"].bar_style = settings.iterations, 0, "info"
        self.w["note"].value = ""
        self.w["status"].value = ("Starting: building the cost function (a few seconds), "
                                  + ("continuing from the current image" if mode == "continue" and
                                     self.runner.history else f"from {settings.init}") + " ...")

    def stop(self, _button=None):
        """Stop button: ask the worker to stop; it answers after its current iteration."""
        if self.runner.stop() == "stopping":
            self.w["stop"].disabled = True
            self.w["status"].value = f"Stopping at iteration {self.runner.iteration} ..."

    def save(self, _button=None):
        """Save button: write the current image (and its settings as .json) to the output folder."""
        if self.runner.image is None:
            return
        try:
            path = lab_save(self.runner.image, self.output_dir, self.runner.settings)
        except (NSTError, OSError) as exc:
            self.w["note"].value = f"<span style='color:#b00020'>Save failed: {exc}</span>"
            return
        self.saved = path
        self.w["note"].value = f"Saved <code title='{path}'>{path.name}</code> in {path.parent.name}/"

    def save_film(self, _button=None):
        """Save film button: write the run since the last restart as a GIF to the output folder."""
        try:
            path = lab_save_film(self.runner.film, self.output_dir)
        except (NSTError, OSError) as exc:
            self.w["note"].value = f"<span style='color:#b00020'>Save film failed: {exc}</span>"
            return
        self.saved_film = path
        self.w["note"].value = (f"Saved <code title='{path}'>{path.name}</code> ({len(self.runner.film)} frames) "
                                f"in {path.parent.name}/")

    def _buttons(self):
        """Enable Run/Stop/Save/continue as the runner's state allows."""
        running = self.runner.state != "idle"
        self.w["run"].disabled, self.w["stop"].disabled = running, not running
        self.w["save"].disabled = self.runner.image is None
        self.w["film"].disabled = running or not len(self.runner.film)
        self.w["continue"].disabled = running or self.runner.image is None

    def _on_change(self, _change=None):
        """A setting moved: update the ratio text; during a run apply it or say when it applies."""
        v = self.values()
        self.w["ratio"].value = lab_ratio_text(v["alpha"], v["beta"])
        self.w["lr"].disabled = v["optimizer"] == "lbfgs"
        if self.runner.state == "running":
            try:
                self.w["note"].value = self.runner.update(lab_settings(v))
            except NSTError as exc:
                self.w["note"].value = f"<span style='color:#b00020'>{exc} (not applied)</span>"

    def _on_pick(self, which):
        """Content or style picked: show its thumbnail; during a run say it applies on the next Run."""
        try:
            self.w[f"thumb_{which}"].value = png_bytes(self.image(self.w[which].value))
        except NSTError as exc:
            self.w["note"].value = f"<span style='color:#b00020'>{exc}</span>"
            return
        if self.runner.state != "idle":
            self.w["note"].value = lab_change_message(later=[f"{which} image"])

    def _on_upload(self, which):
        """A file was uploaded: decode it, add it to both pickers and pick it."""
        files = self.w[f"upload_{which}"].value
        if not files:
            return
        f = files[-1]
        try:
            image = decode_image_bytes(f["content"], f["name"])
        except NSTError as exc:
            self.w["note"].value = f"<span style='color:#b00020'>{exc}</span>"
            return
        name = f"upload: {f['name']}"
        self.sources[name] = image
        self._full.pop(name, None)
        for key in ("content", "style"):
            if name not in self.w[key].options:
                self.w[key].options = [*self.w[key].options, name]
        self.w[which].value = name

    def _show(self, runner):
        """Push the runner's image, cost plot and progress to the widgets; returns a status line."""
        s = runner.settings
        self.w["preview"].value = png_bytes(runner.image)
        self.w["plot"].value = lab_cost_plot_png(runner.history)
        self.w["progress"].value = min(runner.iteration, self.w["progress"].max)
        last = runner.history[-1] if runner.history else None
        rate = f", {runner.iteration / runner.seconds:.1f} it/s" if runner.iteration else ""
        return (f"iteration {runner.iteration} / {runner.target}" + (f", J = {last['J']:.4g}" if last else "")
                + f" ({s.optimizer}, {s.size} px, {runner.seconds:.0f} s{rate})")

    def _on_preview(self, runner):
        """LabRunner.on_preview (worker thread): show the latest image and costs."""
        self.w["status"].value = "Running: " + self._show(runner)
        self._buttons()

    def _on_finish(self, runner):
        """LabRunner.on_finish (worker thread): the final image and the outcome in the status line."""
        text = self._show(runner) if runner.image is not None else f"iteration {runner.iteration}"
        if runner.outcome == "error":
            self.w["progress"].bar_style = "danger"
            self.w["status"].value = f"<span style='color:#b00020'>Error: {runner.error}</span>"
        elif runner.outcome == "stopped":
            self.w["progress"].bar_style = "warning"
            self.w["status"].value = (f"Stopped: {text} (stop took {runner.stop_seconds:.2f} s). "
                                      "Tick the box to continue from this image, or Run to restart.")
        else:
            self.w["progress"].bar_style = "success"
            self.w["status"].value = f"Finished: {text}"
        self._buttons()


def lab_image_choices(folder=IMAGES_DIR) -> dict:
    """``{file name: path}`` of the images in ``folder`` (sorted by name)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if p.suffix.lower() in LAB_IMAGE_SUFFIXES}


def lab(content=None, style=None, *, weights=None, model=None, size=128, iterations=200, output_dir=None,
        images_dir=IMAGES_DIR, preview_interval=0.4) -> LabPanel:
    """The style-transfer lab: an ipywidgets panel to tune α, β, the layers and the optimiser, live.

    content, style: image files (a name in ``images_dir`` or any path); default chelsea.jpg and the
    first style_*.jpg. weights: the .mat file (default $NST_VGG_PATH, see resolve_weights_path), or
    pass a loaded ``model``. Saved images go to ``output_dir`` (default $NST_OUTPUT_DIR, else ./outputs).
    The optimisation runs on a worker thread, so the notebook stays live. Show it as a cell's last line.
    """
    sources = lab_image_choices(images_dir)
    picks = []
    for given, default in ((content, "chelsea.jpg"), (style, "style_")):
        if given is None:
            found = [n for n in sources if n.startswith(default)] or list(sources)
            if not found:
                raise NSTError(f"no images in {images_dir}: pass content= and style= paths")
            picks.append(found[0])
            continue
        path = Path(given)
        if not path.is_file() and (Path(images_dir) / path).is_file():
            path = Path(images_dir) / path
        if not path.is_file():
            raise NSTError(f"image not found: {given}")
        key = path.name if sources.get(path.name) == path or path.name not in sources else str(path)
        sources.setdefault(key, path)
        picks.append(key)
    model = model if model is not None else load_vgg_model(weights)
    output_dir = output_dir or os.environ.get("NST_OUTPUT_DIR") or Path.cwd() / "outputs"
    return LabPanel(model, sources, picks[0], picks[1], size, iterations, output_dir, preview_interval)


# --------------------------------------------------------------------------------------------------
# Speed: only the layers needed, bfloat16, coarse to fine, memory checks, the benchmark
# --------------------------------------------------------------------------------------------------

PRECISIONS = ("float32", "bfloat16", "auto")

#: Smallest side (pixels) a coarse scale may have; smaller maps leave conv5_1 with almost no positions.
MIN_SCALE_SIDE = 32

#: scales="auto": halve the size while the longest side stays >= C2F_MIN_SIDE pixels (smaller first
#: scales lost the content: a 75x100 start turned the cat into swirls), C2F_SHARE of the iterations
#: (at least 1) for each coarse scale, the rest at full size.
C2F_MIN_SIDE, C2F_SHARE = 192, 0.1

#: Peak working memory of a transfer, in bytes per activation value one forward pass computes (float32
#: and bfloat16; measured 6.5 and 4.3-6.1 with VGG19-shaped weights at 384x512 and 768x1024, see the
#: README's Speed section), plus bytes per image value each optimiser holds (x, gradient, Adam's
#: moments; L-BFGS's 2 x LBFGS_MEMORY pairs).
MEMORY_PER_ELEMENT = {"float32": 7.0, "bfloat16": 6.0}
MEMORY_PER_PIXEL_VALUE = {"adam": 40.0, "lbfgs": 40.0 + 8.0 * LBFGS_MEMORY}
MEMORY_RESERVE = 512 * 2**20  # left for everything else (Python, TensorFlow's own buffers)


def bfloat16_supported() -> bool:
    """True where bfloat16 convolutions run natively: a GPU of compute capability 8.0 or more, else a
    CPU with AVX512-BF16 or AMX-BF16 (read from /proc/cpuinfo; False where that file is missing)."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") or (0, 0)
        return tuple(capability) >= (8, 0)
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision="auto") -> str:
    """"float32" or "bfloat16" for ``precision`` in PRECISIONS; "auto" is bfloat16 where supported."""
    if precision not in PRECISIONS:
        raise NSTError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "auto":
        return "bfloat16" if bfloat16_supported() else "float32"
    return precision


def cost_layers(model, content_layer=CONTENT_LAYER, style_layers=STYLE_LAYERS, alpha=10, beta=40):
    """The layers the cost needs, so the network stops at the deepest of them (never at a pool after).

    The content layer if alpha != 0, the style layers of non-zero weight if beta != 0. A term whose
    weight is 0 is left out, unless all its layers are no deeper than the others' (then it is free,
    and still reported). Example: VGG19 defaults -> conv4_2, conv1_1 .. conv5_1 (13 of 16 convs).
    """
    style = [n for n, w in style_layers if float(w)]
    model.check_layers([content_layer] + style)
    layers = (style if beta else []) + ([content_layer] if alpha else [])
    depth = max((model.names.index(n) for n in layers), default=-1)
    if not alpha and model.names.index(content_layer) <= depth:
        layers.append(content_layer)
    if not beta and style and max(model.names.index(n) for n in style) <= depth:
        layers += style
    return list(dict.fromkeys(layers))


def feature_extractor(model, precision="float32", cast=True):
    """``forward(x, layers) -> {layer: activation}``, like ``model(x, layers)``, in ``precision``.

    "float32": the model itself. "bfloat16": conv1_1 in float32 (the pixels need more than bfloat16's
    8 significant bits), every later conv and pool in bfloat16 with kernels cast once here; the
    activations asked for come back as float32 (``cast=False``: as computed, for fast_layer_style_cost).
    """
    if resolve_precision(precision) == "float32":
        return model
    low = {layer.name: (tf.cast(layer.kernel, tf.bfloat16), tf.cast(layer.bias, tf.bfloat16))
           for layer in model.layers if layer.kind == "conv"}
    first = model.conv_names[0]

    def forward(x, layers):
        model.check_layers(layers)
        last = max((model.names.index(n) for n in layers), default=-1)
        x, out = tf.convert_to_tensor(x, tf.float32), {}
        for layer in model.layers[: last + 1]:
            if layer.kind == "conv":
                kernel, bias = (layer.kernel, layer.bias) if layer.name == first else low[layer.name]
                x = tf.nn.bias_add(tf.nn.conv2d(x, kernel, strides=1, padding="SAME"), bias)
                x = tf.nn.relu(x) if layer.relu else x
            elif model.pooling == "avg":
                x = tf.nn.avg_pool2d(x, ksize=2, strides=2, padding="SAME")
            else:
                x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="SAME")
            if layer.name in layers:
                out[layer.name] = tf.cast(x, tf.float32) if cast else x
            if layer.name == first:
                x = tf.cast(x, tf.bfloat16)
        return out

    return forward


def fast_layer_style_cost(G_S, a_G):
    r"""layer_style_cost_from_gram(G_S, a_G), with its gradient written out: one matmul, not two.

    With F = a_G unrolled to (n_H n_W, n_C), D = F^T F - G_S (symmetric) and
    J = sum(D^2) / (4 n_C^2 (n_H n_W)^2): dJ/dF = 4 F D / (4 n_C^2 (n_H n_W)^2).
    A bfloat16 ``a_G`` gets a float32 Gram matrix and cost; its gradient, which goes back into
    bfloat16 convolutions anyway, is computed in bfloat16 (F times D rounded to bfloat16).
    """
    _, n_H, n_W, n_C = a_G.shape
    norm = float(4 * n_C**2 * (n_H * n_W) ** 2)

    @tf.custom_gradient
    def cost(a):
        F = tf.reshape(a, (-1, n_C))
        F32 = tf.cast(F, tf.float32)
        D = tf.matmul(F32, F32, transpose_a=True) - G_S

        def grad(dJ):
            return tf.reshape(tf.matmul(F, tf.cast(D * (4.0 * dJ / norm), F.dtype)), tf.shape(a))

        return tf.reduce_sum(tf.square(D)) / norm, grad

    return cost(a_G)


def scaled_size(size, fraction):
    """(h, w) of ``size`` = (H, W) scaled by ``fraction``, rounded, at least 1 pixel each."""
    return max(1, round(size[0] * fraction)), max(1, round(size[1] * fraction))


def scale_plan(scales, iterations, size=None):
    """A coarse-to-fine plan: [(fraction of the size, iterations), ...], the last at fraction 1.

    scales: None or 1 (one scale); n > 1 (n scales, each twice the size of the one before: 3 ->
    1/4, 1/2, 1); or a list of increasing fractions ending at 1, each a number or a (fraction,
    iterations) pair: [0.5, 1], or [(0.25, 20), (0.5, 10), 1]. ``iterations`` is the total: scales
    without a count share what the pairs leave equally (the last scale gets the remainder; scales left
    with none are dropped). "auto" (needs ``size``): see auto_scales. With ``size`` (H, W), a scale
    with a side under MIN_SCALE_SIDE pixels is refused.
    """
    total = int(iterations)
    if isinstance(scales, str) and scales == "auto":
        scales = auto_scales(size, total) if size is not None else None
    if scales is None:
        return [(1.0, total)]
    if isinstance(scales, (int, np.integer)) and not isinstance(scales, bool):
        if scales < 1:
            raise NSTError(f"scales must be 1 or more, got {scales}")
        fractions, fixed = [2.0 ** -(scales - 1 - k) for k in range(int(scales))], [None] * int(scales)
    else:
        try:
            items = [tuple(item) if np.ndim(item) == 1 and len(item) == 2 else item for item in scales]
            fractions = [float(item[0] if isinstance(item, tuple) else item) for item in items]
            fixed = [int(item[1]) if isinstance(item, tuple) else None for item in items]
        except (TypeError, ValueError):
            raise NSTError(f"scales must be a number of scales or a list of fractions like [0.25, 0.5, 1] "
                           f"or (fraction, iterations) pairs, not {scales!r}") from None
        if not fractions or any(not 0 < f <= 1 for f in fractions) or fractions[-1] != 1.0 \
                or any(b <= a for a, b in zip(fractions, fractions[1:])):
            raise NSTError(f"scales must be increasing fractions of the size in (0, 1] ending at 1, "
                           f"like [0.25, 0.5, 1], not {scales!r}")
    given = [n for n in fixed if n is not None]
    free = [k for k, n in enumerate(fixed) if n is None]
    if any(n < 0 for n in given) or sum(given) > total or (not free and sum(given) != total):
        raise NSTError(f"the iterations given to the scales ({', '.join(map(str, given))}) must be >= 0 "
                       f"and add up to {'at most ' if free else ''}{total}, the iterations asked for")
    base, rest = divmod(total - sum(given), max(len(free), 1))
    counts = [n if n is not None else base + (rest if k == free[-1] else 0) for k, n in enumerate(fixed)]
    plan = [(f, n) for f, n in zip(fractions, counts) if n > 0 or f == 1.0]
    if size is not None and len(plan) > 1:
        h, w = scaled_size(size, plan[0][0])
        if min(h, w) < MIN_SCALE_SIDE:
            raise NSTError(f"the first scale {plan[0][0]:g} makes the {size[0]}x{size[1]} image {h}x{w}: "
                           f"each side needs {MIN_SCALE_SIDE} pixels or more, use fewer scales")
    return plan


def auto_scales(size, iterations):
    """The "auto" coarse-to-fine plan for ``size`` (H, W): halve while the longest side stays at least
    C2F_MIN_SIDE, each coarse scale gets C2F_SHARE of ``iterations`` (at least 1). 300x400 -> 1/2, 1;
    768x1024 -> 1/4, 1/2, 1. Returns scales for scale_plan: [(fraction, iterations), ..., 1.0]."""
    coarse, f = [], 0.5
    while max(size) * f >= C2F_MIN_SIDE:
        coarse.insert(0, f)
        f /= 2
    n = max(1, int(C2F_SHARE * int(iterations)))
    if not coarse or int(iterations) < n * len(coarse) + 1:
        return None
    return [(f, n) for f in coarse] + [1.0]


def activation_elements(model, size, layers=None) -> int:
    """Activation values one forward pass computes at ``size`` (H, W), up to the deepest of ``layers``
    (default: cost_layers with the defaults, falling back to all layers if those are missing)."""
    if layers is None:
        try:
            layers = cost_layers(model)
        except NSTError:
            layers = model.names
    last = max(model.names.index(n) for n in layers)
    rows = layer_table(model, size)[: last + 1]
    return int(size[0] * size[1] * 3 + sum(np.prod(r["shape"]) for r in rows))


def estimate_memory(model, size, optimizer="adam", precision="float32", layers=None) -> int:
    """Bytes one transfer at ``size`` (H, W) needs on top of the loaded model: the step's working memory
    (MEMORY_PER_ELEMENT per activation value) plus the optimiser's images (MEMORY_PER_PIXEL_VALUE)."""
    precision = resolve_precision(precision)
    values = int(size[0]) * int(size[1]) * 3
    return int(MEMORY_PER_ELEMENT[precision] * activation_elements(model, size, layers)
               + MEMORY_PER_PIXEL_VALUE[optimizer] * values)


def available_memory():
    """Bytes this process may still allocate: MemAvailable, capped by a cgroup limit; None if unknown
    (or when a GPU does the work: then TensorFlow's out-of-memory error is turned into an NSTError)."""
    if tf.config.list_physical_devices("GPU"):
        return None
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            found.append(int(limit) - used)
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def check_memory(model, size, optimizer="adam", precision="float32", available=None) -> int:
    """Raise NSTError, naming a --max-size that fits, if a transfer at ``size`` (H, W) would not fit in
    ``available`` bytes (default: available_memory() less MEMORY_RESERVE); returns the estimate."""
    need = estimate_memory(model, size, optimizer, precision)
    if available is None:
        free = available_memory()
        available = None if free is None else free - MEMORY_RESERVE
    if available is not None and need > available:
        side = int(max(size) * np.sqrt(max(available, 0) / need))
        hint = f"--max-size {side} fits" if side >= MIN_SCALE_SIDE else "free some memory first"
        raise NSTError(f"a {size[0]}x{size[1]} transfer needs about {need / 2**30:.1f} GiB of memory but "
                       f"{max(available, 0) / 2**30:.1f} GiB is free: use a smaller size ({hint})")
    return need


def content_size(path, size=None, max_size=None):
    """(H, W) that ``load_image(path, size, max_size)`` will return, read from the file's header only."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if size is not None:
        return tuple(int(v) for v in size)
    try:
        with Image.open(path) as img:
            w, h = ImageOps.exif_transpose(img).size if max_size is None else img.size
    except (FileNotFoundError, IsADirectoryError):
        raise NSTError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NSTError(f"cannot read {path} as an image ({exc.__class__.__name__}); "
                       "use a PNG, JPEG or another format Pillow reads") from None
    return (h, w) if max_size is None else fit_size(h, w, int(max_size))


#: The benchmark's methods: name -> (description, run_style_transfer keyword arguments). "dlai" is the
#: deeplearning.ai assignment (Adam lr 2.0, noise start) whose cost after ``iterations`` is the target.
#: The coarse-to-fine methods run the coarse scales of scales="auto" (auto_scales) with BENCH_COARSE
#: iterations each (what "auto" gives 100 iterations), then the full size until the target.
BENCH_COARSE = 10
BENCH_METHODS = {
    "dlai": ("deeplearning.ai settings: Adam lr 2.0, float32", {"optimizer": "adam", "precision": "float32"}),
    "adam-bf16": ("the same Adam, bfloat16 convolutions", {"optimizer": "adam", "precision": "bfloat16"}),
    "lbfgs": ("L-BFGS, float32", {"optimizer": "lbfgs", "precision": "float32"}),
    "lbfgs-bf16": ("L-BFGS, bfloat16 convolutions", {"optimizer": "lbfgs", "precision": "bfloat16"}),
    "c2f": ("L-BFGS coarse to fine (scales auto), float32", {"optimizer": "lbfgs", "precision": "float32",
                                                            "coarse": True}),
    "c2f-bf16": ("L-BFGS coarse to fine (scales auto), bfloat16 convolutions",
                 {"optimizer": "lbfgs", "precision": "bfloat16", "coarse": True}),
}
#: The methods the benchmark runs by default (adam-bf16 takes as long as dlai: ask for it).
BENCH_DEFAULT = ["dlai", "lbfgs", "lbfgs-bf16", "c2f", "c2f-bf16"]


def step_flops(model, size, layers=None, style_layers=STYLE_LAYERS) -> int:
    """FLOPs of one step at ``size``: each conv up to the deepest layer forward (2 n_H n_W k^2 C_in C_out)
    and once more backward (the input gradient, conv1_1's included), plus 2 n_H n_W n_C^2 per Gram
    matrix forward and as much for its gradient (see fast_layer_style_cost)."""
    layers = cost_layers(model) if layers is None else layers
    rows = layer_table(model, size)[: max(model.names.index(n) for n in layers) + 1]
    flops, c_in = 0, 3
    for layer, row in zip(model.layers, rows):
        n_H, n_W, n_C = row["shape"]
        if layer.kind == "conv":
            flops += 2 * 2 * n_H * n_W * int(np.prod(layer.kernel.shape[:2])) * c_in * n_C
            c_in = n_C
        if layer.name in layers and layer.name in dict(style_layers):
            flops += 2 * 2 * n_H * n_W * n_C**2
    return int(flops)


def step_floor(model, layers, precision="float32"):
    """The floor of a step: a compiled forward + input-gradient pass through exactly ``layers``, no costs
    (J = the sum of the activations). Returns ``floor(x) -> (J, dJ/dx)``."""
    forward = feature_extractor(model, precision, cast=False)

    @tf.function(autograph=False)
    def floor(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            J = tf.add_n([tf.cast(tf.reduce_sum(a), tf.float32) for a in forward(x, layers).values()])
        return J, tape.gradient(J, x)

    return floor


def matmul_rate(dtype="float32", n=2048, repeats=5) -> float:
    """Dense n x n matmul rate of this machine in GFLOP/s (best of ``repeats`` runs of 3 products)."""
    a = tf.cast(tf.random.stateless_normal((n, n), seed=(1, 2)), dtype)
    product = tf.function(lambda a: tf.matmul(a, a), autograph=False)
    product(a).numpy()
    best = min(_seconds(lambda: [product(a) for _ in range(3)][-1].numpy()) / 3 for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _seconds(fn) -> float:
    """Wall seconds of one call of ``fn``."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _synthetic_images(size, seed=0):
    """A smooth content image and a noisy style image of ``size`` (H, W), RGB float32 in [0, 255]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size[0], 0:size[1]] / max(size)
    content = 255 * np.stack([yy, xx, 0.5 + 0.5 * np.sin(6 * (xx + yy))], -1)
    return content.astype(np.float32), rng.uniform(0, 255, (*size, 3)).astype(np.float32)


def bench_step(model, size, precision="float32", repeats=5) -> dict:
    """ms of one step (make_cost_function's cost, default settings) and of its floor, interleaved
    ``repeats`` times (best of each: the least disturbed by other work), FLOPs and GFLOP/s; and ms of
    a whole Adam iteration and of an L-BFGS iteration of one evaluation (best of ``repeats`` + 1)."""
    images = _synthetic_images(size)
    content, style = (preprocess(im, model.mean) for im in images)
    layers = cost_layers(model)
    cost = make_cost_function(model, content, style, precision=precision)
    floor = step_floor(model, layers, precision)
    x = tf.constant(generate_noise_image(content, 0.6, 0))
    cost(x)[0].numpy(), floor(x)[0].numpy()  # compile both
    steps, floors = [], []
    for _ in range(repeats):
        steps.append(_seconds(lambda: cost(x)[3].numpy()))
        floors.append(_seconds(lambda: floor(x)[1].numpy()))
    step_s, floor_s, flops = min(steps), min(floors), step_flops(model, size, layers)
    row = {"precision": precision, "step_ms": round(1000 * step_s, 3), "floor_ms": round(1000 * floor_s, 3),
           "step_over_floor": round(step_s / floor_s, 3), "gflop": round(flops / 1e9, 2),
           "step_gflops": round(flops / step_s / 1e9, 1), "layers": layers}
    for optimizer in ("adam", "lbfgs"):
        r = run_style_transfer(model, *images, iterations=repeats + 2, optimizer=optimizer, precision=precision,
                               seed=0)
        best = float(np.min(np.diff([h["seconds"] for h in r.history])))
        row[f"{optimizer}_ms"] = round(1000 * best, 1)
        row[f"{optimizer}_over_floor"] = round(best / floor_s, 3)
    return row


def _stop_at(target, shape, stop):
    """A callback that notes when the cost at full size first reaches ``target`` and sets ``stop``."""
    hit = {}

    def callback(iteration, costs, image):
        if not hit and image.shape == shape and costs["J"] <= target:
            hit.update(iteration=iteration, seconds=costs["seconds"])
            stop.set()

    return callback, hit


def bench_method(model, content, style, method, iterations=200, target=None, seed=0) -> dict:
    """Run one BENCH_METHODS method from the same noisy start; stop once the cost at full size reaches
    ``target`` (None: run all ``iterations``). Returns seconds and iterations to the target, the cost
    curve at full size [(seconds, J)], the image, and J of that image re-measured in float32."""
    import threading

    kwargs = dict(BENCH_METHODS[method][1])
    auto = auto_scales(content.shape[:2], 10 * BENCH_COARSE) if kwargs.pop("coarse", False) else None
    coarse = [(f, BENCH_COARSE) for f, _ in (auto or [])[:-1]]
    stop = threading.Event()
    callback, hit = _stop_at(np.inf if target is None else target, content.shape, stop)
    scales = [*coarse, (1.0, iterations)] if coarse else None
    total = iterations + sum(n for _, n in coarse)
    r = run_style_transfer(model, content, style, iterations=total, seed=seed, scales=scales,
                           callback=callback if target is not None else None, callback_every=1,
                           stop_event=stop, **kwargs)
    final = [h for h in r.history if h.get("scale", 1.0) == 1.0]
    steps = np.diff([h["seconds"] for h in final])
    J32 = r.J
    if kwargs["precision"] != "float32":
        c = preprocess(content, model.mean)
        J32 = float(make_cost_function(model, c, preprocess(style, model.mean))(tf.constant(r.x))[0])
    if target is None:  # the reference: the time at which it first reached its own best cost
        best = next(h for h in final if h["J"] == r.J)
        hit = {"iteration": best["iteration"], "seconds": best["seconds"]}
    return {"method": method, "description": BENCH_METHODS[method][0], "reached": bool(hit),
            "seconds_to_target": hit.get("seconds"), "iterations_to_target": hit.get("iteration"),
            "iterations": r.iterations, "seconds": round(r.seconds, 2), "J": r.J, "J_float32": J32,
            "ms_per_iteration": round(1000 * float(np.median(steps)), 1) if len(steps) else None,
            "curve": [[h["seconds"], h["J"]] for h in final], "image": r.image}


def _memory_probe(weights, height, width, precision, optimizer, iterations=2):
    """Run in a fresh process: RSS before and peak RSS after a short transfer at (height, width), in MiB,
    printed as one JSON line (for bench_memory)."""
    def status(key):  # MiB; VmHWM is this process's own peak (ru_maxrss may carry the parent's over exec)
        return int(Path("/proc/self/status").read_text().split(key + ":")[1].split()[0]) / 1024

    model = load_vgg_model(weights)
    content, style = _synthetic_images((height, width))
    rss = status("VmRSS")
    run_style_transfer(model, content, style, iterations=iterations, optimizer=optimizer, precision=precision)
    out = {"before_mib": round(rss), "peak_mib": round(status("VmHWM"))}
    if tf.config.list_physical_devices("GPU"):  # the work ran there: its peak is the number that counts
        out["gpu_peak_mib"] = round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20)
    print(json.dumps(out))


def bench_memory(weights, size, precision="float32", optimizer="lbfgs") -> dict:
    """Peak memory of a 2-iteration transfer at ``size`` in a fresh Python process, with the estimate."""
    import subprocess

    model = load_vgg_model(weights)
    estimate = estimate_memory(model, size, optimizer, precision)
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); import nst_utils; "
            f"nst_utils._memory_probe({str(weights)!r}, {size[0]}, {size[1]}, {precision!r}, {optimizer!r})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    row = {"size": list(size), "precision": precision, "optimizer": optimizer,
           "estimate_mib": round(estimate / 2**20)}
    if done.returncode != 0:
        return {**row, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return {**row, **measured, "extra_mib": measured["peak_mib"] - measured["before_mib"]}


def benchmark(weights=None, quality_weights=None, size=(300, 400), iterations=200, methods=None,
              parts=("step", "quality", "memory"), content=None, style=None, repeats=5, seed=0,
              memory_sizes=(512, 1024), log=None) -> dict:
    """The speed benchmark: per-step cost against its floor, time to the deeplearning.ai quality, memory.

    step: bench_step for float32 (and bfloat16 where supported) at ``size`` on ``weights``, with this
    machine's matmul rate. quality: on ``quality_weights`` (default ``weights``), "dlai" runs
    ``iterations`` and its best cost is the target; every other method runs until it reaches that
    cost (at most 2 x ``iterations`` at full size); speedup = dlai's seconds / the method's. memory:
    bench_memory at each longest side in ``memory_sizes`` (aspect of ``size``). ``log``: print-like.
    """
    log = log or (lambda *a: None)
    weights = resolve_weights_path(weights)
    quality_weights = resolve_weights_path(quality_weights or weights)
    precisions = ["float32"] + (["bfloat16"] if bfloat16_supported() else [])
    out = {"size": list(size), "weights": str(weights), "quality_weights": str(quality_weights),
           "machine": {"cpus": os.cpu_count(), "load_average": [round(v, 2) for v in os.getloadavg()],
                       "tensorflow": tf.__version__, "gpu": bool(tf.config.list_physical_devices("GPU")),
                       "bfloat16_supported": bfloat16_supported()},
           "step": [], "matmul_gflops": {}, "quality": None, "memory": []}
    if "step" in parts:
        model = load_vgg_model(weights)
        for p in precisions:
            out["matmul_gflops"][p] = round(matmul_rate(p, repeats=repeats), 1)
            row = bench_step(model, size, p, repeats)
            row["of_matmul_rate"] = round(row["step_gflops"] / out["matmul_gflops"][p], 3)
            out["step"].append(row)
            log(f"step {p}: {row['step_ms']} ms, floor {row['floor_ms']} ms")
    if "quality" in parts:
        model = load_vgg_model(quality_weights)
        c = load_image(content or IMAGES_DIR / "chelsea.jpg", size=size)
        s = load_image(style or IMAGES_DIR / "style_swirls.jpg", size=size)
        names = ["dlai"] + [m for m in (methods or BENCH_DEFAULT) if m != "dlai"]
        names = [m for m in names if "bf16" not in m or "bfloat16" in precisions]
        runs = [bench_method(model, c, s, "dlai", iterations, None, seed)]
        target = runs[0]["J"]
        log(f"dlai: target J = {target:.6g} after {runs[0]['seconds']} s")
        for name in names[1:]:
            runs.append(bench_method(model, c, s, name, 2 * iterations, target, seed))
            log(f"{name}: {runs[-1]['seconds_to_target']} s to the target")
        ref = runs[0]["seconds_to_target"]
        for r in runs:
            r["speedup"] = round(ref / r["seconds_to_target"], 2) if r["reached"] else None
        reached = [r for r in runs if r["reached"]]
        out["quality"] = {"target_J": target, "iterations": iterations, "methods": runs,
                          "fastest": min(reached, key=lambda r: r["seconds_to_target"])["method"]}
    if "memory" in parts:
        for side in memory_sizes:
            for p in precisions:
                row = bench_memory(weights, fit_size(size[0], size[1], side), p)
                out["memory"].append(row)
                log(f"memory {side} px {p}: {row}")
    out["machine"]["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    return out


def format_benchmark(result) -> str:
    """The benchmark's result as plain-text tables."""
    lines = [f"size {result['size'][0]}x{result['size'][1]}, {result['machine']['cpus']} CPU cores, "
             f"TensorFlow {result['machine']['tensorflow']}, load average {result['machine']['load_average']}"
             f" -> {result['machine'].get('load_average_after')}"]
    if result["step"]:
        lines += ["", f"per-iteration cost ({result['weights']})",
                  f"{'precision':10} {'floor ms':>8} {'step ms':>8} {'/floor':>6} {'Adam it':>8} {'/floor':>6} "
                  f"{'L-BFGS it':>9} {'/floor':>6} {'GFLOP':>6} {'GFLOP/s':>8} {'matmul GFLOP/s':>14} "
                  f"{'of matmul':>9}"]
        for r in result["step"]:
            lines.append(f"{r['precision']:10} {r['floor_ms']:8.0f} {r['step_ms']:8.0f} {r['step_over_floor']:6.2f} "
                         f"{r['adam_ms']:8.0f} {r['adam_over_floor']:6.2f} {r['lbfgs_ms']:9.0f} "
                         f"{r['lbfgs_over_floor']:6.2f} {r['gflop']:6.1f} {r['step_gflops']:8.1f} "
                         f"{result['matmul_gflops'][r['precision']]:14.1f} {r['of_matmul_rate']:9.0%}")
        lines.append("floor: compiled forward + input gradient through exactly these layers, no costs: "
                     + ", ".join(result["step"][0]["layers"]))
        lines.append("step: one cost and gradient evaluation; Adam it / L-BFGS it: a whole iteration "
                     "(L-BFGS: one of one evaluation)")
    q = result["quality"]
    if q:
        lines += ["", f"time to the deeplearning.ai cost after {q['iterations']} iterations, "
                      f"J = {q['target_J']:.5g} ({result['quality_weights']})",
                  f"{'method':11} {'s to target':>11} {'iterations':>10} {'ms/iter':>8} {'speedup':>8} "
                  f"{'J float32':>10}  description"]
        for r in q["methods"]:
            sec = f"{r['seconds_to_target']:.1f}" if r["reached"] else "not reached"
            its = r["iterations_to_target"] if r["reached"] else r["iterations"]
            speed = f"{r['speedup']:.1f}x" if r["speedup"] else "-"
            lines.append(f"{r['method']:11} {sec:>11} {its:>10} {r['ms_per_iteration'] or 0:8.0f} {speed:>8} "
                         f"{r['J_float32']:10.5g}  {r['description']}")
        lines.append(f"fastest to the target: {q['fastest']}")
    if result["memory"]:
        lines += ["", "peak memory of a transfer (L-BFGS), fresh process",
                  f"{'size':>9} {'precision':10} {'before MiB':>10} {'peak MiB':>9} {'run MiB':>8} {'estimate':>9}"]
        for r in result["memory"]:
            size = f"{r['size'][0]}x{r['size'][1]}"
            if "error" in r:
                lines.append(f"{size:>9} {r['precision']:10} error: {r['error']}")
            else:
                gpu = f"  GPU peak {r['gpu_peak_mib']} MiB" if "gpu_peak_mib" in r else ""
                lines.append(f"{size:>9} {r['precision']:10} {r['before_mib']:10} {r['peak_mib']:9} "
                             f"{r['extra_mib']:8} {r['estimate_mib']:9}{gpu}")
    return "\n".join(lines)


def plot_benchmark(result, path) -> Path:
    """Save the cost-against-seconds curves of the quality runs (log scale, target dashed) as an image."""
    from matplotlib.figure import Figure

    q = result["quality"]
    fig = Figure(figsize=(8, 4.5), dpi=100, layout="constrained")
    ax = fig.subplots()
    for r in q["methods"]:
        t, J = np.array(r["curve"]).T if r["curve"] else ([], [])
        line, = ax.plot(t, J, label=f"{r['method']}: " + (f"{r['seconds_to_target']:.0f} s" if r["reached"]
                                                            else "not reached"))
        if r["reached"]:
            ax.plot([r["seconds_to_target"]], [q["target_J"]], "o", color=line.get_color())
    ax.axhline(q["target_J"], color="black", ls="--", lw=1, label=f"target J = {q['target_J']:.4g}")
    ax.set_yscale("log")
    ax.set_xlabel("seconds (wall clock, from the start of each run)")
    ax.set_ylabel("total cost J (log scale)")
    ax.set_title(f"Time to the deeplearning.ai quality, {result['size'][0]}x{result['size'][1]}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    _atomic_write(path, lambda tmp: fig.savefig(tmp, format=image_format(path)))
    return Path(path)


def bench_pictures(result, path) -> Path:
    """Save the picture each quality run returned, side by side, titled with its seconds and cost."""
    from matplotlib.figure import Figure

    runs = result["quality"]["methods"]
    cols = min(3, len(runs))
    rows = -(-len(runs) // cols)
    h, w = np.shape(runs[0]["image"])[:2]
    fig = Figure(figsize=(cols * w / 100 + 0.2 * cols, rows * (h / 100 + 0.55) + 0.4), dpi=100,
                 layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, r in zip(axes, runs):
        ax.imshow(r["image"])
        sec = f"{r['seconds_to_target']:.1f} s" if r["reached"] else f"{r['seconds']:.0f} s, not reached"
        ax.set_title(f"{r['method']}: {sec}, J = {r['J_float32']:.4g} (float32)", fontsize=9)
    fig.suptitle("each method's picture when it reached the deeplearning.ai cost (dlai: after its iterations)",
                 fontsize=10)
    _atomic_write(path, lambda tmp: fig.savefig(tmp, format=image_format(path)))
    return Path(path)


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


def _scales(text):
    """argparse type for --scales: a count ("3") or fractions, each optionally with its iterations
    ("0.5,1" or "0.25:20,0.5:10,1"); scale_plan checks them against --iterations."""
    try:
        if text == "auto":
            return text
        if "," not in text and "." not in text and ":" not in text:
            return int(text)
        value = [tuple(float(v) if k == 0 else int(v) for k, v in enumerate(item.split(":")))
                 for item in text.split(",")]
        if any(len(v) not in (1, 2) for v in value):
            raise ValueError
        value = [v if len(v) == 2 else v[0] for v in value]
        scale_plan(value, 10**6)
    except (ValueError, NSTError) as exc:
        raise argparse.ArgumentTypeError(str(exc) if isinstance(exc, NSTError) else
                                         f"expected a number of scales or fractions like 0.25,0.5,1 or "
                                         f"0.25:20,0.5:10,1 (fraction:iterations), not {text!r}") from None
    return value


def build_parser():
    """The ``nst_utils.py`` command line."""
    parser = _Parser(prog="nst_utils.py", description="Neural style transfer (Gatys et al.) on VGG19.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    st = sub.add_parser("stylize", help="paint CONTENT in the style of STYLE")
    st.add_argument("content", help="content image (any format Pillow reads)")
    st.add_argument("style", nargs="+", help="style image(s); several are blended (see --style-weights)")
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
    st.add_argument("--scales", type=_scales, metavar="N|F,F,...",
                    help="coarse to fine: auto (halve down to a 192 px longest side, 10%% of the "
                         "iterations per coarse scale), N scales doubling up to the size (3: 1/4, 1/2, 1) "
                         "or fractions like 0.5,1, each optionally with its iterations (0.25:20,0.5:10,1); "
                         "the iterations left are split equally (default: one scale)")
    st.add_argument("--precision", choices=PRECISIONS, default="auto",
                    help="bfloat16 convolutions (Gram matrices and costs stay float32), float32, or auto: "
                         "bfloat16 where the hardware has it (default auto)")
    fx = st.add_argument_group("going further")
    fx.add_argument("--style-weights", type=_float, nargs="+", metavar="W",
                    help="blend weights, one per STYLE, >= 0 (normalised to sum 1; default equal)")
    fx.add_argument("--style-scale", type=_float, default=1.0, metavar="S",
                    help="resize the style(s) to S x the content's size: > 1 bigger strokes (default 1)")
    fx.add_argument("--preserve-colors", choices=PRESERVE_COLORS,
                    help="keep the content's colours: stylise the luminance only, or recolour the style first")
    fx.add_argument("--animation", metavar="PATH", help="also write the run as an animated .gif or .mp4")
    fx.add_argument("--animation-every", type=_int_at_least(1), metavar="N",
                    help="one animation frame every N iterations (default 10)")

    bn = sub.add_parser("bench", help="speed benchmark: step against its floor, time to quality, memory")
    bn.add_argument("--weights", help="VGG .mat for the step and memory timings (default as for stylize)")
    bn.add_argument("--quality-weights", help="VGG .mat for the time-to-quality runs (default --weights)")
    bn.add_argument("--size", type=_size, default=(300, 400), help="HxW (default 300x400)")
    bn.add_argument("--iterations", type=_int_at_least(1), default=200,
                    help="iterations of the deeplearning.ai run that sets the target (default 200)")
    bn.add_argument("--methods", default=",".join(BENCH_DEFAULT),
                    help=f"comma-separated, from {', '.join(BENCH_METHODS)} (dlai always runs; "
                         f"default {','.join(BENCH_DEFAULT)})")
    bn.add_argument("--parts", default="step,quality,memory", help="comma-separated: step, quality, memory")
    bn.add_argument("--content", help="content image (default images/chelsea.jpg)")
    bn.add_argument("--style", help="style image (default images/style_swirls.jpg)")
    bn.add_argument("--plot", metavar="PATH", help="save the cost-against-seconds plot here")
    bn.add_argument("--pictures", metavar="PATH", help="save each method's picture, side by side, here")
    bn.add_argument("--memory-sizes", default="512,1024", help="longest sides for the memory part")
    bn.add_argument("--repeats", type=_int_at_least(1), default=5, help="timing repeats (best is kept)")
    bn.add_argument("--quick", action="store_true", help="2 repeats and no memory part (for tests)")
    bn.add_argument("--seed", type=int, default=0)
    bn.add_argument("--json", action="store_true", help="print the result as one JSON line at the end")

    dl = sub.add_parser("download-weights", help="fetch imagenet-vgg-verydeep-19.mat (resumable, MD5-checked)")
    dl.add_argument("--output", default=str(DEFAULT_WEIGHTS), help="where to put the file")
    dl.add_argument("--url", default=WEIGHTS_URL)
    dl.add_argument("--md5", default=WEIGHTS_MD5, help="expected MD5 ('' to skip the check)")
    dl.add_argument("--size", type=int, default=WEIGHTS_SIZE, help="expected size in bytes (0: unknown)")
    dl.add_argument("--quiet", action="store_true")
    return parser


def _check_further_args(args, out):
    """Check stylize's "going further" flags before any work; returns an AnimationRecorder or None."""
    if args.style_weights is not None:
        normalize_style_weights(args.style_weights, len(args.style))
    if args.animation is None:
        if args.animation_every is not None:
            raise NSTError("--animation-every needs --animation PATH (a .gif or .mp4 to write)")
        return None
    path = check_animation_path(args.animation)
    if path.resolve() == out.resolve():
        raise NSTError("--animation and --output name the same file: give the animation another name")
    every = args.animation_every or 10
    if args.iterations < every:
        raise NSTError(f"--animation-every {every} is more than --iterations {args.iterations}: "
                       "the animation would have no frames")
    return AnimationRecorder(every)


def _cmd_stylize(args):
    from tqdm import tqdm

    out = Path(args.output)
    image_format(out)
    if not out.parent.is_dir():
        raise NSTError(f"output folder does not exist: {out.parent}")
    recorder = _check_further_args(args, out)
    if args.size is None and args.max_size is None:
        args.size = (300, 400)
    model = load_vgg_model(args.weights, pooling=args.pooling)
    check_memory(model, content_size(args.content, args.size, args.max_size), args.optimizer, args.precision)
    content = load_image(args.content, size=args.size, max_size=args.max_size)
    style_size = style_target_size(content.shape[:2], args.style_scale)
    styles = [load_image(path, size=style_size) for path in args.style]
    bar = tqdm(total=args.iterations, unit="it", disable=args.quiet, file=sys.stderr)

    def progress(i, costs, _image):
        bar.update(i - bar.n)
        bar.set_postfix(J=f"{costs['J']:.4g}")

    result = stylize(model, content, styles, style_weights=args.style_weights,
                     preserve_colors=args.preserve_colors, recorder=recorder,
                     iterations=args.iterations, optimizer=args.optimizer,
                     alpha=args.alpha, beta=args.beta, lr=args.lr, init=args.init,
                     seed=args.seed, tv_weight=args.tv_weight, callback=progress,
                     callback_every=1, scales=args.scales, precision=args.precision)
    bar.close()
    save_image(out, result.image)
    extra = {}
    if recorder is not None:
        extra = {"animation": str(recorder.save(args.animation)), "animation_frames": len(recorder)}
    if result.stopped != "finished":
        print(f"{result.stopped}: saved the best image so far", file=sys.stderr)
    if args.json:
        print(json.dumps({"output": str(out), **result.summary(), **extra}))
    else:
        print(f"saved {out} ({result.iterations} iterations, {result.seconds:.1f} s, J = {result.J:.6g})")


def _cmd_bench(args):
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    bad = [m for m in methods if m not in BENCH_METHODS] + [p for p in parts if p not in ("step", "quality", "memory")]
    if bad:
        raise NSTError(f"unknown method or part: {', '.join(bad)}; methods: {', '.join(BENCH_METHODS)}; "
                       "parts: step, quality, memory")
    for path in (args.plot, args.pictures):
        if path is not None:
            image_format(path)
    if args.quick:
        parts = [p for p in parts if p != "memory"]
    tf.get_logger().setLevel("ERROR")  # the runs build many tf.functions: no retracing warnings
    sizes = [int(v) for v in args.memory_sizes.split(",") if v.strip()]
    result = benchmark(args.weights, args.quality_weights, args.size, args.iterations, methods, parts,
                       args.content, args.style, 2 if args.quick else args.repeats, args.seed, sizes,
                       log=lambda *a: print(*a, file=sys.stderr, flush=True))
    if result["quality"] is not None:
        if args.plot:
            result["plot"] = str(plot_benchmark(result, args.plot))
        if args.pictures:
            result["pictures"] = str(bench_pictures(result, args.pictures))
    print(format_benchmark(result))
    if args.json:
        for r in (result["quality"] or {}).get("methods", []):
            r.pop("image")
        print(json.dumps(result))


def main(argv=None):
    """Entry point of ``python nst_utils.py``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "stylize":
            _cmd_stylize(args)
        elif args.command == "bench":
            _cmd_bench(args)
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
