"""What decided the lab's start (README, Speed; lab.LAB_INIT, lab.LAB_COARSE): run from the repository root,

    python3 docs/speed/lab_coarse.py TARGET [setting=value ...] [setting=value ...] ...

Each argument is one variant of the lab's defaults at 256 px (chelsea + style_swirls, /tmp/vgg16.mat, seed 0),
e.g. coarse=0, "init='noise' coarse=20", or "scales=[(0.375,30),1]" (none: the variants behind LAB_INIT and
LAB_COARSE). For each: the iterations and cost evaluations until the
cost at the full size first reaches TARGET (19010.36: the deeplearning.ai settings after 200 iterations at
this size, see lab_timing.py), and the full-size equivalent of those evaluations (a coarse one counted by its
pixels: a quarter at half the size), which does not depend on the load. One JSON line a variant.
"""
import dataclasses
import json
import sys

sys.path.insert(0, '.')
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")
import nst_utils as nu  # noqa: E402
from nst_tools import bench, lab, transfer  # noqa: E402

args = sys.argv[1:]
target = float(args.pop(0))
model = nu.load_vgg_model('/tmp/vgg16.mat')
content, style = lab.lab_images(nu.load_image(nu.IMAGES_DIR / 'chelsea.jpg'),
                                nu.load_image(nu.IMAGES_DIR / 'style_swirls.jpg'), lab.LAB_SIZE)
variants = ["init='noise' coarse=0", "init='noise' coarse=20", "coarse=0", "coarse=5", "coarse=10", "coarse=20"]
for arg in args or variants:
    over = {k: eval(v) for k, v in (a.split("=", 1) for a in arg.split())}
    s = dataclasses.replace(lab.LabSettings(), seed=0, **over)
    s = dataclasses.replace(s, scales=lab.lab_scales(s, content.shape[:2]))  # as a Run takes it
    hit = bench.evaluations_to(transfer.transfer_steps(model, content, [style], s, keep=True), target)
    print(json.dumps({"variant": arg, **(hit or {"reached": False})}), flush=True)
