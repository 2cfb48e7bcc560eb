"""Speed: precision (bfloat16), the feature extractor, colour statistics (the "colours" start), coarse-to-fine
scales, the memory estimate.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from nst_tools.lbfgs import LBFGS_MEMORY
from nst_utils import ALPHA, BETA, CONTENT_LAYER, STYLE_LAYERS, NSTError, fit_size

PRECISIONS = ("float32", "bfloat16", "auto")

#: Smallest side (pixels) a coarse scale may have; smaller maps leave conv5_1 with almost no positions.
MIN_SCALE_SIDE = 32

#: scales="auto": halve the size while the longest side stays >= C2F_MIN_SIDE pixels (smaller first
#: scales lost the content: a 75x100 start turned the cat into swirls), C2F_SHARE of the iterations
#: (at least 1) for each coarse scale, the rest at full size.
C2F_MIN_SIDE, C2F_SHARE = 192, 0.1

#: The terms of estimate_memory besides the activations (all float32, 4 bytes a value): tensors of the widest
#: activation in flight at the peak (the gradient on its way through the first block, 1.0 in TensorFlow's
#: allocator statistics, tf.config.experimental.get_memory_info("CPU:0"); and half as much again outside
#: them: oneDNN's reorder buffers and scratchpads, freed memory the C allocator keeps; calibrated on the
#: peak RSS of coarse-to-fine runs at 512-2048 px, see the README's Speed section), image-sized arrays
#: each optimiser holds besides its own state (x, the gradient, the update or L-BFGS's direction, trial
#: image and gradient, masks and step, and those the line search's closures keep until Python frees them:
#: TensorFlow's statistics counted 5 for Adam, 12 to 30 for L-BFGS at an evaluation; and 6 NumPy copies:
#: the preprocessed content and style, the start, the latest and the best image), and TensorFlow's own
#: working memory whatever the size (the traced graphs, its thread pools' buffers).
GRADIENT_IN_FLIGHT = 1.5
IMAGE_COPIES = {"adam": 11, "lbfgs": 24}
TF_WORKSPACE = 40 * 2**20

MEMORY_RESERVE = 512 * 2**20  # left for everything else (Python, TensorFlow's own buffers)


class TooLargeError(NSTError):
    """A transfer would not fit in memory; ``max_size``: a longest side in pixels that fits (or None)."""

    def __init__(self, message, max_size=None):
        super().__init__(message)
        self.max_size = max_size


def compute_dtype(precision) -> tf.DType:
    """The dtype the convolutions after conv1_1 compute in: tf.bfloat16 or tf.float32 (see VGG.__call__)."""
    return tf.bfloat16 if resolve_precision(precision) == "bfloat16" else tf.float32


# The optimiser's twins of the taught losses: the same values, for any image size (shapes read at run time,
# so one trace serves every scale), in float32 whatever the activations' dtype, and the style term with its
# gradient written out (one matmul, not two). tests/test_losses.py checks them against the taught ones.


def gram(a):
    """Gram matrix (n_C, n_C) of an activation (1, n_H, n_W, n_C) in float32: gram_matrix(unroll(a))."""
    F = tf.cast(tf.reshape(a, (-1, tf.shape(a)[-1])), tf.float32)  # (n_H n_W, n_C) = A^T
    return tf.matmul(F, F, transpose_a=True)


def content_term(a_C, a_G):
    """compute_content_cost(a_C, a_G) for any shape: sum (a_C - a_G)^2 / (4 n_H n_W n_C), in float32."""
    d = tf.cast(a_G, tf.float32) - a_C
    return tf.reduce_sum(tf.square(d)) / (4.0 * tf.cast(tf.size(d), tf.float32))


def style_term(G_S, a_G):
    r"""compute_layer_style_cost from the style's Gram matrix ``G_S`` (n_C, n_C, computed once per run).

    With F = a_G unrolled to (n_H n_W, n_C), D = F^T F - G_S (symmetric) and
    J = sum(D^2) / (4 n_C^2 (n_H n_W)^2): dJ/dF = 4 F D / (4 n_C^2 (n_H n_W)^2). A bfloat16 ``a_G`` gets a
    float32 Gram matrix and cost; its gradient, which goes back into bfloat16 convolutions anyway, is
    computed in bfloat16 (F times D rounded to bfloat16).
    """
    @tf.custom_gradient
    def cost(a):
        F = tf.reshape(a, (-1, tf.shape(a)[-1]))
        F32 = tf.cast(F, tf.float32)
        positions, n_C = tf.cast(tf.shape(F)[0], tf.float32), tf.cast(tf.shape(F)[1], tf.float32)
        norm = 4.0 * n_C**2 * positions**2
        D = tf.matmul(F32, F32, transpose_a=True) - G_S

        def grad(dJ):
            return tf.reshape(tf.matmul(F, tf.cast(D * (4.0 * dJ / norm), F.dtype)), tf.shape(a))

        return tf.reduce_sum(tf.square(D)) / norm, grad

    return cost(a_G)


def _sqrtm_psd(S, inverse=False):
    """Symmetric square root S^{1/2} (or S^{-1/2}) of a symmetric positive definite 3x3 matrix."""
    lam, V = np.linalg.eigh(S)
    lam = np.maximum(lam, 1e-12)
    return (V * (lam ** (-0.5 if inverse else 0.5))) @ V.T


def colour_stats(image, eps=1e-3):
    """(mu, Sigma + eps I): the mean (3,) and covariance (3, 3) of an RGB image's pixels, float64."""
    p = np.asarray(image, np.float64).reshape(-1, 3)
    return p.mean(0), np.cov(p, rowvar=False, bias=True) + eps * np.eye(3)


def recolour(image, mu, Sigma, method="eig", eps=1e-3, clip=True) -> np.ndarray:
    r"""``image`` with its pixels' mean and covariance moved to ``mu`` and ``Sigma`` (see colour_stats):
    x' = A (x - mu_x) + mu for every pixel x (an RGB 3-vector), with A Sigma_x A^T = Sigma.
    method "eig" (Image Analogies): A = Sigma^{1/2} Sigma_x^{-1/2}; "cholesky": A = L L_x^{-1}, Sigma = L L^T.
    Returns float32 of ``image``'s shape, clipped to [0, 255] unless clip=False."""
    if method not in ("eig", "cholesky"):
        raise NSTError(f"method must be 'eig' or 'cholesky', not {method!r}")
    x = np.asarray(image, np.float64).reshape(-1, 3)
    mu_x, Sigma_x = colour_stats(x, eps)
    if method == "eig":
        A = _sqrtm_psd(Sigma) @ _sqrtm_psd(Sigma_x, inverse=True)
    else:
        A = np.linalg.cholesky(Sigma) @ np.linalg.inv(np.linalg.cholesky(Sigma_x))
    out = ((x - mu_x) @ A.T + mu).reshape(np.shape(image))
    return (np.clip(out, 0, 255) if clip else out).astype(np.float32)


def match_marginals(image, references, weights=None) -> np.ndarray:
    """``image`` with each channel's values replaced, rank for rank, by the quantiles of that channel in
    ``references`` pooled (each reference's share of the pool is its weight; None: equal shares): every
    channel's histogram becomes theirs, and the order of the pixels in each channel stays ``image``'s.
    image (H, W, C), references: a list of (h, w, C). Returns float32 of ``image``'s shape."""
    x = np.asarray(image, np.float64).reshape(-1, np.shape(image)[-1])
    refs = [np.asarray(r, np.float64).reshape(-1, x.shape[1]) for r in references]
    w = np.full(len(refs), 1.0 / len(refs)) if weights is None else np.asarray(weights, np.float64) / np.sum(weights)
    share = np.concatenate([np.full(len(r), w_k / len(r)) for w_k, r in zip(w, refs)])  # one weight a pixel
    quantiles = (np.arange(len(x)) + 0.5) / len(x)  # the pixel of rank i takes the pool's value at this quantile
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        pool = np.concatenate([r[:, c] for r in refs])
        order = np.argsort(pool, kind="stable")
        at = np.minimum(np.searchsorted(np.cumsum(share[order]), quantiles), len(pool) - 1)
        out[np.argsort(x[:, c], kind="stable"), c] = pool[order][at]
    return out.reshape(np.shape(image)).astype(np.float32)


def match_color_histogram(style, content, method="eig", eps=1e-3, clip=True) -> np.ndarray:
    r"""Recolour ``style`` so that its pixels' mean and covariance equal ``content``'s.

    x' = A (x - mu_S) + mu_C for every style pixel x (an RGB 3-vector), with A Sigma_S A^T = Sigma_C
    (Gatys et al. 2016, colour histogram matching). Sigma = pixel covariance (+ eps I).
    method "eig" (Image Analogies): A = Sigma_C^{1/2} Sigma_S^{-1/2};
    method "cholesky": A = L_C L_S^{-1}, with Sigma = L L^T.
    style (h, w, 3), content (H, W, 3): RGB in [0, 255]. Returns float32 (h, w, 3), clipped unless clip=False.
    """
    return recolour(style, *colour_stats(content, eps), method, eps, clip)


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


def layer_shapes(model, size):
    """Output shape (n_H, n_W, n_C) of each of ``model.layers`` for an input of ``size`` (H, W): a conv
    (SAME padding) keeps n_H, n_W and sets n_C to its kernel's; a 2x2 stride-2 pool halves n_H, n_W,
    rounding up."""
    n_H, n_W = (int(v) for v in size)
    n_C, shapes = 3, []
    for layer in model.layers:
        if layer.kind == "conv":
            n_C = int(layer.kernel.shape[3])
        else:
            n_H, n_W = -(-n_H // 2), -(-n_W // 2)
        shapes.append((n_H, n_W, n_C))
    return shapes


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


def default_layers(model):
    """The layers a transfer with the course's defaults needs (see cost_layers), or all of ``model``'s
    layers if it lacks some of them."""
    try:
        return cost_layers(model, CONTENT_LAYER, STYLE_LAYERS, ALPHA, BETA)
    except NSTError:
        return model.names


def activation_elements(model, size, layers=None) -> int:
    """Activation values one forward pass computes at ``size`` (H, W), up to the deepest of ``layers``
    (default: default_layers)."""
    layers = default_layers(model) if layers is None else layers
    last = max(model.names.index(n) for n in layers)
    return int(size[0] * size[1] * 3 + sum(np.prod(shape) for shape in layer_shapes(model, size)[: last + 1]))


def memory_terms(model, size, optimizer="adam", precision="float32", layers=None) -> dict:
    """The bytes a transfer at ``size`` (H, W) holds at its peak on top of the loaded model, term by term
    (estimate_memory is their sum). The peak is in a cost evaluation at the full size (the last scale of
    a coarse-to-fine run), as its backward pass starts; live then, up to the deepest of ``layers``
    (default: default_layers):

    - ``activations``: the output of every convolution, kept for its ReLU's gradient (an average pool's
      gradient needs neither its input nor its output; a max pool's needs both, so with max pooling the
      pools' outputs count too): conv1_1's in float32, the later ones in the compute dtype;
    - ``cost_gradients``: each cost layer's own gradient (of its style or content term), computed as the
      backward pass starts and held until it reaches that layer: float32 at conv1_1 and at the content
      layer (content_term computes in float32), the compute dtype at the other style layers;
    - ``in_flight``: GRADIENT_IN_FLIGHT float32 tensors of the widest activation;
    - ``targets``: the content layer's activation and the style Gram matrices, float32;
    - ``optimizer``: L-BFGS's 2 x LBFGS_MEMORY pairs (s, y) or Adam's two moments, and IMAGE_COPIES more
      image-sized float32 arrays (n = H x W x 3 values each);
    - ``weights``: bfloat16 copies of the kernels and biases (none in float32);
    - ``workspace``: TF_WORKSPACE.

    ``store``: L-BFGS's other moment of need, storing a pair, when the new S and Y (each the old with
    one row replaced) stand beside the old ones: all the terms but the evaluation's three (activations,
    cost_gradients, in_flight), plus the pairs once more; it is the peak where the network is narrow (the
    tiny test weights), never with VGG. estimate_memory takes the larger of the two moments.
    """
    precision = resolve_precision(precision)
    layers = default_layers(model) if layers is None else list(layers)
    low = 2 if precision == "bfloat16" else 4  # bytes of the compute dtype
    last = max(model.names.index(n) for n in layers)
    shapes = dict(zip(model.names, layer_shapes(model, size)))
    first = model.conv_names[0]
    values = {n: int(np.prod(shapes[n])) for n in model.names[: last + 1]}
    kept = [n for n, layer in zip(model.names, model.layers[: last + 1])
            if layer.kind == "conv" or model.pooling == "max"]
    n = int(size[0]) * int(size[1]) * 3
    pairs = 2 * LBFGS_MEMORY if optimizer == "lbfgs" else 2
    convs = [layer for layer in model.layers[: last + 1] if layer.kind == "conv"]
    return {
        "activations": sum(values[k] * (4 if k == first else low) for k in kept),
        "cost_gradients": sum(values[k] * (4 if k in (first, CONTENT_LAYER) else low) for k in layers),
        "in_flight": int(GRADIENT_IN_FLIGHT * 4 * max(values.values())),
        "targets": 4 * (values[CONTENT_LAYER] if CONTENT_LAYER in layers else 0)
                   + 4 * sum(shapes[k][2] ** 2 for k in layers if k != CONTENT_LAYER),
        "optimizer": 4 * n * (pairs + IMAGE_COPIES[optimizer]),
        "weights": 2 * sum(int(np.size(c.kernel)) + int(np.size(c.bias)) for c in convs) if low == 2 else 0,
        "workspace": TF_WORKSPACE,
        "store": 4 * n * pairs if optimizer == "lbfgs" else 0,
    }


#: The terms of memory_terms that live only during a cost evaluation (the other moment: "store").
EVALUATION_TERMS = ("activations", "cost_gradients", "in_flight")


def estimate_memory(model, size, optimizer="adam", precision="float32", layers=None) -> int:
    """Bytes one transfer at ``size`` (H, W) needs on top of the loaded model: the peak resident memory of
    the run less the resident memory before it (weights and images loaded), what check_memory compares with
    the free memory. From memory_terms (see there): the terms held all along plus the larger of a cost
    evaluation's (EVALUATION_TERMS) and L-BFGS's storing of a pair; ``bench --parts memory`` measures both."""
    terms = memory_terms(model, size, optimizer, precision, layers)
    held = sum(v for k, v in terms.items() if k not in (*EVALUATION_TERMS, "store"))
    return int(held + max(sum(terms[k] for k in EVALUATION_TERMS), terms["store"]))


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


def largest_side(model, size, optimizer, precision, available) -> int:
    """The longest side (pixels) of ``size``'s aspect whose estimate fits in ``available`` bytes, 0 if none."""
    fits = lambda side: estimate_memory(model, fit_size(size[0], size[1], side), optimizer, precision) <= available  # noqa: E731
    lo, hi = 0, int(max(size))
    while lo < hi:  # the estimate grows with the side
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def check_memory(model, size, optimizer="adam", precision="float32", available=None) -> int:
    """Raise TooLargeError, naming a longest side that fits, if a transfer at ``size`` (H, W) would not fit in
    ``available`` bytes (default: available_memory() less MEMORY_RESERVE); returns the estimate."""
    need = estimate_memory(model, size, optimizer, precision)
    if available is None:
        free = available_memory()
        available = None if free is None else free - MEMORY_RESERVE
    if available is not None and need > available:
        side = largest_side(model, size, optimizer, precision, available)
        side = side if side >= MIN_SCALE_SIDE else None
        hint = f"a longest side of {side} pixels fits" if side else "free some memory first"
        raise TooLargeError(f"a {size[0]}x{size[1]} transfer needs about {need / 2**30:.1f} GiB of memory but "
                            f"{max(available, 0) / 2**30:.1f} GiB is free: use a smaller size ({hint})", side)
    return need


def content_size(path, size=None, max_size=None):
    """(H, W) that ``load_image(path, size, max_size)`` will return, read from the file's header only."""
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    if size is not None:
        return tuple(int(v) for v in size)
    try:
        with warnings.catch_warnings():  # under Pillow's limit is accepted: no warning (load_image says the same)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
        with img:
            w, h = ImageOps.exif_transpose(img).size if max_size is None else img.size
    except (FileNotFoundError, IsADirectoryError):
        raise NSTError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise NSTError(f"cannot read {path} as an image ({exc.__class__.__name__}); "
                       "use a PNG, JPEG or another format Pillow reads") from None
    return (h, w) if max_size is None else fit_size(h, w, int(max_size))

