"""The GAN view: the generator and the discriminator fighting, run on demand while they train.

2D data: the discriminator's verdict over the plane as a heat map, real and generated points over
it, the generator's manifold (a mesh of noise pushed through it), the direction its loss pushes each
generated point, a slow-motion mode (one D step, a pause, one G step), quality curves and a
mode-collapse monitor. Images: the fixed-noise samples (click one: its nearest training images),
histograms of D(x) on real and generated batches, and the quality curves. Every picture is an
explorer answer for the newest weights; pyqtgraph items are built once and only get new data.
"""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ...engine.render import image_grid
from ..steady_label import steady_label
from ..theme import add_legend, plot_widget
from .base import ExplorerView, ImagePanel, help_area

RESOLUTION = 64       # the heat map: RESOLUTION x RESOLUTION discriminator outputs over the visible plane
FAKE_POINTS = 512     # generated points on the plane (fixed noise)
ARROWS = 64           # of which this many carry their gradient arrow
ARROW_SHARE = 0.08    # the longest arrow: this share of the visible width
MESH = 15             # the manifold: MESH x MESH noise codes
HISTOGRAM = 256       # real and generated examples in the D(x) histograms
NEIGHBOURS = 6
SLOW_MS = 900         # slow motion: the pause between one network's step and the other's
COLLAPSE_SHARE = 0.5  # the warning: fewer than this share of the modes covered ...
COLLAPSE_S = 3.0      # ... for this long (of answers), after
COLLAPSE_WARMUP = 500  # steps (a GAN's first hundreds of steps cover few modes, collapse or not)
THROTTLE_MS = 50

REAL, FAKE = (39, 140, 80), (142, 68, 173)   # green: real data; purple: generated (GAN Lab's colours)

TEXT = {
    "heat": "The background is the discriminator's verdict on every point of the plane: green where it "
            "says \"real\", purple where it says \"generated\" (for WGAN-GP, its raw score: higher means "
            "more real). The generator wins when its points sit where the discriminator cannot tell.",
    "manifold": "The mesh is the generator's map of its noise: a square grid of noise codes (two of its "
                "dimensions, the others at 0), pushed through the generator. Folds and stretches show where "
                "it sends most of its samples.",
    "arrows": "Each arrow starts at a generated point and shows where the generator's loss pushes it: "
              "towards what the discriminator calls real. Their lengths are to scale with each other.",
    "collapse": "Mode collapse: the generator puts its samples on a few modes of the data and ignores the "
                "rest. The losses can look healthy meanwhile; the warning watches coverage instead.",
    "slow": "Slow motion: training pauses, then the discriminator takes one step, a pause, the generator "
            "one step, a pause, and so on: watch the background move, then the points.",
    "hist": "D(x) on held-out real images (green) and on generated ones (purple). Early on the two are "
            "apart: the discriminator tells them apart easily. As the generator improves they overlap.",
    "nearest": "Click a generated image: its nearest training images appear beside it. If they are "
               "near-copies, the generator is memorising; if not, it makes new ones.",
}



def mesh_lines(mesh: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, connect) for one curve item drawing a mesh's rows and columns."""
    lines = np.concatenate([mesh, mesh.transpose(1, 0, 2)])  # (2m, m, 2)
    connect = np.ones(lines.shape[:2], bool)
    connect[:, -1] = False  # no segment from one line's end to the next line's start
    return lines[..., 0].ravel(), lines[..., 1].ravel(), connect.ravel()


def collapse_warning(history: list[tuple[float, int, float]], step: int) -> bool:
    """history: (time, step, share of modes covered) per plane answer, oldest first. True when the
    share has stayed below COLLAPSE_SHARE for the last COLLAPSE_S seconds, past the warm-up."""
    if step < COLLAPSE_WARMUP or not history or history[-1][0] - history[0][0] < COLLAPSE_S:
        return False
    recent = [share for t, s, share in history if history[-1][0] - t <= COLLAPSE_S and s >= COLLAPSE_WARMUP]
    return bool(recent) and max(recent) < COLLAPSE_SHARE


class GANView(ExplorerView):
    tab_title = "generator vs discriminator"

    @property
    def weights_ms(self) -> int:
        """The plane follows training at 10 frames a second or more (a copy takes 0.2 ms); the images'
        histograms need less."""
        return 80 if self.points else 200

    def __init__(self, family: str, parent=None):
        super().__init__(family, parent)
        self.points = True
        self.slow_timer = QTimer(self)
        self.slow_timer.setInterval(SLOW_MS)
        self.slow_timer.timeout.connect(self._slow_tick)
        self._reset_state()

    def _reset_state(self):
        rng = np.random.default_rng(0)
        d = self.explorer.experiment.family.latent_dim if self.explorer is not None else 1
        self.noise = rng.standard_normal((FAKE_POINTS, d)).astype(np.float32)
        self.plane_answer = None
        self.coverage: list[tuple[float, int, float]] = []   # (time, step, share of modes covered)
        self.curve_data: dict[str, list[tuple[int, float]]] = {}
        self.samples = None       # the latest snapshot's samples (images)
        self.picked = None        # index of the clicked sample
        self.shown_step.clear()
        self.plane_updates = 0    # plane answers shown (bench: updates per second)
        self.next_part = "d"
        self.collapsed = False

    # building (once, on the first run: pyqtgraph has loaded by then) ---------------------------------
    def _build(self):
        import pyqtgraph as pg
        from superqt.utils import qthrottled

        self.built = True
        self.kinds = QStackedWidget()
        # the plane (2D data)
        self.plane = plot_widget(pg)
        self.plane.setAspectLocked(True)
        self.plane.getPlotItem().hideButtons()
        self.cmap = pg.ColorMap([0.0, 0.5, 1.0], [FAKE, (245, 245, 245), REAL])
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat.setLookupTable(self.cmap.getLookupTable(nPts=256))
        self.heat.setZValue(-10)
        self.plane.addItem(self.heat, ignoreBounds=True)
        self.colour_bar = pg.ColorBarItem(values=(0, 1), colorMap=self.cmap, interactive=False, width=12)
        self.colour_bar.setImageItem(self.heat, insert_in=self.plane.getPlotItem())
        self.mesh_item = pg.PlotCurveItem(pen=pg.mkPen(90, 90, 90, 110, width=1))
        self.real_item = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(*REAL, 150))
        self.fake_item = pg.ScatterPlotItem(size=5, pen=pg.mkPen(70, 30, 90, 200, width=0.6),
                                            brush=pg.mkBrush(*FAKE, 200))
        self.arrow_item = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(20, 20, 20, 220, width=1.5))
        self.plane.addItem(self.real_item)
        for item in (self.mesh_item, self.fake_item, self.arrow_item):
            self.plane.addItem(item, ignoreBounds=True)
        self.layers = {}
        for key, label, item in (("heat", "discriminator's view", self.heat), ("real", "real data", self.real_item),
                                 ("fake", "generated", self.fake_item),
                                 ("mesh", "generator's manifold", self.mesh_item),
                                 ("arrows", "gradient arrows", self.arrow_item)):
            box = QCheckBox(label)
            box.setChecked(True)
            box.toggled.connect(lambda on, item=item: (item.setVisible(on), self._ask_plane()))
            self.layers[key] = box
        self.dim_i, self.dim_j = QSpinBox(), QSpinBox()
        for spin in (self.dim_i, self.dim_j):
            spin.setToolTip("The two noise dimensions the mesh spans (the others are held at 0)")
            spin.valueChanged.connect(lambda _: self._ask_plane())
        self.dims_row = QWidget()
        dims = QHBoxLayout(self.dims_row)
        dims.setContentsMargins(0, 0, 0, 0)
        for w in (QLabel("mesh over noise dims"), self.dim_i, self.dim_j):
            dims.addWidget(w)
        dims.addStretch(1)
        self.slow = QCheckBox("slow motion")
        self.slow.toggled.connect(self._slow_toggled)
        self.moving = steady_label("the generator (G) takes a step", "")
        self.moving.setStyleSheet("font-weight: bold;")
        self.warning = QLabel("")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #a01010; font-weight: bold;")
        self.plane_curves = plot_widget(pg, title="Quality over training")
        add_legend(pg, self.plane_curves, offset=(5, 5))
        self.plane_curves.getAxis("bottom").setLabel("step")
        self.curve_items = {}
        side = QVBoxLayout()
        grid = QGridLayout()
        for n, box in enumerate(self.layers.values()):
            grid.addWidget(box, n // 2, n % 2)
        side.addLayout(grid)
        side.addWidget(self.dims_row)
        slow_row = QHBoxLayout()
        slow_row.addWidget(self.slow)
        slow_row.addWidget(self.moving, 1)
        side.addLayout(slow_row)
        side.addWidget(self.warning)
        side.addWidget(self.plane_curves, 1)
        page = QWidget()
        col = QVBoxLayout(page)
        row = QHBoxLayout()
        row.addWidget(self.plane, 3)
        row.addLayout(side, 2)
        col.addLayout(row, 1)
        col.addWidget(help_area([TEXT[k] for k in ("heat", "manifold", "arrows", "collapse", "slow")]))
        self.plane_curves.setMinimumHeight(140)
        self.kinds.addWidget(page)
        self.plane.getViewBox().sigRangeChanged.connect(qthrottled(self._ask_plane, THROTTLE_MS, parent=self))

        # images
        grid = ImagePanel(pg, "The generator's samples (fixed noise): click one", fit=False)
        self.grid_widget, self.grid_box, self.grid_image = grid.widget, grid.box, grid.image
        self.pick_marker = pg.PlotCurveItem(pen=pg.mkPen("#ffb000", width=2))
        self.grid_box.addItem(self.pick_marker)
        self.grid_widget.scene().sigMouseClicked.connect(self._grid_clicked)
        near = ImagePanel(pg, "Nearest training images", fit=False)
        self.near_widget, self.near_title, self.near_box, self.near_image = (near.widget, near.title, near.box,
                                                                             near.image)
        self.near_shown = None
        self.hist_plot = plot_widget(pg, title="D(x) on real (green) and generated (purple)")
        self.hist_plot.setMouseEnabled(False, False)
        self.hist_real = pg.PlotCurveItem([0, 1], [0], stepMode="center", fillLevel=0, pen=pg.mkPen(REAL, width=2),
                                          brush=pg.mkBrush(*REAL, 70))
        self.hist_fake = pg.PlotCurveItem([0, 1], [0], stepMode="center", fillLevel=0, pen=pg.mkPen(FAKE, width=2),
                                          brush=pg.mkBrush(*FAKE, 70))
        self.hist_plot.addItem(self.hist_real)
        self.hist_plot.addItem(self.hist_fake)
        self.image_curves = plot_widget(pg, title="Share of classes covered")
        self.fd_curves = plot_widget(pg, title="Frechet distance (lower: better)")
        for plot in (self.image_curves, self.fd_curves):
            add_legend(pg, plot, offset=(5, 5))
            plot.getAxis("bottom").setLabel("step")
        left = QVBoxLayout()
        left.addWidget(self.grid_widget, 3)
        left.addWidget(self.near_widget, 1)
        left.addWidget(help_area([TEXT["nearest"]], 60))
        right = QVBoxLayout()
        right.addWidget(self.hist_plot, 1)
        right.addWidget(help_area([TEXT["hist"]], 80))
        right.addWidget(self.fd_curves, 1)
        right.addWidget(self.image_curves, 1)
        page = QWidget()
        row = QHBoxLayout(page)
        row.addLayout(left, 3)
        row.addLayout(right, 2)
        self.kinds.addWidget(page)
        self.pages.addTab(self.kinds, "Generator vs discriminator")
        self.pages.addTab(self.quality, "Quality")

    # the contract ------------------------------------------------------------------------------
    def clear(self) -> None:
        super().clear()
        self.slow_timer.stop()
        if self.built:
            self.slow.blockSignals(True)
            self.slow.setChecked(False)
            self.slow.blockSignals(False)
            self.moving.setText("")

    def on_run(self, info, explorer) -> None:
        super().on_run(info, explorer)
        ds = info.dataset
        self.points = ds.kind == "points"
        self.kinds.setCurrentIndex(0 if self.points else 1)
        d = explorer.experiment.family.latent_dim
        self.dims_row.setVisible(d > 2)
        for spin, value in ((self.dim_i, 0), (self.dim_j, min(1, d - 1))):
            spin.blockSignals(True)
            spin.setRange(0, d - 1)
            spin.setValue(value)
            spin.blockSignals(False)
        score = explorer.experiment.family.loss == "wgan-gp"
        self.colour_bar.setLevels((0, 1))
        self.colour_bar.axis.setLabel("critic score (higher: more real)" if score else "D(x): probability real")
        for widget in (self.plane_curves, self.image_curves, self.fd_curves):
            widget.clear()
            widget.getPlotItem().legend.clear()
        self.curve_items = {}
        for item in (self.mesh_item, self.fake_item, self.arrow_item, self.real_item):
            item.setData([], [])
        self.heat.clear()
        self.warning.setText("")
        if self.points:
            ref = ds.x[:2000]
            self.real_item.setData(ref[:, 0], ref[:, 1])
            self.plane.getViewBox().autoRange(padding=0.15)
        else:
            self.grid_image.clear()
            self.near_image.clear()
            self.near_shown = None
            self.pick_marker.setData([], [])
            for item in (self.hist_real, self.hist_fake):
                item.setData([0, 1], [0])
        self.message.setText("Waiting for the model's weights…")

    def on_weights(self, step: int) -> None:
        if self.points:
            self._ask_plane()
        else:
            self.submit("histogram", "CriticHistogram", noise=self.noise[:HISTOGRAM], count=HISTOGRAM)
            self._ask_class()

    def on_class(self) -> None:
        self.picked = None
        self.pick_marker.setData([], [])
        self._ask_class()

    def _ask_class(self) -> None:
        """A picked class: 64 samples of it from the running generator (each class: the snapshots' rows)."""
        if self.classes and self.asked_class() >= 0:
            self.submit("class_samples", "Samples", label=self.asked_class(), count=64, seed=3)

    def _answer_class_samples(self, values, step):
        if values["label"] == self.asked_class():
            self._show_samples(values["samples"])

    def on_snapshot(self, snap) -> None:
        if not self.built or self.info is None or self.points or (self.classes and self.asked_class() >= 0):
            return
        self._show_samples(np.asarray(snap.samples))

    def _show_samples(self, samples: np.ndarray) -> None:
        fresh = self.samples is None
        self.samples = samples
        self.grid_image.setImage(image_grid(self.samples, scale=1, pad=1, cols=8), autoLevels=False, levels=(0, 255))
        if fresh:
            self.grid_box.autoRange(padding=0.01)
        self._mark_pick()

    def on_metrics(self, event) -> None:
        super().on_metrics(event)
        if not self.built or self.info is None:
            return
        v = event.values
        if "modes_total" in v:
            wanted = {"modes captured (share)": v["modes_captured"] / v["modes_total"], "HQ fraction": v["hq_fraction"]}
        elif "energy_distance" in v:
            wanted = {"energy distance": v["energy_distance"]}
        else:
            wanted = {"Frechet distance": v["fd"]} if "fd" in v else {}
            if "class_total" in v:
                wanted["classes covered (share)"] = v["class_coverage"] / v["class_total"]
        colours = ["#1f77b4", "#d62728", "#2ca02c"]
        for name, value in wanted.items():
            self.curve_data.setdefault(name, []).append((event.step, float(value)))
            if name not in self.curve_items:
                plot = (self.plane_curves if self.points
                        else self.fd_curves if name == "Frechet distance" else self.image_curves)
                self.curve_items[name] = plot.plot(pen=colours[len(self.curve_items) % 3], symbol="o", symbolSize=5,
                                                   name=name)
            xs, ys = zip(*self.curve_data[name])
            self.curve_items[name].setData(xs, ys)
        if not self.points and "class_total" in v:
            self._warn(v["class_coverage"] / v["class_total"] < COLLAPSE_SHARE,
                       f"The generator covers {v['class_coverage']} of {v['class_total']} classes: "
                       "it may be collapsing.")

    def _ask_plane(self, *_):
        if not self.built or self.info is None or not self.points:
            return
        (x0, x1), (y0, y1) = self.plane.getViewBox().viewRange()
        self.submit("plane", "GANPlane", x_range=(float(x0), float(x1)), y_range=(float(y0), float(y1)),
                    resolution=RESOLUTION, noise=self.noise, mesh=MESH,
                    mesh_dims=(self.dim_i.value(), self.dim_j.value()))

    # answers -------------------------------------------------------------------------------------
    def _answer_plane(self, values, step):
        self.plane_answer = values
        self.plane_updates += 1
        (x0, x1), (y0, y1) = values["x_range"], values["y_range"]
        critic = values["critic"]
        if self.layers["heat"].isChecked():
            score = self.explorer.experiment.family.loss == "wgan-gp"
            levels = (float(critic.min()), float(critic.max()) + 1e-6) if score else (0.0, 1.0)
            self.heat.setImage(critic, autoLevels=False, levels=levels)
            self.heat.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
            if score:
                self.colour_bar.setLevels(levels)
        fake, push = values["fake"], values["push"]
        if self.layers["fake"].isChecked():
            self.fake_item.setData(fake[:, 0], fake[:, 1])
        if self.layers["arrows"].isChecked():
            ends = self._arrows(fake[:ARROWS], push[:ARROWS], x1 - x0)
            self.arrow_item.setData(ends[:, 0], ends[:, 1])
        if self.layers["mesh"].isChecked():
            x, y, connect = mesh_lines(values["mesh"])
            self.mesh_item.setData(x, y, connect=connect)
        ds = self.info.dataset
        if ds.modes is not None:
            from ...engine.metrics import mode_metrics
            m = mode_metrics(fake, ds.modes, ds.mode_std)
            now = time.perf_counter()
            self.coverage = [c for c in self.coverage if now - c[0] <= 2 * COLLAPSE_S] + [
                (now, step, m["modes_captured"] / m["modes_total"])]
            self._warn(collapse_warning(self.coverage, step),
                       f"Mode collapse? The generator's points cover {m['modes_captured']} of {m['modes_total']} "
                       f"modes (for {COLLAPSE_S:g} s or more).")

    @staticmethod
    def _arrows(points: np.ndarray, push: np.ndarray, width: float) -> np.ndarray:
        """Segments (2n, 2) from each point along its push, the longest ARROW_SHARE of the width."""
        longest = float(np.sqrt((push ** 2).sum(1)).max()) if len(push) else 0.0
        scale = ARROW_SHARE * width / longest if longest > 0 else 0.0
        return np.stack([points, points + push * scale], 1).reshape(-1, 2).astype(float)

    def _answer_histogram(self, values, step):
        real, fake = values["real"], values["fake"]
        lo, hi = (0.0, 1.0) if not values["score"] else (float(min(real.min(), fake.min())),
                                                          float(max(real.max(), fake.max())) + 1e-6)
        edges = np.linspace(lo, hi, 31)
        self.hist_real.setData(edges, np.histogram(real, edges)[0].astype(float))
        self.hist_fake.setData(edges, np.histogram(fake, edges)[0].astype(float))

    def _answer_nearest(self, values, step):
        images = np.concatenate([values["example"][None], values["nearest"]])
        first = self.near_shown is None
        self.near_shown = values
        self.near_image.setImage(image_grid(images, scale=1, pad=1, cols=len(images)), autoLevels=False,
                                 levels=(0, 255))
        if first:  # a new title or range re-lays out the page: once a run
            self.near_box.autoRange(padding=0.02)
            self.near_title.setText(f"Picked (left) and its {len(values['nearest'])} nearest training images, "
                                    f"in {values['space']}", color="#dddddd", size="9pt")

    def _warn(self, on: bool, text: str) -> None:
        self.collapsed = on
        self.warning.setText(text if on else "")

    # controls ------------------------------------------------------------------------------------
    def _grid_clicked(self, event):
        if self.samples is None:
            return
        point = self.grid_box.mapSceneToView(event.scenePos())
        self.pick_at(point.x(), point.y())

    def pick_at(self, x: float, y: float) -> None:
        """The sample under grid position (x, y) (pixels of the grid image) is picked."""
        n, _, h, w = self.samples.shape
        col, row = int(x // (w + 1)), int(y // (h + 1))
        index = row * 8 + col
        if 0 <= col < 8 and 0 <= index < n:
            self.pick(index)

    def pick(self, index: int) -> None:
        self.picked = index
        self._mark_pick()
        self.submit("nearest", "Nearest", example=self.samples[index].copy(), k=NEIGHBOURS)

    def _mark_pick(self):
        if self.picked is None or self.samples is None:
            return
        _, _, h, w = self.samples.shape
        col, row = self.picked % 8, self.picked // 8
        x0, y0 = col * (w + 1) + 0.5, row * (h + 1) + 0.5
        self.pick_marker.setData([x0, x0 + w + 1, x0 + w + 1, x0, x0], [y0, y0, y0 + h + 1, y0 + h + 1, y0])

    def _slow_toggled(self, on: bool):
        if on:
            self.next_part = "d"
            self._slow_tick()
            self.slow_timer.start()
        else:
            self.slow_timer.stop()
            self.moving.setText("")

    def _slow_tick(self):
        part = self.next_part
        self.moving.setText("the discriminator (D) takes a step" if part == "d" else "the generator (G) takes a step")
        self.step_asked.emit(part)
        self.next_part = "g" if part == "d" else "d"
