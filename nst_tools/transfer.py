"""The full transfer: Adam or L-BFGS driven over one compiled cost, coarse to fine, bfloat16, several
styles, the memory check and Ctrl-C.

The core (nst_utils) teaches the losses and the plain loop (Adam, one scale, ``run_style_transfer``);
this module runs the same cost faster: its Gram targets are computed once, its step is traced once for
every scale of a run (and every run with the same layers), and its weights (alpha, beta, the layer
weights, the TV weight, Adam's step) are values the step reads, so a live change retraces nothing.

    for J, J_content, J_style, x, info in transfer_steps(model, content, [style], settings): ...

is the whole run, one step at a time; ``run_transfer`` follows those steps (history, best image,
callbacks, stop) and returns a TransferResult.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import threading
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from nst_tools.fast import (
    PRECISIONS,
    check_memory,
    colour_stats,
    compute_dtype,
    content_term,
    cost_layers,
    gram,
    match_marginals,
    recolour,
    resolve_precision,
    scale_plan,
    scaled_size,
    style_term,
)
from nst_tools.interrupts import ctrl_c_stops
from nst_tools.lbfgs import lbfgs
from nst_utils import (
    NSTError,
    Settings,
    TransferResult,
    check_setting,
    deprocess,
    follow,
    make_cost_function,
    pixel_bounds,
    preprocess,
    resize_image,
    rgb_image,
    settings_with,
    start_image,
    style_activations,
    total_variation_cost,
)

OPTIMIZERS = ("adam", "lbfgs")


@dataclass(frozen=True)
class TransferSettings(Settings):
    """The core's Settings (the assignment's defaults) and what the full transfer adds.

    optimizer: "adam" or "lbfgs" (``lr`` is Adam's alone). scales: None (one scale), "auto", a number of
    scales or increasing fractions of the size ending at 1, each a number or (fraction, iterations), see
    fast.scale_plan. precision: "float32", "bfloat16" or "auto" (bfloat16 where the hardware has it).
    style_weights: blend weights of several style images (None: equal). init: the core's "noise" or
    "content", or "colours": the content in the style's colours (see colour_start).
    """

    INITS = ("noise", "content", "colours")  # not a field: the starts init may name
    optimizer: str = "adam"
    scales: object = None
    precision: str = "float32"
    style_weights: tuple | None = None

    def __post_init__(self):
        super().__post_init__()
        check_setting("optimizer", self.optimizer, "choice", OPTIMIZERS)
        check_setting("precision", self.precision, "choice", PRECISIONS)
        if isinstance(self.scales, list):
            object.__setattr__(self, "scales", tuple(tuple(s) if isinstance(s, list) else s for s in self.scales))
        scale_plan(self.scales, self.iterations)  # the one refusal of a bad plan
        if self.style_weights is not None:
            object.__setattr__(self, "style_weights", tuple(np.ravel(self.style_weights).tolist()))


def styles_list(style):
    """``style`` as a list of images: one (H, W, 3) image, or a list/tuple of them."""
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise NSTError("give at least one style image")
    return styles


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


def colour_start(content, styles, weights=None) -> np.ndarray:
    r"""init="colours": the content in the style's colours. First recoloured so that its pixels' mean and
    covariance are the style's (fast.recolour), for several styles those of their blend, a mixture:
    mu = sum_k w_k mu_k, Sigma = sum_k w_k (Sigma_k + mu_k mu_k^T) - mu mu^T; then each channel's histogram
    matched to the style's, the blend's pooled pixels (fast.match_marginals: the order of the pixels in
    each channel kept, so the content's shapes stay). The run starts with the content's shapes in the
    style's palette and has only the texture left to paint: at 256 px L-BFGS reached the deeplearning.ai
    cost in 9 cost evaluations from it, 11 from the recolouring alone and 21 from the noisy content
    (docs/speed/lab_coarse.py, docs/speed/colour_starts.py).
    content (H, W, 3), styles: a list of RGB images in [0, 255]. Returns float32 (H, W, 3)."""
    w = normalize_style_weights(weights, len(styles))
    stats = [colour_stats(s) for s in styles]
    mu = sum(w_k * m for w_k, (m, _) in zip(w, stats))
    Sigma = sum(w_k * (S + np.outer(m, m)) for w_k, (m, S) in zip(w, stats)) - np.outer(mu, mu)
    return match_marginals(recolour(content, mu, Sigma), styles, w)


def first_image(content, styles, s, init_image=None):
    """The RGB start image a run gives its steps: ``init_image``, or colour_start for init="colours",
    else None (the core's start_image makes the noisy content or the content)."""
    if init_image is None and s.init == "colours":
        return colour_start(content, styles, s.style_weights)
    return init_image


def compiled_forward(model, layers, precision="float32"):
    """``model(x, layers)`` for images of any size, its convolutions after conv1_1 in ``precision``'s dtype
    and the activations returned in float32, traced once for each (layers, precision) and kept on ``model``
    (the targets of every scale and every run share it): ``forward(x) -> {name: activation}``."""
    key = (tuple(layers), precision)
    cache = model.__dict__.setdefault("_compiled_forwards", {})
    if key not in cache:
        dtype = compute_dtype(precision)
        cache[key] = tf.function(lambda x: {n: tf.cast(a, tf.float32) for n, a in model(x, list(key[0]), dtype).items()},
                                 autograph=False, input_signature=[tf.TensorSpec((None, None, None, 3))])
    return cache[key]


class _Compiled:
    """``model`` for nst_utils.style_activations, its forward passes compiled (compiled_forward)."""

    def __init__(self, model, precision="float32"):
        self.model, self.precision = model, precision

    def __call__(self, image, layers):
        return compiled_forward(self.model, layers, self.precision)(tf.convert_to_tensor(image, tf.float32))


def style_targets(model, styles, weights, layers, shape, precision="float32"):
    r"""The style target of one or several style images: G^[l] = sum_k w_k G_S^(k)[l], sum_k w_k = 1.

    styles: preprocessed (1, h, w, 3) arrays (sizes may differ: see nst_utils.style_activations, for a
    generated image of ``shape``); weights: one per style (normalised to sum 1, None: equal); ``precision``:
    of the forward passes (a bfloat16 step's targets are its own activations of the style, 3x cheaper).
    Returns {layer: G (n_C, n_C)} in float32.
    """
    w = normalize_style_weights(weights, len(styles))
    total = {}
    for w_k, s in zip(w, styles):
        if w_k == 0 and len(styles) > 1:
            continue  # a style with weight 0 adds nothing: do not run the network on it
        for n, a in style_activations(_Compiled(model, precision), s, layers, shape).items():
            total[n] = total[n] + float(w_k) * gram(a) if n in total else float(w_k) * gram(a)
    return total


#: Sets of targets a model keeps (see targets): a lab session's last few images and sizes.
TARGETS_KEPT = 4
_TARGETS_LOCK = threading.Lock()


def targets(model, content, styles, weights, content_layer, names, precision="float32"):
    """(a_C, (G^[l] for l in names)): the content's activation at ``content_layer`` (None: a (1, 1, 1, 1) zero,
    no term) and the style target at each layer of ``names`` (style_targets), from ``precision``'s forward pass;
    content, styles preprocessed. Kept on ``model`` for its last TARGETS_KEPT sets, by a hash of the pixels and
    these arguments: a lab's next Run on the same images, or one after LabRunner.prepare, computes none again
    (two forward passes: about 0.7 of an evaluation). forget_targets empties it."""
    digest = hashlib.blake2b(repr((np.shape(content), [np.shape(im) for im in styles], weights, content_layer,
                                   tuple(names), precision)).encode(), digest_size=16)
    for image in (content, *styles):
        digest.update(np.ascontiguousarray(image, np.float32))
    key, cache = digest.hexdigest(), model.__dict__.setdefault("_targets", collections.OrderedDict())
    with _TARGETS_LOCK:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    forward = _Compiled(model, precision)  # the targets in the step's precision: what it compares with
    a_C = forward(content, [content_layer])[content_layer] if content_layer else tf.zeros((1, 1, 1, 1))
    grams = style_targets(model, styles, weights, names, content.shape, precision) if names else {}
    value = (a_C, tuple(grams[n] for n in names))
    with _TARGETS_LOCK:
        cache[key] = value
        while len(cache) > TARGETS_KEPT:
            cache.popitem(last=False)
    return value


def forget_targets(model):
    """Empty ``model``'s kept targets (see targets): the next run computes its own (bench measures cold runs)."""
    with _TARGETS_LOCK:
        model.__dict__.pop("_targets", None)


def _weights(s, style_names):
    """The values the compiled step reads: [alpha, beta, tv_weight, lambda_1, ..., lambda_L] (a layer the
    settings do not list: weight 0)."""
    lambdas = dict(s.style_layers)
    return [s.alpha, s.beta, s.tv_weight] + [lambdas.get(n, 0.0) for n in style_names]


def channels(model, name) -> int:
    """The number of channels of ``model``'s activation ``name``."""
    model.check_layers([name])
    convs = [layer for layer in model.layers[: model.names.index(name) + 1] if layer.kind == "conv"]
    return int(convs[-1].kernel.shape[-1]) if convs else 3


def compiled_cost(model, content_layer, style_names, precision):
    """The library's cost for images of any size, traced once for each (layers, precision) and kept on
    ``model``: ``cost(x, a_C, grams, w) -> (J, J_content, J_style, dJ/dx)``, w as in _weights.
    ``content_layer`` None: no content term (J_content reads 0). The TV term is always there (a few
    element-wise operations, 0 at tv_weight 0), so that moving the TV weight is a value too."""
    key = (content_layer, tuple(style_names), precision)
    cache = model.__dict__.setdefault("_compiled_costs", {})
    if key not in cache:
        dtype = compute_dtype(precision)
        layers = ([content_layer] if content_layer else []) + list(style_names)
        n_C = channels(model, content_layer) if content_layer else 1
        spec = [tf.TensorSpec((1, None, None, 3)), tf.TensorSpec((1, None, None, n_C)),
                tuple(tf.TensorSpec((channels(model, n),) * 2) for n in style_names),
                tf.TensorSpec((3 + len(style_names),))]

        @tf.function(input_signature=spec, autograph=False)
        def cost(x, a_C, grams, w):
            with tf.GradientTape() as tape:
                tape.watch(x)
                a_G = model(x, layers, dtype)
                J_content = content_term(a_C, a_G[content_layer]) if content_layer else tf.constant(0.0)
                terms = [w[3 + k] * style_term(G, a_G[n]) for k, (n, G) in enumerate(zip(style_names, grams))]
                J_style = tf.add_n(terms) if terms else tf.constant(0.0)
                J = w[0] * J_content + w[1] * J_style + w[2] * total_variation_cost(x)
            return J, J_content, J_style, tape.gradient(J, x)

        cache[key] = cost
    return cache[key]


_ANY = tf.TensorSpec(None, tf.float32)


@tf.function(autograph=False, input_signature=[_ANY] * 6 + [tf.TensorSpec(())] * 2)
def _adam_update(x, g, m, v, lo, hi, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """One step of the core's Adam (nst_utils.adam): the new x, m and v; traced once per process."""
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * tf.square(g)
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return tf.clip_by_value(x - lr * m_hat / (tf.sqrt(v_hat) + eps), lo, hi), m, v


def adam(cost, x0, lo, hi, lr):
    """The core's Adam (nst_utils.adam: the same steps, yields and ``send(cost)``), its update compiled
    once per process for every size rather than traced again around each new cost: a second run, a
    second scale or a live change traces nothing. ``lr``: a number or a tf.Variable, read each step."""
    x = tf.constant(x0, tf.float32)
    m = v = tf.zeros_like(x)
    lo, hi, t = tf.constant(lo, tf.float32), tf.constant(hi, tf.float32), 0
    while True:
        J, J_content, J_style, g = cost(x)
        t += 1
        x_next, m, v = _adam_update(x, g, m, v, lo, hi, tf.constant(float(t)), tf.convert_to_tensor(lr, tf.float32))
        new_cost = yield J, J_content, J_style, x.numpy()
        x, cost = x_next, cost if new_cost is None else new_cost


class _ScaleCost:
    """One scale's cost(x) -> (J, J_content, J_style, dJ/dx): the compiled cost with this scale's targets
    and its weights in a tf.Variable (``set(settings)`` changes them for the next step, no retrace).
    ``keep``: the content layer and every style layer the settings list are in it, even at weight 0
    (the network may then run deeper than the weights need), so any weight can move later (covers).
    ``watch(x)``: called with each image before it is evaluated (see transfer_steps)."""

    def __init__(self, model, content, styles, s, losses, keep=False, watch=None):
        self.losses, self.precision, self.watch = bool(losses), s.precision, watch
        if losses:  # yours: the core's cost function, float32, one style, traced for this size
            if len(styles) > 1:
                raise NSTError("losses of your own take one style image: blend several with the library's")
            self.fn = make_cost_function(model, content, styles[0], s, **losses)
            return
        self.content_layer, self.names = _needs(model, s, keep)
        content_layer = self.content_layer
        fn = compiled_cost(model, content_layer, self.names, s.precision)
        a_C, grams = targets(model, content, styles, s.style_weights, content_layer, self.names, s.precision)
        self.weights = tf.Variable(_weights(s, self.names), dtype=tf.float32)
        self.compiled = fn  # the traced step, shared (see compiled_cost): its graph is what runs
        self.fn = lambda x: fn(x, a_C, grams, self.weights)

    def __call__(self, x):
        if self.watch is not None:
            self.watch(x)
        return self.fn(x)

    def set(self, s):
        self.weights.assign(_weights(s, self.names))

    def covers(self, model, s):
        """Whether settings ``s`` need no other layers, terms or precision than this cost has."""
        content_layer, names = _needs(model, s)
        return not self.losses and s.precision == self.precision and set(names) <= set(self.names) \
            and content_layer in (None, self.content_layer)


def _needs(model, s, keep=False):
    """(content layer or None, style layer names) a cost of settings ``s`` computes (see _ScaleCost)."""
    if keep:
        return s.content_layer, [n for n, _ in s.style_layers]
    layers = cost_layers(model, s.content_layer, s.style_layers, s.alpha, s.beta)
    return (s.content_layer if s.content_layer in layers else None), [n for n, w in s.style_layers if w and n in layers]


def cost_function(model, content, style, settings=None, **changes):
    """The full transfer's cost(x) -> (J, J_content, J_style, dJ/dx) for images of ``content``'s size
    (preprocessed (1, H, W, 3)); ``style``: one preprocessed style or a list (blended)."""
    s = settings_with(settings, changes, TransferSettings)
    return _ScaleCost(model, content, styles_list(style), dataclasses.replace(s, precision=resolve_precision(s.precision)), None)


def _scale_images(mean, content, styles, shape, fraction):
    """Preprocessed content and styles of one scale: the content resized to ``shape`` (H, W), each style
    by ``fraction`` of its own size."""
    full = tuple(shape) == np.shape(content)[:2]
    c = preprocess(content if full else resize_image(content, shape), mean)
    return c, [preprocess(im if full else resize_image(im, scaled_size(im.shape[:2], fraction)), mean) for im in styles]


def prepare(model, content, styles, settings, keep=False):
    """Compute (and keep, see targets) the targets of the first scale of a transfer_steps run with these
    arguments, before it starts: the lab does it while the learner reads its panel (LabRunner.prepare).
    It builds that scale's cost as transfer_steps does, so the targets it keeps are the ones the run asks for."""
    s = dataclasses.replace(settings, precision=resolve_precision(settings.precision))
    size = np.shape(content)[:2]
    fraction = scale_plan(s.scales, s.iterations, size)[0][0]
    _ScaleCost(model, *_scale_images(model.mean, content, styles, scaled_size(size, fraction), fraction), s, None, keep)


def _scale_inputs(mean, content, styles, shape, fraction, x_prev, s, init_image):
    """Preprocessed content, styles (see _scale_images) and start image of one scale: ``x_prev`` (the
    last scale's best, preprocessed) upsampled if given, else ``init_image`` resized or the settings' start.
    """
    full = tuple(shape) == np.shape(content)[:2]
    c, st = _scale_images(mean, content, styles, shape, fraction)
    if x_prev is not None:
        return c, st, preprocess(resize_image(x_prev[0] + mean, shape), mean)
    init = None if init_image is None else init_image if full else resize_image(init_image, shape)
    return c, st, start_image(c, s, init, mean)


def transfer_steps(model, content, styles, settings, init_image=None, losses=None, stop_event=None, keep=False,
                   watch=None):
    """Every iteration of a full transfer, one per ``next()``: (J, J_content, J_style, x, info), info =
    {"evaluations": cost evaluations so far, "scale": fraction of the size (with several scales)}.

    Coarse to fine: each scale of the plan starts from the best image of the one before, upsampled.
    ``send(settings)`` between two steps changes the settings live, the optimiser keeping its state: new
    weights (alpha, beta, layer weights, tv_weight, lr) are values the compiled step reads (nothing is
    retraced); a new content layer or precision, or a term or style layer the cost left out switched
    on, builds a new cost. ``keep`` (the lab): each cost keeps every layer listed, even at weight 0,
    so moving any weight, to 0 and back too, stays a value (see _ScaleCost).
    ``stop_event`` set while a scale is being set up (its images, its cost): no step is taken at it.
    ``watch(x)``: called with every image the optimiser is about to evaluate (a preprocessed (1, h, w, 3)
    tensor), before its cost: after a live change, the second one is the first image the new cost has
    moved (L-BFGS: its trial step from the new gradient; Adam: its step), a whole evaluation before the
    iteration that ends with it (the lab shows it, see lab.LabRunner).
    """
    s, size = dataclasses.replace(settings, precision=resolve_precision(settings.precision)), np.shape(content)[:2]
    init_image = first_image(content, styles, s, init_image)
    lo, hi = pixel_bounds(model.mean)
    lr = tf.Variable(s.lr, dtype=tf.float32)
    x_best, done, plan = None, 0, scale_plan(s.scales, s.iterations, size)
    for fraction, n in plan:  # coarse to fine
        shape = scaled_size(size, fraction)  # fraction 1: the size itself
        c, st, x0 = _scale_inputs(model.mean, content, styles, shape, fraction, x_best, s, init_image)
        cost = _ScaleCost(model, c, st, s, losses, keep, watch)
        if stop_event is not None and stop_event.is_set():  # stopped during the set-up: keep the last scale's
            return
        steps = lbfgs(cost, x0, lo, hi) if s.optimizer == "lbfgs" else adam(cost, x0, lo, hi, lr)
        best, sent, evaluations = (np.inf, x0), None, 0
        for _ in range(n):
            step = next(steps, None) if sent is None else steps.send(sent)
            if step is None:  # converged at this scale: on to the next
                break
            J, J_content, J_style, x, *info = step
            evaluations = info[0]["evaluations"] if info else evaluations + 1
            best = (float(J), x) if float(J) < best[0] else best
            info = {"evaluations": done + evaluations, **({"scale": fraction} if len(plan) > 1 else {})}
            new = yield J, J_content, J_style, x, info
            sent = None
            if new is not None and new != s:
                new = dataclasses.replace(new, precision=resolve_precision(new.precision))
                if cost.covers(model, new):
                    cost.set(new)
                else:
                    cost = _ScaleCost(model, c, st, new, losses, keep, watch)
                s, sent = new, cost
                lr.assign(s.lr)
        x_best, done = best[1], done + evaluations


class _Either:
    """Set when any of ``events`` is (the user's stop and Ctrl-C)."""

    def __init__(self, *events):
        self.events = [e for e in events if e is not None]

    def is_set(self):
        return any(e.is_set() for e in self.events)


def run_transfer(model, content, style, settings=None, *, init_image=None, callback=None, callback_every=10,
                 stop_event=None, content_cost=None, style_cost=None, total_cost=None, **changes) -> TransferResult:
    """Neural style transfer, the full version: find G minimising J(G) = alpha J_content + beta J_style
    (+ tv_weight J_TV) with the settings of TransferSettings (or its fields as keywords).

    content, style: RGB images (H, W, 3) in [0, 255]; ``style`` may be a list (blended, see style_targets).
    callback(iteration, costs, image): every ``callback_every`` iterations of the run (all scales counted)
    and at the end, with the current scale's image; ``stop_event`` or Ctrl-C ends the run with its best
    image. content_cost, style_cost, total_cost: losses of your own (float32, one style; see the core's
    make_cost_function). The result is the best image of the last scale reached, at the full size.
    """
    s = settings_with(settings, changes, TransferSettings)  # its precision is resolved in transfer_steps
    content = rgb_image("content", content)
    styles = [rgb_image("style", im) for im in styles_list(style)]
    if len(styles) > 1 or s.style_weights is not None:
        normalize_style_weights(s.style_weights, len(styles))
    size = content.shape[:2]
    if init_image is not None:
        init_image = rgb_image("init_image", init_image, size)
    init_image = first_image(content, styles, s, init_image)  # once: transfer_steps starts from it
    scale_plan(s.scales, s.iterations, size)  # a scale too small for the size: refused before any work
    check_memory(model, size, s.optimizer, s.precision)
    losses = {k: f for k, f in (("content_cost", content_cost), ("style_cost", style_cost),
                                ("total_cost", total_cost)) if f is not None}
    x0 = start_image(preprocess(content, model.mean), s, init_image, model.mean)
    every = check_setting("callback_every", callback_every, "whole") or 1
    with ctrl_c_stops() as interrupt, _out_of_memory(size):
        stop = _Either(stop_event, interrupt)
        steps = transfer_steps(model, content, styles, s, init_image, losses, stop)
        result = follow(steps, s.iterations, model.mean, x0, callback, every, stop)
    if interrupt.is_set():
        result = dataclasses.replace(result, stopped="interrupted")
    elif stop_event is not None and stop_event.is_set() and result.stopped == "finished" \
            and result.iterations < s.iterations:  # stopped while a scale was being set up
        result = dataclasses.replace(result, stopped="stop requested")
    if result.x.shape[1:3] != tuple(size):  # stopped at a coarse scale: its best image at the full size
        x = preprocess(resize_image(result.x[0] + model.mean, size), model.mean)
        result = dataclasses.replace(result, image=deprocess(x, model.mean), x=x)
    return result


@contextlib.contextmanager
def _out_of_memory(size):
    try:
        yield
    except tf.errors.ResourceExhaustedError:
        raise NSTError(f"out of memory at {size[0]}x{size[1]}: use a smaller image size") from None
