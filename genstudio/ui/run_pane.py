"""One run's pane: its settings panel, transport bar, samples, timeline, family views and curves,
all displaying one `Run` (live/run.py). The window holds one pane, or two side by side."""
from __future__ import annotations

import dataclasses
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ..config import ConfigError
from ..live.run import Run, RunListener
from ..live.training_process import TrainingProcess
from ..live.worker import TrainingWorker
from ..storage import cache_dir
from .experiment_panel import FAMILY_LABELS, LIVE_KNOBS, ExperimentPanel
from .files import RunFiles
from .keys import name_controls
from .views import make_view

PANEL_FIELDS = ("model", "data", "family", "seed", "device", "threads", "data_size", "data_color")


HELD_REDRAW_S = 1.0   # while a hand moves a view's control, the curves redraw at most this often
VIEW_AND_CURVES = [560, 260]   # the tabs' and the loss curves' share of the height, in pixels

class RunPane(QWidget, RunListener):
    """The widgets of one run. It says what the window should show through signals: its state, status
    messages, problems for a message box, a file name for the title, and a fork to put beside it."""

    status_changed = Signal(str)       # idle | building | training | paused | failed | stopped
    losses_received = Signal(object)   # the run's LossPoints, as the curves get them
    message = Signal(str, int)         # (text, milliseconds) for the status bar
    problem = Signal(str)              # a problem with something the user asked for: one message box
    title_changed = Signal(str)        # the experiment file this run is (or "")
    fork_ready = Signal(object, str, int)   # (document, origin, step): start a fork beside this run

    def __init__(self, post, training_process: bool = True):
        """`post`: the window's inbox (threads.py). `training_process`: train in a child process, else in
        a thread of this one (tests that patch the model in this process use that)."""
        super().__init__()
        self.run = Run(post, self, TrainingProcess if training_process else TrainingWorker)
        self.post = post
        self.files = RunFiles(self)
        self.unsaved_work = None       # the window's UnsavedWork: asks before a click discards training
        self.recent = None             # the window's RecentFiles: where dialogs start, Open Recent
        self.shown_snapshot = None     # what the sample view shows (live, or scrubbed to)
        self.views_ready = False
        self.redrawn_at = 0.0
        self._build()
        self.weights_timer = QTimer(self)  # runs while the running view is interactive (its weights_ms)
        self.weights_timer.timeout.connect(
            lambda: self.run.ask_for_weights(self.run_view.isVisible(), self.run_view.interacting()))

    # layout -----------------------------------------------------------------------------------
    def _build(self):
        self.panel = ExperimentPanel()
        self.settings_area = QScrollArea()
        self.settings_area.setWidget(self.panel)
        self.settings_area.setWidgetResizable(True)
        # wide enough for the form and its vertical scroll bar: no horizontal one
        area = self.settings_area
        panel_width = (self.panel.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width()
                       + 2 * area.frameWidth())
        area.setMinimumWidth(panel_width)
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
        self.splitter.addWidget(area)
        self.splitter.addWidget(self.right)
        self.splitter.setStretchFactor(0, 0)   # a wider window widens the plots, not the form
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([panel_width, 900])
        self.banner = QLabel()
        self.banner.setStyleSheet("background: #fde2e1; color: #7a1010; padding: 6px; border-radius: 4px;")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.transport_bar = self._build_transport()
        self.setFocusPolicy(Qt.ClickFocus)   # a click on a plot takes the focus back from a slider or a box
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.transport_bar)
        layout.addWidget(self.splitter, 1)
        self.device_label, self.rate_label, self.state_label = QLabel(), QLabel(), QLabel()
        self.download_bar = QProgressBar()
        self.download_bar.setMaximumWidth(260)
        self.download_bar.hide()
        self.panel.changed.connect(self._experiment_edited)
        self.panel.live_changed.connect(self._live_edit)
        self.panel.apply_requested.connect(self._apply)

    def status_widgets(self) -> tuple:
        """What the window's status bar shows of this run: download progress, device, speed, state."""
        return self.download_bar, self.device_label, self.rate_label, self.state_label

    def build_views(self):
        """The plots: samples, timeline, point drawing and curves (everything that needs pyqtgraph)."""
        from .curves import CurvesView
        from .samples import SampleView, Timeline

        self.samples = SampleView()
        self.timeline = Timeline(self.run.snapshots, lambda: self.run.history.best_step)
        self.curves = CurvesView()
        self.sample_layout.addWidget(self.samples, 1)
        self.sample_layout.addWidget(self._build_draw_bar())
        self.sample_layout.addWidget(self.timeline)
        self.right.addWidget(self.curves)
        self.right.setSizes(VIEW_AND_CURVES)
        self.timeline.scrubbed.connect(self._scrub)
        self.timeline.fork_requested.connect(self.fork_from)
        self.timeline.export_requested.connect(
            lambda: self.files.export_dialog("timeline.gif", "GIF (*.gif);;MP4 (*.mp4)", self.files.export_timeline))
        self.views_ready = True

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
        self.draw_use.clicked.connect(lambda: self.ask_first("training on the drawing", self.train_on_drawing))
        self.drawer.changed.connect(self._drawing_changed)
        self._drawing_changed(0)
        self.draw_bar = bar
        return bar

    def _drawing_changed(self, n: int):
        from .draw_points import MIN_POINTS

        self.draw_label.setText(f"{n} points drawn" if n else "")
        self.draw_clear.setEnabled(n > 0)
        self.draw_use.setEnabled(n >= MIN_POINTS)

    def _build_transport(self) -> QToolBar:
        bar = QToolBar("Transport")
        bar.setMovable(False)
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
        for button in self.toolbar_actions:   # a click leaves the focus where it was, as toolbar buttons do:
            button.setFocusPolicy(Qt.TabFocus)   # Space then still trains both runs, not this one only
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
        self.reset_button.clicked.connect(self.reset_asking)
        return bar

    def set_top_view(self, widget: QWidget | None) -> None:
        """`widget` above the curves in place of this run's tabs (two runs' columns); None: the tabs again."""
        self.right.insertWidget(0, widget if widget is not None else self.tabs)
        height = max(sum(self.right.sizes()), 600)
        self.right.setSizes([int(height * 0.64), int(height * 0.36)] if widget is not None else VIEW_AND_CURVES)

    def show_settings(self, on: bool) -> None:
        self.settings_area.setVisible(on)

    def settings_shown(self) -> bool:
        return self.settings_area.isVisible()

    # what the user asks for --------------------------------------------------------------------
    def ask_first(self, doing: str, action) -> None:
        """action() now, or once the user has saved or discarded this run's unsaved training."""
        if self.unsaved_work is None:
            action()
        else:
            self.unsaved_work.then(self, doing, action)

    def reset_asking(self) -> None:
        """Reset (its button, Ctrl+R), asking first when the training since the last save would be lost."""
        self.ask_first("resetting it", self.reset)

    def _apply(self) -> None:
        start = self.run.state == "training"
        self.ask_first("applying the new settings", lambda: self.reset(start=start))

    def reset(self, start: bool = False):
        """A fresh model from the panel's settings, paused at step 0 (training with `start`)."""
        try:
            exp = self.panel.experiment()
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        if self.run.refork(exp):
            self.message.emit(f"Forked again from step {self.run.step:,} with the new settings", 8000)
            return
        self.files.forget_path()
        self.run.start(exp, train=start)

    def open_document(self, doc, origin: str = "") -> None:
        """Show an opened experiment file (curves, timeline, metrics) and continue its training, paused."""
        self.panel.set_experiment(doc.experiment)
        self.run.open(doc, origin)
        if self.run.evaluations:
            self.run_view.on_metrics(self.run.evaluations[-1])

    def open_fork(self, doc, origin: str, forked_at: int | None) -> None:
        self.panel.set_experiment(doc.experiment)
        self.run.open_fork(doc, origin, forked_at)

    def use_data(self, path: str, size: int = 0, color: str = "auto"):
        """Train on the user's data from now on: a fresh model, paused at step 0."""
        self.panel.use_data(path, size, color)
        self.show_family(self.panel.family.currentData())
        self.reset()

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

    def toggle_training(self):
        if self.run.state == "failed":
            self.hide_error()
        if not self.run.toggle():
            self.reset(start=True)

    def single_step(self, part: str):
        self.run.step_once(part)

    def fork_from(self, snap, lr: float | None = None) -> None:
        """Fork from the state kept at `snap` (the timeline's "Fork from here"), with learning rate `lr`
        (asked for when None; this run's own is not touched): the fork starts beside this run."""
        if lr is None and snap.step in self.run.snapshots.forkable and self.run.worker is not None:
            current = self.run.experiment.family.lr
            question = f"Learning rate of the fork (this run: {current:g}):"
            lr, ok = QInputDialog.getDouble(self, "Fork from here", question, current, 1e-7, 10.0, 7)
            if not ok:
                return
        problem = self.run.fork(snap.step, lr if lr is not None else self.run.experiment.family.lr)
        if problem:
            self.report_problem(problem)

    def fork_here(self) -> None:
        """Fork from the snapshot the timeline shows (its button, or the shared timeline's)."""
        if self.timeline.shown() is not None:
            self.fork_from(self.timeline.shown())

    def can_fork_here(self) -> bool:
        """Whether the run keeps the whole state of the snapshot the timeline shows."""
        snap = self.timeline.shown()
        return snap is not None and snap.step in self.run.snapshots.forkable

    def _experiment_edited(self):
        if self.run.state in ("idle", "paused", "failed") and self.run.step == 0:
            self.reset()  # nothing trained yet: show the new setting's untrained samples right away
            return
        # after training has begun nothing is discarded without a click: the views keep the running model
        self.panel.apply_button.setVisible(self._differs_from_run())

    def _differs_from_run(self) -> bool:
        """Whether the panel's settings (but for the live knobs) are not those of the running model."""
        run = self.run.experiment
        if run is None:
            return False
        try:
            exp = self.panel.experiment()
        except ConfigError:
            return True
        if exp.model == run.model:
            live = {k: getattr(run.family, k) for k in LIVE_KNOBS if hasattr(run.family, k)}
            exp = dataclasses.replace(exp, family=dataclasses.replace(exp.family, **live))
        return any(getattr(exp, f) != getattr(run, f) for f in PANEL_FIELDS)

    def _live_edit(self, name: str, value):
        if self.panel.family.currentData() != getattr(self.run.experiment, "model", None) \
                or not self.run.set_knob(name, value):   # not a knob of the running model
            self.panel.apply_button.setVisible(self._differs_from_run())
            return
        self.run_view.on_knob(name, value)
        self.message.emit(f"{name} set to {value:g}", 3000)

    def _view_knob_edited(self, name: str, value):
        """A live knob edited in a view: the panel shows it and the run gets it."""
        self.panel.set_knob(name, value)
        self._live_edit(name, value)

    @property
    def run_view(self):
        """The view of the running model's family (not necessarily the panel's)."""
        return self.family_views[self.run.experiment.model]

    # what the run tells (RunListener) -------------------------------------------------------------
    def run_started(self, experiment):
        self.hide_error()
        self.download_bar.hide()
        self.panel.apply_button.hide()
        self.show_family(experiment.model)
        self.weights_timer.stop()
        self.run_view.clear()
        self.curves.set_history(self.run.history)
        self.curves.set_measure(None)   # until the model says what its held-out curve measures
        self.timeline.refill()
        self.shown_snapshot = self.run.snapshots[-1] if len(self.run.snapshots) else None
        QTimer.singleShot(0, self.run_view, self.run_view.prepare)  # while the run's process starts

    def run_ready(self, info):
        self.download_bar.hide()
        self.curves.set_history(self.run.history)   # (an opened file's curves stay)
        self.curves.set_measure(info.held_out_measure)
        self.samples.set_dataset(info.dataset)
        self.draw_bar.setVisible(info.dataset.kind == "points")
        if info.dataset.kind != "points":
            self.draw_button.setChecked(False)
        self.panel.set_devices(list(info.devices))
        view = self.run_view
        if view.interactive:
            self.run.start_explorer()
        view.on_run(info, self.run.explorer)
        name_controls(view)   # its widgets are built on its first run
        self.weights_timer.stop()
        if view.interactive:
            self.weights_timer.start(view.weights_ms)
        self.device_label.setText(info.device_name)

    def run_losses(self, points):
        self.losses_received.emit(points)

    def run_snapshot(self, snap, oldest_left):
        if self.timeline.added(oldest_left):
            self.samples.show_snapshot(snap)
            self.shown_snapshot = self.run.snapshots[-1]
        self.run_view.on_snapshot(snap)

    def run_metrics(self, event):
        self.run_view.on_metrics(event)

    def run_held_out(self, event):
        self.timeline.best_changed()

    def run_weights(self, step):
        self.run_view.on_weights(step)

    def run_answer(self, answer):
        self.run_view.on_answer(answer)

    def run_failed(self, message):
        self.download_bar.hide()
        self.show_error(message)

    def run_problem(self, message):
        self.report_problem(message)

    def run_progress(self, progress):
        bar = self.download_bar
        bar.setVisible(True)
        bar.setRange(0, progress.total or 0)  # (0, 0): a busy bar when the size is unknown
        bar.setValue(progress.done)
        bar.setFormat(f"{progress.name}: %p%" if progress.total else f"{progress.name}: {progress.done / 2**20:.1f} MB")
        self.message.emit(f"Downloading {progress.name}…", 3000)

    def run_device_memory(self, mib):
        if self.run.info is not None:
            self.device_label.setText(f"{self.run.info.device_name} — {mib:.0f} MiB in use")

    def run_checkpoint(self, event):
        self.files.write_checkpoint(event)

    def run_fork_ready(self, document, forked_at):
        self.fork_ready.emit(document, f"fork of run {self.run.record.number} at step {forked_at:,}", forked_at)

    def run_state(self, state):
        self.state_label.setText(state)
        self.train_button.setText("‖ Pause" if state == "training" else "▶ Train")  # ‖: in every common font
        can_step = state in ("paused", "training")
        for button in (self.step_button, self.d_button, self.g_button):
            button.setEnabled(can_step)
        if state == "stopped":
            self.weights_timer.stop()
        self.status_changed.emit(state)

    # display -----------------------------------------------------------------------------------
    def _scrub(self, snap):
        self.samples.show_snapshot(snap)
        self.shown_snapshot = snap
        if self.timeline.live:
            self.curves.cursor.setVisible(False)
        else:
            self.curves.show_cursor(snap.step, snap.seconds)

    def show_timeline_position(self):
        """The samples (and the curves' cursor) at the timeline's position."""
        if self.timeline.snapshots:
            self._scrub(self.timeline.shown())

    def redraw(self):
        """The window's redraw timer: curves and counters. While a hand moves one of the view's controls,
        at most every HELD_REDRAW_S: a redraw and its repaint would delay the picture the hand waits for."""
        now = time.perf_counter()
        if not self.views_ready:
            return
        if self.run.experiment is not None and self.run_view.interacting() and now - self.redrawn_at < HELD_REDRAW_S:
            return
        self.redrawn_at = now
        self.curves.redraw()
        run = self.run
        self.step_label.setText(f"step {run.step:,}")
        rate = "" if run.rate is None else f"{run.rate:.0f} it/s"
        self.elapsed_label.setText(f"{rate}   {run.seconds:.1f} s" if rate else f"{run.seconds:.1f} s")
        self.rate_label.setText(rate.replace("it/s", "steps/s"))

    def show_family(self, family: str):
        self.family_tab.setCurrentWidget(self.family_views[family])
        self.tabs.setTabText(1, f"{FAMILY_LABELS[family]} · {self.family_views[family].tab_title}")
        for button in (self.d_button, self.g_button):  # a toolbar widget is shown through its action
            self.toolbar_actions[button].setVisible(family == "gan")

    def show_error(self, message: str):
        self.banner.setText(message)
        self.banner.show()
        self.message.emit(message, 10000)

    def hide_error(self):
        self.banner.hide()

    def report_problem(self, message: str):
        self.problem.emit(message)

    def close_run(self):
        """Stop the run for good (the window is closing, or this second run is)."""
        self.weights_timer.stop()
        self.run.close()

    def dispose(self) -> None:
        """Delete this pane (a second run that leaves the screen) with what Qt would not delete with
        it: its status widgets, when no status bar took them, and pyqtgraph's menus, which have no
        parent widget (about 540 widgets and 10 MB a pane, kept for as long as the window lived)."""
        for widget in self.status_widgets():
            if widget.parent() is None:
                widget.deleteLater()
        if self.views_ready:
            import pyqtgraph as pg

            for view in self.findChildren(pg.GraphicsView):
                for item in view.scene().items():
                    menus = [getattr(item, name, None) for name in ("menu", "ctrlMenu", "ctrlWidget")]
                    for menu in menus + list(getattr(item, "subMenus", None) or []):
                        if isinstance(menu, QWidget):
                            menu.deleteLater()
        self.deleteLater()
