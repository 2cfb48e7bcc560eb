"""Speed features on the tiny weights: the step's layers, bfloat16, L-BFGS, coarse to fine, memory, bench."""
import json
import re

import numpy as np
import pytest
import tensorflow as tf

import nst_utils as nst
from nst_tools import bench, cli, course, fast, lbfgs, transfer


@pytest.fixture(scope="module")
def images(make_images):
    return make_images(64, 96, seed=3)


def _ops(cost, shape):
    """Op types, with counts, of the traced step graph's ops that its outputs depend on (what runs:
    TensorFlow prunes the rest, such as the kernel gradients autodiff also writes into the graph).
    The step is traced once for images of any size (``shape`` checks that it takes this one)."""
    concrete = cost.compiled.get_concrete_function()
    assert concrete.structured_input_signature[0][0].shape.is_compatible_with(shape)
    graph = concrete.graph
    seen, todo = set(), [t.op for t in graph.outputs]
    while todo:
        op = todo.pop()
        if op.name not in seen:
            seen.add(op.name)
            todo += [t.op for t in op.inputs] + list(op.control_inputs)
    kinds = [op.type for op in graph.get_operations() if op.name in seen]
    return {k: kinds.count(k) for k in set(kinds)}


def _costs(model, content, style, **kwargs):
    c, s = nst.preprocess(content, model.mean), nst.preprocess(style, model.mean)
    return transfer.cost_function(model, c, s, **kwargs), c


def test_step_stops_at_conv5_1(tiny_model, images):
    assert fast.cost_layers(tiny_model, nst.CONTENT_LAYER, nst.STYLE_LAYERS, 10, 40) == ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1", "conv4_2"]
    cost, c = _costs(tiny_model, *images)
    ops = _ops(cost, c.shape)
    # VGG19 up to conv5_1: 2 + 2 + 4 + 4 + 1 convs and 4 pools (no pool5, no conv5_2 .. conv5_4)
    assert ops["Conv2D"] == 13 and ops["AvgPool"] == 4
    assert ops["Conv2DBackpropInput"] == 13  # the input gradient, conv1_1's included; no kernel gradients
    assert "Conv2DBackpropFilter" not in ops


def test_zero_weights_skip_layers(tiny_model, images):
    content, style = images
    no_conv5 = [("conv1_1", 0.5), ("conv3_1", 0.5), ("conv5_1", 0.0)]
    assert fast.cost_layers(tiny_model, "conv4_2", no_conv5, 10, 40) == ["conv1_1", "conv3_1", "conv4_2"]
    cost, c = _costs(tiny_model, content, style, style_layers=no_conv5)
    assert _ops(cost, c.shape)["Conv2D"] == 10  # conv1_1 .. conv4_2
    # beta = 0: the style layers reach deeper than conv4_2, so they are skipped and J_style reads 0
    cost, c = _costs(tiny_model, content, style, beta=0)
    J, Jc, Js, _ = cost(tf.constant(nst.generate_noise_image(c, 0.6, 0)))
    assert float(Js) == 0.0 and float(J) == pytest.approx(10 * float(Jc)) and float(Jc) > 0
    assert _ops(cost, c.shape)["Conv2D"] == 10
    # alpha = 0: conv4_2 lies within the style layers' depth, so J_content is still reported
    cost, c = _costs(tiny_model, content, style, alpha=0)
    J, Jc, Js, _ = cost(tf.constant(nst.generate_noise_image(c, 0.6, 0)))
    assert float(Jc) > 0 and float(J) == pytest.approx(40 * float(Js))


def test_fast_style_cost_matches_autodiff(rng):
    a = tf.constant(rng.normal(1, 4, (1, 5, 7, 6)).astype(np.float32))
    G_S = fast.gram(tf.constant(rng.normal(1, 4, (1, 5, 7, 6)).astype(np.float32)))

    def taught_from_gram(G_S, a):  # compute_layer_style_cost with the style's Gram given, autodiff's gradient
        G_G = nst.gram_matrix(nst.unroll(a))
        return tf.reduce_sum(tf.square(G_S - G_G)) / (4.0 * 6**2 * (5 * 7) ** 2)

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(a)
        ref = taught_from_gram(G_S, a)
        twin = fast.style_term(G_S, a)
    g_ref = tape.gradient(ref, a)
    assert float(twin) == pytest.approx(float(ref), rel=1e-5)
    np.testing.assert_allclose(tape.gradient(twin, a), g_ref, rtol=1e-4, atol=1e-6)
    # in bfloat16 (the activations of a bfloat16 step): a float32 cost, a bfloat16 gradient close to it
    a16 = tf.cast(a, tf.bfloat16)
    with tf.GradientTape() as tape16:
        tape16.watch(a16)
        twin16 = fast.style_term(G_S, a16)
    g16 = tape16.gradient(twin16, a16)
    assert twin16.dtype == tf.float32 and g16.dtype == tf.bfloat16
    assert float(twin16) == pytest.approx(float(ref), rel=2e-2)
    g, g16 = tf.reshape(g_ref, [-1]), tf.reshape(tf.cast(g16, tf.float32), [-1])
    assert float(tf.tensordot(g, g16, 1) / (tf.norm(g) * tf.norm(g16))) > 0.99


def test_bfloat16_costs_close_to_float32(tiny_model, images):
    # bfloat16 keeps 8 significant bits: each activation is rounded by up to 2^-9 ~ 0.2% (relative).
    # J and J_style sum many such values, whose rounding errors mostly cancel (measured: 2e-6 .. 6e-5
    # on these weights and on real VGG16), so 2e-3 (one rounding step) bounds them with room to spare.
    # J_content is a squared *difference* a_C - a_G, smaller than the activations whose rounding it
    # carries (both a_G's and, the targets being the bfloat16 step's own, a_C's), so it gets 4e-2
    # (measured 5e-3 with float32 targets, 1.1e-2 with bfloat16 ones on an Intel Xeon with AMX; 2.5e-2 on
    # an AMD EPYC without bfloat16 instructions, where TensorFlow's bfloat16 convolutions are emulated and
    # round differently). The gradient must point the same way (cos > 0.99).
    f32, c = _costs(tiny_model, *images)
    b16, _ = _costs(tiny_model, *images, precision="bfloat16")
    x = tf.constant(nst.generate_noise_image(c, 0.6, 0))
    (J, Jc, Js, g), (J2, Jc2, Js2, g2) = f32(x), b16(x)
    assert np.isfinite([float(J2), float(Jc2), float(Js2)]).all()
    assert float(J2) == pytest.approx(float(J), rel=2e-3)
    assert float(Js2) == pytest.approx(float(Js), rel=2e-3)
    assert float(Jc2) == pytest.approx(float(Jc), rel=4e-2)
    g, g2 = g.numpy().ravel(), g2.numpy().ravel()
    assert g2.dtype == np.float32 and g @ g2 / np.linalg.norm(g) / np.linalg.norm(g2) > 0.99
    assert _ops(b16, c.shape).get("Conv2D", 0) == 13


def test_bfloat16_transfer_lowers_the_cost(tiny_model, images):
    r = transfer.run_transfer(tiny_model, *images, iterations=10, optimizer="lbfgs", precision="bfloat16",
                               seed=0)
    J = [h["J"] for h in r.history]
    assert r.iterations == 10 and np.isfinite(J).all() and J[-1] < 0.5 * J[0]


def test_precision_names(monkeypatch):
    assert fast.resolve_precision("float32") == "float32"
    assert fast.resolve_precision("bfloat16") == "bfloat16"
    monkeypatch.setattr(fast, "bfloat16_supported", lambda: False)
    assert fast.resolve_precision("auto") == "float32"
    monkeypatch.setattr(fast, "bfloat16_supported", lambda: True)
    assert fast.resolve_precision("auto") == "bfloat16"
    with pytest.raises(nst.NSTError, match="precision must be one of float32, bfloat16, auto, not 'half'"):
        fast.resolve_precision("half")


def test_lbfgs_keeps_one_state_in_float32(tiny_model, images, monkeypatch):
    calls = {"direction": 0, "update": 0, "reset": 0, "evaluations": 0}
    real_state = lbfgs.lbfgs_state

    def spy_state(x0, memory):
        direction, update, reset, rescale = real_state(x0, memory)

        def d(g, free):
            calls["direction"] += 1
            return direction(g, free)

        def u(s, y, free):
            calls["update"] += 1
            assert s.dtype == y.dtype == free.dtype == tf.float32
            return update(s, y, free)

        def r():
            calls["reset"] += 1
            return reset()

        return d, u, r, rescale

    monkeypatch.setattr(lbfgs, "lbfgs_state", spy_state)
    content, style = images
    c, s = nst.preprocess(content, tiny_model.mean), nst.preprocess(style, tiny_model.mean)
    cost = transfer.cost_function(tiny_model, c, s)
    seen = []

    def counting(x):
        calls["evaluations"] += 1
        seen.append(x.dtype)
        return cost(x)

    x0 = nst.generate_noise_image(c, 0.6, 0)
    r = nst.follow(lbfgs.lbfgs(counting, x0, *nst.pixel_bounds(tiny_model.mean)), 25, tiny_model.mean, x0)
    assert r.iterations == 25 and len(r.history) == 25
    assert calls["direction"] == calls["update"] == 25 and calls["reset"] == 0  # one memory, never cleared
    assert set(seen) == {tf.float32}
    # the first iteration searches for a scale; after that nearly every iteration costs one evaluation
    assert calls["evaluations"] <= 25 + 15
    J = [h["J"] for h in r.history]
    assert all(b < a for a, b in zip(J, J[1:]))  # every accepted step lowers the cost


def test_lbfgs_beats_adam_per_iteration(tiny_model, images):
    adam = transfer.run_transfer(tiny_model, *images, iterations=30, optimizer="adam", seed=0)
    lbfgs = transfer.run_transfer(tiny_model, *images, iterations=30, optimizer="lbfgs", seed=0)
    assert lbfgs.iterations == 30 and lbfgs.J < adam.J


def test_scale_plan():
    assert fast.scale_plan(None, 50) == [(1.0, 50)]
    assert fast.scale_plan(3, 100) == [(0.25, 33), (0.5, 33), (1.0, 34)]
    assert fast.scale_plan([0.5, 1], 7) == [(0.5, 3), (1.0, 4)]
    assert fast.scale_plan([(0.25, 20), (0.5, 10), 1], 100) == [(0.25, 20), (0.5, 10), (1.0, 70)]
    assert fast.scale_plan(3, 2) == [(1.0, 2)]  # scales left without iterations are dropped
    # "auto": halve while the longest side stays >= 192 px, 10% of the iterations per coarse scale
    assert fast.scale_plan("auto", 100, (300, 400)) == [(0.5, 10), (1.0, 90)]
    assert fast.scale_plan("auto", 200, (768, 1024)) == [(0.25, 20), (0.5, 20), (1.0, 160)]
    assert fast.scale_plan("auto", 100, (120, 160)) == [(1.0, 100)]  # too small to go coarser
    with pytest.raises(nst.NSTError, match="increasing fractions"):
        fast.scale_plan([1, 0.5], 10)
    with pytest.raises(nst.NSTError, match="add up to at most 5"):
        fast.scale_plan([(0.5, 9), 1], 5)
    with pytest.raises(nst.NSTError, match="the first scale 0.25 makes the 64x96 image 16x24"):
        fast.scale_plan(3, 30, (64, 96))


def test_coarse_to_fine(tiny_model, images):
    content, style = images
    seen = []
    r = transfer.run_transfer(tiny_model, content, style, iterations=12, optimizer="lbfgs", seed=0,
                               scales=[(0.5, 6), 1], callback=lambda i, c, im: seen.append((i, im.shape)),
                               callback_every=3)
    assert r.image.shape == content.shape and r.x.shape == (1, 64, 96, 3) and r.iterations == 12
    assert [h["iteration"] for h in r.history] == list(range(1, 13))
    assert [h["scale"] for h in r.history] == [0.5] * 6 + [1.0] * 6
    counts = [h["evaluations"] for h in r.history]  # one running count across the scales
    assert all(b > a for a, b in zip([0] + counts, counts)) and r.evaluations == counts[-1]
    assert counts[6] >= counts[5] + 2  # the fine scale's first cost, then its first line search
    assert seen == [(3, (32, 48, 3)), (6, (32, 48, 3)), (9, (64, 96, 3)), (12, (64, 96, 3))]
    seconds = [h["seconds"] for h in r.history]
    assert seconds == sorted(seconds)
    full = [h["J"] for h in r.history if h["scale"] == 1.0]
    assert r.J == min(full) and r.J < full[0]  # the fine scale lowers the cost of the upsampled start
    single = transfer.run_transfer(tiny_model, content, style, iterations=1, optimizer="lbfgs", seed=0)
    assert r.J < single.history[0]["J"]  # and ends far below the noisy start at full size


def test_coarse_to_fine_stop_returns_full_size(tiny_model, images):
    import threading

    stop = threading.Event()

    def cb(i, costs, image):
        if i == 2:
            stop.set()

    r = transfer.run_transfer(tiny_model, *images, iterations=10, scales=[0.5, 1], callback=cb,
                               callback_every=1, stop_event=stop)
    assert r.stopped == "stop requested" and r.iterations == 2 and r.image.shape == (64, 96, 3)


def test_memory_check(tiny_model, monkeypatch):
    need = fast.estimate_memory(tiny_model, (10000, 10000), "lbfgs")
    with pytest.raises(fast.TooLargeError, match=r"a 10000x10000 transfer needs about .* GiB of memory but 1.0 GiB "
                       r"is free: use a smaller size \(a longest side of \d+ pixels fits\)") as err:
        fast.check_memory(tiny_model, (10000, 10000), "lbfgs", available=2**30)
    side = int(str(err.value).split("a longest side of ")[1].split()[0])
    assert err.value.max_size == side and "--" not in str(err.value)  # library terms; the CLI names the flag
    assert fast.check_memory(tiny_model, nst.fit_size(10000, 10000, side), "lbfgs", available=2**30) <= 2**30
    assert need > 2**30 and fast.estimate_memory(tiny_model, (200, 200)) < fast.estimate_memory(tiny_model, (400, 400))
    # run_transfer refuses before any work; so does the command line, before reading the images
    monkeypatch.setattr(fast, "available_memory", lambda: 2**29)
    big = np.zeros((3000, 3000, 3), np.float32)
    with pytest.raises(nst.NSTError, match="use a smaller size"):
        transfer.run_transfer(tiny_model, big, big, iterations=1)


def test_cli_refuses_a_size_that_does_not_fit(tiny_vgg_path, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fast, "available_memory", lambda: 2**30)
    code = cli.main(["stylize", str(nst.IMAGES_DIR / "chelsea.jpg"), str(nst.IMAGES_DIR / "coffee.jpg"),
                     "-o", str(tmp_path / "out.png"), "--weights", str(tiny_vgg_path), "--size", "10000x10000"])
    err = capsys.readouterr().err
    assert code == 1 and "a 10000x10000 transfer needs about" in err and re.search(r"\(--max-size \d+\)$", err.strip())
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out.png").exists()


def test_cli_scales_and_precision(tiny_vgg_path, tmp_path, capsys):
    out = tmp_path / "out.png"
    code = cli.main(["stylize", str(nst.IMAGES_DIR / "chelsea.jpg"), str(nst.IMAGES_DIR / "coffee.jpg"),
                     "-o", str(out), "--weights", str(tiny_vgg_path), "--size", "64x80", "--iterations", "6",
                     "--optimizer", "lbfgs", "--scales", "0.5:2,1", "--precision", "bfloat16", "--json",
                     "--quiet"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and summary["iterations"] == 6
    assert [h["scale"] for h in summary["history"]] == [0.5, 0.5, 1.0, 1.0, 1.0, 1.0]
    from PIL import Image

    assert Image.open(out).size == (80, 64)


def test_cli_bad_scales(tiny_vgg_path, tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["stylize", "a.jpg", "b.jpg", "-o", str(tmp_path / "o.png"), "--scales", "1,0.5"])
    assert "increasing fractions" in capsys.readouterr().err


def test_bench_json(tiny_vgg_path, tmp_path, capsys):
    plot, pictures = tmp_path / "curves.png", tmp_path / "pictures.png"
    code = cli.main(["bench", "--weights", str(tiny_vgg_path), "--size", "40x56", "--iterations", "6",
                     "--methods", "dlai,lbfgs,lbfgs-bf16,c2f", "--quick", "--json", "--plot", str(plot),
                     "--pictures", str(pictures)])
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    text = "\n".join(out)
    assert code == 0 and "per-iteration cost" in text and "fastest to the target" in text and "evals/it" in text
    assert "fixed s" in text and result["spread"] is None  # one pair, one seed: no spread
    assert {"size", "weights", "quality_weights", "machine", "step", "matmul_gflops", "quality", "memory",
            "plot", "pictures"} <= set(result)
    assert result["size"] == [40, 56] and result["memory"] == []  # --quick leaves the memory part out
    precisions = [row["precision"] for row in result["step"]]
    assert precisions[0] == "float32" and set(precisions) == set(result["matmul_gflops"])
    for row in result["step"]:
        assert {"step_ms", "floor_ms", "step_over_floor", "gflop", "step_gflops", "of_matmul_rate",
                "layers", "adam_ms", "adam_over_floor", "lbfgs_ms", "lbfgs_over_floor"} <= set(row)
        assert row["step_over_floor"] == pytest.approx(row["step_ms"] / row["floor_ms"], rel=0.01)
        assert row["layers"][-1] == "conv4_2" and "conv5_1" in row["layers"]
    q = result["quality"]
    methods = {r["method"]: r for r in q["methods"]}
    assert list(methods)[0] == "dlai" and {"lbfgs", "c2f"} <= set(methods)
    dlai = methods["dlai"]
    assert dlai["J"] == q["target_J"] and dlai["speedup"] == 1.0 and dlai["iterations"] == 6
    assert dlai["evaluations"] == 6 and dlai["evaluations_per_iteration"] == 1.0  # Adam: one per step
    for r in methods.values():
        assert {"seconds_to_target", "iterations_to_target", "speedup", "ms_per_iteration", "J_float32",
                "curve", "reached", "evaluations", "evaluations_per_iteration", "fixed_seconds",
                "first_iteration_seconds"} <= set(r)
        # the fixed cost (before the first iteration) apart from the per-iteration cost
        assert r["fixed_seconds"] < r["first_iteration_seconds"] and r["ms_per_iteration"] > 0  # it may be ~0
        assert r["evaluations_per_iteration"] == pytest.approx(r["evaluations"] / r["iterations"], abs=1e-3)
        assert r["evaluations"] >= r["iterations"] + (r["method"] != "dlai")  # L-BFGS: one to start
        if r["reached"]:
            t, J = np.array(r["curve"]).T
            assert J[t == r["seconds_to_target"]].min() <= q["target_J"]  # the crossing is on the curve
            assert r["speedup"] == pytest.approx(dlai["seconds_to_target"] / r["seconds_to_target"], rel=0.02)
    assert q["fastest"] in methods and methods[q["fastest"]]["reached"]
    assert plot.stat().st_size > 1000 and pictures.stat().st_size > 1000


def test_bench_rejects_unknown_method(tiny_vgg_path, capsys):
    assert cli.main(["bench", "--weights", str(tiny_vgg_path), "--methods", "sgd"]) == 1
    assert "unknown method or part: sgd" in capsys.readouterr().err


def test_step_flops_vgg19_shape(tiny_model):
    # conv FLOPs counted forward and backward: 2 x 2 n_H n_W 9 C_in C_out for each conv up to conv5_1
    rows = {r["name"]: r["shape"] for r in course.layer_table(tiny_model, (32, 32))}
    convs = [layer for layer in tiny_model.layers[: tiny_model.names.index("conv5_1") + 1] if layer.kind == "conv"]
    expected = sum(4 * rows[layer.name][0] * rows[layer.name][1] * 9 * layer.kernel.shape[2] * layer.kernel.shape[3]
                   for layer in convs)
    expected += sum(4 * rows[n][0] * rows[n][1] * rows[n][2] ** 2 for n, _ in nst.STYLE_LAYERS)
    assert bench.step_flops(tiny_model, (32, 32)) == expected


def test_memory_terms_are_the_formula(tiny_vgg_path, tiny_model):
    """Each term of the estimate from the activations the network really returns at this size."""
    size, n, m = (40, 56), 40 * 56 * 3, lbfgs.LBFGS_MEMORY
    deepest = tiny_model.names[: tiny_model.names.index("conv5_1") + 1]
    x = tf.zeros((1, *size, 3))
    vol = {k: int(np.prod(a.shape)) for k, a in tiny_model(x, deepest).items()}
    convs = [k for k in deepest if k.startswith("conv")]
    later_style = ["conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    grams = 4 * sum(int(tiny_model(x, [k])[k].shape[-1]) ** 2 for k, _ in nst.STYLE_LAYERS)
    params = sum(int(np.size(layer.kernel)) + int(np.size(layer.bias)) for layer in tiny_model.layers
                 if layer.name in convs)
    for precision, low in (("float32", 4), ("bfloat16", 2)):
        t = fast.memory_terms(tiny_model, size, "lbfgs", precision)
        assert t["activations"] == 4 * vol["conv1_1"] + low * sum(vol[k] for k in convs[1:])  # no pool kept
        assert t["cost_gradients"] == 4 * (vol["conv1_1"] + vol["conv4_2"]) + low * sum(vol[k] for k in later_style)
        assert t["in_flight"] == int(fast.GRADIENT_IN_FLIGHT * 4 * max(vol.values()))
        assert t["targets"] == 4 * vol["conv4_2"] + grams
        assert t["optimizer"] == 4 * n * (2 * m + fast.IMAGE_COPIES["lbfgs"]) and t["store"] == 4 * n * 2 * m
        assert t["weights"] == (2 * params if low == 2 else 0) and t["workspace"] == fast.TF_WORKSPACE
        evaluation = t["activations"] + t["cost_gradients"] + t["in_flight"]
        held = t["targets"] + t["optimizer"] + t["weights"] + t["workspace"]
        assert fast.estimate_memory(tiny_model, size, "lbfgs", precision) == held + max(evaluation, t["store"])
    adam = fast.memory_terms(tiny_model, size, "adam")
    assert adam["optimizer"] == 4 * n * (2 + fast.IMAGE_COPIES["adam"]) and adam["store"] == 0
    # a narrow network's L-BFGS peaks storing a pair (new S and Y beside the old), VGG's in the evaluation
    assert t["store"] > evaluation
    # max pooling keeps the pools' outputs for their gradient
    maxed = fast.memory_terms(nst.load_vgg_model(tiny_vgg_path, pooling="max"), size, "lbfgs")
    pools = [k for k in deepest if k.startswith("pool")]
    assert maxed["activations"] == fast.memory_terms(tiny_model, size, "lbfgs")["activations"] + 4 * sum(vol[k] for k in pools)


def test_bench_memory_row_and_the_estimate(tiny_vgg_path):
    """A coarse-to-fine run in a fresh process: its time split and peak, and the estimate within 15% of it."""
    precisions = ["float32"] + (["bfloat16"] if fast.bfloat16_supported() else [])
    for precision in precisions:
        row = bench.bench_memory(tiny_vgg_path, 256, precision, iterations=2)
        assert {"size", "pixels", "precision", "optimizer", "estimate_mib", "before_mib", "peak_mib", "extra_mib",
                "estimate_over_extra", "seconds", "fixed_seconds", "load_seconds", "scales"} <= set(row), row
        assert row["size"] == [170, 256] and row["optimizer"] == "lbfgs"  # chelsea's aspect, longest side 256
        assert row["peak_mib"] >= row["before_mib"] > 100  # TensorFlow alone takes more than 100 MiB
        assert row["extra_mib"] == row["peak_mib"] - row["before_mib"]
        assert 0.85 <= row["estimate_mib"] / row["extra_mib"] <= 1.15, row
        (scale,) = row["scales"]  # 256 px: "auto" has one scale
        assert scale["iterations"] == 2 and scale["peak_mib"] <= row["peak_mib"]
        assert row["fixed_seconds"] == pytest.approx(row["seconds"] - 2 * scale["seconds_per_iteration"], abs=2e-3)


def test_bench_memory_part(tiny_vgg_path, tmp_path, capsys):
    """bench --parts memory: coarse to fine at each size, the table, the JSON, the plot."""
    plot = tmp_path / "memory.png"
    code = cli.main(["bench", "--weights", str(tiny_vgg_path), "--parts", "memory", "--memory-sizes", "400",
                     "--memory-iterations", "2", "--memory-plot", str(plot), "--json"])
    out = capsys.readouterr().out.strip().splitlines()
    result, text = json.loads(out[-1]), "\n".join(out)
    assert code == 0 and result["memory_iterations"] == 2 and result["memory_plot"] == str(plot)
    assert "as work grows" in text and "est/run" in text and "1/2: " in text
    precisions = ["float32"] + (["bfloat16"] if fast.bfloat16_supported() else [])
    assert [(r["side"], r["precision"]) for r in result["memory"]] == [(400, p) for p in precisions]
    for r in result["memory"]:
        assert [k["fraction"] for k in r["scales"]] == [0.5, 1.0] and r["scales"][1]["size"] == r["size"] == [266, 400]
        assert [k["iterations"] for k in r["scales"]] == [2, 2] and r["iterations"] == 4
        # the run's peak is its largest scale's (the RSS peak at that scale's last iteration)
        assert r["scales"][0]["peak_mib"] <= r["scales"][1]["peak_mib"] and r["scales"][1]["peak_mib"] >= r["peak_mib"] - 2
        assert r["fixed_seconds"] == pytest.approx(
            r["seconds"] - sum(k["iterations"] * k["seconds_per_iteration"] for k in r["scales"]), abs=2e-3)
        assert f"{r['extra_mib']:7} {r['estimate_mib']:8}" in text
    assert plot.stat().st_size > 10000
    assert cli.main(["bench", "--weights", str(tiny_vgg_path), "--parts", "step", "--memory-plot",
                     str(tmp_path / "m.png")]) == 1
    assert "--memory-plot needs the memory part" in capsys.readouterr().err
    assert cli.main(["bench", "--weights", str(tiny_vgg_path), "--memory-optimizers", "sgd"]) == 1
    assert "--memory-optimizers takes adam and/or lbfgs" in capsys.readouterr().err


def test_bfloat16_conv1_1_stays_float32_and_casts_survive_traces(tiny_model, images):
    """conv1_1 sees the pixels in float32 (its output equals float32's exactly); the later layers compute in
    bfloat16; the bfloat16 weights a first trace made serve a second, different trace too."""
    x = tf.constant(nst.preprocess(images[0], tiny_model.mean))
    low, full = tiny_model(x, ["conv1_1", "conv2_1"], tf.bfloat16), tiny_model(x, ["conv1_1", "conv2_1"])
    assert low["conv1_1"].dtype == tf.float32
    np.testing.assert_array_equal(low["conv1_1"].numpy(), full["conv1_1"].numpy())
    assert low["conv2_1"].dtype == tf.bfloat16
    first = tf.function(lambda x: tiny_model(x, ["conv3_1"], tf.bfloat16)["conv3_1"])
    second = tf.function(lambda x: tiny_model(x, ["conv4_1"], tf.bfloat16)["conv4_1"])
    assert first(x).dtype == second(x).dtype == tf.bfloat16


def test_bench_methods_are_transfer_settings():
    """Each benchmark method is one TransferSettings, writing only what differs from its defaults: dlai is
    the defaults (the assignment's settings) themselves."""
    assert all(isinstance(s, transfer.TransferSettings) for _, s in bench.BENCH_METHODS.values())
    assert bench.BENCH_METHODS["dlai"][1] == transfer.TransferSettings()
    assert bench.BENCH_METHODS["c2f-bf16"][1] == transfer.TransferSettings(optimizer="lbfgs", scales="auto",
                                                                           precision="bfloat16")


def test_bfloat16_targets_are_the_steps_own_activations(tiny_model, images):
    """A bfloat16 step compares x's bfloat16 activations with targets from the same bfloat16 forward pass:
    the content itself has J_content 0 exactly (float32 targets left it bfloat16's rounding away), and its
    style targets are within bfloat16's rounding of the float32 ones."""
    content, style = images
    c, s = nst.preprocess(content, tiny_model.mean), nst.preprocess(style, tiny_model.mean)
    for precision in ("float32", "bfloat16"):
        cost = transfer.cost_function(tiny_model, c, c, precision=precision)
        J, Jc, Js, _ = cost(tf.constant(c))
        assert float(Jc) == 0.0 and float(Js) == 0.0
    names = [n for n, _ in nst.STYLE_LAYERS]
    G32 = transfer.style_targets(tiny_model, [s], None, names, c.shape)
    G16 = transfer.style_targets(tiny_model, [s], None, names, c.shape, "bfloat16")
    for n in names:
        np.testing.assert_allclose(G16[n].numpy(), G32[n].numpy(), rtol=0.05, atol=0.02 * np.abs(G32[n].numpy()).max())


def test_ctrl_c_during_a_bench_run_ends_the_benchmark_instead_of_timing_a_cut_run(tiny_model, make_images):
    """A run cut by Ctrl-C keeps its best image (run_transfer); the benchmark must not take the cut run's cost
    as the target, or its time as a method's, and go on: it raises KeyboardInterrupt (the CLI says interrupted)."""
    import os
    import signal
    import threading

    content, style = make_images(32, 48, seed=2)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            bench.bench_method(tiny_model, content, style, "dlai", iterations=100000)
    finally:
        timer.cancel()


def test_each_bench_method_computes_its_own_targets(tiny_model, make_images, forward_passes):
    """A command computes its targets: so does each method the benchmark times (the targets a model keeps
    for the lab's next Run must not shorten a later method's fixed cost)."""
    content, style = make_images(32, 48, seed=2)
    for _ in range(2):
        bench.bench_method(tiny_model, content, style, "lbfgs", iterations=2)
    assert len(forward_passes) == 4  # the content and the style, each run


def test_evaluations_to_counts_a_coarse_evaluation_by_its_pixels():
    steps = [(9.0, 0, 0, None, {"evaluations": 3, "scale": 0.5}),   # 3 at half the size: 0.75
             (8.0, 0, 0, None, {"evaluations": 4, "scale": 0.5}),   # 1 more: 0.25
             (7.0, 0, 0, None, {"evaluations": 6, "scale": 1.0}),   # 2 at full size, 7 > 5
             (6.0, 0, 0, None, {"evaluations": 7, "scale": 1.0}),
             (4.0, 0, 0, None, {"evaluations": 9, "scale": 1.0}),   # the first at full size <= 5
             (1.0, 0, 0, None, {"evaluations": 10, "scale": 1.0})]
    assert bench.evaluations_to(iter(steps), 5.0) == {"iterations": 5, "evaluations": 9,
                                                      "full_size_evaluations": 6.0, "J": 4}
    assert bench.evaluations_to(iter(steps[:2] + [(4.0, 0, 0, None, {"evaluations": 5, "scale": 0.5})]), 5.0) is None
    one_scale = [(3.0, 0, 0, None, {"evaluations": 2}), (2.0, 0, 0, None, {"evaluations": 3})]  # no "scale": full
    assert bench.evaluations_to(iter(one_scale), 2.5)["full_size_evaluations"] == 3.0


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_bench_times_each_iteration_right_after_a_floor_call(tiny_model, make_images, monkeypatch, optimizer):
    """bench_step's iterations are interleaved with the floor, so that a machine getting slower or faster
    between the two does not make the ratio; L-BFGS's timed iterations are those of one evaluation."""
    images = make_images(24, 32, 0)
    events, transfer_steps = [], bench.transfer_steps

    def spied(*args, **kwargs):
        seen = None
        for step in transfer_steps(*args, **kwargs):
            n = step[4]["evaluations"]
            events.append(("step", None if seen is None else n - seen))
            seen = n
            yield step

    monkeypatch.setattr(bench, "transfer_steps", spied)
    floors = [0.5]
    times = bench._iteration_seconds(tiny_model, images, optimizer, "float32", lambda: events.append(("floor",)),
                                     floors, repeats=3)
    assert events[0] == ("step", None)  # the first iteration (tracing, targets) is not timed
    timed = events[1:]
    assert [e[0] for e in timed] == ["floor", "step"] * (len(timed) // 2)  # a floor call before each iteration
    assert len(floors) == 1 + len(timed) // 2
    single = [e for e in timed if e[0] == "step" and e[1] == 1]
    assert len(times) == len(single) == 4  # repeats + 1 of one evaluation each
    if optimizer == "adam":
        assert len(timed) == 8
    assert all(0 < t < 60 for t in times)
