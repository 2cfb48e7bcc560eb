"""Coarse to fine from the colours start, counted (README, Speed): run from the repository root,

    python3 docs/speed/colours_scales.py TARGET [SCALES ...]

chelsea + style_swirls at 300x400, /tmp/vgg16.mat, L-BFGS in bfloat16 from the content in the style's colours
(init="colours"), for each SCALES (a Python literal: None, or e.g. "[(0.5,3),1.0]"; none given: one scale and 2, 3,
5 and 10 iterations at half the size first): the iterations and cost evaluations until the cost at the full size
first reaches TARGET (27940.06: the deeplearning.ai settings after 200 iterations at this size, see `bench`), and
their full-size equivalent (a half-size evaluation counted by its pixels, a quarter), which does not depend on the
load. One JSON line each.
"""
import json
import sys

sys.path.insert(0, '.')
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")
import nst_utils as nu  # noqa: E402
from nst_tools import bench, transfer  # noqa: E402

args = sys.argv[1:]
target = float(args.pop(0))
model = nu.load_vgg_model('/tmp/vgg16.mat')
content = nu.load_image(nu.IMAGES_DIR / 'chelsea.jpg', size=(300, 400))
style = nu.load_image(nu.IMAGES_DIR / 'style_swirls.jpg', size=(300, 400))
for text in args or ["None", "[(0.5,2),1.0]", "[(0.5,3),1.0]", "[(0.5,5),1.0]", "[(0.5,10),1.0]"]:
    s = transfer.TransferSettings(optimizer="lbfgs", precision="bfloat16", iterations=300, scales=eval(text),
                                  init="colours")
    hit = bench.evaluations_to(transfer.transfer_steps(model, content, [style], s), target)
    print(json.dumps({"scales": text, **(hit or {"reached": False})}), flush=True)
