# %% [markdown]
# # 01 · The content cost: what the network remembers of a photo
#
# The generated image $G$ should show the same *things in the same places* as the content image $C$. The
# course measures this in VGG's activations at one layer rather than in pixels, so $G$ may change the
# brush strokes and colours as long as the network still sees the same scene.
#
# ## What you will learn
#
# 1. The content cost $J_{content}(C, G)$: you write it, and a check compares it with the library's.
# 2. What it is sensitive to (noise, shifts, colours, a mirror image, another photo), at a shallow layer
#    and at the content layer.
# 3. What a layer remembers: **content reconstructions**, images found from noise whose activation at
#    one layer matches the photo's, from `conv1_2` to `conv5_2`. Deeper layers keep the layout and lose
#    the pixels.

# %% [markdown]
# ## Setup
#
# All imports and settings. At real settings the reconstructions in section 3 take **1 to 3 minutes on a
# 2-core laptop CPU** (the rest runs in seconds); `SMOKE` (set by the automatic tests) makes everything tiny.

# %%
import sys
from pathlib import Path

ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "nst_utils.py").is_file())  # the repository
sys.path.insert(0, str(ROOT))
import nst_utils as nst  # first: it quietens TensorFlow's start-up messages
from nst_tools import course

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

SMOKE = course.smoke_mode()                                  # NST_SMOKE=1: tiny images, 3 iterations
SIZE = (32, 48) if SMOKE else (200, 300)                  # (H, W) of the images in section 2
RECON_SIZE = (32, 48) if SMOKE else (100, 150)            # (H, W) of the reconstructions in section 3
RECON_ITERATIONS = 3 if SMOKE else 100                    # L-BFGS iterations per reconstruction
tf.get_logger().setLevel("ERROR")                         # no retracing notes: each layer compiles its own cost

model = nst.load_vgg_model(nst.resolve_weights_path())
content = nst.load_image(ROOT / "images" / "chelsea.jpg", size=SIZE)
other_photo = nst.load_image(ROOT / "images" / "coffee.jpg", size=SIZE)
print(model, "| content", content.shape, "| smoke mode:", SMOKE)

# %% [markdown]
# ## 1. The content cost
#
# Run the network on $C$ and on $G$ and take the activations at one layer, the **content layer**
# (`conv4_2` in the course): $a^{(C)}$ and $a^{(G)}$, each of shape $(1, n_H, n_W, n_C)$. The content cost
# is their mean squared difference, with the assignment's factor $\frac14$:
#
# $$J_{content}(C,G) = \frac{1}{4 \times n_H \times n_W \times n_C}
# \sum_{h=1}^{n_H}\sum_{w=1}^{n_W}\sum_{c=1}^{n_C}\left(a^{(C)}_{h,w,c} - a^{(G)}_{h,w,c}\right)^2$$
#
# ### Exercise: write `compute_content_cost`
#
# Following the formula:
#
# 1. $n_H, n_W, n_C$ are read for you from the shape of `a_G`;
# 2. take the squared differences (`tf.square` of `a_C - a_G`, or `tf.subtract`);
# 3. sum them all (`tf.reduce_sum`) and divide by $4 n_H n_W n_C$.
#
# Replace each `None` by your code and run the cell, then the check below it. The check calls your
# function on random tensors of three shapes and on two equal ones (the cost must be 0), then once more
# inside `tf.function` on symbolic tensors, as notebook 05 will run it, and compares it with the library's
# `nst.compute_content_cost`. So use TensorFlow ops (`tf.reduce_sum`, `tf.square`), not NumPy, and return
# the tensor.
#
# **Expected output** of the check (its first case: `a_C`, `a_G` of shape (1, 4, 4, 3), get them with
# `a_C, a_G = course.case_inputs("compute_content_cost")`):
#
# ```
# PASSED: compute_content_cost = 6.065943 (expected 6.065943), 4 test cases and inside tf.function
# ```

# %%
def compute_content_cost(a_C, a_G):
    """J_content(C, G) for activations a_C, a_G of shape (1, n_H, n_W, n_C); returns a scalar tensor."""
    _, n_H, n_W, n_C = a_G.shape
    ### BEGIN SOLUTION
    squared_differences = tf.square(tf.subtract(a_C, a_G))
    J_content = tf.reduce_sum(squared_differences) / (4 * n_H * n_W * n_C)
    ### END SOLUTION
    ### BEGIN STUB
    # squared_differences = None  # ≈ 1 line: (a_C - a_G) squared, element by element
    # J_content = None            # ≈ 1 line: their sum divided by 4 n_H n_W n_C
    ### END STUB
    return J_content


# %% [markdown]
# The check shows a green `PASSED`, a red `FAILED` with the most likely cause, what it got and expected and
# the inputs of the failing case, or, while the function still returns `None`, a grey `NOT IMPLEMENTED`.
# Then `course.keep` saves your function once it passed (notebook 05 paints with it) and hands the cells
# below `content_cost`: yours once it passed, the library's until then. Your `compute_content_cost` stays
# yours: run the check again after a change and it checks your new version.

# %%
passed = course.check_content_cost(compute_content_cost)
content_cost = course.keep(compute_content_cost, passed)


# %% [markdown]
# What `FAILED` looks like, with a deliberate mistake: the same cost without the factor $\frac14$. The check
# names the likely cause (it knows the common mistakes: a missing factor, a mean instead of a sum, NumPy
# instead of TensorFlow, ...), then what it got and what it expected (4 times smaller).

# %%
def content_cost_without_the_4(a_C, a_G):   # a deliberate mistake, to see what FAILED looks like
    _, n_H, n_W, n_C = a_G.shape
    return tf.reduce_sum(tf.square(a_C - a_G)) / (n_H * n_W * n_C)


passed_without_the_4 = course.check_content_cost(content_cost_without_the_4)

# %% [markdown]
# > **What you should remember**
# >
# > - The content cost compares the activations of $C$ and $G$ at **one** layer, position by position and
# >   channel by channel: $J_{content}(C,G) = \frac{1}{4 n_H n_W n_C}\sum (a^{(C)} - a^{(G)})^2$.
# > - It is 0 when the two activations are equal, and it does not depend on any other layer.
#
# ## 2. What the content cost is sensitive to
#
# Now measure it (`content_cost`: your `compute_content_cost` if it passed, else the library's) between the photo and a
# few other images, at a shallow layer, `conv1_2`, and at the content layer, `conv4_2`.

# %%
rng = np.random.default_rng(0)
candidates = {
    "the photo itself": content,
    "photo + noise (std 50)": np.clip(content + rng.normal(0, 50, content.shape), 0, 255),
    "shifted 2 px right": np.roll(content, 2, axis=1),
    "colours swapped (BGR)": content[:, :, ::-1],
    "mirrored left-right": content[:, ::-1],
    "another photo": other_photo,
}
layers = ["conv1_2", nst.CONTENT_LAYER]
a_C = model(nst.preprocess(content, model.mean), layers)
costs = {name: [] for name in layers}
for image in candidates.values():
    a_G = model(nst.preprocess(image, model.mean), layers)
    for name in layers:
        costs[name].append(float(content_cost(a_C[name], a_G[name])))

fig, axes = plt.subplots(1, len(candidates), figsize=(2.3 * len(candidates), 2.0), layout="constrained")
for ax, (label, image) in zip(axes, candidates.items()):
    ax.imshow(np.asarray(image).astype(np.uint8)); ax.set_title(label, fontsize=9); ax.axis("off")
fig.suptitle("The images G compared with the photo C")
plt.show()

relative = {name: np.array(costs[name]) / costs[name][list(candidates).index("another photo")]
            for name in layers}
fig, axes = plt.subplots(1, len(layers), figsize=(12, 3.2), layout="constrained")
for ax, name in zip(axes, layers):
    ax.barh(list(candidates), relative[name], color="tab:blue")
    for y, value in enumerate(relative[name]):
        ax.text(value, y, f" {value:.2f}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.25 * max(relative[name]))
    ax.set_xlabel("J_content(C, G) / J_content(C, another photo)")
    ax.set_title(f"content cost at {name}")
plt.show()
print(f"{'G':24s}" + "".join(f"{name:>22s}" for name in layers))
for i, label in enumerate(candidates):
    print(f"{label:24s}" + "".join(f"{costs[n][i]:12.4g} ({relative[n][i]:4.2f})" for n in layers))


# %% [markdown]
# Each bar is divided by the cost of "another photo" (the numbers in brackets above), so that the two
# layers can be compared. At `conv1_2`, a shallow layer, a shift of 2 pixels already costs about a tenth of
# a different photo, and swapping the colour channels costs *more* than a different photo: this layer
# compares pixels and colours. At `conv4_2` the shift and the swapped colours cost several times less: a
# deep layer compares *what is where*, not the exact pixels.
#
# Now compare the mirrored photo with the noisy one. At `conv1_2` the mirrored photo costs clearly less
# than the noise; at `conv4_2` it costs about as much or more (with the VGG16 stand-in weights these notes
# were checked with: 0.22 against 0.42 at `conv1_2`, then 0.30 against 0.26 at `conv4_2`; your numbers
# are printed above). Going deeper, the noise counts for less and the moved parts for more.
#
# > **What you should remember**
# >
# > - At a shallow layer the content cost is a pixel comparison: small shifts and colour changes cost a
# >   lot. At `conv4_2` it mostly asks whether the same parts are in the same places.
# > - That is why the course takes the content from a deep layer: the generated image may change colours
# >   and textures as long as the scene stays where it is.
#
# %% [markdown]
# ## 3. What a layer remembers: content reconstructions
#
# To see what the content cost keeps of a photo, optimise it alone. Start from an image of grey noise
# $G_0$ (not the photo: the photo itself would be a perfect answer from the start) and change the pixels
# to make the activation at **one** layer $l$ match the photo's:
#
# $$G^{*} = \arg\min_{G} \; J^{[l]}_{content}(C, G), \qquad G_0 = \text{grey} + \text{noise}$$
#
# `course.reconstruct_content(model, C, layer)` does this with L-BFGS, through `nst.run_style_transfer`
# with $\beta = 0$ and no style layers. We do it for the second convolution of each block, as Figure 1 of
# Gatys, Ecker and Bethge, *Image Style Transfer Using Convolutional Neural Networks* (CVPR 2016), does
# (their earlier preprint, *A Neural Algorithm of Artistic Style*, 2015, reconstructs from `conv1_1` ...
# `conv5_1` instead).
#
# > **L-BFGS in two lines.** A quasi-Newton method: from the gradients of its last few steps it builds an
# > estimate of the cost's curvature, so each step can go much further than a plain gradient step.
# > Notebook 05 explains it and compares it with Adam, the assignment's optimiser.
#
# This cell takes **1 to 3 minutes** at real settings (100 iterations per layer at 100 x 150 pixels,
# deeper layers cost more per iteration; about 1 minute with VGG16 on an idle 2-core CPU); it prints each
# layer as it finishes.
#
# **What you should see:**
#
# ![Content reconstructions from conv1_2 to conv5_2](figures/01_content_reconstructions.jpg)
#
# *Rendered by docs/course/render.py at this notebook's real settings with VGG16 stand-in weights (the VGG19
# file cannot be downloaded where it was made); sizes and iterations: docs/course/README.md.*

# %%
recon_layers = ["conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2"]
photo = nst.load_image(ROOT / "images" / "chelsea.jpg", size=RECON_SIZE)
rf = {row["name"]: row["receptive_field"] for row in course.layer_table(model, RECON_SIZE)}
reconstructions = {}
for layer in course.progress(recon_layers, desc="layers"):
    result = course.reconstruct_content(model, photo, layer, iterations=RECON_ITERATIONS, seed=0)
    reconstructions[layer] = result
    print(f"{layer}: J_content {result.history[0]['J_content']:.3g} after 1 iteration, "
          f"{result.J_content:.3g} after {result.iterations} ({result.seconds:.0f} s)")

# %%
fig, axes = plt.subplots(1, len(recon_layers) + 1, figsize=(2.9 * (len(recon_layers) + 1), 2.8),
                         layout="constrained")
axes[0].imshow(photo.astype(np.uint8))
axes[0].set_title("content image C")
for ax, layer in zip(axes[1:], recon_layers):
    ax.imshow(reconstructions[layer].image)
    ax.set_title(f"from {layer}\n(receptive field {rf[layer]} px)", fontsize=10)
for ax in axes:
    ax.set_xticks([]); ax.set_yticks([])
fig.suptitle("Content reconstructions: images whose activation at one layer matches the photo's")
plt.show()

# %% [markdown]
# **What you see.** From `conv1_2` the photo comes back almost exactly: a shallow layer has a few pixels
# of receptive field and keeps nearly all the information. From `conv2_2` and `conv3_2` the cat is still
# there, its outlines sharp, but the colours drift and a fine, colourful texture covers it. From `conv4_2`
# the *layout* survives, faintly (the eyes and the nose at their places), while the pixels, the colours
# and the fur are gone; from `conv5_2` little more than a trace of an eye is left in a swirl of texture.
# Yet the curve below shows `conv5_2`'s cost fell further than `conv4_2`'s: many different images give
# almost the same deep activation, and the optimiser found one of them. That freedom is what style
# transfer uses: the content cost at `conv4_2` pins down *what is where* and leaves the textures free for
# the style cost.
#
# How fast each reconstruction went (the cost relative to its start):

# %%
fig, ax = plt.subplots(figsize=(7, 3.4))
for layer in recon_layers:
    history = reconstructions[layer].history
    J = np.array([h["J_content"] for h in history])
    ax.plot([h["iteration"] for h in history], J / J[0], label=layer)
ax.set_yscale("log")
ax.set_xlabel("L-BFGS iteration")
ax.set_ylabel("J_content / J_content at iteration 1")
ax.set_title("Content reconstructions: cost against iteration")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
plt.show()

# %% [markdown]
# > **What you should remember**
# >
# > - Matching one layer's activation from noise shows what that layer keeps: shallow layers keep the
# >   pixels, deep layers keep *what is where* and let the exact pixels, colours and textures go.
# > - A low content cost at a deep layer does not mean a faithful copy: many images share a deep
# >   activation. Style transfer picks, among them, one with the style's textures.

# %% [markdown]
# ## Summary
#
# - $J_{content}(C,G) = \frac{1}{4 n_H n_W n_C}\sum (a^{(C)} - a^{(G)})^2$ at one layer, `conv4_2` in the
#   course; the library's `compute_content_cost(a_C, a_G)`.
# - Shallow layers compare pixels; deep layers compare the arrangement of objects and parts.
# - Reconstructing from deeper layers keeps the layout and loses the pixels, which leaves room for a style.
#
# ## Questions and things to try
#
# 1. Run the reconstructions with `RECON_ITERATIONS = 300`. Which layers improve, and which stay blurry?
# 2. Reconstruct from `conv4_2` starting from the photo itself (`init_image=photo` in
#    `nst.run_style_transfer(model, photo, photo, alpha=1, beta=0, content_layer="conv4_2", style_layers=[], optimizer="lbfgs", init_image=photo)`).
#    What is $J_{content}$ at the start, and why does the image not change?
# 3. Load the model with `pooling="max"` and reconstruct from `conv4_2` again. What changes?
# 4. In section 2, the mirrored photo costs less than the noisy one at `conv1_2` and about as much or more
#    at `conv4_2`. Why? (Hints: the cat's face is nearly symmetric; what does a deep layer, each position of
#    which averages over dozens of pixels, do with pixel noise?)
