#!/usr/bin/env python3
"""nst_utils: the core of the neural style transfer course (Gatys et al.), in the order the course teaches.

* constants -- the assignment's layers (CONTENT_LAYER, STYLE_LAYERS), weights (ALPHA, BETA), mean pixel
* losses    -- ``compute_content_cost``, ``gram_matrix``, ``compute_layer_style_cost``, ``compute_style_cost``,
               ``total_cost``, ``total_variation_cost``; then the faster twins the optimiser uses
* weights   -- ``load_vgg_model`` reads a MatConvNet VGG ``.mat`` (VGG19 or VGG16, either layout) or Keras's ``.h5``
* images    -- ``load_image``, ``preprocess``, ``deprocess``, ``generate_noise_image``, ``save_image``
* transfer  -- ``make_cost_function``, ``run_style_transfer`` (Adam here; L-BFGS in nst_tools.lbfgs)

Everything else (L-BFGS, speed, exercise checks, previews, the extras, the lab, the benchmark, the download
and the command line) is in the package ``nst_tools`` beside this file. ``python3 nst_utils.py stylize ...``
runs its command line (nst_tools.cli).

Notation (as in the deeplearning.ai assignment): an activation ``a`` has shape ``(1, n_H, n_W, n_C)``;
``a_C``, ``a_S`` and ``a_G`` are the activations of the content, style and generated images.
Nothing runs at import time except importing TensorFlow.
"""
from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's info and warnings, not its errors


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


if __name__ == "__main__":  # Ctrl-C, SIGTERM or SIGHUP while TF loads: one line, 130 (then the CLI takes over)
    _fd, _said = os.dup(2), b'{"error": "interrupted", "status": 130}\n' * ("--json" in sys.argv[1:])
    def _early_signal(*_):
        with contextlib.suppress(OSError):  # a dead terminal still gets its exit status
            os.write(_fd, b"nst_utils.py: interrupted\n") + os.write(1, _said)
        os._exit(130)
    [signal.signal(s, _early_signal) for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", 0)) if s and signal.getsignal(s) is not signal.SIG_IGN]  # one ignored (nohup) stays so

with _quiet_stderr():
    import tensorflow as tf

    tf.config.list_physical_devices()  # device start-up logs more lines (no CUDA, ...): here, silenced

# --------------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent
CHECKOUT = (ROOT / "pretrained-model").is_dir()  # a clone; else installed, the weights in ~/.cache/nst ($XDG_CACHE_HOME)
WEIGHTS_DIR = Path(os.environ.get("NST_DATA_DIR") or (ROOT / "pretrained-model" if CHECKOUT else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nst")).expanduser()
DEFAULT_WEIGHTS, KERAS_WEIGHTS = WEIGHTS_DIR / "imagenet-vgg-verydeep-19.mat", WEIGHTS_DIR / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"  # the second: --source keras
DOWNLOAD_COMMAND, IMAGES_DIR = ("python nst_utils.py download-weights", ROOT / "images") if CHECKOUT else ("nst download-weights", ROOT / "nst_tools" / "images")

#: RGB mean pixel of ImageNet, used when a file carries none.
VGG_MEAN = np.array([123.68, 116.779, 103.939], dtype=np.float32)

#: The content layer of the assignment and of Gatys et al.
CONTENT_LAYER = "conv4_2"

#: (layer, weight) pairs of the style cost: conv1_1 .. conv5_1, 0.2 each.
STYLE_LAYERS = [("conv1_1", 0.2), ("conv2_1", 0.2), ("conv3_1", 0.2), ("conv4_1", 0.2), ("conv5_1", 0.2)]

#: The weights of the content and the style cost in J = alpha J_content + beta J_style (the assignment's).
ALPHA, BETA = 10.0, 40.0


class NSTError(Exception):
    """An error meant for a person: its message is one line that says what to do."""


class NonFiniteLossError(NSTError):
    """The cost became NaN or infinite during the optimisation."""


class TooLargeError(NSTError):
    """A transfer would not fit in memory; ``max_size``: a longest side in pixels that fits (or None)."""

    def __init__(self, message, max_size=None):
        super().__init__(message)
        self.max_size = max_size


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


def compute_layer_style_cost(a_S, a_G):
    r"""Style cost of one layer.

    J_style^[l](S, G) = 1 / (4 n_C^2 (n_H n_W)^2) * sum_{i,j} (G_S[i,j] - G_G[i,j])^2
    with G_S = gram_matrix(A_S), A_S of shape (n_C, n_H n_W) the unrolled a_S (same for G).

    a_S, a_G: tensors of shape (1, n_H, n_W, n_C). Returns a scalar tensor.
    """
    _, n_H, n_W, n_C = a_G.shape
    G_S = gram_matrix(unroll(a_S))
    G_G = gram_matrix(unroll(a_G))
    return tf.reduce_sum(tf.square(G_S - G_G)) / float(4 * n_C**2 * (n_H * n_W) ** 2)


def fast_layer_style_cost(G_S, a_G):
    r"""The optimiser's twin of compute_layer_style_cost: the same J_style^[l], from the style's Gram
    matrix ``G_S`` (n_C, n_C, computed once per run), with its gradient written out: one matmul, not two.

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


def compute_style_cost(a_S, a_G, style_layers=STYLE_LAYERS):
    r"""Overall style cost over several layers.

    J_style(S, G) = sum_l lambda^[l] J_style^[l](S, G)

    a_S, a_G: dicts {layer name: activation (1, n_H, n_W, n_C)}; style_layers: [(name, lambda), ...],
    by default conv1_1 .. conv5_1 at 0.2 each. Returns a scalar tensor.
    """
    J_style = tf.constant(0.0)
    for name, lambda_l in style_layers:
        J_style += lambda_l * compute_layer_style_cost(a_S[name], a_G[name])
    return J_style


def total_cost(J_content, J_style, alpha=ALPHA, beta=BETA):
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
# The style targets, computed once per run: the Gram matrices of the style image
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Weights: MatConvNet VGG files
# --------------------------------------------------------------------------------------------------


def resolve_weights_path(path=None) -> Path:
    """The weights file: ``path``, else ``$NST_VGG_PATH``, else WEIGHTS_DIR's .mat (its Keras .h5 if only that one is
    there); WEIGHTS_DIR: $NST_DATA_DIR, else a clone's ``pretrained-model/``, else ``~/.cache/nst`` when installed."""
    only_h5 = KERAS_WEIGHTS.is_file() and not DEFAULT_WEIGHTS.is_file()
    chosen = path or os.environ.get("NST_VGG_PATH") or (KERAS_WEIGHTS if only_h5 else DEFAULT_WEIGHTS)
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
    """A VGG feature extractor read from a weights file. Call it on a preprocessed image.

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
            result.append(VGGLayer(name, "conv", tf.constant(kernel), tf.constant(bias)))
        elif kind == "relu":
            if result and result[-1].kind == "conv":
                result[-1].relu = True
        else:
            result.append(VGGLayer(name, "pool"))
    return result


def _check_weights(layers, path, hint):
    """Each kernel must be [k, k, in, n] (k odd, ``in`` the previous conv's n) with n biases, all finite."""
    c_in = 3
    for layer in (layer for layer in layers if layer.kind == "conv"):
        shape, n_bias = list(layer.kernel.shape), int(layer.bias.shape[0])
        if len(shape) != 4 or shape[0] != shape[1] or shape[0] % 2 == 0 or shape[2] != c_in or n_bias != shape[3]:
            raise NSTError(f"{path}: layer {layer.name} has a {shape} kernel and {n_bias} biases, not [k, k, {c_in}, n] "
                           f"(k odd) and n biases: the file is damaged; {hint}")
        if not (np.isfinite(layer.kernel.numpy()).all() and np.isfinite(layer.bias.numpy()).all()):
            raise NSTError(f"{path}: layer {layer.name} has NaN or infinite weights: the file is damaged; {hint}")
        c_in = shape[3]


def _read_mat(path, hint):
    """``(layers, RGB mean)`` of a MatConvNet file."""
    import scipy.io

    try:
        data = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises many types for bad bytes
        raise NSTError(f"{path} is not a readable MatConvNet .mat file ({type(exc).__name__}); {hint}") from None
    if "layers" not in data:
        raise NSTError(f"{path} has no 'layers' variable, so it is not a MatConvNet VGG file; {hint}")
    try:
        return _read_layers(data["layers"]), _mean_pixel(data)
    except Exception as exc:
        raise NSTError(f"{path} is not a MatConvNet VGG file ({exc}); {hint}") from None


def load_vgg_model(path=None, pooling="avg") -> VGG:
    """Load a VGG19/VGG16 as a callable ``VGG``: a MatConvNet ``.mat`` (either layout) or Keras's ``.h5``.

    ``path``: the file; default ``$NST_VGG_PATH``, else ``pretrained-model/`` (see ``resolve_weights_path``).
    ``pooling``: ``"avg"`` (Gatys et al., the assignment) or ``"max"`` (as VGG was trained).
    """
    if pooling not in ("avg", "max"):
        raise NSTError(f"pooling must be 'avg' or 'max', not {pooling!r}")
    path = resolve_weights_path(path)
    keras = path.suffix.lower() in (".h5", ".hdf5")
    command = DOWNLOAD_COMMAND + (" --source keras" if keras else "")
    if not path.is_file():
        raise NSTError(f"VGG weights not found at {path}; get them with: {command}"
                       + (f" --output {path}" if path not in (DEFAULT_WEIGHTS, KERAS_WEIGHTS) else ""))
    hint = f"re-download it with: {command}"
    if keras:
        from nst_tools.keras_weights import read_keras_h5

        try:
            layers, mean = read_keras_h5(path)
        except ValueError as exc:
            raise NSTError(f"{path} is not a Keras VGG weights file ({exc}); {hint}") from None
    else:
        layers, mean = _read_mat(path, hint)
    if not any(layer.kind == "conv" for layer in layers):
        raise NSTError(f"{path} has no convolution layers, so it is not a VGG file; {hint}")
    _check_weights(layers, path, hint)
    return VGG(layers, mean, pooling=pooling, path=path)


# --------------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------------


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


def open_rgb(source, name, verb, load=True):
    """Pillow image of ``source`` (a path or a file object) as RGB, EXIF rotation applied.

    An unreadable or too big image is an NSTError ("cannot read <name> as an image (...); <verb> a PNG,
    JPEG ..."). ``load=False``: only read the header (and return None).
    """
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # under the limit is accepted, without Pillow's warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source)
        with img:
            if load:
                img.load()
                if img.mode == "F" and np.isnan(np.asarray(img)).any():
                    raise NSTError(f"{name} has NaN pixels (missing values): fill them in, or save it as an 8-bit image")
                return _to_rgb(ImageOps.exif_transpose(img))
    except Image.DecompressionBombError as exc:
        raise NSTError(f"{name} is too big to open safely ({str(exc).split(', could')[0]}, Pillow's "
                       "PIL.Image.MAX_IMAGE_PIXELS): shrink it first, e.g. to 4000 px on its longest side") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NSTError(f"cannot read {name} as an image ({exc.__class__.__name__}); "
                       f"{verb} a PNG, JPEG or another format Pillow reads") from None


def load_image(path, size=None, max_size=None) -> np.ndarray:
    """Read any image PIL reads as RGB float32 ``(H, W, 3)`` in [0, 255], EXIF rotation applied.

    ``size=(H, W)`` resizes exactly; ``max_size=N`` scales so the longest side is N (aspect kept).
    """
    from PIL import Image

    if not isinstance(path, (str, os.PathLike)):
        raise NSTError(f"load_image: path must be a file name (str or pathlib.Path), got {type(path).__name__}")
    whole = lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
    if size is not None and not (isinstance(size, (tuple, list, np.ndarray)) and len(size) == 2) or max_size is not None \
            and not whole(max_size) or size is not None and not all(map(whole, size)):
        raise NSTError(f"load_image: size must be (height, width), two whole numbers >= 1, and max_size one whole number >= 1; got size={size!r}, max_size={max_size!r}")
    path = Path(path)
    if not path.is_file():  # a FIFO or a device would hang the reader
        raise NSTError(f"{path} is not a regular file: give an image file" if path.exists() else
                       f"image not found: {path}")
    img = open_rgb(path, path, "use")
    if size is None and max_size is not None:
        size = fit_size(img.height, img.width, int(max_size))
    (h, w), free = size if size is not None else (img.height, img.width), float("inf")
    with contextlib.suppress(OSError, ValueError, StopIteration), open("/proc/meminfo") as info:  # else unchecked
        free = next(int(line.split()[1]) * 1024 for line in info if line.startswith("MemAvailable:"))
    if 19 * int(h) * int(w) > free:  # two RGB copies and the float32 result
        raise NSTError(f"{path.name} at {h}x{w} needs about {19 * h * w / 2**30:.1f} GiB of memory but {free / 2**30:.1f} GiB is free: give a smaller size")
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


def probe_writable(folder):
    """Make and remove a temporary file in ``folder``: raises OSError where no file can be written."""
    fd, probe = tempfile.mkstemp(dir=folder, prefix=".nst-probe-")
    os.close(fd)
    os.remove(probe)


def atomic_write(path, write, suffix=".tmp"):
    """Call ``write(tmp_path)`` then move the file to ``path``: never a half-written file at ``path``.

    ``suffix``: the temporary file's extension (for writers that read the format from it)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise NSTError(f"output folder does not exist: {path.parent}")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.", suffix=suffix)  # fits where path does
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
    if fmt in ("ICO", "ICNS"):  # icons are saved at fixed sizes (at most 256 or 1024 px), not the picture's
        raise NSTError(f"cannot write {Path(path).name!r}: an icon file resizes the picture; use .png or .jpg")
    try:  # a real tiny save: some formats register but cannot write RGB (.xbm, .msp, .h5, ...)
        Image.new("RGB", (2, 2)).save(io.BytesIO(), format=fmt)
    except Exception:
        raise NSTError(f"cannot write {Path(path).name!r}: use an image extension such as .png or .jpg") from None
    return fmt


def save_image(path, image) -> Path:
    """Save an (H, W, 3) image in [0, 255] atomically (or RGBA; a float (1, H, W, 3) gets VGG_MEAN back, a uint8 one is a batch)."""
    from PIL import Image

    arr = np.asarray(image)
    if arr.dtype.kind not in "buif" or arr.shape[-1:] not in ((3,), (4,)) or arr.ndim not in (3, 4) or 0 in arr.shape \
            or arr.ndim == 4 and arr.shape[:1] + arr.shape[-1:] != (1, 3) or not np.isfinite(arr).all():
        raise NSTError(f"save_image: image must be an array of finite numbers (no NaN) of shape (H, W, 3), (H, W, 4) "
                       f"or (1, H, W, 3), got {arr.dtype} {arr.shape}")
    if arr.ndim == 3 and arr.dtype.kind == "f" and 0 < arr.max() <= 1 and arr.min() >= 0:
        raise NSTError(f"save_image: the image looks like [0, 1] (max {arr.max():.3g}), but it takes [0, 255]: multiply it by 255")
    arr = deprocess(arr) if arr.ndim == 4 and arr.dtype.kind == "f" else arr.reshape(arr.shape[-3:])  # uint8 4-D: a batch
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    fmt = image_format(path)
    try:  # RGBA needs a format that holds the alpha channel
        Image.new(("RGB", "RGBA")[arr.shape[-1] == 4], (2, 2)).save(io.BytesIO(), format=fmt)
    except (OSError, ValueError, KeyError):
        raise NSTError(f"save_image: the image has an alpha channel (RGBA) that {Path(path).name!r} cannot hold: save it as .png, or pass image[..., :3]") from None
    return atomic_write(path, lambda tmp: Image.fromarray(arr).save(tmp, format=fmt))


# --------------------------------------------------------------------------------------------------
# The transfer
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
    evaluations: int = 0  # cost-and-gradient evaluations (Adam: one per iteration; L-BFGS: its line searches')

    def summary(self):
        """A JSON-ready dict of the numbers (no pixels)."""
        return {"iterations": self.iterations, "seconds": round(self.seconds, 3), "J": self.J,
                "J_content": self.J_content, "J_style": self.J_style, "stopped": self.stopped,
                "evaluations": self.evaluations, "history": self.history}


def cost_layers(model, content_layer, style_layers, alpha, beta):
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


def styles_list(style):
    """``style`` as a list of images: one (H, W, 3) image, or a list/tuple of them."""
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise NSTError("give at least one style image")
    return styles


def make_cost_function(model, content, style, content_layer=CONTENT_LAYER, style_layers=STYLE_LAYERS,
                       alpha=ALPHA, beta=BETA, tv_weight=0.0, style_weights=None, precision="float32",
                       content_cost=compute_content_cost, layer_style_cost=compute_layer_style_cost,
                       total_cost=total_cost):
    """Compile ``cost(x) -> (J, J_content, J_style, dJ/dx)`` for images of ``content``'s size.

    ``content`` and ``style`` are preprocessed (1, H, W, 3) arrays (``style`` may be a list of them,
    blended with ``style_weights``, see blend_style_grams). The content activation and the
    style Gram matrices are computed once here and kept as constants; the step runs the network only
    up to the deepest layer the costs need, inside ``tf.function``. A term whose weight (alpha or beta)
    is 0 reads 0 unless its layers come for free (see cost_layers).
    precision: "float32", "bfloat16" (convolutions after conv1_1 in bfloat16, Gram matrices and costs
    in float32; see feature_extractor) or "auto" (see resolve_precision).
    content_cost(a_C, a_G), layer_style_cost(a_S, a_G), total_cost(J_content, J_style, alpha, beta): the
    losses to use (yours, say). With the library's layer_style_cost the style Gram matrices are computed
    once (fast_layer_style_cost); another one gets the style activations a_S (one style image only).
    """
    alpha, beta, tv_weight = float(alpha), float(beta), float(tv_weight)
    style_layers = [(n, float(w)) for n, w in style_layers]
    model.check_layers([content_layer] + [n for n, _ in style_layers])
    needed = cost_layers(model, content_layer, style_layers, alpha, beta)
    active = [(n, w) for n, w in style_layers if w]
    active = active if all(n in needed for n, _ in active) else []
    if precision == "float32":
        forward = model
    else:  # bfloat16 convolutions: the speed module's feature extractor
        from nst_tools.fast import feature_extractor, resolve_precision

        forward = feature_extractor(model, resolve_precision(precision), cast=False)
    a_C = tf.constant(model(content, [content_layer])[content_layer]) if content_layer in needed else None
    if layer_style_cost is compute_layer_style_cost:  # the Gram targets once: one style, or a blend of several
        from nst_tools.further import blend_style_grams

        grams = blend_style_grams(model, style, style_weights, active, content.shape)
        style_term = lambda n, a: fast_layer_style_cost(grams[n], a)  # noqa: E731
    else:
        s = styles_list(style)
        if len(s) > 1:
            raise NSTError("a layer_style_cost of your own takes one style image: blend several with the default one")
        names = [n for n, _ in active]
        a_S, gen = model(s[0], names), model(np.zeros(content.shape, np.float32), names)
        # a style of another size: scale a_S so its Gram matrix is per position of G (as style_grams)
        a_S = {n: tf.constant(a * np.sqrt(np.prod(gen[n].shape[1:3]) / np.prod(a.shape[1:3])))
               for n, a in a_S.items()}
        style_term = lambda n, a: layer_style_cost(a_S[n], tf.cast(a, tf.float32))  # noqa: E731

    @tf.function(reduce_retracing=True, autograph=False)
    def cost(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            feats = forward(x, needed)
            J_content = (content_cost(a_C, tf.cast(feats[content_layer], tf.float32))
                         if a_C is not None else tf.constant(0.0))
            J_style = tf.add_n([w * style_term(n, feats[n]) for n, w in active] or [0.0])
            J = total_cost(J_content, J_style, alpha, beta)
            if tv_weight:
                J += tv_weight * total_variation_cost(x)
        return J, J_content, J_style, tape.gradient(J, x)

    return cost


def check_finite(J, iteration):
    if not np.isfinite(J):
        raise NonFiniteLossError(
            f"the cost became {J} at iteration {iteration}; nothing was saved. "
            "lower the learning rate (lr) or alpha/beta and run again")


def run_style_transfer(model, content, style, *, iterations=200, optimizer="adam", alpha=ALPHA, beta=BETA,
                       lr=2.0, init="noise", seed=None, content_layer=CONTENT_LAYER,
                       style_layers=STYLE_LAYERS, tv_weight=0.0, callback=None, callback_every=10,
                       stop_event=None, init_image=None, style_weights=None, scales=None,
                       precision="float32", content_cost=compute_content_cost,
                       layer_style_cost=compute_layer_style_cost, total_cost=total_cost) -> TransferResult:
    """Neural style transfer: find G minimising J(G) = alpha J_content + beta J_style (+ tv_weight J_TV).

    content, style: RGB images (H, W, 3) in [0, 255] (the style may have another size). ``style`` may
    be a list of images: the style target is then sum_k w_k G_S^(k), w = ``style_weights`` (see
    blend_style_grams; default equal weights).
    optimizer: "adam" (the assignment's, lr 2.0) or "lbfgs" (L-BFGS in TensorFlow with one memory for
    the run, see run_lbfgs; lr is not used).
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
    content_cost, layer_style_cost, total_cost: the losses to use (see make_cost_function).
    A NaN or infinite cost raises NonFiniteLossError; a size that would not fit in memory, NSTError.
    """
    import dataclasses

    from nst_tools.fast import check_memory, resolve_precision, scale_plan, scaled_size
    from nst_tools.interrupts import ctrl_c_stops
    from nst_tools.lbfgs import run_lbfgs

    if optimizer not in ("adam", "lbfgs"):
        raise NSTError(f"optimizer must be 'adam' or 'lbfgs', not {optimizer!r}")
    if init not in ("noise", "content"):
        raise NSTError(f"init must be 'noise' or 'content', not {init!r}")
    if int(iterations) < 0:
        raise NSTError("iterations must be 0 or more")
    if not np.isfinite(float(lr)) or float(lr) < 0:
        raise NSTError(f"lr must be a finite number >= 0, got {lr!r}")
    if not float(alpha) and not float(beta):
        raise NSTError("alpha and beta are both 0: nothing to optimise; give one of them a positive weight")
    if seed is not None and not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise NSTError(f"seed must be a whole number >= 0 (or None), got {seed!r}")
    precision = resolve_precision(precision)
    content = _rgb("content", content)
    size = content.shape[:2]
    init_image = None if init_image is None else _rgb("init_image", init_image, size)
    plan = scale_plan(scales, int(iterations), size)
    check_memory(model, size, optimizer, precision)
    styles = [_rgb("style", im) for im in styles_list(style)]
    run = run_lbfgs if optimizer == "lbfgs" else _run_adam
    start, history, result, done, evaluations = time.perf_counter(), [], None, 0, 0
    with ctrl_c_stops() as interrupt:
        try:
            for k, (fraction, n) in enumerate(plan):
                final = k == len(plan) - 1
                shape = size if final else scaled_size(size, fraction)
                track = Tracker(model.mean, callback, max(1, int(callback_every)), stop_event, start=start,
                                offset=done, final=final, extra={"scale": fraction} if len(plan) > 1 else None,
                                interrupt=interrupt, evaluations=evaluations)
                if result is not None and track.should_stop():  # between two scales
                    result = dataclasses.replace(result, stopped=track.stopped)
                    break
                c, s, x0 = _scale_inputs(model.mean, content, styles, shape, fraction,
                                         None if result is None else result.x, init, init_image, seed)
                try:
                    cost = make_cost_function(model, c, s if isinstance(style, (list, tuple)) else s[0],
                                              content_layer, style_layers, alpha, beta, tv_weight,
                                              style_weights=style_weights, precision=precision,
                                              content_cost=content_cost, layer_style_cost=layer_style_cost,
                                              total_cost=total_cost)
                    out = run(cost, x0, model.mean, n, float(lr), callback, track.every, stop_event, track=track)
                except tf.errors.ResourceExhaustedError:
                    raise NSTError(f"out of memory at {shape[0]}x{shape[1]}: use a smaller image size") from None
                history += out.history
                done, evaluations = done + out.iterations, out.evaluations
                # a scale stopped before its first iteration keeps the last scale's best
                result = out if out.history or result is None else dataclasses.replace(result, stopped=out.stopped)
                if final or out.stopped != "finished":
                    break
        except KeyboardInterrupt:  # a second Ctrl-C, or a callback's, between two iterations
            if result is None:
                raise
            result = dataclasses.replace(result, stopped="interrupted")
    if len(plan) == 1:
        return result
    if result.x.shape[1:3] != tuple(size):  # stopped at a coarse scale: its best image at the full size
        x = preprocess(resize_image(result.x[0] + model.mean, size), model.mean)
        result = dataclasses.replace(result, image=deprocess(x, model.mean), x=x)
    return dataclasses.replace(result, iterations=done, history=history,
                               seconds=time.perf_counter() - start)


def _rgb(name, image, size=None) -> np.ndarray:
    """``image`` as float32 (H, W, 3), H, W >= 1 (and (H, W) == ``size`` if given), else NSTError."""
    a = np.asarray(image, np.float32)
    if a.ndim != 3 or a.shape[2] != 3 or min(a.shape) < 1 or size is not None and a.shape[:2] != tuple(size):
        want = "(H, W, 3)" if size is None else f"({size[0]}, {size[1]}, 3)"
        raise NSTError(f"{name} must be an RGB image of shape {want}, got {a.shape}")
    return a


def _scale_inputs(mean, content, styles, shape, fraction, x_prev, init, init_image, seed):
    """Preprocessed content, styles and start image of one scale (see run_style_transfer).

    The content and ``init_image`` are resized to ``shape`` (H, W), each style by ``fraction`` of its
    own size; the start is ``x_prev`` (the last scale's best, preprocessed) upsampled if given.
    """
    from nst_tools.fast import scaled_size

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


class Tracker:
    """Bookkeeping shared by both optimisers: history, best image, callbacks, stop requests.

    ``offset``: iterations done at earlier scales (numbers and callbacks continue from there);
    ``start``: perf_counter time the whole run began; ``final``: the last scale, whose end is the run's
    end (a last callback then); ``extra``: keys added to each history entry; ``evaluations``: cost
    evaluations so far (the optimiser adds its own; each history entry carries the running count).
    """

    def __init__(self, mean, callback, every, stop_event, start=None, offset=0, final=True, extra=None,
                 interrupt=None, evaluations=0):
        self.mean, self.callback, self.every, self.stop_event = mean, callback, every, stop_event
        self.interrupt = interrupt  # an Event set by Ctrl-C (see nst_tools.interrupts)
        self.start = time.perf_counter() if start is None else start
        self.offset, self.final, self.extra = offset, final, dict(extra or {})
        self.history, self.best, self.best_x, self.last = [], None, None, None
        self.stopped, self.notified, self.evaluations = "finished", None, evaluations

    def record(self, iteration, J, Jc, Js, x):
        """Log the costs of local iteration ``iteration``; keep ``x`` (a fresh array) if it is the best."""
        J, Jc, Js = float(J), float(Jc), float(Js)
        check_finite(J, self.offset + iteration)
        entry = {"iteration": self.offset + iteration, "seconds": round(time.perf_counter() - self.start, 4),
                 "J": J, "J_content": Jc, "J_style": Js, "evaluations": self.evaluations, **self.extra}
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
        for event, why in ((self.interrupt, "interrupted"), (self.stop_event, "stop requested")):
            if event is not None and event.is_set():
                self.stopped = why
                return True
        return False

    def result(self, x_final):
        """The TransferResult of this scale; at the run's end, a last callback if none was made."""
        if self.best_x is None:  # zero iterations
            x = np.asarray(x_final, np.float32)
            return TransferResult(deprocess(x, self.mean), x, 0, 0.0, float("nan"), float("nan"),
                                  float("nan"), [], self.stopped, self.evaluations)
        b = self.best
        result = TransferResult(deprocess(self.best_x, self.mean), self.best_x, len(self.history),
                                time.perf_counter() - self.start, b["J"], b["J_content"], b["J_style"],
                                self.history, self.stopped, self.evaluations)
        if (self.final or self.stopped != "finished") and self.notified != self.last["iteration"]:
            self.notify(len(self.history), result.x, force=True)
        return result


def pixel_bounds(mean):
    """Lower and upper bounds of a preprocessed pixel: [-mean, 255 - mean] per channel."""
    mean = np.asarray(mean, np.float32).reshape(1, 1, 1, 3)
    return -mean, 255.0 - mean


def _run_adam(cost, x0, mean, iterations, lr, callback, every, stop_event, beta1=0.9, beta2=0.999,
              eps=1e-8, track=None):
    """Adam on the pixels, clipped to the valid range after each step (see run_style_transfer)."""
    lo, hi = pixel_bounds(mean)
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

    track = track or Tracker(mean, callback, every, stop_event)
    try:
        for i in range(1, iterations + 1):
            if track.should_stop():
                break
            J, Jc, Js, x_before = step()
            track.evaluations += 1
            track.record(i, J, Jc, Js, x_before.numpy())
            track.notify(i, track.best_x if i == iterations else x.numpy)
    except KeyboardInterrupt:
        track.stopped = "interrupted"
    return track.result(x.numpy())


def _main():
    """``python3 nst_utils.py stylize|bench|download-weights ...``: the command line (nst_tools.cli)."""
    from nst_tools.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
