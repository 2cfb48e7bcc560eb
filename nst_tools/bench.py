"""The speed benchmark: step time against its floor, time to the assignment's quality, peak memory.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from nst_tools.fast import (
    auto_scales,
    bfloat16_supported,
    compute_dtype,
    default_layers,
    estimate_memory,
    layer_shapes,
)
from nst_tools.transfer import TransferSettings, cost_function, run_transfer
from nst_utils import (
    IMAGES_DIR,
    ITERATIONS,
    ROOT,
    STYLE_LAYERS,
    atomic_write,
    fit_size,
    generate_noise_image,
    image_format,
    load_image,
    load_vgg_model,
    preprocess,
    resolve_weights_path,
)

#: The benchmark's methods: name -> (description, TransferSettings): each writes only what differs from
#: TransferSettings' defaults (the deeplearning.ai assignment's: Adam lr 2.0, float32, noise start), so
#: "dlai" is TransferSettings() itself, and its cost after ``iterations`` is the target. bench_method
#: sets ``iterations`` and ``seed``. scales="auto" here: the coarse scales of auto_scales with
#: BENCH_COARSE iterations each (what "auto" gives 100 iterations), then the full size until the target.
BENCH_COARSE = 10

BENCH_METHODS = {
    "dlai": ("deeplearning.ai settings: Adam lr 2.0, float32", TransferSettings()),
    "adam-bf16": ("the same Adam, bfloat16 convolutions", TransferSettings(precision="bfloat16")),
    "lbfgs": ("L-BFGS, float32", TransferSettings(optimizer="lbfgs")),
    "lbfgs-bf16": ("L-BFGS, bfloat16 convolutions", TransferSettings(optimizer="lbfgs", precision="bfloat16")),
    "c2f": ("L-BFGS coarse to fine (scales auto), float32", TransferSettings(optimizer="lbfgs", scales="auto")),
    "c2f-bf16": ("L-BFGS coarse to fine (scales auto), bfloat16 convolutions",
                 TransferSettings(optimizer="lbfgs", scales="auto", precision="bfloat16")),
}


#: The methods the benchmark runs by default (adam-bf16 takes as long as dlai: ask for it).
#: The benchmark's picture size (the assignment's 300x400), (height, width).
BENCH_SIZE = (300, 400)
BENCH_DEFAULT = ["dlai", "lbfgs", "lbfgs-bf16", "c2f", "c2f-bf16"]


def step_flops(model, size, layers=None, style_layers=STYLE_LAYERS) -> int:
    """FLOPs of one step at ``size``: each conv up to the deepest layer forward (2 n_H n_W k^2 C_in C_out)
    and once more backward (the input gradient, conv1_1's included), plus 2 n_H n_W n_C^2 per Gram
    matrix forward and as much for its gradient (see fast.style_term)."""
    layers = default_layers(model) if layers is None else layers
    shapes = layer_shapes(model, size)[: max(model.names.index(n) for n in layers) + 1]
    flops, c_in = 0, 3
    for layer, (n_H, n_W, n_C) in zip(model.layers, shapes):
        if layer.kind == "conv":
            flops += 2 * 2 * n_H * n_W * int(np.prod(layer.kernel.shape[:2])) * c_in * n_C
            c_in = n_C
        if layer.name in layers and layer.name in dict(style_layers):
            flops += 2 * 2 * n_H * n_W * n_C**2
    return int(flops)


def step_floor(model, layers, precision="float32"):
    """The floor of a step: a compiled forward + input-gradient pass through exactly ``layers``, no costs
    (J = the sum of the activations). Returns ``floor(x) -> (J, dJ/dx)``."""
    dtype = compute_dtype(precision)

    @tf.function(autograph=False)
    def floor(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            J = tf.add_n([tf.cast(tf.reduce_sum(a), tf.float32) for a in model(x, layers, dtype).values()])
        return J, tape.gradient(J, x)

    return floor


def matmul_rate(dtype="float32", n=2048, repeats=5) -> float:
    """Dense n x n matmul rate of this machine in GFLOP/s (best of ``repeats`` runs of 3 products)."""
    a = tf.cast(tf.random.stateless_normal((n, n), seed=(1, 2)), dtype)
    product = tf.function(lambda a: tf.matmul(a, a), autograph=False)
    product(a).numpy()
    best = min(_seconds(lambda: [product(a) for _ in range(3)][-1].numpy()) / 3 for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _seconds(fn) -> float:
    """Wall seconds of one call of ``fn``."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _synthetic_images(size, seed=0):
    """A smooth content image and a noisy style image of ``size`` (H, W), RGB float32 in [0, 255]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size[0], 0:size[1]] / max(size)
    content = 255 * np.stack([yy, xx, 0.5 + 0.5 * np.sin(6 * (xx + yy))], -1)
    return content.astype(np.float32), rng.uniform(0, 255, (*size, 3)).astype(np.float32)


def bench_step(model, size, precision="float32", repeats=5) -> dict:
    """ms of one step (transfer.cost_function's cost, default settings) and of its floor, interleaved
    ``repeats`` times (best of each: the least disturbed by other work), FLOPs and GFLOP/s; and ms of
    a whole Adam iteration and of an L-BFGS iteration of one evaluation (best of ``repeats`` + 1)."""
    images = _synthetic_images(size)
    content, style = (preprocess(im, model.mean) for im in images)
    layers = default_layers(model)
    cost = cost_function(model, content, style, precision=precision)
    floor = step_floor(model, layers, precision)
    x = tf.constant(generate_noise_image(content, 0.6, 0))
    cost(x)[0].numpy(), floor(x)[0].numpy()  # compile both
    steps, floors = [], []
    for _ in range(repeats):
        steps.append(_seconds(lambda: cost(x)[3].numpy()))
        floors.append(_seconds(lambda: floor(x)[1].numpy()))
    step_s, floor_s, flops = min(steps), min(floors), step_flops(model, size, layers)
    row = {"precision": precision, "step_ms": round(1000 * step_s, 3), "floor_ms": round(1000 * floor_s, 3),
           "step_over_floor": round(step_s / floor_s, 3), "gflop": round(flops / 1e9, 2),
           "step_gflops": round(flops / step_s / 1e9, 1), "layers": layers}
    for optimizer in ("adam", "lbfgs"):
        r = run_transfer(model, *images, iterations=repeats + 2, optimizer=optimizer, precision=precision,
                               seed=0)
        best = float(np.min(np.diff([h["seconds"] for h in r.history])))
        row[f"{optimizer}_ms"] = round(1000 * best, 1)
        row[f"{optimizer}_over_floor"] = round(best / floor_s, 3)
    return row


def _stop_at(target, shape, stop, j_at=None):
    """A callback that notes the wall time of every iteration, when the cost at full size first reaches
    ``target``, and J at iteration ``j_at``; it sets ``stop`` once both are known."""
    hit, marks = {}, {"times": []}

    def callback(iteration, costs, image):
        marks["times"].append(time.perf_counter())
        if not hit and image.shape == shape and costs["J"] <= target:
            hit.update(iteration=iteration, seconds=costs["seconds"])
        if iteration == j_at:
            marks["J_at"] = costs["J"] if image.shape == shape else None
        if hit and (j_at is None or iteration >= j_at):
            stop.set()

    return callback, hit, marks


def bench_method(model, content, style, method, iterations=ITERATIONS, target=None, seed=0, j_at=None) -> dict:
    """Run one BENCH_METHODS method from the same noisy start; stop once the cost at full size reaches
    ``target`` (None: run all ``iterations``) and, with ``j_at``, once J after ``j_at`` iterations is
    known. Returns seconds and iterations to the target, the fixed cost (``fixed_seconds``: the time to
    the first iteration, less one iteration at that scale: tracing, targets, the first evaluation) and the
    per-iteration cost at full size, the cost curve at full size [(seconds, J)], the image, J of that
    image re-measured in float32, and the cost evaluations (all scales; Adam: one per iteration, L-BFGS:
    its line searches')."""
    import threading

    s = BENCH_METHODS[method][1]
    auto = auto_scales(content.shape[:2], 10 * BENCH_COARSE) if s.scales == "auto" else None
    coarse = [(f, BENCH_COARSE) for f, _ in (auto or [])[:-1]]
    stop = threading.Event()
    callback, hit, marks = _stop_at(np.inf if target is None else target, content.shape, stop, j_at)
    total = iterations + sum(n for _, n in coarse)
    s = dataclasses.replace(s, iterations=total, seed=seed, scales=[*coarse, (1.0, iterations)] if coarse else None)
    t0 = time.perf_counter()
    r = run_transfer(model, content, style, s, callback=callback, callback_every=1,
                     stop_event=stop if target is not None else None)
    final = [h for h in r.history if h.get("scale", 1.0) == 1.0]
    steps = np.diff([h["seconds"] for h in final])
    first_scale = [h for h in r.history if h.get("scale", 1.0) == r.history[0].get("scale", 1.0)]
    first_steps = np.diff([h["seconds"] for h in first_scale])
    first = marks["times"][0] - t0 if marks["times"] else None
    fixed = first - float(np.median(first_steps)) if first is not None and len(first_steps) else first
    J32 = r.J
    if s.precision != "float32":
        c = preprocess(content, model.mean)
        J32 = float(cost_function(model, c, preprocess(style, model.mean))(tf.constant(r.x))[0])
    if target is None:  # the reference: the time at which it first reached its own best cost
        best = next(h for h in final if h["J"] == r.J)
        hit = {"iteration": best["iteration"], "seconds": best["seconds"]}
    return {"method": method, "description": BENCH_METHODS[method][0], "reached": bool(hit),
            "seconds_to_target": hit.get("seconds"), "iterations_to_target": hit.get("iteration"),
            "iterations": r.iterations, "seconds": round(r.seconds, 2), "J": r.J, "J_float32": J32,
            "J_at": marks.get("J_at"), "j_at": j_at,
            "first_iteration_seconds": round(first, 3) if first is not None else None,
            "fixed_seconds": round(fixed, 3) if fixed is not None else None,
            "evaluations": r.evaluations,
            "evaluations_per_iteration": round(r.evaluations / r.iterations, 3) if r.iterations else None,
            "ms_per_iteration": round(1000 * float(np.median(steps)), 1) if len(steps) else None,
            "curve": [[h["seconds"], h["J"]] for h in final], "image": r.image}


def _memory_probe(weights, height, width, precision, optimizer, iterations=2):
    """Run in a fresh process: RSS before and peak RSS after a short transfer at (height, width), in MiB,
    printed as one JSON line (for bench_memory)."""
    def status(key):  # MiB; VmHWM is this process's own peak (ru_maxrss may carry the parent's over exec)
        return int(Path("/proc/self/status").read_text().split(key + ":")[1].split()[0]) / 1024

    model = load_vgg_model(weights)
    content, style = _synthetic_images((height, width))
    rss = status("VmRSS")
    run_transfer(model, content, style, iterations=iterations, optimizer=optimizer, precision=precision)
    out = {"before_mib": round(rss), "peak_mib": round(status("VmHWM"))}
    if tf.config.list_physical_devices("GPU"):  # the work ran there: its peak is the number that counts
        out["gpu_peak_mib"] = round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20)
    print(json.dumps(out))


def bench_memory(weights, size, precision="float32", optimizer="lbfgs") -> dict:
    """Peak memory of a 2-iteration transfer at ``size`` in a fresh Python process, with the estimate."""
    import subprocess

    model = load_vgg_model(weights)
    estimate = estimate_memory(model, size, optimizer, precision)
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); import nst_utils; "
            f"from nst_tools import bench; bench._memory_probe({str(weights)!r}, {size[0]}, {size[1]}, {precision!r}, {optimizer!r})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    row = {"size": list(size), "precision": precision, "optimizer": optimizer,
           "estimate_mib": round(estimate / 2**20)}
    if done.returncode != 0:
        return {**row, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return {**row, **measured, "extra_mib": measured["peak_mib"] - measured["before_mib"]}


#: The content/style pairs of ``bench --pairs samples`` (images/, see images/CREDITS.md), and the iteration
#: whose cost the spread reports (J after BENCH_J_AT iterations).
BENCH_PAIRS = (("chelsea.jpg", "style_swirls.jpg"), ("coffee.jpg", "style_mosaic.jpg"),
               ("astronaut.jpg", "style_waves.jpg"))
BENCH_J_AT = 100


def bench_quality(model, content, style, names, iterations=ITERATIONS, seed=0, j_at=None, log=None) -> dict:
    """"dlai" runs ``iterations`` and its best cost is the target; each other method in ``names`` runs
    until it reaches that cost (at most 2 x ``iterations`` at full size) and, with ``j_at``, for at
    least ``j_at`` iterations; speedup = dlai's seconds / the method's."""
    log = log or (lambda *a: None)
    runs = [bench_method(model, content, style, "dlai", iterations, None, seed, j_at)]
    target = runs[0]["J"]
    log(f"dlai: target J = {target:.6g} after {runs[0]['seconds']} s")
    for name in [m for m in names if m != "dlai"]:
        runs.append(bench_method(model, content, style, name, 2 * iterations, target, seed, j_at))
        log(f"{name}: {runs[-1]['seconds_to_target']} s to the target (fixed {runs[-1]['fixed_seconds']} s)")
    ref = runs[0]["seconds_to_target"]
    for r in runs:
        r["speedup"] = round(ref / r["seconds_to_target"], 2) if r["reached"] else None
    reached = [r for r in runs if r["reached"]]
    return {"target_J": target, "iterations": iterations, "methods": runs,
            "fastest": min(reached, key=lambda r: r["seconds_to_target"])["method"]}


def spread(values) -> dict | None:
    """Median, quartiles (linear interpolation), min and max of the numbers in ``values`` (None: left
    out), and n, the count of numbers; None if there are none."""
    v = np.array([x for x in values if x is not None], dtype=float)
    if not v.size:
        return None
    q1, median, q3 = np.percentile(v, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3), "min": float(v.min()),
            "max": float(v.max()), "n": int(v.size)}


def aggregate(runs) -> dict:
    """The spread over several (pair, seed) quality runs: ``runs`` [{"pair", "seed", "quality"}] ->
    {method: {"reached": runs that reached the target, "runs", and the spread (see ``spread``) of
    "seconds_to_target", "speedup", "J_at", "fixed_seconds", "ms_per_iteration"}}. A run that did not
    reach the target counts in "runs", not in the spread of its seconds or speedup."""
    out = {}
    for run in runs:
        for r in run["quality"]["methods"]:
            out.setdefault(r["method"], []).append(r)
    keys = ("seconds_to_target", "speedup", "J_at", "fixed_seconds", "ms_per_iteration")
    return {m: {"runs": len(rs), "reached": sum(r["reached"] for r in rs),
                **{k: spread(r[k] if r["reached"] or k not in ("seconds_to_target", "speedup") else None
                             for r in rs) for k in keys}}
            for m, rs in out.items()}


def benchmark(weights=None, quality_weights=None, size=BENCH_SIZE, iterations=ITERATIONS, methods=None,
              parts=("step", "quality", "memory"), content=None, style=None, repeats=5, seed=0,
              memory_sizes=(512, 1024), log=None, seeds=1, pairs=None) -> dict:
    """The speed benchmark: per-step cost against its floor, time to the deeplearning.ai quality, memory.

    step: bench_step for float32 (and bfloat16 where supported) at ``size`` on ``weights``, with this
    machine's matmul rate. quality: on ``quality_weights`` (default ``weights``), bench_quality on
    ``content`` and ``style`` (default chelsea, style_swirls) from ``seed``. With ``seeds`` > 1 or
    ``pairs`` (a list of (content, style) paths; "samples": BENCH_PAIRS), bench_quality for every pair
    and each of ``seeds`` seeds from ``seed``, J after BENCH_J_AT iterations noted too: "spread" holds
    every run's numbers and their aggregate (median, quartiles, min, max); "quality" is the first run.
    memory: bench_memory at each longest side in ``memory_sizes`` (aspect of ``size``). ``log``: print-like.
    """
    log = log or (lambda *a: None)
    weights = resolve_weights_path(weights)
    quality_weights = resolve_weights_path(quality_weights or weights)
    precisions = ["float32"] + (["bfloat16"] if bfloat16_supported() else [])
    out = {"size": list(size), "weights": str(weights), "quality_weights": str(quality_weights),
           "machine": {"cpus": os.cpu_count(), "load_average": [round(v, 2) for v in os.getloadavg()],
                       "tensorflow": tf.__version__, "gpu": bool(tf.config.list_physical_devices("GPU")),
                       "bfloat16_supported": bfloat16_supported()},
           "step": [], "matmul_gflops": {}, "quality": None, "spread": None, "memory": []}
    if "step" in parts:
        model = load_vgg_model(weights)
        for p in precisions:
            out["matmul_gflops"][p] = round(matmul_rate(p, repeats=repeats), 1)
            row = bench_step(model, size, p, repeats)
            row["of_matmul_rate"] = round(row["step_gflops"] / out["matmul_gflops"][p], 3)
            out["step"].append(row)
            log(f"step {p}: {row['step_ms']} ms, floor {row['floor_ms']} ms")
    if "quality" in parts:
        model = load_vgg_model(quality_weights)
        names = ["dlai"] + [m for m in (methods or BENCH_DEFAULT) if m != "dlai"]
        names = [m for m in names if "bf16" not in m or "bfloat16" in precisions]
        if pairs == "samples":
            pairs = [(IMAGES_DIR / c, IMAGES_DIR / s) for c, s in BENCH_PAIRS]
        many = seeds > 1 or pairs is not None
        pairs = pairs or [(content or IMAGES_DIR / "chelsea.jpg", style or IMAGES_DIR / "style_swirls.jpg")]
        j_at = min(BENCH_J_AT, iterations) if many else None
        runs = []
        for c_path, s_path in pairs:
            c, s = load_image(c_path, size=size), load_image(s_path, size=size)
            for k in range(seeds):
                log(f"pair {Path(c_path).name} + {Path(s_path).name}, seed {seed + k}")
                q = bench_quality(model, c, s, names, iterations, seed + k, j_at, log)
                runs.append({"pair": [str(c_path), str(s_path)], "seed": seed + k, "quality": q})
        out["quality"] = runs[0]["quality"]
        if many:
            keep = ("method", "reached", "seconds_to_target", "iterations_to_target", "speedup", "J_at",
                    "fixed_seconds", "ms_per_iteration", "J_float32")
            out["spread"] = {"j_at": j_at, "pairs": [list(map(str, p)) for p in pairs],
                             "seeds": list(range(seed, seed + seeds)), "methods": aggregate(runs),
                             "runs": [{"pair": r["pair"], "seed": r["seed"], "target_J": r["quality"]["target_J"],
                                       "methods": [{k: m[k] for k in keep} for m in r["quality"]["methods"]]}
                                      for r in runs]}
    if "memory" in parts:
        for side in memory_sizes:
            for p in precisions:
                row = bench_memory(weights, fit_size(size[0], size[1], side), p)
                out["memory"].append(row)
                log(f"memory {side} px {p}: {row}")
    out["machine"]["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    return out


def format_benchmark(result) -> str:
    """The benchmark's result as plain-text tables."""
    lines = [f"size {result['size'][0]}x{result['size'][1]}, {result['machine']['cpus']} CPU cores, "
             f"TensorFlow {result['machine']['tensorflow']}, load average {result['machine']['load_average']}"
             f" -> {result['machine'].get('load_average_after')}"]
    if result["step"]:
        lines += ["", f"per-iteration cost ({result['weights']})",
                  f"{'precision':10} {'floor ms':>8} {'step ms':>8} {'/floor':>6} {'Adam it':>8} {'/floor':>6} "
                  f"{'L-BFGS it':>9} {'/floor':>6} {'GFLOP':>6} {'GFLOP/s':>8} {'matmul GFLOP/s':>14} "
                  f"{'of matmul':>9}"]
        for r in result["step"]:
            lines.append(f"{r['precision']:10} {r['floor_ms']:8.0f} {r['step_ms']:8.0f} {r['step_over_floor']:6.2f} "
                         f"{r['adam_ms']:8.0f} {r['adam_over_floor']:6.2f} {r['lbfgs_ms']:9.0f} "
                         f"{r['lbfgs_over_floor']:6.2f} {r['gflop']:6.1f} {r['step_gflops']:8.1f} "
                         f"{result['matmul_gflops'][r['precision']]:14.1f} {r['of_matmul_rate']:9.0%}")
        lines.append("floor: compiled forward + input gradient through exactly these layers, no costs: "
                     + ", ".join(result["step"][0]["layers"]))
        lines.append("step: one cost and gradient evaluation; Adam it / L-BFGS it: a whole iteration "
                     "(L-BFGS: one of one evaluation)")
    q = result["quality"]
    if q:
        lines += ["", f"time to the deeplearning.ai cost after {q['iterations']} iterations, "
                      f"J = {q['target_J']:.5g} ({result['quality_weights']})",
                  f"{'method':11} {'s to target':>11} {'fixed s':>7} {'iterations':>10} {'ms/iter':>8} "
                  f"{'evals/it':>8} {'speedup':>8} {'J float32':>10}  description"]
        for r in q["methods"]:
            sec = f"{r['seconds_to_target']:.1f}" if r["reached"] else "not reached"
            its = r["iterations_to_target"] if r["reached"] else r["iterations"]
            speed = f"{r['speedup']:.1f}x" if r["speedup"] else "-"
            fixed = f"{r['fixed_seconds']:.2f}" if r.get("fixed_seconds") is not None else "-"
            lines.append(f"{r['method']:11} {sec:>11} {fixed:>7} {its:>10} {r['ms_per_iteration'] or 0:8.0f} "
                         f"{r['evaluations_per_iteration'] or 0:8.2f} {speed:>8} {r['J_float32']:10.5g}  "
                         f"{r['description']}")
        lines.append("fixed s: seconds to the first iteration less one iteration (tracing, targets, the first "
                     "evaluation); ms/iter: the median iteration at full size")
        lines.append("evals/it: cost-and-gradient evaluations per iteration (Adam 1; L-BFGS 1 when its first "
                     "trial step is taken)")
        lines.append(f"fastest to the target: {q['fastest']}")
    sp = result.get("spread")
    if sp:
        lines += ["", f"over {len(sp['pairs'])} content/style pair(s) x {len(sp['seeds'])} seed(s): median "
                      f"[min - max] (IQR q1 - q3)",
                  f"{'method':11} {'reached':>7} {'s to target':>26} {'speedup':>24} "
                  f"{'J after ' + str(sp['j_at']) + ' its':>30} {'fixed s':>9}"]

        def cell(st, fmt):
            if st is None:
                return "-"
            return f"{st['median']:{fmt}} [{st['min']:{fmt}}-{st['max']:{fmt}}] ({st['q1']:{fmt}}-{st['q3']:{fmt}})"

        for m, a in sp["methods"].items():
            lines.append(f"{m:11} {a['reached']:>3}/{a['runs']:<3} {cell(a['seconds_to_target'], '.1f'):>26} "
                         f"{cell(a['speedup'], '.1f'):>24} {cell(a['J_at'], '.4g'):>30} "
                         f"{cell(a['fixed_seconds'], '.2f') if a['fixed_seconds'] else '-':>9}")
    if result["memory"]:
        lines += ["", "peak memory of a transfer (L-BFGS), fresh process",
                  f"{'size':>9} {'precision':10} {'before MiB':>10} {'peak MiB':>9} {'run MiB':>8} {'estimate':>9}"]
        for r in result["memory"]:
            size = f"{r['size'][0]}x{r['size'][1]}"
            if "error" in r:
                lines.append(f"{size:>9} {r['precision']:10} error: {r['error']}")
            else:
                gpu = f"  GPU peak {r['gpu_peak_mib']} MiB" if "gpu_peak_mib" in r else ""
                lines.append(f"{size:>9} {r['precision']:10} {r['before_mib']:10} {r['peak_mib']:9} "
                             f"{r['extra_mib']:8} {r['estimate_mib']:9}{gpu}")
    return "\n".join(lines)


def plot_benchmark(result, path) -> Path:
    """Save the cost-against-seconds curves of the quality runs (log scale, target dashed) as an image."""
    from matplotlib.figure import Figure

    q = result["quality"]
    fig = Figure(figsize=(8, 4.5), dpi=100, layout="constrained")
    ax = fig.subplots()
    for r in q["methods"]:
        t, J = np.array(r["curve"]).T if r["curve"] else ([], [])
        line, = ax.plot(t, J, label=f"{r['method']}: " + (f"{r['seconds_to_target']:.0f} s" if r["reached"]
                                                            else "not reached"))
        if r["reached"]:
            ax.plot([r["seconds_to_target"]], [q["target_J"]], "o", color=line.get_color())
    ax.axhline(q["target_J"], color="black", ls="--", lw=1, label=f"target J = {q['target_J']:.4g}")
    ax.set_yscale("log")
    ax.set_xlabel("seconds (wall clock, from the start of each run)")
    ax.set_ylabel("total cost J (log scale)")
    ax.set_title(f"Time to the deeplearning.ai quality, {result['size'][0]}x{result['size'][1]}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=image_format(path)))
    return Path(path)


def bench_pictures(result, path) -> Path:
    """Save the picture each quality run returned, side by side, titled with its seconds and cost."""
    from matplotlib.figure import Figure

    runs = result["quality"]["methods"]
    cols = min(3, len(runs))
    rows = -(-len(runs) // cols)
    h, w = np.shape(runs[0]["image"])[:2]
    fig = Figure(figsize=(cols * w / 100 + 0.2 * cols, rows * (h / 100 + 0.55) + 0.4), dpi=100,
                 layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, r in zip(axes, runs):
        ax.imshow(r["image"])
        sec = f"{r['seconds_to_target']:.1f} s" if r["reached"] else f"{r['seconds']:.0f} s, not reached"
        ax.set_title(f"{r['method']}: {sec}, J = {r['J_float32']:.4g} (float32)", fontsize=9)
    fig.suptitle("each method's picture when it reached the deeplearning.ai cost (dlai: after its iterations)",
                 fontsize=10)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=image_format(path)))
    return Path(path)

