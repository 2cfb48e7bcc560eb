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


if __name__ == "__main__" and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # Ctrl-C while TF loads: one line
    _fd = os.dup(2)
    signal.signal(signal.SIGINT, lambda *_: (os.write(_fd, b"nst_utils.py: interrupted\n"), os._exit(130)))

with _quiet_stderr():
    import tensorflow as tf

    tf.config.list_physical_devices()  # device start-up logs more lines (no CUDA, ...): here, silenced

# --------------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent
DEFAULT_WEIGHTS = ROOT / "pretrained-model" / "imagenet-vgg-verydeep-19.mat"
KERAS_WEIGHTS = ROOT / "pretrained-model" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"  # --source keras
DOWNLOAD_COMMAND = "python nst_utils.py download-weights"
IMAGES_DIR = ROOT / "images"

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
# Weights: MatConvNet VGG files
# --------------------------------------------------------------------------------------------------


def resolve_weights_path(path=None) -> Path:
    """The weights file: ``path``, else ``$NST_VGG_PATH``, else ``pretrained-model/``'s .mat (its Keras .h5 if only
    that one is there)."""
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
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(source) as img:
            if load:
                img.load()
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

    path = Path(path)
    if not path.is_file():  # a FIFO or a device would hang the reader
        raise NSTError(f"{path} is not a regular file: give an image file" if path.exists() else
                       f"image not found: {path}")
    if size is not None and (len(size) != 2 or min(size) < 1) or max_size is not None and max_size < 1:
        raise NSTError(f"size (height, width) and max_size must be at least 1, got size={size}, max_size={max_size}")
    img = open_rgb(path, path, "use")
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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
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
    try:  # a real tiny save: some formats register but cannot write RGB (.xbm, .msp, .h5, ...)
        Image.new("RGB", (2, 2)).save(io.BytesIO(), format=fmt)
    except Exception:
        raise NSTError(f"cannot write {Path(path).name!r}: use an image extension such as .png or .jpg") from None
    return fmt


def save_image(path, image) -> Path:
    """Save a uint8 ``(H, W, 3)`` image (or a preprocessed ``(1, H, W, 3)`` one with VGG_MEAN) atomically."""
    from PIL import Image

    arr = np.asarray(image)
    if arr.ndim == 4:
        arr = deprocess(arr)
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    fmt = image_format(path)
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


def pixel_bounds(mean):
    """Lower and upper bounds of a preprocessed pixel: [-mean, 255 - mean] per channel."""
    mean = np.asarray(mean, np.float32).reshape(1, 1, 1, 3)
    return -mean, 255.0 - mean



def run_style_transfer(model, content, style, **kwargs) -> TransferResult:
    """Neural style transfer (see nst_tools.transfer.run_transfer)."""
    from nst_tools.transfer import run_transfer

    return run_transfer(model, content, style, **kwargs)


def make_cost_function(model, content, style, *args, **kwargs):
    """The compiled cost (see nst_tools.transfer.make_cost_function)."""
    from nst_tools.transfer import make_cost_function

    return make_cost_function(model, content, style, *args, **kwargs)


def _main():
    """``python3 nst_utils.py stylize|bench|download-weights ...``: the command line (nst_tools.cli)."""
    from nst_tools.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
