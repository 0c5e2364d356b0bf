"""The diffusion view: the running model noising data forward and denoising its own samples backward.

Pages: Denoise (press Sample: the explorer computes a whole trajectory from pure noise in chunks, the
view shows it as it arrives and keeps it, so scrubbing and playback are instant; DDPM or DDIM with
eta, or Euler or Heun for flow matching, and any number of steps; a steps-vs-quality table the user
fills; for a class-conditional model a class picker, a guidance slider and the accuracy and FD of
each guidance scale tried), Forward (a slider over t
noises held-out examples with the scheduler's add_noise; on 2D data the model's denoising direction
over the plane at that t), Schedule and loss (beta_t, alpha-bar_t and the signal-to-noise ratio,
linear and cosine; the loss per range of timesteps, live). Every picture is an explorer answer.
"""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...config import CLASS_ROW, CLASS_ROWS_MAX
from ...engine.render import image_grid
from ..steady_label import steady_label
from ..theme import add_legend, plot_widget
from .base import ExplorerView, ImagePanel, help_area

IMAGES = 64           # samples denoised at once (an 8 x 8 grid)
PARTICLES = 512       # 2D: points denoised at once
TRAILS = 96           # of which this many draw their path
SCHEDULE_COLOURS = {"linear": "#1f77b4", "cosine": "#d62728", "flow": "#2ca02c"}
FORWARD_IMAGES = 8    # held-out images noised on the forward page
FORWARD_POINTS = 1500
FIELD = 21            # the denoising direction on a FIELD x FIELD grid
ARROW_SHARE = 0.05    # the longest arrow: this share of the visible width
LOSS_BUCKETS = 10
LOSS_EVERY_S = 1.0    # the loss bars are asked at most this often
SPEEDS = {"5 steps/s": 200, "15 steps/s": 66, "40 steps/s": 25}
GUIDANCE_STEPS = 4    # the guidance slider's ticks per unit of scale
GUIDANCE_MAX = 8.0
SAMPLERS = {"eps": ["DDPM", "DDIM"], "flow": ["Euler", "Heun"]}
PARTICLE, PRED, DATA = (142, 68, 173), (232, 115, 14), (60, 60, 60)

TEXT = {
    "reverse": "Press Sample: the model starts from pure noise (x_T, left of the slider) and removes a little of "
               "it at every step until data is left (x_0, right). Drag the slider to any step, or press Play.",
    "x0": "Predicted x_0: at every step the model guesses the clean result from the noisy x_t in one jump. Early "
          "guesses are blurry averages; they sharpen as the noise goes.",
    "samplers": "DDPM adds fresh noise at every step and needs many steps. DDIM (eta 0) is deterministic and "
                "skips steps: 20-50 often do nearly as well. eta between 0 and 1 mixes the two (1 is DDPM's noise). "
                "Each finished trajectory adds a row to the table: fill it to see steps against quality.",
    "flow": "Flow matching: the model learned a velocity, the direction from a clean example straight to its "
            "noise. Euler steps walk back along it; Heun looks at the velocity at both ends of a step (two "
            "network calls), so it needs fewer steps. The straighter the paths, the fewer steps sampling needs.",
    "guidance": "Guidance: the model guesses twice, once told the class and once not, and goes guidance times as "
                "far from the second guess towards the first. 0 ignores the class, 1 is the plain conditional "
                "model, above 1 exaggerates the class. Try several scales: each adds a point to the plots above "
                "(the newest trajectory at that scale). The classifier agrees with the asked class more often as "
                "guidance rises, and the samples grow alike: FD (lower: closer to real images), which also "
                "counts missing variety, goes up.",
    "forward": "The forward process adds noise on purpose: x_t = sqrt(alpha-bar_t) x_0 + sqrt(1 - alpha-bar_t) noise "
               "(flow matching: x_t = (1 - s) x_0 + s noise, a straight line, s = (t + 1) / T). At t = 0 the data is "
               "clean; near T only noise is left. Training shows the model x_t and asks it for the noise (flow "
               "matching: for noise - x_0, the velocity along the line).",
    "field": "Arrows: the model's denoising direction (minus the noise it predicts) at this t, over the plane. At "
             "large t they point roughly to the middle of the data; at small t, to the nearest mode.",
    "schedule": "The noise schedule: beta_t is the noise added at step t, alpha-bar_t the share of the signal "
                "left, and the signal-to-noise ratio their balance (log scale). The cosine schedule destroys "
                "signal more gently than the linear one. Flow matching slides x_t along a straight line, 1 - s "
                "of the signal and s of the noise (s = (t + 1) / T); its curves are those of a schedule with the "
                "same signal-to-noise ratio, ((1 - s) / s)^2.",
    "loss": "The model's loss on held-out examples for each range of timesteps, live. Small t (little noise) is "
            "the hard part: the exact noise is hard to see in an almost clean picture.",
}


def trail_lines(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, connect) for one curve item drawing each particle's path over frames (k, n, 2)."""
    paths = frames.transpose(1, 0, 2)  # (n, k, 2)
    connect = np.ones(paths.shape[:2], bool)
    connect[:, -1] = False
    return paths[..., 0].ravel().astype(float), paths[..., 1].ravel().astype(float), connect.ravel()


class DiffusionView(ExplorerView):
    tab_title = "noise and denoise"

    def __init__(self, family: str, parent=None):
        super().__init__(family, parent)
        self.points = True
        self.play_timer = QTimer(self)
        self.play_timer.timeout.connect(self._play_tick)
        self.seed = 0
        self._reset_state()

    def _reset_state(self):
        self.frames: list[np.ndarray] = []     # the kept trajectory: x_t per frame (data space)
        self.preds: list[np.ndarray] = []      # the predicted x_0 at each frame
        self.ts: list[int] = []                # each frame's t (-1: the result)
        self.grids: list[tuple[np.ndarray, np.ndarray]] = []   # images: each frame's two grids, drawn once
        self.total = 0                         # frames the trajectory will have
        self.following = True                  # the slider follows the newest frame until the user moves it
        self.shown_frame = None
        self.forward_answer = None
        self.field_answer = None
        self.loss_asked = 0.0
        self.sampled = False
        self.guidance_tried: dict[float, dict] = {}   # scale -> the newest trajectory's quality at it
        self.shown_step.clear()

    # building --------------------------------------------------------------------------------------
    def _build(self):
        import pyqtgraph as pg

        self.built = True
        self.pg = pg
        # Denoise -------------------------------------------------------------------------------
        self.sample_button = QPushButton("Sample")
        self.sample_button.setToolTip("Denoise a new batch of pure noise with the model as it is now (a new seed)")
        self.sample_button.clicked.connect(self.sample)
        self.sampler = QComboBox()
        self.sampler.addItems(SAMPLERS["eps"])
        self.eta = QDoubleSpinBox()
        self.eta.setRange(0.0, 1.0)
        self.eta.setSingleStep(0.1)
        self.eta.setToolTip("DDIM's noise: 0 deterministic, 1 as much as DDPM")
        self.steps = QSpinBox()
        self.steps.setToolTip("Denoising steps, spread evenly over the schedule")
        self.sampler.currentIndexChanged.connect(lambda _: self.eta.setEnabled(self.sampler.currentText() == "DDIM"))
        self.eta.setEnabled(False)
        controls = QHBoxLayout()
        for widget in (self.sample_button, QLabel("sampler"), self.sampler, QLabel("eta"), self.eta,
                       QLabel("steps"), self.steps):
            controls.addWidget(widget)
        controls.addStretch(1)
        self.frame_label = steady_label("step 1000 of 1000: x_0, the result", "")
        controls.addWidget(self.frame_label)
        self.guidance = QSlider(Qt.Horizontal)
        self.guidance.setRange(0, int(GUIDANCE_MAX * GUIDANCE_STEPS))
        self.guidance.setToolTip("Classifier-free guidance scale: 0 ignores the class, 1 is the conditional model, "
                                 "more exaggerates the class. The same noise is denoised again.")
        self.guidance.valueChanged.connect(self._guidance_moved)
        self.guidance_label = steady_label("guidance 8.00", "")
        self.condition_row = QWidget()
        row = QHBoxLayout(self.condition_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("guidance"))
        row.addWidget(self.guidance, 1)
        row.addWidget(self.guidance_label)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._play_toggled)
        self.speed = QComboBox()
        self.speed.addItems(list(SPEEDS))
        self.speed.setCurrentIndex(1)
        self.speed.currentTextChanged.connect(lambda text: self.play_timer.setInterval(SPEEDS[text]))
        self.play_timer.setInterval(SPEEDS[self.speed.currentText()])
        self.scrub = QSlider(Qt.Horizontal)
        self.scrub.setRange(0, 0)
        self.scrub.valueChanged.connect(self._scrubbed)
        self.scrub.sliderPressed.connect(self._took_over)
        scrub_row = QHBoxLayout()
        scrub_row.addWidget(self.play_button)
        scrub_row.addWidget(self.speed)
        scrub_row.addWidget(self.scrub, 1)
        self.x_panel = ImagePanel(pg, "x_t at this step")
        self.x0_panel = ImagePanel(pg, "predicted x_0")
        self.reverse_plot = plot_widget(pg, title="Particles from noise (purple) to data (grey)")
        self.reverse_plot.setAspectLocked(True)
        self.reverse_data = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(*DATA, 120))
        self.reverse_data.setZValue(1)  # the data over the paths, under the particles
        self.trail_item = pg.PlotCurveItem(pen=pg.mkPen(120, 90, 150, 50, width=1))
        self.pred_item = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(*PRED, 170))
        self.particle_item = pg.ScatterPlotItem(size=5, pen=pg.mkPen(70, 30, 90, 200, width=0.6),
                                                brush=pg.mkBrush(*PARTICLE, 210))
        self.reverse_plot.addItem(self.reverse_data)
        for item in (self.trail_item, self.pred_item, self.particle_item):
            self.reverse_plot.addItem(item, ignoreBounds=True)
        self.pred_item.setZValue(2)
        self.particle_item.setZValue(3)
        self.show_preds = QCheckBox("predicted x_0 (orange)")
        self.show_preds.setChecked(True)
        self.show_preds.toggled.connect(lambda on: (self.pred_item.setVisible(on), self._show_frame()))
        self.show_trails = QCheckBox("paths")
        self.show_trails.setChecked(True)
        self.show_trails.toggled.connect(lambda on: (self.trail_item.setVisible(on), self._show_frame()))
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["sampler", "eta", "steps", "quality", "seconds"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.quality_label = QLabel("")
        self.quality_label.setWordWrap(True)
        self.guidance_plots = QWidget()
        guidance_col = QVBoxLayout(self.guidance_plots)
        guidance_col.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        guidance_col.addLayout(row, 1)
        guidance_col.addWidget(help_area([TEXT["guidance"]], 80))
        self.accuracy_plot = plot_widget(pg, title="class accuracy")
        self.fd_plot = plot_widget(pg, title="FD")
        self.guidance_items = {}
        for key, plot, colour in (("class_accuracy", self.accuracy_plot, "#2ca02c"), ("fd", self.fd_plot, "#d62728")):
            plot.setMouseEnabled(False, False)
            plot.getAxis("bottom").setLabel("guidance")
            self.guidance_items[key] = plot.plot([], [], pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=7,
                                                 symbolBrush=colour)
            row.addWidget(plot)
        self.accuracy_plot.setYRange(0, 1)
        self.guidance_plots.setMinimumHeight(230)
        self.reverse_kinds = QStackedWidget()
        images = QWidget()
        row = QHBoxLayout(images)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.x_panel.widget)
        row.addWidget(self.x0_panel.widget)
        self.reverse_kinds.addWidget(images)
        points = QWidget()
        col = QVBoxLayout(points)
        col.setContentsMargins(0, 0, 0, 0)
        toggles = QHBoxLayout()
        toggles.addWidget(self.show_preds)
        toggles.addWidget(self.show_trails)
        toggles.addStretch(1)
        col.addLayout(toggles)
        col.addWidget(self.reverse_plot, 1)
        self.reverse_kinds.addWidget(points)
        picture = QVBoxLayout()
        picture.addWidget(self.reverse_kinds, 1)
        picture.addLayout(scrub_row)
        side = QVBoxLayout()
        side.addWidget(QLabel("Steps against quality (a row per finished trajectory)"))
        side.addWidget(self.table, 1)
        side.addWidget(self.quality_label)
        side.addWidget(self.guidance_plots, 1)
        side.addWidget(help_area([TEXT[k] for k in ("reverse", "x0", "samplers", "flow")], 160))
        side_widget = QWidget()
        side_widget.setLayout(side)
        side_widget.setMaximumWidth(420)  # the rest goes to the pictures
        side.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addLayout(picture, 3)
        row.addWidget(side_widget, 2)
        page = QWidget()
        col = QVBoxLayout(page)
        col.addLayout(controls)
        col.addWidget(self.condition_row)
        col.addLayout(row, 1)
        self.pages.addTab(page, "Denoise")

        # Forward ---------------------------------------------------------------------------------
        self.t_slider = QSlider(Qt.Horizontal)
        self.t_slider.valueChanged.connect(self._t_moved)
        self.t_label = steady_label("t = 9999: x_t = 0.00 x_0 + 0.00 noise", "")
        self.show_field = QCheckBox("denoising direction")
        self.show_field.setChecked(True)
        self.show_field.toggled.connect(self._field_toggled)
        t_row = QHBoxLayout()
        t_row.addWidget(QLabel("t"))
        t_row.addWidget(self.t_slider, 1)
        t_row.addWidget(self.t_label)
        t_row.addWidget(self.show_field)
        self.forward_panel = ImagePanel(pg, "held-out x_0 (top), the noise (middle), x_t (bottom)")
        self.forward_plot = plot_widget(pg, title="x_t: held-out points noised to t")
        self.forward_plot.setAspectLocked(True)
        self.forward_data = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(*DATA, 120))
        self.forward_data.setZValue(1)
        self.forward_item = pg.ScatterPlotItem(size=4, pen=None, brush=pg.mkBrush(*PARTICLE, 150))
        self.field_item = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(20, 20, 20, 200, width=1.3))
        self.field_heads = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(20, 20, 20, 220))
        self.forward_plot.addItem(self.forward_data)
        for item in (self.forward_item, self.field_item, self.field_heads):
            self.forward_plot.addItem(item, ignoreBounds=True)
        self.forward_kinds = QStackedWidget()
        self.forward_kinds.addWidget(self.forward_panel.widget)
        self.forward_kinds.addWidget(self.forward_plot)
        self.forward_help = help_area([TEXT["forward"], TEXT["field"]], 120)
        page = QWidget()
        col = QVBoxLayout(page)
        col.addLayout(t_row)
        col.addWidget(self.forward_kinds, 1)
        col.addWidget(self.forward_help)
        self.pages.addTab(page, "Forward: adding noise")
        self.forward_plot.getViewBox().sigRangeChanged.connect(self._ask_field)

        # Schedule and loss -------------------------------------------------------------------------
        self.schedule_plots = {}
        plots = QHBoxLayout()
        for key, title in (("beta", "beta_t (noise added at t)"), ("alpha_bar", "alpha-bar_t (signal left)"),
                           ("snr", "signal-to-noise ratio (log10)")):
            plot = plot_widget(pg, title=title)
            add_legend(pg, plot, offset=(5, 5))
            plot.getAxis("bottom").setLabel("t")
            plot.setMouseEnabled(False, False)
            self.schedule_plots[key] = plot
            plots.addWidget(plot)
        self.t_lines = []
        for plot in self.schedule_plots.values():
            line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888", style=Qt.DashLine))
            plot.addItem(line, ignoreBounds=True)
            self.t_lines.append(line)
        self.loss_plot = plot_widget(pg, title="Held-out loss per range of timesteps (live)")
        self.loss_plot.setMouseEnabled(False, False)
        self.loss_plot.getAxis("bottom").setLabel("t")
        self.loss_bars = pg.BarGraphItem(x=[0], height=[0], width=1, brush="#5aa0e6")
        self.loss_plot.addItem(self.loss_bars)
        page = QWidget()
        col = QVBoxLayout(page)
        col.addLayout(plots, 1)
        col.addWidget(self.loss_plot, 1)
        col.addWidget(help_area([TEXT["schedule"], TEXT["loss"]], 90))
        self.pages.addTab(page, "Schedule and loss")
        self.pages.addTab(self.quality, "Quality")
        self.pages.currentChanged.connect(lambda _: self.on_weights(None))

    # the contract ----------------------------------------------------------------------------------
    def clear(self) -> None:
        super().clear()
        self.play_timer.stop()
        if self.built:
            self.play_button.setChecked(False)

    def on_run(self, info, explorer) -> None:
        super().on_run(info, explorer)
        cfg = explorer.experiment.family
        ds = info.dataset
        self.points = ds.kind == "points"
        self.reverse_kinds.setCurrentIndex(1 if self.points else 0)
        self.forward_kinds.setCurrentIndex(1 if self.points else 0)
        self.show_field.setVisible(self.points)
        self.steps.setRange(2, cfg.timesteps)
        self.steps.setValue(min(cfg.sample_steps, cfg.timesteps))
        self.sampler.blockSignals(True)
        self.sampler.clear()
        self.sampler.addItems(SAMPLERS[cfg.objective])
        self.sampler.setCurrentIndex(1 if cfg.sampler in ("ddim", "heun") else 0)
        self.sampler.blockSignals(False)
        self.eta.setEnabled(cfg.sampler == "ddim")
        self.condition_row.setVisible(bool(self.classes))
        self.guidance_plots.setVisible(bool(self.classes) and not self.points)
        self.guidance.blockSignals(True)
        self.guidance.setValue(round(cfg.guidance * GUIDANCE_STEPS))
        self.guidance_label.setText(f"guidance {cfg.guidance:.2f}")
        self.guidance.blockSignals(False)
        self._clear_guidance_points()
        self.t_slider.blockSignals(True)
        self.t_slider.setRange(0, cfg.timesteps - 1)
        self.t_slider.setValue(cfg.timesteps // 4)
        self.t_slider.blockSignals(False)
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, 0)
        self.scrub.blockSignals(False)
        self.frame_label.setText("")
        self.table.setRowCount(0)
        self.quality_label.setText("")
        for panel in (self.x_panel, self.x0_panel, self.forward_panel):
            panel.clear()
        for item in (self.trail_item, self.pred_item, self.particle_item, self.forward_item, self.field_item,
                     self.field_heads):
            item.setData([], [])
        self.loss_bars.setOpts(x=[0], height=[0], width=1)
        if self.points:
            ref = ds.held_out[:2000]
            # the frame holds the data and pure noise (about 3 standard deviations of it)
            lo = np.minimum(ref.min(0), ds.shift - 3 * np.asarray(ds.scale))
            hi = np.maximum(ref.max(0), ds.shift + 3 * np.asarray(ds.scale))
            for item, plot in ((self.reverse_data, self.reverse_plot), (self.forward_data, self.forward_plot)):
                item.setData(ref[:, 0], ref[:, 1])
                plot.getViewBox().setRange(xRange=(lo[0], hi[0]), yRange=(lo[1], hi[1]), padding=0.02)
        self.message.setText("Waiting for the model's weights…")

    def on_weights(self, step) -> None:
        if not self.built or self.info is None:
            return
        if not self.sampled and step is not None:  # the first weights: every page gets its picture
            self.sampled = True
            self.submit("schedule", "Schedules")
            self._ask_forward()
            self.sample()
        page = self.pages.currentIndex()
        if page == 1:
            self._ask_field()
        elif page == 2 and time.perf_counter() - self.loss_asked >= LOSS_EVERY_S:
            self.loss_asked = time.perf_counter()
            self.submit("loss", "TimestepLoss", buckets=LOSS_BUCKETS, count=128 if self.points else 32)

    # requests ----------------------------------------------------------------------------------
    def sample(self, same_noise: bool = False) -> None:
        """Denoise a new batch of noise (a new seed; `same_noise`: the last one again) with the chosen
        sampler and steps, and for a conditional model the chosen class and guidance."""
        if self.explorer is None:
            return
        if not same_noise:
            self.seed += 1
        self.frames, self.preds, self.ts, self.grids = [], [], [], []
        self.following = True
        self.play_button.setChecked(False)
        count, condition = PARTICLES if self.points else IMAGES, {}
        if self.classes:
            label = self.asked_class()
            if label < 0 and not self.points and len(self.classes) <= CLASS_ROWS_MAX:
                count = CLASS_ROW * len(self.classes)   # a row per class
            condition = {"label": label, "guidance": self.guidance_scale()}
        self.submit("denoise", "Denoise", sampler=self.sampler.currentText().lower(), steps=self.steps.value(),
                    eta=self.eta.value(), count=count, seed=self.seed, **condition)

    def on_class(self):
        self._clear_guidance_points()   # the plots compare scales for one choice of class
        self.sample(same_noise=True)

    def on_knob(self, name: str, value) -> None:
        """The run's guidance changed in the settings: the slider follows (and denoises again)."""
        if name == "guidance" and self.built and self.classes:
            self.guidance.setValue(round(float(value) * GUIDANCE_STEPS))

    def guidance_scale(self) -> float:
        return self.guidance.value() / GUIDANCE_STEPS

    def _guidance_moved(self, _):
        self.guidance_label.setText(f"guidance {self.guidance_scale():.2f}")
        self.sample(same_noise=True)   # the same noise: only the guidance differs

    def _ask_forward(self):
        self.submit("forward", "Forward", t=self.t_slider.value(),
                    count=FORWARD_POINTS if self.points else FORWARD_IMAGES)
        self._ask_field()

    def _ask_field(self, *_):
        if not self.points or not self.show_field.isChecked() or self.info is None:
            return
        (x0, x1), (y0, y1) = self.forward_plot.getViewBox().viewRange()
        self.submit("field", "DenoiseField", t=self.t_slider.value(), x_range=(float(x0), float(x1)),
                    y_range=(float(y0), float(y1)), resolution=FIELD)

    # answers -------------------------------------------------------------------------------------
    def _answer_schedule(self, values, step):
        current = values["current"]
        for key, plot in self.schedule_plots.items():
            plot.getPlotItem().legend.clear()
            for item in [i for i in plot.listDataItems()]:
                plot.removeItem(item)
            for name, curve in values["schedules"].items():
                ys = np.log10(np.maximum(curve[key], 1e-12)) if key == "snr" else curve[key]
                ours = name == current
                pen = self.pg.mkPen(SCHEDULE_COLOURS[name], width=3 if ours else 1.5,
                                    style=Qt.SolidLine if ours else Qt.DashLine)
                plot.plot(np.arange(len(ys)), ys, pen=pen, name=f"{name}{' (this run)' if ours else ''}")
        self._mark_t()

    def _answer_forward(self, values, step):
        self.forward_answer = values
        self.t_label.setText(f"t = {values['t']}: x_t = {values['signal']:.2f} x_0 + {values['noise_level']:.2f} noise")
        if self.points:
            x_t = values["x_t"]
            self.forward_item.setData(x_t[:, 0], x_t[:, 1])
        else:
            rows = np.concatenate([values["x0"], values["noise_shown"], values["x_t"]])
            self.forward_panel.show(image_grid(rows, scale=1, pad=1, cols=len(values["x0"])))

    def _answer_field(self, values, step):
        self.field_answer = values
        grid, direction = values["grid"], values["direction"]
        (x0, x1), _ = self.forward_plot.getViewBox().viewRange()
        longest = float(np.sqrt((direction ** 2).sum(1)).max()) if len(direction) else 0.0
        scale = ARROW_SHARE * (x1 - x0) / longest if longest > 0 else 0.0
        heads = grid + direction * scale
        ends = np.stack([grid, heads], 1).reshape(-1, 2).astype(float)
        self.field_item.setData(ends[:, 0], ends[:, 1])
        self.field_heads.setData(heads[:, 0], heads[:, 1])

    def _answer_loss(self, values, step):
        edges, loss = values["edges"], values["loss"]
        self.loss_bars.setOpts(x=(edges[:-1] + edges[1:]) / 2, height=loss, width=np.diff(edges) * 0.9)

    def _answer_denoise(self, values, step):
        first = values["first"]
        if first == 0:  # a new trajectory
            self.frames, self.preds, self.ts, self.grids = [], [], [], []
        self.total = values["total"]
        self.frames.extend(values["frames"])
        self.preds.extend(values["preds"])
        self.ts.extend(int(t) for t in values["t"])
        if not self.points:
            self.grids.extend((image_grid(x, scale=1, pad=1, cols=8), image_grid(p, scale=1, pad=1, cols=8))
                              for x, p in zip(values["frames"], values["preds"]))
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, len(self.frames) - 1)
        if self.following:
            self.scrub.setValue(len(self.frames) - 1)
        self.scrub.blockSignals(False)
        self._show_frame()
        if "quality" in values:
            self._add_table_row(values)

    def _add_table_row(self, values):
        q = values["quality"]
        if "energy_distance" in q:
            text = f"energy distance {q['energy_distance']:.3g}"
            if "modes_captured" in q:
                text += f", {q['modes_captured']} modes, HQ {q['hq_fraction']:.2f}"
            if "straightness" in q:
                text += f", paths {q['straightness']:.2f}x as long as straight lines"
        elif "fd" in q:
            count = len(values["frames"][-1])
            text = f"FD {q['fd']:.3g} (of {count} images), classifier confidence {q['confidence']:.2f}"
        else:
            text = "no metric for this data"
        if values.get("guidance") is not None:
            asked = "each class" if values["label"] < 0 else f"class {self.classes[values['label']]}"
            text = f"{asked}, guidance {values['guidance']:.2f}: {text}"
            if "class_accuracy" in q:
                text += f", class accuracy {q['class_accuracy']:.2f}"
                self._add_guidance_point(values["guidance"], q)
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, cell in enumerate((values["sampler"].upper(), f"{values['eta']:.2f}", str(values["steps"]), text,
                                    f"{values['seconds']:.2f}")):
            self.table.setItem(row, col, QTableWidgetItem(cell))
        self.table.resizeRowToContents(row)
        self.table.scrollToBottom()
        self.quality_label.setText(f"The last trajectory: {text}, {values['seconds']:.2f} s "
                                   f"for {values['steps']} steps "
                                   f"(the model at step {self.shown_step.get('denoise', 0):,}).")

    def _clear_guidance_points(self):
        self.guidance_tried = {}
        for item in self.guidance_items.values():
            item.setData([], [])

    def _add_guidance_point(self, scale: float, quality: dict) -> None:
        self.guidance_tried[scale] = quality
        scales = sorted(self.guidance_tried)
        for key, item in self.guidance_items.items():
            item.setData(scales, [self.guidance_tried[g][key] for g in scales])

    # showing a frame -------------------------------------------------------------------------------
    def _show_frame(self, *_):
        if not self.frames:
            return
        k = min(self.scrub.value(), len(self.frames) - 1)
        self.shown_frame = k
        t = self.ts[k]
        where = "x_0, the result" if t < 0 else ("x_T, pure noise" if k == 0 else f"t = {t}")
        self.frame_label.setText(f"step {k} of {self.total - 1}: {where}")
        if self.points:
            x, pred = self.frames[k], self.preds[k]
            self.particle_item.setData(x[:, 0], x[:, 1])
            if self.show_preds.isChecked():
                self.pred_item.setData(pred[:, 0], pred[:, 1])
            if self.show_trails.isChecked():
                x, y, connect = trail_lines(np.asarray(self.frames[: k + 1])[:, :TRAILS])
                self.trail_item.setData(x, y, connect=connect)
        else:
            grid, pred = self.grids[k]
            self.x_panel.show(grid)
            self.x0_panel.show(pred)

    def _scrubbed(self, value: int):
        self.following = value >= len(self.frames) - 1
        self._show_frame()

    def _took_over(self):
        self.following = False

    def _play_toggled(self, on: bool):
        self.play_button.setText("Pause" if on else "Play")
        if on:
            if self.scrub.value() >= self.scrub.maximum():
                self.scrub.setValue(0)
            self.following = False
            self.play_timer.start()
        else:
            self.play_timer.stop()

    def _play_tick(self):
        if self.scrub.value() >= self.scrub.maximum():
            if len(self.frames) >= self.total:  # the end of a finished trajectory
                self.play_button.setChecked(False)
            return
        self.scrub.setValue(self.scrub.value() + 1)

    def _t_moved(self, _value: int):
        self._mark_t()
        self._ask_forward()

    def _mark_t(self):
        for line in self.t_lines:
            line.setValue(self.t_slider.value())

    def _field_toggled(self, on: bool):
        self.field_item.setVisible(on)
        self.field_heads.setVisible(on)
        self._ask_field()
