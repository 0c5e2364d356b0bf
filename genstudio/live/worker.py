"""The training loop's driver: runs the engine's event generator and reports its events to the GUI.

The app runs it as the main thread of a training process (training_process.py); tests that patch
the model run it in a thread of the window's process. Either way it never touches Qt (the rule in
ui/threads.py: this module imports no Qt, and a test keeps it so). It hands each message
(messages.py) to `report(worker, message)`, which the window makes thread-safe (Inbox.post).
Everything reported is an immutable CPU snapshot; the engine already batches losses to <= 20
messages a second.
"""
from __future__ import annotations

import math
import threading
import time
import traceback

from ..config import ConfigError
from .messages import COMMANDS, Commands, DeviceMemory, Failed, Progress, Ready, Stopped

PROGRESS_S = 0.1


class TrainingWorker(Commands):
    """One run's training thread. Reports, in this order: Progress while data downloads, Ready, then
    the engine's events (LossPoints, Snapshot, Metrics, Diverged, Checkpoint, Weights, ForkState) and
    on a GPU DeviceMemory after each snapshot, Failed on an error, and always Stopped last."""

    def __init__(self, experiment, report, start_paused: bool, snapshot_s: float = 0.5, eval_s: float = 10.0,
                 resume=None):
        """`report(worker, message)`: called from the training thread.
        `resume`: an opened experiment file to continue (its state, and its data when embedded)."""
        self.experiment = experiment
        self.report = report
        self.resume_from = resume
        self.start_paused = start_paused
        self.snapshot_s, self.eval_s = snapshot_s, eval_s
        self.trainer = None
        self._stop_requested = False
        self._thread = threading.Thread(target=self.run, name="genstudio-training", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def run(self) -> None:
        """The loop (the thread's, or a training process's main thread). After an error in a step the
        model is kept, paused: Failed is reported, and resume() goes on from where it stopped."""
        from ..data.importers import DataError  # here, not at the top: the window shows before it loads

        try:
            from ..engine.device import available_devices, describe
            from ..engine.trainer import Cadence, Trainer

            exp, doc = self.experiment, self.resume_from
            dataset = doc.dataset if doc is not None and doc.dataset is not None else self._load_data(exp)
            # snapshots carry samples only: weights reach the explorer when its view asks (request_weights)
            cadence = Cadence(snapshot_s=self.snapshot_s, eval_s=self.eval_s, evaluate_at_end=False, fork_points=True)
            self.trainer = Trainer(exp, cadence, dataset=dataset, state=doc.state if doc is not None else None,
                                   fork_points=doc.fork_points if doc is not None else (),
                                   held_out=doc.history.held_out if doc is not None else ())
            self.resume_from = None
            if self._stop_requested:
                return
            if self.start_paused:
                self.trainer.pause()
            self.report(self, Ready(describe(self.trainer.device), self.trainer.device.type,
                                    tuple(self.trainer.loss_names), self.trainer.dataset, tuple(available_devices()),
                                    self.trainer.held_out_measure))
            self.report(self, self.trainer.snapshot())
            while not self._train():
                pass
        except (ConfigError, DataError) as exc:  # bad data or settings: the message says what and where
            self.report(self, Failed(str(exc).splitlines()[0]))
        except Exception as exc:  # one path for errors: a message in the UI, the app stays up
            traceback.print_exc()
            self.report(self, Failed(one_line(exc)))
        finally:
            self.report(self, Stopped())

    def _train(self) -> bool:
        """Train until stopped or diverged (True). An error in a step is reported and the trainer
        paused (False): its paused loop still answers checkpoints, and resume() continues."""
        import torch

        from ..engine.events import Snapshot

        try:
            on_gpu = self.trainer.device.type == "cuda"
            for event in self.trainer.run(steps=None, seconds=math.inf):
                self.report(self, event)
                if on_gpu and isinstance(event, Snapshot):
                    self.report(self, DeviceMemory(torch.cuda.memory_allocated(self.trainer.device) / 2**20))
            return True
        except Exception as exc:
            traceback.print_exc()
            self.trainer.pause()
            self.report(self, Failed(one_line(exc)))
            return self._stop_requested

    def _load_data(self, exp):
        from .. import data

        last = [0.0]

        def progress(done, total, name):
            now = time.perf_counter()
            if now - last[0] >= PROGRESS_S or done == total:  # at most ~10 messages a second
                last[0] = now
                self.report(self, Progress(name, int(done), int(total or 0)))

        return data.load(exp.data, exp.data_size, exp.data_color, progress=progress)

    def command(self, name: str, *args) -> None:
        """From the GUI thread (or a training process's command thread): the trainer's commands are
        thread-safe."""
        if name not in COMMANDS:
            raise ValueError(f"not a command: {name}")
        if name == "stop":
            self._stop_requested = True
        if self.trainer:
            getattr(self.trainer, name)(*args)


def one_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]
