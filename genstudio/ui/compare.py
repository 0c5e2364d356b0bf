"""Two runs in one window: the window's own run and a second one beside it (Runs → New run beside
this one, a reopened row of the runs table, or the timeline's Fork from here).

Each run is a pane (ui/run_pane.py: its process, views, transport and settings). Their samples and
family views stand side by side, under a header per run (its colour, what differs, its steps/s);
their loss curves overlay in one plot, a colour per run and a line style per loss term; one timeline
slider, by step or by training seconds, shows both runs' snapshots at that point (each run's own
timeline is hidden meanwhile).
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..live.records import differing_settings, settings_of
from .steady_label import steady_label

RUN_COLOURS = ("#1f77b4", "#e8730e")        # the window's own run, the second run
SECONDS_TICKS = 10                          # slider positions per training second, "by training seconds"


def colour_icon(colour: str) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class RunHeader(QWidget):
    """Above a run's views: its colour (click to change), its name and what differs, its speed, a
    button that shows its settings and one that saves it (the second run has no menus of its own)."""

    def __init__(self, comparison, pane, colour: str):
        super().__init__()
        self.comparison, self.colour = comparison, colour
        self.swatch = QToolButton()
        self.swatch.setToolTip("This run's colour in the loss plot (click to change it)")
        self.swatch.clicked.connect(self._pick_colour)
        self.title = QLabel()
        self.title.setTextFormat(Qt.PlainText)
        # a long title (two families differ in many settings) is cut at the column's edge, not widening the
        # window; its tooltip holds it whole
        self.title.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.shown = steady_label("showing step 100,000,000", "")
        self.shown.setToolTip("The step of the samples on screen (the shared timeline picks each run's last "
                              "snapshot at or before its position)")
        self.rate = steady_label("00000 steps/s  ", "")
        self.settings = QToolButton()
        self.settings.setText("Settings")
        self.settings.setCheckable(True)
        self.settings.setToolTip("Show this run's settings (change them, then Reset or Apply)")
        self.settings.toggled.connect(pane.show_settings)
        self.save = QToolButton()
        self.save.setText("Save…")
        self.save.setToolTip("Save this run as an experiment file (weights, curves, timeline, fork points)")
        self.save.clicked.connect(pane.files.save_experiment_as)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        row.addWidget(self.swatch)
        row.addWidget(self.title, 1)   # the room left
        for w in (self.shown, self.rate, self.settings, self.save):
            row.addWidget(w)
        self.set_colour(colour)

    def set_colour(self, colour: str) -> None:
        self.colour = colour
        self.swatch.setIcon(colour_icon(colour))
        self.title.setStyleSheet(f"color: {colour}; font-weight: bold;")

    def _pick_colour(self) -> None:
        chosen = QColorDialog.getColor(QColor(self.colour), self, "Colour of this run")
        if chosen.isValid():
            self.set_colour(chosen.name())
            self.comparison.overlay_curves()


class SharedTimeline(QWidget):
    """One slider for both runs: at its right end both are live; elsewhere each shows its last
    snapshot at or before the chosen step (or training second)."""

    def __init__(self, comparison):
        super().__init__()
        self.comparison = comparison
        self.train_both = QPushButton("▶ Train both")
        self.train_both.setToolTip("Train or pause both runs (Space)")
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("Scrub both runs back to the same step (or training second)")
        self.by = QComboBox()
        self.by.addItems(["by step", "by training seconds"])
        self.by.setToolTip("Line the runs up by optimisation step or by seconds of training")
        self.label = steady_label("step 100,000,000  (live)", "no samples yet")
        self.fork = QPushButton("Fork from here…")
        self.fork.setToolTip("Start a run from the first run's weights and optimiser state at this point "
                             "(it replaces the second run)")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.train_both, QLabel("Timeline (both runs)")):
            row.addWidget(w)
        row.addWidget(self.slider, 1)
        for w in (self.label, self.by, self.fork):
            row.addWidget(w)

    @property
    def live(self) -> bool:
        return self.slider.value() >= self.slider.maximum()

    def position(self) -> float:
        """Where the slider is, in steps or training seconds."""
        return self.slider.value() / (SECONDS_TICKS if self.by.currentIndex() else 1)


class Comparison(QObject):
    """The layout of a window showing two runs' panes, and what keeps them in step. It owns every
    connection it makes; `end()` undoes them, puts the window back as it was and closes the second run."""

    def __init__(self, window, host, guest):
        super().__init__(window)
        self.host, self.guest = host, guest
        self.connections: list = []     # (signal, slot) made here, undone by end()
        self.headers = [RunHeader(self, host, RUN_COLOURS[0]), RunHeader(self, guest, RUN_COLOURS[1])]
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Close the second run (it stays in the runs table)")
        self.close_button.clicked.connect(window.end_comparison)
        self.headers[1].layout().addWidget(self.close_button)
        self.timeline = SharedTimeline(self)
        guest.curves.hide()      # both runs' curves are overlaid in the host's plot
        guest.timeline.hide()    # the shared timeline moves both
        guest.show_settings(False)
        self.panel_was_visible = host.settings_shown()
        host.show_settings(False)
        host.timeline.hide()
        columns = QSplitter(Qt.Horizontal)
        for header, body in zip(self.headers, (host.tabs, guest)):
            column = QWidget()
            layout = QVBoxLayout(column)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.setSpacing(0)
            layout.addWidget(header)
            layout.addWidget(body, 1)
            columns.addWidget(column)
        self.area = QWidget()
        layout = QVBoxLayout(self.area)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(columns, 1)
        layout.addWidget(self.timeline)
        host.set_top_view(self.area)
        columns.setSizes([1000, 1000])   # halves
        self.columns = columns
        self.timeline.slider.valueChanged.connect(self._scrubbed)
        self.timeline.by.currentIndexChanged.connect(self._unit_changed)
        self.timeline.train_both.clicked.connect(self.toggle_both)
        self.timeline.fork.clicked.connect(host.fork_here)
        self._connect(host.tabs.currentChanged, lambda i: self._same_page(guest.tabs, i))
        self._connect(guest.tabs.currentChanged, lambda i: self._same_page(host.tabs, i))
        for family, view in host.family_views.items():   # a family view's pages too, when both runs show it
            mine, theirs = getattr(view, "pages", None), getattr(guest.family_views[family], "pages", None)
            if mine is not None and theirs is not None:
                self._connect(mine.currentChanged, lambda i, t=theirs: self._same_page(t, i))
                self._connect(theirs.currentChanged, lambda i, t=mine: self._same_page(t, i))
        for pane in self.panes():
            self._connect(pane.status_changed, self._train_both_text)
        self.overlay_curves()
        self.show_at(None)   # both live (the host's timeline may have been scrubbed back to fork)
        self.refresh()

    def _connect(self, signal, slot) -> None:
        signal.connect(slot)
        self.connections.append((signal, slot))

    def panes(self):
        return (self.host, self.guest)

    # curves -------------------------------------------------------------------------------------
    def overlay_curves(self) -> None:
        """Both runs' curves in the host's plot, each in its colour; a fork's from its fork on (before
        that they are the original's). 2D samples take their run's colour too."""
        runs = []
        for pane, header in zip(self.panes(), self.headers):
            record = pane.run.record
            forked_at = record.forked_at if record is not None else None
            runs.append((self.label_of(pane), header.colour, pane.run, forked_at or 0))
            pane.samples.set_sample_colour(header.colour)
        self.host.curves.compare(runs)

    @staticmethod
    def label_of(pane) -> str:
        record = pane.run.record
        return f"run {record.number}" if record is not None else "run"

    # the shared timeline ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Called by the window's redraw timer: the slider's range, the headers' texts and speeds."""
        t = self.timeline
        per = SECONDS_TICKS if t.by.currentIndex() else 1
        ends = [p.run.snapshots[-1] for p in self.panes() if len(p.run.snapshots)]
        end = max(((s.seconds * per) if per > 1 else s.step for s in ends), default=0)
        live = t.live
        t.slider.blockSignals(True)
        t.slider.setMaximum(int(round(end)))
        if live:
            t.slider.setValue(t.slider.maximum())
        t.slider.blockSignals(False)
        self._label()
        experiments = [p.run.experiment for p in self.panes()]
        differ = differing_settings(experiments)
        shared = [settings_of(e) for e in experiments if e]
        # (settings only one run's family has are not a difference worth naming)
        named = [k for k in differ if all(k in f for f in shared)]
        for pane, header in zip(self.panes(), self.headers):
            record, exp = pane.run.record, pane.run.experiment
            parts = [self.label_of(pane).capitalize()]
            if record is not None and record.origin:
                parts.append(record.origin)
            if exp is not None:
                parts.append(", ".join(f"{k} {v}" for k, v in settings_of(exp).items() if k in named) or
                             "same settings")
            text = " — ".join(parts)
            if header.title.text() != text:
                header.title.setText(text)
                header.title.setToolTip(text)
            rate = pane.run.rate
            header.rate.setText("" if rate is None else f"{rate:.0f} steps/s")
            snap = pane.timeline.shown()
            header.shown.setText("" if snap is None else "live" if pane.timeline.live
                                 else f"showing step {snap.step:,}")
            header.settings.blockSignals(True)
            header.settings.setChecked(pane.settings_shown())
            header.settings.blockSignals(False)
        if self.host.curves.runs_changed(self.label_of(p) for p in self.panes()):
            self.overlay_curves()

    def _label(self) -> None:
        t = self.timeline
        x = t.position()
        where = f"{x:.1f} s" if t.by.currentIndex() else f"step {int(x):,}"
        t.label.setText(where + ("  (live)" if t.live else ""))
        t.fork.setEnabled(self.host.can_fork_here())   # the first run's point under the slider decides

    def _unit_changed(self, _):
        self.timeline.slider.blockSignals(True)
        self.timeline.slider.setValue(0)
        self.timeline.slider.blockSignals(False)
        self.refresh()
        self.timeline.slider.setValue(self.timeline.slider.maximum())

    def _scrubbed(self, _):
        x = None if self.timeline.live else self.timeline.position()
        self.show_at(x)
        curves = self.host.curves
        if x is not None and curves.x_axis.currentIndex() == self.timeline.by.currentIndex():
            curves.cursor.setValue(x)   # where the slider is (each run shows its snapshot before it)
        self._label()

    def show_at(self, x: float | None) -> None:
        """Each run shows its last snapshot at or before step (or second) x; None: both live."""
        for pane in self.panes():
            pane.timeline.hold_at(x, by_seconds=self.timeline.by.currentIndex() == 1)

    def shown(self):
        """The snapshot each run shows now (host, guest)."""
        return tuple(p.timeline.shown() for p in self.panes())

    # both runs at once --------------------------------------------------------------------------
    def toggle_both(self) -> None:
        """Train both when either is not training; pause both when both are."""
        training = [p.run.state == "training" for p in self.panes()]
        for pane in self.panes():
            if all(training) or pane.run.state != "training":
                pane.toggle_training()
        self._train_both_text()

    def step_both(self) -> None:
        for pane in self.panes():
            pane.single_step("all")

    def _train_both_text(self, *_) -> None:
        both = all(p.run.state == "training" for p in self.panes())
        self.timeline.train_both.setText("‖ Pause both" if both else "▶ Train both")

    @staticmethod
    def _same_page(tabs, index: int) -> None:
        if tabs.currentIndex() != index:
            tabs.setCurrentIndex(index)

    def end(self) -> None:
        """Undo every connection made here, put the host's layout back, and close the second run."""
        for signal, slot in self.connections:
            signal.disconnect(slot)
        self.connections = []
        host, guest = self.host, self.guest
        host.timeline.hold_at(None)   # back to live
        host.set_top_view(None)
        self.area.hide()
        self.area.setParent(None)
        self.area.deleteLater()
        host.timeline.show()
        host.samples.set_sample_colour(None)
        host.show_settings(self.panel_was_visible)
        host.curves.compare([])
        host.show_timeline_position()
        guest.close_run()
        guest.dispose()
        self.deleteLater()   # the window's child: it would keep the second run's pane and run alive
