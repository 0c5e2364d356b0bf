"""A guided lesson beside the views (Lessons menu): one step at a time, each setting up its preset
and showing its view and page; "Next" lights up once the step's wait (a training step, or a
metric crossing a value) is reached. The lesson files are read by genstudio/lessons.py."""
from __future__ import annotations

import os

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..lessons import Lesson, LessonError, builtin_lessons, load_lesson
from ..paths import resource
from .theme import quiet_css

POLL_MS = 250


class LessonPanel(QDockWidget):
    def __init__(self, window):
        super().__init__("Lesson", window)
        self.window = window
        self.setObjectName("lesson")
        self.setAllowedAreas(Qt.RightDockWidgetArea | Qt.LeftDockWidgetArea | Qt.BottomDockWidgetArea)
        self.lesson: Lesson | None = None
        self.index = 0
        self.prepared = None           # the experiment this panel set up (a step on the same preset keeps it)...
        self.run_started = None   # ...and the window's run it started (the teacher may have reset since)
        self.beside = None        # the second run's experiment a step set up beside the first, and its pane
        self.beside_pane = None
        body = QWidget()
        col = QVBoxLayout(body)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-weight: bold;")
        self.counter = QLabel()
        self.counter.setStyleSheet(quiet_css())
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.text.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.waiting = QLabel()
        self.waiting.setWordWrap(True)
        self.back_button, self.next_button = QPushButton("◀ Back"), QPushButton("Next ▶")
        self.close_button = QPushButton("End lesson")
        row = QHBoxLayout()
        for button in (self.back_button, self.next_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(self.close_button)
        for w in (self.title, self.counter, self.text):
            col.addWidget(w)
        col.addStretch(1)
        col.addWidget(self.waiting)
        col.addLayout(row)
        self.setWidget(body)
        self.setMinimumWidth(280)
        self.back_button.clicked.connect(lambda: self.go(self.index - 1))
        self.next_button.clicked.connect(lambda: self.go(self.index + 1))
        self.close_button.clicked.connect(self.end)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)
        window.addDockWidget(Qt.RightDockWidgetArea, self)
        self.hide()

    def build_menu(self, menu) -> None:
        for lesson in builtin_lessons():
            menu.addAction(lesson.title, lambda path=lesson.path: self.open_file(path))
        menu.addSeparator()
        menu.addAction("Open lesson file…", self.open_dialog)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open lesson", self.window.recent.folder(),
                                              "Lessons (*.json);;All files (*)")
        if path:
            self.open_file(path)

    def open_file(self, path: str) -> bool:
        """Start the lesson in `path` (once the user has saved or discarded the run's unsaved training);
        a bad file gets one message and changes nothing."""
        try:
            lesson = load_lesson(path)
        except LessonError as exc:
            self.window.report_problem(f"Could not open the lesson: {exc}")
            return False
        if os.path.dirname(os.path.abspath(path)) != os.path.abspath(resource("lessons")):
            self.window.recent.used(path)   # a teacher's own file (the built-in ones are in the Lessons menu)
        self.window.pane.ask_first(f'starting the lesson "{lesson.title}"', lambda: self._start(lesson))
        return True

    def _start(self, lesson) -> None:
        self.lesson, self.prepared = lesson, None
        self.title.setText(lesson.title)
        self.show()
        self.go(0)
        self.timer.start()

    def end(self) -> None:
        self.timer.stop()
        self.lesson = None
        self.hide()

    @property
    def step(self):
        return self.lesson.steps[self.index]

    def go(self, index: int) -> None:
        """Show step `index`: its preset (a fresh run unless the last step ran the same one), its view
        and page. A new run waits, paused, for the teacher to press Train."""
        if self.lesson is None or not 0 <= index < len(self.lesson.steps):
            return
        self.index = index
        step, w = self.step, self.window
        wanted = step.experiment()
        if wanted != self.prepared or w.run.experiment is not self.run_started:
            w.pane.panel.set_experiment(wanted)
            w.pane.reset()
            self.prepared, self.run_started = wanted, w.run.experiment
        self._set_beside(step.beside_experiment())
        for pane in w.panes():
            self._show_view(step, pane)
        self.counter.setText(f"Step {index + 1} of {len(self.lesson.steps)}")
        self.text.setText(step.text)
        self.back_button.setEnabled(index > 0)
        self._poll()

    def _set_beside(self, wanted) -> None:
        """Two runs side by side when the step names a second one (Space trains both); the lesson's
        second run ends with the first step that names none."""
        w = self.window
        ours = w.comparison is not None and w.comparison.guest is self.beside_pane
        if wanted is None:
            if ours:
                w.end_comparison()
            self.beside = self.beside_pane = None
        elif wanted != self.beside or not ours:
            pane = w.compare_with()
            pane.panel.set_experiment(wanted)
            pane.reset()
            self.beside, self.beside_pane = wanted, pane

    def _show_view(self, step, pane) -> None:
        if step.view == "family":
            pane.tabs.setCurrentWidget(pane.family_tab)
            view = pane.run_view
            view.prepare()
            pages = getattr(view, "pages", None)
            if step.page and pages is not None:
                for i in range(pages.count()):
                    if pages.tabText(i) == step.page:
                        pages.setTabVisible(i, True)
                        pages.setCurrentIndex(i)
        else:
            pane.tabs.setCurrentIndex(0)
            if step.view == "curves":
                pane.curves.show()

    def reached(self) -> bool:
        w = self.window
        metrics = w.run.evaluations[-1].values if w.run.evaluations else {}
        heads = None
        if self.step.wait_head is not None:
            from ..engine.attention import probe_maps, strongest
            probe = next((s.probe for s in reversed(w.run.snapshots) if s.probe is not None), None)
            heads = strongest(probe_maps(probe)) if probe is not None else {}
        return self.step.reached(w.run.step, metrics, heads, w.run.history.best_step)

    def _poll(self) -> None:
        if self.lesson is None:
            return
        last = self.index == len(self.lesson.steps) - 1
        done = self.reached()
        self.next_button.setEnabled(done and not last)
        wait = self.step.wait_text()
        if last and done:
            self.waiting.setText("The end of the lesson.")
        elif not wait:
            self.waiting.setText("")
        elif done:
            self.waiting.setText(f"✓ {wait}: press Next")
        else:
            where = f" (now step {self.window.run.step:,})" if self.step.wait_step else ""
            self.waiting.setText(f"Next lights up once you {wait}{where}. Press Train (Space).")
