"""The training thread: drives the engine's event generator and forwards its events as signals.

Everything that crosses into the GUI thread is an immutable CPU snapshot (the engine's frozen
event dataclasses); the engine already batches losses to <= 20 messages a second.
"""
from __future__ import annotations

import math
import traceback

from PySide6.QtCore import QObject, QThread, Signal, Slot


class TrainingWorker(QObject):
    ready = Signal(object)        # TrainerInfo
    losses = Signal(object)       # LossPoints
    snapshot = Signal(object)     # Snapshot
    metrics = Signal(object)      # Metrics
    diverged = Signal(object)     # Diverged
    failed = Signal(str)          # one-line message
    stopped = Signal()            # the loop has ended, whatever the reason

    def __init__(self, experiment, start_paused: bool, trainer=None, snapshot_s: float = 0.5, eval_s: float = 10.0):
        """`trainer`: continue an existing one (after an error) instead of building a new one."""
        super().__init__()  # parentless: it is moved to its own thread
        self.experiment = experiment
        self.start_paused = start_paused
        self.snapshot_s, self.eval_s = snapshot_s, eval_s
        self.trainer = trainer
        self._stop_requested = False

    @Slot()
    def run(self) -> None:
        try:
            from ..engine.device import available_devices, describe
            from ..engine.events import Diverged, LossPoints, Metrics, Snapshot
            from ..engine.trainer import Cadence, Trainer

            if self.trainer is None:
                # snapshots carry a CPU copy of the weights: family views never touch the live model
                self.trainer = Trainer(self.experiment, Cadence(snapshot_s=self.snapshot_s, eval_s=self.eval_s,
                                                                snapshot_weights=True, evaluate_at_end=False))
            if self._stop_requested:
                return
            if self.start_paused:
                self.trainer.pause()
            self.ready.emit(TrainerInfo(describe(self.trainer.device), self.trainer.device.type,
                                        self.trainer.loss_names, self.trainer.dataset, available_devices()))
            self.snapshot.emit(self.trainer.snapshot())
            route = {LossPoints: self.losses, Snapshot: self.snapshot, Metrics: self.metrics, Diverged: self.diverged}
            for event in self.trainer.run(steps=None, seconds=math.inf):
                signal = route.get(type(event))
                if signal is not None:
                    signal.emit(event)
        except Exception as exc:  # one path for errors: a message in the UI, the app stays up
            traceback.print_exc()
            self.failed.emit(f"{type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            self.stopped.emit()

    # commands from the GUI thread (the trainer's are thread-safe) --------------------------
    def pause(self):
        if self.trainer:
            self.trainer.pause()

    def resume(self):
        if self.trainer:
            self.trainer.resume()

    def stop(self):
        self._stop_requested = True
        if self.trainer:
            self.trainer.stop()

    def step_once(self, part="all"):
        if self.trainer:
            self.trainer.step_once(part)

    def set_lr(self, lr):
        if self.trainer:
            self.trainer.set_lr(lr)


class TrainerInfo:
    """What the GUI needs to know about a freshly built trainer (read-only after creation)."""

    def __init__(self, device_name, device_type, loss_names, dataset, devices):
        self.device_name, self.device_type = device_name, device_type
        self.loss_names, self.dataset, self.devices = tuple(loss_names), dataset, tuple(devices)


def start_worker(worker: TrainingWorker) -> QThread:
    """Parentless worker moved to a new thread; finished -> quit -> deleteLater."""
    thread = QThread()
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.stopped.connect(thread.quit)
    thread.finished.connect(worker.deleteLater)
    thread.finished.connect(thread.deleteLater)
    thread.start()
    return thread
