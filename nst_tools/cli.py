"""The command line: ``python3 nst_utils.py stylize | bench | download-weights`` (also ``nst ...``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import tensorflow as tf

from nst_tools.bench import (
    BENCH_DEFAULT,
    BENCH_METHODS,
    BENCH_SIZE,
    MEMORY_ITERATIONS,
    MEMORY_SIZES,
    bench_pictures,
    benchmark,
    format_benchmark,
    plot_benchmark,
    plot_memory,
)
from nst_tools.download import SOURCES, download_weights, probe_writable
from nst_tools.fast import PRECISIONS, TooLargeError, check_memory, content_size, scale_plan
from nst_tools.further import (
    PRESERVE_COLORS,
    AnimationRecorder,
    check_animation_path,
    style_target_size,
    stylize,
    timestamped_path,
)
from nst_tools.start import add_parser as add_start_parser
from nst_tools.start import main as start_main
from nst_tools.transfer import OPTIMIZERS, TransferSettings, normalize_style_weights
from nst_utils import (
    DEFAULT_WEIGHTS,
    IMAGES_DIR,
    ITERATIONS,
    KERAS_WEIGHTS,
    NSTError,
    image_format,
    load_image,
    load_vgg_model,
    open_rgb,
    resolve_weights_path,
    save_image,
)


class _Formatter(argparse.HelpFormatter):
    """--help: every option that has a default ends with it (unless its help says it already)."""

    def _get_help_string(self, action):
        text, default = action.help or "", action.default
        if not action.option_strings or "default" in text or any(default is v for v in (None, False, argparse.SUPPRESS)):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else default
        return f"{text} (default {shown})"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line on stderr (``last_error``: that line's message)."""

    last_error = None

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        _Parser.last_error = message
        self.exit(2, f"{self.prog}: error: {message}\n")


def _int_at_least(low):
    """argparse type: a whole number >= ``low``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    return parse


def _float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value < 0 or value > float(np.finfo(np.float32).max):  # the run is in float32
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def parse_size(text):
    """``"300x400"`` -> ``(300, 400)`` as (height, width); raises NSTError on anything else."""
    try:
        h, w = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise NSTError(f"size must look like HEIGHTxWIDTH, for example 300x400, not {text!r}") from None
    if h < 1 or w < 1 or h > 10000 or w > 10000:
        raise NSTError(f"size {text!r} is out of range: each side must be between 1 and 10000 pixels")
    return h, w


def _size(text):
    try:
        return parse_size(text)
    except NSTError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _scales(text):
    """argparse type for --scales: a count ("3") or fractions, each optionally with its iterations
    ("0.5,1" or "0.25:20,0.5:10,1"); scale_plan checks them against --iterations."""
    try:
        if text == "auto":
            return text
        if "," not in text and "." not in text and ":" not in text:
            return int(text)
        value = [tuple(float(v) if k == 0 else int(v) for k, v in enumerate(item.split(":")))
                 for item in text.split(",")]
        if any(len(v) not in (1, 2) for v in value):
            raise ValueError
        value = [v if len(v) == 2 else v[0] for v in value]
        scale_plan(value, sum(v[1] for v in value if isinstance(v, tuple)))  # the fractions (--iterations: later)
    except (ValueError, NSTError) as exc:
        raise argparse.ArgumentTypeError(str(exc) if isinstance(exc, NSTError) else
                                         f"expected a number of scales or fractions like 0.25,0.5,1 or "
                                         f"0.25:20,0.5:10,1 (fraction:iterations), not {text!r}") from None
    return value


def _sides(text):
    """argparse type for bench --memory-sizes: comma-separated longest sides, each a whole number >= 16."""
    try:
        sides = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        sides = []
    if not sides or min(sides) < 16:
        raise argparse.ArgumentTypeError(f"expected longest sides in pixels, each 16 or more, like 512,1024, "
                                         f"not {text!r}")
    return sides


def build_parser():
    """The ``nst_utils.py`` command line (``nst`` when run as the console script)."""
    samples = ", ".join(sorted(p.name for p in IMAGES_DIR.glob("*.jpg")))
    parser = _Parser(prog=_prog(), description="Neural style transfer (Gatys et al.) on VGG19.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    st = sub.add_parser("stylize", help="paint CONTENT in the style of STYLE",
                        epilog=f"An image name not found in the current folder is looked up among the sample "
                               f"images ({IMAGES_DIR}): {samples}.")
    st.add_argument("content", help="content image (any format Pillow reads, or a sample image's name)")
    st.add_argument("style", nargs="+", help="style image(s); several are blended (see --style-weights)")
    st.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, ...)")
    st.add_argument("--weights", help=f"VGG weights: MatConvNet .mat or Keras .h5 (default: $NST_VGG_PATH, else the "
                                      f".mat or .h5 in {DEFAULT_WEIGHTS.parent})")
    size = st.add_mutually_exclusive_group()
    size.add_argument("--size", type=_size, help="exact output size HxW (the aspect may change)")
    size.add_argument("--max-size", type=_int_at_least(1), default=400,
                      help="longest side in pixels, keeping the content's aspect")
    d = TransferSettings()  # the library's defaults, written once there (crowsonkb's cli.py does the same)
    st.add_argument("--iterations", type=_int_at_least(0), default=d.iterations, help="optimisation steps, all scales")
    st.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help="Adam or L-BFGS")
    st.add_argument("--alpha", type=_float, default=d.alpha, help=f"content weight (default {d.alpha:g})")
    st.add_argument("--beta", type=_float, default=d.beta, help=f"style weight (default {d.beta:g})")
    st.add_argument("--tv-weight", type=_float, default=d.tv_weight, help=f"total variation weight (default {d.tv_weight:g})")
    st.add_argument("--lr", type=_float, default=d.lr, help=f"Adam learning rate (default {d.lr:g})")
    st.add_argument("--init", choices=TransferSettings.INITS, default=d.init,
                    help="start image: the assignment's noisy content, the content, or the content in the "
                         "style's colours (the fastest to a low cost)")
    st.add_argument("--pooling", choices=["avg", "max"], default="avg", help="VGG's pooling layers")
    st.add_argument("--seed", type=_int_at_least(0), default=d.seed, help="seed of the noise (default: random)")
    st.add_argument("--json", action="store_true", help="print a JSON summary as the last line of stdout")
    st.add_argument("--quiet", action="store_true", help="no progress bar")
    st.add_argument("--scales", type=_scales, metavar="N|F,F,...",
                    help="coarse to fine: auto (halve down to a 192 px longest side, 10%% of the "
                         "iterations per coarse scale), N scales doubling up to the size (3: 1/4, 1/2, 1) "
                         "or fractions like 0.5,1, each optionally with its iterations (0.25:20,0.5:10,1); "
                         "the iterations left are split equally (default: one scale)")
    st.add_argument("--precision", choices=PRECISIONS, default="auto",
                    help="bfloat16 convolutions (Gram matrices and costs stay float32), float32, or auto: "
                         "bfloat16 where the hardware has it (default auto)")
    fx = st.add_argument_group("going further")
    fx.add_argument("--style-weights", type=_float, nargs="+", metavar="W",
                    help="blend weights, one per STYLE, >= 0 (normalised to sum 1; default equal)")
    fx.add_argument("--style-scale", type=_float, default=1.0, metavar="S",
                    help="resize the style(s) to S x the content's size: > 1 bigger strokes (default 1)")
    fx.add_argument("--preserve-colors", choices=PRESERVE_COLORS,
                    help="keep the content's colours: stylise the luminance only, or recolour the style first")
    fx.add_argument("--animation", metavar="PATH", help="also write the run as an animated .gif or .mp4")
    fx.add_argument("--animation-every", type=_int_at_least(1), metavar="N",
                    help="one animation frame every N iterations (default 10)")

    bn = sub.add_parser("bench", help="speed benchmark: step against its floor, time to quality, memory")
    bn.add_argument("--weights", help="VGG .mat/.h5 for the step and memory timings (default as for stylize)")
    bn.add_argument("--quality-weights", help="VGG .mat/.h5 for the time-to-quality runs (default --weights)")
    bn.add_argument("--size", type=_size, default=BENCH_SIZE, help="HxW (default {}x{})".format(*BENCH_SIZE))
    bn.add_argument("--iterations", type=_int_at_least(1), default=ITERATIONS,
                    help=f"iterations of the deeplearning.ai run that sets the target (default {ITERATIONS})")
    bn.add_argument("--methods", default=",".join(BENCH_DEFAULT),
                    help=f"comma-separated, from {', '.join(BENCH_METHODS)} (dlai always runs; "
                         f"default {','.join(BENCH_DEFAULT)})")
    bn.add_argument("--parts", default="step,quality,memory", help="comma-separated: step, quality, memory")
    bn.add_argument("--content", help="content image (default: the sample chelsea.jpg)")
    bn.add_argument("--style", help="style image (default: the sample style_swirls.jpg)")
    bn.add_argument("--plot", metavar="PATH", help="save the cost-against-seconds plot here")
    bn.add_argument("--pictures", metavar="PATH", help="save each method's picture, side by side, here")
    bn.add_argument("--memory-sizes", type=_sides, default=list(MEMORY_SIZES), metavar="N,N,...",
                    help="longest sides of the content for the memory part, a coarse-to-fine transfer at each "
                         f"(default {','.join(map(str, MEMORY_SIZES))})")
    bn.add_argument("--memory-iterations", type=_int_at_least(2), default=MEMORY_ITERATIONS, metavar="N",
                    help=f"iterations at each scale of the memory part's transfers (default {MEMORY_ITERATIONS})")
    bn.add_argument("--memory-optimizers", default="lbfgs", metavar="lbfgs,adam",
                    help="comma-separated optimisers of the memory part (default lbfgs)")
    bn.add_argument("--memory-plot", metavar="PATH",
                    help="save the memory part's time and peak memory against the pixel count here")
    bn.add_argument("--repeats", type=_int_at_least(1), default=5, help="timing repeats (best is kept)")
    bn.add_argument("--quick", action="store_true", help="2 repeats and no memory part (for tests)")
    bn.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the noisy start")
    bn.add_argument("--seeds", type=_int_at_least(1), default=1,
                    help="run the quality part from N seeds (from --seed) and report median and spread")
    bn.add_argument("--pairs", metavar="C:S,C:S,...|samples",
                    help="content:style pairs for the quality part (samples: the 3 sample pairs); with "
                         "--seeds, each pair from each seed")
    bn.add_argument("--json", action="store_true", help="print the result as one JSON line at the end")

    dl = sub.add_parser("download-weights", help="fetch imagenet-vgg-verydeep-19.mat, or Keras's VGG19 .h5 with "
                        "--source keras (resumable, MD5-checked)")
    dl.add_argument("--source", choices=sorted(SOURCES), default="matconvnet",
                    help=f"matconvnet: {DEFAULT_WEIGHTS.name} (535 MB); keras: {KERAS_WEIGHTS.name} (80 MB)")
    dl.add_argument("--output", help=f"where to put the file (default: {DEFAULT_WEIGHTS.parent}, the source's "
                    "file name; $NST_DATA_DIR sets the folder)")
    dl.add_argument("--url", help="where to fetch it (default: the source's)")
    dl.add_argument("--md5", help="expected MD5 ('' to skip the check; default: the source's)")
    dl.add_argument("--size", type=_int_at_least(0), help="expected size in bytes (0: unknown; default: the source's)")
    dl.add_argument("--quiet", action="store_true", help="no progress bar")
    add_start_parser(sub)  # python3 nst_utils.py start: nst_tools/start.py
    return parser


class _Signals:
    """SIGINT, SIGTERM and SIGHUP alike: before the run they raise KeyboardInterrupt (nothing to save yet);
    once ``running`` they only set ``stop``, so the run ends after its step and its best image is saved.

    ``program``: the process ends when the command does, so instead of restoring the old handlers (whose
    default would kill it with 143/129 while Python shuts down) a late signal ends it at once with 130,
    what was printed flushed first."""

    def __init__(self, program=False):
        self.stop, self.running, self.old, self.program, self.code = threading.Event(), False, {}, program, None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGINT", "SIGTERM", "SIGHUP"):  # one ignored (nohup, a background job) stays so
                if hasattr(signal, name) and signal.getsignal(getattr(signal, name)) is not signal.SIG_IGN:
                    self.old[name] = signal.signal(getattr(signal, name), self._handle)
        return self

    def __exit__(self, *exc):
        if self.program:
            for stream in (sys.stdout, sys.stderr):
                _say("", stream)  # flush what is buffered: os._exit below would lose it
        for name, handler in self.old.items():
            signal.signal(getattr(signal, name), self._late if self.program else
                          signal.SIG_DFL if handler is None else handler)

    def _late(self, signum, frame):
        if self.code == 0:  # the work is done and saved: say why the status is not 0
            _say(f"{_prog()}: interrupted while exiting (everything was saved)\n", sys.stderr)
        os._exit(130 if self.code in (0, 130, None) else self.code)

    def _handle(self, signum, frame):
        self.stop.set()
        if not self.running:
            raise KeyboardInterrupt


def _prog():
    """What the program calls itself: ``nst`` when run as the console script, else ``nst_utils.py``."""
    name = Path(sys.argv[0] if sys.argv and sys.argv[0] else "").name
    return "nst" if name in ("nst", "nst.exe") else "nst_utils.py"


def _say(text, stream):
    """Write ``text`` to ``stream`` and flush; a closed one (a dead terminal, a closed pipe) is pointed at
    /dev/null instead, so that nothing later (a save, the exit status, Python's last flush) depends on it."""
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        except (OSError, ValueError):
            pass
        return False
    return True


def _same_file(a, b) -> bool:
    """Whether paths ``a`` and ``b`` name one file (links, ``./``, ``..``, case on case-insensitive disks)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _check_output(path, flag, inputs=()):
    """NSTError naming ``flag`` unless a file can be written at ``path`` without destroying an input."""
    path = Path(path)
    try:
        longest = os.pathconf(path.parent if path.parent.is_dir() else ".", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        longest = 255
    if len(os.fsencode(path.name)) > longest or len(os.fsencode(os.path.abspath(path))) > 4000:
        raise NSTError(f"{flag} name is too long ({len(path.name)} characters; at most {longest} here): "
                       "give a shorter name")
    for source in inputs:
        if source is not None and _same_file(path, source):
            raise NSTError(f"{flag} {path} is the input {source}: it would be overwritten; give another name")
    if path.is_dir():
        raise NSTError(f"{flag} {path} is a directory: give a file name")
    if not path.parent.is_dir():
        raise NSTError(f"output folder does not exist: {path.parent}")
    try:  # can a file be made there?
        probe_writable(path.parent)
    except OSError as exc:
        raise NSTError(f"cannot write {flag} {path}: {exc.strerror or exc} in {path.parent}") from None
    return path


def _inputs(args):
    """Every file the command reads (images and weights, defaults included): no output may overwrite one."""
    if args.command == "stylize":
        return [args.content, *args.style, resolve_weights_path(args.weights)]
    return [resolve_weights_path(args.weights), resolve_weights_path(args.quality_weights or args.weights),
            args.content or IMAGES_DIR / "chelsea.jpg", args.style or IMAGES_DIR / "style_swirls.jpg"]


def _check_figure(path, flag, inputs=()):
    """NSTError naming ``flag`` unless matplotlib can save a figure as ``path``'s format (a tiny real save)."""
    import io

    from matplotlib.figure import Figure

    try:
        Figure(figsize=(0.2, 0.2)).savefig(io.BytesIO(), format=image_format(path))
    except (ValueError, NSTError):
        raise NSTError(f"cannot write {flag} {Path(path).name!r}: use .png, .jpg or .pdf") from None
    return _check_output(path, flag, inputs)


def _save(write, path, problems):
    """``write(path)``; if that fails, ``write`` a copy in the temp folder and add a line to ``problems``.

    A writer that failed may fail again in its destructor (imageio's does): the line in ``problems`` says
    it already, so Python's "Exception ignored in ..." traceback is not printed."""
    import gc

    hook, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
    try:
        return _save_or_keep(write, path, problems)
    finally:
        gc.collect()  # the failed writer's destructor runs now, under the quiet hook
        sys.unraisablehook = hook


def _save_or_keep(write, path, problems):
    try:
        return write(path)
    except (OSError, ValueError, NSTError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        try:
            kept = write(timestamped_path(tempfile.gettempdir(), f"{Path(path).stem[:60]}-unsaved", Path(path).suffix))
            problems.append(f"could not save {path} ({why}); kept it as {kept} instead")
            return kept
        except (OSError, ValueError, NSTError) as again:
            problems.append(f"could not save {path} ({why}), nor a copy in {tempfile.gettempdir()} ({again})")


def _json(value):
    """``value`` with non-finite floats as None, so that it is strict JSON."""
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _sample(path):
    """``path``, or the sample image of that name when there is no such file here (``nst stylize chelsea.jpg``)."""
    if path is None or Path(path).exists() or not (IMAGES_DIR / Path(path).name).is_file() or Path(path).name != str(path):
        return path
    return str(IMAGES_DIR / path)


def _check_inputs(args):
    """The images: regular files whose header Pillow reads within its pixel limit (before any work)."""
    for path in [args.content, *args.style]:
        path = Path(path)
        if path.exists() and not path.is_file():
            raise NSTError(f"{path} is not a regular file: give an image file")
        if path.is_file():
            open_rgb(path, path, "use")  # decoded: NaN pixels are refused here, not after the model loads


def _check_further_args(args, out):
    """Check stylize's "going further" flags before any work; returns an AnimationRecorder or None."""
    if args.style_weights is not None:
        normalize_style_weights(args.style_weights, len(args.style))
    if args.animation is None:
        if args.animation_every is not None:
            raise NSTError("--animation-every needs --animation PATH (a .gif or .mp4 to write)")
        return None
    path = check_animation_path(args.animation)
    if _same_file(path, out):
        raise NSTError("--animation and --output name the same file: give the animation another name")
    _check_output(path, "--animation", _inputs(args))
    every = args.animation_every or 10
    if args.iterations < every:
        raise NSTError(f"--animation-every {every} is more than --iterations {args.iterations}: "
                       "the animation would have no frames")
    return AnimationRecorder(every)


def _cmd_stylize(args, signals):
    from tqdm import tqdm

    args.content, args.style = _sample(args.content), [_sample(p) for p in args.style]
    out = Path(args.output)
    image_format(out)
    _check_output(out, "--output", _inputs(args))
    _check_inputs(args)
    recorder = _check_further_args(args, out)
    try:
        scale_plan(args.scales, args.iterations)
    except NSTError as exc:
        raise NSTError(f"--scales with --iterations {args.iterations}: {exc}") from None
    if not args.alpha and not args.beta:
        raise NSTError("--alpha and --beta are both 0: nothing to optimise; give one of them a positive weight")
    if args.size is not None:  # an exact size instead of the default longest side
        args.max_size = None
    model = load_vgg_model(args.weights, pooling=args.pooling)
    check_memory(model, content_size(args.content, args.size, args.max_size), args.optimizer, args.precision)
    content = load_image(args.content, size=args.size, max_size=args.max_size)
    style_size = style_target_size(content.shape[:2], args.style_scale)
    styles = [load_image(path, size=style_size) for path in args.style]
    bar = tqdm(total=args.iterations, unit="it", disable=args.quiet, file=sys.stderr)

    def progress(i, costs, _image):
        try:
            bar.update(i - bar.n)
            bar.set_postfix(J=f"{costs['J']:.4g}")
        except (OSError, ValueError):  # the terminal is gone: the run goes on without its bar
            bar.disable = True
            _say("", sys.stderr)

    signals.running = True
    try:
        result = stylize(model, content, styles, style_weights=args.style_weights,
                         preserve_colors=args.preserve_colors, recorder=recorder,
                         iterations=args.iterations, optimizer=args.optimizer,
                         alpha=args.alpha, beta=args.beta, lr=args.lr, init=args.init,
                         seed=args.seed, tv_weight=args.tv_weight, callback=progress,
                         callback_every=1, scales=args.scales, precision=args.precision,
                         stop_event=signals.stop)
    finally:
        try:
            bar.close()  # a message after this starts its own line
        except (OSError, ValueError):
            _say("", sys.stderr)
    interrupted = result.stopped != "finished" or signals.stop.is_set()
    if signals.stop.is_set():  # the run saw our stop request: it came from a signal
        result = dataclasses.replace(result, stopped="interrupted")
    if interrupted and not result.iterations:
        raise KeyboardInterrupt  # before the first iteration: nothing worth saving
    problems = []
    saved = _save(lambda p: save_image(p, result.image), out, problems)
    extra = {}
    if recorder is not None and len(recorder):
        extra = {"animation": str(_save(recorder.save, args.animation, problems)), "animation_frames": len(recorder)}
    interrupted = interrupted or signals.stop.is_set()  # a signal while saving: saved, and said so
    if args.json:
        _say(json.dumps(_json({"output": str(saved), "size": list(content.shape[:2]), **result.summary(), **extra}),
                        allow_nan=False) + "\n", sys.stdout)
    elif not problems:
        _say(f"saved {out} ({content.shape[0]}x{content.shape[1]}, {result.iterations} iterations, "
             f"{result.seconds:.1f} s, J = {result.J:.6g})\n", sys.stdout)
    if problems:
        raise NSTError("; ".join(problems))
    if interrupted:
        _say(f"{_prog()} stylize: interrupted: saved the best image so far to {out} "
             f"({result.iterations} iterations, J = {result.J:.6g})\n", sys.stderr)
        return 130
    return 0


def _cmd_bench(args):
    args.content, args.style = _sample(args.content), _sample(args.style)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    bad = [m for m in methods if m not in BENCH_METHODS] + [p for p in parts if p not in ("step", "quality", "memory")]
    if bad:
        raise NSTError(f"unknown method or part: {', '.join(bad)}; methods: {', '.join(BENCH_METHODS)}; "
                       "parts: step, quality, memory")
    optimizers = [o.strip() for o in args.memory_optimizers.split(",") if o.strip()]
    if not optimizers or any(o not in OPTIMIZERS for o in optimizers):
        raise NSTError(f"--memory-optimizers takes {' and/or '.join(OPTIMIZERS)}, comma-separated, "
                       f"not {args.memory_optimizers!r}")
    if args.memory_plot is not None and ("memory" not in parts or args.quick):
        raise NSTError("--memory-plot needs the memory part (--parts ...,memory, without --quick)")
    for flag, path in (("--plot", args.plot), ("--pictures", args.pictures), ("--memory-plot", args.memory_plot)):
        if path is not None:
            _check_figure(path, flag, _inputs(args))
    if args.quick:
        parts = [p for p in parts if p != "memory"]
    tf.get_logger().setLevel("ERROR")  # the runs build many tf.functions: no retracing warnings
    pairs = args.pairs if args.pairs in (None, "samples") else \
        [tuple(_sample(p) for p in pair.split(":")) for pair in args.pairs.split(",") if pair]
    if pairs not in (None, "samples"):
        bad = [p for p in pairs if len(p) != 2 or not all(p)]
        if bad:
            raise NSTError(f"--pairs takes content:style pairs separated by commas, or samples, not {args.pairs!r}")
        for path in (q for p in pairs for q in p):
            if not Path(path).is_file():
                raise NSTError(f"--pairs: {path} is not a file")
    result = benchmark(args.weights, args.quality_weights, args.size, args.iterations, methods, parts,
                       args.content, args.style, 2 if args.quick else args.repeats, args.seed, args.memory_sizes,
                       log=lambda *a: print(*a, file=sys.stderr, flush=True), seeds=args.seeds, pairs=pairs,
                       memory_iterations=args.memory_iterations, memory_optimizers=optimizers)
    problems = []
    if args.memory_plot and any("error" not in r for r in result["memory"]):
        result["memory_plot"] = str(_save(lambda p: plot_memory(result, p), args.memory_plot, problems))
    elif args.memory_plot:
        problems.append(f"no memory row was measured: {args.memory_plot} not written")
    if result["quality"] is not None:
        if args.plot:
            result["plot"] = str(_save(lambda p: plot_benchmark(result, p), args.plot, problems))
        if args.pictures:
            result["pictures"] = str(_save(lambda p: bench_pictures(result, p), args.pictures, problems))
    print(format_benchmark(result))
    if args.json:
        for r in (result["quality"] or {}).get("methods", []):
            r.pop("image")
        print(json.dumps(_json(result), allow_nan=False))
    if problems:
        raise NSTError("; ".join(problems))
    return 0


def main(argv=None):
    """Entry point of ``python nst_utils.py`` and ``nst``; returns the exit status (``argv=None``, the program:
    exits with it, see _Signals)."""
    as_json = "--json" in (sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        if as_json and exc.code:
            _say(json.dumps({"error": _Parser.last_error, "status": exc.code}) + "\n", sys.stdout)
        raise
    with _Signals(program=argv is None) as signals:
        signals.code = _run(args, signals)
    if signals.program:  # no interpreter shut-down: it would reset the handlers, and a signal then kill us
        os._exit(signals.code)
    return signals.code


def _run(args, signals):
    """Run the command ``args`` names; its exit status (errors and interrupts as one line on stderr)."""
    try:
        if args.command == "stylize":
            return _cmd_stylize(args, signals)
        if args.command == "bench":
            return _cmd_bench(args)
        if args.command == "start":
            return start_main(args)
        path = download_weights(args.output, args.url, args.md5, args.size, progress=not args.quiet,
                                source=args.source)
        _say(f"saved {path}\n", sys.stdout)
        return 0
    except NSTError as exc:
        hint = f" (--max-size {exc.max_size})" if isinstance(exc, TooLargeError) and exc.max_size else ""
        return _fail(args, 1, f"{exc}{hint}", f"{_prog()} {args.command}: error: {exc}{hint}")
    except KeyboardInterrupt:
        then = {"stylize": "; nothing was saved", "download-weights": "; run it again to resume"}
        why = f"interrupted{then.get(args.command, '')}"
        return _fail(args, 130, why, f"{_prog()} {args.command}: {why}")


def _fail(args, status, error, line):
    """``line`` on stderr; with --json also ``{"error", "status"}`` as the last line of stdout. Returns ``status``."""
    if getattr(args, "json", False):
        _say(json.dumps({"error": error, "status": status}) + "\n", sys.stdout)
    _say(line + "\n", sys.stderr)
    return status

