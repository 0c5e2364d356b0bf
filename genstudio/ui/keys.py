"""The keyboard: Space and the arrow keys train and step, except where the focused control uses them
(a button presses on Space, a slider moves on the arrows, a text box types); the Help menu lists
every shortcut and says what GenStudio is; every control has a name a screen reader can say."""
from __future__ import annotations

import platform
from importlib import metadata

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QTabBar,
    QTableWidget,
    QTableWidgetItem,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from .. import __version__

ARROWS = (Qt.Key_Left, Qt.Key_Right, Qt.Key_Up, Qt.Key_Down)
# the controls that use a key themselves, by key
OWNERS = {Qt.Key_Space: (QAbstractButton, QLineEdit, QTextEdit, QAbstractSpinBox, QComboBox, QAbstractItemView),
          **{key: (QAbstractSlider, QLineEdit, QTextEdit, QAbstractSpinBox, QComboBox, QAbstractItemView, QTabBar)
             for key in ARROWS}}
LICENCE = "MIT"


class KeysForFocus(QObject):
    """Installed on the application: a bare Space or arrow key reaches the focused control when that
    control uses it, instead of the window's shortcut (Qt asks the focus widget first, with a
    ShortcutOverride event: accepting it keeps the key)."""

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.ShortcutOverride and event.modifiers() in (Qt.NoModifier, Qt.KeypadModifier):
            owners = OWNERS.get(event.key())
            focus = QApplication.focusWidget()
            if owners and focus is not None and isinstance(focus, owners) and focus.isEnabled():
                event.accept()
                return True
        return False


def name_controls(root: QWidget) -> int:
    """Give every button, slider, box and spin box under `root` that has no accessible name one: its
    text, its form label, or its tooltip. Returns how many were named."""
    labels = {}
    for form in root.findChildren(QFormLayout):
        for row in range(form.rowCount()):
            label, field = form.itemAt(row, QFormLayout.LabelRole), form.itemAt(row, QFormLayout.FieldRole)
            if label and field and isinstance(label.widget(), QLabel) and field.widget() is not None:
                labels[field.widget()] = label.widget().text()
    named = 0
    for widget in root.findChildren(QWidget):
        if not isinstance(widget, (QAbstractButton, QAbstractSlider, QComboBox, QAbstractSpinBox, QLineEdit)):
            continue
        if widget.accessibleName():
            continue
        text = widget.text() if isinstance(widget, QAbstractButton) else ""
        name = (text or labels.get(widget) or widget.toolTip() or "").replace("&", "").strip()
        if name:
            widget.setAccessibleName(name)
            named += 1
    return named


def shortcuts(window) -> list[tuple[str, str]]:
    """(keys, what they do) for every action of the window that has a shortcut, in menu order."""
    rows, seen = [], set()
    for action in window.findChildren(QAction):
        keys = ", ".join(k.toString(QKeySequence.NativeText) for k in action.shortcuts() if not k.isEmpty())
        text = action.text().replace("&", "").rstrip("…").strip()
        if keys and text and (keys, text) not in seen:
            seen.add((keys, text))
            rows.append((keys, text))
    return rows


def show_shortcuts(window) -> QDialog:
    dialog = QDialog(window)
    dialog.setWindowTitle("Keyboard shortcuts")
    rows = shortcuts(window)
    table = QTableWidget(len(rows), 2)
    table.setHorizontalHeaderLabels(["Keys", "Does"])
    for r, (keys, text) in enumerate(rows):
        table.setItem(r, 0, QTableWidgetItem(keys))
        table.setItem(r, 1, QTableWidgetItem(text))
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    col = QVBoxLayout(dialog)
    col.addWidget(table)
    note = QLabel("Space and the arrow keys go to the focused control when it uses them (a button, a slider, "
                  "a text box): click the samples or the curves to give them back to training.")
    note.setWordWrap(True)
    col.addWidget(note)
    dialog.resize(560, 520)
    dialog.show()
    return dialog


def about_text(device: str = "") -> str:
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "?"

    from PySide6 import __version__ as pyside
    from PySide6.QtCore import qVersion
    return (f"<h3>GenStudio {__version__}</h3>"
            "<p>Watch generative models learn, live: GANs, VAEs, diffusion models and transformers, trained "
            "on your own computer.</p>"
            f"<p>Licence: {LICENCE} (the file LICENSE). The desktop app also ships Qt and PySide6 (LGPL v3), "
            "PyTorch, numpy and pyqtgraph under their own licences (THIRD_PARTY_NOTICES.md).</p>"
            f"<p>Python {platform.python_version()} · torch {version('torch')} · Qt {qVersion()} · PySide6 {pyside} "
            f"· numpy {version('numpy')} · pyqtgraph {version('pyqtgraph')}<br>"
            f"{platform.system()} {platform.machine()}{' · ' + device if device else ''}</p>")


def show_about(window, device: str = "") -> QMessageBox:
    box = QMessageBox(QMessageBox.Information, "About GenStudio", about_text(device), QMessageBox.Ok, window)
    box.setTextFormat(Qt.RichText)
    box.open()
    return box
