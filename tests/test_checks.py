"""Exercise checks, keep and mine, the layer table, the network diagram and content reconstructions."""
import inspect
import types

import numpy as np
import pytest
import tensorflow as tf

import nst_utils as nu
from nst_tools import course, further

# Hand-computed receptive fields of VGG19 (3x3 stride-1 convs add 2*jump; 2x2 stride-2 pools add jump
# and double it), from conv1_1 to pool5.
VGG19_RF = {"conv1_1": 3, "conv1_2": 5, "pool1": 6, "conv2_1": 10, "conv2_2": 14, "pool2": 16,
            "conv3_1": 24, "conv3_2": 32, "conv3_3": 40, "conv3_4": 48, "pool3": 52,
            "conv4_1": 68, "conv4_2": 84, "conv4_3": 100, "conv4_4": 116, "pool4": 124,
            "conv5_1": 156, "conv5_2": 188, "conv5_3": 220, "conv5_4": 252, "pool5": 268}

CHECKS = [(course.check_content_cost, nu.compute_content_cost), (course.check_gram_matrix, nu.gram_matrix),
          (course.check_layer_style_cost, nu.compute_layer_style_cost),
          (course.check_style_cost, nu.compute_style_cost), (course.check_total_cost, nu.total_cost)]
CHECK_OF = {"compute_content_cost": course.check_content_cost, "gram_matrix": course.check_gram_matrix,
            "compute_layer_style_cost": course.check_layer_style_cost, "compute_style_cost": course.check_style_cost,
            "total_cost": course.check_total_cost, "restore_chroma": course.check_restore_chroma}


# A learner's right answers, written as the assignment teaches them (not the library's code)
def compute_content_cost(a_C, a_G):
    m, n_H, n_W, n_C = a_G.get_shape().as_list()
    a_C_unrolled = tf.reshape(a_C, shape=[m, -1, n_C])
    a_G_unrolled = tf.reshape(a_G, shape=[m, -1, n_C])
    return tf.reduce_sum(tf.square(a_C_unrolled - a_G_unrolled)) / (4 * n_H * n_W * n_C)


def gram_matrix(A):
    return tf.matmul(A, tf.transpose(A))


def unrolled(a):  # a helper of the learner's, defined in another cell
    n_C = a.shape[-1]
    return tf.transpose(tf.reshape(a, (-1, n_C)))


def compute_layer_style_cost(a_S, a_G):
    _, n_H, n_W, n_C = a_G.shape
    GS, GG = gram_matrix(unrolled(a_S)), gram_matrix(nu.unroll(a_G))  # its own helper, and nst.unroll
    return tf.reduce_sum(tf.square(GS - GG)) / (4 * n_C**2 * (n_H * n_W) ** 2)


def compute_style_cost(a_S, a_G, style_layers=nu.STYLE_LAYERS):
    J_style = 0
    for layer_name, coeff in style_layers:
        J_style += coeff * compute_layer_style_cost(a_S[layer_name], a_G[layer_name])
    return J_style


def total_cost(J_content, J_style, alpha=10, beta=40):
    return alpha * J_content + beta * J_style


def restore_chroma(stylised, content):
    from nst_tools import further

    yiq = further.rgb_to_yiq(content)
    yiq[..., 0] = further.rgb_to_yiq(stylised)[..., 0]
    return np.clip(further.yiq_to_rgb(yiq), 0, 255).round().astype(np.uint8)


RIGHT = [compute_content_cost, gram_matrix, compute_layer_style_cost, compute_style_cost, total_cost, restore_chroma]


@pytest.mark.parametrize("fn", RIGHT, ids=lambda f: f.__name__)
def test_check_passes_a_learners_right_answer(fn, capsys):
    assert CHECK_OF[fn.__name__](fn) is True
    out = capsys.readouterr().out
    assert out.startswith(f"PASSED: {fn.__name__} = ") and out.count("\n") == 1


@pytest.mark.parametrize("check, library", CHECKS + [(course.check_restore_chroma, further.restore_chroma)],
                         ids=lambda f: f.__name__)
def test_the_librarys_own_function_or_a_copy_or_a_wrapper_is_not_passed(check, library, capsys):
    copy = types.FunctionType(library.__code__, library.__globals__, library.__name__, library.__defaults__)

    def wrapper(*args):
        return getattr(inspect.getmodule(library), library.__name__)(*args)

    namespace = {}  # the library's source, pasted into a cell or saved as if it were the learner's
    exec(compile(inspect.getsource(library), f"<library {library.__name__}>", "exec"), vars(nu).copy(), namespace)
    for fn in (library, copy, wrapper, namespace[library.__name__]):
        assert check(fn) is False
        line = capsys.readouterr().out
        assert line.startswith("NOT IMPLEMENTED: ") and "library's" in line, line


MISTAKES = [m for ex in course.EXERCISES.values() for m in ex.mistakes if callable(m.example)]


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: f"{m.exercise}: {m.mistake}")
def test_every_mistake_of_the_catalogue_fails_and_is_named(mistake, capsys):
    """Each catalogue entry played as a learner's answer: FAILED, and the line gives that entry's cause."""
    example = mistake.example

    def answer(*args):  # the learner's function, under the exercise's name
        return example(*args)

    answer.__name__ = mistake.exercise
    assert CHECK_OF[mistake.exercise](answer) is False
    out = capsys.readouterr().out
    assert out.startswith("FAILED: ") and mistake.cause in out, out
    if mistake.kind == "value":  # the failing case's inputs, and how to get them
        assert "got " in out and "expected " in out and f"course.case_inputs('{mistake.exercise}'" in out


def test_the_catalogue_covers_the_issues_list():
    kinds = {(m.exercise, m.mistake) for ex in course.EXERCISES.values() for m in ex.mistakes}
    for entry in [("compute_content_cost", "no 1/4"), ("compute_content_cost", "no n_C"),
                  ("compute_content_cost", "no n_H n_W"), ("compute_layer_style_cost", "n_H n_W not squared"),
                  ("compute_content_cost", "mean instead of sum"), ("gram_matrix", "A^T A"),
                  ("compute_layer_style_cost", "reshape without the transpose"),
                  ("total_cost", "alpha and beta swapped"), ("total_cost", "alpha and beta hard-coded"),
                  ("train_step", "content term dropped"), ("train_step", "no bias correction"),
                  ("train_step", "no clip"), ("train_step", "= instead of assign"), ("compute_content_cost", "no return")]:
        assert entry in kinds, entry
    for ex in course.EXERCISES.values():
        assert all(m.shows and m.cause for m in ex.mistakes)


def content_no_return(a_C, a_G):
    _, n_H, n_W, n_C = a_G.shape
    J_content = tf.reduce_sum(tf.square(a_C - a_G)) / (4 * n_H * n_W * n_C)  # noqa: F841 - the mistake


def test_a_forgotten_return_is_not_called_not_implemented(capsys):
    assert course.check_content_cost(content_no_return) is False
    out = capsys.readouterr().out
    assert out.startswith("FAILED: compute_content_cost returns nothing") and "return J_content" in out


def _stub(*args):
    J = None
    # YOUR CODE HERE
    raise NotImplementedError()
    return J


def _none_stub(*args):
    J = None  # ≈ 1 line
    return J


@pytest.mark.parametrize("check", [c for c, _ in CHECKS] + [course.check_restore_chroma], ids=lambda c: c.__name__)
@pytest.mark.parametrize("stub", [_stub, _none_stub], ids=["raises", "returns None"])
def test_a_stub_is_not_implemented_however_often_the_check_runs(check, stub, capsys):
    for _ in range(3):
        assert check(stub) is False
        out = capsys.readouterr().out.splitlines()
        assert len(out) == 1 and out[0].startswith("NOT IMPLEMENTED: ") and "the library's version" in out[0]
        assert "YOUR CODE HERE" not in out[0]


@pytest.mark.parametrize("check, _", CHECKS, ids=lambda f: f.__name__)
def test_check_reports_an_exception_without_traceback(check, _, capsys):
    def raises(*args):
        return 1 / 0

    assert check(raises) is False
    out = capsys.readouterr()
    assert out.out.startswith("FAILED: ") and "raised ZeroDivisionError: division by zero" in out.out
    assert "Traceback" not in out.out + out.err


def test_failed_line_shows_got_expected_and_the_first_row_of_a_matrix(capsys):
    A = course.case_inputs("gram_matrix", 0)[0]
    G = nu.gram_matrix(A).numpy()

    def gram_matrix(A):
        return 2 * tf.matmul(A, A, transpose_b=True)

    assert course.check_gram_matrix(gram_matrix) is False
    out = capsys.readouterr().out
    assert f"first row [{G[0, 0]:.6g}, {G[0, 1]:.6g}, {G[0, 2]:.6g}]" in out  # a row of the 3 x 3 matrix, whole
    assert f"got shape (3, 3), first row [{2 * G[0, 0]:.6g}" in out and "got / expected" not in out


def test_an_unknown_mistake_shows_the_ratio(capsys):
    def compute_content_cost(a_C, a_G):
        _, n_H, n_W, n_C = a_G.shape
        return 2.5 * tf.reduce_sum(tf.square(a_C - a_G)) / (4 * n_H * n_W * n_C)

    assert course.check_content_cost(compute_content_cost) is False
    out = capsys.readouterr().out
    assert "not one of the common mistakes" in out and "got / expected = 2.5, 2.5, 2.5" in out


def test_a_dependency_that_has_not_passed_is_named(capsys):
    namespace = {"tf": tf, "nu": nu}
    exec("def gram_matrix(A):\n    return tf.matmul(A, A, transpose_a=True)\n"
         "def compute_layer_style_cost(a_S, a_G):\n    _, n_H, n_W, n_C = a_G.shape\n"
         "    GS, GG = gram_matrix(nu.unroll(a_S)), gram_matrix(nu.unroll(a_G))\n"
         "    return tf.reduce_sum(tf.square(GS - GG)) / (4 * n_C**2 * (n_H * n_W) ** 2)\n", namespace)
    assert course.check_layer_style_cost(namespace["compute_layer_style_cost"]) is False
    assert "calls your gram_matrix, which has not passed its check" in capsys.readouterr().out


def test_a_value_that_cannot_be_saved_is_refused(capsys):
    assert course.check_content_cost(content_with_a_global) is False
    out = capsys.readouterr().out
    assert out.startswith("FAILED: compute_content_cost cannot be saved") and "'FOUR'" in out


FOUR = tf.constant(4.0)  # a tensor of this "notebook": notebook 05 would not have it


def content_with_a_global(a_C, a_G):
    _, n_H, n_W, n_C = a_G.shape
    return tf.reduce_sum(tf.square(a_C - a_G)) / (FOUR * n_H * n_W * n_C)


content_with_a_global.__name__ = "compute_content_cost"


def _cost(a_C, a_G):
    _, n_H, n_W, n_C = a_G.shape
    return tf.reduce_sum(tf.square(a_C - a_G)) / (4 * n_H * n_W * n_C)


def test_check_accepts_a_scalar_wrapped_in_a_1x1_tensor():
    def compute_content_cost(a_C, a_G):
        return tf.reshape(_cost(a_C, a_G), (1, 1))

    def filled(a_C, a_G):
        return tf.fill((2,), _cost(a_C, a_G))

    assert course.check_content_cost(compute_content_cost)
    assert not course.check_content_cost(filled)


def test_total_cost_check_prints_the_assignments_value(capsys):
    course.check_total_cost(total_cost)
    assert capsys.readouterr().out.startswith("PASSED: total_cost = 34 (expected 34)")


def test_verdicts_as_html_are_coloured():
    assert "#1a7f37" in course.verdict_html("PASSED: x = 1")
    failed = course.verdict_html("FAILED: x: the cause <b>\nfor inputs: got 1, expected 2")
    assert "#b42318" in failed and "&lt;b&gt;" in failed and "expected 2" in failed
    assert "#555555" in course.verdict_html("NOT IMPLEMENTED: x is not written yet")


def test_keep_saves_what_passed_with_its_helpers_and_mine_says_yours_only_when_it_paints(tmp_path, monkeypatch,
                                                                                      capsys):
    """What passed (the layer style cost with its helper, nst.unroll and gram_matrix's name) is saved; mine loads it
    in a fresh namespace, checks it again and paints with it; the learner's name is never rebound."""
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path))
    for fn in (gram_matrix, compute_layer_style_cost, compute_style_cost):
        passed = CHECK_OF[fn.__name__](fn)
        assert passed and course.keep(fn, passed) is fn
    source = (tmp_path / "my_functions" / "compute_layer_style_cost.py").read_text()
    assert "def unrolled(a):" in source and "import nst_utils as nu" in source
    assert "def gram_matrix" not in source  # mine supplies the exercises it calls
    capsys.readouterr()
    losses = course.mine()
    out = capsys.readouterr().out.splitlines()
    assert sorted(losses) == ["content_cost", "style_cost", "total_cost"]
    assert losses["content_cost"] is nu.compute_content_cost and losses["total_cost"] is nu.total_cost
    assert out[0].startswith("compute_content_cost: the library's")
    for name in ("gram_matrix", "compute_layer_style_cost", "compute_style_cost"):
        assert any(line.startswith(f"{name}: yours") and "the painting uses it" in line for line in out), out
    a_S, a_G, layers = course.case_inputs("compute_style_cost", 1)
    np.testing.assert_allclose(losses["style_cost"](a_S, a_G, layers), nu.compute_style_cost(a_S, a_G, layers),
                               rtol=1e-5)
    assert losses["style_cost"].__code__.co_filename.endswith("compute_style_cost.py")


def test_mine_does_not_say_yours_of_a_saved_copy_that_fails_or_does_not_paint(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path))
    saved = tmp_path / "my_functions"
    saved.mkdir()
    (saved / "compute_content_cost.py").write_text(
        "def compute_content_cost(a_C, a_G):\n    return 2 * tf.reduce_sum(tf.square(a_C - a_G))\n")
    (saved / "gram_matrix.py").write_text("def gram_matrix(A):\n    return tf.matmul(A, tf.transpose(A))\n")
    (saved / "compute_layer_style_cost.py").write_text(  # right, but without gram_matrix
        "def compute_layer_style_cost(a_S, a_G):\n    _, n_H, n_W, n_C = a_G.shape\n"
        "    F_S, F_G = tf.reshape(a_S, (-1, n_C)), tf.reshape(a_G, (-1, n_C))\n"
        "    D = tf.matmul(F_S, F_S, transpose_a=True) - tf.matmul(F_G, F_G, transpose_a=True)\n"
        "    return tf.reduce_sum(tf.square(D)) / (4 * n_C**2 * (n_H * n_W) ** 2)\n")
    losses = course.mine()
    out = capsys.readouterr().out
    assert "compute_content_cost: the library's" in out and "no longer passes its check" in out
    assert losses["content_cost"] is nu.compute_content_cost
    assert "gram_matrix: yours" in out and "the painting does not use it" in out
    assert "compute_layer_style_cost: yours" in out
    # the library's compute_style_cost, remade in the namespace, paints with the learner's layer style cost
    assert losses["style_cost"] is not nu.compute_style_cost


def test_a_failed_check_removes_the_saved_copy_and_keep_hands_back_the_library(tmp_path, monkeypatch):
    monkeypatch.setenv("NST_OUTPUT_DIR", str(tmp_path))
    assert course.keep(gram_matrix, course.check_gram_matrix(gram_matrix)) is gram_matrix
    assert (tmp_path / "my_functions" / "gram_matrix.py").is_file()
    assert course.keep(gram_matrix, False) is nu.gram_matrix
    assert not (tmp_path / "my_functions" / "gram_matrix.py").exists()
    # passed=True without a check that passed this very function saves nothing
    assert course.keep(_none_stub, True, "gram_matrix") is nu.gram_matrix


def test_expected_text_is_what_the_check_compares_first():
    a_C, a_G = course.case_inputs("compute_content_cost", 0)
    assert course.expected_text("compute_content_cost") == f"{float(nu.compute_content_cost(a_C, a_G)):.7g}"
    assert course.expected_text("total_cost") == "34"


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
    assert f"block 3: {tiny_model(np.zeros((1, 8, 8, 3), np.float32), ['conv3_1'])['conv3_1'].shape[-1]} channels\n56x56" in texts
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
    """A small transfer problem: the library's cost for given weights, a start image and train steps written by
    hand (``make_step(**mistake)`` makes one of the catalogue's mistakes)."""
    content, style = (rng.uniform(0, 255, (24, 32, 3)).astype(np.float32) for _ in range(2))
    x_C, x_S = nu.preprocess(content, model.mean), nu.preprocess(style, model.mean)
    style_names = [n for n, _ in nu.STYLE_LAYERS]
    a_C = model(x_C, [nu.CONTENT_LAYER])[nu.CONTENT_LAYER]
    a_S = model(x_S, style_names)
    lo, hi = -model.mean, 255.0 - model.mean

    def make_step(bias_correction=True, clip=True, sign=-1.0, return_after=False, assign=True, no_content=False,
                  swapped=False, hard_coded=False, no_return=False):
        def J_of(G, alpha, beta):
            a_G = model(G, [nu.CONTENT_LAYER] + style_names)
            J_content = nu.compute_content_cost(a_C, a_C if no_content else a_G[nu.CONTENT_LAYER])
            J_style = nu.compute_style_cost(a_S, a_G)
            alpha, beta = (10, 40) if hard_coded else (beta, alpha) if swapped else (alpha, beta)
            return nu.total_cost(J_content, J_style, alpha, beta)

        def my_train_step(G, state, alpha=10, beta=40, lr=2.0, beta1=0.9, beta2=0.999, eps=1e-8):
            with tf.GradientTape() as tape:
                J = J_of(G, alpha, beta)
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
                J = J_of(G, alpha, beta)
            return J

        def forgot_the_return(G, state, alpha=10, beta=40):
            my_train_step(G, state, alpha, beta)

        return forgot_the_return if no_return else my_train_step

    def make_cost(alpha, beta):
        return nu.make_cost_function(model, x_C, x_S, alpha=alpha, beta=beta)

    return make_cost, nu.generate_noise_image(x_C, 0.6, seed=0), make_step


def test_train_step_check_passes_a_correct_step(tiny_model, rng, capsys):
    make_cost, x0, make_step = _train_step_problem(tiny_model, rng)
    assert course.check_train_step(make_step(), make_cost, x0, tiny_model.mean) is True
    out = capsys.readouterr().out
    assert out.startswith("PASSED: train_step = ") and "after each of the 3 steps" in out


TRAIN_MISTAKES = {"content term dropped": {"no_content": True}, "alpha and beta swapped": {"swapped": True},
                  "alpha and beta hard-coded": {"hard_coded": True}, "J after the update": {"return_after": True},
                  "no bias correction": {"bias_correction": False}, "no clip": {"clip": False},
                  "uphill": {"sign": 1.0}, "= instead of assign": {"assign": False}, "no return": {"no_return": True}}


@pytest.mark.parametrize("mistake", course.EXERCISES["train_step"].mistakes, ids=lambda m: m.mistake)
def test_train_step_check_names_each_mistake_of_the_catalogue(tiny_model, rng, capsys, mistake):
    make_cost, x0, make_step = _train_step_problem(tiny_model, rng)
    assert course.check_train_step(make_step(**TRAIN_MISTAKES[mistake.mistake]), make_cost, x0,
                                   tiny_model.mean) is False
    out = capsys.readouterr().out
    assert out.startswith("FAILED: train_step") and mistake.cause in out, out


def test_train_step_check_reports_an_exception_and_leaves_the_start_alone(tiny_model, rng, capsys):
    make_cost, x0, _ = _train_step_problem(tiny_model, rng)
    start = x0.copy()

    def raises(G, state, alpha=10, beta=40):
        return 1 / 0

    assert course.check_train_step(raises, make_cost, x0, tiny_model.mean) is False
    out = capsys.readouterr()
    assert out.out.startswith("FAILED: train_step at step 1 raised ZeroDivisionError")
    assert "Traceback" not in out.out + out.err
    assert np.array_equal(x0, start)


def test_adam_state_starts_at_zero():
    state = course.adam_state(np.ones((1, 2, 3, 3), np.float32))
    assert state["t"] == 0 and state["m"].shape == state["v"].shape == (1, 2, 3, 3)
    assert float(tf.reduce_sum(tf.abs(state["m"]) + tf.abs(state["v"]))) == 0.0


def test_reconstructions_show_a_progress_bar_and_still_call_the_callback_at_its_pace(tiny_model, rng, capsys):
    image = rng.uniform(0, 255, (16, 16, 3)).astype(np.float32)
    seen = []
    result = course.reconstruct_content(tiny_model, image, "conv1_2", iterations=4, optimizer="adam",
                                        callback=lambda i, costs, im: seen.append(i), callback_every=2)
    assert result.iterations == 4 and seen == [2, 4]
    err = capsys.readouterr().err
    assert "content from conv1_2" in err and "/4 [00:" in err  # tqdm's bar: the count, the time spent and left
    course.reconstruct_style(tiny_model, image, ["conv1_1"], iterations=2, optimizer="adam", progress=False)
    assert "style up to" not in capsys.readouterr().err
    assert list(course.progress([1, 2, 3], desc="x", disable=True)) == [1, 2, 3]


def content_cost_5_percent_off(a_C, a_G):  # each written out whole, as a learner would, 5% too large
    _, n_H, n_W, n_C = a_G.shape
    return 1.05 * tf.reduce_sum(tf.square(a_C - a_G)) / (4 * n_H * n_W * n_C)


def gram_matrix_5_percent_off(A):
    return 1.05 * tf.matmul(A, tf.transpose(A))


def layer_style_cost_5_percent_off(a_S, a_G):
    _, n_H, n_W, n_C = a_G.shape
    A_S, A_G = (tf.transpose(tf.reshape(a, (-1, n_C))) for a in (a_S, a_G))
    G_S, G_G = tf.matmul(A_S, tf.transpose(A_S)), tf.matmul(A_G, tf.transpose(A_G))
    return 1.05 * tf.reduce_sum(tf.square(G_S - G_G)) / (4 * n_C**2 * (n_H * n_W) ** 2)


def style_cost_5_percent_off(a_S, a_G, style_layers=nu.STYLE_LAYERS):
    J_style = 0
    for layer_name, coeff in style_layers:
        J_style += 1.05 * coeff * compute_layer_style_cost(a_S[layer_name], a_G[layer_name])
    return J_style


def total_cost_5_percent_off(J_content, J_style, alpha=10, beta=40):
    return 1.05 * (alpha * J_content + beta * J_style)


@pytest.mark.parametrize("check, fn", zip([c for c, _ in CHECKS],
                                          [content_cost_5_percent_off, gram_matrix_5_percent_off,
                                           layer_style_cost_5_percent_off, style_cost_5_percent_off,
                                           total_cost_5_percent_off]), ids=lambda f: f.__name__)
def test_an_answer_five_percent_off_fails(check, fn, capsys):
    """The checks compare tightly: a right answer scaled by 1.05 is FAILED on its values (a 10% tolerance would
    pass it)."""
    assert check(fn) is False
    out = capsys.readouterr().out
    assert out.startswith("FAILED: ") and "got " in out and "expected " in out
