"""The fixed cost of a transfer, run after run in one process (README, Speed).

    python3 docs/speed/fixed_cost.py REPO OPTIMIZER PRECISION [SCALES]

Three run_transfer runs of 6 iterations at 300x400 (chelsea + style_swirls, /tmp/vgg16.mat) with the code
in REPO (a checkout: compare two): wall seconds to the first iteration and the fixed cost (that less one
median iteration), with this process's CPU seconds beside them (less disturbed by other jobs).
"""
import sys
import time

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")
import nst_utils as nu  # noqa: E402
from nst_tools import transfer  # noqa: E402

model = nu.load_vgg_model('/tmp/vgg16.mat')
c = nu.load_image(nu.IMAGES_DIR / 'chelsea.jpg', size=(300, 400))
s = nu.load_image(nu.IMAGES_DIR / 'style_swirls.jpg', size=(300, 400))
opt, prec = sys.argv[2], sys.argv[3]
scales = None if len(sys.argv) < 5 else eval(sys.argv[4])
for run in range(3):
    t0, c0, marks = time.perf_counter(), time.process_time(), []
    transfer.run_transfer(model, c, s, iterations=6, optimizer=opt, precision=prec, seed=run, scales=scales,
                          callback=lambda i, co, im, t0=t0, c0=c0, marks=marks:
                          marks.append((time.perf_counter() - t0, time.process_time() - c0)), callback_every=1)
    w = np.array(marks)
    dw, dc = np.median(np.diff(w[:, 0])), np.median(np.diff(w[:, 1]))
    print(f"{sys.argv[1]} {opt} {prec} run {run}: first iteration {w[0,0]:.2f} s (cpu {w[0,1]:.2f}), iteration {1000*dw:.0f} ms "
          f"(cpu {1000*dc:.0f}), fixed {w[0,0]-dw:.2f} s (cpu {w[0,1]-dc:.2f}); load {np.round(__import__('os').getloadavg()[0],1)}", flush=True)
