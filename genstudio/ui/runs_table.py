"""The runs table (Runs → Runs table…): every run since the app started (live/records.py), the
settings that differ between them, how far each trained, its final losses and metrics; a row can be
reopened beside the window's run, and the table exported as CSV."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ..live.records import RECENT_LOSSES, run_log
from ..storage import write_text

REFRESH_MS = 1000


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
