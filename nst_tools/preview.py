"""Live previews in Jupyter: LivePreview redraws the image and the cost curves in place; PNG helpers.
"""
from __future__ import annotations

import numpy as np

from nst_utils import NSTError


class LivePreview:
    """A ``run_style_transfer`` callback that redraws the image and the cost curves in place.

    ``preview = LivePreview(alpha, beta, every=10)``, then
    ``run_style_transfer(..., alpha=alpha, beta=beta, callback=preview, callback_every=1)`` and
    ``preview.done(result)``. Every call records the costs; every ``every`` iterations one PNG is drawn
    (the current image; J, alpha J_content, beta J_style and any rest such as tv_weight J_TV on a log
    scale against the iteration) and shown with ``display(png, display_id=True)`` the first time and
    ``handle.update(png)`` after that: a single output that changes in place, in Jupyter and under
    nbclient. No pyplot figure is created, so no stale copies pile up. ``display`` defaults to IPython's.
    """

    def __init__(self, alpha=10, beta=40, every=10, title="", display=None, figsize=(10, 3.6), dpi=80):
        if int(every) < 1:
            raise NSTError("every must be 1 or more")
        self.alpha, self.beta, self.every, self.title = float(alpha), float(beta), int(every), title
        self.display, self.figsize, self.dpi = display, figsize, dpi
        self.history, self.image, self.handle, self.label = [], None, None, ""
        self.draws = 0

    def __call__(self, iteration, costs, image):
        crossed = not self.history or iteration // self.every > self.history[-1]["iteration"] // self.every
        self.history.append({"iteration": int(iteration), **{k: float(costs[k]) for k in ("J", "J_content", "J_style")}})
        self.image = np.asarray(image)
        if crossed:
            self.label = f"iteration {iteration}"
            self.show()

    def done(self, result):
        """Final frame: the whole ``result.history`` and the returned (lowest-cost) image."""
        if result.history:
            self.history = [{k: float(h[k]) if k != "iteration" else int(h[k])
                             for k in ("iteration", "J", "J_content", "J_style")} for h in result.history]
        self.image = np.asarray(result.image)
        self.label = f"done: {result.iterations} iterations in {result.seconds:.0f} s, best J = {result.J:.3g}"
        self.show()

    def curves(self):
        """``{label: (iterations, values)}`` of the cost curves as drawn (series that are all 0 left out)."""
        it = np.array([h["iteration"] for h in self.history])
        J = np.array([h["J"] for h in self.history])
        Jc = self.alpha * np.array([h["J_content"] for h in self.history])
        Js = self.beta * np.array([h["J_style"] for h in self.history])
        series = {"J (total)": J, "alpha J_content": Jc, "beta J_style": Js}
        rest = J - Jc - Js
        if len(J) and np.max(np.abs(rest)) > 1e-4 * np.max(np.abs(J)):
            series["rest (e.g. tv_weight J_TV)"] = rest
        return {k: (it, v) for k, v in series.items() if len(v) and np.any(v > 0)}

    def figure(self):
        """A new matplotlib Figure (not registered with pyplot) of the current image and cost curves."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=self.figsize, dpi=self.dpi, layout="constrained")
        ax_img, ax_cost = fig.subplots(1, 2, width_ratios=[1, 1.3])
        if self.image is not None:
            ax_img.imshow(self.image)
        # two lines: "done: ... iterations in ... s, best J = ..." is wider than the image
        ax_img.set_title(f"generated image G\n{self.label}" if self.label else "generated image G")
        ax_img.axis("off")
        for name, (it, values) in self.curves().items():
            keep = values > 0
            ax_cost.plot(it[keep], values[keep], label=name, marker="." if keep.sum() < 30 else None)
        ax_cost.set_yscale("log")
        ax_cost.set_xlabel("iteration")
        ax_cost.set_ylabel("cost (log scale)")
        ax_cost.set_title("cost curves")
        ax_cost.grid(True, which="both", alpha=0.3)
        if self.history:
            ax_cost.legend(loc="best", fontsize="small")  # where it covers the fewest points
        if self.title:
            fig.suptitle(self.title)
        return fig

    def png(self) -> bytes:
        """The current frame as PNG bytes."""
        return figure_png(self.figure())

    def show(self):
        """Draw the current frame: a new display the first time, an in-place update after that."""
        from IPython.display import Image

        frame = Image(data=self.png(), format="png")
        if self.handle is None:
            show = self.display
            if show is None:
                from IPython.display import display as show
            self.handle = show(frame, display_id=True)
        else:
            self.handle.update(frame)
        self.draws += 1


def figure_png(fig) -> bytes:
    """A matplotlib Figure as PNG bytes."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def png_bytes(image) -> bytes:
    """A uint8 (H, W, 3) image as PNG bytes (for ipywidgets.Image)."""
    return _encoded(image, "PNG")


def jpeg_bytes(image, quality=90) -> bytes:
    """A uint8 (H, W, 3) image as JPEG bytes: the lab's live preview, a few times quicker to encode and
    smaller to send than PNG (the encoding runs on the optimisation's thread; Save still writes PNG)."""
    return _encoded(image, "JPEG", quality=quality, subsampling=0)  # 4:4:4: the style's colours kept sharp


def _encoded(image, fmt, **options) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8)).save(buf, format=fmt, **options)
    return buf.getvalue()

