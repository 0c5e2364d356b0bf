"""Preview of imported data before training on it: a picture of the first examples, what was read,
and (for images) the size and colour to train at."""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout

from ..data.importers import preview_summary
from ..engine.render import image_grid, scatter, word_list
from .experiment_panel import image_option_combos

PREVIEW_COUNT = 64


def preview_pixels(ds) -> np.ndarray:
    """What the data looks like, as an RGB array: an image grid, a scatter or a word list."""
    if ds.kind == "image":
        return image_grid(ds.x[:PREVIEW_COUNT], scale=max(1, 128 // ds.x.shape[-1]))
    if ds.kind == "points":
        return scatter(ds.x[:2000], ds.x[:2000], size=384)
    return word_list(list(ds.words[:PREVIEW_COUNT]), columns=3, size=(420, 320))


class DataPreview(QDialog):
    options_changed = Signal(int, str)   # image size, colour: the window re-imports with them

    def __init__(self, path: str, ds, parent=None):
        super().__init__(parent)
        self.path = path
        self.setWindowTitle(f"Data: {os.path.basename(os.path.normpath(path))}")
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignCenter)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.size, self.color = image_option_combos("own size (up to 32)")
        self.option_form = QFormLayout()
        self.option_form.addRow("Train at", self.size)
        self.option_form.addRow("Colour", self.color)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Use this data")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.summary)
        layout.addLayout(self.option_form)
        layout.addWidget(buttons)
        self.size.currentIndexChanged.connect(self._changed)
        self.color.currentIndexChanged.connect(self._changed)
        self.show_dataset(ds)

    def show_dataset(self, ds) -> None:
        self.dataset = ds
        pixels = np.ascontiguousarray(preview_pixels(ds))
        h, w = pixels.shape[:2]
        image = QImage(pixels.data, w, h, 3 * w, QImage.Format_RGB888).copy()  # copy: the array is temporary
        self.picture.setPixmap(QPixmap.fromImage(image))
        self.summary.setText(preview_summary(ds))
        is_image = ds.kind == "image"
        for row in range(self.option_form.rowCount()):
            for role in (QFormLayout.LabelRole, QFormLayout.FieldRole):
                item = self.option_form.itemAt(row, role)
                if item is not None and item.widget() is not None:
                    item.widget().setVisible(is_image)

    def options(self) -> tuple[int, str]:
        return self.size.currentData(), self.color.currentData()

    def _changed(self, *_):
        self.options_changed.emit(*self.options())
