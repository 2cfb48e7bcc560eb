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

from nst_tools.further import AnimationRecorder, timestamped_path
from nst_tools.preview import figure_png
from nst_tools.transfer import TransferSettings, transfer_steps
from nst_utils import (
    IMAGES_DIR,
    NSTError,
    atomic_write,
    check_setting,
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
#: bfloat16 where the hardware has it, 256 pixels on the longest side.
LAB_OPTIMIZER, LAB_SIZE = "lbfgs", 256

LAB_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")

_LAB_NAMES = {"alpha": "α", "beta": "β", "style_layers": "style layer weights", "content_layer": "content layer",
              "tv_weight": "TV weight", "lr": "learning rate", "optimizer": "optimiser", "iterations": "iterations",
              "size": "image size", "init": "start", "seed": "seed", "precision": "precision", "scales": "scales"}


@dataclass(frozen=True)
class LabSettings(TransferSettings):
    """What one Run of the lab uses: the full transfer's settings, the lab's defaults, and the image size
    (longest side, pixels). ``lab_settings`` builds it from the widgets' values."""

    optimizer: str = LAB_OPTIMIZER
    precision: str = "auto"
    size: int = LAB_SIZE

    def __post_init__(self):
        super().__post_init__()
        if check_setting("image size", self.size, "whole") < 16 or self.size > 2048:
            raise NSTError(f"image size must be between 16 and 2048 pixels, not {self.size!r}")
        if self.iterations < 1:
            raise NSTError(f"iterations must be a whole number >= 1, not {self.iterations!r}")


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


def lab_cost_plot_png(history, width=4.6, height=2.5, dpi=80) -> bytes:
    """PNG of the lab's cost curves: J, α J_content and β J_style (log scale) against the iteration.

    ``history``: LabRunner.history entries {"iteration", "J", "content", "style", "segment"}; a dotted line
    marks each point where the settings changed (a live change or a Continue).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)  # a fixed layout: "constrained" doubles the time
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.17, right=0.97, top=0.9, bottom=0.18)
    if len(history) > 1500:  # keep redraws cheap on long runs
        history = history[:: len(history) // 1000 + 1] + [history[-1]]
    it = np.array([h["iteration"] for h in history], dtype=float)
    for key, label, colour in (("J", "J (total)", "black"), ("content", "α J_content", "tab:blue"),
                               ("style", "β J_style", "tab:red")):
        values = np.array([h[key] for h in history], dtype=float)
        keep = values > 0
        if keep.any():
            ax.plot(it[keep], values[keep], label=label, color=colour, lw=1.4)
    for prev, cur in zip(history, history[1:]):
        if cur["segment"] != prev["segment"]:
            ax.axvline(cur["iteration"] - 0.5, color="grey", ls=":", lw=1)
    ax.set_title("costs" if history else "costs (press Run)", fontsize=10, y=1.0)  # a fixed y: no tight-bbox pass
    ax.set_xlabel("iteration", fontsize=9)
    ax.set_ylabel("cost (log scale)", fontsize=9)
    ax.tick_params(labelsize=8)
    if any(line.get_label() for line in ax.lines if not line.get_label().startswith("_")):
        from matplotlib.ticker import FuncFormatter, NullLocator

        ax.set_yscale("log")  # decades labelled in plain text (no mathtext), no minor ticks: 2x faster to draw
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")))
        ax.legend(fontsize=8, loc="upper right")
    ax.grid(True, which="major", alpha=0.3)
    return figure_png(fig)


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
    for _ in transfer_steps(model, tiny, [tiny], s):
        pass
    return time.perf_counter() - t0


class LabRunner:
    """The lab's state machine: Run (restart or continue), Stop and live changes, on a worker thread.

    States: "idle" --run()--> "running" --stop()--> "stopping" --worker ends--> "idle"; the worker also
    ends by itself after ``settings.iterations``. ``update(settings)`` during a run applies the live
    settings (LAB_LIVE_KEYS) from the next step on: the optimiser goes on with its state (Adam's moments,
    L-BFGS's pairs) and, where only weights changed, the same compiled step (see transfer.transfer_steps).
    ``change_seconds``: from the last live change to the preview of the first image made with it.
    ``on_preview(runner)`` is called on the worker at the first iteration, then at most every
    ``preview_interval`` seconds; ``on_finish(runner)`` once the worker ends. ``image`` is the latest
    image (uint8 H, W, 3); ``history`` one entry per iteration since the last restart. ``warm_up``:
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
        self._t_run = self._t_stop = self._t_push = self._t_change = self._changed_at = self.change_seconds = None
        self.warm_up_seconds = None
        if warm_up:  # while the learner reads the panel: a Run meanwhile waits for TensorFlow's trace lock
            threading.Thread(target=self._warm_up, daemon=True, name="nst-lab-warm-up").start()

    def _warm_up(self):
        with contextlib.suppress(Exception):  # a failure here shows again, with its message, at Run
            self.warm_up_seconds = lab_warm_up(self.model)

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
            try:
                step = steps.send(sent)
            except StopIteration:
                return
            if sent is not None:  # the first step made with the new settings
                self._changed_at = len(self.history) + 1
            yield step
            with self._lock:
                sent, self._pending = self._pending, None
                if sent is not None:
                    self.settings, self._segment = sent, self._segment + 1

    def _work(self, content, style, init):
        """The worker thread: follow the transfer's steps until the target, a Stop, or an error; report."""
        try:
            model, s = self.model, self.settings
            x0 = start_image(preprocess(content, model.mean), s, init, model.mean)
            steps = transfer_steps(model, content, [style], s, init_image=init)
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
        self.iteration, self.image = i, image
        self.film(self._offset + i, costs, image)
        self.history.append({"iteration": self._offset + i, "J": costs["J"], "content": s.alpha * costs["J_content"],
                             "style": s.beta * costs["J_style"], "segment": self._segment})
        now = time.perf_counter()
        changed = self._changed_at == i
        if changed:  # the first image made with a live change: shown at once
            self.change_seconds, self._changed_at = now - self._t_change, None
        if changed or self._t_push is None or now - self._t_push >= self.preview_interval:
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

