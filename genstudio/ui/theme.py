"""Colours that follow the system's palette (light or dark): plot grounds, text areas, quiet text.
Views ask here instead of writing "white" or "#555", so a dark desktop gets dark plots with light text."""
from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


def palette() -> QPalette:
    return QApplication.instance().palette()


def is_dark() -> bool:
    return palette().color(QPalette.Window).lightness() < 128


def plot_background() -> QColor:
    """The ground of plots and text areas: the palette's Base (white in a light theme)."""
    return palette().color(QPalette.Base)


def text_colour() -> QColor:
    return palette().color(QPalette.Text)


def quiet_colour() -> QColor:
    """Help texts and secondary labels: between the text and its ground."""
    text, ground = text_colour(), plot_background()
    return QColor((2 * text.red() + ground.red()) // 3, (2 * text.green() + ground.green()) // 3,
                  (2 * text.blue() + ground.blue()) // 3)


def axis_colour() -> QColor:
    """Axes and plot titles: halfway from the ground to the text (grey on white, as pyqtgraph draws them)."""
    text, ground = text_colour(), plot_background()
    return QColor((text.red() + ground.red()) // 2, (text.green() + ground.green()) // 2,
                  (text.blue() + ground.blue()) // 2)


def text_area_css() -> str:
    return f"background: {plot_background().name()}; color: {text_colour().name()};"


def quiet_css() -> str:
    return f"color: {quiet_colour().name()};"


def plot_widget(pg, **options):
    """A pyqtgraph PlotWidget on the palette's ground, its axes and title readable on it."""
    plot = pg.PlotWidget(background=plot_background(), **options)
    ink = axis_colour()
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setPen(pg.mkPen(ink))
        axis.setTextPen(pg.mkPen(ink))
    if "title" in options:
        plot.setTitle(options["title"], color=ink.name())
    return plot


def ink_pen_colour() -> str:
    """A mark drawn over a plot's ground (a map's cursor): black on light, white on dark."""
    return "w" if is_dark() else "k"


def add_legend(pg, plot, **options):
    """A legend on the plot's own ground (a little transparent), its labels in the text colour."""
    ground = plot_background()
    return plot.addLegend(brush=pg.mkBrush(ground.red(), ground.green(), ground.blue(), 210),
                          labelTextColor=text_colour().name(), **options)


def dark_palette() -> QPalette:
    """A dark palette, as a dark desktop gives one (the self-test's dark pictures use it)."""
    palette = QPalette()
    for role, colour in ((QPalette.Window, "#2b2b2b"), (QPalette.WindowText, "#e6e6e6"), (QPalette.Base, "#1e1e1e"),
                         (QPalette.AlternateBase, "#262626"), (QPalette.Text, "#e6e6e6"), (QPalette.Button, "#353535"),
                         (QPalette.ButtonText, "#e6e6e6"), (QPalette.Highlight, "#3d7bd9"),
                         (QPalette.HighlightedText, "#ffffff"), (QPalette.ToolTipBase, "#353535"),
                         (QPalette.ToolTipText, "#e6e6e6"), (QPalette.PlaceholderText, "#9a9a9a")):
        palette.setColor(role, QColor(colour))
    return palette
