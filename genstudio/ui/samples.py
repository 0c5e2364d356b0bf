"""The sample view (a scatter over the data, an image grid or a word list) and the timeline."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ..engine.render import image_grid
from ..live.history import SnapshotLog
from .steady_label import steady_label
from .theme import plot_widget


class SampleView(QStackedWidget):
    """Shows one Snapshot; the widget for the data kind is created once and updated in place."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = plot_widget(pg)
        self.plot.setAspectLocked(True)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.data_item = pg.ScatterPlotItem(size=3, pen=None, brush=pg.mkBrush(150, 150, 150, 90))
        self.sample_item = pg.ScatterPlotItem(size=6)
        self.set_sample_colour(None)
        self.plot.addItem(self.data_item)
        self.plot.addItem(self.sample_item)
        self.image_view = pg.GraphicsLayoutWidget()
        self.image_view.setBackground("#282828")
        box = self.image_view.addViewBox(lockAspect=True, invertY=True)
        box.setMouseEnabled(False, False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        box.addItem(self.image_item)
        self.image_box = box
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setStyleSheet("font-family: monospace; font-size: 13pt;")
        for w in (self.plot, self.image_view, self.text):
            self.addWidget(w)
        self.kind = None
        self.last_pixels = None

    def set_sample_colour(self, colour: str | None) -> None:
        """The 2D samples' colour: a run's own when two runs are compared (None: the usual orange)."""
        fill = QColor(colour or "#e8730e")
        fill.setAlpha(200)
        self.sample_item.setPen(pg.mkPen(fill.darker(170), width=0.5))
        self.sample_item.setBrush(pg.mkBrush(fill))

    def set_dataset(self, ds) -> None:
        self.kind = ds.kind
        if ds.kind == "points":
            # enough to show the shape (each point costs paint time); a small imported set shows all of it
            ref = np.concatenate([ds.held_out[:1500], ds.x[:max(0, 1500 - len(ds.held_out))]])
            self.data_item.setData(ref[:, 0], ref[:, 1])
            lo, hi = ref.min(0).astype(float), ref.max(0).astype(float)  # float32 overflows pyqtgraph's limits
            pad = (hi - lo) * 0.1
            self.plot.setRange(xRange=(lo[0] - pad[0], hi[0] + pad[0]), yRange=(lo[1] - pad[1], hi[1] + pad[1]))
            self.setCurrentWidget(self.plot)
        elif ds.kind == "image":
            self.setCurrentWidget(self.image_view)
        else:
            self.setCurrentWidget(self.text)

    def show_snapshot(self, snap) -> None:
        if self.kind == "points":
            pts = np.asarray(snap.samples)
            self.sample_item.setData(pts[:, 0], pts[:, 1])
        elif self.kind == "image":
            pixels = image_grid(np.asarray(snap.samples), scale=1, pad=1, cols=class_columns(snap.labels))
            self.image_item.setImage(pixels, autoLevels=False, levels=(0, 255))
            if self.last_pixels is None or self.last_pixels.shape != pixels.shape:
                self.image_box.autoRange(padding=0.02)
            self.last_pixels = pixels
        else:
            self.text.setPlainText("\n".join(w or "(empty)" for w in snap.samples))


def class_columns(labels) -> int | None:
    """A conditional model's samples come as many per class, in class order: one row per class."""
    if labels is None or not len(labels):
        return None
    return max(1, len(labels) // len(np.unique(labels)))


BEST_COLOUR = "#c2185b"   # the curves' held-out colour


class ForkMarks(QWidget):
    """A thin strip under the timeline's slider: a tick at each snapshot a run can be forked from, and
    a wider one at the best held-out step."""

    def __init__(self, timeline):
        super().__init__()
        self.timeline = timeline
        self.setFixedHeight(6)
        self.setToolTip("Blue marks keep the whole training state: a run can be forked from them. The "
                        "red mark is the best held-out step.")

    def paintEvent(self, event):
        snaps, kept = self.timeline.snapshots, self.timeline.forkable
        if len(snaps) < 2:
            return
        painter = QPainter(self)
        painter.setPen(QPen(QColor("#2a7ab0"), 2))
        span = self.width() - 12   # the slider's handle keeps ~6 px off each end
        for i, snap in enumerate(snaps):
            if snap.step in kept:
                x = 6 + span * i / (len(snaps) - 1)
                painter.drawLine(int(x), 0, int(x), self.height())
        best = self.timeline.best_index()
        if best is not None:
            painter.setPen(QPen(QColor(BEST_COLOUR), 4))
            x = 6 + span * best / (len(snaps) - 1)
            painter.drawLine(int(x), 0, int(x), self.height())
        painter.end()


class Timeline(QWidget):
    """A run's snapshots (its SnapshotLog); the slider scrubs back through them ("live" at the right
    end). Snapshots whose whole state the run keeps are marked below the slider; "Fork from here" asks
    for a new run from the one on screen."""

    scrubbed = Signal(object)    # the Snapshot to show
    export_requested = Signal()
    fork_requested = Signal(object)   # the Snapshot to fork from

    def __init__(self, snapshots: SnapshotLog, best_step=lambda: None, parent=None):
        """`best_step()`: the run's best held-out step now (None: none)."""
        super().__init__(parent)
        self.snapshots = snapshots         # the run's: it adds to them, the timeline shows them
        self.best_step = best_step
        self.held = False                  # a shared timeline holds it where it is (ui/compare.py)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("Scrub back through the samples seen during training")
        self.marks = ForkMarks(self)
        self.label = steady_label("step 100000000  (live)", "no samples yet")
        self.fork = QPushButton("Fork from here…")
        self.fork.setToolTip("Start a second run beside this one from this point's weights and optimiser "
                             "state, with this run's settings and a learning rate you choose")
        self.fork.setEnabled(False)
        self.best = QPushButton("Best")
        self.best.setToolTip("Jump to the step with the lowest held-out loss so far (the red mark): the "
                             "weights the command line saves; fork from there to go on from them")
        self.best.setEnabled(False)
        self.export = QPushButton("Export GIF…")
        self.export.setToolTip("Save the timeline as an animated GIF")
        track = QVBoxLayout()
        track.setSpacing(0)
        track.addWidget(self.slider)
        track.addWidget(self.marks)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Timeline"))
        layout.addLayout(track, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.best)
        layout.addWidget(self.fork)
        layout.addWidget(self.export)
        self.slider.valueChanged.connect(self._moved)
        self.export.clicked.connect(self.export_requested)
        self.best.clicked.connect(self.jump_to_best)
        self.fork.clicked.connect(lambda: self.shown() is not None and self.fork_requested.emit(self.shown()))

    def shown(self):
        """The snapshot under the slider (None before the first)."""
        return self.snapshots[self.slider.value()] if self.snapshots else None

    @property
    def live(self) -> bool:
        return self.slider.value() >= self.slider.maximum()

    @property
    def forkable(self) -> set[int]:
        """The steps whose whole state the run keeps now."""
        return self.snapshots.forkable

    def hold_at(self, x: float | None, by_seconds: bool = False) -> None:
        """A shared timeline's position (ui/compare.py): the last snapshot at or before step (or
        training second) x, held there while new ones come; None: live again."""
        self.held = x is not None
        if not self.snapshots:
            return
        if x is None:
            self.slider.setValue(len(self.snapshots) - 1)
            return
        self.slider.setValue(self.snapshots.index_at(x, by_seconds) or 0)

    def best_index(self) -> int | None:
        """The snapshot at the run's best held-out step (or the last one before it)."""
        return self.snapshots.index_at(self.best_step())

    def best_changed(self) -> None:
        """The run's best held-out step moved (or came)."""
        self.best.setEnabled(self.best_index() is not None)
        self.marks.update()

    def jump_to_best(self) -> None:
        index = self.best_index()
        if index is not None:
            self.slider.setValue(index)

    def refill(self) -> None:
        """The run's snapshots were cleared or filled anew: live at the newest, if any."""
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, len(self.snapshots) - 1))
        self.slider.setValue(self.slider.maximum())
        self.slider.blockSignals(False)
        self.marks.update()
        self.fork.setEnabled(False)
        self.best.setEnabled(self.best_index() is not None)
        if self.snapshots:
            self._label()
        else:
            self.label.setText("no samples yet")

    def added(self, oldest_left: bool) -> bool:
        """The run kept one more snapshot (and dropped its oldest, when `oldest_left`); returns whether
        the view should show it (the slider is at 'live')."""
        live = self.live and not self.held
        at = self.slider.value()
        if self.snapshots[-1].forkable:
            self.marks.update()
        self.slider.blockSignals(True)  # moving the range is not a user scrub
        self.slider.setRange(0, len(self.snapshots) - 1)
        if live:
            self.slider.setValue(len(self.snapshots) - 1)
        elif oldest_left:
            self.slider.setValue(max(0, at - 1))   # the same snapshot as before, one place down
        self.slider.blockSignals(False)
        self._label()
        if oldest_left and not live and at == 0:
            self.scrubbed.emit(self.snapshots[0])   # the one on screen is gone: show the oldest kept
        return live

    def _label(self):
        if self.snapshots:
            snap = self.snapshots[self.slider.value()]
            self.label.setText(f"step {snap.step}" + ("  (live)" if self.live else ""))
            self.fork.setEnabled(snap.step in self.forkable)

    def _moved(self, index: int):
        if 0 <= index < len(self.snapshots):
            self._label()
            self.scrubbed.emit(self.snapshots[index])

