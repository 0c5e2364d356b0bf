"""The studio window: experiment panel, transport bar, live curves, samples, timeline, family area."""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
import weakref

import numpy as np

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QApplication, QHBoxLayout, QInputDialog, QLabel, QMainWindow, QMessageBox,
                               QProgressBar, QPushButton, QScrollArea, QSplitter, QTabWidget, QToolBar, QVBoxLayout,
                               QWidget)

from ..config import ConfigError, Experiment, default_experiment
from ..data import looks_like_path
from ..engine.events import Checkpoint, Diverged, ForkState, LossPoints, Metrics, Snapshot, Weights
from ..storage import cache_dir
from .experiment_panel import FAMILY_LABELS, LIVE_KNOBS, ExperimentPanel
from .explorer import Explorer
from .files import WindowFiles
from .lesson_panel import LessonPanel
from .runs_table import RunsTable, run_log
from .threads import GuiThreadGarbageCollector, Inbox
from .views import make_view
from .training_process import TrainingProcess
from .worker import TrainingWorker

REDRAW_MS = 200         # coalesce redraws: curves and counters at 5 frames a second (painting holds the GIL)
PANEL_FIELDS = ("model", "data", "family", "seed", "device", "threads", "data_size", "data_color")
STOP_TIMEOUT_S = 5.0
WEIGHTS_IN_FLIGHT_S = 5.0   # a weights request unanswered this long (a busy or stuck step) is asked again


def _load_presets(text) -> list:
    """The user's saved presets; entries that no longer validate are skipped, not fatal."""
    presets = []
    try:
        entries = json.loads(text) if text else []
    except (TypeError, ValueError):
        return presets
    for entry in entries if isinstance(entries, list) else []:
        try:
            presets.append((str(entry["name"]), Experiment.from_dict(entry["experiment"])))
        except (ConfigError, KeyError, TypeError, ValueError):
            continue
    return presets


class MainWindow(QMainWindow):
    status_changed = Signal(str)   # idle | building | training | paused | failed
    views_built = Signal()         # the plots exist (at once, or after the first paint with defer_views)
    losses_received = Signal(object)  # the current run's LossPoints, as the curves get them

    def __init__(self, settings: QSettings | None = None, defer_views: bool = False, training_process: bool = True):
        """`defer_views`: paint the window first and build the plots (pyqtgraph: about 0.2 s to import)
        just after, as the app does at start; views_built says when they exist.
        `training_process`: train in a child process (ui/training_process.py), else in a thread of
        this one (tests that patch the model in this process use that)."""
        super().__init__()
        self.setWindowTitle("GenStudio")
        self.settings = settings or QSettings("GenStudio", "GenStudio")
        GuiThreadGarbageCollector.install(QApplication.instance())
        self.inbox = Inbox(self)       # background threads reach the GUI thread only through this
        self.worker_class = TrainingProcess if training_process else TrainingWorker
        self.worker: TrainingWorker | TrainingProcess | None = None
        self.event_handlers = {LossPoints: self._losses, Snapshot: self._snapshot, Metrics: self._metrics,
                               Diverged: self._diverged, Checkpoint: self._checkpoint, Weights: self._weights,
                               ForkState: self._fork_state}
        self.run_experiment = None     # what the running model was built from (the views follow it)
        self.explorer: Explorer | None = None   # the running model's explorer, while its view is interactive
        self.retired_explorers: list[Explorer] = []
        self.weights_asked_at: float | None = None  # a weights request is in flight since then
        self.weights_step: int | None = None
        self.weights_requests = 0      # copies of the weights asked of the training thread (bench)
        self.info = None
        self.state = "idle"
        self.step, self.seconds = 0, 0.0
        self.rate_window: list[tuple[float, int]] = []
        self.retired: list = []        # workers asked to stop, their threads (or processes) not yet ended
        self.pending_train = False
        self.lr_on_ready: float | None = None   # a fork's learning rate (its state carries the original's)
        self.fork_lr: float | None = None       # the learning rate asked for the fork being made
        self.comparison = None                  # ui/compare.py: a second run beside this one, in this window
        self.record = None                      # this run's row in the runs table (ui/runs_table.py)
        self.runs_table = None
        self.diverged = False
        self.evaluations: list = []    # every Metrics event of the run (saved in experiment files)
        self.shown_snapshot = None     # what the sample view shows (live, or scrubbed to)
        self.last_problem: str | None = None
        self.problem_box: QMessageBox | None = None
        self.files = WindowFiles(self)
        self.views_ready = False
        self._build()
        self._restore()
        self.views_pending = defer_views
        if not defer_views:
            self._build_views()
        self.setAcceptDrops(True)
        self.redraw_timer = QTimer(self)
        self.redraw_timer.timeout.connect(self._redraw)
        self.redraw_timer.start(REDRAW_MS)
        self.weights_timer = QTimer(self)  # runs while the running view is interactive (its weights_ms)
        self.weights_timer.timeout.connect(self._ask_for_weights)

    # layout -----------------------------------------------------------------------------------
    def _build(self):
        self.panel = ExperimentPanel()
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        # wide enough for the form and its vertical scroll bar: no horizontal one
        panel_width = (self.panel.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
                       + 2 * scroll.frameWidth())
        scroll.setMinimumWidth(panel_width)
        self.family_views = {f: make_view(f) for f in FAMILY_LABELS}
        self.tabs = QTabWidget()
        sample_page = QWidget()
        self.sample_layout = QVBoxLayout(sample_page)
        self.tabs.addTab(sample_page, "Samples")
        self.family_tab = QTabWidget()  # the family-specific area: one page per family
        for family, view in self.family_views.items():
            self.family_tab.addTab(view, FAMILY_LABELS[family])
            view.knob_edited.connect(self._view_knob_edited)
            view.step_asked.connect(self.single_step)
        self.family_tab.tabBar().hide()
        self.tabs.addTab(self.family_tab, "Quality")
        self.right = QSplitter(Qt.Vertical)
        self.right.addWidget(self.tabs)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(self.right)
        self.splitter.setSizes([panel_width, 900])
        self.setCentralWidget(self.splitter)
        self.banner = QLabel()
        self.banner.setStyleSheet("background: #fde2e1; color: #7a1010; padding: 6px; border-radius: 4px;")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self._build_transport()
        self.device_label, self.rate_label, self.state_label = QLabel(), QLabel(), QLabel()
        self.download_bar = QProgressBar()
        self.download_bar.setMaximumWidth(260)
        self.download_bar.hide()
        for w in (self.download_bar, self.device_label, self.rate_label, self.state_label):
            self.statusBar().addPermanentWidget(w)
        self.panel.changed.connect(self._experiment_edited)
        self.panel.live_changed.connect(self._live_edit)
        self.panel.apply_requested.connect(lambda: self.reset(start=self.state == "training"))
        self.panel.presets_changed.connect(self._save_settings)

    def _build_views(self):
        """The plots: samples, timeline, point drawing and curves (everything that needs pyqtgraph)."""
        import pyqtgraph as pg

        from .curves import CurvesView
        from .samples import SampleView, Timeline

        pg.setConfigOptions(antialias=False, imageAxisOrder="row-major")
        self.samples = SampleView()
        self.timeline = Timeline()
        self.curves = CurvesView()
        self.sample_layout.addWidget(self.samples, 1)
        self.sample_layout.addWidget(self._build_draw_bar())
        self.sample_layout.addWidget(self.timeline)
        self.right.addWidget(self.curves)
        self.right.setSizes([520, 300])
        self.timeline.scrubbed.connect(self._scrub)
        self.timeline.fork_requested.connect(self.fork_from)
        self.timeline.export_requested.connect(
            lambda: self.files.export_dialog("timeline.gif", "GIF (*.gif);;MP4 (*.mp4)", self.files.export_timeline))
        from .presenter import Presenter
        self.presenter = Presenter(self, self.settings)
        self.presenter.build_menu(self.menuBar().addMenu("&View"))
        self.views_ready = True
        self.views_built.emit()
        if self.settings.value("presenter/on", False, type=bool):
            self.presenter.set_active(True)

    def paintEvent(self, event):
        super().paintEvent(event)
        if self.views_pending:  # the window is on screen now: build the plots next
            self.views_pending = False
            QTimer.singleShot(0, self._build_views)

    def _build_draw_bar(self) -> QWidget:
        """Draw your own 2D data on the plot, then train on it (shown for 2D data only)."""
        from .draw_points import PointDrawer

        self.drawer = PointDrawer(self.samples.plot)
        self.draw_button = QPushButton("✎ Draw data")
        self.draw_button.setCheckable(True)
        self.draw_button.setToolTip("Press and drag on the plot to spray points of your own data set")
        self.draw_clear = QPushButton("Clear")
        self.draw_use = QPushButton("Train on the drawing")
        self.draw_use.setToolTip("Use the points you drew as the data (a fresh model)")
        self.draw_label = QLabel("")
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.draw_button, self.draw_clear, self.draw_use, self.draw_label):
            row.addWidget(w)
        row.addStretch(1)
        self.draw_button.toggled.connect(self.drawer.set_active)
        self.draw_clear.clicked.connect(self.drawer.clear)
        self.draw_use.clicked.connect(self.train_on_drawing)
        self.drawer.changed.connect(self._drawing_changed)
        self._drawing_changed(0)
        self.draw_bar = bar
        return bar

    def _drawing_changed(self, n: int):
        from .draw_points import MIN_POINTS

        self.draw_label.setText(f"{n} points drawn" if n else "")
        self.draw_clear.setEnabled(n > 0)
        self.draw_use.setEnabled(n >= MIN_POINTS)

    def train_on_drawing(self) -> str | None:
        try:
            path = self.drawer.save_csv(cache_dir("drawings"))
        except (OSError, ValueError) as exc:
            self.report_problem(f"Could not use the drawing: {exc}")
            return None
        self.draw_button.setChecked(False)
        self.drawer.clear()
        self.use_data(path)
        return path

    def use_data(self, path: str, size: int = 0, color: str = "auto"):
        """Train on the user's data from now on: a fresh model, paused at step 0."""
        self.panel.use_data(path, size, color)
        self._show_family(self.panel.family.currentData())
        self.reset()

    def _build_transport(self):
        bar = QToolBar("Transport")
        bar.setMovable(False)
        self.addToolBar(bar)
        self.transport_bar = bar
        self.train_button = QPushButton("▶ Train")
        self.train_button.setToolTip("Train / pause (Space)")
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("One optimisation step (Right arrow)")
        self.d_button = QPushButton("D step")
        self.d_button.setToolTip("Train only the discriminator for one step")
        self.g_button = QPushButton("G step")
        self.g_button.setToolTip("Train only the generator for one step")
        self.reset_button = QPushButton("⟲ Reset")
        self.reset_button.setToolTip("Rebuild the model from the settings on the left (Ctrl+R)")
        self.step_label = QLabel("step 0")
        self.elapsed_label = QLabel("0.0 s")
        self.toolbar_actions = {w: bar.addWidget(w) for w in
                                (self.train_button, self.step_button, self.d_button, self.g_button, self.reset_button)}
        holder = QWidget()
        row = QHBoxLayout(holder)
        row.setContentsMargins(12, 0, 0, 0)
        for w in (self.step_label, self.elapsed_label, self.banner):
            row.addWidget(w)
        row.addStretch(1)
        bar.addWidget(holder)
        self.train_button.clicked.connect(self.toggle_training)
        self.step_button.clicked.connect(lambda: self.single_step("all"))
        self.d_button.clicked.connect(lambda: self.single_step("d"))
        self.g_button.clicked.connect(lambda: self.single_step("g"))
        self.reset_button.clicked.connect(self.reset)
        for keys, slot in ((Qt.Key_Space, self._space), (Qt.Key_Right, self._right), (QKeySequence("Ctrl+R"), self.reset)):
            action = QAction(self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.WindowShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
        file_menu = self.menuBar().addMenu("&File")
        self.files.build_menu(file_menu)
        self.lessons = LessonPanel(self)
        file_menu.addAction("Open lesson…", self.lessons.open_dialog)
        runs = self.menuBar().addMenu("&Runs")
        runs.addAction("New run beside this one", self.run_beside, QKeySequence("Ctrl+Shift+N"))
        runs.addAction("Runs table…", self.show_runs_table, QKeySequence("Ctrl+T"))
        self.end_comparison_action = runs.addAction("Close the second run", self.end_comparison)
        self.end_comparison_action.setEnabled(False)
        self.lessons.build_menu(self.menuBar().addMenu("&Lessons"))

    def _space(self):
        """Space: train or pause (both runs when two are on screen)."""
        if self.comparison is not None:
            self.comparison.toggle_both()
        else:
            self.toggle_training()

    def _right(self):
        if self.comparison is not None:
            self.comparison.step_both()
        else:
            self.single_step("all")

    # settings --------------------------------------------------------------------------------
    def _restore(self):
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        self.panel.user_presets = _load_presets(self.settings.value("presets"))
        text = self.settings.value("experiment")
        exp = None
        if text:
            try:
                exp = Experiment.from_json(str(text))
            except (ConfigError, ValueError, TypeError):
                exp = None  # a stale or foreign setting is ignored, not fatal
        if exp is not None and looks_like_path(exp.data) and not os.path.exists(exp.data):
            self.statusBar().showMessage(f"Last session's data {exp.data} is gone: starting with a built-in set", 10000)
            exp = None
        self.panel.set_experiment(exp or default_experiment("gan"))
        self._show_family(self.panel.family.currentData())

    def _save_settings(self):
        presenting = getattr(self, "presenter", None) is not None and self.presenter.active
        self.settings.setValue("geometry", self.presenter.normal_geometry() if presenting else self.saveGeometry())
        self.settings.setValue("presets", json.dumps(
            [{"name": name, "experiment": exp.to_dict()} for name, exp in self.panel.user_presets]))
        try:
            self.settings.setValue("experiment", self.panel.experiment().to_json())
        except ConfigError:
            pass

    # the run's lifecycle -----------------------------------------------------------------------
    def reset(self, start: bool = False):
        """Stop the current run and build a fresh model from the panel (paused at step 0)."""
        try:
            exp = self.panel.experiment()
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        if self._refork(exp):
            return
        self._retire_worker()
        self.diverged = False
        self.hide_error()
        self.info = None
        self.step, self.seconds, self.rate_window = 0, 0.0, []
        self.evaluations, self.shown_snapshot = [], None
        self.download_bar.hide()
        self.timeline.clear()
        self.curves.set_loss_names(())
        self.files.forget_path()
        self._launch(exp, start_paused=not start)
        self._set_state("building")

    def _refork(self, exp) -> bool:
        """Settings applied to a fork before it trained a step (the loss variant, say): it forks again
        from the same kept state with them, rather than starting a fresh model. After a failed try
        (settings whose networks the state does not fit) Reset gives a fresh model."""
        record = self.record
        if (record is None or record.forked_at is None or record.document is None or self.step != record.forked_at
                or self.state == "failed"):
            return False
        forked_at = record.forked_at
        self.open_fork(dataclasses.replace(record.document, experiment=exp), record.origin, forked_at)
        self.statusBar().showMessage(f"Forked again from step {forked_at:,} with the new settings", 8000)
        return True

    def open_fork(self, doc, origin: str, forked_at: int | None) -> None:
        """Start from a kept state with `doc`'s settings: its learning rate, not the state's own."""
        self.lr_on_ready = doc.experiment.family.lr
        self.open_document(doc, origin)
        self.record.forked_at = forked_at

    def open_document(self, doc, origin: str = ""):
        """Show an opened experiment file (curves, timeline, metrics) and continue its training, paused.
        `origin`: where it came from, for the runs table."""
        self._retire_worker()
        self.diverged, self.info = False, None
        self.hide_error()
        self.panel.set_experiment(doc.experiment)
        self.step, self.seconds, self.rate_window = doc.state.step, doc.state.seconds, []
        hist = doc.history
        self.curves.set_loss_names(tuple(hist.values))
        self.curves.add(LossPoints(hist.steps, hist.seconds, hist.values))
        self.timeline.clear()
        for snap in doc.timeline:
            self.timeline.add(snap)
        self.shown_snapshot = doc.timeline[-1] if doc.timeline else None
        self.evaluations = list(doc.history.metrics)
        self._launch(doc.experiment, origin, doc, start_paused=True, resume=doc)
        self._set_state("building")
        if self.evaluations:
            self.run_view.on_metrics(self.evaluations[-1])

    def history(self):
        """The loss curves and evaluations so far, for an experiment file or a CSV export."""
        from ..engine.experiment_file import History  # torch loads after the window is shown

        h = self.curves.history
        data = h.data
        return History(data[:, 0].astype(np.int64), data[:, 1].copy(),
                       {name: data[:, 2 + i].copy() for i, name in enumerate(h.names)}, tuple(self.evaluations))

    def _launch(self, exp, origin: str = "", document=None, **options):
        """Start a worker for `exp`: from now on the views follow this run (a new row of the runs table)."""
        self.record = run_log().start(self, exp, origin, document)
        self.run_experiment = exp
        self.panel.apply_button.hide()
        self._show_family(exp.model)
        self.run_view.clear()
        self.worker = self.worker_class(exp, self._thread_safe("_on_worker"), **options)
        self.worker.start()
        QTimer.singleShot(0, self.run_view, self.run_view.prepare)  # while the run's process starts

    @property
    def run_view(self):
        """The view of the running model's family (not necessarily the panel's)."""
        return self.family_views[self.run_experiment.model]

    def _thread_safe(self, method: str):
        """A function any thread may call: it runs self.<method>(*args) in the GUI thread, and holds
        the window only weakly (a thread that ends after the window must not be the one to destroy it)."""
        post, window = self.inbox.post, weakref.ref(self)

        def deliver(*args):
            win = window()
            if win is not None:
                getattr(win, method)(*args)

        return lambda *args: post(deliver, *args)

    def _on_worker(self, worker, kind: str, payload):
        """A worker's report, in the GUI thread. Only the current worker's reach the views; a retired
        one's are dropped, except "stopped", which lets it go."""
        if worker is not self.worker:
            if kind == "stopped" and worker in self.retired:
                worker.join(STOP_TIMEOUT_S)  # its last reference goes in this thread, not in its own
                self.retired.remove(worker)
            return
        if kind == "event":
            handler = self.event_handlers.get(type(payload))
            if handler is not None:
                handler(payload)
        elif kind == "progress":
            self._progress(*payload)
        else:
            {"ready": self._ready, "failed": self._failed, "stopped": self._worker_stopped,
             "device_memory": self._device_memory}[kind](payload)

    def _end_record(self):
        """The run's row keeps how far it got."""
        if self.record is not None and self.record.live_window() is self:
            run_log().end(self.record, self)

    def _retire_worker(self):
        """Ask the current worker (and its explorer) to stop; their late reports are dropped. Its row
        of the runs table keeps how far it got."""
        self._end_record()
        self._retire_explorer()
        if self.worker is None:
            return
        self.worker.stop()
        self.retired.append(self.worker)
        self.worker = None

    def _retire_explorer(self):
        if self.explorer is not None:
            self.explorer.stop()
            self.retired_explorers = [e for e in self.retired_explorers if e.is_alive()] + [self.explorer]
        self.explorer, self.weights_asked_at, self.weights_step = None, None, None
        self.weights_timer.stop()

    def toggle_training(self):
        if self.state in ("training", "paused") and self.worker is None:
            return
        if self.state == "training":
            self.worker.pause()
            self._set_state("paused")
        elif self.state == "paused":
            self.worker.resume()
            self._set_state("training")
        elif self.state == "failed" and self.worker is not None and self.info is not None and not self.diverged:
            # after an error in a step the worker keeps its model, paused: continue it
            self.hide_error()
            self.worker.resume()
            self._set_state("training")
        elif self.state == "building":
            self.pending_train = True
        else:
            self.reset(start=True)

    def single_step(self, part: str):
        if self.worker is None:
            return
        if self.state == "training":
            self.worker.pause()
            self._set_state("paused")
        if self.state == "paused":
            self.worker.step_once(part)

    def _experiment_edited(self):
        if self.state in ("idle", "paused", "failed") and self.step == 0:
            self.reset()  # nothing trained yet: show the new setting's untrained samples right away
            return
        # after training has begun nothing is discarded without a click: the views keep the running model
        self.panel.apply_button.setVisible(self._differs_from_run())

    def _differs_from_run(self) -> bool:
        """Whether the panel's settings (but for the live knobs) are not those of the running model."""
        if self.run_experiment is None:
            return False
        try:
            exp = self.panel.experiment()
        except ConfigError:
            return True
        run = self.run_experiment
        if exp.model == run.model:
            live = {k: getattr(run.family, k) for k in LIVE_KNOBS if hasattr(run.family, k)}
            exp = dataclasses.replace(exp, family=dataclasses.replace(exp.family, **live))
        return any(getattr(exp, f) != getattr(run, f) for f in PANEL_FIELDS)

    def _live_edit(self, name: str, value):
        run = self.run_experiment
        if (self.worker is None or run is None or not hasattr(run.family, name)
                or self.panel.family.currentData() != run.model):  # not a knob of the running model
            self.panel.apply_button.setVisible(self._differs_from_run())
            return
        if name == "lr":
            self.worker.set_lr(float(value))
        else:
            self.worker.set_hparam(name, value)
        self.run_experiment = dataclasses.replace(run, family=dataclasses.replace(run.family, **{name: value}))
        self.run_view.on_knob(name, value)
        self.statusBar().showMessage(f"{name} set to {value:g}", 3000)

    def _view_knob_edited(self, name: str, value):
        """A live knob edited in a view: the panel shows it and the run gets it."""
        self.panel.set_knob(name, value)
        self._live_edit(name, value)

    # events from the worker --------------------------------------------------------------------
    def _ready(self, info):
        self.info = info
        self.download_bar.hide()
        if self.curves.history.names != tuple(info.loss_names):  # an opened file's curves stay
            self.curves.set_loss_names(info.loss_names)
        self.samples.set_dataset(info.dataset)
        self.draw_bar.setVisible(info.dataset.kind == "points")
        if info.dataset.kind != "points":
            self.draw_button.setChecked(False)
        self.panel.set_devices(list(info.devices))
        self._retire_explorer()
        view = self.run_view
        if view.interactive:
            self.explorer = Explorer(self.run_experiment, info.dataset, self._thread_safe("_explorer_answer"),
                                     beside_training_process=self.worker_class is TrainingProcess)
        view.on_run(info, self.explorer)
        if view.interactive:
            self.weights_timer.start(view.weights_ms)
        self.device_label.setText(info.device_name)
        if self.lr_on_ready is not None:  # before the first step: the run starts paused
            self.worker.set_lr(self.lr_on_ready)
            self.lr_on_ready = None
        start = self.pending_train or not self.worker.start_paused
        self.pending_train = False
        if start:
            self.worker.resume()
        self._set_state("training" if start else "paused")

    def _losses(self, points):
        self.curves.add(points)
        self.losses_received.emit(points)
        if len(points.steps):
            self.step, self.seconds = int(points.steps[-1]), float(points.seconds[-1])
            now = time.perf_counter()
            self.rate_window.append((now, self.step))
            self.rate_window = [(t, s) for t, s in self.rate_window if now - t < 2.0]

    def _snapshot(self, snap):
        self.step = max(self.step, snap.step)
        # the timeline keeps samples only: 200 copies of the weights would cost hundreds of MB
        shown = dataclasses.replace(snap, state=None)
        if self.timeline.add(shown):
            self.samples.show_snapshot(snap)
            self.shown_snapshot = shown
        self.run_view.on_snapshot(snap)

    def _metrics(self, event):
        self.evaluations.append(event)
        self.run_view.on_metrics(event)

    def _weights(self, weights):
        self.weights_asked_at, self.weights_step = None, weights.step
        if self.explorer is not None:
            self.explorer.set_weights(weights)
            self.run_view.on_weights(weights.step)

    def _explorer_answer(self, answer):
        if self.explorer is not None and self.explorer.is_current(answer):
            self.run_view.on_answer(answer)

    def _ask_for_weights(self):
        """While an interactive view is on screen, its explorer gets the model's weights when they have
        changed: at most every view.weights_ms, one request in flight; none for a hidden view."""
        if self.explorer is None or self.worker is None or self.info is None:
            return
        if not self.run_view.isVisible() or self.weights_step == self.step or self.run_view.interacting():
            return
        now = time.perf_counter()
        if self.weights_asked_at is not None and now - self.weights_asked_at < WEIGHTS_IN_FLIGHT_S:  # one in flight
            return
        self.weights_asked_at = now
        self.weights_requests += 1
        self.worker.request_weights()

    def _diverged(self, event):
        self.diverged = True
        self._set_state("failed")
        self.show_error(f"The loss became NaN or infinite at step {event.step}. Lower the learning rate and press Reset.")

    def _failed(self, message: str):
        self.download_bar.hide()
        self._set_state("failed")
        self.show_error(f"Training stopped: {message}. The app is fine: press Train to continue or Reset to start over.")

    def _worker_stopped(self, _):
        """The worker's loop ended on its own: it diverged (NaN weights: only Reset helps), or its
        data or model could not be built."""
        worker, self.worker = self.worker, None
        worker.join(STOP_TIMEOUT_S)
        if self.state in ("training", "paused", "building"):
            self._set_state("failed" if self.banner.isVisible() else "idle")

    def _device_memory(self, mib: float):
        if self.info is not None:
            self.device_label.setText(f"{self.info.device_name} — {mib:.0f} MiB in use")

    def _checkpoint(self, event):
        self.files.write_checkpoint(event)

    # forking ---------------------------------------------------------------------------------
    def fork_from(self, snap, lr: float | None = None) -> None:
        """Ask the run for the whole state kept at `snap` (the timeline's "Fork from here"); the fork
        trains with learning rate `lr` (asked for when None; this run's own is not touched)."""
        if self.worker is None or snap.step not in self.timeline.forkable:
            self.report_problem("This point's state is not kept: fork from a marked point of the timeline "
                                "(every point of the last minute, then one a minute).")
            return
        if lr is None:
            current = self.run_experiment.family.lr
            lr, ok = QInputDialog.getDouble(self, "Fork from here", f"Learning rate of the fork (this run: {current:g}):",
                                            current, 1e-7, 10.0, 7)
            if not ok:
                return
        self.fork_lr = lr
        self.worker.request_fork_state(snap.step)

    def _fork_state(self, event) -> None:
        """Start the forked run beside this one, paused at the fork's step, with this run's settings
        and the fork's learning rate; its curves and timeline up to the fork come along."""
        if event.state is None or self.info is None:
            self.report_problem(f"The state at step {event.step:,} is no longer kept: pick a marked point.")
            return
        from ..engine.experiment_file import ExperimentFile, History

        run = self.run_experiment
        exp = dataclasses.replace(run, family=dataclasses.replace(run.family, lr=self.fork_lr or run.family.lr))
        h = self.history()
        keep = h.steps <= event.step
        history = History(h.steps[keep], h.seconds[keep], {k: v[keep] for k, v in h.values.items()},
                          tuple(m for m in h.metrics if m.step <= event.step))
        # the fork keeps states of its own future only
        timeline = tuple(dataclasses.replace(s, forkable=()) for s in self.timeline.snapshots if s.step <= event.step)
        doc = ExperimentFile(exp, event.state, history, timeline, self.info.dataset)
        fork = self.compare_with(f"GenStudio: forked at step {event.step:,}")
        fork.open_fork(doc, f"fork of run {self.record.number} at step {event.step:,}", event.step)
        self.statusBar().showMessage(f"Forked from step {event.step:,}: Space trains both futures (other settings: "
                                     "the fork's Settings, applied before it trains)", 10000)

    def run_beside(self) -> MainWindow | None:
        """A second run beside this one: the settings on the left (the same seed, so the same first
        weights where the networks are the same), paused at step 0 with its settings shown, to change
        them first."""
        try:
            exp = self.panel.experiment()
        except ConfigError as exc:
            self.report_problem(str(exc))
            return None
        other = self.compare_with("GenStudio: second run")
        other.panel.set_experiment(exp)
        other.reset()
        self.comparison.headers[1].settings.setChecked(True)
        self.statusBar().showMessage("A second run beside the first: change its settings, then press Space", 10000)
        return other

    def reopen_run(self, record) -> MainWindow | None:
        """A run of the runs table, started again beside this window's run: from its file, from the
        kept state it was forked from, or from step 0 with its settings and seed."""
        if record.live_window() is not None:
            self.report_problem(f"Run {record.number} is on screen now.")
            return None
        other = self.compare_with(f"GenStudio: run {record.number} again")
        opened = record.path is not None and os.path.isfile(record.path) and other.files.open_experiment(record.path)
        if not opened and record.document is not None:
            other.open_fork(record.document, "", record.forked_at)
        elif not opened:
            other.panel.set_experiment(record.experiment)
            other.reset()
        if other.record is not None:
            other.record.origin = f"run {record.number} again" + (f" ({os.path.basename(record.path)})" if opened else "")
        return other

    def compare_with(self, title: str) -> MainWindow:
        """A second run window, embedded beside this window's run (it replaces the second run on
        screen, which stays in the runs table)."""
        from .compare import Comparison

        self.end_comparison()
        folder = tempfile.mkdtemp(prefix="genstudio-beside-")  # its own settings: it must not overwrite ours
        guest = MainWindow(QSettings(os.path.join(folder, "settings.ini"), QSettings.IniFormat),
                           training_process=self.worker_class is TrainingProcess)
        guest.setWindowTitle(title)
        self.comparison = Comparison(self, guest)
        self.end_comparison_action.setEnabled(True)
        return guest

    def end_comparison(self) -> None:
        if self.comparison is not None:
            comparison, self.comparison = self.comparison, None
            comparison.end()
            self.end_comparison_action.setEnabled(False)

    def show_runs_table(self) -> RunsTable:
        if self.runs_table is None:
            self.runs_table = RunsTable(self)
        self.runs_table.show()
        self.runs_table.raise_()
        self.runs_table.fill()
        return self.runs_table

    def _progress(self, name: str, done: int, total: int):
        self.download_bar.setVisible(True)
        self.download_bar.setRange(0, total or 0)  # (0, 0): a busy bar when the size is unknown
        self.download_bar.setValue(done)
        self.download_bar.setFormat(f"{name}: %p%" if total else f"{name}: {done / 2**20:.1f} MB")
        self.statusBar().showMessage(f"Downloading {name}…", 3000)

    def _scrub(self, snap):
        self.samples.show_snapshot(snap)
        self.shown_snapshot = snap
        if self.timeline.live:
            self.curves.cursor.setVisible(False)
        else:
            self.curves.show_cursor(snap.step, snap.seconds)

    # drawing ---------------------------------------------------------------------------------
    def _redraw(self):
        if not self.views_ready:
            return
        if self.comparison is not None:
            self.comparison.refresh()   # first: it remakes the plot's items when a run was reset
        self.curves.redraw()
        self.step_label.setText(f"step {self.step:,}")
        rate = ""
        if len(self.rate_window) >= 2 and self.state == "training":
            (t0, s0), (t1, s1) = self.rate_window[0], self.rate_window[-1]
            rate = f"{(s1 - s0) / max(t1 - t0, 1e-6):.0f} it/s"
        self.elapsed_label.setText(f"{rate}   {self.seconds:.1f} s" if rate else f"{self.seconds:.1f} s")
        self.rate_label.setText(rate.replace("it/s", "steps/s"))

    def _set_state(self, state: str):
        self.state = state
        self.state_label.setText(state)
        self.train_button.setText("‖ Pause" if state == "training" else "▶ Train")  # ‖: in every common font
        can_step = state in ("paused", "training")
        self.step_button.setEnabled(can_step)
        self.d_button.setEnabled(can_step)
        self.g_button.setEnabled(can_step)
        self.status_changed.emit(state)

    def _show_family(self, family: str):
        self.family_tab.setCurrentWidget(self.family_views[family])
        self.tabs.setTabText(1, f"{FAMILY_LABELS[family]} · {self.family_views[family].tab_title}")
        for button in (self.d_button, self.g_button):  # a toolbar widget is shown through its action
            self.toolbar_actions[button].setVisible(family == "gan")

    def show_error(self, message: str):
        self.banner.setText(message)
        self.banner.show()
        self.statusBar().showMessage(message, 10000)

    def hide_error(self):
        self.banner.hide()

    def report_problem(self, message: str):
        """A problem with something the user asked for (a bad file, nothing to save): one message,
        in a box that does not block the window, and in the status bar. Nothing else changes."""
        self.last_problem = message
        self.statusBar().showMessage(message, 10000)
        if self.problem_box is None:
            self.problem_box = QMessageBox(QMessageBox.Warning, "GenStudio", "", QMessageBox.Ok, self)
        self.problem_box.setText(message)
        self.problem_box.open()

    # drag and drop ---------------------------------------------------------------------------
    def dragEnterEvent(self, event):
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event):
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.files.open_dropped(urls[0].toLocalFile())
            event.acceptProposedAction()

    # closing ---------------------------------------------------------------------------------
    def closeEvent(self, event):
        self.end_comparison()
        self._save_settings()
        self.redraw_timer.stop()
        self.weights_timer.stop()
        self._retire_worker()
        deadline = time.perf_counter() + STOP_TIMEOUT_S
        for thread in self.retired + self.retired_explorers:  # each was asked to stop: wait, with a time limit
            thread.join(max(0.0, deadline - time.perf_counter()))
        self.retired = [w for w in self.retired if w.is_alive()]
        self.retired_explorers = [e for e in self.retired_explorers if e.is_alive()]
        self.inbox.close()
        super().closeEvent(event)
