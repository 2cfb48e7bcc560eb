# %% [markdown]
# # 00 · Setup and VGG19: the network that sees for us
#
# Neural style transfer (Gatys et al., 2015) does not train anything. It takes a network that was trained
# once to recognise objects, **VGG19**, and uses what that network *sees* in a picture: its activations.
# Before we write any loss, we get the network running and look inside it.
#
# ## What you will learn
#
# 1. How to check your setup and where the VGG weights live (and how to fetch them).
# 2. What VGG19 looks like: 16 convolution layers in 5 blocks, with pools in between, and which of its
#    layers the course uses for **content** (`conv4_2`) and for **style** (`conv1_1` ... `conv5_1`).
# 3. How big each layer's activation is, `(n_H, n_W, n_C)`, and how much of the picture one position
#    sees (its **receptive field**).
# 4. What the activations of a real photo look like, from edges and colours to object parts.
#
# Everything runs on a laptop CPU in well under a minute.

# %% [markdown]
# ## Setup
#
# All imports in one place. `SMOKE` is set by the automatic tests (`NST_SMOKE=1`), which run this notebook
# on tiny fake weights and tiny images; you can ignore it.

# %%
import platform
import sys
from importlib import metadata
from pathlib import Path

ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "nst_utils.py").is_file())  # the repository
sys.path.insert(0, str(ROOT))
import nst_utils as nst  # first: it quietens TensorFlow's start-up messages
from nst_tools import course

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from matplotlib.patches import Rectangle

SMOKE = course.smoke_mode()                                # NST_SMOKE=1: tiny images for the tests
IMAGE_SIZE = (300, 400)                                 # (H, W) of the course's images, as in the assignment
PHOTO_SIZE = (32, 48) if SMOKE else (200, 300)          # the photo whose feature maps we look at
print("smoke mode:", SMOKE)

# %% [markdown]
# ## 1. Check the setup
#
# The course needs Python 3.9 to 3.13 and the packages in `requirements.txt`
# (`python3 -m pip install -r requirements.txt` from the repository root installs them).

# %%
print(f"Python {platform.python_version()} on {platform.system()} {platform.machine()}")
print(f"tensorflow {tf.__version__}")
for package in ["numpy", "scipy", "pillow", "matplotlib", "ipywidgets", "tqdm", "imageio"]:
    try:
        print(f"{package:11s}{metadata.version(package)}")
    except metadata.PackageNotFoundError:
        print(f"{package:11s}MISSING: pip install -r requirements.txt")
print("GPUs TensorFlow sees:", len(tf.config.list_physical_devices("GPU")), "(a CPU is enough for this course)")

# %% [markdown]
# ## 2. Locate the weights
#
# The network's weights are one file from the MatConvNet project, `imagenet-vgg-verydeep-19.mat`:
# 534,904,783 bytes, that is 534.9 MB (megabytes, $10^6$ bytes) or 510.1 MiB (mebibytes, $2^{20}$ bytes;
# file managers often show this number and call it "MB"). It is expected in `pretrained-model/`.
# `python3 nst_utils.py start` fetched it if it could; if it is missing, run this once from the repository
# root (it resumes an interrupted download and checks the MD5):
#
# ```
# python3 nst_utils.py download-weights
# ```
#
# or `python3 nst_utils.py download-weights --source keras` for Keras's 80 MB `.h5` of the same VGG19.
# The README also names a Kaggle mirror. Already have the file somewhere else (or a VGG16 file, which works
# too)? Point the course at it with the environment variable `NST_VGG_PATH` before starting Jupyter, e.g.
# `NST_VGG_PATH=/data/imagenet-vgg-verydeep-19.mat python3 nst_utils.py start`. The cell below says all of
# this when it finds no weights.

# %%
WEIGHTS = nst.resolve_weights_path()           # NST_VGG_PATH if set, else pretrained-model/...-19.mat
if WEIGHTS.is_file():
    size = WEIGHTS.stat().st_size
    print(f"found {WEIGHTS}: {size:,} bytes = {size / 1e6:.1f} MB = {size / 2**20:.1f} MiB")
else:
    import textwrap

    message = f"No VGG weights at {WEIGHTS}: from the repository root, {nst.WEIGHTS_HELP}."
    print(textwrap.fill(message, 100, break_on_hyphens=False, break_long_words=False))
    print("Then restart the kernel.")

# %% [markdown]
# > **What you should remember**
# >
# > - The weights are one 534.9 MB (510.1 MiB) file, `imagenet-vgg-verydeep-19.mat`, fetched once with
# >   `python3 nst_utils.py download-weights`; `NST_VGG_PATH` points the course at a copy elsewhere.
# > - Nothing is trained in this course: the network's weights stay fixed, only the image changes.

# %% [markdown]
# ## 3. Load the model
#
# `load_vgg_model` reads the convolution layers (the classifier at the end is not needed) and replaces
# every max pool by an **average pool**, as Gatys et al. and the assignment do: the gradients that flow
# back to the pixels are smoother. Calling `model(x, layers)` on a preprocessed image returns the
# activation of each layer asked for, of shape `(1, n_H, n_W, n_C)`; `convX_Y` is taken after its ReLU.

# %%
model = nst.load_vgg_model(WEIGHTS)
print(model)
print("mean pixel subtracted from every input (R, G, B):", np.round(model.mean, 2))
print("layers:", " ".join(model.names))

# %% [markdown]
# ## 4. The network as a diagram
#
# One box per layer, drawn from the file: the channel count of each block comes from its weights, the box
# height shrinks with the size of the map (each pool halves it). Orange is the **content layer**
# `conv4_2`; purple are the five **style layers** `conv1_1` ... `conv5_1`, one at the start of each block.
#
# **What you should see**, with VGG19 and a 300 x 400 input: 16 convolution boxes in 5 blocks of 2, 2, 4, 4
# and 4, with 64, 128, 256, 512 and 512 channels, each block lower than the one before. The picture below
# was drawn from VGG16, which has blocks of 2, 2, 3, 3 and 3 convolutions and the same channels.
#
# ![The layers of VGG19, the content layer and the style layers](figures/00_network.png)
#
# *Rendered by docs/course/render.py at this notebook's real settings with VGG16 stand-in weights (the VGG19
# file cannot be downloaded where it was made); sizes and iterations: docs/course/README.md.*

# %%
fig = course.draw_network(model, IMAGE_SIZE, nst.CONTENT_LAYER, nst.STYLE_LAYERS)
plt.show()

# %% [markdown]
# ## 5. The layers as a table
#
# For an input of `IMAGE_SIZE` pixels, each row gives the activation's shape $(n_H, n_W, n_C)$ and the
# **receptive field** $r$: the side of the square of input pixels that one position of the map depends
# on. With $j$ the *jump* (input pixels between two neighbouring positions), both start at 1 and
#
# $$\text{conv } k\times k,\ \text{stride } 1:\quad r \leftarrow r + (k-1)\,j \qquad\qquad
# \text{pool } 2\times 2,\ \text{stride } 2:\quad r \leftarrow r + j,\quad j \leftarrow 2j$$
#
# So a 3 x 3 convolution adds 2 pixels in block 1 ($j = 1$), 4 pixels after the first pool ($j = 2$),
# 8 after the second ($j = 4$), 16 after the third and 32 after the fourth: the deeper the layer, the
# more each convolution widens the view. The receptive field depends only on the layers, **not on the
# size of the image**: `conv5_1` sees a square of the same number of pixels in a 300 x 400 image as in a
# 3000 x 4000 one, so the larger the image, the smaller the part of it one position sees. Only the shapes
# $(n_H, n_W)$ in the table change with `IMAGE_SIZE`.

# %%
rows = course.layer_table(model, IMAGE_SIZE)
print(f"{'layer':8s} {'kind':5s} {'n_H x n_W x n_C':>17s} {'receptive field':>16s} {'jump':>5s}")
for row in rows:
    n_H, n_W, n_C = row["shape"]
    mark = " <- content" if row["name"] == nst.CONTENT_LAYER else \
        " <- style" if row["name"] in dict(nst.STYLE_LAYERS) else ""
    print(f"{row['name']:8s} {row['kind']:5s} {f'{n_H} x {n_W} x {n_C}':>17s} "
          f"{row['receptive_field']:>13d} px {row['jump']:>5d}{mark}")

# %% [markdown]
# The same numbers as a picture: the square of the photo that **one position** of each style layer sees,
# drawn around the eye on the left of the photo at `IMAGE_SIZE`. In VGG19, `conv1_1` sees a 3-pixel
# patch, enough for an edge or a colour; `conv3_1` 24 pixels, the pupil; `conv4_1` 68 pixels, the whole
# eye; `conv5_1` 156 pixels, about half the height of this image: the eye with the fur around it, not yet
# the whole head (the legend gives the numbers of the file you loaded).

# %%
photo_full = nst.load_image(ROOT / "images" / "chelsea.jpg", size=IMAGE_SIZE)
rf = {row["name"]: row["receptive_field"] for row in rows}
centre = (0.42 * IMAGE_SIZE[0], 0.38 * IMAGE_SIZE[1])    # (y, x) of the cat's left eye
fig, ax = plt.subplots(figsize=(6, 4.2))
ax.imshow(photo_full.astype(np.uint8))
for (name, _), colour in zip(nst.STYLE_LAYERS, plt.cm.viridis(np.linspace(0, 0.9, len(nst.STYLE_LAYERS)))):
    side = rf[name]                                       # in input pixels, whatever the image size
    ax.add_patch(Rectangle((centre[1] - side / 2, centre[0] - side / 2), side, side, fill=False,
                           ec=colour, lw=2, label=f"{name}: {side} x {side} px"))
ax.set_xlim(0, IMAGE_SIZE[1]); ax.set_ylim(IMAGE_SIZE[0], 0)
ax.set_title(f"Receptive field of one position per style layer, on the {IMAGE_SIZE[0]}x{IMAGE_SIZE[1]} photo",
             fontsize=10)
ax.set_xlabel("x (pixels)"); ax.set_ylabel("y (pixels)")
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
plt.show()

# %% [markdown]
# > **What you should remember**
# >
# > - An activation has shape $(1, n_H, n_W, n_C)$: each 2 x 2 pool halves $n_H$ and $n_W$, and $n_C$
# >   grows from 64 to 512 along the network.
# > - The receptive field grows with depth, faster after each pool (a 3 x 3 convolution adds $2j$ pixels,
# >   $j$ doubling at each pool), from 3 pixels at `conv1_1` to 156 at `conv5_1` in VGG19. It is a number
# >   of input pixels, the same for any image size.

# %% [markdown]
# ## 6. Feature maps of a photo
#
# Each channel $c$ of an activation is a map $a[:, :, c]$ of size $n_H \times n_W$: bright where the
# filter found what it looks for. For five depths we show the six channels with the largest mean
# activation (many channels are silent on any one photo). Computing them is one forward pass (a second).

# %%
photo = nst.load_image(ROOT / "images" / "chelsea.jpg", size=PHOTO_SIZE)
layers = [name for name, _ in nst.STYLE_LAYERS]          # conv1_1, conv2_1, conv3_1, conv4_1, conv5_1
acts = model(nst.preprocess(photo, model.mean), layers)
n_show = 6
fig, axes = plt.subplots(len(layers), n_show + 1, figsize=(2.1 * (n_show + 1), 1.6 * len(layers)))
for row_axes, name in zip(axes, layers):
    a = acts[name][0].numpy()                             # (n_H, n_W, n_C)
    top = np.argsort(a.mean(axis=(0, 1)))[::-1][:n_show]
    row_axes[0].imshow(photo.astype(np.uint8))
    row_axes[0].set_title("input" if name == layers[0] else "", fontsize=8)
    row_axes[0].set_ylabel(f"{name}\n{a.shape[0]}x{a.shape[1]}x{a.shape[2]}", fontsize=9)
    for ax, c in zip(row_axes[1:], top):
        ax.imshow(a[:, :, c], cmap="magma")
        ax.set_title(f"{name} channel {c}", fontsize=8)
    for ax in row_axes:
        ax.set_xticks([]); ax.set_yticks([])
    for ax in row_axes[1 + len(top):]:
        ax.axis("off")
fig.suptitle("Feature maps of the photo: the 6 most active channels per layer (brighter = stronger)")
fig.tight_layout()
plt.show()

# %% [markdown]
# What to notice: the `conv1_1` maps still look like the photo: edges, fur and regions of one colour, at
# full resolution. Each pool halves the maps; at `conv4_1` and `conv5_1` they are coarse grids (the row
# labels give their size) on which a channel lights up on a *region*: look for channels that fire on the
# nose and mouth, or draw a ring around an eye. Which channels, and how clearly, depends on the weights.
#
# > **What you should remember**
# >
# > - Each channel of an activation is a map of where one filter fires.
# > - Shallow layers keep the pixels: edges and colours at full resolution. Deep layers say roughly
# >   *what is where* on a coarse grid: that is why the course takes the content from `conv4_2`, and the
# >   style from a layer in every block (textures at every scale).
#
# ## Summary
#
# - The course uses VGG19's 16 convolution layers (after ReLU), with average pooling, as a fixed feature
#   extractor; the weights come from one `.mat` file (`python3 nst_utils.py download-weights`).
# - An activation has shape $(1, n_H, n_W, n_C)$; each pool halves $n_H, n_W$ while $n_C$ grows from 64
#   to 512, and the receptive field grows from 3 pixels (`conv1_1`) to 156 (`conv5_1` in VGG19), whatever
#   the image size.
# - Content: `conv4_2`. Style: `conv1_1`, `conv2_1`, `conv3_1`, `conv4_1`, `conv5_1`.
#
# ## Questions and things to try
#
# 1. Load the model with `pooling="max"` and compare the `conv5_1` maps. Which looks smoother?
# 2. What is the receptive field of `conv4_2`? Draw its square on the photo at 300 x 400 and at
#    600 x 800: how much of the cat does it cover in each?
# 3. Replace `chelsea.jpg` by `rocket.jpg` or `astronaut.jpg`: which `conv5_1` channels light up now?
# 4. Work out the receptive field of `conv3_1` by hand with the two rules of section 5 (start at
#    $r = j = 1$), then check it in the table.
