"""A dark desktop gets dark plots and readable text: no view writes a light colour of its own."""
from __future__ import annotations

import os
import re

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

import genstudio
from genstudio.ui.main_window import MainWindow
from genstudio.ui.theme import dark_palette

FIXED_LIGHT = re.compile(r'background="w"|background: ?white|color: ?#(555|666)\b|setBackground\("w"\)')


def test_no_widget_sets_a_fixed_light_colour():
    folder = os.path.join(os.path.dirname(genstudio.__file__), "ui")
    found = []
    for root, _, names in os.walk(folder):
        for name in names:
            if name.endswith(".py"):
                with open(os.path.join(root, name), encoding="utf-8") as fh:
                    found += [f"{name}: {m.group(0)}" for m in FIXED_LIGHT.finditer(fh.read())]
    assert not found, found


def test_a_dark_palette_gives_dark_plots_and_light_text(qtbot, tmp_path):
    app = QApplication.instance()
    before = app.palette()
    app.setPalette(dark_palette())
    try:
        window = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
        qtbot.addWidget(window)
        window.unsaved_work.set_asking(False)
        plot = window.pane.curves.plot
        assert plot.backgroundBrush().color().lightness() < 64
        assert plot.getAxis("left").textPen().color().lightness() > 96
        hint = window.pane.panel.hint.styleSheet()
        assert QColor(re.search(r"#[0-9a-f]{6}", hint).group(0)).lightness() > 128
        window.discard_on_close = True
        window.close()
    finally:
        app.setPalette(before)
