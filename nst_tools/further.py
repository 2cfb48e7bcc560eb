"""Going further: colour preservation, several styles (their blended Gram targets), style scale, ``stylize``, animations.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from nst_tools.fast import match_color_histogram
from nst_tools.transfer import TransferSettings, run_transfer, styles_list
from nst_utils import (
    NSTError,
    TransferResult,
    atomic_write,
    preprocess,
    resize_image,
)

#: RGB -> YIQ (NTSC): [Y, I, Q] = RGB_TO_YIQ @ [R, G, B]. Y is the luminance; I and Q, the chroma, are 0
#: for every grey pixel (their rows sum to 0).
RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                       [0.595716, -0.274453, -0.321263],
                       [0.211456, -0.522591, 0.311135]])

#: YIQ -> RGB, the exact inverse of RGB_TO_YIQ.
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ)

PRESERVE_COLORS = ("luminance", "histogram")

ANIMATION_FORMATS = (".gif", ".mp4")

STYLE_SIDE_MIN, STYLE_SIDE_MAX = 8, 3000  # pixels: a style scaled outside this range is refused


def rgb_to_yiq(image) -> np.ndarray:
    """RGB ``(..., 3)`` in [0, 255] -> YIQ ``(..., 3)`` float64: [Y, I, Q] = RGB_TO_YIQ [R, G, B]."""
    return np.asarray(image, np.float64) @ RGB_TO_YIQ.T


def yiq_to_rgb(yiq) -> np.ndarray:
    """YIQ ``(..., 3)`` -> RGB ``(..., 3)`` float64, not clipped: [R, G, B] = YIQ_TO_RGB [Y, I, Q]."""
    return np.asarray(yiq, np.float64) @ YIQ_TO_RGB.T


def luminance_image(image) -> np.ndarray:
    """The luminance Y of an RGB image, as a grey RGB image ``(H, W, 3)`` float32 (R = G = B = Y)."""
    y = rgb_to_yiq(image)[..., 0]
    return np.repeat(np.clip(y, 0, 255)[..., None], 3, axis=-1).astype(np.float32)


def match_luminance(style, content) -> np.ndarray:
    r"""The style's luminance with the content's mean and spread, as a grey image (h, w, 3) float32.

    L_S' = (sigma_C / sigma_S) (L_S - mu_S) + mu_C, with L = Y of YIQ, mu and sigma over all pixels
    (Gatys et al. 2016, luminance-only transfer). style (h, w, 3), content (H, W, 3): RGB in [0, 255].
    """
    L_S, L_C = rgb_to_yiq(style)[..., 0], rgb_to_yiq(content)[..., 0]
    sigma_S = L_S.std()
    L = (L_C.std() / sigma_S if sigma_S > 0 else 1.0) * (L_S - L_S.mean()) + L_C.mean()
    return np.repeat(np.clip(L, 0, 255)[..., None], 3, axis=-1).astype(np.float32)


def restore_chroma(stylised, content) -> np.ndarray:
    """Luminance Y of ``stylised`` with the chroma (I, Q) of ``content`` -> uint8 RGB (H, W, 3).

    Both are RGB ``(H, W, 3)`` of one size. Pixels pushed out of the RGB cube are clipped to [0, 255],
    so only there can the output's I, Q differ from the content's by more than rounding.
    """
    if np.shape(stylised) != np.shape(content):
        raise NSTError(f"restore_chroma needs two images of one size, got {np.shape(stylised)} and "
                       f"{np.shape(content)}")
    yiq = rgb_to_yiq(content)
    yiq[..., 0] = rgb_to_yiq(stylised)[..., 0]
    return np.clip(yiq_to_rgb(yiq), 0, 255).round().astype(np.uint8)


def style_target_size(content_size, style_scale):
    """(h, w) of a style at ``style_scale`` x the content's (H, W); NSTError if the scale is not > 0
    or (for a scale other than 1) a side would fall outside [STYLE_SIDE_MIN, STYLE_SIDE_MAX] pixels."""
    try:
        s = float(style_scale)
    except (TypeError, ValueError):
        raise NSTError(f"style scale must be a number, got {style_scale!r}") from None
    if not np.isfinite(s) or s <= 0:
        raise NSTError(f"style scale must be a number > 0 (1 = the content's size), got {style_scale!r}")
    H, W = (int(v) for v in content_size)
    h, w = max(1, round(H * s)), max(1, round(W * s))
    if s != 1 and (min(h, w) < STYLE_SIDE_MIN or max(h, w) > STYLE_SIDE_MAX):  # at 1 it is the content's size
        raise NSTError(f"style scale {s:g} makes the {H}x{W} style {h}x{w}; each side must be between "
                       f"{STYLE_SIDE_MIN} and {STYLE_SIDE_MAX} pixels, choose another scale")
    return h, w


def prepare_styles(style, content, style_scale=None, preserve_colors=None):
    """The style images as the optimisation will see them: scaled, then recoloured (see ``stylize``).

    Returns a list of float32 (h, w, 3) RGB images in [0, 255].
    """
    if preserve_colors not in (None, *PRESERVE_COLORS):
        raise NSTError(f"preserve_colors must be None, 'luminance' or 'histogram', not {preserve_colors!r}")
    styles = [np.asarray(s, np.float32) for s in styles_list(style)]
    if style_scale is not None:
        size = style_target_size(np.shape(content)[:2], style_scale)
        styles = [resize_image(s, size) for s in styles]
    if preserve_colors == "histogram":
        styles = [match_color_histogram(s, content) for s in styles]
    elif preserve_colors == "luminance":
        styles = [match_luminance(s, content) for s in styles]
    return styles


def stylize(model, content, style, *, style_weights=None, style_scale=None, preserve_colors=None,
            recorder=None, callback=None, callback_every=10, **kwargs) -> TransferResult:
    """run_transfer plus the extras: several styles, style scale, colour preservation, a film.

    style: one RGB image (h, w, 3) in [0, 255] or a list; style_weights: their blend weights (see
    transfer.style_targets). style_scale: resize each style to style_scale x the content's (H, W) first
    (None: use them as given). preserve_colors: None; "histogram" recolours each style with
    match_color_histogram(style, content) first; "luminance" optimises the luminance alone (content Y,
    styles' Y via match_luminance) and puts the content's I, Q back with restore_chroma.
    recorder: an AnimationRecorder, fed every ``recorder.every`` iterations (colour-restored previews).
    Other keyword arguments (iterations, optimizer, alpha, beta, lr, init_image, ...) go to
    run_transfer. Returns its TransferResult (``image`` and ``x`` colour-restored if "luminance").
    """
    import dataclasses
    import math

    content = np.asarray(content, np.float32)
    styles = prepare_styles(style, content, style_scale, preserve_colors)
    luminance = preserve_colors == "luminance"
    if luminance:
        content_in = luminance_image(content)
        if kwargs.get("init_image") is not None:
            kwargs["init_image"] = luminance_image(kwargs["init_image"])
    else:
        content_in = content
    cb, every = callback, max(1, int(callback_every))
    if recorder is not None or (luminance and callback is not None):
        every_user = every
        every = math.gcd(every_user, recorder.every) if recorder is not None else every_user
        total = int(kwargs["iterations"] if "iterations" in kwargs else
                    (kwargs.get("settings") or TransferSettings()).iterations)

        def cb(i, costs, image):  # previews in colour; each listener at its own pace (and at the end)
            frame = restore_chroma(image, content) if luminance else image
            if recorder is not None:
                recorder(i, costs, frame)
            if callback is not None and (i % every_user == 0 or i % every or i == total):
                callback(i, costs, frame)
    result = run_transfer(model, content_in, styles if len(styles) > 1 else styles[0],
                                style_weights=style_weights, callback=cb, callback_every=every, **kwargs)
    if luminance:
        image = restore_chroma(result.image, content)
        result = dataclasses.replace(result, image=image, x=preprocess(image, model.mean))
    return result


def check_animation_path(path) -> Path:
    """``path`` if an animation can be written there (.gif, or .mp4 with imageio-ffmpeg), else NSTError."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in ANIMATION_FORMATS:
        raise NSTError(f"cannot write an animation to {path.name!r}: use a .gif or .mp4 file name")
    if not path.parent.is_dir():
        raise NSTError(f"animation folder does not exist: {path.parent}")
    if ext == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise NSTError("writing .mp4 needs imageio-ffmpeg: pip install imageio-ffmpeg, or use .gif") \
                from None
    return path


def timestamped_path(folder, stem, suffix) -> Path:
    """``folder/stem-YYYYmmdd-HHMMSS<suffix>`` (``-1``, ``-2``, ... if taken); makes ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = folder / f"{base}{suffix}", 1
    while path.exists():
        path, k = folder / f"{base}-{k}{suffix}", k + 1
    return path


class AnimationRecorder:
    """A run_style_transfer callback that keeps every ``every``-th preview; ``save(path)`` writes a film.

    ``rec = AnimationRecorder(every=10)``; ``run_style_transfer(..., callback=rec, callback_every=10)``
    (or ``stylize(..., recorder=rec)``); ``rec.save("run.gif")``. It keeps the frames of the
    iterations that are multiples of ``every`` (a run of N iterations gives N // every frames), each
    frame a uint8 (H, W, 3) copy; frames of other sizes (coarse-to-fine) are resized to the last one's.
    """

    def __init__(self, every=10):
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise NSTError(f"every must be a whole number >= 1, got {every!r}")
        self.every = int(every)
        self.frames, self.iterations = [], []

    def __call__(self, iteration, costs, image):
        if iteration % self.every == 0:
            self.frames.append(np.array(image, dtype=np.uint8))
            self.iterations.append(int(iteration))

    def __len__(self):
        return len(self.frames)

    def _frames(self, even=False):
        """The frames at one size (the last frame's); ``even``: cropped to even sides (for H.264)."""
        from PIL import Image

        h, w = self.frames[-1].shape[:2]
        out = [f if f.shape[:2] == (h, w) else np.asarray(Image.fromarray(f).resize((w, h), Image.LANCZOS))
               for f in self.frames]
        if even:
            out = [f[: h - h % 2, : w - w % 2] for f in out]
        return out

    def save(self, path, fps=10, hold_last=1.0) -> Path:
        """Write the frames as a looping GIF or an H.264 MP4 (by extension), atomically; returns the path.

        fps: frames per second; hold_last: seconds the last frame stays on screen in a GIF.
        """
        import imageio.v3 as iio

        path = check_animation_path(path)
        if not self.frames:
            raise NSTError(f"no frames recorded for {path.name} (a frame is kept every {self.every} "
                           "iterations): run more iterations or lower every")
        if not np.isfinite(fps) or fps <= 0:
            raise NSTError(f"fps must be a number > 0, got {fps!r}")
        ext = path.suffix.lower()

        def write(tmp):
            if ext == ".gif":
                ms = 1000.0 / fps
                durations = [ms] * (len(self.frames) - 1) + [max(ms, 1000.0 * hold_last)]
                iio.imwrite(tmp, np.stack(self._frames()), extension=".gif", duration=durations, loop=0)
            else:
                iio.imwrite(tmp, np.stack(self._frames(even=True)), extension=".mp4", fps=fps,
                            codec="libx264", pixelformat="yuv420p", macro_block_size=1)

        atomic_write(path, write, suffix=ext)
        return path

