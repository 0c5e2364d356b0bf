"""Presenter mode, the panels a teacher hides, and figures exported for slides."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from genstudio.ui.main_window import MainWindow

TIMEOUT_MS = 60_000


def ready(window, qtbot):
    qtbot.waitUntil(lambda: window.views_ready, timeout=TIMEOUT_MS)
    return window.presenter


def test_presenter_mode_hides_the_controls_and_restores_the_layout(window, qtbot):
    presenter = ready(window, qtbot)
    window.resize(1100, 700)
    qtbot.wait(50)
    size, font = window.size(), QApplication.font().pointSizeF()
    axis = window.pane.curves.plot.getPlotItem().getAxis("left")
    width = axis.pen().widthF()
    status = window.pane.family_views["gan"].status  # a steady label: sized once, for its widest text
    status_width = status.width()

    presenter.toggle_action.trigger()  # as F11 does
    assert presenter.active and window.isFullScreen()
    assert not window.pane.splitter.widget(0).isVisible() and not window.menuBar().isVisible()
    assert not window.statusBar().isVisible()
    assert (window.pane.transport_bar.isVisible() and window.pane.train_button.isVisible()
            and window.pane.tabs.isVisible())
    assert QApplication.font().pointSizeF() == font * presenter.scale
    assert axis.pen().widthF() > max(width, 1.0) and axis.style["tickFont"].pointSize() > 9
    qtbot.waitUntil(lambda: status.width() > status_width, timeout=5000)  # refitted to the bigger text

    presenter.set_active(False)  # as Escape does
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=TIMEOUT_MS)
    assert (window.pane.splitter.widget(0).isVisible() and window.menuBar().isVisible()
            and window.statusBar().isVisible())
    assert QApplication.font().pointSizeF() == font and axis.pen().widthF() == width
    qtbot.waitUntil(lambda: status.width() == status_width, timeout=5000)
    qtbot.waitUntil(lambda: window.size() == size, timeout=5000)


def test_presenter_mode_is_remembered(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.show()
    ready(first, qtbot).set_active(True)
    first.close()
    second = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    qtbot.addWidget(second)
    second.show()
    try:
        qtbot.waitUntil(lambda: second.views_ready and second.presenter.active, timeout=TIMEOUT_MS)
        second.presenter.set_active(False)
    finally:
        second.close()


def test_a_teacher_hides_panels_and_view_pages(window, qtbot):
    presenter = ready(window, qtbot)
    window.pane.tabs.setCurrentWidget(window.pane.family_tab)
    presenter.set_panel_visible("Loss curves", False)
    assert not window.pane.curves.isVisible()
    view = window.pane.family_tab.currentWidget()
    view.prepare()  # a run's start builds it
    names = [name for name, _, _ in presenter.panels()]
    pages = [n for n in names if n.startswith("View page: ")]
    assert len(pages) == view.pages.count() >= 2
    presenter.set_panel_visible(pages[0], False)
    assert not view.pages.isTabVisible(0) and view.pages.isTabVisible(1)
    presenter.set_panel_visible(pages[0], True)
    presenter.set_panel_visible("Loss curves", True)
    assert window.pane.curves.isVisible() and view.pages.isTabVisible(0)


def test_figures_export_as_png_at_twice_the_size_and_as_svg(window, qtbot, tmp_path):
    presenter = ready(window, qtbot)
    widget = window.pane.curves
    assert presenter.export(widget, str(tmp_path / "curves.png"))
    image = QImage(str(tmp_path / "curves.png"))
    assert (image.width(), image.height()) == (2 * widget.width(), 2 * widget.height())
    assert presenter.export(widget, str(tmp_path / "curves.svg"))
    root = ET.parse(tmp_path / "curves.svg").getroot()
    assert root.tag.endswith("svg")
    drawn = [el for el in root.iter() if el.tag.split("}")[-1] in ("path", "polyline", "text")]
    assert drawn, "the SVG holds vector shapes or text"
    assert not presenter.export(widget, str(tmp_path / "missing-folder" / "x.png"))
    assert "x.png" in window.last_problem and "no such folder" in window.last_problem
    window.problem_box.close()
