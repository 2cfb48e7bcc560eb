# %% [markdown]
# # 04 · The total cost: balancing content and style
#
# The content cost (notebook 01) pulls the generated image $G$ towards the photo's layout, the style cost
# (notebook 03) towards the style image's textures. The total cost weighs one against the other, and that
# balance, not the two weights themselves, decides what you get.
#
# ## What you will learn
#
# 1. The total cost $J(G) = \alpha J_{content} + \beta J_{style}$: you write `total_cost` (with a check).
# 2. Why only the ratio $\beta / \alpha$ matters, and what it does: a grid of results from "all photo"
#    to "all style", a trade-off curve, and the same results behind a slider.
# 3. Total variation, an optional third term: what it measures and what it does to the picture
#    (a zoom with and without it).
#
# At real settings the notebook runs in **2 to 4 minutes** on a laptop CPU (the grid about 1 minute,
# total variation about 1 minute).

# %% [markdown]
# ## Setup
#
# All imports and settings. `SMOKE` (set by the automatic tests, `NST_SMOKE=1`) makes the images tiny and
# the optimisations a few iterations long.

# %%
import sys
from pathlib import Path

ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "nst_utils.py").is_file())  # the repository
sys.path.insert(0, str(ROOT))
import nst_utils as nst  # first: it quietens TensorFlow's start-up messages
from nst_tools import course, transfer  # the full transfer: L-BFGS

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from matplotlib.patches import Rectangle

SMOKE = course.smoke_mode()                                  # NST_SMOKE=1: tiny images, 3 iterations
GRID_SIZE = 48 if SMOKE else 128                          # longest side of the grid's images (section 2)
TV_SIZE = 48 if SMOKE else 192                            # longest side of the total variation runs (section 3)
ITERATIONS = 3 if SMOKE else 100                          # L-BFGS iterations per run
ALPHA = 10.0                                              # the content weight stays put; beta = ratio * ALPHA
tf.get_logger().setLevel("ERROR")                         # no retracing notes: each run compiles its own cost

CONTENT_PATH, STYLE_PATH = ROOT / "images" / "chelsea.jpg", ROOT / "images" / "style_swirls.jpg"
model = nst.load_vgg_model(nst.resolve_weights_path())
content = nst.load_image(CONTENT_PATH, max_size=GRID_SIZE)
style = nst.load_image(STYLE_PATH, size=content.shape[:2])
print(model, "| content", content.shape, "| smoke mode:", SMOKE)


# %% [markdown]
# ## 1. The total cost
#
# $$J(G) = \alpha \, J_{content}(C, G) + \beta \, J_{style}(S, G)$$
#
# $\alpha$ weighs the content cost, $\beta$ the style cost; the assignment uses $\alpha = 10$,
# $\beta = 40$.
#
# ### Exercise: write the total cost
#
# Write `total_cost` between the marked lines, then run the check below it (three cases, one of them with
# TensorFlow scalars, which it also runs inside `tf.function`): it shows `PASSED`, `FAILED` (with the likely
# cause, what it got and expected) or `NOT IMPLEMENTED`. Keep the defaults `alpha=10, beta=40`.
#
# **Expected output** of the check (its first case, `total_cost(0.2, 0.8)`):
#
# ```
# PASSED: total_cost = 34 (expected 34), 3 test cases and inside tf.function
# ```

# %%
def total_cost(J_content, J_style, alpha=10, beta=40):
    """The total cost J = alpha J_content + beta J_style.

    J_content, J_style: the two costs (numbers or scalar tensors); alpha, beta: their weights.
    """
    ### BEGIN SOLUTION
    J = alpha * J_content + beta * J_style
    ### END SOLUTION
    ### BEGIN STUB
    # J = None  # ≈ 1 line: the weighted sum of the two costs
    ### END STUB
    return J


# %%
passed = course.check_total_cost(total_cost)
course.keep(total_cost, passed);  # saved for notebook 05 once it passed

# %% [markdown]
# ### Only the ratio $\beta / \alpha$ matters
#
# Multiply $\alpha$ and $\beta$ by the same number $k$: $J$ becomes $k J$, with the same minimum. The
# optimisers do not notice either: Adam divides each step by the running size of the gradient, and the
# library's L-BFGS sizes its first step the same way, so $k$ cancels. Ten Adam steps with
# $(\alpha, \beta) = (10, 40)$ and with $(1000, 4000)$ (a few seconds):

# %%
runs = [nst.run_style_transfer(model, content, style, iterations=10, alpha=a, beta=b, seed=0)
        for a, b in [(10, 40), (1000, 4000)]]
difference = np.abs(runs[0].image.astype(int) - runs[1].image.astype(int)).max()
print(f"J after 10 steps: {runs[0].J:.4g} and {runs[1].J:.4g} (100 times larger)")
print(f"largest pixel difference between the two images: {difference} (out of 255)")

# %% [markdown]
# So from now on we keep $\alpha = 10$ and vary only the ratio $\beta / \alpha$.
#
# > **What you should remember**
# >
# > - $J(G) = \alpha J_{content} + \beta J_{style}$: one number that weighs the photo's layout against the
# >   style image's textures.
# > - Multiplying $\alpha$ and $\beta$ by the same $k$ multiplies $J$ by $k$ and changes neither its
# >   minimum nor the optimisers' steps: only the ratio $\beta / \alpha$ matters.
#
# ## 2. From photo to style: a grid over $\beta / \alpha$
#
# Seven runs from the same start (the photo plus noise, `seed=0`), each 100 L-BFGS iterations, with
# $\beta / \alpha$ from $10^{-6}$ to $10^{-1}$, and the assignment's 4. L-BFGS goes close to the minimum
# of each $J$, so what you see is the balance itself, not how far the optimiser got.
#
# Why such small ratios? With the assignment's normalisations, $J_{style}$ of the start image is several
# hundred thousand times larger than $J_{content}$ (about $4 \times 10^5$ times with the VGG16 stand-in
# weights: the shallow style layers' activations are large, and their costs grow like the fourth power
# of them, notebook 03). The interesting range of $\beta / \alpha$ depends on these normalisations and on the
# network's weights, which is why published ratios (Gatys et al.: $\alpha / \beta = 10^{-3}$ or
# $10^{-4}$) do not carry over from one implementation to another.
#
# This cell takes **about 1 minute** at real settings (7 runs at 85 x 128 pixels, about 9 s each with VGG16
# on an idle 2-core CPU).
#
# **What you should see** (the figure of the next cell but one, from the run it was made with):
#
# ![The grid over beta/alpha, from 1e-6 to the assignment's 4](figures/04_beta_alpha_grid.jpg)
#
# *Rendered by docs/course/render.py at this notebook's real settings with VGG16 stand-in weights (the VGG19
# file cannot be downloaded where it was made); sizes and iterations: docs/course/README.md.*

# %%
RATIOS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 4.0]        # beta / alpha; 4 = the assignment's 40 / 10
grid = []
for ratio in course.progress(RATIOS, desc="beta/alpha grid"):
    result = transfer.run_transfer(model, content, style, iterations=ITERATIONS, optimizer="lbfgs",
                                    alpha=ALPHA, beta=ratio * ALPHA, seed=0)
    grid.append(result)
    print(f"beta/alpha = {ratio:<6g}  J_content = {result.J_content:8.3g}   J_style = {result.J_style:9.3g}"
          f"   ({result.seconds:.0f} s)")


# %%
def ratio_label(ratio):
    return "4 (assignment)" if ratio == 4 else f"{ratio:.0e}"


fig, axes = plt.subplots(1, len(RATIOS) + 1, figsize=(2.6 * (len(RATIOS) + 1), 2.6), layout="constrained")
axes[0].imshow(content.astype(np.uint8)); axes[0].set_title("content C")
for ax, ratio, result in zip(axes[1:], RATIOS, grid):
    ax.imshow(result.image)
    ax.set_title(f"beta/alpha = {ratio_label(ratio)}", fontsize=10)
for ax in axes:
    ax.axis("off")
fig.suptitle(f"More weight on style from left to right ({ITERATIONS} L-BFGS iterations each, style: {STYLE_PATH.name})")
plt.show()

# %% [markdown]
# What to look for (the details depend on the network's weights; these are from the VGG16 stand-in): on
# the left the optimiser mostly has to keep `conv4_2`'s activation, and the cat survives whole, covered in
# coloured pixel speckles and grid-like patterns that this layer does not care about. At $10^{-5}$ the
# style image's blue spreads over part of the picture. From $10^{-4}$ to $10^{-2}$ both costs are in play:
# the whole picture is in the style image's strokes and colours, and the cat's eyes, nose and outline are
# still there. From $10^{-1}$ on, the style takes over the fur (blue and yellow strokes), and the eyes
# and the outline of the head still show even at 4: each run starts from the noisy photo, and the style
# cost, which ignores where things are, has nothing against them.
#
# The same story in numbers: each run ends at a point of a **trade-off curve**. Lower one cost and the
# other goes up.

# %%
J_contents = [r.J_content for r in grid]
J_styles = [r.J_style for r in grid]


def trade_off(ax, highlight=None):
    # The final J_content and J_style of each grid run against beta / alpha, log-log.
    ax.loglog(RATIOS, J_contents, "o-", color="tab:blue", label="J_content (to the photo)")
    ax.loglog(RATIOS, J_styles, "s-", color="tab:purple", label="J_style (to the style)")
    if highlight is not None:
        ax.axvline(RATIOS[highlight], color="gray", linestyle="--")
    ax.set_xlabel("beta / alpha (log scale)")
    ax.set_ylabel("cost at the end of the run (log scale)")
    ax.set_title("The trade-off: more style, less content")
    ax.legend(fontsize="small")


fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
trade_off(ax)
plt.show()

# %% [markdown]
# ### The same idea as a slider
#
# Move the slider to pick a ratio. Nothing is optimised while you slide: the picture below it changes to
# the grid's result for that ratio (the runs above) and marks where it lies on the trade-off curve. The lab
# (notebook 06) runs the optimisation live for any setting. (`course.figure_slider` shows the figure as an
# ordinary output, so a saved or headless-run notebook shows the picture for 1e-03; the slider needs a
# running Jupyter.)

# %%
labels = [ratio_label(r) for r in RATIOS]


def show_ratio(beta_over_alpha):
    # The figure for one ratio of the grid: its result, and its place on the trade-off curve.
    k = labels.index(beta_over_alpha)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained", width_ratios=[1, 1.2])
    axes[0].imshow(grid[k].image)
    axes[0].set_title(f"beta/alpha = {beta_over_alpha}: J_content {J_contents[k]:.3g}, J_style {J_styles[k]:.3g}",
                      fontsize=10)
    axes[0].axis("off")
    trade_off(axes[1], highlight=k)
    return fig


course.figure_slider(show_ratio, labels, value=labels[3], description="beta/alpha");

# %% [markdown]
# > **What you should remember**
# >
# > - $\beta / \alpha$ moves the result along a trade-off curve, from "all photo" to "all style".
# > - With this course's normalisations (and L-BFGS, 100 iterations, from the noisy photo), choose
# >   **$\beta / \alpha$ between $10^{-4}$ and $10^{-2}$**; $10^{-3}$ is a good start.
# > - That range belongs to these normalisations, this network and this small size: published ratios do not
# >   carry over. (The README's quick command (266 x 400) keeps the assignment's 4 and the cat still shows: it starts
# >   from the photo in the style's colours, so the layout is there from the first step.)

# %% [markdown]
# ## 3. Total variation: a smoothness term
#
# Look closely at the results above: fine pixel noise and speckles of colour that no painter made.
# Neither cost forbids them (the first style layer sees $3 \times 3$ pixels, the content layer much less
# precisely). The **total variation** of an image adds up the squared differences between neighbouring
# pixels, along the height and along the width:
#
# $$J_{TV}(G) = \frac{1}{n_H n_W} \sum_{h, w, c} \left( (x_{h+1,w,c} - x_{h,w,c})^2 + (x_{h,w+1,c} - x_{h,w,c})^2 \right)$$
#
# where $x$ is the preprocessed image $G$, of shape $(1, n_H, n_W, 3)$ (`nst.total_variation_cost(x)`).
# At the same contrast, smooth images have a small $J_{TV}$ and noisy ones a large one. But $J_{TV}$ adds
# up *squared* differences, so it also grows with the square of the contrast: an image at 40 % of the
# photo's contrast has $0.4^2 = 0.16$ times its $J_{TV}$. The start image of the runs above has both
# effects: it is $0.4 \times$ the photo $+ \, 0.6 \times$ noise (`nst.generate_noise_image`, around the
# mean colour). Compare:

# %%
x_photo = nst.preprocess(content, model.mean)
noise = np.random.default_rng(0).uniform(-20, 20, size=content.shape)        # as in the start image
examples = {"the photo C": x_photo,
            "C + noise U(-20, 20)": nst.preprocess(np.clip(content + noise, 0, 255), model.mean),
            "0.4 C (40 % contrast)": 0.4 * x_photo,
            "the start image, 0.4 C + 0.6 noise": nst.generate_noise_image(x_photo, 0.6, seed=0),
            f"grid result, beta/alpha = {labels[3]}": nst.preprocess(grid[3].image, model.mean)}
for label, x in examples.items():
    print(f"J_TV({label}) = {float(nst.total_variation_cost(tf.constant(x, tf.float32))):8.4g}")

# %% [markdown]
# At real settings: noise at the photo's contrast more than doubles $J_{TV}$ (about 2700 against 1200 for
# the photo); 40 % contrast divides it by six (0.16 times); and the start image lands in between, *below*
# the photo (about 750): its faded photo gives about 190, and its noise, at 0.6 of the amplitude, adds
# $0.6^2 \approx 0.36$ times what the full noise added (about 560). So a low $J_{TV}$ alone does not mean
# "smooth": compare images of the same contrast. The grid's result, full of strokes and speckles at full
# contrast, has the largest $J_{TV}$ of all.
#
# Adding it to the total cost with a weight $w_{TV}$ (`tv_weight=` in `nst.run_style_transfer`, 0 by
# default) asks for smoother images:
#
# $$J(G) = \alpha \, J_{content}(C, G) + \beta \, J_{style}(S, G) + w_{TV} \, J_{TV}(G)$$
#
# Three runs at $\beta / \alpha = 10^{-3}$, larger this time so the zoom shows the pixels: without total
# variation, with $w_{TV} = 10^{-3}$, and with $10^{-2}$ (too much). This cell takes **about 1 minute** at
# real settings (3 runs at 128 x 192 pixels, about 19 s each with VGG16 on an idle 2-core CPU).

# %%
TV_WEIGHTS = [0.0, 1e-3, 1e-2]
tv_content = nst.load_image(CONTENT_PATH, max_size=TV_SIZE)
tv_style = nst.load_image(STYLE_PATH, size=tv_content.shape[:2])
tv_runs = []
for tv_weight in course.progress(TV_WEIGHTS, desc="total variation runs"):
    result = transfer.run_transfer(model, tv_content, tv_style, iterations=ITERATIONS, optimizer="lbfgs",
                                    alpha=ALPHA, beta=1e-3 * ALPHA, tv_weight=tv_weight, seed=0)
    J_TV = float(nst.total_variation_cost(tf.constant(nst.preprocess(result.image, model.mean))))
    tv_runs.append((result, J_TV))
    print(f"tv_weight = {tv_weight:<6g} J_content = {result.J_content:.3g}  J_style = {result.J_style:.3g}"
          f"  J_TV = {J_TV:.4g}  ({result.seconds:.0f} s)")

# %%
h, w = tv_content.shape[:2]
top, left, zh, zw = h // 3, w // 3, max(h // 3, 4), max(w // 3, 4)        # the zoomed region
fig, axes = plt.subplots(2, len(TV_WEIGHTS), figsize=(4.6 * len(TV_WEIGHTS), 6.8), layout="constrained",
                         height_ratios=[1, 1.1])
for k, (tv_weight, (result, J_TV)) in enumerate(zip(TV_WEIGHTS, tv_runs)):
    name = "no total variation" if tv_weight == 0 else f"tv_weight = {tv_weight:g}"
    axes[0, k].imshow(result.image)
    axes[0, k].add_patch(Rectangle((left - 0.5, top - 0.5), zw, zh, fill=False, edgecolor="red", linewidth=1.5))
    axes[0, k].set_title(f"{name}\nJ_TV = {J_TV:.4g}", fontsize=10)
    axes[1, k].imshow(result.image[top:top + zh, left:left + zw], interpolation="nearest")
    axes[1, k].set_title(f"zoom on the red box ({zh} x {zw} pixels)", fontsize=10)
    for ax in axes[:, k]:
        ax.set_xticks([]); ax.set_yticks([])
fig.suptitle(f"Total variation smooths the pixel noise away (beta/alpha = 1e-3, {ITERATIONS} L-BFGS iterations)")
plt.show()

# %% [markdown]
# What to look for: without total variation the zoom shows pixel-sized speckles and coloured fringes
# (green, cyan and pink pixels between the strokes). With $w_{TV} = 10^{-3}$ they are mostly gone while
# the strokes stay, a little softer. $w_{TV} = 10^{-2}$ is here as a demonstration of **too much** total
# variation: the smoothness term wins against the style, the strokes turn into smooth, even bands, the
# zoom is blurred, artefacts appear at the borders (with the VGG16 stand-in: white blotches along the
# edges and dark corners), and $J_{style}$ ends several times higher than without (compare the printed
# costs). Like $\beta / \alpha$, a good $w_{TV}$ depends on the other weights and on the image size.
#
# > **What you should remember**
# >
# > - $J_{TV}$ adds up the squared differences of neighbouring pixels: noise raises it, and so does
# >   contrast.
# > - A small $w_{TV}$ (here $10^{-3}$) removes pixel speckles; too large a one blurs the strokes and
# >   brings artefacts of its own.
#
# ## Summary
#
# - $J(G) = \alpha J_{content} + \beta J_{style}$ (`nst.total_cost`); only the ratio $\beta / \alpha$
#   changes the result.
# - Small $\beta / \alpha$ keeps the photo, large $\beta / \alpha$ paints the texture over it. With this
#   course's normalisations, choose $\beta / \alpha$ between $10^{-4}$ and $10^{-2}$ (L-BFGS, 100
#   iterations; start at $10^{-3}$); the range depends on the normalisations and the network.
# - Total variation $J_{TV}$ penalises differences between neighbouring pixels; a small $w_{TV}$
#   (`tv_weight=`) removes pixel noise, a large one blurs.
#
# ## Questions and things to try
#
# 1. Run the grid with Adam (`optimizer="adam"`, 100 iterations) instead of L-BFGS. Why does the
#    assignment's $\beta / \alpha = 4$ keep much more of the cat with Adam? (Hint: where does Adam start,
#    and how far can it go in 100 steps of size about 2?)
# 2. Add the ratio $3 \times 10^{-4}$ to `RATIOS`. Where does it land on the trade-off curve?
# 3. Try another style image (`style_mosaic.jpg`, `style_waves.jpg`): is the interesting range of
#    $\beta / \alpha$ the same?
# 4. Double `TV_SIZE`. Does the same $w_{TV}$ smooth more or less? Look at the $\frac{1}{n_H n_W}$ in
#    $J_{TV}$ and at the size of the speckles.
