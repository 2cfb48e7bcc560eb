"""Course helpers: exercise checks, smoke mode, the layer table, the network diagram, reconstructions.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from nst_tools.fast import layer_shapes
from nst_tools.transfer import run_transfer
from nst_utils import (
    CONTENT_LAYER,
    STYLE_LAYERS,
    VGG_MEAN,
    NSTError,
    TransferResult,
    compute_content_cost,
    compute_layer_style_cost,
    compute_style_cost,
    gram_matrix,
    pixel_bounds,
    preprocess,
    total_cost,
)


def grey_noise_image(size, amplitude=20.0, seed=None) -> np.ndarray:
    """A start image with no content: mid-grey 127.5 + U(-amplitude, amplitude), float32 ``(H, W, 3)``."""
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in size)
    return (127.5 + rng.uniform(-amplitude, amplitude, size=(h, w, 3))).astype(np.float32)


def reconstruct_style(model, style, layers, *, size=None, iterations=100, optimizer="lbfgs", lr=2.0,
                      seed=0, amplitude=20.0, callback=None, callback_every=10) -> TransferResult:
    """Texture synthesis: an image whose Gram matrices at ``layers`` match ``style``'s, from grey noise.

    Minimises J_style(S, G) = sum_l lambda^[l] J_style^[l](S, G) alone (run_transfer with
    alpha = 0, beta = 1), starting from ``grey_noise_image``, so nothing of a content image leaks in.
    ``layers``: names (equal weights 1/L) or (name, lambda) pairs; ``size``: (H, W), default the style's.
    """
    if isinstance(layers, str) or not layers:
        raise NSTError("layers must be a non-empty list of layer names, e.g. ['conv1_1', 'conv2_1']")
    pairs = [(n, 1.0 / len(layers)) if isinstance(n, str) else (n[0], float(n[1])) for n in layers]
    model.check_layers([n for n, _ in pairs])
    size = tuple(size) if size is not None else np.shape(style)[:2]
    start = grey_noise_image(size, amplitude, seed)
    shallowest = min((n for n, _ in pairs), key=model.names.index)
    return run_transfer(model, start, style, iterations=iterations, optimizer=optimizer, alpha=0,
                              beta=1, lr=lr, content_layer=shallowest, style_layers=pairs,
                              init_image=start, callback=callback, callback_every=callback_every)


def smoke_mode() -> bool:
    """True when ``$NST_SMOKE`` is "1": notebooks then use tiny images and a few iterations."""
    return os.environ.get("NST_SMOKE") == "1"


def _describe(value) -> str:
    """A check's value as short text: a number, or an array's shape and first entries."""
    if value is None:
        return "None (does the function return its result?)"
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return f"{float(arr):.7g}"
    return f"shape {arr.shape}, first row {np.array2string(arr.reshape(arr.shape[0], -1)[0][:4], precision=5)}"


def _run_check(name, fn, reference, cases, rtol=1e-5):
    """Compare ``fn(*args)`` with ``reference(*args)`` for each (label, args) case; print one line."""
    shown = None
    for label, args in cases:
        expected = np.asarray(reference(*args), dtype=np.float64)
        try:
            got = fn(*args)
            if got is None and shown is None:
                raise NotImplementedError
            arr = None if got is None else np.asarray(got, dtype=np.float64)
            arr = arr.reshape(()) if arr is not None and expected.ndim == 0 and arr.size == 1 else arr
        except NotImplementedError:
            print(not_implemented_line(name))
            return False
        except Exception as exc:  # the learner's code: report it, no traceback
            message = (str(exc).strip().splitlines() or [""])[0][:200]
            print(f"FAILED: {name} {label} raised {type(exc).__name__}: {message}")
            return False
        scale = float(np.max(np.abs(expected))) if expected.size else 0.0
        if arr is None or arr.shape != expected.shape or not np.allclose(arr, expected, rtol=rtol,
                                                                         atol=1e-6 * scale):
            print(f"FAILED: {name} {label}: got {_describe(got)}, expected {_describe(expected)}")
            return False
        shown = shown or (arr, expected)
    print(f"PASSED: {name} = {_describe(shown[0])} (expected {_describe(shown[1])}), "
          f"{len(cases)} test cases")
    return True


def not_implemented_line(name) -> str:
    """The one line a check prints for an exercise still left as its stub."""
    return (f"NOT IMPLEMENTED: {name} is not written yet (it raised NotImplementedError or returned None): "
            "fill in the lines marked YOUR CODE HERE or None and run the cell again. Until then the cells "
            "below use the library's version.")


def my_functions_dir() -> Path:
    """Where the exercises you passed are kept for later notebooks: ``$NST_OUTPUT_DIR/my_functions``
    (default ``outputs/my_functions`` next to the notebooks)."""
    return Path(os.environ.get("NST_OUTPUT_DIR", "outputs")) / "my_functions"


def keep(fn, passed, library_fn):
    """After an exercise's check: the function the rest of the course uses, yours if ``passed``.

    A passed function's source is saved in my_functions_dir() so that a later notebook (05 paints the
    picture with your losses) can load it with ``mine``; a function that did not pass is replaced by
    ``library_fn`` (and any copy saved earlier is removed, so a later notebook does not use it either).
    """
    import inspect

    path = my_functions_dir() / f"{library_fn.__name__}.py"
    if not passed:
        path.unlink(missing_ok=True)
        return library_fn
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):  # defined where no source is kept: it is still used in this notebook
        return fn
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    return fn


def mine(*library_fns) -> dict:
    """The functions to paint with: yours where an earlier notebook saved them (see ``keep``), else the library's.

    Returns ``{name: function}`` and prints one line per function saying whose it is. Your functions are
    run in one namespace with ``tf`` and ``np``, where the names they call (``gram_matrix`` inside your
    ``compute_layer_style_cost``, ...) are your versions where you have them, else the library's.
    """
    namespace = {"tf": tf, "np": np, **{f.__name__: f for f in library_fns}}
    folder = my_functions_dir()
    found = {}
    for f in library_fns:
        path = folder / f"{f.__name__}.py"
        if path.is_file():
            try:
                exec(compile(path.read_text(), str(path), "exec"), namespace)  # your own code, saved by keep
                found[f.__name__] = namespace[f.__name__]
            except Exception as exc:  # noqa: BLE001 - a broken saved copy: say so, use the library's
                print(f"{f.__name__}: could not load your saved version ({type(exc).__name__}); using the library's")
    for f in library_fns:
        whose = f"yours, from {folder / f.__name__}.py" if f.__name__ in found else \
            "the library's (pass its check in its notebook to use yours)"
        print(f"{f.__name__}: {whose}")
    return {f.__name__: found.get(f.__name__, f) for f in library_fns}


def _activation_cases(shapes, n_inputs=2, seed=1):
    """(label, args) cases: ``n_inputs`` float32 tensors ~ N(1, 4^2) per shape, seeded."""
    rng = np.random.default_rng(seed)
    return [(f"for inputs of shape {shape}",
             tuple(tf.constant(rng.normal(1.0, 4.0, shape).astype(np.float32)) for _ in range(n_inputs)))
            for shape in shapes]


def check_content_cost(fn) -> bool:
    """Check ``fn(a_C, a_G)`` against compute_content_cost on random activations; prints PASSED/FAILED."""
    cases = _activation_cases([(1, 4, 4, 3), (1, 3, 5, 8), (1, 7, 6, 16)])
    return _run_check("compute_content_cost", fn, compute_content_cost, cases)


def check_gram_matrix(fn) -> bool:
    """Check ``fn(A)`` against gram_matrix on random A of shape (n_C, n_H n_W); prints PASSED/FAILED."""
    cases = _activation_cases([(3, 2), (8, 20), (16, 49)], n_inputs=1)
    return _run_check("gram_matrix", fn, gram_matrix, cases)


def check_layer_style_cost(fn) -> bool:
    """Check ``fn(a_S, a_G)`` against compute_layer_style_cost on random activations; prints PASSED/FAILED."""
    cases = _activation_cases([(1, 4, 4, 3), (1, 3, 5, 8), (1, 6, 7, 16)])
    return _run_check("compute_layer_style_cost", fn, compute_layer_style_cost, cases)


def check_style_cost(fn) -> bool:
    """Check ``fn(a_S, a_G, style_layers)`` against compute_style_cost on random dicts; prints PASSED/FAILED."""
    rng = np.random.default_rng(2)
    shapes = {"conv1_1": (1, 8, 8, 3), "conv2_1": (1, 4, 4, 6), "conv3_1": (1, 4, 2, 8),
              "conv4_1": (1, 2, 2, 12), "conv5_1": (1, 1, 2, 16)}

    def acts():
        return {n: tf.constant(rng.normal(1.0, 4.0, s).astype(np.float32)) for n, s in shapes.items()}

    uneven = [("conv1_1", 0.5), ("conv3_1", 0.3), ("conv5_1", 0.2)]
    cases = [("with STYLE_LAYERS", (acts(), acts(), STYLE_LAYERS)),
             (f"with style_layers={uneven}", (acts(), acts(), uneven))]
    return _run_check("compute_style_cost", fn, compute_style_cost, cases)


def check_total_cost(fn) -> bool:
    """Check ``fn(J_content, J_style[, alpha, beta])`` against total_cost; prints PASSED/FAILED."""
    cases = [("for (0.2, 0.8) with the default alpha, beta", (0.2, 0.8)),
             ("for (1.5, 2.5, 1.0, 0.01)", (1.5, 2.5, 1.0, 0.01)),
             ("for (3.0, 0.5, 10, 1000)", (tf.constant(3.0), tf.constant(0.5), 10, 1000))]
    return _run_check("total_cost", fn, total_cost, cases)


def adam_state(x) -> dict:
    """Adam's state for a hand-written step (notebook 05): ``{"m": 0, "v": 0, "t": 0}``, m and v shaped like x."""
    return {"m": tf.zeros(np.shape(x), tf.float32), "v": tf.zeros(np.shape(x), tf.float32), "t": 0}


def check_train_step(fn, cost, x0, mean=VGG_MEAN, steps=3, lr=2.0, beta1=0.9, beta2=0.999, eps=1e-8) -> bool:
    """Check ``fn(G, state)``, one Adam step on the tf.Variable ``G``, against ``cost``; prints PASSED/FAILED.

    ``cost``: ``make_cost_function`` of the problem ``fn`` solves (same content, style, alpha, beta);
    ``x0``: a preprocessed (1, H, W, 3) start, its top row set to black and its bottom row to white here
    so that clipping matters. ``fn`` gets ``state = adam_state(x0)`` and must return J at G before the
    step and leave G at clip(G - lr m_hat / (sqrt(v_hat) + eps)) (as nst_utils.adam), ``steps`` times.
    A stub (it raises NotImplementedError, or returns None at the first step) gets one NOT IMPLEMENTED line.
    """
    lo, hi = pixel_bounds(mean)
    x = np.array(x0, np.float32)
    x[:, 0], x[:, -1] = lo[0, 0], hi[0, 0]
    G, state = tf.Variable(x), adam_state(x)
    x = tf.constant(x)
    m, v = tf.zeros_like(x), tf.zeros_like(x)
    for t in range(1, steps + 1):
        J_ref, _, _, g = cost(x)
        J_ref = float(J_ref)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * tf.square(g)
        x = tf.clip_by_value(x - lr * (m / (1 - beta1**t)) / (tf.sqrt(v / (1 - beta2**t)) + eps), lo, hi)
        before = G.numpy()
        try:
            got = fn(G, state)
            if got is None and t == 1:  # the stub returns None
                raise NotImplementedError
            J = None if got is None else np.asarray(got, dtype=np.float64)
        except NotImplementedError:
            print(not_implemented_line("train_step"))
            return False
        except Exception as exc:  # the learner's code: report it, no traceback
            message = (str(exc).strip().splitlines() or [""])[0][:200]
            print(f"FAILED: train_step at step {t} raised {type(exc).__name__}: {message}")
            return False
        if J is None or J.size != 1 or not np.isclose(float(J.reshape(())), J_ref, rtol=1e-4):
            print(f"FAILED: train_step at step {t}: returned J = {_describe(J)}, expected {J_ref:.7g} "
                  "(the cost at G before the update)")
            return False
        after = G.numpy()
        if np.array_equal(after, before):
            print(f"FAILED: train_step at step {t}: G did not change (update the variable: G.assign(...))")
            return False
        diff = np.abs(after - x.numpy())
        off = diff > 1e-2
        if off.mean() > 1e-3:
            print(f"FAILED: train_step at step {t}: G is off by more than 0.01 at {off.sum()} of {off.size} "
                  f"values (by up to {diff.max():.3g}); expected clip(G - lr * m_hat / (sqrt(v_hat) + eps))")
            return False
    print(f"PASSED: train_step = {float(J.reshape(())):.7g} (expected {J_ref:.7g}) at step {steps}, "
          f"and G is Adam's update after each of the {steps} steps")
    return True


def layer_table(model, input_size=(224, 224)):
    """One row per layer at ``input_size`` (H, W): name, kind, output shape (n_H, n_W, n_C), receptive field.

    Receptive field r (pixels of the input one output position sees) and jump j (input pixels between
    neighbouring positions) start at r = j = 1; a k x k stride-1 conv adds (k - 1) j, a 2x2 stride-2
    pool adds j and doubles j. Shapes follow the model: SAME padding, pools halve rounding up.
    """
    r, j, rows = 1, 1, []
    for layer, shape in zip(model.layers, layer_shapes(model, input_size)):
        if layer.kind == "conv":
            r += (int(layer.kernel.shape[0]) - 1) * j
        else:
            r, j = r + j, 2 * j
        rows.append({"name": layer.name, "kind": layer.kind, "shape": shape, "receptive_field": r, "jump": j})
    return rows


def draw_network(model, input_size=(224, 224), content_layer=CONTENT_LAYER, style_layers=STYLE_LAYERS):
    """A matplotlib Figure of the model's layers: one box per layer, grouped by block, channel counts
    from the file, the content layer and the style layers highlighted; box height ~ sqrt(n_H)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    rows = layer_table(model, input_size)
    style = {n for n, w in style_layers if w}
    colours = {"content": "tab:orange", "style": "tab:purple", "conv": "lightsteelblue", "pool": "dimgray"}
    fig, ax = plt.subplots(figsize=(max(8.0, 0.5 * len(rows) + 2), 4.2))
    x, height0 = 0.0, 3.0
    ax.add_patch(Rectangle((x, -height0 / 2), 0.6, height0, color="wheat", ec="black"))
    ax.text(x + 0.3, height0 / 2 + 0.15, f"input\n{input_size[0]}x{input_size[1]}x3", ha="center", va="bottom",
            fontsize=7)
    x += 1.0
    block_start = x
    for i, row in enumerate(rows):
        h = height0 * np.sqrt(row["shape"][0] / input_size[0])
        if row["kind"] == "conv":
            key = "content" if row["name"] == content_layer else "style" if row["name"] in style else "conv"
            ax.add_patch(Rectangle((x, -h / 2), 0.55, h, color=colours[key], ec="black"))
            ax.text(x + 0.275, -h / 2 - 0.1, row["name"], rotation=90, ha="center", va="top", fontsize=7)
            x += 0.7
        else:
            ax.add_patch(Rectangle((x, -h / 2), 0.2, h, color=colours["pool"], ec="black"))
            n_H, n_W, n_C = rows[max(i - 1, 0)]["shape"]  # the block's maps, before this pool
            ax.text((block_start + x) / 2, height0 / 2 + 0.15, f"block {row['name'][4:]}: {n_C} channels\n{n_H}x{n_W}",
                    ha="center", va="bottom", fontsize=8)
            ax.text(x + 0.1, -h / 2 - 0.1, row["name"], rotation=90, ha="center", va="top", fontsize=7)
            x += 0.6
            block_start = x
    legend = [Patch(color=colours["content"], label=f"content layer ({content_layer})"),
              Patch(color=colours["style"], label="style layers (" + ", ".join(n for n, w in style_layers if w) + ")"),
              Patch(color=colours["conv"], label="other conv 3x3 + ReLU"),
              Patch(color=colours["pool"], label=f"2x2 {model.pooling} pool, stride 2")]
    ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2, fontsize=8,
              frameon=False)
    ax.set_xlim(-0.3, x + 0.1)
    ax.set_ylim(-height0 / 2 - 1.3, height0 / 2 + 0.9)
    ax.set_axis_off()
    name = Path(model.path).name if model.path else "VGG"
    ax.set_title(f"{name}: {len(model.conv_names)} conv layers in {sum(r['kind'] == 'pool' for r in rows)} "
                 f"blocks, input {input_size[0]}x{input_size[1]} (box height ~ sqrt of the map's height)")
    fig.tight_layout()
    return fig


def reconstruct_content(model, image, layer, *, iterations=100, optimizer="lbfgs", lr=2.0, seed=0,
                        amplitude=2.0, callback=None, callback_every=10) -> TransferResult:
    """Content reconstruction: an image whose activation at ``layer`` matches ``image``'s, from grey noise.

    Minimises J_content(C, G) at ``layer`` alone (run_transfer with beta = 0 and no style layers),
    starting from ``grey_noise_image`` (faint noise: strong noise survives in what deep layers ignore);
    starting from the content would already be a solution. ``image``: RGB (H, W, 3) in [0, 255].
    alpha is set so that J = alpha J_content is 1000 at the start: L-BFGS-B's first step is the raw
    gradient, which would not change a small float32 cost at all. ``result.J_content`` is unscaled.
    """
    model.check_layers([layer])
    start = grey_noise_image(np.shape(image)[:2], amplitude, seed)
    a_C = model(preprocess(image, model.mean), [layer])[layer]
    J0 = float(compute_content_cost(a_C, model(preprocess(start, model.mean), [layer])[layer]))
    return run_transfer(model, image, image, iterations=iterations, optimizer=optimizer,
                        alpha=1000.0 / J0 if J0 > 0 else 1.0, beta=0, lr=lr, content_layer=layer,
                        style_layers=[], init_image=start, callback=callback, callback_every=callback_every)



def check_restore_chroma(fn) -> bool:
    """Check ``fn(stylised, content)`` against further.restore_chroma on random RGB images; prints PASSED/FAILED.

    stylised: uint8 (H, W, 3), content: float32 (H, W, 3) in [0, 255], as notebook 07 passes them; the
    last case has black and white stylised pixels, where the result must be clipped to [0, 255].
    """
    from nst_tools.further import restore_chroma

    rng = np.random.default_rng(3)

    def pair(h, w, stylised=None):
        stylised = rng.integers(0, 256, (h, w, 3)) if stylised is None else stylised
        return np.asarray(stylised, np.uint8), rng.uniform(0, 255, (h, w, 3)).astype(np.float32)

    cases = [(f"for random images of size {h}x{w}", pair(h, w)) for h, w in [(4, 6), (9, 7)]]
    cases.append(("for a black-and-white stylised image (the result needs clipping)",
                  pair(5, 5, rng.choice([0, 255], (5, 5, 1)).repeat(3, axis=-1))))
    return _run_check("restore_chroma", fn, restore_chroma, cases)


def figure_slider(draw, options, value=None, description="", width="500px"):
    """Show ``draw(value)``'s figure, with a slider over ``options`` above it that redraws it in place.

    ``draw(option)`` returns a matplotlib Figure. The figure is an ordinary PNG output, shown with a
    display id (so it is there in a saved notebook and in a headless run), and moving the slider replaces
    it through ``handle.update``. No Output widget is involved (``ipywidgets.interact`` puts its figure in
    one): under ``jupyter nbconvert --execute``, nbclient answers an Output widget's output with a message
    on the kernel's shell channel while it waits on that channel for the cell's reply, and now and then
    the reply goes unseen: the kernel is idle and the run waits until the cell's timeout.
    Returns the slider (``None`` when ipywidgets is not installed: then only the figure is shown).
    """
    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    from nst_tools.preview import figure_png

    options = list(options)
    value = options[0] if value is None else value

    def frame(option):
        fig = draw(option)
        png = figure_png(fig)
        plt.close(fig)  # a pyplot figure would be shown a second time at the end of the cell
        return Image(data=png, format="png")

    try:
        import ipywidgets as widgets
    except ImportError:
        display(frame(value))
        return None
    slider = widgets.SelectionSlider(options=options, value=value, description=description,
                                     continuous_update=False, layout=widgets.Layout(width=width))
    display(slider)
    handle = display(frame(value), display_id=True)
    slider.observe(lambda change: handle.update(frame(change["new"])), names="value")
    return slider
