"""run_style_transfer end to end on the tiny weights: both optimisers, callbacks, stops, NaNs."""
import dataclasses
import re
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

import nst_utils as nst
from nst_tools import transfer


@pytest.fixture(scope="module")
def images(make_images):
    return make_images(32, 48, seed=1)


@pytest.mark.parametrize("optimizer,lr", [("adam", 2.0), ("lbfgs", 1.0)])
def test_both_optimisers_lower_the_total_cost(tiny_model, images, optimizer, lr):
    r = transfer.run_transfer(tiny_model, *images, iterations=15, optimizer=optimizer, lr=lr, seed=0)
    J = [h["J"] for h in r.history]
    assert r.iterations == len(J) == 15 and r.stopped == "finished"
    assert J[-1] < 0.7 * J[0]
    assert r.J == min(J)  # the best image is returned
    assert r.image.dtype == np.uint8 and r.image.shape == (32, 48, 3)
    np.testing.assert_array_equal(r.image, nst.deprocess(r.x, tiny_model.mean))
    for h in r.history:
        assert set(h) == {"iteration", "seconds", "J", "J_content", "J_style", "evaluations"}
    counts = [h["evaluations"] for h in r.history]
    assert counts[-1] == r.evaluations == r.summary()["evaluations"]
    if optimizer == "adam":  # one cost evaluation per step
        assert counts == list(range(1, 16))
    else:  # a first one, then one or more per iteration
        assert all(b > a for a, b in zip([1] + counts, counts))
        assert h["J"] == pytest.approx(10 * h["J_content"] + 40 * h["J_style"], rel=1e-4)


def test_costs_match_the_library_losses(tiny_model, images):
    content, style = images
    r = transfer.run_transfer(tiny_model, content, style, iterations=1, init="content", alpha=2, beta=3)
    h = r.history[0]
    assert h["J_content"] == 0.0  # started from the content image itself
    feats_G = tiny_model(nst.preprocess(content), [name for name, _ in nst.STYLE_LAYERS])
    feats_S = tiny_model(nst.preprocess(style), [name for name, _ in nst.STYLE_LAYERS])
    J_style = float(nst.compute_style_cost(feats_S, feats_G))
    assert h["J_style"] == pytest.approx(J_style, rel=1e-4)
    assert h["J"] == pytest.approx(3 * J_style, rel=1e-4)


def test_callback_every_n_with_image(tiny_model, images):
    seen = []
    transfer.run_transfer(tiny_model, *images, iterations=7, callback_every=3,
                           callback=lambda i, costs, img: seen.append((i, set(costs), img.shape, img.dtype)))
    assert [s[0] for s in seen] == [3, 6, 7]  # every 3rd, then the last one
    assert all(s[1] == {"J", "J_content", "J_style", "seconds"} for s in seen)
    assert all(s[2] == (32, 48, 3) and s[3] == np.uint8 for s in seen)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_stop_request_returns_best_so_far(tiny_model, images, optimizer):
    stop = threading.Event()

    def cb(i, costs, img):
        if i == 3:
            stop.set()

    r = transfer.run_transfer(tiny_model, *images, iterations=50, optimizer=optimizer, callback=cb,
                               callback_every=1, stop_event=stop)
    assert r.stopped == "stop requested" and r.iterations == 3
    assert r.J == min(h["J"] for h in r.history)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_ctrl_c_returns_best_so_far(tiny_model, images, optimizer):
    def cb(i, costs, img):
        if i == 2:
            raise KeyboardInterrupt

    r = transfer.run_transfer(tiny_model, *images, iterations=50, optimizer=optimizer, callback=cb,
                               callback_every=1)
    assert r.stopped == "interrupted" and r.iterations == 2 and r.image.shape == (32, 48, 3)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_nan_stops_with_a_clear_message(tiny_model, images, optimizer):
    with pytest.raises(nst.NSTError, match=r"^alpha must be a finite number >= 0, not nan$"):  # refused up front
        transfer.run_transfer(tiny_model, *images, iterations=5, optimizer=optimizer, alpha=float("nan"))
    nan = lambda a_C, a_G: tf.constant(float("nan"))  # noqa: E731  a cost that becomes NaN while running
    with pytest.raises(nst.NonFiniteLossError, match="the cost became nan"):
        transfer.run_transfer(tiny_model, *images, iterations=5, optimizer=optimizer, content_cost=nan)


def test_pixels_stay_in_range_and_seed_is_reproducible(tiny_model, images):
    a = transfer.run_transfer(tiny_model, *images, iterations=3, lr=200.0, seed=5)
    b = transfer.run_transfer(tiny_model, *images, iterations=3, lr=200.0, seed=5)
    np.testing.assert_array_equal(a.image, b.image)
    lo, hi = -tiny_model.mean, 255 - tiny_model.mean
    assert np.all(a.x >= lo - 1e-3) and np.all(a.x <= hi + 1e-3)


def test_style_of_another_size_and_zero_iterations(tiny_model, images):
    content, style = images
    r = transfer.run_transfer(tiny_model, content, np.concatenate([style, style]), iterations=2)
    assert r.image.shape == content.shape and np.isfinite(r.J)
    r0 = transfer.run_transfer(tiny_model, content, style, iterations=0, init="content")
    assert r0.iterations == 0 and r0.history == []
    np.testing.assert_array_equal(r0.image, content.astype(np.uint8))


def test_bad_arguments(tiny_model, images):
    with pytest.raises(nst.NSTError, match="optimizer must be"):
        transfer.run_transfer(tiny_model, *images, optimizer="sgd")
    with pytest.raises(nst.NSTError, match="init must be"):
        transfer.run_transfer(tiny_model, *images, init="zeros")
    with pytest.raises(nst.NSTError, match="conv9_1 not in"):
        transfer.run_transfer(tiny_model, *images, content_layer="conv9_1")


def _costs(result):
    return np.array([[h["J"], h["J_content"], h["J_style"]] for h in result.history])


def test_passing_the_library_losses_gives_the_default_run(tiny_model, images):
    """The library's functions, passed as such or wrapped (the slow path: a_S, not Gram matrices), paint the same."""
    run = dict(iterations=4, seed=0)
    default = transfer.run_transfer(tiny_model, *images, **run)
    same = transfer.run_transfer(tiny_model, *images, content_cost=nst.compute_content_cost,
                                  style_cost=nst.compute_style_cost, total_cost=nst.total_cost, **run)
    np.testing.assert_allclose(_costs(same), _costs(default), rtol=1e-5)  # the taught losses: float32 rounding apart
    wrapped = transfer.run_transfer(tiny_model, *images, content_cost=lambda a, b: nst.compute_content_cost(a, b),
                                     style_cost=lambda a, b, layers: nst.compute_style_cost(a, b, layers),
                                     total_cost=lambda c, s, a, b: nst.total_cost(c, s, a, b), **run)
    np.testing.assert_allclose(_costs(wrapped), _costs(default), rtol=1e-4)
    # a style of another size: its activations are scaled like the default's Gram matrices
    content, style = images
    big = np.concatenate([style, style])
    default = transfer.run_transfer(tiny_model, content, big, **run)
    wrapped = transfer.run_transfer(tiny_model, content, big, style_cost=lambda a, b, layers:
                                     nst.compute_style_cost(a, b, layers), **run)
    np.testing.assert_allclose(_costs(wrapped), _costs(default), rtol=1e-4)


def test_the_losses_passed_are_the_losses_the_run_reports(tiny_model, images):
    run = dict(iterations=1, seed=0, alpha=2.0, beta=3.0)
    base = transfer.run_transfer(tiny_model, *images, **run).history[0]
    h = transfer.run_transfer(tiny_model, *images, content_cost=lambda a, b: 2 * nst.compute_content_cost(a, b),
                               **run).history[0]
    assert h["J_content"] == pytest.approx(2 * base["J_content"], rel=1e-5)
    assert h["J_style"] == pytest.approx(base["J_style"], rel=1e-5)
    assert h["J"] == pytest.approx(2 * 2 * base["J_content"] + 3 * base["J_style"], rel=1e-5)
    h = transfer.run_transfer(tiny_model, *images, style_cost=lambda a, b, layers:
                               3 * nst.compute_style_cost(a, b, layers), **run).history[0]
    assert h["J_style"] == pytest.approx(3 * base["J_style"], rel=1e-4)
    assert h["J_content"] == pytest.approx(base["J_content"], rel=1e-5)
    h = transfer.run_transfer(tiny_model, *images, total_cost=lambda c, s, a, b: a * c, **run).history[0]
    assert h["J"] == pytest.approx(2 * base["J_content"], rel=1e-5)


def test_a_layer_style_cost_of_ones_own_takes_one_style(tiny_model, images):
    content, style = images
    with pytest.raises(nst.NSTError) as err:
        transfer.run_transfer(tiny_model, content, [style, style[::-1]], iterations=1,
                               style_cost=lambda a, b, layers: nst.compute_style_cost(a, b, layers))
    assert str(err.value) == "losses of your own take one style image: blend several with the library's"


@pytest.mark.parametrize("stub", ["raises", "returns None"])
def test_train_step_check_says_not_implemented_for_a_stub(tiny_model, images, capsys, stub):
    from nst_tools import course

    def step(G, state, alpha=10, beta=40):
        if stub == "raises":
            raise NotImplementedError()
        with tf.GradientTape():  # the notebook's stub: a_G = None, J = None, ... and G left alone
            J = None
        return J

    x_C, x_S = (nst.preprocess(im, tiny_model.mean) for im in images)

    def make_cost(alpha, beta):
        return nst.make_cost_function(tiny_model, x_C, x_S, alpha=alpha, beta=beta)

    assert course.check_train_step(step, make_cost, nst.generate_noise_image(x_C, 0.6, seed=0),
                                   tiny_model.mean) is False
    out = capsys.readouterr()
    why = "it still raises NotImplementedError" if stub == "raises" else "it returns None"
    assert out.out.splitlines() == [course.not_implemented_line("train_step", why)] and out.err == ""


def restore_chroma(stylised, content):  # a learner's answer
    from nst_tools import further

    yiq = further.rgb_to_yiq(content)
    yiq[..., 0] = further.rgb_to_yiq(stylised)[..., 0]
    return np.clip(further.yiq_to_rgb(yiq), 0, 255).round().astype(np.uint8)


def test_restore_chroma_check(capsys):
    """Notebook 07's exercise: PASSED for a right answer, NOT IMPLEMENTED for a stub and for the library's own
    function, FAILED without the clip (with the cause)."""
    from nst_tools import course, further

    def unclipped(stylised, content):
        yiq = further.rgb_to_yiq(content)
        yiq[..., 0] = further.rgb_to_yiq(stylised)[..., 0]
        return further.yiq_to_rgb(yiq).round().astype(np.uint8)

    assert course.check_restore_chroma(restore_chroma) is True
    assert course.check_restore_chroma(lambda stylised, content: None) is False
    assert course.check_restore_chroma(unclipped) is False
    assert course.check_restore_chroma(further.restore_chroma) is False
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("PASSED: restore_chroma = ") and "3 test cases" in lines[0]
    assert lines[1] == course.not_implemented_line("restore_chroma")
    assert lines[2] == ("FAILED: restore_chroma: the result is not clipped to [0, 255] before the uint8 conversion "
                        "(values wrap around)")
    assert lines[3].startswith("for random images of size 4x6: got shape (4, 6, 3)")
    assert lines[-1].startswith("NOT IMPLEMENTED: restore_chroma: this is the library's own function")


# --- Adam itself, against NumPy, on a cost with a known gradient ----------------------------------

MEAN = np.array([123.68, 116.779, 103.939], np.float32)


def _quadratic(shape=(1, 6, 8, 3), seed=0, low=-300, high=560):
    """J(x) = 1/2 sum w (x - target)^2 (gradient w (x - target)), targets uniform in [low, high]
    (beyond the pixel range by default, so Adam's steps push pixels out of it); x0 inside the range."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 4, shape)
    target = rng.uniform(low, high, shape) - MEAN.reshape(1, 1, 1, 3)
    x0 = nst.preprocess(rng.uniform(0, 255, shape[1:]), MEAN)

    def cost(x):
        r = x - target.astype(np.float32)
        J = 0.5 * tf.reduce_sum(w.astype(np.float32) * r * r)
        return J, J, tf.constant(0.0), w.astype(np.float32) * r

    return cost, x0, w, target


def _numpy_adam(w, target, x0, steps, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam with bias correction, clipped to [-mean, 255 - mean] after each step: [(J(x_k), x_k)]."""
    lo, hi = -MEAN.reshape(1, 1, 1, 3), 255 - MEAN.reshape(1, 1, 1, 3)
    x, m, v, out = x0.astype(np.float64), 0.0, 0.0, []
    for t in range(1, steps + 1):
        g = w * (x - target)
        out.append((0.5 * np.sum(w * (x - target) ** 2), x.copy()))
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        x = np.clip(x - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), lo, hi)
    return out, x


@pytest.mark.parametrize("adam", [nst.adam, transfer.adam], ids=["core", "compiled"])
def test_adam_matches_numpy_with_bias_correction_and_clipping(adam):
    cost, x0, w, target = _quadratic()
    r = nst.follow(adam(cost, x0, *nst.pixel_bounds(MEAN), 7.0), 12, MEAN, x0)
    trajectory, x_end = _numpy_adam(w, target, x0, 12, 7.0)
    lo, hi = nst.pixel_bounds(MEAN)
    assert np.mean((x_end == lo) | (x_end == hi)) > 0.2  # many pixels were clipped
    np.testing.assert_allclose([h["J"] for h in r.history], [J for J, _ in trajectory], rtol=1e-4)
    # the cost falls all along: the best image is the last one measured, x before the 12th step
    np.testing.assert_allclose(r.x, trajectory[-1][1], atol=1e-3)
    assert r.evaluations == 12 and [h["evaluations"] for h in r.history] == list(range(1, 13))


@pytest.mark.parametrize("adam", [nst.adam, transfer.adam], ids=["core", "compiled"])
def test_adam_returns_the_best_image_in_range_when_the_cost_rises(adam):
    # lr 120 overshoots the targets (all inside the range) and past 0 and 255 (a quarter of the
    # steps would leave the range): the cost falls, then rises again by the end
    cost, x0, w, target = _quadratic(seed=1, low=20, high=235)
    r = nst.follow(adam(cost, x0, *nst.pixel_bounds(MEAN), 120.0), 10, MEAN, x0)
    trajectory, _ = _numpy_adam(w, target, x0, 10, 120.0)
    J = [h["J"] for h in r.history]
    np.testing.assert_allclose(J, [J for J, _ in trajectory], rtol=1e-4)
    best = int(np.argmin(J))
    assert best <= len(J) - 3 and J[-1] > 1.2 * J[best]  # best != last
    assert r.J == J[best]
    np.testing.assert_allclose(r.x, trajectory[best][1], atol=1e-2)  # the image that had the lowest cost
    lo, hi = nst.pixel_bounds(MEAN)
    assert np.all((r.x >= lo) & (r.x <= hi))
    np.testing.assert_array_equal(r.image, nst.deprocess(r.x, MEAN))


def test_the_cores_loop_is_the_toolboxs_adam(tiny_model, images):
    """nst.run_style_transfer (the loop notebook 05 writes) and the full transfer's Adam give the same run."""
    core = nst.run_style_transfer(tiny_model, *images, iterations=6, seed=3, alpha=2, beta=30)
    full = transfer.run_transfer(tiny_model, *images, iterations=6, seed=3, alpha=2, beta=30, optimizer="adam")
    np.testing.assert_allclose(_costs(core), _costs(full), rtol=2e-4)
    assert core.iterations == full.iterations == 6 and core.evaluations == 6


def test_the_core_refuses_settings_it_does_not_have(tiny_model, images):
    with pytest.raises(nst.NSTError, match=r"^unknown setting\(s\) optimizer: the settings are alpha, beta"):
        nst.run_style_transfer(tiny_model, *images, optimizer="lbfgs")
    for bad, message in [(dict(iterations=-1), "iterations must be a whole number >= 0, not -1"),
                         (dict(iterations=2.5), "iterations must be a whole number >= 0, not 2.5"),
                         (dict(iterations=float("nan")), "iterations must be a whole number >= 0, not nan"),
                         (dict(lr="2"), "lr must be a finite number >= 0, not '2'"),
                         (dict(tv_weight=-1), "tv_weight must be a finite number >= 0, not -1"),
                         (dict(style_layers=["conv1_1"]), "style_layers must be (layer, weight >= 0) pairs"),
                         (dict(seed=True), "seed must be a whole number >= 0, not True")]:
        with pytest.raises(nst.NSTError, match="^" + re.escape(message)):
            nst.run_style_transfer(tiny_model, *images, **bad)
    with pytest.raises(nst.NSTError, match="callback must be a function"):
        nst.run_style_transfer(tiny_model, *images, callback=5)
    with pytest.raises(nst.NSTError, match="stop_event a threading.Event"):
        nst.run_style_transfer(tiny_model, *images, stop_event=True)


def test_callbacks_count_the_runs_iterations_across_scales(tiny_model, make_images):
    seen = []
    transfer.run_transfer(tiny_model, *make_images(64, 96, 2), iterations=12, scales=[(0.5, 5), 1], seed=0,
                          callback=lambda i, costs, image: seen.append((i, image.shape[:2])), callback_every=3)
    assert [i for i, _ in seen] == [3, 6, 9, 12]
    assert seen[0][1] == (32, 48) and seen[-1][1] == (64, 96)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_watch_sees_every_image_evaluated_before_its_cost(tiny_model, make_images, optimizer):
    content, style = make_images(64, 96, 2)
    s = transfer.TransferSettings(optimizer=optimizer, iterations=8, scales=[(0.5, 3), 1], seed=0)
    watched, steps = [], []
    watch = lambda x: watched.append(np.asarray(x).copy())  # noqa: E731
    for *_, x, info in transfer.transfer_steps(tiny_model, content, [style], s, watch=watch):
        steps.append((x, info["evaluations"], len(watched)))
    assert [n for _, n, _ in steps] == [k for _, _, k in steps]  # one call per evaluation, all scales counted
    assert [w.shape[1:3] for w in watched[:2]] == [(32, 48)] * 2 and watched[-1].shape[1:3] == (64, 96)
    for (x, _, k), (_, _, before) in zip(steps, [(None, 0, 1)] + steps):
        if optimizer == "adam":  # Adam's step is the image just evaluated
            np.testing.assert_array_equal(x, watched[k - 1])
        else:  # L-BFGS's, the best of its line search's trials
            assert any(np.array_equal(x, w) for w in watched[before:k])


def test_targets_are_computed_once_for_the_same_pixels_and_layers(tiny_model, make_images, forward_passes):
    content, style = make_images(32, 48, seed=3)
    c, st = nst.preprocess(content, tiny_model.mean), [nst.preprocess(style, tiny_model.mean)]
    content_layer, names = transfer._needs(tiny_model, transfer.TransferSettings())
    forwards = forward_passes
    transfer.forget_targets(tiny_model)
    a_C, grams = transfer.targets(tiny_model, c, st, None, content_layer, names)
    assert len(forwards) == 2  # the content's forward pass and the style's
    np.testing.assert_allclose(a_C.numpy(), tiny_model(tf.constant(c), [content_layer])[content_layer].numpy(), rtol=1e-5)
    a_S = tiny_model(tf.constant(st[0]), names)
    for n, G in zip(names, grams):
        a = a_S[n].numpy().reshape(-1, a_S[n].shape[-1])
        np.testing.assert_allclose(G.numpy(), a.T @ a, rtol=1e-4)
    again = transfer.targets(tiny_model, c.copy(), [st[0].copy()], None, content_layer, names)  # equal pixels
    assert again[0] is a_C and again[1] is grams and len(forwards) == 2
    other = st[0].copy()
    other[0, 0, 0, 0] += 1.0  # one value of one pixel
    assert transfer.targets(tiny_model, c, [other], None, content_layer, names)[1] is not grams and len(forwards) == 4
    transfer.targets(tiny_model, c, st, None, content_layer, names[:1])  # other layers: other targets
    transfer.targets(tiny_model, c, st, None, content_layer, names, "bfloat16")  # another precision
    assert len(forwards) == 8
    for k in range(transfer.TARGETS_KEPT):  # as many other images: the first set is no longer kept
        transfer.targets(tiny_model, c + k + 1, st, None, content_layer, names)
    transfer.targets(tiny_model, c, st, None, content_layer, names)
    assert len(forwards) == 8 + 2 * transfer.TARGETS_KEPT + 2
    transfer.forget_targets(tiny_model)
    transfer.targets(tiny_model, c, st, None, content_layer, names)
    assert len(forwards) == 8 + 2 * transfer.TARGETS_KEPT + 4


def test_a_callback_that_raises_ends_the_run_with_the_best_image_kept(tiny_model, images):
    def cb(i, costs, image):
        if i == 3:
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom") as err:
        nst.run_style_transfer(tiny_model, *images, iterations=10, seed=0, callback=cb, callback_every=1)
    r = err.value.result
    assert r.iterations == 3 and r.image.shape == images[0].shape and r.J == min(h["J"] for h in r.history)


def test_a_live_change_keeps_adams_state_and_traces_nothing(tiny_model, images, monkeypatch):
    """send(new settings) between two steps: beta x10 changes the next cost at once, without a retrace."""
    content, style = images
    s = transfer.TransferSettings(iterations=20, seed=0, optimizer="adam")
    steps = transfer.transfer_steps(tiny_model, content, [style], s)
    first = [next(steps) for _ in range(3)]
    traces = []
    real = tf.function
    monkeypatch.setattr(tf, "function", lambda *a, **k: traces.append(1) or real(*a, **k))
    changed = steps.send(dataclasses.replace(s, beta=10 * s.beta))
    J, J_content, J_style = (float(v) for v in changed[:3])
    assert J == pytest.approx(s.alpha * J_content + 10 * s.beta * J_style, rel=1e-4)
    assert traces == []  # the same compiled step: only the weights it reads changed
    # Adam's state went on: the step after the change moves the pixels by about lr, not by a fresh start's
    assert float(first[2][0]) > 0 and changed[3].shape == first[2][3].shape


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_every_live_weight_move_of_the_lab_is_a_value_with_precision_auto(tiny_model, images, traces, optimizer):
    """As the lab runs (keep=True, precision "auto"): beta x10, a style layer to 0 and back, the TV weight
    switched on and alpha to 0 each change the very next cost, and nothing is traced or rebuilt."""
    content, style = images
    s = transfer.TransferSettings(iterations=40, seed=0, optimizer=optimizer, precision="auto")
    steps = transfer.transfer_steps(tiny_model, content, [style], s, keep=True)
    for _ in range(3):
        next(steps)
    traced = list(traces)
    layers = dict(s.style_layers)
    moves = [dict(beta=10 * s.beta), dict(style_layers=tuple((n, 0.0 if n == "conv1_1" else w) for n, w in layers.items())),
             dict(style_layers=s.style_layers), dict(tv_weight=1e-3), dict(alpha=0.0)]
    new = s
    for move in moves:
        new = dataclasses.replace(new, **move)
        J, J_content, J_style, x, _ = steps.send(new)
        tv = float(nst.total_variation_cost(tf.constant(x)))
        assert float(J) == pytest.approx(new.alpha * float(J_content) + new.beta * float(J_style)
                                         + new.tv_weight * tv, rel=1e-4), move
        assert traces == traced, move  # a value the compiled step reads: no new graph
    # the style term follows the layer weights: conv1_1 at 0 leaves out its part of J_style
    steps = transfer.transfer_steps(tiny_model, content, [style], dataclasses.replace(s, iterations=2), keep=True)
    J0 = float(next(steps)[2])
    without = dataclasses.replace(s, style_layers=tuple((n, 0.0 if n == "conv1_1" else w) for n, w in layers.items()))
    J1 = float(steps.send(without)[2])
    assert 0 < J1 < J0


def test_a_layer_the_cost_left_out_switched_on_builds_a_new_cost(tiny_model, images):
    content, style = images
    only = tuple((n, 1.0 if n == "conv2_1" else 0.0) for n, _ in nst.STYLE_LAYERS)
    s = transfer.TransferSettings(iterations=10, seed=0, optimizer="adam", style_layers=only)
    steps = transfer.transfer_steps(tiny_model, content, [style], s)  # not keep: conv2_1 alone is computed
    J_style = float(next(steps)[2])
    both = tuple((n, 1.0 if n in ("conv2_1", "conv3_1") else 0.0) for n, _ in nst.STYLE_LAYERS)
    _, _, J_both, x, _ = steps.send(dataclasses.replace(s, style_layers=both))
    reference = transfer.cost_function(tiny_model, nst.preprocess(content, tiny_model.mean),
                                       nst.preprocess(style, tiny_model.mean), dataclasses.replace(s, style_layers=both))
    assert float(J_both) == pytest.approx(float(reference(tf.constant(x))[2]), rel=1e-5)
    assert float(J_both) > J_style  # conv3_1's term came in (a cost that only set weights would read it as 0)


@pytest.fixture
def traces(monkeypatch):
    """The names of the graphs TensorFlow traces from here on (each tf.function trace makes one)."""
    from tensorflow.python.framework import func_graph

    names, real = [], func_graph.func_graph_from_py_func
    monkeypatch.setattr(func_graph, "func_graph_from_py_func",
                        lambda name, *a, **k: names.append(name) or real(name, *a, **k))
    return names


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_a_second_run_a_second_scale_and_the_lab_trace_nothing(tiny_vgg_path, make_images, traces, optimizer):
    """The step, the targets and L-BFGS's memory are traced once per process for every size: a first run
    traces; a second run at another size, with a second scale, and a lab run at a third size trace nothing."""
    from nst_tools import lab

    model = nst.load_vgg_model(tiny_vgg_path)  # a model of its own: nothing traced for it yet
    s = transfer.TransferSettings(iterations=4, seed=0, optimizer=optimizer, precision="float32")
    transfer.run_transfer(model, *make_images(48, 64, 1), s)
    assert traces  # the first run traced its step (and its targets, and L-BFGS's parts)
    first = list(traces)
    r = transfer.run_transfer(model, *make_images(64, 96, 2), dataclasses.replace(s, scales=[(0.5, 2), 1], seed=1))
    assert r.iterations == 4 and traces == first  # another size, two scales: no new trace
    runner = lab.LabRunner(model)
    runner.run(lab.LabSettings(optimizer=optimizer, precision="float32", size=80, iterations=3), *make_images(60, 80, 3))
    assert runner.wait(60) and runner.error is None and traces == first


def test_the_labs_warm_up_leaves_its_first_run_nothing_to_trace(tiny_vgg_path, make_images, traces):
    from nst_tools import lab

    model = nst.load_vgg_model(tiny_vgg_path)
    runner = lab.LabRunner(model, warm_up=True)  # on a thread, as the panel opens
    for _ in range(600):
        if runner.warm_up_seconds is not None:
            break
        time.sleep(0.1)
    assert runner.warm_up_seconds is not None and traces
    warm = list(traces)
    runner.run(lab.LabSettings(size=64, iterations=3, seed=0), *make_images(48, 64, 1))
    assert runner.wait(60) and runner.error is None and len(runner.history) == 3
    assert traces == warm  # the first Run, at another size, traced nothing
