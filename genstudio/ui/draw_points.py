"""Draw your own 2D data on the sample plot (as GAN Lab lets you): press and drag to spray points.

The drawing becomes a CSV in the cache folder, which is then ordinary imported data (and travels
inside experiment files like any other)."""
from __future__ import annotations

import os
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication

from ..storage import write_text

SPRAY_POINTS = 6        # points per mouse event
SPRAY_RADIUS = 0.015    # of the visible width
MIN_POINTS = 10         # the CSV importer's minimum


class PointDrawer(QObject):
    changed = Signal(int)   # how many points are drawn

    def __init__(self, plot: pg.PlotWidget):
        super().__init__(plot)
        self.plot = plot
        self.points: list[np.ndarray] = []
        self.active = False
        self.rng = np.random.default_rng(0)
        self.item = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(31, 119, 180, 170))
        self.item.setZValue(5)
        plot.addItem(self.item)
        plot.scene().sigMouseMoved.connect(self._moved)
        plot.scene().sigMouseClicked.connect(self._clicked)

    @property
    def count(self) -> int:
        return sum(len(p) for p in self.points)

    def set_active(self, on: bool) -> None:
        """While drawing, the mouse sprays points instead of panning the view."""
        self.active = on
        self.plot.getViewBox().setMouseEnabled(not on, not on)
        self.plot.setCursor(Qt.CrossCursor if on else Qt.ArrowCursor)

    def spray(self, x: float, y: float) -> None:
        """A few points scattered around (x, y), in data units."""
        (x0, x1), _ = self.plot.getViewBox().viewRange()
        radius = SPRAY_RADIUS * (x1 - x0)
        self.points.append(np.array([x, y]) + self.rng.normal(0, radius, (SPRAY_POINTS, 2)))
        self._show()

    def clear(self) -> None:
        self.points = []
        self._show()

    def _show(self) -> None:
        pts = np.concatenate(self.points) if self.points else np.zeros((0, 2))
        self.item.setData(pts[:, 0], pts[:, 1])
        self.changed.emit(len(pts))

    def _spray_at_scene(self, scene_pos) -> None:
        p = self.plot.getViewBox().mapSceneToView(scene_pos)
        self.spray(p.x(), p.y())

    def _moved(self, scene_pos) -> None:
        if self.active and QApplication.mouseButtons() & Qt.LeftButton:
            self._spray_at_scene(scene_pos)

    def _clicked(self, event) -> None:
        if self.active and event.button() == Qt.LeftButton:
            self._spray_at_scene(event.scenePos())

    def save_csv(self, folder: str) -> str:
        """Write the drawing as x,y rows; returns the file's path."""
        if self.count < MIN_POINTS:
            raise ValueError(f"draw at least {MIN_POINTS} points first (press and drag on the plot)")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, time.strftime("drawing-%Y%m%d-%H%M%S.csv"))
        pts = np.concatenate(self.points)
        write_text(path, "x,y\n" + "".join(f"{x:.6g},{y:.6g}\n" for x, y in pts))
        return path
