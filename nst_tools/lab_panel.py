"""The lab's widgets (ipywidgets): sliders for alpha, beta and the layers, live previews, Run/Stop/Save.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from nst_tools.lab import (
    LAB_CONTENT_LAYERS,
    LAB_FILM_EVERY,
    LAB_SIZES,
    LAB_STYLE_LAYERS,
    LAB_TV_WEIGHTS,
    LabRunner,
    LabSettings,
    decode_image_bytes,
    lab_change_message,
    lab_cost_plot_svg,
    lab_image_choices,
    lab_ratio_text,
    lab_save,
    lab_save_film,
    lab_settings,
)
from nst_tools.preview import jpeg_bytes, png_bytes
from nst_utils import (
    IMAGES_DIR,
    NSTError,
    fit_size,
    load_image,
    load_vgg_model,
    resize_image,
)

_LAB_CSS = """<style>
body[data-voila] .jp-MarkdownCell { display: none; }  /* as an app (voila): only the panel */
.nst-lab { padding: 6px; }
.nst-card { border: 1px solid #d0d7de; border-radius: 8px; padding: 6px 10px; margin: 4px; background: #f8f9fb; }
.nst-card h4 { margin: 2px 0 6px 0; font-size: 13px; color: #333; }
.nst-thumb { border: 1px solid #ccc; border-radius: 4px; object-fit: cover; }
.nst-preview, .nst-plot { border: 1px solid #ccc; border-radius: 4px; background: white; }
.nst-preview { object-fit: contain; }
.nst-ratio, .nst-note, .nst-status { font-size: 12px; }
.nst-note { color: #8a5a00; }
.nst-status .widget-html-content, .nst-note .widget-html-content, .nst-ratio .widget-html-content {
  line-height: 1.35; padding: 2px 0; }
</style>"""


class LabPanel:
    """The lab's ipywidgets panel (built by ``lab``): widgets in ``w``, the state machine in ``runner``."""

    def __init__(self, model, sources, content, style, size, iterations, output_dir, preview_interval):
        import ipywidgets as W

        self.sources, self.output_dir, self._full = dict(sources), Path(output_dir), {}
        self.runner = LabRunner(model, self._on_preview, self._on_finish, preview_interval, warm_up=True)
        names = list(self.sources)
        d = LabSettings()
        wide, desc = W.Layout(width="330px"), {"description_width": "110px"}

        def log_slider(value, lo, hi, text, cls):
            return self._tag(W.FloatLogSlider(value=value, base=10, min=lo, max=hi, step=0.1, description=text,
                                              readout_format=".3g", continuous_update=False, layout=wide,
                                              style=desc), cls)

        w = self.w = {}
        w["content"] = self._tag(W.Dropdown(options=names, value=content, description="content", layout=W.Layout(
            width="230px"), style={"description_width": "50px"}), "nst-content")
        w["style"] = self._tag(W.Dropdown(options=names, value=style, description="style", layout=W.Layout(
            width="230px"), style={"description_width": "50px"}), "nst-style")
        w["upload_content"] = self._tag(W.FileUpload(accept="image/*", description="upload", layout=W.Layout(
            width="110px")), "nst-upload-content")
        w["upload_style"] = self._tag(W.FileUpload(accept="image/*", description="upload", layout=W.Layout(
            width="110px")), "nst-upload-style")
        w["thumb_content"] = self._tag(W.Image(format="png", layout=W.Layout(height="72px", width="108px")),
                                       "nst-thumb")
        w["thumb_style"] = self._tag(W.Image(format="png", layout=W.Layout(height="72px", width="108px")),
                                     "nst-thumb")
        w["alpha"] = log_slider(d.alpha, -3, 5, "α (content)", "nst-alpha")
        w["beta"] = log_slider(d.beta, -3, 5, "β (style)", "nst-beta")
        w["ratio"] = self._tag(W.HTML(lab_ratio_text(d.alpha, d.beta)), "nst-ratio")
        for name, weight in d.style_layers:
            w[name] = self._tag(W.FloatSlider(value=weight, min=0, max=1, step=0.05, description=f"λ {name}",
                                              readout_format=".2f", continuous_update=False, layout=wide,
                                              style=desc), f"nst-{name}")
        w["content_layer"] = self._tag(W.Dropdown(options=list(LAB_CONTENT_LAYERS), value=d.content_layer,
                                                  description="content layer", layout=wide, style=desc),
                                       "nst-content-layer")
        w["optimizer"] = self._tag(W.ToggleButtons(options=[("Adam", "adam"), ("L-BFGS", "lbfgs")],
                                                   value=d.optimizer, style={"button_width": "86px"}),
                                   "nst-optimizer")
        w["lr"] = self._tag(W.FloatLogSlider(value=d.lr, base=10, min=-2, max=2, step=0.1,
                                             description="learning rate", readout_format=".3g",
                                             continuous_update=False, layout=W.Layout(width="300px"),
                                             style={"description_width": "90px"}), "nst-lr")
        w["iterations"] = self._tag(W.BoundedIntText(value=iterations, min=1, max=100000, step=10,
                                                     description="iterations", layout=W.Layout(width="200px"),
                                                     style={"description_width": "90px"}), "nst-iterations")
        sizes = sorted(set(LAB_SIZES) | {int(size)})
        w["size"] = self._tag(W.Dropdown(options=[(f"{s} px", s) for s in sizes], value=int(size),
                                         description="image size", layout=W.Layout(width="200px"),
                                         style={"description_width": "90px"}), "nst-size")
        w["init"] = self._tag(W.ToggleButtons(options=[(i, i) for i in LabSettings.INITS], value=d.init,
                                              style={"button_width": "64px"}),
                              "nst-init")
        w["tv_weight"] = self._tag(W.SelectionSlider(options=list(LAB_TV_WEIGHTS), value="0",
                                                     description="TV weight", continuous_update=False,
                                                     layout=W.Layout(width="300px"),
                                                     style={"description_width": "90px"}), "nst-tv")
        w["continue"] = self._tag(W.Checkbox(value=False, description="Run continues from the current image",
                                             indent=False, disabled=True), "nst-continue")
        w["run"] = self._tag(W.Button(description="Run", button_style="success", icon="play",
                                      layout=W.Layout(width="90px")), "nst-run")
        w["stop"] = self._tag(W.Button(description="Stop", button_style="danger", icon="stop", disabled=True,
                                       layout=W.Layout(width="90px")), "nst-stop")
        w["save"] = self._tag(W.Button(description="Save", icon="save", disabled=True,
                                       layout=W.Layout(width="90px")), "nst-save")
        w["film"] = self._tag(W.Button(description="Save film", icon="film", disabled=True,
                                       tooltip=f"the run as a GIF, one frame every {LAB_FILM_EVERY} iterations",
                                       layout=W.Layout(width="100px")), "nst-film")
        w["progress"] = self._tag(W.IntProgress(value=0, min=0, max=iterations, bar_style="info",
                                                layout=W.Layout(width="384px")), "nst-progress")
        w["status"] = self._tag(W.HTML("Ready: press <b>Run</b>."), "nst-status")
        w["note"] = self._tag(W.HTML(""), "nst-note")
        w["preview"] = self._tag(W.Image(format="png", layout=W.Layout(width="384px", height="288px")),
                                 "nst-preview")
        w["plot"] = self._tag(W.Image(format="svg+xml", value=lab_cost_plot_svg([]),
                                      layout=W.Layout(width="384px")), "nst-plot")

        def card(title, *children, width=None):
            box = W.VBox([W.HTML(f"<h4>{title}</h4>"), *children], layout=W.Layout(width=width, flex="0 0 auto"))
            return self._tag(box, "nst-card")

        images = card("Images",
                      W.HBox([W.VBox([w["content"], w["upload_content"]]), w["thumb_content"]]),
                      W.HBox([W.VBox([w["style"], w["upload_style"]]), w["thumb_style"]]))
        weights = card("J(G) = α J<sub>content</sub> + β J<sub>style</sub>", w["alpha"], w["beta"], w["ratio"],
                       *[w[n] for n in LAB_STYLE_LAYERS], w["content_layer"])
        def labelled(text, widget):  # ToggleButtons wrap their description onto a line of its own
            label = W.HTML(f"<div style='text-align:right;padding-right:8px'>{text}</div>",
                           layout=W.Layout(width="94px", flex="0 0 94px"))
            return W.HBox([label, widget])

        optim = card("Optimisation", labelled("optimiser", w["optimizer"]), w["lr"], w["iterations"], w["size"],
                     labelled("start from", w["init"]), w["tv_weight"], width="330px")
        result = card("Generated image G", W.HBox([w["run"], w["stop"], w["save"], w["film"]]), w["continue"], w["progress"],
                      w["status"], w["note"], w["preview"], w["plot"], width="410px")
        weights_name = Path(model.path).name if getattr(model, "path", None) else "VGG"
        title = W.HTML(_LAB_CSS + "<h3 style='margin:4px'>Neural style transfer lab <span style='font-weight:"
                       f"normal;font-size:12px;color:#666'>&nbsp; weights: {weights_name}</span></h3>")
        columns = W.HBox([W.VBox([images, weights], layout=W.Layout(flex="0 0 auto")), result, optim],
                         layout=W.Layout(flex_flow="row wrap", align_items="flex-start"))  # wrap, not squeeze
        self.root = self._tag(W.VBox([title, columns]), "nst-lab")

        for key in ("alpha", "beta", *LAB_STYLE_LAYERS, "content_layer", "optimizer", "lr", "iterations",
                    "size", "init", "tv_weight"):
            w[key].observe(self._on_change, "value")
        w["content"].observe(lambda _: self._on_pick("content"), "value")
        w["style"].observe(lambda _: self._on_pick("style"), "value")
        w["upload_content"].observe(lambda _: self._on_upload("content"), "value")
        w["upload_style"].observe(lambda _: self._on_upload("style"), "value")
        w["run"].on_click(self.run)
        w["stop"].on_click(self.stop)
        w["save"].on_click(self.save)
        w["film"].on_click(self.save_film)
        self._on_pick("content")
        self._on_pick("style")

    def _prepare(self):
        """While idle: the next Run's targets, computed now on a thread for the images and settings shown
        (LabRunner.prepare), so that Run starts with its first evaluation."""
        if self.runner.state != "idle":
            return
        with contextlib.suppress(NSTError):  # a value Run would refuse: Run says so
            self.runner.prepare(lab_settings(self.values()), self.image(self.w["content"].value),
                                self.image(self.w["style"].value))

    @staticmethod
    def _tag(widget, cls):
        """Give ``widget`` the CSS class ``cls`` (stable hooks for styling and browser tests)."""
        widget.add_class(cls)
        return widget

    def _repr_mimebundle_(self, **kwargs):
        """Display the panel (a cell ending with ``lab(...)`` shows it)."""
        return self.root._repr_mimebundle_(**kwargs)

    def values(self) -> dict:
        """The settings widgets' current values, as lab_settings takes them."""
        keys = ("alpha", "beta", *LAB_STYLE_LAYERS, "content_layer", "optimizer", "lr", "iterations", "size",
                "init")
        return {**{k: self.w[k].value for k in keys}, "tv_weight": float(self.w["tv_weight"].value)}

    def image(self, name) -> np.ndarray:
        """The picked image ``name`` (a file of the images folder or an upload), cached, longest side <= 1024."""
        if name not in self._full:
            image = self.sources[name]
            image = image if isinstance(image, np.ndarray) else load_image(image)
            if max(image.shape[:2]) > 1024:
                image = resize_image(image, fit_size(image.shape[0], image.shape[1], 1024))
            self._full[name] = image
        return self._full[name]

    def run(self, _button=None):
        """Run button: start the optimisation (continue or restart, as the checkbox says)."""
        try:
            settings = lab_settings(self.values())
            mode = "continue" if self.w["continue"].value else "restart"
            self.runner.run(settings, self.image(self.w["content"].value), self.image(self.w["style"].value), mode)
        except NSTError as exc:
            self.w["status"].value = f"<span style='color:#b00020'>{exc}</span>"
            return
        self._running_picks = (self.w["content"].value, self.w["style"].value)
        self._buttons()
        self.w["progress"].max, self.w["progress"].value, self.w["progress"].bar_style = settings.iterations, 0, "info"
        self.w["note"].value = ""
        self.w["status"].value = ("Starting: building the cost function (a few seconds), "
                                  + ("continuing from the current image" if mode == "continue" and
                                     self.runner.history else f"from {settings.init}") + " ...")

    def stop(self, _button=None):
        """Stop button: ask the worker to stop; it answers after its current iteration."""
        if self.runner.stop() == "stopping":
            self.w["stop"].disabled = True
            self.w["status"].value = f"Stopping at iteration {self.runner.iteration} ..."

    def save(self, _button=None):
        """Save button: write the current image (and its settings as .json) to the output folder."""
        if self.runner.image is None:
            return
        try:
            path = lab_save(self.runner.image, self.output_dir, self.runner.settings)
        except (NSTError, OSError) as exc:
            self.w["note"].value = f"<span style='color:#b00020'>Save failed: {exc}</span>"
            return
        self.saved = path
        self.w["note"].value = f"Saved <code title='{path}'>{path.name}</code> in {path.parent.name}/"

    def save_film(self, _button=None):
        """Save film button: write the run since the last restart as a GIF to the output folder."""
        try:
            path = lab_save_film(self.runner.film, self.output_dir)
        except (NSTError, OSError) as exc:
            self.w["note"].value = f"<span style='color:#b00020'>Save film failed: {exc}</span>"
            return
        self.saved_film = path
        self.w["note"].value = (f"Saved <code title='{path}'>{path.name}</code> ({len(self.runner.film)} frames) "
                                f"in {path.parent.name}/")

    def _buttons(self):
        """Enable Run/Stop/Save/continue as the runner's state allows."""
        running = self.runner.state != "idle"
        self.w["run"].disabled, self.w["stop"].disabled = running, not running
        self.w["save"].disabled = self.runner.image is None
        self.w["film"].disabled = running or not len(self.runner.film)
        self.w["continue"].disabled = running or self.runner.image is None

    def _on_change(self, _change=None):
        """A setting moved: update the ratio text; during a run apply it or say when it applies."""
        v = self.values()
        self.w["ratio"].value = lab_ratio_text(v["alpha"], v["beta"])
        self.w["lr"].disabled = v["optimizer"] == "lbfgs"
        self._prepare()
        if self.runner.state == "running":
            try:
                self.w["note"].value = self.runner.update(lab_settings(v))
            except NSTError as exc:
                self.w["note"].value = f"<span style='color:#b00020'>{exc} (not applied)</span>"

    def _on_pick(self, which):
        """Content or style picked: show its thumbnail; during a run say it applies on the next Run."""
        try:
            self.w[f"thumb_{which}"].value = png_bytes(self.image(self.w[which].value))
        except NSTError as exc:
            self.w["note"].value = f"<span style='color:#b00020'>{exc}</span>"
            return
        if self.runner.state != "idle":
            self.w["note"].value = lab_change_message(later=[f"{which} image"])
        self._prepare()

    def _on_upload(self, which):
        """A file was uploaded: decode it, add it to both pickers and pick it."""
        files = self.w[f"upload_{which}"].value
        if not files:
            return
        f = files[-1]
        try:
            image = decode_image_bytes(f["content"], f["name"])
        except NSTError as exc:
            self.w["note"].value = f"<span style='color:#b00020'>{exc}</span>"
            return
        name = f"upload: {f['name']}"
        self.sources[name] = image
        self._full.pop(name, None)
        for key in ("content", "style"):
            if name not in self.w[key].options:
                self.w[key].options = [*self.w[key].options, name]
        self.w[which].value = name

    def _show(self, runner, exact=False):
        """Push the runner's image, cost plot and progress to the widgets; returns a status line. The image
        is a JPEG while running (quick to encode on the worker) and a PNG at the end (``exact``: the
        pixels Save writes)."""
        s = runner.settings
        fmt, data = ("png", png_bytes(runner.image)) if exact else ("jpeg", jpeg_bytes(runner.image))
        with self.w["preview"].hold_sync():  # the format and the bytes in one message
            self.w["preview"].format, self.w["preview"].value = fmt, data
        self.w["plot"].value = lab_cost_plot_svg(runner.history)
        self.w["progress"].value = min(runner.iteration, self.w["progress"].max)
        last = runner.history[-1] if runner.history else None
        rate = f", {runner.iteration / runner.seconds:.1f} it/s" if runner.iteration else ""
        h, w = runner.image.shape[:2]
        coarse = f", at {w}x{h} for a start" if max(h, w) < s.size else ""  # the coarse first scale
        return (f"iteration {runner.iteration} / {runner.target}" + (f", J = {last['J']:.4g}" if last else "")
                + f" ({s.optimizer}, {s.size} px{coarse}, {runner.seconds:.0f} s{rate})")

    def _on_preview(self, runner):
        """LabRunner.on_preview (worker thread): show the latest image and costs."""
        self.w["status"].value = "Running: " + self._show(runner)
        self._buttons()

    def _on_finish(self, runner):
        """LabRunner.on_finish (worker thread): the final image and the outcome in the status line."""
        text = self._show(runner, exact=True) if runner.image is not None else f"iteration {runner.iteration}"
        if runner.outcome == "error":
            self.w["progress"].bar_style = "danger"
            self.w["status"].value = f"<span style='color:#b00020'>Error: {runner.error}</span>"
        elif runner.outcome == "stopped":
            self.w["progress"].bar_style = "warning"
            self.w["status"].value = (f"Stopped: {text} (stop took {runner.stop_seconds:.2f} s). "
                                      "Tick the box to continue from this image, or Run to restart.")
        else:
            self.w["progress"].bar_style = "success"
            self.w["status"].value = f"Finished: {text}"
        self._buttons()


def lab(content=None, style=None, *, weights=None, model=None, size=None, iterations=None, output_dir=None,
        images_dir=IMAGES_DIR, preview_interval=0.25) -> LabPanel:
    """The style-transfer lab: an ipywidgets panel to tune α, β, the layers and the optimiser, live.

    content, style: image files (a name in ``images_dir`` or any path); default chelsea.jpg and the
    first style_*.jpg. weights: the .mat file (default $NST_VGG_PATH, see resolve_weights_path), or
    pass a loaded ``model``. Saved images go to ``output_dir`` (default $NST_OUTPUT_DIR, else ./outputs).
    The optimisation runs on a worker thread, so the notebook stays live. Show it as a cell's last line.
    size, iterations: the panel's starting values (default LabSettings').
    """
    d = LabSettings()
    size, iterations = size or d.size, iterations or d.iterations
    sources = lab_image_choices(images_dir)
    picks = []
    for given, default in ((content, "chelsea.jpg"), (style, "style_")):
        if given is None:
            found = [n for n in sources if n.startswith(default)] or list(sources)
            if not found:
                raise NSTError(f"no images in {images_dir}: pass content= and style= paths")
            picks.append(found[0])
            continue
        path = Path(given)
        if not path.is_file() and (Path(images_dir) / path).is_file():
            path = Path(images_dir) / path
        if not path.is_file():
            raise NSTError(f"image not found: {given}")
        key = path.name if sources.get(path.name) == path or path.name not in sources else str(path)
        sources.setdefault(key, path)
        picks.append(key)
    model = model if model is not None else load_vgg_model(weights)
    output_dir = output_dir or os.environ.get("NST_OUTPUT_DIR") or Path.cwd() / "outputs"
    return LabPanel(model, sources, picks[0], picks[1], size, iterations, output_dir, preview_interval)

