"""Room for the model on a school laptop's 1366x768: View > Settings panel, Loss curves and Help texts
fold away, each family's main plot keeps at least 300 px on its short side, and the window remembers."""
from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from genstudio.config import default_experiment
from genstudio.ui.main_window import MainWindow
from genstudio.ui.views.base import HELP_TEXT

from .test_main_window import start

MAIN_PLOT = {"gan": lambda v: v.plane, "vae": lambda v: v.map_plot,
             "diffusion": lambda v: v.reverse_plot, "ar": lambda v: v.focus_panel.widget}
FOLDS = ("Settings panel", "Loss curves", "Help texts")


def fold(window, text: str) -> QAction:
    (action,) = [a for a in window.findChildren(QAction) if a.text() == text]
    assert action.isChecked()
    action.trigger()
    assert not action.isChecked()
    return action


def test_folded_each_family_plot_keeps_300_px_at_1366x768(window, qtbot):
    window.resize(1366, 768)
    for text in FOLDS:
        fold(window, text)
    assert not window.pane.settings_area.isVisible() and not window.pane.curves.isVisible()
    for family, main_plot in MAIN_PLOT.items():
        start(window, qtbot, default_experiment(family))
        window.pane.tabs.setCurrentWidget(window.pane.family_tab)
        view = window.pane.family_views[family]
        view.pages.setCurrentIndex(0)
        qtbot.wait(50)
        plot = main_plot(view)
        assert plot.isVisible() and min(plot.width(), plot.height()) >= 300, (family, plot.size())
        helps = [w for w in view.findChildren(QWidget) if w.property(HELP_TEXT)]
        assert helps and not any(w.isVisible() for w in helps), family


def test_the_folds_are_remembered(qtbot, tmp_path):
    path = str(tmp_path / "s.ini")
    first = MainWindow(QSettings(path, QSettings.IniFormat))
    qtbot.addWidget(first)
    first.show()
    fold(first, "Settings panel")
    first.close()
    second = MainWindow(QSettings(path, QSettings.IniFormat))
    qtbot.addWidget(second)
    second.show()
    assert not second.pane.settings_area.isVisible() and second.pane.curves.isVisible()
    second.close()
