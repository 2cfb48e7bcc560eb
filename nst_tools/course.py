"""Course helpers: exercise checks (the registry in nst_tools.exercises), smoke mode, progress bars, the layer
table, the network diagram, reconstructions.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nst_tools.exercises import (  # noqa: F401 - the course's exercise API, used by the notebooks
    EXERCISES,
    Exercise,
    Mistake,
    adam_state,
    case_inputs,
    check_content_cost,
    check_gram_matrix,
    check_layer_style_cost,
    check_restore_chroma,
    check_style_cost,
    check_total_cost,
    check_train_step,
    expected_text,
    keep,
    mine,
    my_functions_dir,
    not_implemented_line,
    verdict_html,
)
from nst_tools.fast import layer_shapes
from nst_tools.transfer import run_transfer
from nst_utils import (
    CONTENT_LAYER,
    LEARNING_RATE,
    STYLE_LAYERS,
    NSTError,
    TransferResult,
    compute_content_cost,
    preprocess,
)


def grey_noise_image(size, amplitude=20.0, seed=None) -> np.ndarray:
    """A start image with no content: mid-grey 127.5 + U(-amplitude, amplitude), float32 ``(H, W, 3)``."""
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in size)
    return (127.5 + rng.uniform(-amplitude, amplitude, size=(h, w, 3))).astype(np.float32)


def progress(iterable=None, desc=None, total=None, **kwargs):
    """A progress bar with the time left (tqdm.auto: a widget in Jupyter, text elsewhere) over ``iterable``;
    without one, a bar to ``update`` by hand. A plain pass-through when tqdm is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar(iterable)
    return tqdm(iterable, desc=desc, total=total, **kwargs)


class _NoBar:
    """What ``progress`` gives without tqdm: iterates, counts (``n``), and is a context manager, like tqdm."""

    def __init__(self, iterable=None):
        self.iterable, self.n = iterable, 0

    def __iter__(self):
        return iter(self.iterable or ())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def update(self, n=1):
        self.n += n

    def close(self):
        pass


def _with_progress(progress_on, iterations, desc, callback, callback_every):
    """(callback, callback_every, bar): ``callback`` wrapped to also move a progress bar of ``iterations``."""
    if not progress_on or not iterations:
        return callback, callback_every, None
    bar = progress(total=int(iterations), desc=desc, leave=False)
    every = max(1, int(callback_every))
    state = {"done": 0}

    def tick(iteration, costs, image):
        bar.update(max(0, int(iteration) - state["done"]))
        state["done"] = max(state["done"], int(iteration))
        if callback is not None and (iteration % every == 0 or iteration == iterations):
            callback(iteration, costs, image)

    return tick, 1, bar


def reconstruct_style(model, style, layers, *, size=None, iterations=100, optimizer="lbfgs", lr=LEARNING_RATE,
                      seed=0, amplitude=20.0, callback=None, callback_every=10, progress=True) -> TransferResult:
    """Texture synthesis: an image whose Gram matrices at ``layers`` match ``style``'s, from grey noise.

    Minimises J_style(S, G) = sum_l lambda^[l] J_style^[l](S, G) alone (run_transfer with
    alpha = 0, beta = 1), starting from ``grey_noise_image``, so nothing of a content image leaks in.
    ``layers``: names (equal weights 1/L) or (name, lambda) pairs; ``size``: (H, W), default the style's.
    ``progress``: show a progress bar with the time left (tqdm.auto).
    """
    if isinstance(layers, str) or not layers:
        raise NSTError("layers must be a non-empty list of layer names, e.g. ['conv1_1', 'conv2_1']")
    pairs = [(n, 1.0 / len(layers)) if isinstance(n, str) else (n[0], float(n[1])) for n in layers]
    model.check_layers([n for n, _ in pairs])
    size = tuple(size) if size is not None else np.shape(style)[:2]
    start = grey_noise_image(size, amplitude, seed)
    shallowest = min((n for n, _ in pairs), key=model.names.index)
    callback, callback_every, bar = _with_progress(progress, iterations, f"style up to {pairs[-1][0]}", callback,
                                                   callback_every)
    try:
        return run_transfer(model, start, style, iterations=iterations, optimizer=optimizer, alpha=0,
                                  beta=1, lr=lr, content_layer=shallowest, style_layers=pairs,
                                  init_image=start, callback=callback, callback_every=callback_every)
    finally:
        if bar is not None:
            bar.close()


def smoke_mode() -> bool:
    """True when ``$NST_SMOKE`` is "1": notebooks then use tiny images and a few iterations."""
    return os.environ.get("NST_SMOKE") == "1"


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


def reconstruct_content(model, image, layer, *, iterations=100, optimizer="lbfgs", lr=LEARNING_RATE, seed=0,
                        amplitude=2.0, callback=None, callback_every=10, progress=True) -> TransferResult:
    """Content reconstruction: an image whose activation at ``layer`` matches ``image``'s, from grey noise.

    Minimises J_content(C, G) at ``layer`` alone (run_transfer with beta = 0 and no style layers),
    starting from ``grey_noise_image`` (faint noise: strong noise survives in what deep layers ignore);
    starting from the content would already be a solution. ``image``: RGB (H, W, 3) in [0, 255].
    alpha is set so that J = alpha J_content is 1000 at the start: L-BFGS-B's first step is the raw
    gradient, which would not change a small float32 cost at all. ``result.J_content`` is unscaled.
    ``progress``: show a progress bar with the time left (tqdm.auto).
    """
    model.check_layers([layer])
    start = grey_noise_image(np.shape(image)[:2], amplitude, seed)
    a_C = model(preprocess(image, model.mean), [layer])[layer]
    J0 = float(compute_content_cost(a_C, model(preprocess(start, model.mean), [layer])[layer]))
    callback, callback_every, bar = _with_progress(progress, iterations, f"content from {layer}", callback,
                                                   callback_every)
    try:
        return run_transfer(model, image, image, iterations=iterations, optimizer=optimizer,
                                  alpha=1000.0 / J0 if J0 > 0 else 1.0, beta=0, lr=lr, content_layer=layer,
                                  style_layers=[], init_image=start, callback=callback,
                                  callback_every=callback_every)
    finally:
        if bar is not None:
            bar.close()



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
