"""The VAE latent lab: the running VAE's encoder and decoder, run on demand while it trains.

Pages: the latent map (click a code, the decoded manifold beside it, reconstructions below), one
slider per latent dimension, interpolation between two examples, and per-dimension KL with a live
beta. Every picture is an explorer answer for the newest weights; the pyqtgraph items are built
once (on the first run, after pyqtgraph has loaded) and only get setImage / setData / setOpts.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...engine.render import image_grid
from ..steady_label import steady_label
from ..theme import ink_pen_colour, plot_widget, quiet_css
from .base import ExplorerView, ImagePanel, help_area, help_label

SLIDERS = 16          # latent dimensions with a slider on screen at once (a picker pages through the rest)
SLIDER_RANGE = 4.0    # codes from -4 to 4: the prior's standard deviations
SLIDER_TICKS = 800    # slider resolution: 0.01 per tick
GRID = 12             # the manifold: GRID x GRID decodes
STRIP = 8             # decodes along an interpolation
THROTTLE_MS = 16      # continuous controls ask at most once a frame
LABEL_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]

TEXT = {
    "map": "Each dot is a held-out example, placed at the mean of the code the encoder gives it (and coloured "
           "by its label, when the data has labels): examples the model finds alike land close together. "
           "Click anywhere: the decoder turns that code into the picture on the right (the cross marks it; "
           "the sliders move it too). Dashed ellipses: where samples take their codes, two standard deviations "
           "of each Gaussian of the prior, N(0, I) or the mixture fitted to the training codes (prior knob). "
           "Codes from N(0, I) can fall in the gaps between the dots, where the decoder draws a blur.",
    "pca": "The code has {d} numbers: the map shows the plane of its two main directions (PCA of the codes), "
           "so clicks move along that plane only.",
    "manifold": "The decoder's output over a {g} x {g} grid of codes covering the visible part of the map. Pan or "
                "zoom the map and the grid follows. Smooth changes between neighbours mean a continuous latent space.",
    "recon": "Held-out inputs and what the VAE rebuilds from their codes. A VAE's rebuilds are blurry, "
             "more so with a large beta.",
    "sliders": "Each slider is one number of the code, starting from the example you pick. Move one and watch "
               "what it controls. Dimensions whose KL bar is near zero are unused: moving them changes nothing.",
    "interpolation": "A walk between the codes of two examples, decoded at {n} points: along a straight line, or "
                     "along a great circle (spherical), which keeps the code's length typical of the prior. A good "
                     "latent space gives plausible pictures all the way.",
    "kl": "How much each code dimension tells about its input: its KL divergence to the prior, in nats, averaged "
          "over held-out examples. Bars near zero are dimensions the model has switched off.",
    "beta": "beta weighs the KL term in the loss. Raise it and codes crowd towards the prior: a tidier map, "
            "blurrier rebuilds, fewer dimensions in use. Too high (about 3 on digits) and every bar drops to "
            "zero: the codes carry nothing and every picture is the average one. Lower it for sharp rebuilds and "
            "a patchier map. It applies between steps, while training goes on.",
}



def prior_outline(centres: np.ndarray, covs: np.ndarray, weights: np.ndarray, points: int = 49,
                  least: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of an ellipse at two standard deviations around each 2-d Gaussian holding at least `least`
    of the weight, separated by NaNs (one curve item draws them all)."""
    angle = np.linspace(0, 2 * np.pi, points)
    circle = np.stack([np.cos(angle), np.sin(angle)])                        # (2, points)
    xs, ys = [], []
    for centre, cov in zip(centres[weights >= least], covs[weights >= least]):
        values, vectors = np.linalg.eigh(cov.astype(np.float64))
        ring = centre[:, None] + vectors @ (2 * np.sqrt(np.maximum(values, 0))[:, None] * circle)
        xs += [ring[0], [np.nan]]
        ys += [ring[1], [np.nan]]
    return (np.concatenate(xs), np.concatenate(ys)) if xs else (np.zeros(0), np.zeros(0))


class DecodedDisplay:
    """Decoded examples, as an image grid (images) or as points over the data (2D data)."""

    def __init__(self, pg, title: str, cols: int | None = None, points_title: str | None = None):
        self.cols = cols
        self.titles = (title, points_title or title)
        panel = ImagePanel(pg, title, fit=False)
        self.widget, self.title, self.box, self.image = panel.widget, panel.title, panel.box, panel.image
        self.data = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(170, 170, 170, 90))
        self.points = pg.ScatterPlotItem(size=9, pen=pg.mkPen("#8a4100", width=0.8), brush=pg.mkBrush(232, 115, 14))
        self.inputs = pg.ScatterPlotItem(size=15, pen=pg.mkPen("#5aa0e6", width=2), brush=None)  # rings around
        self.links = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(200, 200, 200, 160))
        for item in (self.data, self.links, self.points, self.inputs):
            self.box.addItem(item)
        self.kind = None
        self.shown = None     # what is on screen: the decoded array last shown

    def set_dataset(self, ds) -> None:
        self.kind = ds.kind
        self.shown = None
        points = ds.kind == "points"
        self.title.setText(self.titles[points], color="#dddddd", size="9pt")
        self.box.invertY(not points)
        self.image.setVisible(not points)
        for item in (self.data, self.points, self.inputs, self.links):
            item.setVisible(points)
        self.inputs.setData([], [])
        self.links.setData([], [])
        if points:
            ref = ds.held_out[:1500]
            self.data.setData(ref[:, 0], ref[:, 1])
            self.box.autoRange(padding=0.1)

    def show(self, decoded: np.ndarray) -> None:
        fresh = self.shown is None or self.shown.shape != decoded.shape
        self.shown = decoded
        if self.kind == "points":
            self.points.setData(decoded[:, 0], decoded[:, 1])
            return
        self.image.setImage(image_grid(decoded, scale=1, pad=1 if len(decoded) > 1 else 0, cols=self.cols),
                            autoLevels=False, levels=(0, 255))
        if fresh:
            self.box.autoRange(padding=0.02)

    def show_pairs(self, inputs: np.ndarray, outputs: np.ndarray) -> None:
        """Inputs next to what became of them: images in two rows, points joined by a line."""
        if self.kind != "points":
            self.cols = len(inputs)
            self.show(np.concatenate([inputs, outputs]))
            return
        self.shown = outputs
        self.inputs.setData(inputs[:, 0], inputs[:, 1])
        self.points.setData(outputs[:, 0], outputs[:, 1])
        pairs = np.stack([inputs, outputs], 1).reshape(-1, 2).astype(float)
        self.links.setData(pairs[:, 0], pairs[:, 1])


class VAELab(ExplorerView):
    # Each set of weights re-encodes the map and redecodes the 144-image manifold: at 5 a second the
    # GUI timer's p95 lateness was 15 ms on 2 cores with the lab on screen and idle; twice a second, 5 ms.
    weights_ms = 500
    tab_title = "latent lab"

    def __init__(self, family: str, parent=None):
        super().__init__(family, parent)
        self._reset_state()

    def _reset_state(self):
        self.code = None           # the current latent code (d,): clicked, or an example's, moved by sliders
        self.map = None            # the newest map answer's values
        self.a = self.b = None     # the interpolation's end codes
        self.ends = {"a": 0, "b": 1}  # where each end comes from: a held-out example's index, or a fixed code
        self.grid_rows: dict[int, np.ndarray] = {}
        self.shown_step.clear()

    # building (once, on the first run: pyqtgraph has loaded by then) ---------------------------------
    def _build(self):
        import pyqtgraph as pg
        from superqt.utils import qthrottled

        self.built = True
        # the map page: map | manifold | decoded; reconstructions below
        self.map_plot = plot_widget(pg, title="Latent map (held-out examples)")
        self.map_plot.setAspectLocked(True)
        self.map_plot.showGrid(x=True, y=True, alpha=0.15)
        # one item a label, each with one brush: pyqtgraph's fast path (a brush per point re-renders every symbol)
        self.map_groups = [pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(c)) for c in LABEL_COLOURS]
        self.map_marker = pg.ScatterPlotItem(size=16, symbol="+", pen=pg.mkPen(ink_pen_colour(), width=2.5), brush=None)
        for item in self.map_groups:
            self.map_plot.addItem(item)
        self.prior_outline = pg.PlotCurveItem(connect="finite", pen=pg.mkPen(ink_pen_colour(), width=1.2,
                                                                             style=Qt.DashLine))
        self.map_plot.addItem(self.prior_outline, ignoreBounds=True)   # the map frames the codes
        # the marker does not move the map's auto-range: a click in the margin would re-zoom the map
        self.map_plot.addItem(self.map_marker, ignoreBounds=True)
        # nor does it tell the map it moved (pyqtgraph would then repaint the whole map, every point and
        # the grid, to check a range the marker cannot change)
        self.map_marker.informViewBoundsChanged = lambda: None
        self.map_plot.scene().sigMouseClicked.connect(self._map_clicked)
        self.manifold = DecodedDisplay(pg, "Decoded manifold over the visible map", cols=GRID)
        self.code_view = DecodedDisplay(pg, "Decoded at the marked code (+)")
        self.recon = DecodedDisplay(pg, "Held-out inputs (top) and their reconstructions (bottom)",
                                    points_title="Held-out points (blue) and their reconstructions (orange)")
        self.pca_note = QLabel("")   # which plane of a many-dimensional latent the map shows: not a help text
        self.pca_note.setWordWrap(True)
        self.pca_note.setStyleSheet(quiet_css())
        self.legend = QLabel("")
        self.legend.setWordWrap(True)
        map_column = QVBoxLayout()
        map_column.addWidget(self.map_plot, 1)
        map_column.addWidget(self.legend)
        map_column.addWidget(self.pca_note)
        top = QHBoxLayout()
        top.addLayout(map_column, 3)
        top.addWidget(self.manifold.widget, 3)
        top.addWidget(self.code_view.widget, 2)
        page = QWidget()
        col = QVBoxLayout(page)
        col.addLayout(top, 2)
        col.addWidget(help_area([TEXT["map"], TEXT["manifold"].format(g=GRID), TEXT["recon"]], height=64))
        col.addWidget(self.recon.widget, 1)
        self.recon.widget.setMinimumHeight(100)
        self.pages.addTab(page, "Latent map")
        self.map_plot.getViewBox().sigRangeChanged.connect(qthrottled(self._ask_manifold, 50, parent=self))

        # the sliders page
        self.example = QSpinBox()
        self.example.setToolTip("Which held-out example the sliders start from")
        reset = QPushButton("Reset to the example")
        self.first_dim = QSpinBox()
        self.first_dim.setToolTip(f"The latent has more than {SLIDERS} dimensions: the first one with a slider")
        self.first_dim_label = QLabel("dimensions from")
        self.slider_grid = QGridLayout()
        self.sliders, self.slider_labels = [], []
        for i in range(SLIDERS):
            label = steady_label("z511  -4.00 ", f"z{i}")
            slider = QSlider(Qt.Horizontal)
            slider.setRange(-SLIDER_TICKS // 2, SLIDER_TICKS // 2)
            slider.valueChanged.connect(lambda v, i=i: self._slider_moved(i, v))
            self.slider_grid.addWidget(label, i % 8, 2 * (i // 8))
            self.slider_grid.addWidget(slider, i % 8, 2 * (i // 8) + 1)
            self.sliders.append(slider)
            self.slider_labels.append(label)
        self._ask_code_throttled = qthrottled(self._ask_code, THROTTLE_MS, parent=self)
        self.slider_code_view = DecodedDisplay(pg, "Decoded from the sliders' code")
        controls = QHBoxLayout()
        for w in (QLabel("example"), self.example, reset, self.first_dim_label, self.first_dim):
            controls.addWidget(w)
        controls.addStretch(1)
        left = QVBoxLayout()
        left.addLayout(controls)
        left.addLayout(self.slider_grid)
        left.addWidget(help_label(TEXT["sliders"]))
        left.addStretch(1)
        page = QWidget()
        row = QHBoxLayout(page)
        row.addLayout(left, 3)
        row.addWidget(self.slider_code_view.widget, 2)
        self.pages.addTab(page, "Sliders")
        self.example.valueChanged.connect(self.reset_to_example)
        reset.clicked.connect(self.reset_to_example)
        self.first_dim.valueChanged.connect(self._show_slider_values)

        # the interpolation page
        self.end_a, self.end_b = QSpinBox(), QSpinBox()
        self.end_a.setToolTip("Held-out example at the start of the walk")
        self.end_b.setToolTip("Held-out example at the end of the walk")
        use_a, use_b = QPushButton("A = marked code"), QPushButton("B = marked code")
        self.mode = QComboBox()
        self.mode.addItem("linear", False)
        self.mode.addItem("spherical", True)
        self.t_slider = QSlider(Qt.Horizontal)
        self.t_slider.setRange(0, 100)
        self.strip = DecodedDisplay(pg, f"{STRIP} decodes from A (left) to B (right)", cols=STRIP)
        self.t_view = DecodedDisplay(pg, "Decoded at t")
        controls = QHBoxLayout()
        for w in (QLabel("A: example"), self.end_a, use_a, QLabel("B: example"), self.end_b, use_b, self.mode):
            controls.addWidget(w)
        controls.addStretch(1)
        t_row = QHBoxLayout()
        t_row.addWidget(QLabel("t (A → B)"))
        t_row.addWidget(self.t_slider, 1)
        left = QVBoxLayout()
        left.addLayout(controls)
        left.addWidget(self.strip.widget, 1)
        left.addLayout(t_row)
        left.addWidget(help_label(TEXT["interpolation"].format(n=STRIP)))
        page = QWidget()
        row = QHBoxLayout(page)
        row.addLayout(left, 3)
        row.addWidget(self.t_view.widget, 1)
        self.pages.addTab(page, "Interpolation")
        self.end_a.valueChanged.connect(lambda i: self._set_end("a", i))
        self.end_b.valueChanged.connect(lambda i: self._set_end("b", i))
        use_a.clicked.connect(lambda: self._set_end("a", self.code))
        use_b.clicked.connect(lambda: self._set_end("b", self.code))
        self.mode.currentIndexChanged.connect(lambda _: self._ask_interpolation())
        ask_t = qthrottled(self._ask_t, THROTTLE_MS, parent=self)
        self.t_slider.valueChanged.connect(lambda _: (self._moved(), ask_t()))

        # the KL and beta page
        self.kl_plot = plot_widget(pg, title="KL per latent dimension (nats)")
        self.kl_plot.setMouseEnabled(False, False)
        self.kl_plot.getAxis("bottom").setLabel("latent dimension")
        self.kl_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#4c72b0")
        self.kl_plot.addItem(self.kl_bars)
        self.beta = QDoubleSpinBox()
        self.beta.setRange(0.0, 100.0)
        self.beta.setDecimals(2)
        self.beta.setSingleStep(0.1)
        self.beta.setToolTip("Weight of the KL term, applied between steps while training")
        beta_row = QHBoxLayout()
        beta_row.addWidget(QLabel("beta"))
        beta_row.addWidget(self.beta)
        beta_row.addStretch(1)
        page = QWidget()
        col = QVBoxLayout(page)
        col.addWidget(self.kl_plot, 1)
        col.addWidget(help_label(TEXT["kl"]))
        col.addLayout(beta_row)
        col.addWidget(help_label(TEXT["beta"]))
        self.pages.addTab(page, "KL and beta")
        self.beta.valueChanged.connect(lambda v: self.knob_edited.emit("beta", float(v)))

        self.pages.addTab(self.quality, "Quality")
        self.pages.currentChanged.connect(self._page_changed)

    # the contract ------------------------------------------------------------------------------
    def on_run(self, info, explorer) -> None:
        super().on_run(info, explorer)
        ds = info.dataset
        for display in (self.manifold, self.code_view, self.recon, self.slider_code_view, self.strip, self.t_view):
            display.set_dataset(ds)
        for item in self.map_groups:
            item.setData([], [])
        self.map_marker.setData([], [])
        self.prior_outline.setData([], [])
        # the map follows the codes as they spread out, until the user pans or zooms ("A" follows again)
        self.map_plot.getViewBox().enableAutoRange()
        self.kl_bars.setOpts(x=[], height=[])
        self.legend.setText("  ".join(f'<span style="color:{LABEL_COLOURS[i % len(LABEL_COLOURS)]}">●</span> {name}'
                                      for i, name in enumerate(ds.label_names)))
        d = explorer.experiment.family.latent_dim
        self.kl_plot.getAxis("bottom").setTicks([[(i, str(i)) for i in range(d)]] if d <= 32 else None)
        self.kl_plot.setXRange(-0.6, d - 0.4, padding=0)
        n = len(ds.held_out) if ds.held_out is not None else 0
        for spin in (self.example, self.end_a, self.end_b):
            spin.blockSignals(True)
            spin.setRange(0, max(0, min(n, 2000) - 1))
            spin.blockSignals(False)
        self.end_b.blockSignals(True)
        self.end_b.setValue(min(1, self.end_b.maximum()))
        self.end_b.blockSignals(False)
        self.first_dim.setRange(0, max(0, d - SLIDERS))
        self.first_dim.setVisible(d > SLIDERS)
        self.first_dim_label.setVisible(d > SLIDERS)
        self.on_knob("beta", explorer.experiment.family.beta)
        self.message.setText("Waiting for the model's weights…")

    def on_knob(self, name: str, value) -> None:
        if name == "beta" and self.built:
            self.beta.blockSignals(True)
            self.beta.setValue(float(value))
            self.beta.blockSignals(False)

    each_class = None   # a conditional VAE decodes every code as one class, the one picked

    def label(self) -> int:
        """The class a conditional VAE decodes as (the same code, another class: the style kept)."""
        return max(self.asked_class(), 0)

    def on_class(self) -> None:
        self._show_prior()
        self._ask_page()

    def _show_prior(self) -> None:
        """The prior's Gaussians in the map's plane (a conditional model's for the picked class), each at
        two standard deviations."""
        if self.map is None:
            return
        prior = self.map["prior"]
        group = min(self.label(), len(prior["weights"]) - 1)
        self.prior_outline.setData(*prior_outline(prior["centres"][group], prior["covs"][group],
                                                  prior["weights"][group]))

    def on_weights(self, step: int) -> None:
        """New weights reached the explorer: everything on screen is asked for again."""
        self.submit("map", "EncodeHeldOut")
        self._ask_page()

    def _ask_page(self):
        if self.map is None:
            return
        page = self.pages.currentIndex()
        if page == 0:
            self._ask_manifold()
            self._ask_code()
        elif page == 1:
            self._ask_code()
        elif page == 2:
            self._ask_interpolation()
            self._ask_t()

    def _ask_code(self):
        if self.code is not None:
            self.submit("code", "Decode", codes=self.code[None].copy(), label=self.label())

    def _ask_manifold(self, *_):
        if self.map is None or not self.built:
            return
        (x0, x1), (y0, y1) = self.map_plot.getViewBox().viewRange()
        self.submit("manifold", "DecodeGrid", origin=self.map["origin"], axes=self.map["axes"],
                    x_range=(float(x0), float(x1)), y_range=(float(y0), float(y1)), rows=GRID, cols=GRID,
                    label=self.label())

    def _ask_interpolation(self):
        if self.a is not None and self.b is not None:
            self.submit("interpolation", "Interpolate", a=self.a, b=self.b, steps=STRIP,
                        spherical=bool(self.mode.currentData()), label=self.label())

    def _ask_t(self, *_):
        if self.a is None or self.b is None:
            return
        from ...engine.requests import interpolation_codes
        codes = interpolation_codes(self.a, self.b, 101, bool(self.mode.currentData()))
        self.submit("t", "Decode", codes=codes[self.t_slider.value()][None], label=self.label())

    # controls ----------------------------------------------------------------------------------
    def _map_clicked(self, event):
        box = self.map_plot.getViewBox()
        if self.map is None or not box.sceneBoundingRect().contains(event.scenePos()):
            return
        point = box.mapSceneToView(event.scenePos())
        self.click_map(point.x(), point.y())

    def click_map(self, x: float, y: float) -> None:
        """Decode the code at map position (x, y) and mark it."""
        if self.map is None:
            return
        self._moved()
        self.code = (self.map["origin"] + x * self.map["axes"][0] + y * self.map["axes"][1]).astype(np.float32)
        self._show_code_on_map()
        self._show_slider_values()
        self._ask_code()

    def reset_to_example(self, *_):
        code = self._example_code(self.example.value())
        if code is not None:
            self.code = code.copy()
            self._show_code_on_map()
            self._show_slider_values()
            self._ask_code()

    def _example_code(self, index: int):
        if self.map is None or index >= len(self.map["means"]):
            return None
        return self.map["means"][index].astype(np.float32)

    def _slider_moved(self, i: int, value: int):
        if self.code is None:
            return
        self._moved()
        dim = self.first_dim.value() + i
        self.code[dim] = value / (SLIDER_TICKS / 2) * SLIDER_RANGE
        self.slider_labels[i].setText(f"z{dim}  {self.code[dim]:+.2f}")
        self._ask_code_throttled()  # the map's marker follows when its page is shown (_page_changed)

    def set_slider(self, dim: int, value: float) -> None:
        """Move the slider of latent dimension `dim` (shown on screen) to `value`, as a drag would."""
        self.sliders[dim - self.first_dim.value()].setValue(round(value / SLIDER_RANGE * SLIDER_TICKS / 2))

    def _set_end(self, end: str, source):
        """An end of the walk: a held-out example (its code follows the encoder as it trains) or a code."""
        if source is None:
            return
        self.ends[end] = source if isinstance(source, int) else np.asarray(source, np.float32).copy()
        self._update_ends()
        self._ask_interpolation()
        self._ask_t()

    def _update_ends(self):
        for end, source in self.ends.items():
            setattr(self, end, self._example_code(source) if isinstance(source, int) else source)

    # showing answers ---------------------------------------------------------------------------
    def _show_code_on_map(self):
        if self.code is None or self.map is None:
            return
        xy = self.map["axes"] @ (self.code - self.map["origin"])
        self.map_marker.setData([float(xy[0])], [float(xy[1])])

    def _show_slider_values(self, *_):
        d = len(self.code) if self.code is not None else 0
        first = self.first_dim.value()
        for i, (slider, label) in enumerate(zip(self.sliders, self.slider_labels)):
            dim = first + i
            slider.setVisible(dim < d)
            label.setVisible(dim < d)
            if dim < d:
                slider.blockSignals(True)  # model state written back into the widget: no feedback loop
                slider.setValue(round(float(np.clip(self.code[dim], -SLIDER_RANGE, SLIDER_RANGE))
                                      / SLIDER_RANGE * SLIDER_TICKS / 2))
                slider.blockSignals(False)
                label.setText(f"z{dim}  {self.code[dim]:+.2f}")

    def _answer_map(self, values, _step):
        first = self.map is None
        self.map = values
        xy = values["map"].astype(float)
        groups = values["labels"] % len(LABEL_COLOURS) if values["labels"] is not None else np.zeros(len(xy), int)
        for g, item in enumerate(self.map_groups):
            item.setData(xy[groups == g, 0], xy[groups == g, 1])
        d = values["means"].shape[1]
        note = TEXT["pca"].format(d=d) if values["pca"] else ""
        if self.pca_note.text() != note:  # a label's text set again still re-lays out the page
            self.pca_note.setText(note)
        kl = values["kl_per_dim"]
        self.kl_bars.setOpts(x=np.arange(len(kl)), height=kl, width=0.8)
        self.recon.show_pairs(values["inputs"], values["recon"])
        self._show_prior()
        if first:  # the first map of this run: start from an example, set the walk's ends
            self.ends = {"a": self.end_a.value(), "b": self.end_b.value()}
            self.reset_to_example()
            self._update_ends()
            self._ask_page()
        else:
            self._update_ends()
            self._show_code_on_map()

    def _page_changed(self, _):
        self._show_code_on_map()
        self._show_slider_values()
        self._ask_page()

    def _answer_code(self, values, _step):
        # only the page on screen: during a drag every update of a hidden item is GIL time taken from training
        (self.slider_code_view if self.pages.currentIndex() == 1 else self.code_view).show(values["decoded"])

    def _answer_manifold(self, values, _step):
        decoded = values["decoded"]
        self.grid_rows[values["row"]] = decoded
        if len(self.grid_rows) == GRID and values["row"] < GRID - 1:
            # a whole grid is on screen: the next one replaces it when complete, one repaint instead of 12
            # (on every new set of weights, 12 repaints a grid took most of the timer's lateness)
            return
        rows = [self.grid_rows.get(r) for r in range(GRID)]
        if self.manifold.kind == "points":
            self.manifold.show(np.concatenate([r for r in rows if r is not None]))
            return
        blank = np.zeros_like(decoded)  # rows not yet answered show dark while the grid fills in
        self.manifold.show(np.concatenate([r if r is not None else blank for r in rows]))

    def _answer_interpolation(self, values, _step):
        self.strip.show(values["decoded"])

    def _answer_t(self, values, _step):
        self.t_view.show(values["decoded"])
