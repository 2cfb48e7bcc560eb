# %% [markdown]
# # 03 · The style cost: Gram matrices, layer by layer
#
# Notebook 02 built the Gram matrix, which keeps *which* features occur together and forgets *where*.
# The style cost compares the Gram matrices of the style image $S$ and the generated image $G$, first at
# one layer, then summed over several layers, from fine colours and edges (`conv1_1`) to large
# patterns (`conv5_1`).
#
# ## What you will learn
#
# 1. The style cost of one layer, $J^{[l]}_{style}$: you write `compute_layer_style_cost` (with a check),
#    and what its normalisation does and does not even out.
# 2. The style cost over several layers, $J_{style} = \sum_l \lambda^{[l]} J^{[l]}_{style}$: you write
#    `compute_style_cost` (with a check), and see how much each layer adds.
# 3. Why the style cost does not care where things are: shuffle the positions and nothing changes.
# 4. What the style cost alone can paint: **style reconstructions** (texture synthesis) from
#    `conv1_1`, then `conv1_1 ... conv2_1`, and so on up to `conv1_1 ... conv5_1`.
#
# At real settings the notebook runs in **1 to 3 minutes** on a laptop CPU, almost all of it in section 4.

# %% [markdown]
# ## Setup
#
# All imports and settings. `SMOKE` (set by the automatic tests, `NST_SMOKE=1`) makes the images tiny and
# the optimisations a few iterations long. `course.mine` hands you your own `gram_matrix` if you passed its
# check in notebook 02 (else the library's): your style cost below is built on it.

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
from matplotlib.colors import PowerNorm

SMOKE = course.smoke_mode()                                  # NST_SMOKE=1: tiny images, 3 iterations
SIZE = (32, 48) if SMOKE else (192, 256)                  # (H, W) of the images in sections 2 and 3
RECON_SIZE = (32, 40) if SMOKE else (144, 192)            # (H, W) of the style reconstructions (section 4)
RECON_ITERATIONS = 3 if SMOKE else 100                    # L-BFGS iterations per reconstruction
tf.get_logger().setLevel("ERROR")                         # no retracing notes: each layer set compiles its own cost

STYLE_PATH = ROOT / "images" / "style_swirls.jpg"
model = nst.load_vgg_model(nst.resolve_weights_path())
style = nst.load_image(STYLE_PATH, size=SIZE)
photo = nst.load_image(ROOT / "images" / "chelsea.jpg", size=SIZE)
print(model, "| style:", STYLE_PATH.name, style.shape, "| smoke mode:", SMOKE)
gram_matrix = course.mine("gram_matrix")["gram_matrix"]  # yours if it passed in notebook 02


# %% [markdown]
# ## 1. The style cost of one layer
#
# Take the activations of the style image and of the generated image at one layer $l$, $a^{(S)}$ and
# $a^{(G)}$, each of shape $(1, n_H, n_W, n_C)$. Unroll each to $A$ of shape $(n_C, n_H n_W)$, one row per
# channel, and take the Gram matrices $G^{(S)} = A_S A_S^T$ and $G^{(G)} = A_G A_G^T$, both
# $n_C \times n_C$. The style cost of the layer is their squared difference, entry by entry, with the
# assignment's normalisation:
#
# $$J^{[l]}_{style}(S, G) = \frac{1}{4 \, n_C^2 \, (n_H n_W)^2} \sum_{i=1}^{n_C} \sum_{j=1}^{n_C}
#   \left(G^{(S)}_{ij} - G^{(G)}_{ij}\right)^2$$
#
# ### Exercise: write the style cost of one layer
#
# Write `compute_layer_style_cost` between the marked lines, following the formula:
#
# 1. unroll `a_S` and `a_G` to shape $(n_C, n_H n_W)$: `tf.reshape` to $(n_H n_W, n_C)$, then
#    `tf.transpose` (reshaping straight to $(n_C, n_H n_W)$ mixes the channels up);
# 2. take both Gram matrices with `gram_matrix` (yours from notebook 02 if you passed its check);
# 3. sum the squared differences (`tf.reduce_sum`, `tf.square`) and divide by $4 n_C^2 (n_H n_W)^2$.
#
# Then run the check below it: it compares your function with the library's on random tensors of three
# shapes and on two equal ones (the cost must be 0), then inside `tf.function`, and shows `PASSED`,
# `FAILED` (with the likely cause, what it got and expected) or `NOT IMPLEMENTED`. `course.keep` then saves
# your function once it passed (with any helper of yours it calls) and hands the cells below
# `layer_style_cost`: yours once it passed, the library's until then.
#
# **Expected output** of the check (its first case: `a_S, a_G = course.case_inputs("compute_layer_style_cost")`,
# of shape (1, 4, 4, 3)):
#
# ```
# PASSED: compute_layer_style_cost = 15.29545 (expected 15.29545), 4 test cases and inside tf.function
# ```

# %%
def compute_layer_style_cost(a_S, a_G):
    """The style cost of one layer.

    a_S, a_G: the activations of S and of G at the layer, shape (1, n_H, n_W, n_C).
    Returns J_style_layer, a scalar tensor.
    """
    _, n_H, n_W, n_C = a_G.shape
    ### BEGIN SOLUTION
    A_S = tf.transpose(tf.reshape(a_S, (n_H * n_W, n_C)))      # (n_C, n_H n_W)
    A_G = tf.transpose(tf.reshape(a_G, (n_H * n_W, n_C)))
    GS = gram_matrix(A_S)                                      # (n_C, n_C)
    GG = gram_matrix(A_G)
    J_style_layer = tf.reduce_sum(tf.square(GS - GG)) / (4 * n_C**2 * (n_H * n_W) ** 2)
    ### END SOLUTION
    ### BEGIN STUB
    # A_S = None            # ≈ 1 line: a_S unrolled to (n_C, n_H * n_W): tf.reshape, then tf.transpose
    # A_G = None            # ≈ 1 line: the same for a_G
    # GS = None             # ≈ 1 line: the Gram matrix of A_S (gram_matrix)
    # GG = None             # ≈ 1 line: the Gram matrix of A_G
    # J_style_layer = None  # ≈ 1 line: sum of (GS - GG)^2, divided by 4 n_C^2 (n_H n_W)^2
    ### END STUB
    return J_style_layer


# %%
passed = course.check_layer_style_cost(compute_layer_style_cost)
layer_style_cost = course.keep(compute_layer_style_cost, passed)


# %% [markdown]
# **A deliberate mistake**, to see what the check says: unroll with a single `tf.reshape` to
# $(n_C, n_H n_W)$. The shapes are right, but each "channel" row now holds values of several channels at
# several positions, so the Gram matrix is wrong, and the check prints `FAILED` with this cause, what it
# got and what it expected. (This function is only a demonstration: the notebook goes on with the one kept
# above.)

# %%
def layer_style_cost_without_transpose(a_S, a_G):  # a deliberate mistake, to see what FAILED looks like
    _, n_H, n_W, n_C = a_G.shape
    GS = nst.gram_matrix(tf.reshape(a_S, (n_C, n_H * n_W)))
    GG = nst.gram_matrix(tf.reshape(a_G, (n_C, n_H * n_W)))
    return tf.reduce_sum(tf.square(GS - GG)) / (4 * n_C**2 * (n_H * n_W) ** 2)


passed_without_transpose = course.check_layer_style_cost(layer_style_cost_without_transpose)


# %% [markdown]
# ### What the normalisation evens out, and what it does not
#
# Write $N = n_H n_W$ for the number of positions. Each entry $G_{ij} = \sum_{k=1}^{N} A_{ik} A_{jk}$ is a
# sum of $N$ products, so it grows like $N$, and a squared difference of two entries like $N^2$; and there
# are $n_C^2$ entries to add up. The factor $\frac{1}{4 n_C^2 N^2}$ removes exactly these two growths: with
# $M_{ij} = G_{ij} / N$, the **average** product of channels $i$ and $j$ over the positions,
#
# $$J^{[l]}_{style}(S, G) = \frac{1}{4} \cdot \frac{1}{n_C^2} \sum_{i,j} \left(M^{(S)}_{ij} - M^{(G)}_{ij}\right)^2,$$
#
# a quarter of the mean squared difference of the average products. So a layer does not weigh more because
# its maps are larger or because it has more channels.
#
# What it does **not** remove is the size of the activations themselves. $M_{ij}$ is a product of two
# activations, so $J^{[l]}_{style}$ grows like the fourth power of their typical size, and that size
# differs a lot from layer to layer. Below, for the style image against the photo of a cat: the number of
# positions and channels of each style layer, the RMS size of the style image's activations, and the
# layer's cost.

# %%
style_names = [name for name, _ in nst.STYLE_LAYERS]
a_S = model(nst.preprocess(style, model.mean), style_names)
a_photo = model(nst.preprocess(photo, model.mean), style_names)
print(f"{'layer':8s} {'n_H n_W':>8s} {'n_C':>5s} {'RMS of a_S':>11s} {'J_style^[l](S, photo)':>22s}")
for name in style_names:
    _, n_H, n_W, n_C = a_S[name].shape
    rms = float(tf.sqrt(tf.reduce_mean(tf.square(a_S[name]))))
    J_layer = float(layer_style_cost(a_S[name], a_photo[name]))
    print(f"{name:8s} {n_H * n_W:8d} {n_C:5d} {rms:11.3g} {J_layer:22.3g}")

# %% [markdown]
# Look at the last two columns together: the layers with larger activations have far larger costs, by
# orders of magnitude. How much depends on the network's weights and on the images: with the VGG16
# stand-in weights this course was written with, the RMS falls about 40-fold from `conv1_1` to `conv5_1`
# and the cost several million-fold: about the fourth power ($40^4 \approx 2.6$ million). The
# normalisation makes the *formula* independent of the layer's size; it does not make the layers'
# *values* comparable. That is why the per-layer weights $\lambda^{[l]}$ (section 2), and the
# balance $\beta$ against the content cost (notebook 04), have to be chosen for a given network and
# normalisation rather than copied from a paper.
#
# > **What you should remember**
# >
# > - $J^{[l]}_{style}$ compares the Gram matrices of $S$ and $G$ at one layer: unroll each activation to
# >   $(n_C, n_H n_W)$ (reshape, then transpose), $G = A A^T$, sum the squared differences.
# > - The factor $\frac{1}{4 n_C^2 (n_H n_W)^2}$ removes the growth with the number of positions and of
# >   channel pairs, not the size of the activations: the layers' costs still differ by orders of
# >   magnitude.

# %% [markdown]
# ## 2. The style cost over several layers
#
# One layer sees one scale: `conv1_1` sees $3 \times 3$ pixels (colours, fine edges), `conv5_1` sees
# a large part of the image (whole motifs). The style cost adds the layers up with weights
# $\lambda^{[l]}$:
#
# $$J_{style}(S, G) = \sum_{l} \lambda^{[l]} \, J^{[l]}_{style}(S, G)$$
#
# The course uses the assignment's `nst.STYLE_LAYERS`: `conv1_1`, `conv2_1`, `conv3_1`, `conv4_1` and
# `conv5_1`, with $\lambda^{[l]} = 0.2$ each.
#
# ### Exercise: write the weighted sum
#
# `a_S` and `a_G` are dicts `{layer name: activation}`, `style_layers` a list of `(layer name, lambda)`
# pairs such as `nst.STYLE_LAYERS`. Start at 0, loop over the pairs and add up
# $\lambda^{[l]} J^{[l]}_{style}$, calling your `compute_layer_style_cost` (pass its check first: until
# then this check says so). Keep the default `style_layers=nst.STYLE_LAYERS`: notebook 05 calls
# `compute_style_cost(a_S, a_G)` without it.
#
# **Expected output** of the check (its first case, with `style_layers=STYLE_LAYERS`):
#
# ```
# PASSED: compute_style_cost = 22.32585 (expected 22.32585), 3 test cases and inside tf.function
# ```

# %%
def compute_style_cost(a_S, a_G, style_layers=nst.STYLE_LAYERS):
    """The style cost over several layers.

    a_S, a_G: dicts {layer name: activation of shape (1, n_H, n_W, n_C)};
    style_layers: a list of (layer name, lambda) pairs, e.g. nst.STYLE_LAYERS.
    Returns J_style, a scalar tensor.
    """
    ### BEGIN SOLUTION
    J_style = 0.0
    for layer_name, coeff in style_layers:
        J_style += coeff * compute_layer_style_cost(a_S[layer_name], a_G[layer_name])
    ### END SOLUTION
    ### BEGIN STUB
    # J_style = None  # ≈ 3 lines: start at 0.0; for each (layer_name, coeff), add coeff * compute_layer_style_cost(...)
    ### END STUB
    return J_style


# %%
passed = course.check_style_cost(compute_style_cost)
style_cost = course.keep(compute_style_cost, passed)

# %% [markdown]
# How much does each layer add? Below, the style image $S$ against two images $G$: the photo of a cat,
# and the style image itself turned upside down (same strokes, other places). Each bar is one term
# $\lambda^{[l]} J^{[l]}_{style}(S, G)$, on a log scale.

# %%
candidates = {"photo of a cat": photo, "style upside down": style[::-1]}
terms = {}
for label, image in candidates.items():
    a_G = model(nst.preprocess(image, model.mean), style_names)
    terms[label] = [w * float(layer_style_cost(a_S[n], a_G[n])) for n, w in nst.STYLE_LAYERS]
    total = float(style_cost(a_S, a_G, nst.STYLE_LAYERS))
    print(f"J_style(S, {label}) = {total:.4g}   (sum of the terms: {sum(terms[label]):.4g})")

fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
x = np.arange(len(style_names))
for k, (label, values) in enumerate(terms.items()):
    ax.bar(x + (k - 0.5) * 0.38, values, width=0.38, label=f"G = {label}")
ax.set_xticks(x, style_names)
ax.set_yscale("log")
ax.set_xlabel("style layer l")
ax.set_ylabel("lambda^[l] J_style^[l](S, G)  (log scale)")
ax.set_title(f"Each layer's share of the style cost, S = {STYLE_PATH.name}")
ax.legend()
plt.show()

# %% [markdown]
# What to look for: at every layer the photo's bar should be far above the flipped style image's (its colours
# and textures are not the style image's, while the flipped style image has the same strokes in other places).
# And the layers are very unequal although every $\lambda^{[l]}$ is 0.2: as the table in section 1
# showed, the terms follow the size of the activations, so the layers with the largest activations
# (here the shallow ones) dominate the sum and the deepest add almost nothing. Equal $\lambda^{[l]}$ do
# not mean equal influence; changing the $\lambda^{[l]}$ is one of the knobs of the lab (notebook 06).
#
# > **What you should remember**
# >
# > - $J_{style} = \sum_l \lambda^{[l]} J^{[l]}_{style}$: a weighted sum of the layers' costs, from
# >   `conv1_1` (colours, fine edges) to `conv5_1` (large motifs).
# > - The weights $\lambda^{[l]}$ multiply terms of very different sizes: equal weights give the layers
# >   with the largest activations most of the say.
#
# ## 3. The style cost ignores where things are
#
# Shuffle the **positions** of an activation: move each of the $n_H n_W$ columns of $A$ somewhere else,
# keeping each position's $n_C$ channel values together. That is $A' = A P$ with a permutation matrix
# $P$, and $G' = A P P^T A^T = A A^T = G$. Below, the activation of the style image at `conv3_1`,
# shuffled: one channel before and after, and the two Gram matrices.

# %%
layer = "conv3_1"
a = a_S[layer]
_, n_H, n_W, n_C = a.shape
rng = np.random.default_rng(0)
positions = rng.permutation(n_H * n_W)
a_shuffled = tf.reshape(tf.gather(tf.reshape(a, (n_H * n_W, n_C)), positions), a.shape)

G = nst.gram_matrix(nst.unroll(a)).numpy()
G_shuffled = nst.gram_matrix(nst.unroll(a_shuffled)).numpy()
busiest = np.argsort(np.diag(G))[::-1][:32]               # the 32 busiest channels, to have something to see
channel = int(busiest[0])
print(f"largest |G - G_shuffled| / largest |G| = {np.abs(G - G_shuffled).max() / np.abs(G).max():.1e}"
      "  (float32 round-off)")
print(f"J_style^[{layer}](a, a_shuffled)   = {float(layer_style_cost(a, a_shuffled)):.3g}")
print(f"J_content at {layer}(a, a_shuffled) = {float(nst.compute_content_cost(a, a_shuffled)):.3g}")

fig, axes = plt.subplots(1, 4, figsize=(16, 3.6), layout="constrained")
vmax = float(tf.reduce_max(a[..., channel]))
for ax, act, label in [(axes[0], a, "a"), (axes[1], a_shuffled, "a with shuffled positions")]:
    ax.imshow(act[0, :, :, channel], cmap="magma", vmin=0, vmax=vmax)
    ax.set_title(f"{label}: channel {channel} at {layer}")
    ax.set_xlabel("w"); ax.set_ylabel("h")
for ax, gram, label in [(axes[2], G, "G of a"), (axes[3], G_shuffled, "G of the shuffled a")]:
    im = ax.imshow(gram[np.ix_(busiest, busiest)], cmap="viridis", norm=PowerNorm(0.5, 0, G.max()))
    ax.set_title(f"{label}: the 32 busiest of {n_C} channels", fontsize=10)
    ax.set_xlabel("channel j (sorted by G_jj)"); ax.set_ylabel("channel i (sorted)")
fig.colorbar(im, ax=axes[2:], shrink=0.8)
fig.suptitle("Shuffling the positions changes every map and leaves the Gram matrix as it was")
plt.show()


# %% [markdown]
# The content cost between the two activations is large (every position now holds another value), the
# style cost is zero up to round-off.
#
# The same idea on the image itself: cut the style image into tiles and shuffle them. The network looks
# at pixels, not at activations, so the Gram matrices change a little at the tile borders (and at deep
# layers, which see across tiles), but compare with the cat photo: the content cost finds the shuffled
# style image about as far from $S$ as the cat, the style cost finds it thousands of times closer.

# %%
def shuffle_tiles(image, tiles=4, seed=0):
    # Cut an (H, W, 3) image into tiles x tiles pieces and put them back in a random order.
    h, w = image.shape[0] // tiles, image.shape[1] // tiles
    pieces = [image[i * h:(i + 1) * h, j * w:(j + 1) * w] for i in range(tiles) for j in range(tiles)]
    order = np.random.default_rng(seed).permutation(len(pieces))
    rows = [np.concatenate([pieces[k] for k in order[r * tiles:(r + 1) * tiles]], axis=1) for r in range(tiles)]
    return np.concatenate(rows, axis=0)


style_tiled = nst.resize_image(shuffle_tiles(style), style.shape[:2])
content_names = style_names + [nst.CONTENT_LAYER]
a_ref = model(nst.preprocess(style, model.mean), content_names)
images = {"style, tiles shuffled": style_tiled, "photo of a cat": photo}
J_style_of, J_content_of = {}, {}
for label, image in images.items():
    a_G = model(nst.preprocess(image, model.mean), content_names)
    J_style_of[label] = float(style_cost(a_ref, a_G, nst.STYLE_LAYERS))
    J_content_of[label] = float(nst.compute_content_cost(a_ref[nst.CONTENT_LAYER], a_G[nst.CONTENT_LAYER]))

fig, axes = plt.subplots(1, 5, figsize=(18, 3.2), layout="constrained", width_ratios=[1, 1, 1, 1.1, 1.1])
for ax, (label, image) in zip(axes, [("S, the style image", style), *images.items()]):
    ax.imshow(image.astype(np.uint8)); ax.set_title(label); ax.axis("off")
axes[3].barh(list(images), [J_style_of[k] for k in images], color="tab:purple")
axes[3].set_xscale("log"); axes[3].set_xlabel("J_style(S, G), log scale"); axes[3].set_title("style cost against S")
axes[4].barh(list(images), [J_content_of[k] for k in images], color="tab:blue")
axes[4].set_xlabel(f"J_content(S, G) at {nst.CONTENT_LAYER}"); axes[4].set_title("content cost against S")
for ax in axes[3:]:
    ax.invert_yaxis()
plt.show()
for label in images:
    print(f"{label:22s} J_style = {J_style_of[label]:10.4g}   J_content = {J_content_of[label]:8.4g}")

# %% [markdown]
# > **What you should remember**
# >
# > - The Gram matrix sums over the positions, so moving things around (shuffling positions, or tiles of
# >   the image) leaves the style cost (almost) unchanged while the content cost changes a lot.
# > - That is what makes $J_{style}$ a measure of *texture*: which features occur together, not where.
#
# ## 4. What the style cost alone paints: style reconstructions
#
# Now optimise the style cost **alone**, over a growing set of layers $\mathcal{L}_k$ =
# {`conv1_1`, ..., `convk_1`} with equal weights $\lambda^{[l]} = 1/k$:
#
# $$G^{*}_k = \arg\min_{G} \; \sum_{l \in \mathcal{L}_k} \frac{1}{k} \, J^{[l]}_{style}(S, G),
#   \qquad G_0 = \text{mid-grey} + \text{noise}$$
#
# This is texture synthesis (Gatys et al., Figure 1, bottom row). The start is pure noise around
# mid-grey (`course.grey_noise_image`), with no photo in it: whatever appears comes from the Gram matrices.
# `course.reconstruct_style(model, S, layers)` does it with L-BFGS, through `nst.run_style_transfer` with
# $\alpha = 0$, $\beta = 1$.
#
# This cell takes **about 1 to 2 minutes** at real settings (5 reconstructions of 100 L-BFGS iterations at
# 144 x 192 pixels; deeper sets cost more per iteration; about 45 s with VGG16 on an idle 2-core CPU).
# It prints each one as it finishes.
#
# **What you should see** (the figure two cells below, from the run it was made with):
#
# ![Style reconstructions from grey noise, conv1_1 to conv1_1 ... conv5_1](figures/03_style_reconstructions.jpg)
#
# *Rendered by docs/course/render.py at this notebook's real settings with VGG16 stand-in weights (the VGG19
# file cannot be downloaded where it was made); sizes and iterations: docs/course/README.md.*

# %%
recon_style = nst.load_image(STYLE_PATH, size=RECON_SIZE)
layer_sets = [style_names[:k] for k in range(1, len(style_names) + 1)]
reconstructions = []
for layers in course.progress(layer_sets, desc="layer sets"):
    result = course.reconstruct_style(model, recon_style, layers, iterations=RECON_ITERATIONS, seed=0)
    reconstructions.append(result)
    print(f"{layers[0]} ... {layers[-1]}: J_style {result.history[0]['J_style']:.3g} after 1 iteration, "
          f"{result.J_style:.3g} after {result.iterations} ({result.seconds:.0f} s)")

# %%
fig, axes = plt.subplots(1, len(layer_sets) + 1, figsize=(3.1 * (len(layer_sets) + 1), 2.9),
                         layout="constrained")
axes[0].imshow(recon_style.astype(np.uint8))
axes[0].set_title("style image S")
for ax, layers, result in zip(axes[1:], layer_sets, reconstructions):
    ax.imshow(result.image)
    ax.set_title(layers[0] if len(layers) == 1 else f"{layers[0]} ... {layers[-1]}")
for ax in axes:
    ax.axis("off")
fig.suptitle("Style reconstructions from grey noise: matching the Gram matrices of more and more layers")
plt.show()

# %% [markdown]
# What to look for: from `conv1_1` alone, the style image's colours as blotches and specks (that layer sees
# $3 \times 3$ pixels). Adding `conv2_1` turns them into short curved strokes. Adding `conv3_1`, `conv4_1`
# and `conv5_1` then changes little, if anything you can see (with the VGG16 stand-in weights the last
# four pictures are almost the same): with equal $\lambda^{[l]}$ the deep layers' terms are orders of
# magnitude smaller than the shallow ones' (section 1), so the shallow layers drive the result, and the
# style image's big swirls do not come back. To give the deep layers a say, raise their $\lambda^{[l]}$
# (question 2 below). And the *layout* never comes back: a yellow dot may appear anywhere. That is what
# we want from a style.
#
# > **What you should remember**
# >
# > - Optimising the style cost alone from noise paints a texture with the style's colours and strokes,
# >   and none of its layout (texture synthesis).
# > - Which layers take part, and with which weights, decides the scale of what comes back; with equal
# >   weights the layers with the largest costs dominate.
#
# ## Summary
#
# - $J^{[l]}_{style}(S, G) = \frac{1}{4 n_C^2 (n_H n_W)^2} \sum_{i,j} (G^{(S)}_{ij} - G^{(G)}_{ij})^2$
#   compares the Gram matrices of one layer: `nst.compute_layer_style_cost(a_S, a_G)`.
# - The normalisation removes the growth with the number of positions and channels, not the size of the
#   activations: the layers' costs differ by orders of magnitude, so the per-layer weights (and $\beta$ in
#   notebook 04) matter.
# - $J_{style} = \sum_l \lambda^{[l]} J^{[l]}_{style}$ over `conv1_1 ... conv5_1` (0.2 each):
#   `nst.compute_style_cost(a_S, a_G, nst.STYLE_LAYERS)`.
# - Shuffling positions leaves the Gram matrices, and so the style cost, unchanged.
# - Optimised alone from grey noise, the style cost paints textures (`course.reconstruct_style`):
#   `conv1_1` gives colours, `conv2_1` strokes; with equal weights the deeper layers add little.
#
# ## Questions and things to try
#
# 1. Reconstruct from `conv5_1` **alone** (`layers=["conv5_1"]`). What is missing, and why?
# 2. Give the deep layers a say: weigh each layer by the inverse of its cost in the table of section 1
#    (e.g. `[("conv1_1", 1e-6), ("conv3_1", 1e-3), ("conv5_1", 1.0)]`). Do larger motifs come back?
# 3. Try `course.reconstruct_style(..., optimizer="adam")` with the same number of iterations. Which is sharper?
# 4. Paint a reconstruction twice as large as the style image (`size=(2 * H, 2 * W)` in
#    `course.reconstruct_style`). Are the swirls twice as large too, or the same size in pixels? (Hint: the
#    receptive fields are fixed in pixels.)
# 5. Reconstruct the style of the other images in `images/` (`style_mosaic.jpg`, `style_waves.jpg`,
#    `style_cubist.jpg`), or of a photo.
