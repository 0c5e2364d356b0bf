"""The studio window: one run's pane (ui/run_pane.py), or two side by side (ui/compare.py), and the
window's chrome: menus, keys, the status bar, remembered settings, drag and drop, presenter mode."""
from __future__ import annotations

import json
import os

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMenu, QMessageBox

from ..config import ConfigError, Experiment, default_experiment
from ..data import looks_like_path
from .keys import KeysForFocus, name_controls, show_about, show_shortcuts
from .lesson_panel import LessonPanel
from .recent import RecentFiles
from .run_pane import RunPane
from .runs_table import RunsTable
from .threads import GuiThreadGarbageCollector, Inbox
from .unsaved_work import UnsavedWork

REDRAW_MS = 200         # coalesce redraws: curves and counters at 5 frames a second (painting holds the GIL)


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
    views_built = Signal()         # the plots exist (at once, or after the first paint with defer_views)

    def __init__(self, settings: QSettings | None = None, defer_views: bool = False, training_process: bool = True):
        """`defer_views`: paint the window first and build the plots (pyqtgraph: about 0.2 s to import)
        just after, as the app does at start; views_built says when they exist.
        `training_process`: train in a child process (live/training_process.py), else in a thread of
        this one (tests that patch the model in this process use that)."""
        super().__init__()
        self.setWindowTitle("GenStudio[*]")   # [*]: Qt shows "*" there while the run has unsaved training
        self.settings = settings or QSettings("GenStudio", "GenStudio")
        GuiThreadGarbageCollector.install(QApplication.instance())
        self.inbox = Inbox(self)       # background threads reach the GUI thread only through this
        QApplication.instance().installEventFilter(KeysForFocus(self))
        self.unsaved_work = UnsavedWork(self, self.settings)
        self.recent = RecentFiles(self.settings)
        self.discard_on_close = False  # the user has saved or discarded what the runs held (or a script closes)
        self.training_process = training_process
        self.pane = self._new_pane()
        self.pane.title_changed.connect(
            lambda name: self.setWindowTitle(f"GenStudio — {name}[*]" if name else "GenStudio[*]"))
        self.pane.fork_ready.connect(self._fork_ready)
        self.pane.panel.presets_changed.connect(self._save_settings)
        self.setCentralWidget(self.pane)
        self.pane.setFocus()   # not the first button: Space and the arrows start out training and stepping
        for w in self.pane.status_widgets():
            self.statusBar().addPermanentWidget(w)
        self.comparison = None         # ui/compare.py: a second run beside this one, in this window
        self.runs_table = None
        self.presenter = None
        self.last_problem: str | None = None
        self.problem_box: QMessageBox | None = None
        self._build_menus()
        self._restore()
        self.views_pending = defer_views
        if not defer_views:
            self._build_views()
        self.setAcceptDrops(True)
        self.redraw_timer = QTimer(self)
        self.redraw_timer.timeout.connect(self.redraw)
        self.redraw_timer.start(REDRAW_MS)

    @property
    def run(self):
        """The window's own run (the first pane's)."""
        return self.pane.run

    def panes(self) -> list[RunPane]:
        """The runs on screen: the window's own, and the second one when two are compared."""
        return [self.pane] + ([self.comparison.guest] if self.comparison is not None else [])

    def _new_pane(self) -> RunPane:
        pane = RunPane(self.inbox.post, self.training_process)
        pane.unsaved_work = self.unsaved_work
        pane.recent = self.recent
        pane.message.connect(self.statusBar().showMessage)
        pane.problem.connect(self.report_problem)
        return pane

    # layout -----------------------------------------------------------------------------------
    def _build_views(self):
        """The plots (pyqtgraph) and presenter mode."""
        import pyqtgraph as pg

        from .presenter import Presenter

        pg.setConfigOptions(antialias=False, imageAxisOrder="row-major")
        self.pane.build_views()
        self.presenter = Presenter(self, self.settings)
        view_menu = QMenu("&View", self)
        self.menuBar().insertMenu(self.help_menu.menuAction(), view_menu)   # before Help, as menus go
        self._build_fold_toggles(view_menu)
        self.presenter.build_menu(view_menu)
        name_controls(self)
        self.views_built.emit()
        if self.settings.value("presenter/on", False, type=bool):
            self.presenter.set_active(True)

    def _build_fold_toggles(self, menu: QMenu) -> None:
        """View > Settings panel, Loss curves and Help texts: fold them away to give the model's plots
        the room (a laptop's 1366x768). Remembered between sessions."""
        from .views.base import show_help_texts

        for text, keys, key, shown, show in (
                ("Settings panel", "F9", "view/settings", self.pane.settings_shown, self.pane.show_settings),
                ("Loss curves", "Shift+F9", "view/curves", self.pane.curves.isVisible, self.pane.curves.setVisible),
                ("Help texts", "Shift+F1", "view/help", None, lambda on: show_help_texts(self, on))):
            action = menu.addAction(text)
            action.setShortcut(QKeySequence(keys))
            action.setCheckable(True)
            action.triggered.connect(lambda on, key=key, show=show: (show(on), self.settings.setValue(key, on)))
            if shown is not None:   # presenter mode and two runs fold them too: the menu says what is on screen
                menu.aboutToShow.connect(lambda action=action, shown=shown: action.setChecked(shown()))
            self.addAction(action)   # the keys work with the menu bar hidden (presenter mode)
            action.setChecked(self.settings.value(key, True, type=bool))
            show(action.isChecked())
        menu.addSeparator()

    @property
    def views_ready(self) -> bool:
        return self.pane.views_ready

    def paintEvent(self, event):
        super().paintEvent(event)
        if self.views_pending:  # the window is on screen now: build the plots next
            self.views_pending = False
            QTimer.singleShot(0, self._build_views)

    def _build_menus(self):
        self.addToolBar(self.pane.transport_bar)
        for text, keys, slot in (("Train or pause (both runs when two are on screen)", Qt.Key_Space, self._space),
                                 ("One training step (both runs)", Qt.Key_Right, self._right),
                                 ("Reset: a fresh model from the settings", QKeySequence("Ctrl+R"),
                                  lambda: self.pane.reset_asking())):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.WindowShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
        file_menu = self.menuBar().addMenu("&File")
        self.pane.files.build_menu(file_menu)
        self.lessons = LessonPanel(self)
        file_menu.addAction("Open lesson…", self.lessons.open_dialog)
        recent = file_menu.addMenu("Open recent")
        recent.aboutToShow.connect(lambda: self.recent.fill_menu(recent, self.open_path))
        file_menu.addSeparator()
        ask = file_menu.addAction("Ask before discarding training")
        ask.setToolTip("Reset, Apply, new data, Open, a lesson and Quit ask to save a run's unsaved training first")
        ask.setCheckable(True)
        file_menu.aboutToShow.connect(lambda: ask.setChecked(self.unsaved_work.asking))
        ask.toggled.connect(self.unsaved_work.set_asking)
        file_menu.addAction("Quit", self.close, QKeySequence.Quit)
        runs = self.menuBar().addMenu("&Runs")
        runs.addAction("New run beside this one", self.run_beside, QKeySequence("Ctrl+Shift+N"))
        runs.addAction("Runs table…", self.show_runs_table, QKeySequence("Ctrl+T"))
        self.end_comparison_action = runs.addAction("Close the second run", self.end_comparison)
        self.end_comparison_action.setEnabled(False)
        self.lessons.build_menu(self.menuBar().addMenu("&Lessons"))
        self.help_menu = self.menuBar().addMenu("&Help")
        self.help_menu.addAction("Keyboard shortcuts…", lambda: show_shortcuts(self), QKeySequence.HelpContents)
        self.help_menu.addAction("About GenStudio", lambda: show_about(self, self.pane.device_label.text()))

    def _space(self):
        """Space: train or pause (both runs when two are on screen)."""
        if self.comparison is not None:
            self.comparison.toggle_both()
        else:
            self.pane.toggle_training()

    def _right(self):
        if self.comparison is not None:
            self.comparison.step_both()
        else:
            self.pane.single_step("all")

    # settings --------------------------------------------------------------------------------
    def _restore(self):
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        panel = self.pane.panel
        panel.user_presets = _load_presets(self.settings.value("presets"))
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
        panel.set_experiment(exp or default_experiment("gan"))
        self.pane.show_family(panel.family.currentData())

    def _save_settings(self):
        presenting = self.presenter is not None and self.presenter.active
        self.settings.setValue("geometry", self.presenter.normal_geometry() if presenting else self.saveGeometry())
        panel = self.pane.panel
        self.settings.setValue("presets", json.dumps(
            [{"name": name, "experiment": exp.to_dict()} for name, exp in panel.user_presets]))
        try:
            self.settings.setValue("experiment", panel.experiment().to_json())
        except ConfigError:
            pass

    # two runs ----------------------------------------------------------------------------------
    def _fork_ready(self, doc, origin: str, step: int) -> None:
        """A kept state of the window's run: the fork starts beside it, paused at the fork's step."""
        self.compare_with().open_fork(doc, origin, step)
        self.statusBar().showMessage(f"Forked from step {step:,}: Space trains both futures (other settings: "
                                     "the fork's Settings, applied before it trains)", 10000)

    def fork_from(self, snap, lr: float | None = None) -> None:
        """Fork the window's run from `snap` (the timeline's "Fork from here…")."""
        self.pane.fork_from(snap, lr)

    def run_beside(self) -> RunPane | None:
        """A second run beside this one: the settings on the left (the same seed, so the same first
        weights where the networks are the same), paused at step 0 with its settings shown, to change
        them first."""
        try:
            exp = self.pane.panel.experiment()
        except ConfigError as exc:
            self.report_problem(str(exc))
            return None
        other = self.compare_with()
        other.panel.set_experiment(exp)
        other.reset()
        self.comparison.headers[1].settings.setChecked(True)
        self.statusBar().showMessage("A second run beside the first: change its settings, then press Space", 10000)
        return other

    def reopen_run(self, record) -> RunPane | None:
        """A run of the runs table, started again beside this window's run: from its file, from the
        kept state it was forked from, or from step 0 with its settings and seed."""
        if record.live_run() is not None:
            self.report_problem(f"Run {record.number} is on screen now.")
            return None
        other = self.compare_with()

        def note_origin(source: str = "") -> None:
            if other.run.record is not None:
                other.run.record.origin = f"run {record.number} again" + source

        def without_file(problem: str = "") -> None:
            if problem:   # the file changed or went bad since: the record still holds the run
                self.statusBar().showMessage(f"{problem}: started again from the runs table instead", 10000)
            if record.document is not None:
                other.open_fork(record.document, "", record.forked_at)
            else:
                other.panel.set_experiment(record.experiment)
                other.reset()
            note_origin()

        if record.path is not None and os.path.isfile(record.path):
            other.files.open_experiment(record.path, opened=lambda: note_origin(f" ({os.path.basename(record.path)})"),
                                        failed=without_file)
        else:
            without_file()
        return other

    def compare_with(self) -> RunPane:
        """A second run's pane beside this window's run (it replaces the second run on screen, which
        stays in the runs table)."""
        from .compare import Comparison

        self.end_comparison()
        guest = self._new_pane()
        guest.build_views()
        self.comparison = Comparison(self, self.pane, guest)
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

    # drawing and messages --------------------------------------------------------------------------
    def redraw(self):
        if not self.views_ready:
            return
        if self.comparison is not None:
            self.comparison.refresh()   # first: it remakes the plot's items when a run was reset
        for pane in self.panes():
            pane.redraw()
        self.setWindowModified(self.run.unsaved)

    def report_problem(self, message: str):
        """A problem with something the user asked for (a bad file, nothing to save): one message,
        in a box that does not block the window, and in the status bar. Nothing else changes."""
        self.last_problem = message
        self.statusBar().showMessage(message, 10000)
        if self.problem_box is None:
            self.problem_box = QMessageBox(QMessageBox.Warning, "GenStudio", "", QMessageBox.Ok, self)
        self.problem_box.setText(message)
        self.problem_box.open()

    # files from outside: the command line, Open Recent, drag and drop ----------------------------
    def open_path(self, path: str) -> None:
        """Open what `path` is: an experiment file, a lesson (.json), else data (with its preview)."""
        if not os.path.exists(path):
            self.report_problem(f"{path}: no such file or folder")
        elif path.endswith(".genstudio"):
            self.pane.files.open_experiment(path)
        elif path.lower().endswith(".json"):
            self.lessons.open_file(path)
        else:
            self.pane.files.open_data(path)

    def dragEnterEvent(self, event):
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event):
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.open_path(urls[0].toLocalFile())
            event.acceptProposedAction()

    # closing ---------------------------------------------------------------------------------
    def closeEvent(self, event):
        unsaved = [pane for pane in self.panes() if pane.run.unsaved]
        if unsaved and not self.discard_on_close and self.unsaved_work.asking:
            event.ignore()   # ask for each run with unsaved training, then close
            self._close_after(unsaved)
            return
        self.end_comparison()
        self._save_settings()
        self.redraw_timer.stop()
        self.pane.close_run()
        self.inbox.close()
        super().closeEvent(event)

    def _close_after(self, panes: list[RunPane]) -> None:
        if not panes:
            self.discard_on_close = True
            self.close()
            return
        doing = "closing the window" + (" (the run on the right)" if panes[0] is not self.pane else "")
        panes[0].ask_first(doing, lambda: self._close_after(panes[1:]))
