# %% [markdown]
# # 05 · Style transfer: the optimisation loop, live
#
# Notebooks 01 to 04 built the cost $J(G)$. This notebook minimises it: start from a noisy copy of the
# photo, compute the gradient of $J$ with respect to every pixel of $G$, take a small step downhill, and
# repeat a few hundred times while watching the picture turn into a painting.
#
# ## What you will learn
#
# 1. What is computed once (the content target $a^{(C)}$ and the style Gram matrices $G^{(S)}$) and what
#    changes at every step (the generated image $G$, which starts as the assignment's noisy photo).
# 2. One optimisation step by hand: $J(G)$ and $\partial J / \partial G$ with `tf.GradientTape`, then the
#    Adam update (an exercise, with a check). Ten of your steps give the same costs as the library's loop.
# 3. The full run with a **live preview**: the image and the cost curves redraw in place every few
#    iterations.
# 4. Adam against L-BFGS for the same number of seconds.
# 5. Saving the result (and its settings) to the output folder.
#
# At real settings the notebook runs in **about 4 minutes** on a 2-core laptop CPU with VGG16 (measured
# 4 min 15 s: the full run and the L-BFGS run about 2 minutes each); VGG19 takes about 1.3 times longer.

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

sys.path.insert(0, "..")
import nst_utils as nst  # first: it quietens TensorFlow's start-up messages
from nst_tools import course
from nst_tools.preview import LivePreview

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

SMOKE = course.smoke_mode()                                  # NST_SMOKE=1: tiny images, 3 iterations
MAX_SIZE = 48 if SMOKE else 256                           # longest side of the images, in pixels
HAND_STEPS = 3 if SMOKE else 10                           # steps of your own loop (section 2)
ITERATIONS = 3 if SMOKE else 200                          # Adam iterations of the full run (section 3)
PREVIEW_EVERY = 1 if SMOKE else 10                        # redraw the live preview every ... iterations
LBFGS_MAX = 3 if SMOKE else 1000                          # L-BFGS stops at this or at Adam's time (section 4)
ALPHA, BETA = 10.0, 40.0                                  # the assignment's weights
OUT = Path(os.environ.get("NST_OUTPUT_DIR", "outputs"))   # where section 5 saves the result
tf.get_logger().setLevel("ERROR")                         # no retracing notes: each run compiles its own cost

CONTENT_PATH, STYLE_PATH = Path("../images/chelsea.jpg"), Path("../images/style_mosaic.jpg")
model = nst.load_vgg_model(nst.resolve_weights_path())
content = nst.load_image(CONTENT_PATH, max_size=MAX_SIZE)
style = nst.load_image(STYLE_PATH, size=content.shape[:2])
print(model, "| content", content.shape, "| style", style.shape, "| smoke mode:", SMOKE)

# %% [markdown]
# ## 1. The pieces
#
# The network works on preprocessed images: RGB minus the mean pixel, shape $(1, n_H, n_W, 3)$. Three
# images take part:
#
# - the content image $C$ and the style image $S$, which never change;
# - the generated image $G$, the only thing the optimisation changes. It starts as the assignment's noisy
#   photo, $G_0 = 0.6 \cdot \text{noise} + 0.4 \cdot C$ with noise uniform in $[-20, 20]$
#   (`nst.generate_noise_image`).

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
# The targets do not depend on $G$, so they are computed **once**, before the loop: the content activation
# $a^{(C)}$ at `conv4_2`, and the Gram matrix $G^{(S)} = A_S A_S^T$ of the style image at each style layer
# (`nst.style_grams`). Each step then runs the network on $G$ only.

# %%
STYLE_NAMES = [name for name, _ in nst.STYLE_LAYERS]      # conv1_1 .. conv5_1, lambda = 0.2 each
LAYERS = [nst.CONTENT_LAYER] + STYLE_NAMES                # what one step needs from the network

a_C = model(x_C, [nst.CONTENT_LAYER])[nst.CONTENT_LAYER]  # (1, n_H, n_W, n_C) at conv4_2
grams = nst.style_grams(model(x_S, STYLE_NAMES))          # {layer: G_S of shape (n_C, n_C)}
print(f"a_C at {nst.CONTENT_LAYER}: {tuple(a_C.shape)}")
for name, G_S in grams.items():
    print(f"G_S at {name}: {tuple(G_S.shape)}")

# %% [markdown]
# ## 2. One optimisation step, by hand
#
# The cost of notebook 04, with the style cost written against the stored Gram matrices:
#
# $$J(G) = \alpha \, J_{content}(C, G) + \beta \sum_{l} \lambda^{[l]} J^{[l]}_{style}(S, G)$$
#
# A step needs its gradient $g = \partial J / \partial G$, one number per pixel and channel, the same
# shape as $G$. `tf.GradientTape` records the forward computation (network, costs) and runs it backwards.
#
# The step itself is **Adam**, as in the assignment. It keeps two running averages per pixel, of the
# gradient ($m$) and of its square ($v$), and moves each pixel by about $\eta$ in the direction that lowers
# $J$ ($t$ counts the steps from 1; $\beta_1, \beta_2$ are Adam's constants, not the style weight $\beta$):
#
# $$m \leftarrow \beta_1 m + (1 - \beta_1) \, g, \qquad v \leftarrow \beta_2 v + (1 - \beta_2) \, g^2$$
#
# $$\hat m = \frac{m}{1 - \beta_1^t}, \qquad \hat v = \frac{v}{1 - \beta_2^t}, \qquad
# G \leftarrow \text{clip}\left(G - \eta \, \frac{\hat m}{\sqrt{\hat v} + \epsilon}\right)$$
#
# with $\eta = 2$ (the learning rate, in grey levels per step), $\beta_1 = 0.9$, $\beta_2 = 0.999$,
# $\epsilon = 10^{-8}$. The clip keeps every pixel of $G$ plus the mean in $[0, 255]$:

# %%
LO, HI = -model.mean, 255.0 - model.mean                  # bounds of a preprocessed pixel, per channel
print("LO =", LO, " HI =", HI)


# %% [markdown]
# ### Exercise: write one training step
#
# `G` is a `tf.Variable` holding the preprocessed image; `state` holds Adam's $m$, $v$ and $t$
# (`course.adam_state(G)` makes one with zeros). In the marked cell:
#
# 1. inside `with tf.GradientTape() as tape:`, run the network on `G` (`model(G, LAYERS)` gives
#    `{layer: activation}`) and compute `J_content` (`nst.compute_content_cost`), `J_style`
#    (`nst.style_cost_from_grams(grams, a_G)`) and `J` (`nst.total_cost`);
# 2. `g = tape.gradient(J, G)`;
# 3. update `state["t"]`, `state["m"]`, `state["v"]` and `G` (with `G.assign(...)`) following the formulas;
# 4. return `J`, the cost of `G` *before* the update.
#
# The cell comes filled in with one answer so that the notebook runs from top to bottom: delete the lines
# between `START CODE HERE` and `END CODE HERE`, write your own, and run the check, which takes three steps
# from a start image and compares your $J$ and your new $G$ with the library's after each.

# %%
# EXERCISE: one Adam step on G (tf.Variable, (1, n_H, n_W, 3)); state: {"m", "v", "t"}; returns J before it.
def my_train_step(G, state, lr=2.0, beta1=0.9, beta2=0.999, eps=1e-8):
    ### START CODE HERE ###
    with tf.GradientTape() as tape:
        a_G = model(G, LAYERS)
        J_content = nst.compute_content_cost(a_C, a_G[nst.CONTENT_LAYER])
        J_style = nst.style_cost_from_grams(grams, a_G)
        J = nst.total_cost(J_content, J_style, ALPHA, BETA)
    g = tape.gradient(J, G)                                # dJ/dG, same shape as G
    state["t"] += 1
    state["m"] = beta1 * state["m"] + (1 - beta1) * g
    state["v"] = beta2 * state["v"] + (1 - beta2) * tf.square(g)
    m_hat = state["m"] / (1 - beta1 ** state["t"])
    v_hat = state["v"] / (1 - beta2 ** state["t"])
    G.assign(tf.clip_by_value(G - lr * m_hat / (tf.sqrt(v_hat) + eps), LO, HI))
    ### END CODE HERE ###
    return J


# %% [markdown]
# The check needs the library's version of the same cost. `nst.make_cost_function` computes the targets
# once and compiles `cost(x) -> (J, J_content, J_style, dJ/dx)` with `tf.function`; the check runs Adam on
# it next to your steps.

# %%
cost = nst.make_cost_function(model, x_C, x_S, alpha=ALPHA, beta=BETA)
passed = course.check_train_step(my_train_step, cost, G0, model.mean)

# %% [markdown]
# ### A loop of your steps, and the library's
#
# Ten of your steps from $G_0$, then ten iterations of `nst.run_style_transfer` (Adam, same start:
# `seed=0`). The costs should agree to about 6 digits (float32 sums in another order); the library is
# faster because it compiles the step and runs the network only as deep as the costs need. This takes
# **about 15 seconds** at real settings.

# %%
G = tf.Variable(G0)
state = course.adam_state(G)
start = time.perf_counter()
my_J = [float(my_train_step(G, state)) for _ in range(HAND_STEPS)]
my_seconds = time.perf_counter() - start

library = nst.run_style_transfer(model, content, style, iterations=HAND_STEPS, optimizer="adam",
                                 alpha=ALPHA, beta=BETA, seed=0)
for step, (mine, theirs) in enumerate(zip(my_J, [h["J"] for h in library.history]), start=1):
    print(f"step {step:2d}: your J = {mine:12.6g}   library's J = {theirs:12.6g}")
print(f"your steps: {my_seconds:.1f} s, the library's: {library.seconds:.1f} s (compilation included)")

# %% [markdown]
# Ten steps of at most 2 grey levels each change the picture only a little; the real work takes a few
# hundred.
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

# %%
preview = LivePreview(ALPHA, BETA, every=PREVIEW_EVERY, title=f"Adam, alpha = {ALPHA:g}, beta = {BETA:g}")
result = nst.run_style_transfer(model, content, style, iterations=ITERATIONS, optimizer="adam",
                                alpha=ALPHA, beta=BETA, seed=0, callback=preview, callback_every=1)
preview.done(result)
print(f"{result.iterations} iterations in {result.seconds:.0f} s: J = {result.J:.4g}, "
      f"J_content = {result.J_content:.4g}, J_style = {result.J_style:.4g}")

# %% [markdown]
# Reading the curves: $\beta J_{style}$ starts far above $\alpha J_{content}$ (the noisy start has the
# photo's layout but nothing of the painting's textures) and falls steadily, by about two orders of
# magnitude. It is almost all of $J$, so the curve of $J$ hides under it. $\alpha J_{content}$ *rises*: to
# take on the painting's textures, $G$ has to move away from the photo. $J$ is still falling at the end, so
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


lbfgs = nst.run_style_transfer(model, content, style, iterations=LBFGS_MAX, optimizer="lbfgs",
                               alpha=ALPHA, beta=BETA, seed=0, callback=lbfgs_callback, callback_every=1,
                               stop_event=stop)
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
# painting's cells and dark outlines everywhere, of the cat little more than the eyes and a rough outline.
# That does not make it "better": at the
# assignment's $\beta / \alpha = 4$ the minimum of $J$ is mostly painting, so the further an optimiser gets,
# the more of the photo it gives up (notebook 04 shows the whole range). With Adam, the number of
# iterations is a second knob next to $\beta / \alpha$: 200 steps of about 2 grey levels stop well before the
# minimum, which is why the assignment's ratio works with Adam. With L-BFGS you would lower $\beta / \alpha$
# instead (notebook 04 found $10^{-4}$ to $10^{-3}$).
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
# ## Summary
#
# - The targets $a^{(C)}$ and $G^{(S)}$ are computed once; each step runs the network on $G$ only.
# - One step: $J(G)$ and $\partial J / \partial G$ with `tf.GradientTape`, then Adam moves every pixel by
#   about $\eta$ and clips it to the valid range. `nst.run_style_transfer` is that loop, compiled.
# - The cost curves tell the story: $\beta J_{style}$ falls by orders of magnitude, $\alpha J_{content}$
#   rises as $G$ leaves the photo, $J$ keeps falling.
# - L-BFGS gets much lower in $J$ in the same time; with the assignment's weights that means more painting
#   and less photo. The optimiser and the number of iterations are part of the recipe.
# - `nst.save_image` writes the result; keep the settings next to it.
#
# ## Questions and things to try
#
# 1. In the first Adam step every pixel moves by exactly $\eta$ (or stays put at the clip). Why? (Hint:
#    what is $\hat m / \sqrt{\hat v}$ when $t = 1$?)
# 2. Set `ITERATIONS = 400` and rerun section 3. Where does the picture still change? Compare with the slope
#    of $J$ at 200 iterations.
# 3. Try `lr=5` and `lr=0.5` in `nst.run_style_transfer`. What happens to the curves in the first 20
#    iterations, and to the picture at the end?
# 4. Start from the photo itself (`init="content"`): which curve changes most?
# 5. Rerun section 4 with `beta=1e-3 * ALPHA` for L-BFGS. Does the cat come back?
# 6. Another pair: `coffee.jpg` or `astronaut.jpg` with `style_swirls.jpg` or `style_waves.jpg`.
# 7. The same run from a terminal, from the repository's root folder:
#    `python nst_utils.py stylize images/chelsea.jpg images/style_mosaic.jpg -o notebooks/outputs/cli.png --max-size 256 --iterations 200 --seed 0`
#    (`notebooks/outputs/` is the folder section 5 created).
# 8. Notebook 06 (the lab) puts all of this behind sliders: change $\alpha$, $\beta$, the layers and the
#    optimiser while the run goes on.
