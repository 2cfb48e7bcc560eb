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
    content_size,
    default_layers,
    estimate_memory,
    layer_shapes,
    scaled_size,
)
from nst_tools.transfer import TransferSettings, cost_function, forget_targets, run_transfer, transfer_steps
from nst_utils import (
    IMAGES_DIR,
    ITERATIONS,
    ROOT,
    STYLE_LAYERS,
    NSTError,
    atomic_write,
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
    "colours": ("L-BFGS from the content in the style's colours, float32",
                TransferSettings(optimizer="lbfgs", init="colours")),
    "colours-bf16": ("L-BFGS from the content in the style's colours, bfloat16",
                     TransferSettings(optimizer="lbfgs", precision="bfloat16", init="colours")),
    "c2f-colours-bf16": ("L-BFGS coarse to fine from the content in the style's colours, bfloat16",
                         TransferSettings(optimizer="lbfgs", scales="auto", precision="bfloat16", init="colours")),
}


#: The methods the benchmark runs by default (adam-bf16 takes as long as dlai: ask for it).
#: The benchmark's picture size (the assignment's 300x400), (height, width).
BENCH_SIZE = (300, 400)
BENCH_DEFAULT = ["dlai", "lbfgs", "lbfgs-bf16", "c2f", "c2f-bf16", "colours", "colours-bf16", "c2f-colours-bf16"]


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
    a whole Adam iteration and of an L-BFGS iteration of one evaluation (best of ``repeats`` + 1, each
    timed right after one more call of the floor, so that a change in the machine's speed reaches both)."""
    images = _synthetic_images(size)
    content, style = (preprocess(im, model.mean) for im in images)
    layers = default_layers(model)
    cost = cost_function(model, content, style, precision=precision)
    floor = step_floor(model, layers, precision)
    x = tf.constant(generate_noise_image(content, 0.6, 0))
    cost(x)[0].numpy(), floor(x)[0].numpy()  # compile both

    def floor_once():
        floor(x)[1].numpy()

    steps, floors = [], []
    for _ in range(repeats):
        steps.append(_seconds(lambda: cost(x)[3].numpy()))
        floors.append(_seconds(floor_once))
    iterations = {o: _iteration_seconds(model, images, o, precision, floor_once, floors, repeats)
                  for o in ("adam", "lbfgs")}
    step_s, floor_s, flops = min(steps), min(floors), step_flops(model, size, layers)
    row = {"precision": precision, "step_ms": round(1000 * step_s, 3), "floor_ms": round(1000 * floor_s, 3),
           "step_over_floor": round(step_s / floor_s, 3), "gflop": round(flops / 1e9, 2),
           "step_gflops": round(flops / step_s / 1e9, 1), "layers": layers}
    for optimizer, seconds in iterations.items():
        row[f"{optimizer}_ms"] = round(1000 * min(seconds), 1)
        row[f"{optimizer}_over_floor"] = round(min(seconds) / floor_s, 3)
    return row


def _iteration_seconds(model, images, optimizer, precision, floor, floors, repeats) -> list:
    """Seconds of each of ``repeats`` + 1 iterations of ``optimizer`` (the default settings, from the noisy
    content) after its first (tracing, targets), each timed right after one call of ``floor``, whose
    seconds are appended to ``floors``. L-BFGS: only the iterations of one evaluation (its line search took
    the first trial step), all of them if none was."""
    s = TransferSettings(optimizer=optimizer, precision=precision, iterations=10 * (repeats + 2), seed=0)
    steps = transfer_steps(model, images[0], [images[1]], s)
    seen, one, every = next(steps)[4]["evaluations"], [], []
    while len(one) <= repeats:
        floors.append(_seconds(floor))
        t0 = time.perf_counter()
        step = next(steps, None)
        if step is None:  # converged
            break
        float(step[0])
        every.append(time.perf_counter() - t0)
        if step[4]["evaluations"] - seen == 1:
            one.append(every[-1])
        seen = step[4]["evaluations"]
    return one or every


def evaluations_to(steps, target):
    """Follow ``steps`` (transfer_steps) until the cost at the full size first reaches ``target``: {"iterations",
    "evaluations", "full_size_evaluations" (a coarse scale's evaluation counted by its pixels: a quarter at half
    the size), "J"}, a count that does not depend on the load; None if the steps end first."""
    work, seen = 0.0, 0
    for i, (J, _, _, _, info) in enumerate(steps, 1):
        f = info.get("scale", 1.0)
        work, seen = work + (info["evaluations"] - seen) * f * f, info["evaluations"]
        if f == 1.0 and float(J) <= target:
            return {"iterations": i, "evaluations": seen, "full_size_evaluations": round(work, 1), "J": round(float(J))}
    return None


def _stop_at(targets, shape, stop, j_at=None):
    """A callback that notes the wall time of every iteration, when the cost at full size first reaches
    each of ``targets``, and J at iteration ``j_at``; it sets ``stop`` once all are known. ``hits``: one
    {"iteration", "seconds"} per target, empty until it is reached."""
    hits, marks = [{} for _ in targets], {"times": []}

    def callback(iteration, costs, image):
        marks["times"].append(time.perf_counter())
        for hit, target in zip(hits, targets):
            if not hit and image.shape == shape and costs["J"] <= target:
                hit.update(iteration=iteration, seconds=costs["seconds"])
        if iteration == j_at:
            marks["J_at"] = costs["J"] if image.shape == shape else None
        if all(hits) and (j_at is None or iteration >= j_at):
            stop.set()

    return callback, hits, marks


def bench_method(model, content, style, method, iterations=ITERATIONS, target=None, seed=0, j_at=None) -> dict:
    """Run one BENCH_METHODS method from its start (the same noisy start; the "colours" ones from the
    content in the style's colours); stop once the cost at full size reaches ``target`` (None: run all
    ``iterations``) and, with ``j_at``, once J after ``j_at`` iterations is known. Returns seconds and
    iterations to the target, the fixed cost (``fixed_seconds``: the time to the first iteration, less one
    iteration at that scale: tracing, targets, the first evaluation) and the
    per-iteration cost at full size, the cost curve at full size [(seconds, J)], the image, J of that
    image re-measured in float32, and the cost evaluations (all scales; Adam: one per iteration, L-BFGS:
    its line searches')."""
    run, hits = _run_method(model, content, style, method, iterations, None if target is None else [target],
                            seed, j_at)
    return _reaching(run, hits[0])


def seeded(method) -> bool:
    """Whether ``method``'s start depends on the seed (the noisy content); the others (the colours start) run
    the same steps from every seed."""
    return BENCH_METHODS[method][1].init == "noise"


def _reaching(run, hit) -> dict:
    """``run`` (see _run_method) with what it says of one target: reached, seconds and iterations to it."""
    return {**run, "reached": bool(hit), "seconds_to_target": hit.get("seconds"),
            "iterations_to_target": hit.get("iteration")}


def _run_method(model, content, style, method, iterations, targets, seed, j_at):
    """bench_method's run, to every one of ``targets``: (the run's numbers, one {"iteration", "seconds"} per
    target, empty if not reached). ``targets`` None (the reference): all ``iterations``, and the one hit is
    the time at which it first reached its own best cost."""
    import threading

    s = BENCH_METHODS[method][1]
    auto = auto_scales(content.shape[:2], 10 * BENCH_COARSE) if s.scales == "auto" else None
    coarse = [(f, BENCH_COARSE) for f, _ in (auto or [])[:-1]]
    stop = threading.Event()
    callback, hits, marks = _stop_at(targets or [np.inf], content.shape, stop, j_at)
    total = iterations + sum(n for _, n in coarse)
    s = dataclasses.replace(s, iterations=total, seed=seed, scales=[*coarse, (1.0, iterations)] if coarse else None)
    forget_targets(model)  # each method computes its own, as a command would (the others' are kept)
    t0 = time.perf_counter()
    r = run_transfer(model, content, style, s, callback=callback, callback_every=1,
                     stop_event=stop if targets is not None else None)
    if r.stopped == "interrupted":  # Ctrl-C or a signal: a cut run would be a wrong target or time, so stop
        raise KeyboardInterrupt
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
    if targets is None:
        best = next((h for h in final if h["J"] == r.J), None)
        hits = [{"iteration": best["iteration"], "seconds": best["seconds"]} if best else {}]
    return {"method": method, "description": BENCH_METHODS[method][0],
            "iterations": r.iterations, "seconds": round(r.seconds, 2), "J": r.J, "J_float32": J32,
            "J_at": marks.get("J_at"), "j_at": j_at,
            "first_iteration_seconds": round(first, 3) if first is not None else None,
            "fixed_seconds": round(fixed, 3) if fixed is not None else None,
            "evaluations": r.evaluations,
            "evaluations_per_iteration": round(r.evaluations / r.iterations, 3) if r.iterations else None,
            "ms_per_iteration": round(1000 * float(np.median(steps)), 1) if len(steps) else None,
            "curve": [[h["seconds"], h["J"]] for h in final], "image": r.image}, hits


#: The memory part ("as work grows"): a coarse-to-fine transfer (the fractions of scales="auto") of the content
#: at each longest side in MEMORY_SIZES, MEMORY_ITERATIONS iterations at every scale, in a fresh process each.
MEMORY_SIZES, MEMORY_ITERATIONS = (512, 1024, 2048), 3


def _status_mib(key) -> float:
    """This process's /proc/self/status ``key`` (VmRSS, VmHWM) in MiB; VmHWM is its own peak (ru_maxrss may
    carry the parent's over exec)."""
    return int(Path("/proc/self/status").read_text().split(key + ":")[1].split()[0]) / 1024


def memory_plan(size, iterations=MEMORY_ITERATIONS):
    """The scales of the memory part at ``size`` (H, W): those of scales="auto" (see fast.auto_scales),
    ``iterations`` at each; [(1.0, iterations)] where "auto" has one scale."""
    auto = auto_scales(size, 10**6) or [1.0]
    return [(float(f if not isinstance(f, tuple) else f[0]), int(iterations)) for f in auto]


def _memory_probe(weights, content, style, side, precision, optimizer, iterations=MEMORY_ITERATIONS):
    """Run in a fresh process: a coarse-to-fine transfer of ``content`` (longest side ``side``) in the style
    of ``style`` (at the content's size, as stylize loads it), ``memory_plan`` scales; prints one JSON line:
    seconds to load the weights, RSS before the run (weights and images loaded) and the peak RSS after it
    (MiB), and per scale its size, iterations, evaluations, median seconds per iteration, set-up seconds
    (from the scale before's last iteration, or the run's start, to its first, less one iteration: targets,
    tracing, the first evaluation and L-BFGS's first line search) and the peak RSS at its last iteration."""
    t0 = time.perf_counter()
    model = load_vgg_model(weights)
    load_s = time.perf_counter() - t0
    c = load_image(content, max_size=int(side))
    s = load_image(style, size=c.shape[:2])
    plan = memory_plan(c.shape[:2], iterations)
    marks = []
    callback = lambda i, costs, image: marks.append((time.perf_counter(), _status_mib("VmHWM")))  # noqa: E731
    before = _status_mib("VmRSS")
    start = time.perf_counter()
    r = run_transfer(model, c, s, iterations=sum(n for _, n in plan), optimizer=optimizer, precision=precision,
                     scales=plan if len(plan) > 1 else None, seed=0, callback=callback, callback_every=1)
    end = time.perf_counter()
    scales, last, done = [], start, 0
    for f, _ in plan:
        rows = [(h, m) for h, m in zip(r.history, marks) if h.get("scale", 1.0) == f]
        if not rows:
            continue
        times = [m[0] for _, m in rows]
        step = float(np.median(np.diff(times))) if len(times) > 1 else times[0] - last
        evaluations = rows[-1][0]["evaluations"] - done
        scales.append({"fraction": f, "size": list(scaled_size(c.shape[:2], f)), "iterations": len(rows),
                       "evaluations": evaluations, "seconds_per_iteration": round(step, 3),
                       "setup_seconds": round(times[0] - last - step, 3), "peak_mib": round(rows[-1][1][1])})
        last, done = times[-1], rows[-1][0]["evaluations"]
    seconds = end - start
    iterating = sum(k["iterations"] * k["seconds_per_iteration"] for k in scales)
    out = {"size": list(c.shape[:2]), "load_seconds": round(load_s, 3), "seconds": round(seconds, 3),
           "fixed_seconds": round(seconds - iterating, 3), "iterations": r.iterations, "scales": scales,
           "before_mib": round(before), "peak_mib": round(_status_mib("VmHWM"))}
    if tf.config.list_physical_devices("GPU"):  # the work ran there: its peak is the number that counts
        out["gpu_peak_mib"] = round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20)
    print(json.dumps(out))


def bench_memory(weights, side, precision="float32", optimizer="lbfgs", content=None, style=None,
                 iterations=MEMORY_ITERATIONS) -> dict:
    """Time and peak memory of a coarse-to-fine transfer at longest side ``side`` (see _memory_probe) in a
    fresh Python process, next to estimate_memory's estimate of the run's extra memory (peak less the RSS
    before the run) and their ratio."""
    import subprocess

    content = str(content or IMAGES_DIR / "chelsea.jpg")
    style = str(style or IMAGES_DIR / "style_swirls.jpg")
    model = load_vgg_model(weights)
    size = content_size(content, max_size=int(side))
    estimate = estimate_memory(model, size, optimizer, precision)
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); import nst_utils; from nst_tools import bench; "
            f"bench._memory_probe({str(weights)!r}, {content!r}, {style!r}, {int(side)}, {precision!r}, "
            f"{optimizer!r}, {int(iterations)})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    row = {"side": int(side), "size": list(size), "precision": precision, "optimizer": optimizer,
           "pixels": int(size[0] * size[1]), "estimate_mib": round(estimate / 2**20)}
    if done.returncode != 0:
        return {**row, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    extra = measured["peak_mib"] - measured["before_mib"]
    return {**row, **measured, "extra_mib": extra, "estimate_over_extra": round(row["estimate_mib"] / extra, 3)}


#: The content/style pairs of ``bench --pairs samples`` (images/, see images/CREDITS.md), and the iteration
#: whose cost the spread reports (J after BENCH_J_AT iterations).
BENCH_PAIRS = (("chelsea.jpg", "style_swirls.jpg"), ("coffee.jpg", "style_mosaic.jpg"),
               ("astronaut.jpg", "style_waves.jpg"))
BENCH_J_AT = 100


def bench_quality(model, content, style, names, iterations=ITERATIONS, seed=0, j_at=None, log=None) -> dict:
    """"dlai" runs ``iterations`` and its best cost is the target; each other method in ``names`` runs
    until it reaches that cost (at most 2 x ``iterations`` at full size) and, with ``j_at``, for at
    least ``j_at`` iterations; speedup = dlai's seconds / the method's."""
    return bench_seeds(model, content, style, names, iterations, [seed], j_at, log)[0]


def bench_seeds(model, content, style, names, iterations=ITERATIONS, seeds=(0,), j_at=None, log=None) -> list:
    """bench_quality from each of ``seeds`` on one pair: one result each. "dlai" runs from every seed, and
    each seed's target is its cost; a ``seeded`` method (a noisy start) runs from every seed to that
    seed's target; any other (the colours start, the same steps whatever the seed) runs once, until it
    has reached every seed's target, and each seed reads its own time off that run ("shared_run")."""
    log = log or (lambda *a: None)
    rows = []
    for seed in seeds:
        rows.append([bench_method(model, content, style, "dlai", iterations, None, seed, j_at)])
        log(f"dlai, seed {seed}: target J = {rows[-1][0]['J']:.6g} after {rows[-1][0]['seconds']} s")
    targets = [r[0]["J"] for r in rows]
    for name in [m for m in names if m != "dlai"]:
        if seeded(name):
            for row, seed, target in zip(rows, seeds, targets):
                row.append(bench_method(model, content, style, name, 2 * iterations, target, seed, j_at))
        else:
            run, hits = _run_method(model, content, style, name, 2 * iterations, targets, seeds[0], j_at)
            for row, hit in zip(rows, hits):
                row.append({**_reaching(run, hit), **({"shared_run": True} if len(seeds) > 1 else {})})
        log(f"{name}: " + ", ".join(f"{row[-1]['seconds_to_target']} s" for row in rows) + " to the target(s) "
            f"(fixed {rows[-1][-1]['fixed_seconds']} s)")
    out = []
    for row, target in zip(rows, targets):
        ref = row[0]["seconds_to_target"]
        row = [{**r, "speedup": round(ref / r["seconds_to_target"], 2) if r["reached"] else None} for r in row]
        reached = [r for r in row if r["reached"]]
        out.append({"target_J": target, "iterations": iterations, "methods": row,
                    "fastest": min(reached, key=lambda r: r["seconds_to_target"])["method"]})
    return out


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
    "seconds_to_target", "speedup", "J_at", "fixed_seconds", "ms_per_iteration"}}, and "shared_run" for a
    method that ran once a pair for all the seeds (see bench_seeds). A run that did not reach the target
    counts in "runs", not in the spread of its seconds or speedup."""
    out = {}
    for run in runs:
        for r in run["quality"]["methods"]:
            out.setdefault(r["method"], []).append(r)
    keys = ("seconds_to_target", "speedup", "J_at", "fixed_seconds", "ms_per_iteration")
    return {m: {"runs": len(rs), "reached": sum(r["reached"] for r in rs),
                **({"shared_run": True} if any(r.get("shared_run") for r in rs) else {}),
                **{k: spread(r[k] if r["reached"] or k not in ("seconds_to_target", "speedup") else None
                             for r in rs) for k in keys}}
            for m, rs in out.items()}


def benchmark(weights=None, quality_weights=None, size=BENCH_SIZE, iterations=ITERATIONS, methods=None,
              parts=("step", "quality", "memory"), content=None, style=None, repeats=5, seed=0,
              memory_sizes=MEMORY_SIZES, log=None, seeds=1, pairs=None, memory_iterations=MEMORY_ITERATIONS,
              memory_optimizers=("lbfgs",)) -> dict:
    """The speed benchmark: per-step cost against its floor, time to the deeplearning.ai quality, memory.

    step: bench_step for float32 (and bfloat16 where supported) at ``size`` on ``weights``, with this
    machine's matmul rate. quality: on ``quality_weights`` (default ``weights``), bench_quality on
    ``content`` and ``style`` (default chelsea, style_swirls) from ``seed``. With ``seeds`` > 1 or
    ``pairs`` (a list of (content, style) paths; "samples": BENCH_PAIRS), bench_seeds for every pair
    and each of ``seeds`` seeds from ``seed``, J after BENCH_J_AT iterations noted too: "spread" holds
    every run's numbers and their aggregate (median, quartiles, min, max); "quality" is the first run.
    memory: bench_memory for each optimiser in ``memory_optimizers``, longest side in ``memory_sizes`` (of
    ``content``, default chelsea) and precision: a coarse-to-fine transfer of ``memory_iterations`` at
    each scale, its time and peak memory in a fresh process, with the estimate. ``log``: print-like.
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
        runs, seed_list = [], list(range(seed, seed + seeds))
        for c_path, s_path in pairs:
            c, s = load_image(c_path, size=size), load_image(s_path, size=size)
            log(f"pair {Path(c_path).name} + {Path(s_path).name}, seeds {seed_list}")
            for k, q in zip(seed_list, bench_seeds(model, c, s, names, iterations, seed_list, j_at, log)):
                runs.append({"pair": [str(c_path), str(s_path)], "seed": k, "quality": q})
        out["quality"] = runs[0]["quality"]
        if many:
            keep = ("method", "reached", "seconds_to_target", "iterations_to_target", "speedup", "J_at",
                    "fixed_seconds", "ms_per_iteration", "J_float32", "shared_run")
            out["spread"] = {"j_at": j_at, "pairs": [list(map(str, p)) for p in pairs],
                             "seeds": seed_list, "methods": aggregate(runs),
                             "runs": [{"pair": r["pair"], "seed": r["seed"], "target_J": r["quality"]["target_J"],
                                       "methods": [{k: m[k] for k in keep if k in m}
                                                   for m in r["quality"]["methods"]]}
                                      for r in runs]}
    if "memory" in parts:
        out.update(memory_iterations=int(memory_iterations), memory_content=str(content or IMAGES_DIR / "chelsea.jpg"),
                   memory_style=str(style or IMAGES_DIR / "style_swirls.jpg"))
        for optimizer in memory_optimizers:
            for side in memory_sizes:
                for p in precisions:
                    row = bench_memory(weights, side, p, optimizer, out["memory_content"], out["memory_style"],
                                       memory_iterations)
                    out["memory"].append(row)
                    log(f"memory {optimizer} {side} px {p}: " + (row.get("error") or
                        f"{row['seconds']} s, run {row['extra_mib']} MiB, estimate {row['estimate_mib']} MiB"))
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
        shared = [m for m, a in sp["methods"].items() if a.get("shared_run")]
        if shared:
            lines.append(f"{', '.join(shared)}: no noise in the start, the same steps from every seed: one run a pair, "
                         "each seed's target read off it")
    if result["memory"]:
        lines += ["", "as work grows: a coarse-to-fine transfer in a fresh process, "
                      f"{result.get('memory_iterations', MEMORY_ITERATIONS)} iterations at each scale "
                      f"({Path(result.get('memory_content') or 'chelsea.jpg').name})",
                  f"{'size':>9} {'optimizer':9} {'precision':9} {'s/iteration at each scale (coarse to fine)':42} "
                  f"{'load s':>6} {'fixed s':>7} {'run s':>7} {'before':>6} {'peak':>6} {'run MiB':>7} "
                  f"{'estimate':>8} {'est/run':>7}"]
        for r in result["memory"]:
            size = f"{r['size'][0]}x{r['size'][1]}"
            head = f"{size:>9} {r['optimizer']:9} {r['precision']:9}"
            if "error" in r:
                lines.append(f"{head} error: {r['error']}")
                continue
            steps = ", ".join(f"{_fraction(k['fraction'])}: {k['seconds_per_iteration']:.2f}" for k in r["scales"])
            gpu = f"  GPU peak {r['gpu_peak_mib']} MiB" if "gpu_peak_mib" in r else ""
            lines.append(f"{head} {steps:42} {r['load_seconds']:6.1f} {r['fixed_seconds']:7.1f} {r['seconds']:7.1f} "
                         f"{r['before_mib']:6} {r['peak_mib']:6} {r['extra_mib']:7} {r['estimate_mib']:8} "
                         f"{r['estimate_over_extra']:7.0%}{gpu}")
        lines.append("fixed s: the run's seconds less its iterations (each scale's targets, tracing, first "
                     "evaluation, L-BFGS's first line search); run s = fixed s + the sum over the scales of "
                     "iterations x s/iteration")
        lines.append("before: RSS with the weights and images loaded (MiB); peak: the process's peak RSS; run MiB = "
                     "peak - before, what estimate_memory estimates (the check refuses a size whose estimate is "
                     "over the free memory)")
    return "\n".join(lines)


def _fraction(f) -> str:
    """A scale's fraction as 1, 1/2, 1/4 ... (or its decimal)."""
    return "1" if f == 1 else f"1/{round(1 / f)}" if float(1 / f).is_integer() else f"{f:g}"


def plot_memory(result, path) -> Path:
    """Save the memory part as an image: seconds per iteration at full size, the whole run's and its fixed
    cost (left), the run's peak memory measured and estimated (right), against the pixel count, log-log."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    rows = [r for r in result["memory"] if "error" not in r]
    if not rows:
        raise NSTError("the memory part has no measured row to plot")
    fig = Figure(figsize=(10, 4.2), dpi=100, layout="constrained")
    ax_t, ax_m = fig.subplots(1, 2)
    keys = list(dict.fromkeys((r["optimizer"], r["precision"]) for r in rows))
    for k, key in enumerate(keys):
        rs = sorted((r for r in rows if (r["optimizer"], r["precision"]) == key), key=lambda r: r["pixels"])
        px = np.array([r["pixels"] for r in rs]) / 1e6
        name, color = f"{key[0]} {key[1]}", f"C{k}"
        ax_t.plot(px, [r["scales"][-1]["seconds_per_iteration"] for r in rs], "o-", color=color,
                  label=f"{name}: s per iteration at full size")
        ax_t.plot(px, [r["seconds"] for r in rs], "s--", color=color, label=f"{name}: whole run")
        ax_t.plot(px, [r["fixed_seconds"] for r in rs], "^:", color=color, label=f"{name}: fixed cost")
        ax_m.plot(px, [r["extra_mib"] for r in rs], "o-", color=color, label=f"{name}: measured")
        ax_m.plot(px, [r["estimate_mib"] for r in rs], "x:", color=color, label=f"{name}: estimate")
    pixels = sorted({r["pixels"] / 1e6 for r in rows})
    for ax in (ax_t, ax_m):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(pixels, [f"{p:.2f}" for p in pixels])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("pixels at full size (millions, log scale)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="x-small")
        for side, px in {r["side"]: r["pixels"] for r in rows}.items():
            ax.annotate(f"{side} px", (px / 1e6, ax.get_ylim()[0]), fontsize=7, ha="center", va="bottom", alpha=0.6)
    ax_t.set_ylabel("seconds (wall clock, log scale)")
    ax_t.set_title(f"time: {result.get('memory_iterations', MEMORY_ITERATIONS)} iterations at each scale", fontsize=10)
    ax_m.set_ylabel("peak RSS less RSS before the run (MiB, log scale)")
    ax_m.set_title("memory of the run: measured peak and estimate_memory", fontsize=10)
    load = [(result["machine"].get(k) or ["?"])[0] for k in ("load_average", "load_average_after")]
    fig.suptitle(f"coarse to fine, {Path(result['weights']).name}, {result['machine']['cpus']} CPU cores, "
                 f"load average {load[0]} -> {load[1]}", fontsize=10)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=image_format(path)))
    return Path(path)


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

