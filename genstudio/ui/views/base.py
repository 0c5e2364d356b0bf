"""The contract every family view follows, and the quality readout each one shows.

A view belongs to the *running* model (the window routes by the run, never by the panel). It is
told when a run starts (`on_run`: the trainer's info, and an explorer when the view is
interactive), and gets that run's snapshots, metrics evaluations, the step of each set of weights
that reached its explorer (`on_weights`), and the explorer's answers (`on_answer`, stale ones
already dropped). `clear()` empties it while a new run is being built. A view may edit a live
knob of the run (`knob_edited`: the window applies it as if the panel had), ask for single steps
(`step_asked`, as the toolbar's Step does) and is told of live knob changes (`on_knob`).
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..steady_label import steady_label
from ..theme import quiet_css

HOLD_S = 0.5   # while a control moved this recently, the view keeps its weights and the curves wait (mid-drag)

METRIC_LABELS = {
    "modes_captured": "modes captured", "modes_total": "modes in the data", "hq_fraction": "high-quality fraction",
    "modes_captured_1pct": "modes with >= 1% of HQ samples", "reverse_kl": "reverse KL to uniform modes",
    "energy_distance": "energy distance to the data", "fd": "Frechet distance (classifier features)",
    "class_coverage": "classes covered (>= 5%)", "class_total": "classes in the data",
    "confidence": "classifier confidence", "nll_nats": "NLL (nats per example)", "bits_per_dim": "bits per dimension",
    "nats_per_char": "nats per character", "novel_fraction": "novel samples (not in the training set)",
    "class_accuracy": "class accuracy (the classifier agrees with the class asked)",
}


class QualityReadout(QWidget):
    """The live metrics, evaluated every 10 s of training: a part of every family's view."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("Quality, evaluated every 10 s of training")
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["metric", "value"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.table)
        self.latest_step = None

    def clear(self) -> None:
        self.table.setRowCount(0)
        self.latest_step = None
        self.title.setText("Quality, evaluated every 10 s of training")

    def show_metrics(self, event) -> None:
        rows = [(METRIC_LABELS.get(k, k), v) for k, v in event.values.items() if not isinstance(v, list)]
        self.table.setRowCount(len(rows))
        for i, (name, value) in enumerate(rows):
            text = f"{value:.4g}" if isinstance(value, float) else str(value)
            self.table.setItem(i, 0, QTableWidgetItem(name))
            self.table.setItem(i, 1, QTableWidgetItem(text))
        self.latest_step = event.step
        self.title.setText(f"Quality at step {event.step} (evaluated every 10 s of training)")


class FamilyView(QWidget):
    """A family's area: the quality readout. Interactive views subclass it and set `interactive`."""

    interactive = False    # True: weights reach an explorer for this view while it is on screen
    weights_ms = 200       # while it is on screen, fresh weights at most this often
    tab_title = "quality"
    knob_edited = Signal(str, object)   # (name, value): a live knob edited in the view
    step_asked = Signal(str)            # the view asks for one training step ("all", or a GAN's "d" / "g")
    answered = Signal(str)              # an explorer answer for this control is on screen (tests, bench)

    def __init__(self, family: str, parent=None):
        super().__init__(parent)
        self.family = family
        self.last_move = 0.0   # when a hand last moved one of the view's controls (perf_counter)
        self.quality = QualityReadout()
        self.explorer = None
        self.info = None
        self.body = QVBoxLayout(self)
        self.body.addWidget(self.quality)

    def clear(self) -> None:
        self.info, self.explorer = None, None
        self.quality.clear()

    def prepare(self) -> None:
        """Called while a run of this family starts: views with costly widgets build them here."""

    def on_run(self, info, explorer) -> None:
        self.info, self.explorer = info, explorer

    def on_snapshot(self, snap) -> None:
        pass

    def on_metrics(self, event) -> None:
        self.quality.show_metrics(event)

    def on_weights(self, step: int) -> None:
        pass

    def on_knob(self, name: str, value) -> None:
        pass

    def on_answer(self, answer) -> None:
        pass

    def interacting(self) -> bool:
        """True while the user drags one of the view's controls: fresh weights wait until they stop."""
        return time.perf_counter() - self.last_move < HOLD_S

    def _moved(self) -> None:
        """A hand moved one of the view's controls (views call this from their drags and clicks)."""
        self.last_move = time.perf_counter()


HELP_TEXT = "genstudio_help"   # the property that marks a help text, which View > Help texts folds away
_help_texts_shown = True


def show_help_texts(root: QWidget, on: bool) -> None:
    """Show or fold away every help text under `root`, and those the views make from now on."""
    global _help_texts_shown
    _help_texts_shown = on
    for widget in root.findChildren(QWidget):
        if widget.property(HELP_TEXT):
            widget.setVisible(on)


def _mark_help(widget: QWidget) -> None:
    widget.setProperty(HELP_TEXT, True)
    if not _help_texts_shown:
        widget.hide()   # (never show() here: a widget without a parent yet would open as a window)


def help_label(text: str) -> QLabel:
    """A "what am I looking at" text for a student."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(quiet_css())
    _mark_help(label)
    return label


def set_help(area: QScrollArea, texts: list[str]) -> None:
    """Replace the texts of a help_area."""
    col = area.widget().layout()
    while col.count():
        col.takeAt(0).widget().deleteLater()
    for text in texts:
        col.addWidget(help_label(text))


def help_area(texts: list[str], height: int = 110) -> QScrollArea:
    """Help texts in a short scrolling box: wrapped labels in a crowded layout would overlap."""
    inner = QWidget()
    col = QVBoxLayout(inner)
    col.setContentsMargins(2, 2, 2, 2)
    for text in texts:
        col.addWidget(help_label(text))
    area = QScrollArea()
    area.setWidget(inner)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.NoFrame)
    area.setMaximumHeight(height)
    _mark_help(area)
    return area


class ImagePanel:
    """A title above a grid image on a dark ground. `fit`: the picture keeps filling its box, however
    big the box was when the picture first came (else the owner frames it)."""

    def __init__(self, pg, title: str, fit: bool = True):
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setBackground("#282828")
        self.title = self.widget.ci.addLabel(title, color="#dddddd", size="9pt")
        self.widget.ci.nextRow()
        self.box = self.widget.ci.addViewBox(lockAspect=True, invertY=True)
        self.box.setMouseEnabled(False, False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image)
        if fit:
            self.box.setDefaultPadding(0.01)
            self.box.enableAutoRange()

    def show(self, grid) -> None:
        self.image.setImage(grid, autoLevels=False, levels=(0, 255))

    def clear(self) -> None:
        self.image.clear()


class ExplorerView(FamilyView):
    """A view that runs the model through its explorer: a line for messages and for the step its
    pictures come from, above its pages. Answers go to `_answer_<control>(values, step)`."""

    interactive = True

    def __init__(self, family: str, parent=None):
        super().__init__(family, parent)
        self.body.removeWidget(self.quality)
        self.message = QLabel("")
        self.message.setStyleSheet("color: #7a1010;")
        self.status = steady_label("the model at step 100,000,000", "")
        self.status.setStyleSheet(quiet_css())
        self.pages = QTabWidget()
        self.classes: tuple[str, ...] = ()   # a class-conditional run's class names (empty: unconditional)
        self.class_picker = QComboBox()
        self.class_picker.setToolTip("The class the model is asked to draw")
        self.class_picker.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.class_picker.currentIndexChanged.connect(lambda _: self.on_class())
        self.class_label = QLabel("class")
        line = QWidget()   # beside the page tabs, where a line of its own would cost the plots its height
        row = QHBoxLayout(line)
        row.setContentsMargins(8, 0, 4, 0)
        row.addWidget(self.message, 1)
        row.addWidget(self.class_label)
        row.addWidget(self.class_picker)
        row.addWidget(self.status)
        self.pages.setCornerWidget(line, Qt.TopRightCorner)
        self.body.addWidget(self.pages, 1)
        self.built = False
        self.shown_step: dict[str, int] = {}   # control -> the training step of the weights behind its picture

    def _build(self) -> None:
        """Make the view's widgets: once, on the first run (pyqtgraph has loaded by then)."""
        raise NotImplementedError

    def _reset_state(self) -> None:
        """Forget everything of the last run (a view never shows another run's pictures)."""
        raise NotImplementedError

    def clear(self) -> None:
        super().clear()
        self.message.setText("")
        self.status.setText("")
        self._reset_state()

    def prepare(self) -> None:
        """Build the widgets now: the window calls this while a new run's process starts, so that
        the run's first answer does not wait for them (superqt's first import alone takes ~1 s)."""
        if not self.built:
            self._build()

    def on_run(self, info, explorer) -> None:
        super().on_run(info, explorer)
        self.prepare()
        self._reset_state()
        ds = info.dataset
        self.classes = ds.label_names if explorer.experiment.family.conditional(ds.labels is not None) else ()
        self.class_picker.blockSignals(True)
        self.class_picker.clear()
        self.class_picker.addItems(([self.each_class] if self.each_class else []) + list(self.classes))
        self.class_picker.blockSignals(False)
        for widget in (self.class_label, self.class_picker):
            widget.setVisible(bool(self.classes))

    # A conditional model's views draw the picked class; where `each_class` names a first choice, that
    # choice draws the classes in turn, a row each.
    each_class: str | None = "each, a row each"

    def asked_class(self) -> int:
        """The picked class's index (-1: each class in turn)."""
        return self.class_picker.currentIndex() - (1 if self.each_class else 0)

    def on_class(self) -> None:
        """Another class was picked: the view asks for its pictures again."""

    def on_answer(self, answer) -> None:
        if answer.error:
            self.message.setText(answer.error)
            return
        if self.message.text():
            self.message.setText("")
        handler = getattr(self, f"_answer_{answer.request.control}", None)
        if handler is not None:
            handler(answer.values, answer.step)
            if self.shown_step.get(answer.request.control) != answer.step:
                self.status.setText(f"the model at step {answer.step:,}")
            self.shown_step[answer.request.control] = answer.step
            self.answered.emit(answer.request.control)

    def submit(self, control: str, kind: str, **fields):
        """Ask the explorer: a request of class `kind` (engine/requests.py) for `control`."""
        if self.explorer is None:
            return None
        from ...engine import requests
        return self.explorer.submit(getattr(requests, kind)(control=control, **fields))
