"""What decided the colours start's histogram matching (README, Speed; transfer.colour_start): run from the
repository root,

    python3 docs/speed/colour_starts.py [SIZE]

For the three sample pairs (chelsea + style_swirls, coffee + style_mosaic, astronaut + style_waves, as the lab
crops them, longest side SIZE, default 256; /tmp/vgg16.mat): the deeplearning.ai settings' cost after 200
iterations (the target, seed 0), then the lab's L-BFGS from three starts until its cost first reaches it:
the noisy content, the content recoloured to the style's pixel mean and covariance (fast.recolour), and that
with each channel's histogram matched to the style's as well (fast.match_marginals: colour_start). The
iterations and cost evaluations to the target do not depend on the load. One JSON line a start.
"""
import dataclasses
import json
import sys

sys.path.insert(0, '.')
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")
import nst_utils as nu  # noqa: E402
from nst_tools import bench, fast, lab, transfer  # noqa: E402

size = int(sys.argv[1]) if len(sys.argv) > 1 else lab.LAB_SIZE
model = nu.load_vgg_model('/tmp/vgg16.mat')
for c_name, s_name in [("chelsea.jpg", "style_swirls.jpg"), ("coffee.jpg", "style_mosaic.jpg"),
                       ("astronaut.jpg", "style_waves.jpg")]:
    content, style = lab.lab_images(nu.load_image(nu.IMAGES_DIR / c_name), nu.load_image(nu.IMAGES_DIR / s_name), size)
    target = float(transfer.run_transfer(model, content, style, iterations=200, seed=0).J)
    starts = {"noise": None, "recoloured": fast.recolour(content, *fast.colour_stats(style)),
              "recoloured + histograms (colours)": transfer.colour_start(content, [style])}
    for name, image in starts.items():
        s = dataclasses.replace(lab.LabSettings(), init="noise" if image is None else "content", seed=0)
        hit = bench.evaluations_to(transfer.transfer_steps(model, content, [style], s, init_image=image, keep=True),
                                   target)
        print(json.dumps({"pair": f"{c_name} + {s_name}", "target": round(target, 2), "start": name,
                          **(hit or {"reached": False})}), flush=True)
