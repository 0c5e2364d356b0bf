"""The family-specific area: one view per family, fed by the same plumbing as the sample view.

Each view gets the trainer's info when a run is built, every snapshot (with a CPU copy of the
weights, so interactive views never touch the training model) and every metrics evaluation.
This release gives every family the live quality readout; the families' interactive views
(latent explorer, denoising scrubber, next-token bars, discriminator map) plug in here.
"""
from __future__ import annotations

from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

METRIC_LABELS = {
    "modes_captured": "modes captured", "modes_total": "modes in the data", "hq_fraction": "high-quality fraction",
    "modes_captured_1pct": "modes with >= 1% of HQ samples", "reverse_kl": "reverse KL to uniform modes",
    "energy_distance": "energy distance to the data", "fd": "Frechet distance (classifier features)",
    "class_coverage": "classes covered (>= 5%)", "class_total": "classes in the data",
    "confidence": "classifier confidence", "nll_nats": "NLL (nats per example)", "bits_per_dim": "bits per dimension",
    "nats_per_char": "nats per character", "novel_fraction": "novel samples (not in the training set)",
}


class FamilyView(QWidget):
    def __init__(self, family: str, parent=None):
        super().__init__(parent)
        self.family = family
        self.title = QLabel("Quality, evaluated every 10 s of training")
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["metric", "value"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.table)
        self.latest_step = None
        self.latest_state = None   # CPU copy of the weights from the newest snapshot

    def on_ready(self, info) -> None:
        self.table.setRowCount(0)
        self.latest_step = None
        self.latest_state = None

    def on_snapshot(self, snap) -> None:
        self.latest_state = snap.state

    def on_metrics(self, event) -> None:
        rows = [(METRIC_LABELS.get(k, k), v) for k, v in event.values.items() if not isinstance(v, list)]
        self.table.setRowCount(len(rows))
        for i, (name, value) in enumerate(rows):
            text = f"{value:.4g}" if isinstance(value, float) else str(value)
            self.table.setItem(i, 0, QTableWidgetItem(name))
            self.table.setItem(i, 1, QTableWidgetItem(text))
        self.latest_step = event.step
        self.title.setText(f"Quality at step {event.step} (evaluated every 10 s of training)")
