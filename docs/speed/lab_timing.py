"""The lab's answers (README, Speed): run from the repository root,

    python3 docs/speed/lab_timing.py TARGET [REPEATS] [warm] [plain] [setting=value ...]

The lab at 256 px (chelsea + style_swirls, /tmp/vgg16.mat), driven through its panel (each preview rendered
as in Jupyter, on the worker; "plain": a runner whose previews cost nothing): Run -> the first preview (the
start, shown at once), the first preview of an iteration, and the first whose J <= TARGET (the
deeplearning.ai 200-iteration cost at this size: 19010.36 on the VGG16 stand-in), then a beta x10 move ->
the first preview made with the new weight. Previews of a coarse start (half the size) do not count.
"warm": lab_warm_up first. One JSON line a Run.
"""
import dataclasses
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, '.')
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")
import nst_utils as nu  # noqa: E402
from nst_tools import lab  # noqa: E402
from nst_tools.lab_panel import lab as lab_panel  # noqa: E402

args = sys.argv[1:]
target = float(args.pop(0))
repeats = int(args.pop(0)) if args and args[0].isdigit() else 3
warm = bool(args and args[0] == "warm") and bool(args.pop(0))
plain = bool(args and args[0] == "plain") and bool(args.pop(0))
over = {k: eval(v) for k, v in (a.split("=", 1) for a in args)}
model = nu.load_vgg_model('/tmp/vgg16.mat')
content, style = nu.load_image(nu.IMAGES_DIR / 'chelsea.jpg'), nu.load_image(nu.IMAGES_DIR / 'style_swirls.jpg')
runner = lab.LabRunner(model, lambda r: None, preview_interval=0.4) if plain else lab_panel(model=model).runner
if warm:
    print("warm-up s", round(lab.lab_warm_up(model), 2), flush=True)
base = dataclasses.replace(lab.LabSettings(), seed=0, **over)
print("settings", {k: getattr(base, k) for k in ("optimizer", "precision", "size", "scales", "iterations")},
      "preview_interval", runner.preview_interval, flush=True)
shown = runner.on_preview
full = lab.lab_images(content, style, base.size)[0].shape[:2]  # a coarse start's J does not count
for rep in range(repeats):
    previews = []
    runner.on_preview = lambda r, previews=previews: (shown(r), previews.append(  # iteration 0: the start
        (r.seconds, r.history[-1]["J"] if r.history and r.history[-1]["size"] == full else np.inf, r.iteration)))
    runner.run(base, content, style)
    while runner.state == "running" and not any(J <= target for _, J, _ in previews):
        time.sleep(0.005)
    hit = next(((t, J, i) for t, J, i in previews if J <= target), None)
    runner.update(dataclasses.replace(base, beta=10 * base.beta))  # the slider
    while runner.change_seconds is None and runner.state == "running":
        time.sleep(0.005)
    change = runner.change_seconds
    runner.stop()
    runner.wait(60)
    first = next(t for t, _, i in previews if i > 0)
    print(json.dumps({"rep": rep, "start_preview_s": round(previews[0][0], 3), "first_iteration_s": round(first, 3),
                      "to_target_s": hit and round(hit[0], 3),
                      "iteration": hit and hit[2], "J": hit and round(hit[1]), "slider_s": change and round(change, 3),
                      "error": repr(runner.error) if runner.error else None, "load": round(os.getloadavg()[0], 1)}), flush=True)
