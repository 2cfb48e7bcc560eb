"""The full transfer: the style targets, the compiled cost, Adam and L-BFGS, coarse to fine, several styles.

The core (nst_utils) holds the losses as the course teaches them; this module runs them fast.
"""
from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from nst_tools.fast import cost_layers
from nst_utils import (
    ALPHA,
    BETA,
    CONTENT_LAYER,
    STYLE_LAYERS,
    NonFiniteLossError,
    NSTError,
    TransferResult,
    compute_content_cost,
    compute_layer_style_cost,
    deprocess,
    generate_noise_image,
    pixel_bounds,
    preprocess,
    resize_image,
    total_cost,
    total_variation_cost,
)


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


def run_transfer(model, content, style, *, iterations=200, optimizer="adam", alpha=ALPHA, beta=BETA,
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


def blend_style_grams(model, styles, weights=None, style_layers=STYLE_LAYERS, content_shape=None):
    r"""The style target of one or several style images: G^[l] = sum_k w_k G_S^(k)[l], sum_k w_k = 1.

    styles: one preprocessed (1, h, w, 3) array or a list of them (sizes may differ); weights: one per
    style (normalised to sum 1, None: equal). A style whose n_H n_W differs from the generated image's
    (``content_shape`` (1, H, W, 3)) has its G_S scaled by the ratio of positions (see style_grams).
    Returns {layer: G (n_C, n_C)} as tf constants.
    """
    styles = styles_list(styles)
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


