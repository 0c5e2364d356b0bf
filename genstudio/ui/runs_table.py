"""Every run since the app started (Runs → Runs table…): the settings that differ between them, how
far each trained, its final losses and metrics; a row can be reopened beside the window's run, and
the table exported as CSV.

A run's record is made when a window starts it and kept after the run ends (Reset, a new data set,
closing the second run), unless it never trained a step of its own. Reopening a row restarts it beside the window's run: from its file when it
was saved or opened from one, from the kept state it was forked from, or else from step 0 with its
settings and seed (the same first weights; with settings unchanged during the run, the same curves).
"""
from __future__ import annotations

import csv
import io
import dataclasses
import weakref
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QFileDialog, QHeaderView, QLabel,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout)

from ..storage import write_text

RECENT_LOSSES = 100    # a run's final loss is the mean of its last this many points (one is noise)
REFRESH_MS = 1000


def settings_of(exp) -> dict:
    """An experiment as flat name: value pairs (the family's settings under their own names)."""
    d = exp.to_dict()
    family = d.pop("family")
    for key in ("version", "steps", "seconds", "device", "threads"):
        d.pop(key, None)
    return {**d, **family}


def differing_settings(experiments) -> list[str]:
    """The setting names whose values are not the same in every experiment given (None: skipped)."""
    flat = [settings_of(e) for e in experiments if e is not None]
    return [k for k in _union(flat) if len({repr(f.get(k)) for f in flat}) > 1]


@dataclass
class RunRecord:
    number: int
    experiment: object                 # config.Experiment (live edits of the learning rate included)
    origin: str = ""                   # "" for a new run; "fork of run 2 at step 1,200", "opened x.genstudio", ...
    document: object = None            # the ExperimentFile it started from (a fork's kept state; no data), if any
    path: str | None = None            # its experiment file, once saved or opened
    forked_at: int | None = None       # the step of its original it was forked from (a fork)
    step: int = 0
    seconds: float = 0.0
    losses: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    window: object = None              # weakref to the window while the run is live there

    def live_window(self):
        w = self.window() if self.window is not None else None
        return w if w is not None and w.record is self else None

    def update_from(self, window) -> None:
        """Take the run's progress from its window (while it is the window's run)."""
        self.experiment = window.run_experiment or self.experiment
        self.step, self.seconds = window.step, window.seconds
        h = window.curves.history
        recent = h.data[-RECENT_LOSSES:]
        if len(recent):
            self.losses = {name: float(recent[:, 2 + i].mean()) for i, name in enumerate(h.names)}
        if window.evaluations:
            self.metrics = dict(window.evaluations[-1].values)


class RunLog:
    """The records of one app session, numbered from 1."""

    def __init__(self):
        self.records: list[RunRecord] = []

    def start(self, window, experiment, origin: str = "", document=None) -> RunRecord:
        number = self.records[-1].number + 1 if self.records else 1
        if document is not None:   # the data is loaded again on reopening: an imported set is not held here
            document = dataclasses.replace(document, dataset=None)
        record = RunRecord(number, experiment, origin, document, window=weakref.ref(window))
        if document is not None:
            record.step, record.seconds = document.state.step, document.state.seconds
        self.records.append(record)
        return record

    def end(self, record: RunRecord, window) -> None:
        """The run has left its window: keep how far it got; a run that never trained a step of its
        own (a setting changed before Train, a fork forked again) leaves no row."""
        record.update_from(window)
        record.window = None
        if record.path is not None:
            record.document = None   # reopened from its file
        elif record.step <= (record.document.state.step if record.document is not None else 0):
            self.records.remove(record)

    def find(self, number: int) -> RunRecord:
        return next(r for r in self.records if r.number == number)

    def refresh(self) -> None:
        for record in self.records:
            window = record.live_window()
            if window is not None:
                record.update_from(window)

    def table(self) -> tuple[list[str], list[list[str]]]:
        """Column names and one row of texts per run: the settings that differ, steps, seconds,
        final losses and metrics (each loss or metric a column; blank where a run has none)."""
        self.refresh()
        differ = differing_settings([r.experiment for r in self.records]) or ["model", "data"]
        losses, metrics = _union(r.losses for r in self.records), _union(r.metrics for r in self.records)
        header = ["run", "from", *differ, "steps", "seconds", *losses, *metrics]
        rows = []
        for r in self.records:
            settings = settings_of(r.experiment)
            rows.append([str(r.number), r.origin or "new", *(_text(settings.get(k, "")) for k in differ),
                         str(r.step), f"{r.seconds:.1f}", *(_number(r.losses.get(k)) for k in losses),
                         *(_number(r.metrics.get(k)) for k in metrics)])
        return header, rows

    def csv(self, numbers=None) -> str:
        header, rows = self.table()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(row for row in rows if numbers is None or int(row[0]) in numbers)
        return out.getvalue()


def _union(dicts) -> list[str]:
    """Every key of the dicts, in the order first seen."""
    names: list[str] = []
    for d in dicts:
        names += [k for k in d if k not in names]
    return names


def _text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _number(value) -> str:
    return "" if value is None else f"{value:.4g}"


_LOG = RunLog()


def run_log() -> RunLog:
    """This app session's runs (every window's)."""
    return _LOG


class RunsTable(QDialog):
    """The runs table of a window: Reopen puts the chosen run beside the window's own."""

    def __init__(self, window):
        super().__init__(window)
        self.main = window
        self.setWindowTitle("Runs since GenStudio started")
        self.resize(900, 360)
        self.table = QTableWidget()
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.doubleClicked.connect(lambda _: self.reopen())
        help_text = QLabel("Settings that differ between the runs, how far each trained, and its final losses "
                           f"(the mean of its last {RECENT_LOSSES} steps) and metrics. Reopen starts the chosen run "
                           "beside this window's run.")
        help_text.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.reopen_button = QPushButton("Reopen beside")
        self.export_button = QPushButton("Export CSV…")
        buttons.addButton(self.reopen_button, QDialogButtonBox.ActionRole)
        buttons.addButton(self.export_button, QDialogButtonBox.ActionRole)
        buttons.rejected.connect(self.close)
        self.reopen_button.clicked.connect(self.reopen)
        self.export_button.clicked.connect(self._export_dialog)
        layout = QVBoxLayout(self)
        layout.addWidget(help_text)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.fill)
        self.timer.start(REFRESH_MS)
        self.fill()

    def fill(self) -> None:
        if not self.isVisible() and self.table.rowCount():
            return
        header, rows = run_log().table()
        selected = self.selected()
        self.table.setColumnCount(len(header))
        self.table.setHorizontalHeaderLabels(header)
        self.table.setRowCount(len(rows))
        numbers_from = header.index("steps")
        for i, row in enumerate(rows):
            for j, text in enumerate(row):
                item = self.table.item(i, j)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(i, j, item)
                item.setTextAlignment((Qt.AlignRight if j >= numbers_from else Qt.AlignLeft) | Qt.AlignVCenter)
                if item.text() != text:
                    item.setText(text)
        if selected and not self.table.selectedItems():
            self.table.selectRow(selected[0] - 1)

    def selected(self) -> list[int]:
        """The run numbers of the selected rows."""
        return sorted({int(self.table.item(i.row(), 0).text()) for i in self.table.selectedIndexes()})

    def reopen(self) -> None:
        numbers = self.selected()
        if not numbers:
            self.main.report_problem("Pick a run in the table first.")
            return
        self.main.reopen_run(run_log().find(numbers[0]))

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the runs table", "runs.csv", "CSV (*.csv)")
        if path:
            self.export(path, self.selected() or None)

    def export(self, path: str, numbers=None) -> bool:
        try:
            write_text(path, run_log().csv(numbers))
        except OSError as exc:
            self.main.report_problem(f"Could not write {path}: {exc.strerror or exc}")
            return False
        self.main.statusBar().showMessage(f"Wrote the runs table to {path}", 8000)
        return True
