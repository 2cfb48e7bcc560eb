"""The losses against NumPy references, and the properties the course teaches."""
import numpy as np
import pytest
import tensorflow as tf

import nst_utils as nst
from nst_tools import fast, transfer


def np_content_cost(a_C, a_G):
    _, h, w, c = a_G.shape
    return np.sum((a_C - a_G) ** 2) / (4 * h * w * c)


def np_unroll(a):
    _, h, w, c = a.shape
    return a.reshape(h * w, c).T  # (n_C, n_H n_W), as the assignment unrolls


def np_layer_style_cost(a_S, a_G):
    _, h, w, c = a_G.shape
    GS, GG = np_unroll(a_S) @ np_unroll(a_S).T, np_unroll(a_G) @ np_unroll(a_G).T
    return np.sum((GS - GG) ** 2) / (4 * c**2 * (h * w) ** 2)


SHAPES = [(1, 4, 4, 3), (1, 7, 5, 8), (1, 16, 12, 32)]


def rand(rng, shape):
    return rng.normal(1.0, 4.0, shape).astype(np.float32)


@pytest.mark.parametrize("shape", SHAPES)
def test_content_cost_matches_numpy(rng, shape):
    a_C, a_G = rand(rng, shape), rand(rng, shape)
    got = float(nst.compute_content_cost(tf.constant(a_C), tf.constant(a_G)))
    np.testing.assert_allclose(got, np_content_cost(a_C.astype(np.float64), a_G.astype(np.float64)), rtol=1e-5)


def test_content_cost_is_zero_iff_equal(rng):
    a = rand(rng, (1, 6, 5, 4))
    assert float(nst.compute_content_cost(a, a)) == 0.0
    b = a.copy()
    b[0, 2, 3, 1] += 0.5
    np.testing.assert_allclose(float(nst.compute_content_cost(a, b)), 0.25 / (4 * 6 * 5 * 4), rtol=1e-5)


@pytest.mark.parametrize("shape", [(3, 2), (5, 40), (64, 17)])
def test_gram_matrix_matches_numpy_and_is_symmetric_psd(rng, shape):
    A = rand(rng, shape)
    G = nst.gram_matrix(tf.constant(A)).numpy().astype(np.float64)
    np.testing.assert_allclose(G, A.astype(np.float64) @ A.T.astype(np.float64), rtol=1e-5, atol=1e-3)
    assert G.shape == (shape[0], shape[0])
    np.testing.assert_allclose(G, G.T, rtol=1e-6)
    assert np.linalg.eigvalsh(G).min() > -1e-3 * np.abs(G).max()


def test_activation_gram_equals_gram_of_unrolled(rng):
    a = rand(rng, (1, 5, 6, 7))
    np.testing.assert_allclose(fast.gram(a).numpy(), nst.gram_matrix(nst.unroll(a)).numpy(),
                               rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(nst.unroll(a).numpy(), np_unroll(a))


@pytest.mark.parametrize("shape", SHAPES)
def test_layer_style_cost_matches_numpy(rng, shape):
    a_S, a_G = rand(rng, shape), rand(rng, shape)
    got = float(nst.compute_layer_style_cost(tf.constant(a_S), tf.constant(a_G)))
    np.testing.assert_allclose(got, np_layer_style_cost(a_S.astype(np.float64), a_G.astype(np.float64)),
                               rtol=1e-4)


def test_style_cost_ignores_where_things_are(rng):
    a_S, a_G = rand(rng, (1, 6, 8, 5)), rand(rng, (1, 6, 8, 5))
    perm = rng.permutation(6 * 8)
    shuffled = a_G.reshape(48, 5)[perm].reshape(1, 6, 8, 5)
    np.testing.assert_allclose(float(nst.compute_layer_style_cost(a_S, shuffled)),
                               float(nst.compute_layer_style_cost(a_S, a_G)), rtol=1e-5)
    assert float(nst.compute_content_cost(a_G, shuffled)) > 1.0


def test_upside_down_maps_same_gram_different_content():
    # The README's example: a feature map and its upside-down copy.
    a = np.zeros((1, 4, 4, 2), np.float32)
    a[0, 0, :, 0] = 1.0  # channel 0: a bar along the top
    a[0, 0, 1:3, 1] = 2.0  # channel 1: a short bar on the top row too
    flipped = a[:, ::-1].copy()
    np.testing.assert_array_equal(fast.gram(a).numpy(), fast.gram(flipped).numpy())
    assert float(nst.compute_layer_style_cost(a, flipped)) == 0.0
    np.testing.assert_allclose(float(nst.compute_content_cost(a, flipped)),
                               np_content_cost(a, flipped), rtol=1e-6)
    assert float(nst.compute_content_cost(a, flipped)) > 0.1


def test_style_cost_is_weighted_sum(rng):
    layers = [("conv1_1", 0.5), ("conv2_1", 0.3), ("conv3_1", 0.2)]
    shapes = {"conv1_1": (1, 8, 8, 4), "conv2_1": (1, 4, 4, 8), "conv3_1": (1, 2, 2, 16)}
    a_S = {k: rand(rng, s) for k, s in shapes.items()}
    a_G = {k: rand(rng, s) for k, s in shapes.items()}
    expected = sum(w * np_layer_style_cost(a_S[k].astype(np.float64), a_G[k].astype(np.float64))
                   for k, w in layers)
    np.testing.assert_allclose(float(nst.compute_style_cost(a_S, a_G, layers)), expected, rtol=1e-4)


def test_default_style_layers_are_the_assignments():
    assert nst.STYLE_LAYERS == [(f"conv{i}_1", 0.2) for i in range(1, 6)]
    assert nst.CONTENT_LAYER == "conv4_2"


def test_total_cost():
    assert nst.total_cost(0.2, 0.8) == pytest.approx(10 * 0.2 + 40 * 0.8)
    assert nst.total_cost(1.0, 2.0, alpha=3, beta=5) == pytest.approx(13.0)


def test_total_variation_matches_numpy(rng):
    x = rand(rng, (1, 5, 7, 3)).astype(np.float64)
    expected = (np.sum((x[:, 1:] - x[:, :-1]) ** 2) + np.sum((x[:, :, 1:] - x[:, :, :-1]) ** 2)) / 35
    np.testing.assert_allclose(float(nst.total_variation_cost(tf.constant(x, tf.float32))), expected, rtol=1e-5)
    assert float(nst.total_variation_cost(tf.ones((1, 4, 4, 3)))) == 0.0


def test_style_targets_rescale_a_differently_sized_style_and_blend_several(tiny_model, rng):
    layers = ["conv1_1", "conv2_1"]
    small = nst.preprocess(rng.uniform(0, 255, (8, 12, 3)).astype(np.float32), tiny_model.mean)
    big = nst.preprocess(rng.uniform(0, 255, (16, 24, 3)).astype(np.float32), tiny_model.mean)

    def plain(x):  # the taught Gram matrices of the style's own activations, no rescaling
        a = tiny_model(x, layers)
        return {n: nst.gram_matrix(nst.unroll(a[n])).numpy() for n in layers}

    # a style of the generated image's size: its own Gram matrices
    same = transfer.style_targets(tiny_model, [small], None, layers, small.shape)
    for n in layers:
        np.testing.assert_allclose(same[n].numpy(), plain(small)[n], rtol=1e-5, atol=1e-3)
    # a style twice as large each way: 4 times the positions, its Gram matrices scaled by 1/4 (the sum per
    # position of a style of the generated image's size)
    scaled = transfer.style_targets(tiny_model, [big], None, layers, small.shape)
    for n in layers:
        np.testing.assert_allclose(scaled[n].numpy(), plain(big)[n] / 4, rtol=1e-5, atol=1e-3)
    # several styles: G = sum_k w_k G_k with the weights normalised to sum 1
    blend = transfer.style_targets(tiny_model, [small, big], [3.0, 1.0], layers, small.shape)
    for n in layers:
        np.testing.assert_allclose(blend[n].numpy(), 0.75 * plain(small)[n] + 0.25 * plain(big)[n] / 4,
                                   rtol=1e-5, atol=1e-3)
    with pytest.raises(nst.NSTError, match="one weight per style"):
        transfer.style_targets(tiny_model, [small, big], [1.0], layers, small.shape)


def test_the_optimisers_twin_agrees_with_the_readable_layer_style_cost_in_value_and_gradient(rng):
    """fast.style_term (hand-written gradient, the one that paints) == compute_layer_style_cost (taught)."""
    a_S = tf.constant(rng.normal(1, 4, (1, 5, 7, 6)).astype(np.float32))
    a_G = tf.constant(rng.normal(1, 4, (1, 5, 7, 6)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(a_G)
        taught = nst.compute_layer_style_cost(a_S, a_G)
        twin = fast.style_term(fast.gram(a_S), a_G)
    assert float(twin) == pytest.approx(float(taught), rel=1e-5)
    np.testing.assert_allclose(tape.gradient(twin, a_G), tape.gradient(taught, a_G), rtol=1e-4, atol=1e-6)
    assert float(taught) == pytest.approx(np_layer_style_cost(a_S.numpy(), a_G.numpy()), rel=1e-5)


def test_the_twins_trace_once_for_every_size(rng):
    """fast.content_term and fast.style_term read their shapes at run time: one trace serves every scale,
    with the taught values and gradients at each size."""
    spec = tf.TensorSpec((1, None, None, None))

    @tf.function(input_signature=[spec, spec])
    def both(a_S, a_G):
        with tf.GradientTape() as tape:
            tape.watch(a_G)
            J = fast.content_term(a_S, a_G) + 3.0 * fast.style_term(fast.gram(a_S), a_G)
        return J, tape.gradient(J, a_G)

    for shape in SHAPES:
        a_S, a_G = tf.constant(rand(rng, shape)), tf.constant(rand(rng, shape))
        with tf.GradientTape() as tape:
            tape.watch(a_G)
            taught = nst.compute_content_cost(a_S, a_G) + 3.0 * nst.compute_layer_style_cost(a_S, a_G)
        J, g = both(a_S, a_G)
        assert float(J) == pytest.approx(float(taught), rel=1e-4)
        np.testing.assert_allclose(g.numpy(), tape.gradient(taught, a_G).numpy(), rtol=1e-3,
                                   atol=1e-5 * float(tf.reduce_max(tf.abs(g))))
        expected = np_content_cost(a_S.numpy().astype(np.float64), a_G.numpy().astype(np.float64))
        assert float(fast.content_term(a_S, a_G)) == pytest.approx(expected, rel=1e-5)
    assert both.experimental_get_tracing_count() == 1
