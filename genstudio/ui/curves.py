"""Live training curves: every loss term, EMA smoothing, log-y, x by step or time, bounded memory; the
held-out curve beside the training one, their gap labelled and the best step starred."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ..live.history import CurveHistory
from .theme import add_legend, plot_widget

COLOURS = ["#e8730e", "#1f77b4", "#2ca02c", "#d62728", "#9467bd"]
HELD_OUT_COLOUR, TRAIN_MEASURE_COLOUR = "#c2185b", "#607d8b"
TERM_STYLES = (Qt.SolidLine, Qt.DashLine, Qt.DotLine, Qt.DashDotLine)   # runs overlaid: a style per loss term


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard-style smoothing, debiased at the start: y_t = w y_(t-1) + (1 - w) x_t, divided
    by 1 - w^(t+1). Computed a block at a time in closed form (numpy, no Python loop over points):
    within a block y_j = w^(j+1) y_(-1) + (1 - w) w^j sum_(k<=j) w^(-k) x_k, with blocks short
    enough that w^(-k) stays finite."""
    values = np.asarray(values, dtype=np.float64)
    if weight <= 0 or len(values) == 0:
        return values
    block = int(max(1, min(4096, 250 / -np.log10(weight))))
    powers = weight ** np.arange(1, block + 1, dtype=np.float64)      # w^1 .. w^B
    inverse = weight ** -np.arange(block, dtype=np.float64)           # w^0 .. w^-(B-1)
    out = np.empty_like(values)
    carry = 0.0
    for start in range(0, len(values), block):
        x = values[start:start + block]
        n = len(x)
        y = powers[:n] * carry + (1 - weight) * (powers[:n] / weight) * np.cumsum(inverse[:n] * x)
        out[start:start + n] = y
        carry = y[-1]
    return out / (1 - weight ** np.arange(1, len(values) + 1, dtype=np.float64))


class CurvesView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = plot_widget(pg)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        add_legend(pg, self.plot, offset=(-10, 10))
        self.plot.setLabel("bottom", "step")
        # Painting the axes' text is the costly part of a redraw (and holds the GIL the training
        # thread needs): cache them as pixmaps and move the range in coarse steps (nice_range)
        # so that most redraws leave them untouched.
        for name in ("left", "bottom"):
            self.plot.getAxis(name).setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.plot.disableAutoRange()
        self.follow = True   # the view follows training until the user pans or zooms
        self.plot.getViewBox().sigRangeChangedManually.connect(self._user_moved_view)
        self.plot.getViewBox().sigStateChanged.connect(self._maybe_autorange_button)
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888", style=Qt.DashLine))
        self.cursor.setVisible(False)
        self.plot.addItem(self.cursor, ignoreBounds=True)
        self.smoothing = QSlider(Qt.Horizontal)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setToolTip("Exponential moving average of the curves (0 = raw values)")
        self.log_y = QCheckBox("log y")
        self.x_axis = QComboBox()
        self.x_axis.addItems(["step", "time (s)"])
        self.held_out_item = self.plot.plot([], [], pen=pg.mkPen(HELD_OUT_COLOUR, width=2), symbol="o",
                                            symbolSize=4, symbolPen=None, symbolBrush=HELD_OUT_COLOUR)
        self.train_measure_item = self.plot.plot([], [], pen=pg.mkPen(TRAIN_MEASURE_COLOUR, width=2,
                                                                      style=Qt.DashLine))
        self.measure_items = ((self.held_out_item, "held-out"), (self.train_measure_item, "training, same measure"))
        self.best_item = pg.ScatterPlotItem(size=14, symbol="star", pen=pg.mkPen("#333"), brush=HELD_OUT_COLOUR)
        self.gap_bracket = self.plot.plot([], [], pen=pg.mkPen(HELD_OUT_COLOUR, width=1, style=Qt.DotLine))
        self.gap_text = pg.TextItem(color=HELD_OUT_COLOUR, anchor=(1.05, 0.5))
        for item in (self.best_item, self.gap_text):
            self.plot.addItem(item)
        self.plot.plotItem.legend.setColumnCount(3)   # a low legend: the curves stay visible under it
        self.measure = None   # what the run's held-out curve measures (None: it has none)
        # a plain label whose width the window sets: the measure's name at its end is cut on a narrow one
        self.gap_label = QLabel()
        self.gap_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self.gap_label.setToolTip(
            "The same measure, in eval mode with the same noise, on a fixed set of training items and on as "
            "many held-out items the model never trains on. A gap that grows means the model is learning its "
            "training items by heart (overfitting). The star is the best held-out step: the weights the "
            "command line saves, and a point the timeline can jump to and fork from.")
        controls = QHBoxLayout()
        controls.addWidget(self.gap_label, 3)   # on the controls' line: no height taken from the plot
        controls.addWidget(QLabel("Smoothing"))
        controls.addWidget(self.smoothing, 1)
        controls.addWidget(self.log_y)
        controls.addWidget(QLabel("x:"))
        controls.addWidget(self.x_axis)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addLayout(controls)
        self.history = CurveHistory(())
        self.items: list[pg.PlotDataItem] = []
        self.runs: list = []           # (label, colour, Run, first step) of every run overlaid (ui/compare.py)
        self.run_items: list = []      # (item, Run, loss column, first step) of the overlaid curves
        self.run_keys: tuple = ()
        self.drawn_versions: tuple = ()
        self.dirty = False
        for signal in (self.smoothing.valueChanged, self.log_y.toggled, self.x_axis.currentIndexChanged):
            signal.connect(self._options_changed)

    def set_measure(self, measure: str | None) -> None:
        """What the run's held-out curve measures (Ready.held_out_measure; None: the run has none)."""
        self.measure = measure
        self.dirty = True

    def set_history(self, history: CurveHistory) -> None:
        """Draw `history` (a run's): a curve per loss term, and its held-out curve."""
        if history is self.history and len(self.items) == len(history.names):
            return
        self.history = history
        names = history.names
        for item in self.items:
            self.plot.removeItem(item)
        self.plot.plotItem.legend.clear()
        self.items = []
        for i, name in enumerate(names):
            # 1-pixel pens: Qt's raster engine draws them ~7x faster than 2-pixel ones (20 ms per
            # paint at 20,000 points with width 2), and every paint holds the GIL the trainer needs
            item = self.plot.plot([], [], name=name, pen=pg.mkPen(COLOURS[i % len(COLOURS)], width=1))
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
            self.items.append(item)
        legend = self.plot.plotItem.legend
        for item, name in self.measure_items:
            legend.addItem(item, name)
        self.cursor.setVisible(False)
        self.follow = True
        self.dirty = True
        if self.runs:
            self.compare(self.runs)

    def compare(self, runs) -> None:
        """Overlay runs' curves in one plot: `runs` holds (label, colour, Run, first step) for
        each run, this one's among them (a fork's curves are drawn from its fork on); a colour per run
        and a line style per loss term. [] goes back to this run's curves alone, a colour per term."""
        legend = self.plot.plotItem.legend
        legend.clear()
        for item, *_ in self.run_items:
            self.plot.removeItem(item)
        self.runs, self.run_items = list(runs), []
        for item, name in zip(self.items, self.history.names):
            item.setVisible(not self.runs)
            if not self.runs:
                legend.addItem(item, name)
        for item, name in self.measure_items:
            item.setVisible(not self.runs)   # runs overlaid: their loss curves only
            if not self.runs:
                legend.addItem(item, name)
        for item in (self.best_item, self.gap_text, self.gap_bracket, self.gap_label):
            item.setVisible(not self.runs)
        for label, colour, run, first in self.runs:
            for i, name in enumerate(run.history.names):
                pen = pg.mkPen(colour, width=1, style=TERM_STYLES[i % len(TERM_STYLES)])
                item = self.plot.plot([], [], name=f"{label} · {name}", pen=pen)
                item.setDownsampling(auto=True, method="peak")
                item.setClipToView(True)
                self.run_items.append((item, run, i, first))
        self.run_keys = self._run_keys([run[0] for run in self.runs])
        self.dirty = True
        self.redraw()

    def _run_keys(self, labels) -> tuple:
        return tuple((label, run[2].history.names, run[3]) for label, run in zip(labels, self.runs))

    def runs_changed(self, labels) -> bool:
        """Whether an overlaid run has another name or other loss terms now (it was reset)."""
        return bool(self.runs) and self._run_keys(list(labels)) != self.run_keys

    def _drawn(self) -> list:
        """(item, CurveHistory, loss column, first step) of every curve on the plot."""
        if self.runs:   # (a run reset since the items were made has other loss terms, or none yet)
            return [(item, run.history, i, first) for item, run, i, first in self.run_items
                    if i < len(run.history.names)]
        return [(item, self.history, i, 0) for i, item in enumerate(self.items)]

    def showEvent(self, event):
        super().showEvent(event)
        self.redraw()   # what came while hidden

    def _user_moved_view(self, *_):
        self.follow = False

    def _maybe_autorange_button(self, *_):
        # pyqtgraph's "A" button turns auto-range back on: treat it as "follow training again"
        if any(self.plot.getViewBox().autoRangeEnabled()):
            self.plot.disableAutoRange()
            self.follow = True
            self.dirty = True

    def _options_changed(self, *_):
        self.plot.setLogMode(y=self.log_y.isChecked())
        self.plot.setLabel("bottom", "step" if self.x_axis.currentIndex() == 0 else "seconds")
        self.dirty = True
        self.redraw()

    def x_of(self, step: int, seconds: float) -> float:
        return step if self.x_axis.currentIndex() == 0 else seconds

    def show_cursor(self, step: int, seconds: float) -> None:
        self.cursor.setValue(self.x_of(step, seconds))
        self.cursor.setVisible(True)

    def redraw(self) -> None:
        """Called by the window's redraw timer; cheap when nothing changed (or the plot is hidden)."""
        drawn = self._drawn()
        versions = tuple((id(h), h.version) for _, h, _, _ in drawn)
        if self.isHidden() or (not self.dirty and versions == self.drawn_versions):
            return
        self.dirty, self.drawn_versions = False, versions
        column = 0 if self.x_axis.currentIndex() == 0 else 1
        weight = self.smoothing.value() / 100
        log = self.log_y.isChecked()
        lows, highs, ends = [], [], []
        for item, history, i, first in drawn:
            data = history.data
            y = ema(data[:, 2 + i], weight)
            if first:
                y, data = y[data[:, 0] >= first], data[data[:, 0] >= first]
            x = data[:, column]
            if len(x):
                ends.append(float(x[-1]))
            if log:
                keep = y > 0  # log of a non-positive loss (a GAN's) is left out, not an error
                item.setData(x[keep], y[keep])
                y = np.log10(y[keep])  # a log-mode view's range is in decades
            else:
                item.setData(x, y)
            if len(y):
                lows.append(np.min(y))
                highs.append(np.max(y))
        if not self.runs:
            self._draw_held_out(column, log, lows, highs, ends)
        if self.follow and ends and lows:
            self.plot.setXRange(*nice_range(0.0, max(ends)), padding=0)
            self.plot.setYRange(*nice_range(min(lows), max(highs)), padding=0)

    def _draw_held_out(self, column: int, log: bool, lows: list, highs: list, ends: list) -> None:
        """The held-out curve and the training items' curve of the same measure (unsmoothed: each point
        is already a mean over hundreds of items), the gap at the newest point and the best step."""
        measures = self.history.held_out if self.measure else []
        x = np.array([(m.step, m.seconds)[column] for m in measures], dtype=np.float64)
        held = np.array([m.held_out for m in measures], dtype=np.float64)
        train = np.array([m.train for m in measures], dtype=np.float64)
        best = next((m for m in reversed(measures) if m.step == measures[-1].best_step), None) if measures else None
        shown = (lambda y: np.log10(np.clip(y, 1e-12, None))) if log else (lambda y: y)
        for item, y in ((self.held_out_item, held), (self.train_measure_item, train)):
            keep = y > 0 if log else np.isfinite(y)
            item.setData(x[keep], y[keep])
            if keep.any():
                lows.append(float(np.min(shown(y[keep]))))
                highs.append(float(np.max(shown(y[keep]))))
                ends.append(float(x[keep][-1]))
        self.best_item.setData([] if best is None else [(best.step, best.seconds)[column]],
                               [] if best is None else [float(shown(np.array([best.held_out]))[0])])
        if not measures:
            self.gap_label.setText("")
            self.gap_text.setText("")
            self.gap_bracket.setData([], [])
            return
        last = measures[-1]
        gap = last.held_out - last.train
        # a plotted line takes values as they are (the plot applies log-y itself); a text or star takes
        # the view's own coordinates
        self.gap_bracket.setData([x[-1], x[-1]], [last.train, last.held_out])
        self.gap_text.setText(f"gap {gap:+#.3g}")
        self.gap_text.setPos(float(x[-1]), float(shown(np.array([last.train, last.held_out])).mean()))
        # left of the bracket, but right of it near the plot's left edge, where the text would be cut
        self.gap_text.setAnchor((1.05, 0.5) if x[-1] > 0.3 * max(ends, default=x[-1]) else (-0.05, 0.5))
        best_text = f" · best at step {best.step:,}" if best is not None else ""
        self.gap_label.setText(f"Held-out {last.held_out:#.4g} · training items {last.train:#.4g} · gap {gap:+#.3g}"
                               f"{best_text} — {self.measure}")


def nice_range(low: float, high: float) -> tuple[float, float]:
    """[low, high] widened outwards to multiples of a round step (1, 2 or 5 x 10^k, about a
    tenth of the span), so that a view following a growing curve changes range only now and then."""
    span = high - low
    if not math.isfinite(span) or span <= 0:
        return low - 0.5, high + 0.5
    raw = span / 8
    base = 10 ** math.floor(math.log10(raw))
    step = next(m * base for m in (1, 2, 5, 10) if m * base >= raw)
    return math.floor(low / step) * step, math.ceil(high / step) * step
