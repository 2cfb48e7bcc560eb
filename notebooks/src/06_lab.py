# %% [markdown]
# # 06 · The style-transfer lab
#
# Everything of the course in one panel: pick a photo and a style image, set $\alpha$, $\beta$ and the layers with
# sliders, press **Run** and watch the generated image $G$ and the costs change as the optimiser works.
#
# ## What you will learn
#
# - how the ratio $\beta/\alpha$ trades the style image's style against the photo's content;
# - what each style layer contributes (shallow layers: colours and fine texture; deep layers: larger motifs);
# - how the content layer, the start image, total variation and the optimiser (Adam or L-BFGS) change the result;
# - to read the cost curves: $\alpha J_{content}$ and $\beta J_{style}$ pulling against each other.
#
# **How to use it.** Run the two code cells. Move a slider, press **Run**. **Stop** keeps the current image;
# tick *Run continues from the current image* to go on from it, or leave it unticked to restart. Changing
# $\alpha$, $\beta$, a layer weight, the content layer, the TV weight or the learning rate during a run is
# applied at once (the run goes on from its current image, a dotted line marks the change in the cost
# plot): the preview shows the first image the new weights move, as soon as it is computed, its cost in the
# next iteration. The other settings say that they take effect on the next Run. A Run starts from the start image
# you choose and shows it at once: by default *colours*, the photo recoloured so that its pixels have the
# style image's mean colour and colour covariance, then each colour channel the style's histogram, so the
# optimiser has only the texture left to paint
# (*noise* is the assignment's noisy photo, *content* the photo as it is). **Save** writes the image and its
# settings (`.png` + `.json`) to `outputs/` (or `$NST_OUTPUT_DIR`).
#
# **As an app.** `voila notebooks/06_lab.ipynb` serves this notebook as a web page that shows only the panel.
#
# Time (measured with the VGG16 stand-in weights on 2-core CPUs): the panel traces its compiled steps as it
# opens (about 2 s), and computes the targets of the images it shows (the style's Gram matrices) while you
# read it; Run shows the start at once. At 256 px the picture reaches the assignment's cost after 8 or 9
# L-BFGS iterations from the colours start, one network evaluation each: 0.15-0.3 s an iteration with
# bfloat16 (an Intel Xeon with AMX: 3-4 s to that cost), about 0.7 s in float32 (an AMD EPYC without
# bfloat16: about 6 s). This notebook starts at 128 px, about four times cheaper.

# %%
import os
import sys
from pathlib import Path

ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "nst_utils.py").is_file())  # the repository
sys.path.insert(0, str(ROOT))
import nst_utils  # first: it quietens TensorFlow's start-up messages
from nst_tools import course, lab_panel

SMOKE = course.smoke_mode()                          # NST_SMOKE=1 (the automatic tests): tiny and short
WEIGHTS = nst_utils.resolve_weights_path()          # $NST_VGG_PATH, else pretrained-model/...-19.mat
OUTPUT_DIR = Path(os.environ.get("NST_OUTPUT_DIR", "outputs"))
SIZE, ITERATIONS = (64, 20) if SMOKE else (128, 200)

# %% [markdown]
# ## The cost you are tuning
#
# The panel minimises, over the pixels of $G$,
#
# $$J(G) = \alpha\, J_{content}(C, G) + \beta \sum_{l} \lambda^{[l]} J^{[l]}_{style}(S, G) + w_{TV}\, J_{TV}(G)$$
#
# with $J_{content}$ at the chosen content layer, one weight $\lambda^{[l]}$ per style layer conv1_1 .. conv5_1
# (a weight of 0 leaves the layer out), and the optional total-variation smoothness term $J_{TV}$, all as
# defined in `nst_utils` (the earlier notebooks build each one). The plot shows $J$, $\alpha J_{content}$
# and $\beta J_{style}$ on a log scale.

# %%
panel = lab_panel.lab("chelsea.jpg", None, weights=WEIGHTS, size=SIZE, iterations=ITERATIONS,
                      output_dir=OUTPUT_DIR)
panel

# %% [markdown]
# > **What you should remember.** Change one setting at a time and watch both terms: $\beta/\alpha$ sets
# > the balance, the style layers the size of the texture, the content layer how literally the photo is
# > kept, and the optimiser and the number of iterations how far towards the minimum the run gets.
#
# ## Things to try
#
# 1. Keep everything at its default ($\alpha = 10$, $\beta = 40$: $\beta/\alpha = 4$) and press Run. Then set
#    $\beta$ to 4 ($\beta/\alpha = 0.4$) and to 4000 ($\beta/\alpha = 400$): where does the photo disappear?
# 2. Set every style weight to 0 except conv1_1, then only conv5_1. What does each layer keep of the style image?
# 3. Choose content layer conv1_2, then conv5_2, with start *noise*: which keeps the exact pixels, which only
#    the layout?
# 4. Start from *noise*, then *content*, instead of *colours*: which reaches a low cost soonest (the plot),
#    and do the three pictures differ at the end?
# 5. Switch to L-BFGS for the same number of iterations and compare the cost curves with Adam's.
# 6. Run at 128 px, Stop, change the size to 256 px, tick *continue* and Run: a coarse-to-fine result.
# 7. Raise the TV weight step by step until the texture starts to blur.
#
# ## Summary
#
# - One number, $\beta/\alpha$, sets the balance; its good value depends on the normalisation of the costs
#   and on the optimiser (see notebooks 04 and 05), which is why papers and code bases quote such different
#   ratios.
# - Style layers set the scale of the texture, the content layer how literally the photo is kept.
# - The cost curves show the two terms competing: $J$ falls, but one term may rise while the other falls.
#
# ## Questions
#
# 1. Why does doubling both $\alpha$ and $\beta$ change the result of Adam only a little, but not nothing?
# 2. After a live change of $\alpha$, why does $\alpha J_{content}$ jump at the dotted line while the image does not?
# 3. Why is a result at 128 px not simply a smaller copy of the result at 512 px?
