"""Render the course's key figures into notebooks/figures/, so that a reader sees them before running anything.

    python3 docs/course/render.py --weights PATH [--stand-in | --weights-label TEXT] [--only NAME] [--out DIR]
    python3 docs/course/render.py --smoke --weights tiny.mat --out /tmp/figs     # tiny sizes, 2 iterations

Each figure is made by the library (nst_utils, nst_tools.course / further / fast) at the settings of the
notebook it illustrates (SETTINGS below, copied from notebooks/src/NN_*.py), and carries a footer naming
the weights, the size and the iterations. Photos and results are written as JPEG (quality 85), diagrams
as PNG, at most MAX_WIDTH pixels wide, into notebooks/figures/: the notebooks link them as figures/NAME, so they
show wherever Jupyter serves notebooks/ (or the learner's copy, course/). The captions are in docs/course/README.md.
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
IMAGES = ROOT / "images"
FIGURES = ROOT / "notebooks" / "figures"   # where the notebooks find them (figures/NAME)
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import nst_utils as nst  # noqa: E402
from nst_tools import course, fast, further, transfer  # noqa: E402
from nst_tools.transfer import TransferSettings  # noqa: E402

MAX_WIDTH = 1400          # pixels
JPEG_QUALITY = 85
SEED = 0                  # every figure's noise

#: The label the committed figures carry (``--stand-in``): where they were made, the VGG19 file could not
#: be downloaded, so a VGG16 in MatConvNet's layout with ImageNet-derived filters stood in for it.
STAND_IN_LABEL = ("VGG16 stand-in weights (real-layout MatConvNet file from ImageNet-derived filters; "
                  "the VGG19 file cannot be downloaded where this was made)")

#: How the course's pictures are painted, unless a figure says otherwise: the library's transfer settings
#: (TransferSettings: alpha, beta, layers, precision float32, ...) with L-BFGS from the seeded noisy start.
LBFGS = TransferSettings(optimizer="lbfgs", seed=SEED)

#: Each figure's settings, copied from the notebook it illustrates (the non-smoke values). How a figure's
#: pictures are painted is one TransferSettings (under "transfer", "row_transfer"); everything it does not
#: set is the library's default, written once, in nst_utils.Settings and nst_tools.transfer.TransferSettings.
SETTINGS = {
    # notebooks/src/00_setup_and_vgg19.py: IMAGE_SIZE, the diagram's input size
    "00_network": {"size": (300, 400)},
    # notebooks/src/01_content_loss.py, section 3: RECON_SIZE, RECON_ITERATIONS, recon_layers, seed 0
    "01_content_reconstructions": {"image": "chelsea.jpg", "size": (100, 150),
                                   "transfer": replace(LBFGS, iterations=100),
                                   "layers": ["conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2"]},
    # the Gram matrix notebook's idea, drawn by hand: n_H x n_W x n_C = 3 x 4 x 3
    "02_unrolling": {"shape": (3, 4, 3)},
    # notebooks/src/03_style_loss.py, section 4: STYLE_PATH, RECON_SIZE, RECON_ITERATIONS, seed 0
    "03_style_reconstructions": {"style": "style_swirls.jpg", "size": (144, 192),
                                 "transfer": replace(LBFGS, iterations=100)},
    # notebooks/src/04_total_loss.py, section 2: GRID_SIZE (longest side), ITERATIONS, RATIOS (beta = ratio x alpha)
    "04_beta_alpha_grid": {"content": "chelsea.jpg", "style": "style_swirls.jpg", "max_size": 128,
                           "transfer": replace(LBFGS, iterations=100),
                           "ratios": [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 4.0]},
    # README.md, the quick stylize command (tests/test_readme.py checks that it parses to these settings):
    # --optimizer lbfgs --init colours --iterations 100, stylize's --max-size 400, --precision auto, one scale
    # and no seed (the colours start has no noise)
    "05_result": {"content": "chelsea.jpg", "style": "style_swirls.jpg", "max_size": 400,
                  "transfer": replace(LBFGS, iterations=100, precision="auto", init="colours", seed=None)},
    # notebooks/src/07_going_further.py: SIZE = fit_size(300, 451, 400) and ITER for the colours,
    # ROW and ROW_ITER for the blend and the style scale; SETTINGS (L-BFGS, seed 0)
    "07_extras": {"content": "chelsea.jpg", "style_a": "style_swirls.jpg", "style_b": "style_mosaic.jpg",
                  "size": (266, 400), "transfer": replace(LBFGS, iterations=40), "row": (200, 300),
                  "row_transfer": replace(LBFGS, iterations=30), "blend": 0.5, "scales": [0.5, 2.0]},
}

#: --smoke: the same figures at tiny sizes and 2 iterations (for the tests); a dict under a settings key
#: changes those settings (settings_with), any other value replaces the figure's.
SMOKE = {
    "01_content_reconstructions": {"size": (32, 48), "transfer": {"iterations": 2}},
    "03_style_reconstructions": {"size": (32, 40), "transfer": {"iterations": 2}},
    "04_beta_alpha_grid": {"max_size": 48, "transfer": {"iterations": 2}},
    "05_result": {"max_size": 64, "transfer": {"iterations": 2}},
    "07_extras": {"size": (32, 48), "transfer": {"iterations": 2}, "row": (32, 48),
                  "row_transfer": {"iterations": 2}},
}

FILES = {"00_network": ".png", "01_content_reconstructions": ".jpg", "02_unrolling": ".png",
         "03_style_reconstructions": ".jpg", "04_beta_alpha_grid": ".jpg", "05_result": ".jpg",
         "07_extras": ".jpg"}

def weights_label(model, path) -> str:
    """"VGG19 weights (file)" / "VGG16 weights (file)" from the number of conv layers in the file."""
    arch = {16: "VGG19", 13: "VGG16"}.get(len(model.conv_names), f"{len(model.conv_names)}-conv VGG")
    return f"{arch} weights ({Path(path).name})"


def hw(size) -> str:
    return f"{size[0]}x{size[1]}"


def load(name, **kwargs) -> np.ndarray:
    return nst.load_image(IMAGES / name, **kwargs)


def show(ax, image, title=None, fontsize=10):
    ax.imshow(np.clip(np.asarray(image), 0, 255).astype(np.uint8))
    if title:
        ax.set_title(title, fontsize=fontsize)
    ax.set_xticks([])
    ax.set_yticks([])


def save(fig, path, footer, width_in=None):
    """Add the footer line(s), render at <= MAX_WIDTH px wide, write JPEG (photos) or PNG (diagrams)."""
    fig.text(0.5, 0.0, footer, ha="center", va="top", fontsize=8.5, color="0.3", wrap=False)
    width_in = width_in or fig.get_figwidth()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=min(150, MAX_WIDTH / (width_in + 0.3)), bbox_inches="tight",
                pad_inches=0.1, facecolor="white")
    plt.close(fig)
    img = Image.open(buf).convert("RGB")
    if img.width > MAX_WIDTH:
        img = img.resize((MAX_WIDTH, round(img.height * MAX_WIDTH / img.width)), Image.LANCZOS)
    if path.suffix == ".jpg":
        nst.atomic_write(path, lambda tmp: img.save(tmp, format="JPEG", quality=JPEG_QUALITY, optimize=True,
                                                    progressive=True))
    else:
        small = img.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        nst.atomic_write(path, lambda tmp: small.save(tmp, format="PNG", optimize=True))
    return img.size


def row_figure(images, titles, suptitle, height=2.3):
    """One row of images, each with its title, under ``suptitle`` (the reconstruction figures)."""
    fig, axes = plt.subplots(1, len(images), figsize=(2.3 * len(images), height), layout="constrained")
    for ax, image, title in zip(axes, images, titles):
        show(ax, image, title)
    fig.suptitle(suptitle, fontsize=11)
    return fig


# --- the figures ---------------------------------------------------------------------------------------

def fig_network(model, s, label):
    fig = course.draw_network(model, s["size"], nst.CONTENT_LAYER, nst.STYLE_LAYERS)
    rows = course.layer_table(model, s["size"])
    per_block, count = [], 0
    for row in rows:
        count += row["kind"] == "conv"
        if row["kind"] == "pool":
            per_block, count = per_block + [count], 0
    n = len(model.conv_names)
    arch = {16: "VGG19", 13: "VGG16"}.get(n, "this network")
    note = "" if n == 16 else "; the course's VGG19 has 16 convs, 4 per block in blocks 3-5 (2, 2, 4, 4, 4)"
    footer = (f"Drawn from the weights file at input {hw(s['size'])}: {arch}'s layout, {n} convs "
              f"({', '.join(map(str, per_block))} per block){note}.\nWeights: {label}")
    return fig, footer


def recon_kwargs(t: TransferSettings) -> dict:
    """course.reconstruct_content / reconstruct_style's optimiser settings, from a TransferSettings."""
    return {"iterations": t.iterations, "optimizer": t.optimizer, "lr": t.lr, "seed": t.seed}


def optimiser_text(t: TransferSettings) -> str:
    return {"lbfgs": "L-BFGS", "adam": f"Adam (lr {t.lr:g})"}[t.optimizer]


def fig_content(model, s, label):
    t = s["transfer"]
    photo = load(s["image"], size=s["size"])
    rf = {row["name"]: row["receptive_field"] for row in course.layer_table(model, s["size"])}
    results = []
    for layer in s["layers"]:
        t0 = time.perf_counter()
        results.append(course.reconstruct_content(model, photo, layer, **recon_kwargs(t)))
        print(f"  {layer}: J_content {results[-1].J_content:.3g} ({time.perf_counter() - t0:.0f} s)", flush=True)
    fig = row_figure([photo] + [r.image for r in results],
                     ["content image C"] + [f"from {layer}\n(receptive field {rf[layer]} px)" for layer in s["layers"]],
                     "Content reconstructions from grey noise: an image whose activation at one layer matches the "
                     "photo's (the layers of Gatys et al., CVPR 2016, Fig. 1)")
    footer = (f"{hw(s['size'])} pixels, {t.iterations} {optimiser_text(t)} iterations per reconstruction "
              f"(course.reconstruct_content, seed {t.seed}).\nWeights: {label}")
    return fig, footer


def fig_unrolling(model, s, label):
    from matplotlib.patches import FancyArrowPatch, Rectangle

    n_H, n_W, n_C = s["shape"]
    tints = [np.array(matplotlib.colors.to_rgb(c)) for c in ("#f2a0a0", "#9fd39f", "#a3b5f0")][:n_C]
    edge = "0.25"
    fig, ax = plt.subplots(figsize=(14, 3.4))
    fig.subplots_adjust(left=0.01, right=0.99, top=0.86, bottom=0.04)
    ax.set_xlim(-0.6, 30.6)
    ax.set_ylim(-0.9, 6.4)
    ax.set_aspect("equal")
    ax.set_axis_off()
    arrow = dict(arrowstyle="-|>", mutation_scale=20, lw=1.6, color="0.3")

    # the volume: n_C channel maps of n_H x n_W, stacked front (channel 0) to back
    x0, y0, step = 0.3, 0.6, 0.55
    right = x0 + n_W + (n_C - 1) * step                        # the back card's right edge
    for c in reversed(range(n_C)):
        ox, oy = x0 + c * step, y0 + c * step
        for h in range(n_H):
            for w in range(n_W):
                ax.add_patch(Rectangle((ox + w, oy + n_H - 1 - h), 1, 1, fc=tints[c], ec=edge, lw=1))
                if c == 0:
                    ax.text(ox + w + 0.5, oy + n_H - 1 - h + 0.5, f"{h * n_W + w}", ha="center",
                            va="center", fontsize=10)
        ax.plot([ox + n_W, right + 0.25], [oy + n_H - 0.25] * 2, color="0.5", lw=0.8)
        ax.text(right + 0.3, oy + n_H - 0.25, f"c = {c}", fontsize=8.5, va="center", color="0.2")
    ax.text(x0 + n_W / 2, y0 - 0.25, f"n_W = {n_W}", ha="center", va="top", fontsize=10)
    ax.text(x0 - 0.15, y0 + n_H / 2, f"n_H = {n_H}", ha="right", va="center", fontsize=10, rotation=90)
    ax.text(x0 + (n_W + n_C * step) / 2, y0 + n_H + n_C * step + 0.2,
            f"activation a of one layer:\nn_H x n_W x n_C = {n_H} x {n_W} x {n_C}\n(c = channel)", ha="center",
            va="bottom", fontsize=10.5)

    # the unrolled matrix A: one row per channel, one column per position k = h n_W + w (from 0, as notebook 02)
    ax0, cell, ay = 10.4, 0.78, 1.0
    for c in range(n_C):
        for k in range(n_H * n_W):
            ax.add_patch(Rectangle((ax0 + k * cell, ay + (n_C - 1 - c) * cell), cell, cell, fc=tints[c],
                                   ec=edge, lw=1))
            ax.text(ax0 + (k + 0.5) * cell, ay + (n_C - 1 - c + 0.5) * cell, f"{k}", ha="center",
                    va="center", fontsize=9)
        ax.text(ax0 - 0.12, ay + (n_C - 1 - c + 0.5) * cell, f"c = {c}", ha="right", va="center",
                fontsize=8.5, color="0.2")
    a_w = n_H * n_W * cell
    ax.text(ax0 + a_w / 2, ay + n_C * cell + 0.25,
            f"A = unroll(a): n_C x (n_H n_W) = {n_C} x {n_H * n_W}\n"
            "row c = channel c's map, read row by row", ha="center", va="bottom", fontsize=10.5)
    ax.text(ax0 + a_w / 2, ay - 0.2, f"column k = h n_W + w: one position of the {n_H} x {n_W} map",
            ha="center", va="top", fontsize=9)
    mid = ay + n_C * cell / 2
    ax.add_patch(FancyArrowPatch((right + 1.6, mid), (ax0 - 1.0, mid), **arrow))
    ax.text((right + 1.6 + ax0 - 1.0) / 2, mid + 0.2, "unroll", ha="center", va="bottom", fontsize=10)

    # the Gram matrix G_gram = A A^T (notebook 02's name: a plain G is the generated image)
    gx, gcell = ax0 + a_w + 2.6, 1.0
    gy = ay + (n_C * cell - n_C * gcell) / 2
    for i in range(n_C):
        for j in range(n_C):
            colour = (tints[i] + tints[j]) / 2
            ax.add_patch(Rectangle((gx + j * gcell, gy + (n_C - 1 - i) * gcell), gcell, gcell, fc=colour,
                                   ec=edge, lw=1))
            ax.text(gx + (j + 0.5) * gcell, gy + (n_C - 1 - i + 0.5) * gcell, f"{i},{j}",
                    ha="center", va="center", fontsize=11)
    ax.add_patch(FancyArrowPatch((ax0 + a_w + 0.3, mid), (gx - 0.3, mid), **arrow))
    ax.text((ax0 + a_w + gx) / 2, mid + 0.2, r"$A A^T$", ha="center", va="bottom", fontsize=12)
    ax.text(gx + n_C * gcell / 2, gy + n_C * gcell + 0.25, f"Gram matrix G_gram = A A$^T$\nn_C x n_C = {n_C} x {n_C}",
            ha="center", va="bottom", fontsize=10.5)
    ax.text(gx + n_C * gcell + 0.5, mid,
            "entry i,j: $(G_{gram})_{ij} = \\sum_k A_{ik} A_{jk}$:\nhow strongly channels\ni and j fire together,\n"
            "summed over all positions\n(where they fire is lost)", ha="left", va="center", fontsize=9.5)
    fig.suptitle("Unrolling an activation volume into A, and the Gram matrix A A$^T$ (the style cost compares "
                 "these)", fontsize=12)
    footer = (f"Diagram (no weights): n_H = {n_H}, n_W = {n_W}, n_C = {n_C}; cell numbers are the positions "
              "k. In the library: nst.unroll(a) and nst.gram_matrix(A).")
    return fig, footer


def fig_style(model, s, label):
    t = s["transfer"]
    style = load(s["style"], size=s["size"])
    names = [n for n, _ in nst.STYLE_LAYERS]
    layer_sets = [names[:k] for k in range(1, len(names) + 1)]
    results = []
    for layers in layer_sets:
        t0 = time.perf_counter()
        results.append(course.reconstruct_style(model, style, layers, **recon_kwargs(t)))
        print(f"  {layers[-1]}: J_style {results[-1].J_style:.3g} ({time.perf_counter() - t0:.0f} s)", flush=True)
    titles = ["from " + (ls[0] if len(ls) == 1 else f"{ls[0]} ... {ls[-1]}") for ls in layer_sets]
    fig = row_figure([style] + [r.image for r in results], [f"style image S\n({s['style']})"] + titles,
                     "Style reconstructions from grey noise: matching the Gram matrices of more and more layers "
                     "(equal weights)", height=2.55)
    footer = (f"{hw(s['size'])} pixels, {t.iterations} {optimiser_text(t)} iterations per reconstruction "
              f"(course.reconstruct_style, seed {t.seed}).\nWeights: {label}")
    return fig, footer


def fig_grid(model, s, label):
    t = s["transfer"]
    content = load(s["content"], max_size=s["max_size"])
    style = load(s["style"], size=content.shape[:2])
    results = []
    for ratio in s["ratios"]:
        t0 = time.perf_counter()
        results.append(transfer.run_transfer(model, content, style, t, beta=ratio * t.alpha))
        print(f"  beta/alpha {ratio:g}: J_content {results[-1].J_content:.3g}, J_style {results[-1].J_style:.3g} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    n = len(s["ratios"]) + 1
    fig, axes = plt.subplots(1, n, figsize=(1.75 * n, 1.75), layout="constrained")
    show(axes[0], content, "content C", fontsize=9)
    for ax, ratio, result in zip(axes[1:], s["ratios"], results):
        show(ax, result.image, "β/α = " + ("4 (assignment)" if ratio == 4 else f"{ratio:.0e}"), fontsize=9)
    fig.suptitle(f"More weight on style from left to right (style: {s['style']})", fontsize=11)
    footer = (f"{hw(content.shape)} pixels, {t.iterations} {optimiser_text(t)} iterations per picture, "
              f"α = {t.alpha:g}, β = ratio x α, start: content + noise (seed {t.seed}).\nWeights: {label}")
    return fig, footer


def plan_text(size, iterations, scales):
    plan = fast.scale_plan(scales, iterations, size)
    steps = [f"{hw(fast.scaled_size(size, f))} for {n}" for f, n in plan]
    return ", then ".join(steps) + " iterations"


def start_text(t):
    """The start of a run, as a footer says it."""
    return {"colours": "from the content in the style's colours", "content": "from the content"}.get(
        t.init, f"from the noisy content, seed {t.seed}")


def fig_result(model, s, label):
    """What the README's quick stylize command paints: the content at ``max_size`` (its shape kept), the
    style at the content's size, as ``stylize`` loads them, and the same settings."""
    t = s["transfer"]
    content = load(s["content"], max_size=s["max_size"])
    size = content.shape[:2]
    style = load(s["style"], size=size)                        # as stylize loads it (--style-scale 1)
    t0 = time.perf_counter()
    result = transfer.run_transfer(model, content, style, t)
    print(f"  J {result.J:.6g} ({time.perf_counter() - t0:.0f} s)", flush=True)
    fig, axes = plt.subplots(1, 5, figsize=(13.5, 3.6), width_ratios=[1, 0.14, 1, 0.14, 1])
    for ax, image, title in zip(axes[::2], [content, style, result.image],
                                [f"content ({s['content']})", f"style ({s['style']})", "result"]):
        show(ax, image, title, fontsize=12)
        ax.axis("off")
    for ax, sign in zip(axes[1::2], "+="):
        ax.axis("off")
        ax.text(0.5, 0.5, sign, ha="center", va="center", fontsize=34, transform=ax.transAxes)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.9, bottom=0.02, wspace=0.02)
    precision = fast.resolve_precision(t.precision)
    precision += f" (precision {t.precision})" if precision != t.precision else ""
    scales = "one scale" if t.scales is None else f"scales \"{t.scales}\" ({plan_text(size, t.iterations, t.scales)})"
    footer = (f"{hw(size)}, {t.iterations} {optimiser_text(t)} iterations, {scales}, α = {t.alpha:g}, β = {t.beta:g}, {precision}, "
              f"{start_text(t)}, J = {result.J:.4g} (the README's quick stylize command).\nWeights: {label}")
    return fig, footer


def fig_extras(model, s, label):
    t, row_t = s["transfer"], s["row_transfer"]
    content = load(s["content"], size=s["size"])
    style_a = load(s["style_a"], size=s["size"])
    images, titles = [content], [f"content ({s['content']})"]
    for mode, title in [(None, "normal transfer"), ("luminance", "colours kept: luminance only"),
                        ("histogram", "colours kept: histogram matching")]:
        t0 = time.perf_counter()
        images.append(further.stylize(model, content, style_a, preserve_colors=mode, settings=t).image)
        titles.append(title)
        print(f"  preserve_colors={mode} ({time.perf_counter() - t0:.0f} s)", flush=True)
    row = s["row"]
    row_content = nst.resize_image(content, row)
    row_a, row_b = nst.resize_image(style_a, row), load(s["style_b"], size=row)
    w = s["blend"]
    t0 = time.perf_counter()
    images.append(further.stylize(model, row_content, [row_a, row_b], style_weights=[w, 1 - w],
                                  settings=row_t).image)
    titles.append(f"blend: {w:g} swirls + {1 - w:g} mosaic")
    print(f"  blend ({time.perf_counter() - t0:.0f} s)", flush=True)
    style_raw = load(s["style_b"])
    for scale in s["scales"]:
        t0 = time.perf_counter()
        images.append(further.stylize(model, row_content, style_raw, style_scale=scale, settings=row_t).image)
        titles.append(f"mosaic at style_scale {scale:g} (style {hw(further.style_target_size(row, scale))})")
        print(f"  style_scale {scale:g} ({time.perf_counter() - t0:.0f} s)", flush=True)
    left = (row[1] - row[1] // 2) // 2                        # the two styles side by side: centre crops,
    pair = np.concatenate([row_a[:, left:left + row[1] // 2],   # at the scale the blend sees them
                           row_b[:, left:left + row[1] - row[1] // 2]], axis=1)
    images.insert(4, pair)
    titles.insert(4, "styles: swirls | mosaic (centre crops)")
    fig, axes = plt.subplots(2, 4, figsize=(12.5, 5.2), layout="constrained")
    for ax, image, title in zip(axes.flat, images, titles):
        show(ax, image, title, fontsize=9.5)
    fig.suptitle("Going further: keep the photo's colours (top, style: swirls); blend two styles and change the "
                 "style's scale (bottom)", fontsize=11)
    footer = (f"Top: {hw(s['size'])}, {t.iterations} {optimiser_text(t)} iterations each; bottom: {hw(row)}, "
              f"{row_t.iterations} {optimiser_text(row_t)} iterations each; α = {t.alpha:g}, β = {t.beta:g}, "
              f"seed {t.seed} (further.stylize).\nWeights: {label}")
    return fig, footer


RENDER = {"00_network": fig_network, "01_content_reconstructions": fig_content, "02_unrolling": fig_unrolling,
          "03_style_reconstructions": fig_style, "04_beta_alpha_grid": fig_grid, "05_result": fig_result,
          "07_extras": fig_extras}


def settings_for(name, smoke):
    """SETTINGS[name], with SMOKE[name]'s changes if ``smoke`` (a TransferSettings stays one, checked)."""
    s = dict(SETTINGS[name])
    for key, value in (SMOKE.get(name, {}) if smoke else {}).items():
        s[key] = nst.settings_with(s[key], value, TransferSettings) if isinstance(s.get(key), TransferSettings) \
            else value
    return s


def build_parser():
    p = argparse.ArgumentParser(prog="render.py", description=__doc__.split("\n")[0])
    p.add_argument("--weights", required=True, help="MatConvNet VGG .mat file")
    label = p.add_mutually_exclusive_group()
    label.add_argument("--stand-in", action="store_true",
                       help="label the figures with STAND_IN_LABEL (the VGG16 stand-in of the committed set)")
    label.add_argument("--weights-label", help="the weights as the footers name them (default: from the file)")
    p.add_argument("--only", choices=list(RENDER), action="append", metavar="NAME",
                   help="render only this figure (may be repeated): " + ", ".join(RENDER))
    p.add_argument("--smoke", action="store_true", help="tiny sizes and 2 iterations (tests); needs --out")
    p.add_argument("--out", help="output folder (default: notebooks/figures/)")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.smoke and not args.out:
        parser.error("--smoke needs --out DIR (smoke figures never replace the committed ones)")
    out = Path(args.out) if args.out else FIGURES
    try:
        out.mkdir(parents=True, exist_ok=True)
        model = nst.load_vgg_model(args.weights)
        label = STAND_IN_LABEL if args.stand_in else args.weights_label or weights_label(model, args.weights)
        for name in args.only or list(RENDER):
            t = time.perf_counter()
            print(f"{name} ...", flush=True)
            fig, footer = RENDER[name](model, settings_for(name, args.smoke), label)
            if args.smoke:
                footer = "SMOKE RUN (tiny sizes, 2 iterations). " + footer
            size = save(fig, out / f"{name}{FILES[name]}", footer)
            path = out / f"{name}{FILES[name]}"
            print(f"{name}: wrote {path} ({size[0]}x{size[1]}, {path.stat().st_size / 1e3:.0f} kB, "
                  f"{time.perf_counter() - t:.0f} s)", flush=True)
    except nst.NSTError as exc:
        print(f"render.py: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
