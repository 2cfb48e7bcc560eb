"""The lab's state and logic: settings from widget values, the background runner, saves and films.

The widgets themselves are in nst_tools.lab_panel.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nst_tools.fast import MIN_SCALE_SIDE
from nst_tools.further import AnimationRecorder, timestamped_path
from nst_tools.transfer import TransferSettings, first_image, prepare, transfer_steps
from nst_utils import (
    IMAGES_DIR,
    NSTError,
    atomic_write,
    check_setting,
    deprocess,
    fit_size,
    follow,
    open_rgb,
    preprocess,
    resize_image,
    save_image,
    start_image,
)

#: The lab keeps one frame every LAB_FILM_EVERY iterations for its "Save film" button.
LAB_FILM_EVERY = 5


def lab_save_film(recorder, folder, stem="lab-film", fps=10) -> Path:
    """Save ``recorder``'s frames as ``folder/stem-YYYYmmdd-HHMMSS.gif`` (never overwriting); the path."""
    return recorder.save(timestamped_path(folder, stem, ".gif"), fps=fps)


#: Style layers the lab offers a weight for, and the content layers it offers (in VGG16 and VGG19).
LAB_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")

LAB_CONTENT_LAYERS = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")

LAB_SIZES = (64, 128, 192, 256, 384, 512)

LAB_TV_WEIGHTS = ("0", "1e-4", "1e-3", "1e-2", "1e-1", "1")

#: Settings a running optimisation picks up at once: between two steps, the optimiser keeping its state.
LAB_LIVE_KEYS = ("alpha", "beta", "style_layers", "content_layer", "tv_weight", "lr")

#: The lab's defaults: L-BFGS (the fastest to the assignment's cost, see the README's Speed section),
#: bfloat16 where the hardware has it, 256 pixels on the longest side, the "colours" start (the content
#: in the style's colours) and no coarse start (LAB_COARSE: iterations at half the size first). Full-size
#: cost evaluations to the assignment's cost at 256 px (docs/speed/lab_coarse.py): from the colours 9
#: with no coarse start, 13.8, 14.0 and 16.5 with 5, 10 and 20 coarse iterations; from the noisy content
#: 21 with none and 17.2 with 20 (the best of the half-size starts from it).
LAB_OPTIMIZER, LAB_INIT, LAB_SIZE, LAB_COARSE = "lbfgs", "colours", 256, 0

LAB_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")

_LAB_NAMES = {"alpha": "α", "beta": "β", "style_layers": "style layer weights", "content_layer": "content layer",
              "tv_weight": "TV weight", "lr": "learning rate", "optimizer": "optimiser", "iterations": "iterations",
              "size": "image size", "init": "start", "seed": "seed", "precision": "precision", "scales": "scales",
              "coarse": "coarse start"}


@dataclass(frozen=True)
class LabSettings(TransferSettings):
    """What one Run of the lab uses: the full transfer's settings, the lab's defaults, the image size
    (longest side, pixels) and ``coarse``: iterations at half the size first, when ``scales`` is None
    (see lab_scales). ``lab_settings`` builds it from the widgets' values."""

    optimizer: str = LAB_OPTIMIZER
    init: str = LAB_INIT
    precision: str = "auto"
    size: int = LAB_SIZE
    coarse: int = LAB_COARSE

    def __post_init__(self):
        super().__post_init__()
        if check_setting("image size", self.size, "whole") < 16 or self.size > 2048:
            raise NSTError(f"image size must be between 16 and 2048 pixels, not {self.size!r}")
        if self.iterations < 1:
            raise NSTError(f"iterations must be a whole number >= 1, not {self.iterations!r}")
        check_setting("coarse", self.coarse, "whole")


def lab_scales(settings, shape):
    """The scales a Run of ``settings`` at ``shape`` (H, W) takes: ``settings.scales`` if given, else
    [(0.5, coarse), 1] (half the size first), with ``coarse`` at most a tenth of the iterations; one
    scale (None) where that leaves under 5 coarse iterations or a half-size side under MIN_SCALE_SIDE."""
    if settings.scales is not None:
        return settings.scales
    n = min(settings.coarse, settings.iterations // 10)
    return [(0.5, n), 1.0] if n >= 5 and min(shape) >= 2 * MIN_SCALE_SIDE else None


def lab_settings(values) -> LabSettings:
    """Widget values ``{"alpha": .., "beta": .., "conv1_1": .., ..., "size": ..}`` -> checked LabSettings.

    Style layer weights come as one value per name in LAB_STYLE_LAYERS; missing keys keep the defaults.
    """
    d = LabSettings()
    keys = ("alpha", "beta", "content_layer", "optimizer", "lr", "iterations", "size", "init", "tv_weight", "seed")
    given = {k: values[k] for k in keys if k in values}
    if isinstance(given.get("optimizer"), str):
        given["optimizer"] = given["optimizer"].lower()
    for key in ("alpha", "beta", "lr", "tv_weight"):  # text fields: "1e-3" is a number
        if isinstance(given.get(key), str):
            with contextlib.suppress(ValueError):  # not a number: the check below names it
                given[key] = float(given[key])
    layers = tuple((n, values.get(n, dict(d.style_layers).get(n, 0.0))) for n in LAB_STYLE_LAYERS)
    for n, w in layers:
        check_setting(f"weight of {n}", w, "number")
    return dataclasses.replace(d, style_layers=layers, **given)


def lab_ratio_text(alpha, beta) -> str:
    """The panel's line about the weights, as the course quotes them (beta/alpha), e.g. ``"β/α = 4"``."""
    alpha, beta = float(alpha), float(beta)
    if alpha == 0 and beta == 0:
        return "α = β = 0: nothing to optimise, raise one of them"
    if beta == 0:
        return "β = 0: content only, no style"
    if alpha == 0:
        return "α = 0: style only, no content"
    return f"β/α = {beta / alpha:.3g}"


def lab_changes(old, new):
    """Fields that differ between two LabSettings, split as (applied live, wait for the next Run)."""
    changed = [f.name for f in dataclasses.fields(LabSettings) if getattr(old, f.name) != getattr(new, f.name)]
    return [k for k in changed if k in LAB_LIVE_KEYS], [k for k in changed if k not in LAB_LIVE_KEYS]


def lab_change_message(live=(), later=(), iteration=None) -> str:
    """One line for a setting changed mid-run: what was applied now, what takes effect on the next Run."""
    parts = []
    if live:
        at = f" at iteration {iteration}" if iteration is not None else ""
        parts.append(f"{', '.join(_LAB_NAMES.get(k, k) for k in live)}: applied now{at}, "
                     "going on from the current image")
    if later:
        parts.append(f"{', '.join(_LAB_NAMES.get(k, k) for k in later)}: takes effect on the next Run")
    return "; ".join(parts)


def lab_images(content, style, size):
    """Content scaled to longest side ``size``; style centre-cropped to the content's aspect, same shape.

    content, style: RGB (H, W, 3) in [0, 255]. Returns two float32 arrays of the same (h, w, 3).
    """
    h, w = fit_size(content.shape[0], content.shape[1], int(size))
    sh, sw = style.shape[:2]
    if sw * h > sh * w:  # style wider than the content: crop its sides
        cw = max(1, round(sh * w / h))
        style = style[:, (sw - cw) // 2:(sw - cw) // 2 + cw]
    else:
        ch = max(1, round(sw * h / w))
        style = style[(sh - ch) // 2:(sh - ch) // 2 + ch]
    return resize_image(content, (h, w)), resize_image(style, (h, w))


def decode_image_bytes(data, name="the upload") -> np.ndarray:
    """Bytes of an image file (an upload) -> RGB float32 (H, W, 3) in [0, 255], EXIF rotation applied."""
    import io

    return np.asarray(open_rgb(io.BytesIO(bytes(data)), name, "upload"), dtype=np.float32)


#: The cost plot's series: history key, legend label, colour.
_LAB_CURVES = (("J", "J (total)", "black"), ("content", "α J_content", "#1f77b4"), ("style", "β J_style", "#d62728"))


def _nice_ticks(lo, hi, count=5):
    """About ``count`` round numbers (1, 2 or 5 times a power of ten apart) between lo and hi."""
    raw = max((hi - lo) / count, 1e-12)
    step = min((m * 10 ** np.floor(np.log10(raw)) for m in (1, 2, 5, 10)), key=lambda v: abs(v - raw))
    return np.arange(np.ceil(lo / step) * step, hi + step / 2, step)


def lab_cost_plot_svg(history, width=368, height=200) -> bytes:
    """SVG of the lab's cost curves: J, α J_content and β J_style (log scale) against the iteration.

    ``history``: LabRunner.history entries {"iteration", "J", "content", "style", "segment"}; a dotted line
    marks each point where the settings changed (a live change or a Continue) or the scale did. Written as text, it takes
    about 2 ms (matplotlib took 0.2 s a preview, time the optimisation waited for).
    """
    from html import escape

    left, right, top, bottom = 44, width - 8, 20, height - 28
    if len(history) > 1500:  # keep previews cheap on long runs
        history = history[:: len(history) // 1000 + 1] + [history[-1]]
    it = np.array([h["iteration"] for h in history], dtype=float)
    series = {k: np.array([h[k] for h in history], dtype=float) for k, _, _ in _LAB_CURVES}
    positive = np.concatenate([v[v > 0] for v in series.values()] + [np.empty(0)])
    y0, y1 = (np.floor(np.log10(positive.min())), np.ceil(np.log10(positive.max()))) if positive.size else (0, 1)
    y1 = max(y1, y0 + 1)
    x0, x1 = (it.min(), it.max()) if it.size else (0.0, 1.0)
    x1 = max(x1, x0 + 1)

    def px(v):
        return left + (v - x0) / (x1 - x0) * (right - left)

    def py(v):
        return bottom - (np.log10(v) - y0) / (y1 - y0) * (bottom - top)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="10">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{(left + right) / 2:.1f}" y="13" text-anchor="middle" font-size="11">'
           f'{"costs" if history else "costs (press Run)"}</text>']
    for d in np.arange(y0, y1 + 1):  # one grid line and label a decade
        y = py(10.0 ** d)
        out.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">1e{int(d)}</text>')
    for t in _nice_ticks(x0, x1):
        x = px(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="black"/>'
                   f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">{t:g}</text>')
    out.append(f'<text x="{(left + right) / 2:.1f}" y="{height - 3}" text-anchor="middle">iteration</text>'
               f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="black"/>')
    for prev, cur in zip(history, history[1:]):
        if cur["segment"] != prev["segment"]:
            x = px(cur["iteration"] - 0.5)
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="grey" stroke-dasharray="2,2"/>')
    drawn = [(key, label, colour) for key, label, colour in _LAB_CURVES if (series[key] > 0).any()]
    for key, _, colour in drawn:
        keep = series[key] > 0
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(it[keep], series[key][keep]))
        out.append(f'<polyline class="{key}" fill="none" stroke="{colour}" stroke-width="1.4" points="{points}"/>')
    if drawn:  # the legend, on white over the curves
        out.append(f'<rect x="{right - 96}" y="{top + 2}" width="94" height="{13 * len(drawn) + 4}" fill="white" '
                   f'fill-opacity="0.85" stroke="#ccc"/>')
    for k, (_, label, colour) in enumerate(drawn):
        y = top + 14 + 13 * k
        out.append(f'<line x1="{right - 92}" x2="{right - 76}" y1="{y - 3}" y2="{y - 3}" stroke="{colour}" '
                   f'stroke-width="1.4"/><text x="{right - 72}" y="{y}">{escape(label)}</text>')
    return ("".join(out) + "</svg>").encode()


def lab_save(image, folder, settings=None, stem="lab") -> Path:
    """Save ``image`` as ``folder/stem-YYYYmmdd-HHMMSS.png`` atomically (never overwriting), settings as .json."""
    path = timestamped_path(folder, stem, ".png")
    save_image(path, image)
    if settings is not None:
        from dataclasses import asdict

        text = json.dumps(asdict(settings), indent=1)
        atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text))
    return path


def lab_warm_up(model, settings=None):
    """Trace, and run once on a 32x32 image, every compiled part a Run of ``settings`` (default LabSettings())
    uses: its cost, its targets' forward passes and its optimiser's update, all kept for any size (see
    transfer.compiled_cost), so the first Run pays no trace. Two steps; returns their seconds."""
    t0 = time.perf_counter()
    s = dataclasses.replace(settings or LabSettings(), iterations=2, scales=None)
    tiny = np.full((32, 32, 3), 128.0, np.float32)
    for _ in transfer_steps(model, tiny, [tiny], s, keep=True):
        pass
    return time.perf_counter() - t0


class LabRunner:
    """The lab's state machine: Run (restart or continue), Stop and live changes, on a worker thread.

    States: "idle" --run()--> "running" --stop()--> "stopping" --worker ends--> "idle"; the worker also
    ends by itself after ``settings.iterations``. ``update(settings)`` during a run applies the live
    settings (LAB_LIVE_KEYS) from the next step on: the optimiser goes on with its state (Adam's moments,
    L-BFGS's pairs) and, where only weights changed, the same compiled step (see transfer.transfer_steps).
    ``change_seconds``: from the last live change to the preview of the first image the new cost has moved,
    shown as soon as it is computed, before its own cost (see _watch).
    ``on_preview(runner)`` is called on the worker at the first iteration, then at most every
    ``preview_interval`` seconds; ``on_finish(runner)`` once the worker ends. ``image`` is the latest
    image (uint8 H, W, 3), at half the size during a coarse start (see lab_scales); ``history`` one entry
    per iteration since the last restart, with the image's "size". ``warm_up``:
    run lab_warm_up for the default settings on a thread at once, so the first Run traces nothing.
    """

    def __init__(self, model, on_preview=None, on_finish=None, preview_interval=0.3, warm_up=False):
        import threading

        self.model, self.on_preview, self.on_finish = model, on_preview, on_finish
        self.preview_interval = float(preview_interval)
        self.state, self.settings, self.image, self.history = "idle", None, None, []
        self.iteration, self.target, self.outcome, self.error = 0, 0, "", None
        self.first_preview_seconds = self.stop_seconds = None
        self.film = AnimationRecorder(LAB_FILM_EVERY)  # every Nth image since the last restart ("Save film")
        self._lock = threading.Lock()
        self._event, self._pending, self._thread = threading.Event(), None, None
        self._user_stop, self._segment, self._offset = False, 0, 0
        self._t_run = self._t_stop = self._t_push = self._t_change = self._change_evals = self.change_seconds = None
        self.warm_up_seconds, self._warming, self._preparing, self._prepare_key = None, None, None, None
        if warm_up:  # while the learner reads the panel: a Run meanwhile waits for TensorFlow's trace lock
            self._warming = threading.Thread(target=self._warm_up, daemon=True, name="nst-lab-warm-up")
            self._warming.start()

    def _warm_up(self):
        with contextlib.suppress(Exception):  # a failure here shows again, with its message, at Run
            self.warm_up_seconds = lab_warm_up(self.model)

    def prepare(self, settings, content, style):
        """Compute the targets a Run of ``settings`` on these images needs, on a thread (after the warm-up),
        while the learner reads the panel: that Run then starts with its first evaluation (transfer.prepare;
        a Run meanwhile waits for it). Only the latest call is worked on; returns its thread, or None when
        that call is the one before it."""
        import threading

        content, style = lab_images(content, style, settings.size)
        s = dataclasses.replace(settings, scales=lab_scales(settings, content.shape[:2]))
        key = (s, content.tobytes(), style.tobytes())
        if key == self._prepare_key:
            return None
        self._prepare_key, before = key, self._preparing

        def work():
            for thread in (self._warming, before):
                if thread is not None:
                    thread.join()
            if self._prepare_key is key:  # not overtaken by a later call
                with contextlib.suppress(Exception):  # a failure here shows again, with its message, at Run
                    prepare(self.model, content, [style], s, keep=True)

        self._preparing = threading.Thread(target=work, daemon=True, name="nst-lab-prepare")
        self._preparing.start()
        return self._preparing

    def run(self, settings, content, style, mode="restart"):
        """Start a run on a worker thread from ``settings.init`` ("restart") or the last image ("continue")."""
        import threading

        if mode not in ("restart", "continue"):
            raise NSTError(f"mode must be 'restart' or 'continue', not {mode!r}")
        content, style = lab_images(content, style, settings.size)
        thread = self._thread
        if self.state == "stopping" and thread is not None:  # Run right after Stop: let the last step end
            thread.join(30)
        with self._lock:
            if self.state != "idle":
                raise NSTError("a run is in progress: press Stop first")
            init = None
            if mode == "continue" and self.image is not None:
                init = self.image if self.image.shape == content.shape else resize_image(self.image,
                                                                                         content.shape[:2])
                self._offset, self._segment = (self.history[-1]["iteration"] if self.history else 0), \
                    self._segment + 1
            else:
                self.history, self._offset, self._segment = [], 0, 0
                self.film = AnimationRecorder(self.film.every)
            self.state, self.settings, self.iteration, self.target = "running", settings, 0, settings.iterations
            self.outcome, self.error, self.first_preview_seconds, self.stop_seconds = "", None, None, None
            self._event, self._pending, self._user_stop = threading.Event(), None, False
            self._t_run, self._t_stop, self._t_push, self.change_seconds = time.perf_counter(), None, None, None
            self._change_evals = None
            self._thread = threading.Thread(target=self._work, args=(content, style, init), daemon=True,
                                            name="nst-lab-worker")
            self._thread.start()
        return self._thread

    def stop(self) -> str:
        """Ask the worker to stop after its current iteration (it keeps the image); returns the state."""
        with self._lock:
            if self.state == "running":
                self.state, self._user_stop, self._t_stop = "stopping", True, time.perf_counter()
                self._event.set()
            return self.state

    def update(self, settings) -> str:
        """Settings changed: during a run the live ones apply from the next step; returns what happens."""
        with self._lock:
            if self.state != "running":
                return ""
            current = self._pending or self.settings
            live, later = lab_changes(self.settings, settings)
            live_now = [k for k in live if getattr(current, k) != getattr(settings, k)]
            if live_now:
                self._pending = dataclasses.replace(current, **{k: getattr(settings, k) for k in live_now})
                self._t_change = time.perf_counter()
            return lab_change_message(live, later, self.iteration if live_now else None)

    @property
    def seconds(self) -> float:
        """Seconds since the last Run was pressed."""
        return time.perf_counter() - self._t_run if self._t_run is not None else 0.0

    def wait(self, timeout=None) -> bool:
        """Wait for the worker to end; True if it has."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.state == "idle"

    def _live(self, steps):
        """The transfer's steps, with each pending live change sent in between two of them."""
        sent = None
        while True:
            if sent is not None:  # count the evaluations made with the new settings (see _watch)
                self._change_evals = 0
            try:
                step = steps.send(sent)
            except StopIteration:
                return
            yield step
            with self._lock:
                sent, self._pending = self._pending, None
                if sent is not None:
                    self.settings, self._segment = sent, self._segment + 1

    def _work(self, content, style, init):
        """The worker thread: follow the transfer's steps until the target, a Stop, or an error; report."""
        try:
            model, s, restart = self.model, self.settings, init is None  # Continue passes the last image
            scales = lab_scales(s, content.shape[:2]) if restart else s.scales  # Continue: at full size
            init = first_image(content, [style], s, init)  # Restart from "colours": the content recoloured
            x0 = start_image(preprocess(content, model.mean), s, init, model.mean)
            if restart:  # shows its start at once (for "colours", the photo in the style's colours)
                self.image = deprocess(x0, model.mean)
                self._push(time.perf_counter())
            if self._preparing is not None:  # its targets may be this Run's: take them rather than compete
                self._preparing.join()
            steps = transfer_steps(model, content, [style], dataclasses.replace(s, scales=scales), init_image=init,
                                   keep=True, watch=self._watch)  # every weight a value: a slider never rebuilds the cost
            result = follow(self._live(steps), self.target, model.mean, x0, self._on_iteration, 1, self._event)
            if result.iterations:
                self.image = result.image
            self.outcome = "stopped" if self._user_stop else "finished"
        except Exception as exc:  # shown in the panel; the worker must always end cleanly
            self.error, self.outcome = exc, "error"
        finally:
            with self._lock:
                if self._t_stop is not None:
                    self.stop_seconds = time.perf_counter() - self._t_stop
                self.state = "idle"
            if self.on_finish is not None:
                self.on_finish(self)

    def _on_iteration(self, i, costs, image):
        """The steps' callback: record the costs, keep the image, push a preview now and then."""
        s = self.settings
        if self.history and self.history[-1]["size"] != image.shape[:2]:  # on to the next scale
            self._segment += 1
        self.iteration, self.image = i, image
        self.film(self._offset + i, costs, image)
        self.history.append({"iteration": self._offset + i, "J": costs["J"], "content": s.alpha * costs["J_content"],
                             "style": s.beta * costs["J_style"], "segment": self._segment, "size": image.shape[:2]})
        now = time.perf_counter()
        if self._t_push is None or now - self._t_push >= self.preview_interval:
            self._push(now)

    def _watch(self, x):
        """transfer_steps' watch, before each cost evaluation: after a live change the first evaluation is the
        new cost at the current image and the second the image its gradient moved to (L-BFGS's trial step,
        Adam's step), shown at once, an evaluation before the iteration ends with it (its cost comes then)."""
        if self._change_evals is None:
            return
        self._change_evals += 1
        if self._change_evals == 2:
            self._change_evals, self.image = None, deprocess(np.asarray(x), self.model.mean)
            now = time.perf_counter()
            self.change_seconds = now - self._t_change
            self._push(now)

    def _push(self, now):
        """Show the image (on_preview) and note when."""
        if self.first_preview_seconds is None:
            self.first_preview_seconds = now - self._t_run
        self._t_push = now
        if self.on_preview is not None:
            self.on_preview(self)


def lab_image_choices(folder=IMAGES_DIR) -> dict:
    """``{file name: path}`` of the images in ``folder`` (sorted by name)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if p.suffix.lower() in LAB_IMAGE_SUFFIXES}

