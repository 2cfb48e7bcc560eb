"""Exercise checks, the layer table, the network diagram and content reconstructions."""
import numpy as np
import pytest
import tensorflow as tf

import nst_utils as nu
from nst_tools import course, transfer

# Hand-computed receptive fields of VGG19 (3x3 stride-1 convs add 2*jump; 2x2 stride-2 pools add jump
# and double it), from conv1_1 to pool5.
VGG19_RF = {"conv1_1": 3, "conv1_2": 5, "pool1": 6, "conv2_1": 10, "conv2_2": 14, "pool2": 16,
            "conv3_1": 24, "conv3_2": 32, "conv3_3": 40, "conv3_4": 48, "pool3": 52,
            "conv4_1": 68, "conv4_2": 84, "conv4_3": 100, "conv4_4": 116, "pool4": 124,
            "conv5_1": 156, "conv5_2": 188, "conv5_3": 220, "conv5_4": 252, "pool5": 268}

CHECKS = [(course.check_content_cost, nu.compute_content_cost), (course.check_gram_matrix, nu.gram_matrix),
          (course.check_layer_style_cost, nu.compute_layer_style_cost),
          (course.check_style_cost, nu.compute_style_cost), (course.check_total_cost, nu.total_cost)]


def content_no_4(a_C, a_G):
    _, n_H, n_W, n_C = a_G.shape
    return tf.reduce_sum(tf.square(a_C - a_G)) / (n_H * n_W * n_C)


def content_hard_coded_shape(a_C, a_G):  # right for (1, 4, 4, 3) only
    return tf.reduce_sum(tf.square(a_C - a_G)) / (4 * 4 * 4 * 3)


def content_numpy_float64(a_C, a_G):
    d = np.asarray(a_C, np.float64) - np.asarray(a_G, np.float64)
    return np.sum(d**2) / (4 * d.size)


def gram_transposed(A):  # A^T A instead of A A^T
    return tf.matmul(A, A, transpose_a=True)


def layer_style_n_C_not_squared(a_S, a_G):
    _, n_H, n_W, n_C = a_G.shape
    G_S, G_G = transfer.activation_gram(a_S), transfer.activation_gram(a_G)
    return tf.reduce_sum(tf.square(G_S - G_G)) / (4 * n_C * (n_H * n_W) ** 2)


def style_ignoring_weights(a_S, a_G, style_layers):
    return sum(nu.compute_layer_style_cost(a_S[n], a_G[n]) for n, _ in style_layers)


def style_default_weights_only(a_S, a_G, style_layers):  # ignores the style_layers it is given
    return nu.compute_style_cost(a_S, a_G)


def total_swapped(J_content, J_style, alpha=10, beta=40):
    return beta * J_content + alpha * J_style


def total_without_defaults(J_content, J_style, alpha, beta):
    return alpha * J_content + beta * J_style


def raises(*args):
    return 1 / 0


@pytest.mark.parametrize("check, reference", CHECKS, ids=lambda f: f.__name__)
def test_check_passes_the_library_function(check, reference, capsys):
    assert check(reference) is True
    out = capsys.readouterr().out
    assert out.startswith(f"PASSED: {reference.__name__} = ") and out.count("\n") == 1


@pytest.mark.parametrize("check, wrong", [
    (course.check_content_cost, content_no_4), (course.check_content_cost, content_hard_coded_shape),
    (course.check_gram_matrix, gram_transposed), (course.check_layer_style_cost, layer_style_n_C_not_squared),
    (course.check_style_cost, style_ignoring_weights), (course.check_style_cost, style_default_weights_only),
    (course.check_total_cost, total_swapped), (course.check_total_cost, total_without_defaults),
], ids=lambda f: f.__name__)
def test_check_fails_a_wrong_function(check, wrong, capsys):
    assert check(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("FAILED: ") and ("expected" in out or "raised" in out)


@pytest.mark.parametrize("check, _", CHECKS, ids=lambda f: f.__name__)
def test_check_reports_an_exception_without_traceback(check, _, capsys):
    assert check(raises) is False
    out = capsys.readouterr()
    assert out.out.startswith("FAILED: ") and "raised ZeroDivisionError: division by zero" in out.out
    assert "Traceback" not in out.out + out.err


def test_failed_line_shows_got_and_expected(capsys):
    a_C, a_G = course._activation_cases([(1, 4, 4, 3)])[0][1]
    expected = float(nu.compute_content_cost(a_C, a_G))
    assert course.check_content_cost(content_no_4) is False
    out = capsys.readouterr().out
    assert f"got {4 * expected:.7g}" in out and f"expected {expected:.7g}" in out


def test_check_accepts_float64_numpy_and_reports_a_missing_return(capsys):
    assert course.check_content_cost(content_numpy_float64) is True
    assert course.check_content_cost(lambda a_C, a_G: None) is False
    line = capsys.readouterr().out.splitlines()[1]
    assert line.startswith("NOT IMPLEMENTED: compute_content_cost") and "returned None" in line


def _stub(*args):
    raise NotImplementedError()


@pytest.mark.parametrize("check", [course.check_content_cost, course.check_gram_matrix, course.check_layer_style_cost,
                                   course.check_style_cost, course.check_total_cost], ids=lambda c: c.__name__)
@pytest.mark.parametrize("stub", [_stub, lambda *args: None], ids=["raises", "returns None"])
def test_a_stub_never_passes_and_says_not_implemented_in_one_line(check, stub, capsys):
    assert check(stub) is False
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("NOT IMPLEMENTED: ") and "the library's version" in out[0]


def test_keep_and_mine_carry_a_passed_function_to_a_later_notebook(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path))
    namespace = {}
    source = "def gram_matrix(A):\n    return 2 * tf.matmul(A, A, transpose_b=True)\n"
    (tmp_path / "mine.py").write_text(source)
    exec(compile(source, str(tmp_path / "mine.py"), "exec"), {"tf": tf}, namespace)
    mine = namespace["gram_matrix"]
    assert course.keep(mine, True, nu.gram_matrix) is mine
    assert (tmp_path / "my_functions" / "gram_matrix.py").read_text() == source
    fns = course.mine(nu.compute_content_cost, nu.gram_matrix, nu.compute_layer_style_cost)
    A = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(fns["gram_matrix"](A), 2 * nu.gram_matrix(A))
    assert fns["compute_content_cost"] is nu.compute_content_cost
    a = tf.ones((1, 2, 2, 3))
    # the library's layer style cost is used as it is; the learner's gram_matrix does not leak into it
    assert fns["compute_layer_style_cost"] is nu.compute_layer_style_cost
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("compute_content_cost: the library's") and out[1].startswith("gram_matrix: yours")
    assert float(nu.compute_layer_style_cost(a, a)) == 0.0
    # a failed check removes the saved copy: later notebooks go back to the library's
    assert course.keep(mine, False, nu.gram_matrix) is nu.gram_matrix
    assert not (tmp_path / "my_functions" / "gram_matrix.py").exists()


def test_check_accepts_a_scalar_wrapped_in_a_1x1_tensor():
    assert course.check_content_cost(lambda a_C, a_G: tf.reshape(nu.compute_content_cost(a_C, a_G), (1, 1)))
    assert not course.check_content_cost(lambda a_C, a_G: tf.fill((2,), nu.compute_content_cost(a_C, a_G)))


def test_total_cost_check_prints_the_assignments_value(capsys):
    course.check_total_cost(nu.total_cost)
    assert capsys.readouterr().out.startswith("PASSED: total_cost = 34 (expected 34)")


def test_smoke_mode_reads_the_environment(monkeypatch):
    monkeypatch.setenv("NST_SMOKE", "1")
    assert course.smoke_mode() is True
    monkeypatch.setenv("NST_SMOKE", "0")
    assert course.smoke_mode() is False
    monkeypatch.delenv("NST_SMOKE")
    assert course.smoke_mode() is False


def test_layer_table_receptive_fields_of_vgg19(tiny_model):
    rows = course.layer_table(tiny_model)
    assert {r["name"]: r["receptive_field"] for r in rows} == VGG19_RF
    assert [r["kind"] for r in rows if r["name"].startswith("pool")] == ["pool"] * 5
    assert rows[-1]["jump"] == 32


def test_layer_table_shapes_match_the_model(tiny_model):
    size = (37, 50)  # odd sizes: SAME pools round up
    rows = course.layer_table(tiny_model, size)
    acts = tiny_model(np.zeros((1, *size, 3), np.float32))
    assert [(r["name"], r["shape"]) for r in rows] == [(n, tuple(acts[n].shape[1:])) for n in tiny_model.names]


def test_draw_network_highlights_the_content_and_style_layers(tiny_model):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = course.draw_network(tiny_model, content_layer="conv3_2", style_layers=[("conv1_1", 1.0), ("conv2_1", 0.0)])
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "content layer (conv3_2)" in labels and "style layers (conv1_1)" in labels
    texts = {t.get_text() for t in ax.texts}
    assert set(tiny_model.names) <= texts
    assert f"block 3: {tiny_model.channels('conv3_1')} channels\n56x56" in texts
    plt.close(fig)


def test_reconstruct_content_starts_from_noise_and_lowers_the_content_cost(tiny_model, rng):
    image = rng.uniform(0, 255, (24, 32, 3)).astype(np.float32)
    layer = "conv2_2"
    a_C = tiny_model(nu.preprocess(image, tiny_model.mean), [layer])[layer]

    def cost(x):
        return float(nu.compute_content_cost(a_C, tiny_model(x, [layer])[layer]))

    start = course.reconstruct_content(tiny_model, image, layer, iterations=0).x
    assert np.abs(nu.deprocess(start, tiny_model.mean).astype(float) - 127.5).max() <= 3  # grey, not the image
    result = course.reconstruct_content(tiny_model, image, layer, iterations=15)
    assert result.iterations == 15 and result.J_style == 0.0
    assert result.J_content == pytest.approx(cost(result.x), rel=1e-4)
    assert result.J_content < 0.5 * cost(start)


def test_reconstruct_content_rejects_an_unknown_layer(tiny_model):
    with pytest.raises(nu.NSTError, match="conv9_9"):
        course.reconstruct_content(tiny_model, np.zeros((8, 8, 3), np.float32), "conv9_9")


def _train_step_problem(model, rng):
    """A small transfer problem: the library's cost, a start image and train steps written by hand."""
    content, style = (rng.uniform(0, 255, (24, 32, 3)).astype(np.float32) for _ in range(2))
    x_C, x_S = nu.preprocess(content, model.mean), nu.preprocess(style, model.mean)
    style_names = [n for n, _ in nu.STYLE_LAYERS]
    a_C = model(x_C, [nu.CONTENT_LAYER])[nu.CONTENT_LAYER]
    a_S = model(x_S, style_names)
    lo, hi = -model.mean, 255.0 - model.mean

    def make_step(bias_correction=True, clip=True, sign=-1.0, return_after=False, assign=True):
        def step(G, state, lr=2.0, beta1=0.9, beta2=0.999, eps=1e-8):
            with tf.GradientTape() as tape:
                a_G = model(G, [nu.CONTENT_LAYER] + style_names)
                J = nu.total_cost(nu.compute_content_cost(a_C, a_G[nu.CONTENT_LAYER]),
                                  nu.compute_style_cost(a_S, a_G))
            g = tape.gradient(J, G)
            state["t"] += 1
            state["m"] = beta1 * state["m"] + (1 - beta1) * g
            state["v"] = beta2 * state["v"] + (1 - beta2) * tf.square(g)
            m_hat, v_hat = state["m"], state["v"]
            if bias_correction:
                m_hat, v_hat = m_hat / (1 - beta1 ** state["t"]), v_hat / (1 - beta2 ** state["t"])
            new = G + sign * lr * m_hat / (tf.sqrt(v_hat) + eps)
            if clip:
                new = tf.clip_by_value(new, lo, hi)
            if assign:
                G.assign(new)
            if return_after:  # J at the new G instead of the one the gradient was taken at
                a_G = model(G, [nu.CONTENT_LAYER] + style_names)
                J = nu.total_cost(nu.compute_content_cost(a_C, a_G[nu.CONTENT_LAYER]),
                                  nu.compute_style_cost(a_S, a_G))
            return J
        return step

    cost = nu.make_cost_function(model, x_C, x_S)
    return cost, nu.generate_noise_image(x_C, 0.6, seed=0), make_step


def test_train_step_check_passes_a_correct_step(tiny_model, rng, capsys):
    cost, x0, make_step = _train_step_problem(tiny_model, rng)
    assert course.check_train_step(make_step(), cost, x0, tiny_model.mean) is True
    out = capsys.readouterr().out
    assert out.startswith("PASSED: train_step = ") and "after each of the 3 steps" in out


@pytest.mark.parametrize("mistake, message", [
    ({"bias_correction": False}, "G is off"), ({"clip": False}, "G is off"), ({"sign": 1.0}, "G is off"),
    ({"return_after": True}, "at step 1: returned J = "), ({"assign": False}, "G did not change"),
], ids=lambda v: str(v))
def test_train_step_check_fails_a_wrong_step(tiny_model, rng, capsys, mistake, message):
    cost, x0, make_step = _train_step_problem(tiny_model, rng)
    assert course.check_train_step(make_step(**mistake), cost, x0, tiny_model.mean) is False
    out = capsys.readouterr().out
    assert out.startswith("FAILED: train_step ") and message in out and out.count("\n") == 1


def test_train_step_check_reports_an_exception_and_leaves_the_start_alone(tiny_model, rng, capsys):
    cost, x0, _ = _train_step_problem(tiny_model, rng)
    start = x0.copy()
    assert course.check_train_step(raises, cost, x0, tiny_model.mean) is False
    out = capsys.readouterr()
    assert out.out.startswith("FAILED: train_step at step 1 raised ZeroDivisionError")
    assert "Traceback" not in out.out + out.err
    assert np.array_equal(x0, start)


def test_adam_state_starts_at_zero():
    state = course.adam_state(np.ones((1, 2, 3, 3), np.float32))
    assert state["t"] == 0 and state["m"].shape == state["v"].shape == (1, 2, 3, 3)
    assert float(tf.reduce_sum(tf.abs(state["m"]) + tf.abs(state["v"]))) == 0.0
