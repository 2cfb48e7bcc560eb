"""L-BFGS on the pixels, in TensorFlow: the memory of curvature pairs, the line search, the steps.

``lbfgs`` is a generator of steps like the core's ``adam``: nst_tools.transfer drives either.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from nst_utils import NonFiniteLossError

#: L-BFGS settings: pairs (s, y) kept, Armijo and curvature constants, most cost evaluations per
#: line search, the first step's root-mean-square pixel change, the growth of a step still steep.
LBFGS_MEMORY, LBFGS_C1, LBFGS_C2, LBFGS_EVALS, LBFGS_FIRST_STEP, LBFGS_GROW = 20, 1e-4, 0.9, 8, 25.0, 4.0


def _compact(g, free, S, Y, SY, YY, pos, count):
    """d = -P H P g and g.d from the memory (see lbfgs_state), for a ``g`` of any shape and a memory of any
    size: traced once per process (the memory's tensors are arguments, not captured variables).

    H q in the compact form of Byrd, Nocedal and Schnabel (1994), the pairs as columns oldest first:
    H q = gamma q + S R^-T ((D + gamma Y^T Y) u - gamma Y^T q) - gamma Y u, u = R^-1 S^T q, with R the
    upper triangle of S^T Y (diagonal included), D its diagonal s_i.y_i and gamma = s.y / y.y of the
    newest pair: the same H as the two-loop recursion, in two passes over the memory (S^T q and Y^T q,
    then one combination of its rows) and k x k algebra (k = count), instead of 2 k updates of q."""
    m = tf.shape(S)[0]
    f = tf.reshape(free, [-1])
    q = tf.reshape(g, [-1]) * f
    age = (pos - count + tf.range(count)) % m  # the slots in use, oldest first (S and Y are a ring)
    newest = (pos - 1) % m
    gamma = tf.where(count > 0, SY[newest, newest] / (YY[newest, newest] + 1e-30), 1.0)
    StY = tf.gather(tf.gather(SY, age), age, axis=1)  # k x k, k = count, in age order
    YtY = tf.gather(tf.gather(YY, age), age, axis=1)
    Stq, Ytq = tf.gather(tf.linalg.matvec(S, q), age)[:, None], tf.gather(tf.linalg.matvec(Y, q), age)[:, None]
    R = tf.linalg.band_part(StY, 0, -1)
    u = tf.linalg.triangular_solve(R, Stq, lower=False)  # R^-1 S^T q
    w = tf.linalg.diag_part(StY)[:, None] * u + gamma * (tf.matmul(YtY, u) - Ytq)
    v = tf.linalg.triangular_solve(R, w, lower=False, adjoint=True)  # R^-T w
    a = tf.scatter_nd(age[:, None], v[:, 0], [m])  # back to the slots' order (0 in the unused ones)
    b = tf.scatter_nd(age[:, None], -gamma * u[:, 0], [m])
    # S^T a + Y^T b as row times matrix (matvec(S, a, transpose_a=True) took twice as long here)
    r = (gamma * q + tf.matmul(a[None], S)[0] + tf.matmul(b[None], Y)[0]) * f
    return -tf.reshape(r, tf.shape(g)), -tf.tensordot(tf.reshape(g, [-1]), r, 1)


_ANY, _MATRIX = tf.TensorSpec(None, tf.float32), tf.TensorSpec((None, None))
_INT = tf.TensorSpec((), tf.int32)
_compact = tf.function(_compact, autograph=False,  # no dependence on reading this source
                       input_signature=[_ANY, _ANY, _MATRIX, _MATRIX, _MATRIX, _MATRIX, _INT, _INT])


@tf.function(autograph=False, input_signature=[_MATRIX, _MATRIX, _MATRIX, _MATRIX, _ANY, _ANY, _INT])
def _store(S, Y, SY, YY, s, y, p):
    """The memory with the pair (s, y) in slot p: S and Y with row p replaced, SY = S^T Y with column p
    from S y and YY = Y^T Y with row and column p from Y y. SY's row p (s.y_j) is left as it was: the
    triangle R reads s_i.y_j only where s_i is no newer than y_j, and y_j's column has them all.

    S and Y are new tensors (one copy of each per stored pair), not tf.Variables written in place: a
    row scattered into a variable puts it in TensorFlow's copy-on-read mode, where every later read
    copies it whole (two copies of the memory per direction)."""
    m, p_ = tf.shape(S)[0], p[None, None]
    S, Y = tf.tensor_scatter_nd_update(S, p_, s[None]), tf.tensor_scatter_nd_update(Y, p_, y[None])
    Sy, Yy = tf.linalg.matvec(S, y), tf.linalg.matvec(Y, y)
    row, column = tf.stack([tf.fill([m], p), tf.range(m)], 1), tf.stack([tf.range(m), tf.fill([m], p)], 1)
    SY = tf.tensor_scatter_nd_update(SY, column, Sy)
    YY = tf.tensor_scatter_nd_update(tf.tensor_scatter_nd_update(YY, column, Yy), row, Yy)
    return S, Y, SY, YY


@tf.function(autograph=False, input_signature=[_ANY, _ANY, _ANY])
def _pair(s, y, free):
    """The pair to store, flat (y on the free pixels only), and whether its curvature s.y is positive."""
    s, y = tf.reshape(s, [-1]), tf.reshape(y * free, [-1])
    return s, y, tf.tensordot(s, y, 1) > 1e-10 * tf.tensordot(y, y, 1)


def lbfgs_state(x0, memory):
    """The L-BFGS memory: ``(direction(g, free) -> (d, g.d), update(s, y, free), reset(), rescale(k))`` on
    TF tensors.

    direction: d = -P H P g, P the projection on the free variables (``free``: 1.0 where a pixel may
    move, 0.0 where it is pinned at a bound, see free_mask), as in L-BFGS-B: H applies to the free
    gradient P g and d is 0 on the pinned pixels; P H P is positive definite on the free pixels, so d
    is a descent direction whenever P g != 0. H is the inverse Hessian estimate from the last
    ``memory`` pairs s_i = x_{i+1} - x_i, y_i = g_{i+1} - g_i, H_0 = (s.y / y.y) I from the newest pair
    (I before the first), applied in the compact form (see _compact). update stores a pair only if
    s.y > 0 (curvature), y restricted to the pixels free during that step (a pinned pixel's gradient
    change says nothing about the curvature along the step, and would shrink H_0); it returns whether
    it did. The pairs are rows of S and Y, a ring of ``memory`` slots (the next one ``pos``, ``count``
    in use); next to them the small matrices SY = S^T Y (the entries R needs) and YY = Y^T Y, slot by
    slot, get a column (and YY a row) with each stored pair (see _store). reset forgets the pairs
    (count = 0; the ring fills again from pos). rescale(k): the cost became k times steeper (a live
    weight change): every y_i becomes k y_i, so H becomes H / k and the pairs keep their shape of the
    curvature. The compiled parts (_compact, _store, _pair) are traced once per process, for every
    size and every run.
    """
    n, m = int(np.size(x0)), int(memory)
    state = {"S": tf.zeros((m, n)), "Y": tf.zeros((m, n)), "SY": tf.zeros((m, m)), "YY": tf.zeros((m, m)),
             "pos": 0, "count": 0}
    tensors = ("S", "Y", "SY", "YY")

    def direction(g, free):
        return _compact(g, free, *(state[k] for k in tensors), tf.constant(state["pos"]),
                        tf.constant(state["count"]))

    def update(s, y, free):
        s, y, curved = _pair(s, y, free)
        if not bool(curved):
            return False
        p = state["pos"]
        state.update(zip(tensors, _store(*(state[k] for k in tensors), s, y, tf.constant(p))))
        state.update(pos=(p + 1) % m, count=min(state["count"] + 1, m))
        return True

    def reset():
        state["count"] = 0

    def rescale(k):
        state.update(Y=state["Y"] * k, SY=state["SY"] * k, YY=state["YY"] * k**2)

    return direction, update, reset, rescale


def free_mask(x, g, lo, hi):
    """1.0 where a pixel may move, 0.0 where it is pinned: at its lower bound with g > 0 or at its upper
    bound with g < 0 (a descent step would push it out of [lo, hi]); L-BFGS-B's active set."""
    pinned = tf.logical_or(tf.logical_and(x <= lo, g > 0), tf.logical_and(x >= hi, g < 0))
    return 1.0 - tf.cast(pinned, tf.float32)


def line_search(trial, J, gd, t):
    """Find a step t along d with phi(t) = J(clip(x + t d)): returns the best trial tuple, or None.

    ``trial(t) -> (x_t, J_t, J_content, J_style, g_t, g.(x_t - x), phi'(t))``, phi'(t) = g_t.d over the
    pixels x + t d leaves unclipped (the others no longer move); J = phi(0), gd = phi'(0) < 0.
    A step is acceptable if J_t <= J + c1 g.(x_t - x) (Armijo); it is taken unless the slope is still
    steep (g_t.d < c2 gd), then t grows x LBFGS_GROW. Once a step was acceptable, the first that is not
    ends the search with the best one (halving back towards it cost the first iteration 2 or 3 more
    evaluations on the VGG costs, none of them lower). Before that, a failed t goes to the minimum of
    the parabola through phi(0), its slope and phi(t) (kept within [0.1 t, 0.5 t]), so a step far too
    long is cut in one evaluation (halved where the cost is not finite). At most LBFGS_EVALS evaluations.
    """
    t_lo, t_hi, best = 0.0, None, None
    for _ in range(LBFGS_EVALS):
        out = trial(t)
        J_t, drop = float(out[1]), float(out[5])  # drop: g.(x_t - x), phi'(0) t along the clipped path
        if np.isfinite(J_t) and J_t <= J + LBFGS_C1 * drop:
            if best is None or J_t < best[1]:
                best = (out[0], J_t, *out[2:5])
            if float(out[6]) >= LBFGS_C2 * gd:
                break
            t_lo = t
            t = (t_lo + t_hi) / 2 if t_hi is not None else t * LBFGS_GROW
        elif best is not None:  # grown past the acceptable step: keep it
            break
        elif t_lo == 0 and np.isfinite(J_t) and drop < 0:  # the parabola J + drop s + (J_t - J - drop) s^2
            t_hi, t = t, t * min(max(-drop / (2 * (J_t - J - drop)), 0.1), 0.5)
        else:
            t_hi = t
            t = (t_lo + t_hi) / 2
    return best


def lbfgs(cost, x0, lo, hi, memory=LBFGS_MEMORY):
    """L-BFGS on the pixels, projected on [lo, hi]: a generator, one iteration per ``next()``, yielding
    J, J_content, J_style, the image x (NumPy, preprocessed) and {"evaluations": cost evaluations so far}.

    Each iteration: d = -H g on the free pixels, 0 on those pinned at a bound (see free_mask and
    lbfgs_state), then a line search on x(t) = clip(x + t d) (see line_search): t = 1 first (in the
    first iteration, a step whose root-mean-square pixel change is LBFGS_FIRST_STEP), usually
    accepted, so one cost evaluation per iteration, even when a style drives many pixels to 0 or 255.
    The memory is cleared only if no step lowers the cost; the generator ends when steepest descent
    fails too, or every pixel is pinned (converged). ``send(cost)``: the cost changed (new weights, or a
    new function): J and g are evaluated again at x before the next iteration; the memory is kept,
    rescaled by |g_new| / |g_old| (beta x10 makes the cost about 10 times steeper: without the rescale
    the next line searches took 2 evaluations each instead of 1, in the lab at 256 px).
    """
    lo, hi = tf.constant(lo), tf.constant(hi)
    direction, update, reset, rescale = lbfgs_state(x0, memory)

    def trial(x, g, d, t):
        x_t = tf.clip_by_value(x + t * d, lo, hi)
        J, Jc, Js, g_t = cost(x_t)
        moving = tf.cast(tf.logical_and(x_t > lo, x_t < hi), tf.float32)  # not at a bound: still moving at t
        return x_t, J, Jc, Js, g_t, tf.reduce_sum(g * (x_t - x)), tf.reduce_sum(g_t * d * moving)

    def evaluate(x):
        J, _, _, g = cost(x)
        if not np.isfinite(float(J)):
            raise NonFiniteLossError(f"the cost became {float(J)} at the start; lower alpha/beta and run again")
        return float(J), g

    x, evaluations = tf.constant(x0, tf.float32), 1
    J, g = evaluate(x)
    fresh = True
    while True:
        free = free_mask(x, g, lo, hi)
        d, gd = direction(g, free)
        if float(gd) >= 0:  # not a descent direction (numerical trouble): steepest descent
            reset()
            d, gd = direction(g, free)
            if float(gd) >= 0:  # no free pixel has a gradient: converged on the bounds
                return
        t = LBFGS_FIRST_STEP / max(float(tf.sqrt(tf.reduce_mean(tf.square(d)))), 1e-30) if fresh else 1.0
        tried = []
        best = line_search(lambda t, x=x, g=g, d=d, tried=tried:  # eager around the compiled cost: a new run
                           tried.append(t) or trial(x, g, d, tf.constant(t, tf.float32)), J, float(gd), t)  # traces nothing
        evaluations += len(tried)
        if best is None:
            if fresh:
                return  # even steepest descent cannot lower the cost: converged
            reset()
            fresh = True
            continue
        x_t, J_t, Jc, Js, g_t = best
        update(x_t - x, g_t - g, free)
        x, J, g, fresh = x_t, J_t, g_t, False
        new_cost = yield J, Jc, Js, x.numpy(), {"evaluations": evaluations}
        if new_cost is not None:
            cost, g_old = new_cost, g
            J, g = evaluate(x)
            evaluations += 1
            k = float(tf.norm(g) / tf.norm(g_old))
            if np.isfinite(k) and k > 0:
                rescale(k)
