# %% [markdown]
# # 02 · The Gram matrix: style without layout
#
# A style is in *which* textures and colours appear together, not in *where* they are. The Gram matrix of
# a layer's activation keeps exactly that: how strongly each pair of channels fires at the same positions,
# summed over all positions, so that the positions themselves are forgotten.
#
# ## What you will learn
#
# 1. How an activation of shape $(n_H, n_W, n_C)$ is **unrolled** into a matrix $A$ of shape
#    $(n_C, n_H n_W)$, and what its Gram matrix $A A^T$ measures.
# 2. To write `gram_matrix` yourself and check it against the library.
# 3. Why the same feature maps turned upside down have the same Gram matrix while their content cost is
#    large: style without layout.
# 4. What the Gram matrices of a photo and of a style image look like at a shallow and a deeper layer.
#
# Everything runs in well under a minute on a laptop CPU.
#
# > **A warning about notation.** In style transfer $G$ is the **generated image**, and the literature
# > (the assignment too) also writes $G$ for the **Gram matrix**. This notebook writes the Gram matrix
# > $G_{gram}$: $G_{gram}^{[l]}(S)$ is the Gram matrix of the style image $S$ at layer $l$,
# > $G_{gram}^{[l]}(G)$ that of the generated image $G$; a plain $G$ is always the image. In code the
# > Gram matrix of `A` is `G_gram` (the library's `gram_matrix` docstring calls it `G_A`).

# %% [markdown]
# ## Setup

# %%
import sys
from pathlib import Path

ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "nst_utils.py").is_file())  # the repository
sys.path.insert(0, str(ROOT))
import nst_utils as nst  # first: it quietens TensorFlow's start-up messages
from nst_tools import course, fast

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from matplotlib.colors import PowerNorm
from matplotlib.patches import Rectangle

SMOKE = course.smoke_mode()                                  # NST_SMOKE=1: tiny images for the tests
SIZE = (32, 48) if SMOKE else (200, 300)                  # (H, W) of the real images in section 5
styles = sorted((ROOT / "images").glob("style_*.jpg"))
STYLE_PATH = next((p for p in styles if "swirls" in p.name), styles[0] if styles else ROOT / "images" / "coffee.jpg")

model = nst.load_vgg_model(nst.resolve_weights_path())
print(model, "| style image:", STYLE_PATH.name, "| smoke mode:", SMOKE)

# %% [markdown]
# ## 1. Unrolling an activation, and its Gram matrix
#
# An activation $a$ of one image at one layer has shape $(1, n_H, n_W, n_C)$: $n_C$ feature maps of
# $n_H \times n_W$ positions. **Unroll** it: one row per channel, one column per position, a matrix $A$ of
# shape $(n_C, n_H n_W)$. In the library, `nst.unroll(a)` does it:
# `tf.transpose(tf.reshape(a, (n_H * n_W, n_C)))`. The Gram matrix is
#
# $$G_{gram} = A A^T, \qquad (G_{gram})_{ij} = \sum_{k=1}^{n_H n_W} A_{ik} A_{jk} \qquad (n_C \times n_C)$$
#
# - the diagonal $(G_{gram})_{ii}$ is how much channel $i$ fires overall;
# - $(G_{gram})_{ij}$ is large when channels $i$ and $j$ fire **at the same positions**.
#
# A small volume, $n_H \times n_W \times n_C = 3 \times 4 \times 3$, with values 0, 1 or 2, drawn channel by
# channel (red, green, blue), then unrolled to $A$ ($3 \times 12$: column $k$ is the position
# $(h, w)$ with $k = h\,n_W + w$), then $A A^T$ ($3 \times 3$).

# %%
volume = np.random.default_rng(3).integers(0, 3, size=(1, 3, 4, 3)).astype(np.float32)  # (1, n_H, n_W, n_C)
A_small = nst.unroll(tf.constant(volume)).numpy()                                         # (n_C, n_H n_W)
gram_small = A_small @ A_small.T                                                          # (n_C, n_C)
_, vh, vw, vc = volume.shape
colours = np.array([[0.85, 0.2, 0.2], [0.2, 0.65, 0.2], [0.25, 0.4, 0.9]])             # channel 0, 1, 2


def cell(ax, x, y, value, colour, vmax=2):
    # One square of the drawing: coloured by channel, darker for a larger value, the value written in it.
    shade = 1 - (1 - colour) * (0.15 + 0.85 * value / vmax) if colour is not None else (0.92,) * 3
    # (a Gram matrix entry, colour None, is drawn grey)
    ax.add_patch(Rectangle((x, y), 1, 1, facecolor=shade, edgecolor="black", lw=0.8))
    ax.text(x + 0.5, y + 0.5, f"{value:.0f}", ha="center", va="center", fontsize=8)


fig, ax = plt.subplots(figsize=(16, 3.6))
for c in range(vc):                                # the volume, one n_H x n_W map per channel
    xc = c * (vw + 0.8)
    for h in range(vh):
        for w in range(vw):
            cell(ax, xc + w, vh - 1 - h, volume[0, h, w, c], colours[c])
    ax.text(xc + vw / 2, vh + 0.3, f"channel {c}", ha="center", fontsize=9, color=colours[c])
ax.text(1.5 * vw + 0.8, -0.9, f"a: n_H x n_W x n_C = {vh} x {vw} x {vc}", ha="center", fontsize=9)
x0 = vc * (vw + 0.8) + 3.2                         # the unrolled matrix A, one row per channel
ax.annotate("", (x0 - 1.2, 1.5), (x0 - 3.2, 1.5), arrowprops={"arrowstyle": "->", "lw": 1.5})
ax.text(x0 - 2.2, 1.8, "unroll", ha="center", fontsize=9)
for c in range(vc):
    for k in range(vh * vw):
        cell(ax, x0 + k, vc - 1 - c, A_small[c, k], colours[c])
    ax.text(x0 - 0.15, vc - 1 - c + 0.5, f"c={c}", ha="right", va="center", fontsize=8, color=colours[c])
for k in range(vh * vw):
    ax.text(x0 + k + 0.5, vc + 0.15, f"{k // vw},{k % vw}", ha="center", fontsize=7, rotation=90)
ax.text(x0 + vh * vw / 2, vc + 1.0, "positions (h, w)", ha="center", fontsize=8)
ax.text(x0 + vh * vw / 2, -0.9, f"A: n_C x (n_H n_W) = {vc} x {vh * vw}", ha="center", fontsize=9)
x1 = x0 + vh * vw + 2.8                            # the Gram matrix A A^T
ax.annotate("", (x1 - 0.3, 1.5), (x1 - 2.3, 1.5), arrowprops={"arrowstyle": "->", "lw": 1.5})
ax.text(x1 - 1.3, 1.8, "A A$^T$", ha="center", fontsize=9)
for i in range(vc):
    for j in range(vc):
        cell(ax, x1 + j, vc - 1 - i, gram_small[i, j], None)
ax.text(x1 + vc / 2, -0.9, f"G_gram = A A$^T$: {vc} x {vc}", ha="center", fontsize=9)
ax.set_xlim(-0.5, x1 + vc + 0.5); ax.set_ylim(-1.3, vc + 1.5); ax.set_aspect("equal"); ax.axis("off")
plt.show()
print("A =\n", A_small.astype(int))
print("G_gram = A A^T =\n", gram_small.astype(int))

# %% [markdown]
# Each entry of $G_{gram}$ multiplies two rows of $A$ position by position and adds up: $(G_{gram})_{01}$
# is the sum over the 12 positions of (red value) x (green value). The 12 positions have become a sum, so
# in which order they came, *where* each value was, no longer matters.
#
# > **What you should remember**
# >
# > - Unrolling turns the activation $(1, n_H, n_W, n_C)$ into $A$ of shape $(n_C, n_H n_W)$: one row per
# >   channel, one column per position.
# > - The Gram matrix $G_{gram} = A A^T$ is $n_C \times n_C$, whatever the image size: for each pair of
# >   channels, how much they fire together, summed over all positions.
# > - $G_{gram}$ is not $G$: the Gram matrix of the generated image $G$ at layer $l$ is $G_{gram}^{[l]}(G)$.
#
# ## 2. Exercise: write `gram_matrix`
#
# Write `gram_matrix(A)` for an unrolled activation `A` of shape $(n_C, n_H n_W)$, following
# $G_{gram} = A A^T$: `tf.matmul` and `tf.transpose` (or `tf.matmul`'s `transpose_b=True`). Replace the
# `None` by your code, run the cell, then the check below it, which compares your function with the
# library's on random matrices of three shapes (and inside `tf.function`). As in notebook 01, `course.keep`
# then saves your function once it passes and hands the cells below `gram_fn`: yours once it passed, the
# library's until then.
#
# **Expected output** of the check (its first case, `A = course.case_inputs("gram_matrix")[0]`, of shape
# (3, 2)):
#
# ```
# PASSED: gram_matrix = shape (3, 3), first row [24.0494, -12.5261, 22.9497] (expected shape (3, 3), first row [24.0494, -12.5261, 22.9497]), 3 test cases and inside tf.function
# ```

# %%
def gram_matrix(A):
    """The Gram matrix of A, shape (n_C, n_H * n_W): returns G_gram = A A^T, of shape (n_C, n_C)."""
    ### BEGIN SOLUTION
    G_gram = tf.matmul(A, tf.transpose(A))
    ### END SOLUTION
    ### BEGIN STUB
    # G_gram = None  # ≈ 1 line: A times its transpose
    ### END STUB
    return G_gram


# %%
passed = course.check_gram_matrix(gram_matrix)
gram_fn = course.keep(gram_matrix, passed)

# %% [markdown]
# What `FAILED` looks like, with a deliberate mistake, and a classic one: $A^T A$. It sums over the
# channels instead of the positions and has the wrong shape, $(n_H n_W, n_H n_W)$. The check catches it:

# %%
passed_transposed = course.check_gram_matrix(lambda A: tf.matmul(tf.transpose(A), A))  # a deliberate mistake

# %% [markdown]
# > **What you should remember**
# >
# > - `gram_matrix(A)` multiplies $A$ by its own transpose, $A A^T$: a sum over the positions. $A^T A$ is
# >   the classic slip, a sum over the channels; its shape, $(n_H n_W, n_H n_W)$, gives it away.
#
# ## 3. Reading a Gram matrix
#
# A toy example you can read by eye: three $10 \times 10$ feature maps of a landscape, a "sky" channel
# (the top rows), a "sun" channel (a blob inside the sky, value 2) and a "grass" channel (the bottom rows).
# From here on `gram_fn` is your `gram_matrix` if it passed, else the library's.

# %%
n_H = n_W = 10
sky = np.zeros((n_H, n_W)); sky[:4] = 1.0
sun = np.zeros((n_H, n_W)); sun[1:3, 1:3] = 2.0
grass = np.zeros((n_H, n_W)); grass[7:] = 1.0
channels = ["sky", "sun", "grass"]
a_landscape = tf.constant(np.stack([sky, sun, grass], axis=-1)[None], tf.float32)   # (1, n_H, n_W, n_C)
G_gram = gram_fn(nst.unroll(a_landscape))

fig, axes = plt.subplots(1, 4, figsize=(13, 3), layout="constrained")
for c, name in enumerate(channels):
    axes[c].imshow(a_landscape[0, :, :, c], cmap="gray", vmin=0, vmax=2)
    axes[c].set_title(f"channel {c} ({name})"); axes[c].set_xlabel("w"); axes[c].set_ylabel("h")
axes[3].imshow(G_gram.numpy(), cmap="viridis")
for i in range(3):
    for j in range(3):
        axes[3].text(j, i, f"{G_gram[i, j]:.0f}", ha="center", va="center", color="white")
axes[3].set_xticks(range(3), channels); axes[3].set_yticks(range(3), channels)
axes[3].set_title("G_gram = A A^T")
plt.show()

# %% [markdown]
# Sky fires on 40 positions ($(G_{gram})_{00} = 40$), the sun on 4 positions with value 2
# ($(G_{gram})_{11} = 4 \times 2^2 = 16$), and the sun always sits inside the sky
# ($(G_{gram})_{01} = 4 \times 1 \times 2 = 8$), while sky and grass never meet ($(G_{gram})_{02} = 0$).
#
# > **What you should remember**
# >
# > - Diagonal: how much each channel fires. Off the diagonal: how much two channels fire *together*.
# >   A zero means two features never occur at the same place.
#
# ## 4. The same features in other places: a dog upside down
#
# The intuition of the course's README, computed: three feature maps, two silent (all zero) and one that
# fires on the silhouette of a dog; then the same three maps turned upside down. Each channel's values are
# the same, only their places changed.
#
# Notebook 03 turns the difference between two Gram matrices into the **style cost**; the library already
# has it, `nst.compute_layer_style_cost(a_S, a_G)` (a scaled sum of $(G_{gram}(S) - G_{gram}(G))^2$), so
# here we peek ahead and print it next to the content cost of notebook 01, `nst.compute_content_cost`.

# %%
DOG = """
................
................
..#.............
.##.............
.####...........
######.......#..
..####.......#..
...###########..
...###########..
...###########..
...##.##...##.#.
...#..#....#..#.
...#..#....#..#.
..##.##...##.##.
................
................
"""
dog = np.array([[ch == "#" for ch in line] for line in DOG.split()], np.float32)          # 16 x 16, 0 or 1
silent = np.zeros_like(dog)
a_dog = tf.constant(np.stack([silent, dog, silent], axis=-1)[None])                        # (1, 16, 16, 3)
a_upside_down = a_dog[:, ::-1, :, :]                                                        # rows reversed

G_dog = gram_fn(nst.unroll(a_dog))
G_upside_down = gram_fn(nst.unroll(a_upside_down))
J_style_dog = float(nst.compute_layer_style_cost(a_dog, a_upside_down))
J_content_dog = float(nst.compute_content_cost(a_dog, a_upside_down))
J_content_erased = float(nst.compute_content_cost(a_dog, tf.zeros_like(a_dog)))
print("G_gram(dog) =\n", G_dog.numpy().astype(int))
print("the same Gram matrix upside down:", np.array_equal(G_dog.numpy(), G_upside_down.numpy()))
print(f"style cost   J_style(dog, upside down)   = {J_style_dog:.4g}")
print(f"content cost J_content(dog, upside down) = {J_content_dog:.4g}   "
      f"({J_content_dog / J_content_erased:.2f} times the cost of erasing the dog, J_content(dog, 0) = "
      f"{J_content_erased:.4g})")

fig, axes = plt.subplots(2, 4, figsize=(12, 6), layout="constrained")
for row, (label, act, gram) in enumerate([("dog", a_dog, G_dog), ("upside down", a_upside_down, G_upside_down)]):
    for c in range(3):
        axes[row, c].imshow(act[0, :, :, c], cmap="gray", vmin=0, vmax=1)
        axes[row, c].set_title(f"{label}: channel {c}" + (" (silent)" if c != 1 else ""), fontsize=10)
        axes[row, c].set_xticks([]); axes[row, c].set_yticks([])
    axes[row, 3].imshow(gram.numpy(), cmap="viridis")
    for i in range(3):
        for j in range(3):
            axes[row, 3].text(j, i, f"{gram[i, j]:.0f}", ha="center", va="center", color="white")
    axes[row, 3].set_xticks(range(3)); axes[row, 3].set_yticks(range(3))
    axes[row, 3].set_title(f"G_gram of '{label}'", fontsize=10)
fig.suptitle(f"Same Gram matrix, style cost {J_style_dog:.3g}; content cost {J_content_dog:.3g}")
plt.show()

# %% [markdown]
# The Gram matrix has one non-zero entry, $(G_{gram})_{11}$, the number of dog pixels, in both rows: the
# style cost is exactly 0. The content cost is about as large as erasing the dog altogether: the upside-down
# dog covers only about half of the dog's pixels.
#
# Why the Gram matrices are equal, in symbols: turning the maps upside down reorders the positions, that
# is the columns of $A$: $A' = A P$ with a permutation matrix $P$ ($P P^T = I$), so
#
# $$G_{gram}' = A' A'^T = A P P^T A^T = A A^T = G_{gram}.$$
#
# Any reordering of the positions, a flip, a mirror, a shuffle of tiles, gives the same Gram matrix.
#
# > **What you should remember**
# >
# > - Style is *which features occur together*: the Gram matrix. Content is *where they are*: the
# >   activation itself. Moving features around leaves the first unchanged and changes the second.
# > - That is why notebook 03 builds the style cost on Gram matrices (a texture may be anywhere) while the
# >   content cost compares activations (the layout matters).
#
# %% [markdown]
# ## 5. Gram matrices of real images
#
# Now the Gram matrices of a photo and of a style image at `conv1_1` (64 channels: colours and edges) and
# `conv3_1` (256 channels: small textures). The style images in `images/` are not paintings: they are
# pattern images generated by code (`images/make_styles.py`), so that the course ships only free images;
# `style_swirls.jpg` is swirls of strong colours. The library also computes a Gram matrix straight from an
# activation, `fast.gram(a)` (the optimiser's), equal to `gram_matrix(nst.unroll(a))`. We divide by the number of
# positions $n_H n_W$, so each entry is an average over the image. To make the pictures readable, the
# channels are sorted by how much **the photo** uses them (its diagonal, largest first), the same order
# for both images, and each layer shares one colour scale (square-root scale, clipped at the 99.5th
# percentile). (`gram_fn` is your `gram_matrix` if it passed.)

# %%
photo = nst.load_image(ROOT / "images" / "chelsea.jpg", size=SIZE)
style_image = nst.load_image(STYLE_PATH, size=SIZE)
gram_layers = ["conv1_1", "conv3_1"]
acts = {label: model(nst.preprocess(img, model.mean), gram_layers)
        for label, img in [("photo", photo), ("style image", style_image)]}
grams = {(label, layer): (gram_fn(nst.unroll(a[layer])) / (a[layer].shape[1] * a[layer].shape[2])).numpy()
         for label, a in acts.items() for layer in gram_layers}
assert np.allclose(fast.gram(acts["photo"]["conv1_1"]),
                   gram_fn(nst.unroll(acts["photo"]["conv1_1"])), rtol=1e-4)

fig, axes = plt.subplots(len(gram_layers) + 1, 2, figsize=(10, 12), layout="constrained",
                         height_ratios=[0.6] + [1] * len(gram_layers))
for col, (label, img) in enumerate([("photo", photo), ("style image", style_image)]):
    axes[0, col].imshow(img.astype(np.uint8)); axes[0, col].set_title(label); axes[0, col].axis("off")
for row, layer in enumerate(gram_layers, start=1):
    order = np.argsort(np.diag(grams[("photo", layer)]))[::-1]        # the photo's busiest channels first
    vmax = np.percentile([grams[("photo", layer)], grams[("style image", layer)]], 99.5)
    for col, label in enumerate(["photo", "style image"]):
        im = axes[row, col].imshow(grams[(label, layer)][np.ix_(order, order)], cmap="magma",
                                   norm=PowerNorm(0.5, 0, vmax))
        axes[row, col].set_title(f"{label}: G_gram / (n_H n_W) at {layer}", fontsize=10)
        axes[row, col].set_xlabel("channel j (sorted by the photo's diagonal)")
        axes[row, col].set_ylabel("channel i (sorted)")
    fig.colorbar(im, ax=axes[row, :], shrink=0.8, extend="max", label="mean of a_i a_j over positions")
plt.show()


def gram_difference(a_1, a_2):
    """How far apart two Gram matrices are: ||G_gram(1) - G_gram(2)|| / ||G_gram(1)|| (Frobenius norms)."""
    G_1, G_2 = gram_fn(nst.unroll(a_1)), gram_fn(nst.unroll(a_2))
    return float(tf.norm(G_1 - G_2) / tf.norm(G_1))


for layer in gram_layers:
    print(f"{layer}: ||G_gram(style image) - G_gram(photo)|| / ||G_gram(photo)|| = "
          f"{gram_difference(acts['photo'][layer], acts['style image'][layer]):.3g}")

# %% [markdown]
# Sorted this way, the photo's matrices are brightest in the top-left corner (its busiest channels, and
# how they go together) and fade towards the bottom right. The style image's are brighter overall (its
# hard contrasts make the filters fire harder) and bright in other places: look for bright rows and
# columns far down the order, channels the photo hardly uses that the style image's blue and yellow
# strokes use a lot. The printed differences sum this up: the two Gram matrices differ by several times
# the size of the photo's. These differences, entry by entry, are what notebook 03 turns into the style
# cost.
#
# Finally, the dog's lesson on the real photo: turn it upside down. VGG's filters are not symmetric, so
# the Gram matrices are no longer exactly equal. Compare, against the photo, the photo upside down,
# another photo and the style image: the content cost at `conv4_2` (notebook 01), and the relative
# difference of the Gram matrices above, averaged over the five layers that notebook 03 uses for the style
# (`conv1_1` ... `conv5_1`).

# %%
style_layers = [name for name, _ in nst.STYLE_LAYERS]
layers = style_layers + [nst.CONTENT_LAYER]
others = {"photo upside down": photo[::-1],
          "another photo": nst.load_image(ROOT / "images" / "coffee.jpg", size=SIZE),
          "the style image": style_image}
a_C = model(nst.preprocess(photo, model.mean), layers)
J_content, gram_diff = [], []
for image in others.values():
    a_G = model(nst.preprocess(image, model.mean), layers)
    J_content.append(float(nst.compute_content_cost(a_C[nst.CONTENT_LAYER], a_G[nst.CONTENT_LAYER])))
    gram_diff.append(np.mean([gram_difference(a_C[n], a_G[n]) for n in style_layers]))

fig, axes = plt.subplots(1, 2, figsize=(12, 2.8), layout="constrained")
axes[0].barh(list(others), J_content, color="tab:blue")
axes[0].set_title(f"content cost at {nst.CONTENT_LAYER}"); axes[0].set_xlabel("J_content(photo, G)")
axes[1].barh(list(others), gram_diff, color="tab:purple")
axes[1].set_title("Gram matrices, conv1_1 ... conv5_1")
axes[1].set_xlabel("mean of ||G_gram(G) - G_gram(photo)|| / ||G_gram(photo)||")
for ax in axes:
    ax.invert_yaxis()
plt.show()
for label, jc, d in zip(others, J_content, gram_diff):
    print(f"{label:18s} J_content = {jc:10.4g}   Gram difference = {d:6.3f}")

# %% [markdown]
# Upside down, the photo's content cost is still a third to a half of that of a different picture, yet
# its Gram matrices differ from the photo's some 30 times less than those of another photo or of the style
# image (0.12 against 3.5 and 3.3 with the VGG16 stand-in weights these notes were checked with): the same
# fur, the same colours, in other places.
#
# > **What you should remember**
# >
# > - On real images too, the Gram matrices tell a photo from a style image, and barely change when the
# >   photo is turned upside down, while the content cost changes a lot.
#
# ## Summary
#
# - Unroll an activation to $A$ of shape $(n_C, n_H n_W)$; its Gram matrix $G_{gram} = A A^T$
#   ($n_C \times n_C$) holds, for each pair of channels, how much they fire together, summed over all
#   positions. Do not confuse it with $G$, the generated image.
# - Reordering the positions (a flip, a shuffle) leaves $G_{gram}$ unchanged: it keeps *which* features
#   occur together and forgets *where*. The content cost does the opposite.
# - In the library: `nst.unroll(a)`, `nst.gram_matrix(A)`; the optimiser's `fast.gram(a)`. Notebook 03 builds the
#   style cost from $G_{gram}^{[l]}(S)$ and $G_{gram}^{[l]}(G)$.
#
# ## Questions and things to try
#
# 1. In the landscape of section 3, move the sun into the grass. Which entries of $G_{gram}$ change, and to
#    what?
# 2. Shift the dog by 3 pixels instead of turning it upside down. What are the Gram matrix and the content
#    cost now? (Careful: `np.roll` wraps around; is that still a reordering of the positions?)
# 3. Shuffle the photo in 4 x 4 tiles and compare its Gram difference and content cost with those above.
# 4. Why do the Gram matrices at `conv3_1` have a much smaller scale than at `conv1_1`?
# 5. Compare the Gram matrices of two other style images in `images/`. Which channels tell them apart?
