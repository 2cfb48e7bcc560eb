# %% [markdown]
# # 02 · The Gram matrix: style without layout
#
# A painting's style is in *which* textures and colours appear together, not in *where* they are. The
# Gram matrix of a layer's activation keeps exactly that: how strongly each pair of channels fires at
# the same positions, summed over all positions, so that the positions themselves are forgotten.
#
# ## What you will learn
#
# 1. What a Gram matrix $G = A A^T$ measures, on a toy set of feature maps you can read by eye.
# 2. Why turning the maps upside down leaves the Gram matrix unchanged while the content cost is large.
# 3. To write `gram_matrix` yourself and check it against the library.
# 4. What the Gram matrices of a photo and of a painting look like at a shallow and a deeper layer.
#
# Everything runs in well under a minute on a laptop CPU.

# %% [markdown]
# ## Setup

# %%
import sys
from pathlib import Path

sys.path.insert(0, "..")
import nst_utils as nst  # first: it quietens TensorFlow's start-up messages
from nst_tools import course

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from matplotlib.colors import PowerNorm

SMOKE = course.smoke_mode()                                  # NST_SMOKE=1: tiny images for the tests
SIZE = (32, 48) if SMOKE else (200, 300)                  # (H, W) of the real images in section 3
styles = sorted(Path("../images").glob("style_*.jpg"))
STYLE_PATH = next((p for p in styles if "swirls" in p.name), styles[0] if styles else Path("../images/coffee.jpg"))

model = nst.load_vgg_model(nst.resolve_weights_path())
print(model, "| style image:", STYLE_PATH.name, "| smoke mode:", SMOKE)

# %% [markdown]
# ## 1. What a Gram matrix measures
#
# Take an activation $a$ of shape $(1, n_H, n_W, n_C)$ and **unroll** it: one row per channel, one column
# per position, $A$ of shape $(n_C, n_H n_W)$ (`nst.unroll(a)`). The Gram matrix is
#
# $$G = A A^T, \qquad G_{ij} = \sum_{k=1}^{n_H n_W} A_{ik} A_{jk} \qquad (n_C \times n_C)$$
#
# - the diagonal $G_{ii}$ is how much channel $i$ fires overall;
# - $G_{ij}$ is large when channels $i$ and $j$ fire **at the same positions**.
#
# A toy example: three $10 \times 10$ feature maps of a landscape, a "sky" channel (the top rows), a
# "sun" channel (a blob inside the sky) and a "grass" channel (the bottom rows). Then the same maps turned
# upside down.

# %%
n_H = n_W = 10
sky = np.zeros((n_H, n_W)); sky[:4] = 1.0
sun = np.zeros((n_H, n_W)); sun[1:3, 1:3] = 2.0
grass = np.zeros((n_H, n_W)); grass[7:] = 1.0
channels = ["sky", "sun", "grass"]
a = tf.constant(np.stack([sky, sun, grass], axis=-1)[None], tf.float32)   # (1, n_H, n_W, n_C)
a_flipped = a[:, ::-1, :, :]                                              # upside down

G = nst.gram_matrix(nst.unroll(a))
G_flipped = nst.gram_matrix(nst.unroll(a_flipped))
print("G =\n", G.numpy())
print("the same Gram matrix after the flip:", np.allclose(G, G_flipped))
print(f"content cost J_content(a, a_flipped) = {float(nst.compute_content_cost(a, a_flipped)):.4f}"
      f"   (twice the cost against empty maps, J_content(a, 0) = {float(nst.compute_content_cost(a, tf.zeros_like(a))):.4f})")
print(f"style cost   J_style(a, a_flipped)   = {float(nst.compute_layer_style_cost(a, a_flipped)):.4f}")


# %%
def scene(maps):
    # The three toy channels painted as a picture: sky blue, sun yellow, grass green.
    colours = np.array([[0.45, 0.65, 1.0], [1.0, 0.85, 0.0], [0.2, 0.7, 0.2]])
    picture = np.ones(maps.shape[:2] + (3,)) * 0.95
    for c in range(3):
        mask = maps[:, :, c] > 0
        picture[mask] = colours[c]
    return picture


fig, axes = plt.subplots(2, 5, figsize=(15, 5.6), layout="constrained")
for row, (label, act, gram) in enumerate([("a", a, G), ("a upside down", a_flipped, G_flipped)]):
    maps = act[0].numpy()
    axes[row, 0].imshow(scene(maps))
    axes[row, 0].set_title(f"{label}: the scene")
    for c, name in enumerate(channels):
        axes[row, c + 1].imshow(maps[:, :, c], cmap="gray", vmin=0, vmax=2)
        axes[row, c + 1].set_title(f"{label}: channel {c} ({name})")
        axes[row, c + 1].set_xlabel("w"); axes[row, c + 1].set_ylabel("h")
    axes[row, 0].axis("off")
    im = axes[row, 4].imshow(gram.numpy(), cmap="viridis")
    for i in range(3):
        for j in range(3):
            axes[row, 4].text(j, i, f"{gram[i, j]:.0f}", ha="center", va="center", color="white")
    axes[row, 4].set_xticks(range(3), channels); axes[row, 4].set_yticks(range(3), channels)
    axes[row, 4].set_title(f"Gram matrix of {label}")
    fig.colorbar(im, ax=axes[row, 4], shrink=0.8)
fig.suptitle("Same channels, same co-occurrences, other places: equal Gram matrices, large content cost")
plt.show()


# %% [markdown]
# Read the Gram matrix: sky fires on 40 positions ($G_{00} = 40$), the sun on 4 positions with value 2
# ($G_{11} = 16$), and the sun always sits inside the sky ($G_{01} = 8$), while sky and grass never meet
# ($G_{02} = 0$). Turning the picture upside down moves every value to another position but keeps each
# position's channels together. In symbols: the flip reorders the columns of $A$, $A' = A P$ with a
# permutation matrix $P$ ($P P^T = I$), so
#
# $$G' = A' A'^T = A P P^T A^T = A A^T = G.$$
#
# Any reordering of the positions, a flip, a shuffle of tiles, gives the same Gram matrix. That is why
# the style cost compares Gram matrices (a texture can be anywhere) and the content cost compares the
# activations themselves (the layout matters).
#
# ## 2. Exercise: write the Gram matrix
#
# Write `gram_matrix(A)` for an unrolled activation `A` of shape $(n_C, n_H n_W)$, following
# $G_A = A A^T$ (`tf.matmul` and `tf.transpose`). The cell comes filled in with one answer so that the
# notebook runs from top to bottom: replace the line between the markers with your own and run the check,
# which compares your function with the library's on random matrices of three shapes.

# %%
# EXERCISE: your Gram matrix. Input A of shape (n_C, n_H * n_W); returns G_A of shape (n_C, n_C).
def my_gram_matrix(A):
    ### START CODE HERE ###
    GA = tf.matmul(A, tf.transpose(A))
    ### END CODE HERE ###
    return GA


# %%
passed = course.check_gram_matrix(my_gram_matrix)

# %% [markdown]
# A classic slip is $A^T A$: it sums over the channels instead of the positions and has the wrong shape,
# $(n_H n_W, n_H n_W)$. The check catches it:

# %%
passed_transposed = course.check_gram_matrix(lambda A: tf.matmul(tf.transpose(A), A))

# %% [markdown]
# ## 3. Gram matrices of real images
#
# Now the Gram matrices of a photo and of a painting at `conv1_1` (64 channels: colours and edges) and
# `conv3_1` (256 channels: small textures). The library computes them straight from an activation with
# `nst.activation_gram(a)`, which equals `gram_matrix(unroll(a))`. We divide by the number of positions
# $n_H n_W$, so each entry is an average over the image. To make the pictures readable, the channels are
# sorted by how much **the photo** uses them ($G_{ii}$ of the photo, largest first), the same order for
# both images, and each layer shares one colour scale (square-root scale, clipped at the 99.5th percentile).

# %%
photo = nst.load_image("../images/chelsea.jpg", size=SIZE)
painting = nst.load_image(STYLE_PATH, size=SIZE)
gram_layers = ["conv1_1", "conv3_1"]
acts = {label: model(nst.preprocess(img, model.mean), gram_layers)
        for label, img in [("photo", photo), ("painting", painting)]}
grams = {(label, layer): (nst.activation_gram(a[layer]) / (a[layer].shape[1] * a[layer].shape[2])).numpy()
         for label, a in acts.items() for layer in gram_layers}
assert np.allclose(nst.activation_gram(acts["photo"]["conv1_1"]),
                   nst.gram_matrix(nst.unroll(acts["photo"]["conv1_1"])), rtol=1e-4)

fig, axes = plt.subplots(len(gram_layers) + 1, 2, figsize=(10, 12), layout="constrained",
                         height_ratios=[0.6] + [1] * len(gram_layers))
for col, (label, img) in enumerate([("photo", photo), ("painting", painting)]):
    axes[0, col].imshow(img.astype(np.uint8)); axes[0, col].set_title(label); axes[0, col].axis("off")
for row, layer in enumerate(gram_layers, start=1):
    order = np.argsort(np.diag(grams[("photo", layer)]))[::-1]        # the photo's busiest channels first
    vmax = np.percentile([grams[("photo", layer)], grams[("painting", layer)]], 99.5)
    for col, label in enumerate(["photo", "painting"]):
        im = axes[row, col].imshow(grams[(label, layer)][np.ix_(order, order)], cmap="magma",
                                   norm=PowerNorm(0.5, 0, vmax))
        axes[row, col].set_title(f"{label}: G / (n_H n_W) at {layer}", fontsize=10)
        axes[row, col].set_xlabel("channel j (sorted by the photo's G_jj)")
        axes[row, col].set_ylabel("channel i (sorted)")
    fig.colorbar(im, ax=axes[row, :], shrink=0.8, extend="max", label="mean of a_i a_j over positions")
plt.show()
for layer in gram_layers:
    J = float(nst.compute_layer_style_cost(acts["photo"][layer], acts["painting"][layer]))
    print(f"J_style^[{layer}](photo, painting) = {J:.4g}")

# %% [markdown]
# Sorted this way, the photo's matrices are brightest in the top-left corner (its busiest channels, and
# how they go together) and fade towards the bottom right. The painting's are brighter overall (its hard
# contrasts make the filters fire harder) and bright in other places:
# its blue and yellow strokes use channels the photo hardly uses, and channels the photo uses together
# are not together in the painting. These differences, entry by entry, are what the style cost adds up.
#
# Finally, the toy example's lesson on the real photo: turn it upside down. VGG's filters are not
# symmetric, so the Gram matrices are no longer exactly equal, but compare the costs with those of another
# photo and of the painting (the style cost over all five style layers, `nst.compute_style_cost`, and the
# content cost at `conv4_2`):

# %%
layers = [name for name, _ in nst.STYLE_LAYERS] + [nst.CONTENT_LAYER]
others = {"photo upside down": photo[::-1],
          "another photo": nst.load_image("../images/coffee.jpg", size=SIZE),
          "the painting": painting}
a_C = model(nst.preprocess(photo, model.mean), layers)
J_content, J_style = [], []
for image in others.values():
    a_G = model(nst.preprocess(image, model.mean), layers)
    J_content.append(float(nst.compute_content_cost(a_C[nst.CONTENT_LAYER], a_G[nst.CONTENT_LAYER])))
    J_style.append(float(nst.compute_style_cost(a_C, a_G)))

fig, axes = plt.subplots(1, 2, figsize=(12, 2.8), layout="constrained")
axes[0].barh(list(others), J_content, color="tab:blue")
axes[0].set_title(f"content cost at {nst.CONTENT_LAYER}"); axes[0].set_xlabel("J_content(photo, G)")
axes[1].barh(list(others), J_style, color="tab:purple")
axes[1].set_xscale("log"); axes[1].set_xlim(left=1)
axes[1].set_title("style cost over conv1_1 ... conv5_1"); axes[1].set_xlabel("J_style(photo, G), log scale")
for ax in axes:
    ax.invert_yaxis()
plt.show()
for label, jc, js in zip(others, J_content, J_style):
    print(f"{label:18s} J_content = {jc:10.4g}   J_style = {js:10.4g}")

# %% [markdown]
# Upside down, the photo's content cost is a third to a half of a different picture's, yet its style
# cost is thousands of times smaller: the same fur, the same colours, in other places.
#
# ## Summary
#
# - Unroll an activation to $A$ of shape $(n_C, n_H n_W)$; its Gram matrix $G = A A^T$ ($n_C \times n_C$)
#   holds, for each pair of channels, how much they fire together, summed over all positions.
# - Reordering the positions (a flip, a shuffle) leaves $G$ unchanged: it keeps *which* features occur
#   together and forgets *where*. The content cost does the opposite.
# - In the library: `nst.unroll(a)`, `nst.gram_matrix(A)`, `nst.activation_gram(a)`.
#
# ## Questions and things to try
#
# 1. In the toy example, move the sun into the grass. Which entries of $G$ change, and to what?
# 2. Shuffle the photo in 4 x 4 tiles and compare its style and content costs with those above.
# 3. Why do the Gram matrices at `conv3_1` have a much smaller scale than at `conv1_1`?
# 4. Compare the Gram matrices of two other style images in `images/`. Which channels tell them apart?
