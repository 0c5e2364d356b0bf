"""A label for a value that changes many times a second, without re-laying out the window."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

QWIDGETSIZE_MAX = (1 << 24) - 1


def steady_label(widest: str, text: str = "") -> QLabel:
    """A QLabel sized once, for `widest` (the longest text it will show).

    QLabel.setText asks the layouts above it to re-lay out unless the label's size is fixed in both
    directions, and a QTabWidget that receives that request repaints its whole area
    (QTabWidget::setUpLayout): ~5 ms of painting per change in the lab's nested tabs, which a 60 Hz
    slider drag turned into most of a CPU core."""
    label = QLabel(widest)
    label.setProperty("steady_widest", widest)
    label.setFixedSize(label.sizeHint())
    label.setText(text)
    return label


def refit_steady_labels(root: QWidget) -> None:
    """Size every steady label under `root` again, for a new font (presenter mode)."""
    for label in root.findChildren(QLabel):
        widest = label.property("steady_widest")
        if widest:
            text = label.text()
            label.setMinimumSize(0, 0)
            label.setMaximumSize(QWIDGETSIZE_MAX, QWIDGETSIZE_MAX)
            label.setText(widest)
            label.setFixedSize(label.sizeHint())
            label.setText(text)
