"""L-BFGS on the pixel box (nst_tools/lbfgs.py): the active set, the direction, the evaluation count."""
import numpy as np
import pytest
import tensorflow as tf

import nst_utils as nst
from nst_tools import lbfgs, transfer

MEAN = np.array([123.68, 116.779, 103.939], np.float32)


def _box_problem(shape=(1, 16, 24, 3), seed=0):
    """A cost whose minimum puts 60% of the pixels at a bound: those pulled down have gradient +20
    (minimum at 0), those pulled up -20 (minimum at 255), the rest an ill-conditioned quadratic
    (curvatures 1 .. 50) around targets inside the range. Returns (cost, x0, minimiser, push,
    evaluations): cost counts its calls in the tf.Variable ``evaluations`` (also when traced once)."""
    rng = np.random.default_rng(seed)
    lo, hi = nst.pixel_bounds(MEAN)
    w = rng.uniform(1, 50, shape).astype(np.float32)
    target = rng.uniform(0, 255, shape).astype(np.float32) - MEAN
    push = rng.choice([-1.0, 0.0, 1.0], shape, p=[0.3, 0.4, 0.3]).astype(np.float32)  # -1: to 0, +1: to 255
    inside = (push == 0).astype(np.float32)
    evaluations = tf.Variable(0)

    def cost(x):
        evaluations.assign_add(1)
        r = (x - target) * inside
        linear = 20 * np.maximum(push, 0) * (hi - x) + 20 * np.maximum(-push, 0) * (x - lo)  # 0 at the bound
        J = 0.5 * tf.reduce_sum(w * r * r) + tf.reduce_sum(linear)
        return J, J, tf.constant(0.0), w * r - 20 * push

    x0 = nst.preprocess(rng.uniform(0, 255, shape[1:]).astype(np.float32), MEAN)
    best = np.where(push > 0, hi, np.where(push < 0, lo, target))
    return cost, x0, best, push, evaluations


def test_free_mask():
    lo, hi = (tf.constant(b) for b in nst.pixel_bounds(MEAN))
    x = tf.concat([lo, lo, lo + 1, hi, hi, hi - 1], axis=0)  # (6, 1, 1, 3)
    g = tf.constant([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])[:, None, None, None] * tf.ones((6, 1, 1, 3))
    free = lbfgs.free_mask(x, g, lo, hi).numpy()[:, 0, 0, 0]
    # pinned: at 0 pushed down, at 255 pushed up; free: pushed inwards or inside the range
    np.testing.assert_array_equal(free, [0, 1, 1, 0, 1, 1])


def _two_loop(S, Y, q, gamma=None):
    """Textbook L-BFGS two-loop recursion H q in NumPy (float64), pairs oldest first, H_0 = gamma I
    (default: s.y / y.y of the newest pair)."""
    q, alphas = q.astype(np.float64).copy(), []
    for s, y in zip(S[::-1], Y[::-1]):
        a = (s @ q) / (s @ y)
        alphas.append(a)
        q -= a * y
    r = ((S[-1] @ Y[-1]) / (Y[-1] @ Y[-1]) if gamma is None else gamma) * q
    for (s, y), a in zip(zip(S, Y), alphas[::-1]):
        r += (a - (y @ r) / (s @ y)) * s
    return r


def test_direction_is_projected_quasi_newton(rng):
    n = 30
    direction, update, *_ = lbfgs.lbfgs_state(np.zeros(n, np.float32), 5)
    A = rng.normal(size=(n, n))
    A = A @ A.T + n * np.eye(n)  # a positive definite Hessian: y = A s
    free = (rng.uniform(size=n) > 0.4).astype(np.float32)
    S, Y = [], []
    for _ in range(3):
        s = rng.normal(size=n) * free  # pinned pixels do not move
        y = A @ s + 5.0 * (1 - free) * rng.normal(size=n)  # their gradients change all the same
        assert bool(update(tf.constant(s, tf.float32), tf.constant(y, tf.float32), tf.constant(free)))
        S.append(s)
        Y.append(y * free)  # the memory keeps y on the free pixels only
    g = rng.normal(size=n)
    d, gd = direction(tf.constant(g, tf.float32), tf.constant(free))
    d = d.numpy()
    assert np.all(d[free == 0] == 0)  # a pinned pixel is out of the direction
    expected = -free * _two_loop(np.array(S), np.array(Y), free * g)  # d = -P H P g
    np.testing.assert_allclose(d, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    assert float(gd) == pytest.approx(float(g @ d), rel=1e-4) and float(gd) < 0


def _reference(pairs, g, free, gamma=None):
    """d = -P H P g by the NumPy two-loop recursion on ``pairs`` [(s, y)], oldest first (y already masked)."""
    if not pairs:
        return -free * g
    S, Y = (np.array(v) for v in zip(*pairs))
    return -free * _two_loop(S, Y, free * g, gamma)


def test_compact_direction_is_the_two_loop_recursion_through_the_ring(rng):
    # The compact form must give the two-loop's H while the memory fills, after it wraps around (the
    # oldest pair is then in the middle of the ring: the triangle R needs age order), after a pair that
    # is not curved (not stored), after reset (d = -P g), while the ring fills again from mid-way and
    # after rescale(k) (every y_i becomes k y_i).
    n, m = 40, 4
    direction, update, reset, rescale = lbfgs.lbfgs_state(np.zeros((2, n // 2), np.float32), m)
    A = rng.normal(size=(n, n))
    A = A @ A.T / n + np.diag(rng.uniform(0.5, 20, n))  # positive definite, curvatures ~0.5 .. 25
    stored = []

    def store(k):
        for _ in range(k):
            free = (rng.uniform(size=n) > 0.3).astype(np.float32)
            s = rng.normal(size=n) * free * rng.uniform(0.1, 10)  # steps of many lengths: gamma varies
            y = A @ s + 3.0 * (1 - free) * rng.normal(size=n)
            shaped = [tf.constant(v.reshape(2, n // 2), tf.float32) for v in (s, y, free)]
            assert bool(update(*shaped))
            stored.append((s.astype(np.float32).astype(np.float64), (y * free).astype(np.float32).astype(np.float64)))

    def check(pairs):
        free = (rng.uniform(size=n) > 0.2).astype(np.float32)
        g = rng.normal(size=n) * 10
        d, gd = direction(tf.constant(g.reshape(2, n // 2), tf.float32), tf.constant(free.reshape(2, n // 2)))
        d = d.numpy().reshape(-1)
        expected = _reference(pairs, g.astype(np.float32), free)
        np.testing.assert_allclose(d, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
        assert float(gd) == pytest.approx(float(g.astype(np.float32) @ d), rel=1e-4) and float(gd) < 0
        if len(pairs) > 1:  # the check can fail: the pairs in another order (the oldest last, as in the ring's
            (s0, y0), (s1, y1) = pairs[0], pairs[-1]  # slot order once it wrapped), or H_0 from the oldest pair
            wrong = [_reference(pairs[1:] + pairs[:1], g, free, (s1 @ y1) / (y1 @ y1)),
                     _reference(pairs, g, free, (s0 @ y0) / (y0 @ y0))]
            assert all(np.abs(w - expected).max() > 1e-2 * np.abs(expected).max() for w in wrong)

    check([])  # nothing stored: steepest descent on the free pixels
    store(3)
    check(stored)  # count < m
    store(4)
    check(stored[-m:])  # count == m, the newest in slot 2, the oldest in slot 3
    s = tf.ones((2, n // 2))
    assert not bool(update(s, -s, tf.ones((2, n // 2))))  # s.y < 0: not stored
    check(stored[-m:])
    store(m + 2)
    check(stored[-m:])  # wrapped twice
    reset()
    check([])
    store(2)  # from the middle of the ring; the other slots hold pairs from before reset
    check(stored[-2:])
    rescale(10.0)
    check([(s, 10 * y) for s, y in stored[-2:]])


def test_line_search_cuts_a_step_far_too_long_in_one_evaluation():
    # phi(t) = 1 - t + 5 t^2 along d: t = 1 is 10 times too long (the minimum is at t = 0.1). Halving
    # needs 4 evaluations (1, 0.5, 0.25, 0.125); the parabola through phi(0), phi'(0) and phi(1) lands
    # on 0.1 at once, where the slope is flat.
    seen = []

    def trial(t):
        seen.append(t)
        return "x_t", 1 - t + 5 * t * t, 0.0, 0.0, "g_t", -t, -1 + 10 * t

    best = lbfgs.line_search(trial, 1.0, -1.0, 1.0)
    assert seen == pytest.approx([1.0, 0.1]) and best[0] == "x_t" and best[1] == pytest.approx(0.95)


def test_bounded_run_one_evaluation_per_iteration():
    # Before the active set, the pinned pixels stayed in the direction and in the slope test: each
    # line search kept growing the step they could not take (79 evaluations for 30 iterations).
    cost, x0, best, push, evaluations = _box_problem()
    lo, hi = nst.pixel_bounds(MEAN)
    r = nst.follow(lbfgs.lbfgs(cost, x0, lo, hi), 30, MEAN, x0)  # the steps, followed as a transfer does
    assert r.iterations == 30 and int(evaluations.numpy()) <= 1.2 * 30
    assert r.evaluations == int(evaluations.numpy())
    counts = [h["evaluations"] for h in r.history]
    assert counts[0] >= 2 and counts[-1] == r.evaluations  # the first cost, then the first line search
    assert all(b > a for a, b in zip(counts, counts[1:]))  # a running count, one or more per iteration
    J = [h["J"] for h in r.history]
    assert all(b < a for a, b in zip(J, J[1:])) and J[-1] < 1e-5 * J[0]
    assert np.all((r.x >= lo) & (r.x <= hi))
    np.testing.assert_array_equal(r.x[push != 0], best[push != 0])  # every pushed pixel sits on its bound
    np.testing.assert_allclose(r.x, best, atol=2.0)  # within 2 levels of 255
    assert r.summary()["evaluations"] == r.evaluations


def test_saturating_style_one_evaluation_per_iteration(tiny_model, make_images, monkeypatch):
    # A black-and-white checkerboard style drives many pixels to 0 or 255; before the active set this
    # took 2.7 evaluations per iteration (and reached a higher cost).
    content, _ = make_images(64, 96, seed=3)
    yy, xx = np.mgrid[0:64, 0:96]
    checker = np.repeat((255.0 * ((yy // 4 + xx // 4) % 2))[..., None], 3, -1).astype(np.float32)
    evaluations = tf.Variable(0)

    class Counted(transfer._ScaleCost):  # the cost of each scale, counting its calls
        def __call__(self, x):  # traced into the line search's graph: counts each run there too
            evaluations.assign_add(1)
            return super().__call__(x)

    monkeypatch.setattr(transfer, "_ScaleCost", Counted)
    r = transfer.run_transfer(tiny_model, content, checker, iterations=40, optimizer="lbfgs", seed=0)
    assert np.mean((r.image == 0) | (r.image == 255)) > 0.1
    assert r.iterations == 40 and int(evaluations.numpy()) <= 1.2 * 40
    assert r.evaluations == r.history[-1]["evaluations"] == int(evaluations.numpy())


def test_a_grown_step_that_fails_ends_the_search_with_the_step_before():
    # phi(t) = 1 - t + t^6 / 100: t = 1 is acceptable but still steep (phi' = -0.94), so t grows to 4,
    # where phi is far higher (38); the search keeps t = 1 at once instead of trying 2.5 (higher again).
    seen = []

    def trial(t):
        seen.append(t)
        return f"x_{t}", 1 - t + t**6 / 100, 0.0, 0.0, "g_t", -t, -1 + 6 * t**5 / 100

    best = lbfgs.line_search(trial, 1.0, -1.0, 1.0)
    assert seen == [1.0, 4.0] and best[0] == "x_1.0" and best[1] == pytest.approx(0.01)


def test_a_cost_made_steeper_mid_run_keeps_the_same_steps():
    # L-BFGS is invariant to the cost's scale, so after send(10 x cost) the run must go on exactly as if
    # nothing had changed: the same images and one evaluation per iteration. Without rescaling the
    # memory, H stayed 10 times too large and each line search first tried a step 10 times too long.
    cost, x0, _, _, evaluations = _box_problem(seed=1)
    lo, hi = nst.pixel_bounds(MEAN)

    def steeper(x):
        J, Jc, Js, g = cost(x)
        return 10 * J, 10 * Jc, Js, 10 * g

    plain = lbfgs.lbfgs(cost, x0, lo, hi)
    expected = [next(plain) for _ in range(12)]
    changed = lbfgs.lbfgs(cost, x0, lo, hi)
    got = [next(changed) for _ in range(4)] + [changed.send(steeper)] + [next(changed) for _ in range(7)]
    for k, (a, b) in enumerate(zip(expected[4:], got[4:])):
        np.testing.assert_allclose(b[3], a[3], atol=1e-2, err_msg=f"iteration {k + 5} after the change")
        assert float(b[0]) == pytest.approx(10 * float(a[0]), rel=1e-3)
    extra = [g[4]["evaluations"] - e[4]["evaluations"] for e, g in zip(expected, got)]
    assert extra == [0] * 4 + [1] * 8  # the cost evaluated again at the change, then the same line searches
