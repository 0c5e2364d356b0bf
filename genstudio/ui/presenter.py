"""In front of a class: presenter mode, the panels a teacher can hide, and figures for slides.

Presenter mode (View menu, F11 or Ctrl+Shift+P; Escape leaves) shows the window full screen with
bigger text, thicker plot lines and axes, and without the experiment panel, the menus and the
status bar: the transport (Train, Step, Reset) and the views stay. It is remembered between
sessions. Ctrl+1 / Ctrl+2 switch between the samples and the family view, Ctrl+PgDown / Ctrl+PgUp
step through the family view's pages.
"""
from __future__ import annotations

import os

import pyqtgraph as pg
from PySide6.QtCore import QObject, QPoint, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QColor, QFont, QKeySequence, QPainter, QPixmap
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QMenu, QToolButton, QWidget

from ..storage import atomic_path
from .steady_label import refit_steady_labels

SCALES = (1.25, 1.5, 1.75, 2.0)
DEFAULT_SCALE = 1.5


class Presenter(QObject):
    def __init__(self, window, settings):
        super().__init__(window)
        self.window, self.settings = window, settings
        self.active = False
        self.scale = float(settings.value("presenter/scale", DEFAULT_SCALE))
        self._saved: dict = {}
        self._pens: list = []   # (item, original pen) of every plot line thickened

    # menus and keys ------------------------------------------------------------------------------
    def build_menu(self, menu: QMenu) -> None:
        w = self.window
        self.toggle_action = menu.addAction("Presenter mode")
        self.toggle_action.setCheckable(True)
        self.toggle_action.setShortcuts([QKeySequence(Qt.Key_F11), QKeySequence("Ctrl+Shift+P")])
        self.toggle_action.setShortcutContext(Qt.ApplicationShortcut)
        self.toggle_action.toggled.connect(self.set_active)
        w.addAction(self.toggle_action)  # the shortcut works with the menu bar hidden
        sizes = menu.addMenu("Presenter text size")
        group = QActionGroup(sizes)
        for scale in SCALES:
            action = sizes.addAction(f"{scale:g}x")
            action.setCheckable(True)
            action.setChecked(abs(scale - self.scale) < 1e-6)
            action.triggered.connect(lambda _=False, s=scale: self.set_scale(s))
            group.addAction(action)
        self.panels_menu = menu.addMenu("Panels")
        self.panels_menu.aboutToShow.connect(self._fill_panels_menu)
        menu.addSeparator()
        menu.addAction("Export view as PNG (2x)…", lambda: self._export_dialog("png"))
        menu.addAction("Export view as SVG…", lambda: self._export_dialog("svg"))
        leave = QAction("Leave presenter mode", w)
        leave.setShortcut(QKeySequence(Qt.Key_Escape))
        leave.triggered.connect(lambda: self.set_active(False))
        w.addAction(leave)
        for text, keys, slot in (("Show the samples", "Ctrl+1", lambda: w.pane.tabs.setCurrentIndex(0)),
                                 ("Show the family view", "Ctrl+2",
                                  lambda: w.pane.tabs.setCurrentWidget(w.pane.family_tab)),
                                 ("Next page of the family view", "Ctrl+PgDown", lambda: self._page(+1)),
                                 ("Previous page of the family view", "Ctrl+PgUp", lambda: self._page(-1))):
            action = QAction(text, w)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(slot)
            w.addAction(action)
        # in presenter mode the menu bar is hidden: the panels menu sits on the transport bar
        self.panels_button = QToolButton()
        self.panels_button.setText("☰ Panels")
        self.panels_button.setPopupMode(QToolButton.InstantPopup)
        self.panels_button.setMenu(self.panels_menu)
        self.panels_button_action = w.pane.transport_bar.addWidget(self.panels_button)
        self.panels_button_action.setVisible(False)

    def _page(self, step: int) -> None:
        pages = getattr(self.window.pane.family_tab.currentWidget(), "pages", None)
        if pages is not None and pages.count():
            visible = [i for i in range(pages.count()) if pages.isTabVisible(i)] or [pages.currentIndex()]
            at = visible.index(pages.currentIndex()) if pages.currentIndex() in visible else 0
            pages.setCurrentIndex(visible[(at + step) % len(visible)])

    def panels(self) -> list[tuple[str, QWidget | None, object]]:
        """(name, widget, tab) of everything a teacher may hide: whole panels, and the pages of the
        family view on screen (tab = (tab widget, index))."""
        w = self.window
        timeline = w.comparison.timeline if w.comparison is not None else w.pane.timeline   # both runs' when two
        items = [("Experiment panel", w.pane.settings_area, None), ("Loss curves", w.pane.curves, None),
                 ("Timeline", timeline, None)]
        pages = getattr(w.pane.family_tab.currentWidget(), "pages", None)
        if pages is not None:
            items += [(f"View page: {pages.tabText(i)}", None, (pages, i)) for i in range(pages.count())]
        return items

    def set_panel_visible(self, name: str, visible: bool) -> None:
        for item, widget, tab in self.panels():
            if item == name:
                if widget is not None:
                    widget.setVisible(visible)
                else:
                    tab[0].setTabVisible(tab[1], visible)

    def _fill_panels_menu(self) -> None:
        self.panels_menu.clear()
        for name, widget, tab in self.panels():
            action = self.panels_menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(widget.isVisible() if widget is not None else tab[0].isTabVisible(tab[1]))
            action.toggled.connect(lambda on, n=name: self.set_panel_visible(n, on))

    # presenter mode ------------------------------------------------------------------------------
    def set_scale(self, scale: float) -> None:
        self.settings.setValue("presenter/scale", scale)
        if self.active:
            self.set_active(False)
            self.scale = scale
            self.set_active(True)
        self.scale = scale

    def set_active(self, on: bool) -> None:
        if on == self.active:
            return
        w = self.window
        if on:
            app = QApplication.instance()
            self._saved = {"geometry": w.saveGeometry(), "rect": w.geometry(), "maximized": w.isMaximized(),
                           "font": app.font(),
                           "panel": w.pane.settings_shown(), "status": w.statusBar().isVisible()}
            font = app.font()
            font.setPointSizeF(font.pointSizeF() * self.scale)
            app.setFont(font)
            # widgets with a style sheet of their own (greyed help texts, labels) ignore setFont
            self._saved["sheet"] = app.styleSheet()
            app.setStyleSheet(self._saved["sheet"] + f"\nQWidget {{ font-size: {font.pointSizeF():.1f}pt; }}")
            w.pane.show_settings(False)
            w.menuBar().hide()
            w.statusBar().hide()
            self.panels_button_action.setVisible(True)
            self._thicken_plots()
            w.setGeometry(w.screen().geometry())  # where no window manager makes it full screen (a kiosk, Xvfb)
            w.showFullScreen()
        else:
            QApplication.instance().setStyleSheet(self._saved["sheet"])
            QApplication.instance().setFont(self._saved["font"])
            for widget in w.findChildren(QWidget):  # a size the sheet set sticks on widgets with sheets
                widget.setFont(QFont())
            self._restore_plots()
            w.menuBar().show()
            w.statusBar().setVisible(self._saved["status"])
            w.pane.show_settings(self._saved["panel"])
            self.panels_button_action.setVisible(False)
            w.showNormal()
            if self._saved["maximized"]:
                w.showMaximized()
            else:
                rect = self._saved["rect"]
                w.setGeometry(rect)
        QTimer.singleShot(0, w, self._settle)  # once the new fonts have reached the widgets
        self.active = on
        self.settings.setValue("presenter/on", on)
        if self.toggle_action.isChecked() != on:
            self.toggle_action.setChecked(on)

    def _settle(self) -> None:
        """After a switch: steady labels sized for the new fonts, the layout's minimum size with
        them, and, out of presenter mode, the window back at its old size (the big fonts' minimum
        size may have widened it)."""
        w = self.window
        refit_steady_labels(w)
        w.layout().activate()
        if not self.active and not self._saved.get("maximized"):
            w.setGeometry(self._saved["rect"])

    def normal_geometry(self):
        """The window's geometry outside presenter mode (what is saved for the next session)."""
        return self._saved["geometry"] if self.active else self.window.saveGeometry()

    def _plots(self) -> list[pg.PlotItem]:
        found = []
        for view in self.window.findChildren(pg.GraphicsView):
            for item in view.items():
                if isinstance(item, pg.PlotItem):
                    found.append(item)
        return found

    def _thicken_plots(self) -> None:
        """Axes' text scaled, every plot line and axis at least about 2-3 px: readable from the back."""
        self._pens = []
        size = int(round(9 * self.scale))
        font = QApplication.font()
        font.setPointSize(size)
        for plot in self._plots():
            title = plot.titleLabel
            self._pens.append((title, None, title.opts.get("size")))
            _resize_label(title, f"{size}pt")
            if plot.legend is not None:
                self._pens.append((plot.legend, None, plot.legend.opts["labelTextSize"]))
                _resize_legend(plot.legend, f"{size}pt")
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                self._pens.append((axis, axis.pen(), axis.style.get("tickFont")))
                self._pens.append((axis.label, None, axis.label.font()))
                axis.label.setFont(font)
                axis.setStyle(tickFont=font)
                pen = pg.mkPen(axis.pen())
                pen.setWidthF(max(pen.widthF(), 1.0) * self.scale)
                axis.setPen(pen)
            for item in plot.listDataItems():
                if isinstance(item, pg.PlotDataItem) and item.opts.get("pen") is not None:
                    pen = pg.mkPen(item.opts["pen"])
                    self._pens.append((item, item.opts["pen"], None))
                    pen.setWidthF(max(pen.widthF(), 1.0) * (1 + self.scale))
                    item.setPen(pen)

    def _restore_plots(self) -> None:
        for item, pen, font in self._pens:
            if isinstance(item, pg.AxisItem):
                item.setPen(pen)
                item.setStyle(tickFont=font)
            elif isinstance(item, pg.LegendItem):
                _resize_legend(item, font)
            elif isinstance(item, pg.LabelItem):
                _resize_label(item, font)
            elif pen is None:
                item.setFont(font)
            else:
                item.setPen(pen)
        self._pens = []

    # figures for slides --------------------------------------------------------------------------
    def current_figure(self) -> QWidget:
        """What is on screen in the view area: the samples page, or the family view's current page
        (with two runs on screen: both runs' views, side by side)."""
        w = self.window
        if w.comparison is not None:
            return w.comparison.columns
        if w.pane.tabs.currentWidget() is w.pane.family_tab:
            view = w.pane.family_tab.currentWidget()
            pages = getattr(view, "pages", None)
            return pages.currentWidget() if pages is not None and pages.count() else view
        return w.pane.tabs.currentWidget()

    def _export_dialog(self, kind: str) -> None:
        from PySide6.QtWidgets import QFileDialog
        name = "figure.png" if kind == "png" else "figure.svg"
        path, _ = QFileDialog.getSaveFileName(self.window, "Export view", name,
                                              "PNG (*.png)" if kind == "png" else "SVG (*.svg)")
        if path:
            self.export(self.current_figure(), path)

    def export(self, widget: QWidget, path: str) -> bool:
        """`widget` as a PNG at twice its size on screen, or as an SVG (vector where the widget paints
        vectors: the plots' lines and text), written atomically."""
        try:
            with atomic_path(path) as tmp:
                if path.lower().endswith(".svg"):
                    generator = QSvgGenerator()
                    generator.setFileName(tmp)
                    generator.setSize(widget.size())
                    generator.setViewBox(QRectF(0, 0, widget.width(), widget.height()))
                    generator.setTitle("GenStudio figure")
                    painter = QPainter(generator)
                    try:
                        widget.render(painter, QPoint(0, 0))
                    finally:
                        ok = painter.end()
                else:
                    pixmap = QPixmap(QSize(widget.width() * 2, widget.height() * 2))
                    pixmap.setDevicePixelRatio(2.0)
                    pixmap.fill(QColor("white"))
                    widget.render(pixmap)
                    ok = pixmap.save(tmp, "PNG")
                if not ok:
                    raise OSError("the picture could not be written")
        except OSError as exc:
            self.window.report_problem(f"Could not export the view to {os.path.basename(path)}: {exc}")
            return False
        self.window.statusBar().showMessage(f"Exported the view to {path}", 6000)
        return True


def _resize_label(label: pg.LabelItem, size: str | None) -> None:
    """A LabelItem's text size is inline HTML: set it by setting the text again."""
    if size is None:
        label.opts.pop("size", None)  # setText keeps options it was given before
    if label.text:
        label.setText(label.text, **({"size": size} if size else {}))


def _resize_legend(legend: pg.LegendItem, size: str) -> None:
    legend.setLabelTextSize(size)
    for _, label in legend.items:
        label.setText(label.text, size=size)
