# %% [markdown]
# # 05 · Style transfer: the optimisation loop, live
#
# Notebooks 01 to 04 built the cost $J(G)$. This notebook minimises it: start from a noisy copy of the
# photo, compute the gradient of $J$ with respect to every pixel of $G$, take a small step downhill, and
# repeat a few hundred times while watching the picture turn into a painting. The losses it paints with
# are **yours**: the functions you wrote in notebooks 01 to 04 and whose checks passed.
#
# ## What you will learn
#
# 1. What is computed once (the content target $a^{(C)}$ and the style activations $a^{(S)}$) and what
#    changes at every step (the generated image $G$, which starts as the assignment's noisy photo), and
#    why the start is noise *mixed with the photo*.
# 2. One optimisation step by hand: $J(G)$ and $\partial J / \partial G$ with `tf.GradientTape`, then the
#    Adam update (an exercise, with a check). Ten of your steps give the same costs as the library's loop.
# 3. The full run with a **live preview**: the image and the cost curves redraw in place every few
#    iterations.
# 4. Adam against L-BFGS for the same number of seconds.
# 5. Saving the result (and its settings) to the output folder.
#
# At real settings the notebook runs in **about 5 minutes** on a 2-core laptop CPU with VGG16 (the full
# run and the L-BFGS run about 2 minutes each, the comparison of start images about half a minute);
# VGG19 takes about 1.3 times longer.

# %% [markdown]
# ## Setup
#
# All imports and settings. `SMOKE` (set by the automatic tests, `NST_SMOKE=1`) makes the images tiny and
# the runs a few iterations long. Results are saved to `outputs/` next to this notebook (git ignores it),
# or to the folder in `$NST_OUTPUT_DIR`.

# %%
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "nst_utils.py").is_file())  # the repository
sys.path.insert(0, str(ROOT))
import nst_utils as nst  # first: it quietens TensorFlow's start-up messages
from nst_tools import course, transfer  # the full transfer: L-BFGS (section 4)
from nst_tools.preview import LivePreview

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

SMOKE = course.smoke_mode()                                  # NST_SMOKE=1: tiny images, 3 iterations
MAX_SIZE = 48 if SMOKE else 256                           # longest side of the images, in pixels
HAND_STEPS = 3 if SMOKE else 10                           # steps of your own loop (section 2)
START_SIZE, START_ITER = (32, 3) if SMOKE else (128, 100) # the start-image comparison (section 1)
ITERATIONS = 3 if SMOKE else 200                          # Adam iterations of the full run (section 3)
PREVIEW_EVERY = 1 if SMOKE else 10                        # redraw the live preview every ... iterations
LBFGS_MAX = 3 if SMOKE else 1000                          # L-BFGS stops at this or at Adam's time (section 4)
ALPHA, BETA = 10.0, 40.0                                  # the assignment's weights
OUT = Path(os.environ.get("NST_OUTPUT_DIR", "outputs"))   # where section 5 saves the result
tf.get_logger().setLevel("ERROR")                         # no retracing notes: each run compiles its own cost

CONTENT_PATH, STYLE_PATH = ROOT / "images" / "chelsea.jpg", ROOT / "images" / "style_mosaic.jpg"
model = nst.load_vgg_model(nst.resolve_weights_path())
content = nst.load_image(CONTENT_PATH, max_size=MAX_SIZE)
style = nst.load_image(STYLE_PATH, size=content.shape[:2])
print(model, "| content", content.shape, "| style", style.shape, "| smoke mode:", SMOKE)

# %% [markdown]
# ### Your losses
#
# Each of notebooks 01 to 04 saved the function you wrote when its check printed PASSED (in
# `outputs/my_functions/`, or `$NST_OUTPUT_DIR/my_functions/`), with the helpers and modules it uses.
# `course.mine` loads them, runs each one's check again, and says, one line per function, whose it is:
# yours (and whether the painting uses it), or the library's where you have not passed that check yet. Your
# `compute_style_cost` calls your `compute_layer_style_cost`, which calls your `gram_matrix`, where you have
# them. It returns them under the names `nst.run_style_transfer` takes them by: the rest of the notebook
# paints with `**LOSSES`.

# %%
LOSSES = course.mine()              # {"content_cost": ..., "style_cost": ..., "total_cost": ...}
compute_content_cost = LOSSES["content_cost"]
compute_style_cost = LOSSES["style_cost"]                 # calls your compute_layer_style_cost and gram_matrix
total_cost = LOSSES["total_cost"]

# %% [markdown]
# ## 1. The pieces
#
# The network works on preprocessed images: RGB minus the mean pixel, shape $(1, n_H, n_W, 3)$. Three
# images take part:
#
# - the content image $C$ and the style image $S$, which never change;
# - the generated image $G$, the only thing the optimisation changes. It starts as the assignment's noisy
#   photo, $G_0 = 0.6 \cdot \text{noise} + 0.4 \cdot C$ with noise uniform in $[-20, 20]$
#   (`nst.generate_noise_image`). Both terms are in the network's **mean-subtracted** space ($C$ here is
#   the preprocessed photo, pixel minus the mean pixel), so in grey levels the start is
#   $0.6\,(\text{mean pixel} + \text{noise}) + 0.4 \cdot \text{photo}$: a faded photo over the mean
#   colour, with a light grain of at most $\pm 12$ levels.

# %%
x_C = nst.preprocess(content, model.mean)                 # (1, n_H, n_W, 3)
x_S = nst.preprocess(style, model.mean)
G0 = nst.generate_noise_image(x_C, noise_ratio=0.6, seed=0)

fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), layout="constrained")
for ax, image, title in zip(axes, [content, style, nst.deprocess(G0, model.mean)],
                            [f"content C ({CONTENT_PATH.name})", f"style S ({STYLE_PATH.name})",
                             "start G0 = 0.6 noise + 0.4 C"]):
    ax.imshow(np.asarray(image, np.uint8))
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# ### Why start from noise mixed with the photo?
#
# Two reasons are usually given:
#
# - **Nearer the photo, the layout is kept.** Adam moves a pixel by a couple of grey levels per step, so a
#   few hundred steps stay close to where they start. Starting from the faded photo, the cat is already in
#   place and the steps spend their time adding the style image's textures.
# - **The noise breaks the symmetry.** In a perfectly flat area every pixel sees the same surroundings and
#   gets the same gradient, so the area can only change as a whole; the grain gives every pixel its own
#   start. It also makes the result depend on the seed: another `seed`, another painting.
#
# The three starts side by side test both, each run for the same 100 Adam iterations at a small size (pure
# noise: `noise_ratio=1`; the photo: `noise_ratio=0`). *About half a minute at real settings.*

# %%
small = nst.load_image(CONTENT_PATH, max_size=START_SIZE)
small_style = nst.resize_image(style, small.shape[:2])
x_small = nst.preprocess(small, model.mean)
starts = {ratio: nst.deprocess(nst.generate_noise_image(x_small, ratio, seed=0), model.mean)
          for ratio in (1.0, 0.6, 0.0)}
ran = {ratio: nst.run_style_transfer(model, small, small_style, iterations=START_ITER, alpha=ALPHA, beta=BETA,
                                     init_image=start, **LOSSES)
       for ratio, start in course.progress(starts.items(), desc="three starts")}
fig, axes = plt.subplots(2, 3, figsize=(11, 5.6), layout="constrained")
for col, ratio in enumerate(starts):
    name = {1.0: "pure noise", 0.6: "the assignment's 0.6 noise + 0.4 C", 0.0: "the photo"}[ratio]
    axes[0, col].imshow(starts[ratio])
    axes[0, col].set_title(f"start: {name}", fontsize=9)
    axes[1, col].imshow(ran[ratio].image)
    axes[1, col].set_title(f"after {START_ITER} Adam steps: alpha J_content = {ALPHA * ran[ratio].J_content:.3g},\n"
                           f"beta J_style = {BETA * ran[ratio].J_style:.3g}", fontsize=9)
for ax in axes.ravel():
    ax.axis("off")
plt.show()

# %% [markdown]
# What to look for: from **pure noise** the style image's texture grows but no cat appears. The content term is
# tiny next to the style term ($\alpha J_{content}$ is in the tens, $\beta J_{style}$ in the hundreds of
# thousands), so a hundred small steps cannot pull the layout out of noise: it has to come from the start.
# From the noisy photo and from the photo itself the cat is in place. The second reason is not borne out
# here: texture grows from the photo itself just as well (with VGG16 its style cost even ended lowest of
# the three), because the style gradient is far from zero at the photo and a real photo has no perfectly
# flat area. The photo start keeps more of the photo (its fine detail, its colours); the noisy start trades
# some of that for a result that depends on the seed.
#
# > **What you should remember.** $C$, $S$ and their targets never change; only $G$ does. The start
# > $G_0 = 0.6\,\text{noise} + 0.4\,C$ (in mean-subtracted space) puts the photo's layout within reach of
# > a few hundred small steps; from pure noise the layout would not appear in time.
#
# The targets do not depend on $G$, so they are computed **once**, before the loop: the content activation
# $a^{(C)}$ at `conv4_2` and the style activations $a^{(S)}$ at each style layer. Your
# `compute_style_cost(a_S, a_G)` then builds the Gram matrices from them. (The library's loop goes one step
# further when it paints with its own layer style cost: it keeps the Gram matrices
# $G^{(S)} = A_S A_S^T$ themselves, `nst_tools.transfer.style_targets`.) Each step runs the network on $G$ only.

# %%
STYLE_NAMES = [name for name, _ in nst.STYLE_LAYERS]      # conv1_1 .. conv5_1, lambda = 0.2 each
LAYERS = [nst.CONTENT_LAYER] + STYLE_NAMES                # what one step needs from the network

a_C = model(x_C, [nst.CONTENT_LAYER])[nst.CONTENT_LAYER]  # (1, n_H, n_W, n_C) at conv4_2
a_S = model(x_S, STYLE_NAMES)                             # {layer: (1, n_H, n_W, n_C)}
print(f"a_C at {nst.CONTENT_LAYER}: {tuple(a_C.shape)}")
for name, a in a_S.items():
    print(f"a_S at {name}: {tuple(a.shape)}, its Gram matrix: {a.shape[-1]} x {a.shape[-1]}")

# %% [markdown]
# ## 2. One optimisation step, by hand
#
# The cost of notebook 04, with your functions:
#
# $$J(G) = \alpha \, J_{content}(C, G) + \beta \sum_{l} \lambda^{[l]} J^{[l]}_{style}(S, G)$$
#
# A step needs its gradient $g = \partial J / \partial G$, one number per pixel and channel, the same
# shape as $G$. `tf.GradientTape` records the forward computation (network, costs) and runs it backwards.
#
# The step itself is **Adam**, as in the assignment. It keeps two running averages per pixel, of the
# gradient ($m$) and of its square ($v$), and moves each pixel against the averaged gradient, divided by its
# typical size ($t$ counts the steps from 1; $\beta_1, \beta_2$ are Adam's constants, not the style weight
# $\beta$):
#
# $$m \leftarrow \beta_1 m + (1 - \beta_1) \, g, \qquad v \leftarrow \beta_2 v + (1 - \beta_2) \, g^2$$
#
# $$\hat m = \frac{m}{1 - \beta_1^t}, \qquad \hat v = \frac{v}{1 - \beta_2^t}, \qquad
# G \leftarrow \text{clip}\left(G - \eta \, \frac{\hat m}{\sqrt{\hat v} + \epsilon}\right)$$
#
# with $\eta = 2$ (the learning rate, in grey levels), $\beta_1 = 0.9$, $\beta_2 = 0.999$,
# $\epsilon = 10^{-8}$. Dividing by $\sqrt{\hat v}$ makes the step **about** $\eta$ per pixel whatever the
# gradient's size, but it is not bounded by $\eta$: at $t = 1$ it is exactly $\eta$ (times the sign of
# the gradient); later $|\hat m / \sqrt{\hat v}|$ is mostly below 1 (gradients that change sign average
# out in $m$), yet after a run of small gradients a sudden large one can push it up to about
# $(1 - \beta_1) / \sqrt{1 - \beta_2} \approx 3.2$ (Kingma and Ba, 2015, section 2.1). The clip keeps
# every pixel of $G$ plus the mean in $[0, 255]$:

# %%
LO, HI = -model.mean, 255.0 - model.mean                  # bounds of a preprocessed pixel, per channel
print("LO =", LO, " HI =", HI)


# %% [markdown]
# ### Exercise: write one training step
#
# `G` is a `tf.Variable` holding the preprocessed image; `state` holds Adam's $m$, $v$ and $t$
# (`course.adam_state(G)` makes one with zeros). Write `my_train_step`:
#
# 1. inside `with tf.GradientTape() as tape:`, run the network on `G` (`model(G, LAYERS)` gives
#    `{layer: activation}`) and compute `J_content` (`compute_content_cost(a_C, ...)`, with G's activation
#    at `nst.CONTENT_LAYER`), `J_style` (`compute_style_cost(a_S, a_G)`) and `J`
#    (`total_cost(J_content, J_style, alpha, beta)`: the step's own arguments);
# 2. `g = tape.gradient(J, G)`;
# 3. update `state["t"]`, `state["m"]`, `state["v"]` and `G` (with `G.assign(...)`, clipped to `LO`, `HI`)
#    following the formulas;
# 4. return `J`, the cost of `G` *before* the update.
#
# The check takes three steps from a start image and compares your $J$ and your new $G$ with Adam on the
# library's compiled cost after each; then one more step with `beta=0`, where $J$ is the content term alone
# (with $\beta = 40$ the style term is millions of times larger, so only this shows a content term that is
# missing). `FAILED` names the likely cause (no bias correction, no clip, `=` instead of `assign`, ...).
#
# **Expected output**: `PASSED: train_step = ... (expected ...) at step 3, G is Adam's update after each of the
# 3 steps, and with beta = 0 J is the content term alone`, the two numbers equal (their value depends on the
# weights file and the images); the table two cells below then shows your $J$ equal to the library's.

# %%
def my_train_step(G, state, alpha=ALPHA, beta=BETA, lr=2.0, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step on G (tf.Variable, (1, n_H, n_W, 3)); state: {"m", "v", "t"}. Returns J before it."""
    ### BEGIN SOLUTION
    with tf.GradientTape() as tape:
        a_G = model(G, LAYERS)
        J_content = compute_content_cost(a_C, a_G[nst.CONTENT_LAYER])
        J_style = compute_style_cost(a_S, a_G)
        J = total_cost(J_content, J_style, alpha, beta)
    g = tape.gradient(J, G)                                # dJ/dG, same shape as G
    state["t"] += 1
    state["m"] = beta1 * state["m"] + (1 - beta1) * g
    state["v"] = beta2 * state["v"] + (1 - beta2) * tf.square(g)
    m_hat = state["m"] / (1 - beta1 ** state["t"])
    v_hat = state["v"] / (1 - beta2 ** state["t"])
    G.assign(tf.clip_by_value(G - lr * m_hat / (tf.sqrt(v_hat) + eps), LO, HI))
    ### END SOLUTION
    ### BEGIN STUB
    # with tf.GradientTape() as tape:
    #     a_G = None          # ≈ 1 line: the activations of G at LAYERS
    #     J = None            # ≈ 3 lines: J_content, J_style, then J with total_cost
    # g = None                # ≈ 1 line: dJ/dG from the tape
    # # ≈ 6 lines: state["t"], state["m"], state["v"], m_hat, v_hat, then G.assign(clip(...))
    ### END STUB
    return J


# %% [markdown]
# The check needs the library's version of the same cost, for the weights it tries. `nst.make_cost_function`
# computes the targets once and compiles `cost(x) -> (J, J_content, J_style, dJ/dx)` with `tf.function`
# (with your losses: `**LOSSES`); the check runs Adam on it next to your steps.

# %%
def library_cost(alpha, beta):
    return nst.make_cost_function(model, x_C, x_S, alpha=alpha, beta=beta, **LOSSES)


passed = course.check_train_step(my_train_step, library_cost, G0, model.mean, alpha=ALPHA, beta=BETA)

# %% [markdown]
# ### A loop of your steps, and the library's
#
# Ten of your steps from $G_0$, then ten iterations of `nst.run_style_transfer` (Adam, same start:
# `seed=0`, same losses). The costs should agree to about 6 digits (float32 sums in another order); the
# library is faster because it compiles the step and runs the network only as deep as the costs need. The
# last column is the largest move of any pixel in your step, in grey levels. Until your `my_train_step`
# passes its check, this cell runs the library's Adam alone. This takes **about 15 seconds** at real
# settings.

# %%
library = nst.run_style_transfer(model, content, style, iterations=HAND_STEPS,
                                 alpha=ALPHA, beta=BETA, seed=0, **LOSSES)
if passed:
    G = tf.Variable(G0)
    state = course.adam_state(G)
    my_J, moves, start = [], [], time.perf_counter()
    for _ in course.progress(range(HAND_STEPS), desc="your steps"):
        before = G.numpy()
        my_J.append(float(my_train_step(G, state)))
        moves.append(float(np.abs(G.numpy() - before).max()))
    my_seconds = time.perf_counter() - start
    for step, (mine, theirs, move) in enumerate(zip(my_J, [h["J"] for h in library.history], moves), start=1):
        print(f"step {step:2d}: your J = {mine:12.6g}   library's J = {theirs:12.6g}   largest move {move:.2f}")
    print(f"your steps: {my_seconds:.1f} s, the library's: {library.seconds:.1f} s (compilation included)")
else:
    print("my_train_step has not passed its check: the library's Adam only")
    for h in library.history:
        print(f"step {h['iteration']:2d}: library's J = {h['J']:12.6g}")

# %% [markdown]
# The largest move is $\eta = 2$ at the first step, as the formula says, and with VGG16 it crept above 2
# (2.09 at step 10): $\eta$ is the typical size of a step, not a bound.
#
# > **What you should remember.** One step: the cost and its gradient with respect to every pixel
# > (`tf.GradientTape`), then Adam: running averages $m$, $v$, a bias correction, a step of about $\eta$ per
# > pixel (exactly $\eta$ at the first step, not bounded by it later) and a clip to valid pixels.
# > `nst.run_style_transfer` is that loop, compiled.
#
# ## 3. The full run, with a live preview
#
# `nst.run_style_transfer` calls `callback(iteration, costs, image)` as it goes. `LivePreview` is such a
# callback: it records the costs at every iteration and, every `PREVIEW_EVERY` iterations, redraws one
# output in place: the current $G$ on the left, and on the right $J$, $\alpha J_{content}$ and
# $\beta J_{style}$ on a log scale. (A saved notebook keeps only the last frame.)
#
# This cell takes **about 2 minutes** at real settings (200 Adam iterations at 170 x 256 pixels: 111 s
# with VGG16 on a shared 2-core CPU, about 0.55 s per iteration; VGG19 about 2.5 minutes).
#
# **Where this is going**: content + style = result, as the README opens with it (the cat with the swirls
# style, L-BFGS, 100 iterations at 266 x 400; section 4 compares the two optimisers):
#
# ![content + style = result: chelsea + swirls, L-BFGS, 100 iterations, VGG16 stand-in weights](figures/05_result.jpg)
#
# *Rendered by docs/course/render.py with VGG16 stand-in weights (the VGG19 file cannot be downloaded where
# it was made); sizes and iterations: docs/course/README.md.* This cell uses the mosaic style and Adam: look
# for the cat's eyes, nose and outline kept while its fur turns into coloured cells with light borders
# (the mosaic's are dark), and for J falling fast in the first 50 iterations, then slowly. With your losses the picture is the same as
# with the library's once your checks passed.

# %%
preview = LivePreview(ALPHA, BETA, every=PREVIEW_EVERY, title=f"Adam, alpha = {ALPHA:g}, beta = {BETA:g}")
result = nst.run_style_transfer(model, content, style, iterations=ITERATIONS,
                                alpha=ALPHA, beta=BETA, seed=0, callback=preview, callback_every=1, **LOSSES)
preview.done(result)
print(f"{result.iterations} iterations in {result.seconds:.0f} s: J = {result.J:.4g}, "
      f"J_content = {result.J_content:.4g}, J_style = {result.J_style:.4g}")

# %% [markdown]
# Reading the curves: $\beta J_{style}$ starts far above $\alpha J_{content}$ (the noisy start has the
# photo's layout but nothing of the style image's textures) and falls steadily, by about two orders of
# magnitude. It is almost all of $J$, so the curve of $J$ hides under it. $\alpha J_{content}$ *rises*: to
# take on the style image's textures, $G$ has to move away from the photo. $J$ is still falling at the end, so
# more iterations would change the picture further.
#
# The result next to its two sources:

# %%
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
for ax, image, title in zip(axes, [content, style, result.image],
                            ["content C", "style S", f"G after {result.iterations} Adam iterations"]):
    ax.imshow(np.asarray(image, np.uint8))
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# What to look for: the cat's eyes, nose and the lines of its fur stay where they were in the photo, drawn in
# the style image's colours, and everything, the background included, breaks up into small cells like the
# mosaic's, their outlines light where the mosaic's are dark.
#
# > **What you should remember.** Watch the two terms, not only $J$: $\beta J_{style}$ falls by orders of
# > magnitude while $\alpha J_{content}$ rises as $G$ leaves the photo. With Adam, the number of iterations
# > is part of the recipe.
#
# ## 4. Adam or L-BFGS?
#
# Adam uses only the gradient of the current step (and its running averages). **L-BFGS**, the optimiser of
# Gatys et al., also estimates the curvature of $J$ from the last steps and searches along its direction for
# a good step length, so each iteration costs one or more evaluations of $J$ but goes further.
#
# A fair comparison gives both the same time. Run L-BFGS from the same start for as many seconds as the
# Adam run took, with its own live preview (a callback that asks the run to stop once the time is up).
# This cell takes **as long as the Adam run** (about 2 minutes at real settings).

# %%
stop = threading.Event()
lbfgs_preview = LivePreview(ALPHA, BETA, every=PREVIEW_EVERY, title="L-BFGS, same start, same seconds")


def lbfgs_callback(iteration, costs, image):
    lbfgs_preview(iteration, costs, image)
    if costs["seconds"] >= result.seconds:                # Adam's time is up: stop after this iteration
        stop.set()


lbfgs = transfer.run_transfer(model, content, style, iterations=LBFGS_MAX, optimizer="lbfgs",
                               alpha=ALPHA, beta=BETA, seed=0, callback=lbfgs_callback, callback_every=1,
                               stop_event=stop, **LOSSES)
lbfgs_preview.done(lbfgs)
print(f"L-BFGS: {lbfgs.iterations} iterations in {lbfgs.seconds:.0f} s, J = {lbfgs.J:.4g} "
      f"(Adam: {result.iterations} iterations in {result.seconds:.0f} s, J = {result.J:.4g})")

# %%
runs = {"Adam": result, "L-BFGS": lbfgs}
fig, axes = plt.subplots(1, 4, figsize=(16, 3.6), layout="constrained", width_ratios=[1, 1, 1.2, 1.2])
for ax, (name, run) in zip(axes, runs.items()):
    ax.imshow(run.image)
    ax.set_title(f"{name}: J = {run.J:.3g}")
    ax.axis("off")
for name, run in runs.items():
    seconds = [h["seconds"] for h in run.history]
    axes[2].plot(seconds, [h["J"] for h in run.history], label=name)
    axes[3].plot(seconds, [ALPHA * h["J_content"] for h in run.history], label=f"{name}: alpha J_content")
    axes[3].plot(seconds, [BETA * h["J_style"] for h in run.history], "--", label=f"{name}: beta J_style",
                 color=axes[3].lines[-1].get_color())
axes[2].set_title("J against time")
axes[3].set_title("the two terms against time")
for ax in axes[2:]:
    ax.set_yscale("log")
    ax.set_xlabel("seconds")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# In the same time L-BFGS reaches a $J$ orders of magnitude lower, and its picture shows it: the
# style image's cells and dark outlines everywhere, of the cat little more than the eyes and a rough outline.
# That does not make it "better": at the
# assignment's $\beta / \alpha = 4$ the minimum of $J$ is mostly style, so the further an optimiser gets,
# the more of the photo it gives up (notebook 04 shows the whole range). With Adam, the number of
# iterations is a second knob next to $\beta / \alpha$: 200 steps of a couple of grey levels each stop well
# before the minimum, which is why the assignment's ratio works with Adam. With L-BFGS you would lower
# $\beta / \alpha$ instead (see notebook 04's grid for the range that keeps the cat).
#
# > **What you should remember.** Compare optimisers at equal time, and look at the picture, not only at
# > $J$: a lower $J$ means closer to the minimum of *this* cost, and the weights decide what that minimum
# > looks like. Adam + 200 iterations + $\beta/\alpha = 4$ is one recipe; L-BFGS needs a lower $\beta/\alpha$.
#
# ## 5. Save the result
#
# `nst.save_image` writes the image (atomically: never a half-written file); the settings and costs go next
# to it as JSON, so you can tell later how the picture was made.

# %%
OUT.mkdir(parents=True, exist_ok=True)
stem = f"05_{CONTENT_PATH.stem}_{STYLE_PATH.stem}"
path = nst.save_image(OUT / f"{stem}.png", result.image)
settings = {"content": CONTENT_PATH.name, "style": STYLE_PATH.name, "size": list(content.shape[:2]),
            "optimizer": "adam", "lr": 2.0, "alpha": ALPHA, "beta": BETA, "seed": 0, "weights": model.path.name}
summary = {k: v for k, v in result.summary().items() if k != "history"}
(OUT / f"{stem}.json").write_text(json.dumps({**settings, **summary}, indent=1))

same = np.array_equal(nst.load_image(path).astype(np.uint8), result.image)   # PNG is lossless
print(f"saved {path} and {stem}.json; read back identical: {same}")

# %% [markdown]
# > **What you should remember.** Save the settings (sizes, weights, seed, optimiser) next to the picture:
# > the same settings and seed give the same picture again.
#
# ## Summary
#
# - Your losses from notebooks 01 to 04 paint the picture (`course.mine`, then `content_cost=`,
#   `style_cost=`, `total_cost=` in `nst.run_style_transfer`).
# - The targets $a^{(C)}$ and $a^{(S)}$ (or its Gram matrices) are computed once; each step runs the
#   network on $G$ only. The start, $0.6\,\text{noise} + 0.4\,C$ in mean-subtracted space, keeps the layout
#   within reach and gives every pixel its own start.
# - One step: $J(G)$ and $\partial J / \partial G$ with `tf.GradientTape`, then Adam moves every pixel by
#   about $\eta$ (exactly $\eta$ at the first step; later it can be more) and clips it to the valid range.
#   `nst.run_style_transfer` is that loop, compiled.
# - The cost curves tell the story: $\beta J_{style}$ falls by orders of magnitude, $\alpha J_{content}$
#   rises as $G$ leaves the photo, $J$ keeps falling.
# - L-BFGS gets much lower in $J$ in the same time; with the assignment's weights that means more style
#   and less photo. The optimiser and the number of iterations are part of the recipe.
# - `nst.save_image` writes the result; keep the settings next to it.
#
# ## Questions and things to try
#
# 1. In the first Adam step every pixel with a non-zero gradient moves by exactly $\eta$ (or less, at the
#    clip). Why? (Hint: what is $\hat m / \sqrt{\hat v}$ when $t = 1$?) Can a later step move a pixel by
#    more than $\eta$? Try $g = 0.01$ for 1000 steps, then $g = 1$.
# 2. Set `ITERATIONS = 400` and rerun section 3. Where does the picture still change? Compare with the slope
#    of $J$ at 200 iterations.
# 3. Try `lr=5` and `lr=0.5` in `nst.run_style_transfer`. What happens to the curves in the first 20
#    iterations, and to the picture at the end?
# 4. Start from the photo itself (`init="content"`): which curve changes most?
# 5. Rerun section 4 for L-BFGS with a $\beta/\alpha$ from notebook 04's grid, far below 4
#    (`beta=ratio * ALPHA`). Does the cat come back?
# 6. Another pair: `coffee.jpg` or `astronaut.jpg` with `style_swirls.jpg` or `style_waves.jpg`.
# 7. The same run from a terminal, from the repository's root folder:
#    `python3 nst_utils.py stylize images/chelsea.jpg images/style_mosaic.jpg -o cli.png --max-size 256 --iterations 200 --seed 0`
#    from the repository's folder (the command's defaults are the assignment's: Adam, lr 2.0, 200 iterations).
# 8. Notebook 06 (the lab) puts all of this behind sliders: change $\alpha$, $\beta$, the layers and the
#    optimiser while the run goes on.
