"""What a run's training loop says to the window, and the commands it obeys.

A worker reports `report(worker, message)`: the engine's own events (LossPoints, Snapshot, Metrics,
Diverged, Checkpoint, Weights, ForkState) or one of the messages below. Every message is an
immutable CPU value, so it can cross a thread or (pickled) a process.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """The data set is downloading: `done` of `total` bytes (total 0: not known)."""
    name: str
    done: int
    total: int


@dataclass(frozen=True)
class Ready:
    """The trainer is built: what the window needs to know about it."""
    device_name: str
    device_type: str
    loss_names: tuple
    dataset: object
    devices: tuple
    held_out_measure: str | None = None   # what the held-out curve measures (None: the model has none)


@dataclass(frozen=True)
class DeviceMemory:
    """MiB of GPU memory in use (after each snapshot, on a GPU)."""
    mib: float


@dataclass(frozen=True)
class Failed:
    """Training stopped with a problem, in one line; the model is kept, paused, when it can be."""
    message: str


@dataclass(frozen=True)
class Stopped:
    """The worker's loop has ended: always its last message."""


class Commands(abc.ABC):
    """The commands a run's training loop obeys, written once. Each goes to `command(name, *args)`:
    a worker calls the trainer's method of that name, a training process sends it to its child."""

    @abc.abstractmethod
    def command(self, name: str, *args) -> None:
        """Carry out (or pass on) the command `name`."""

    def pause(self):
        self.command("pause")

    def resume(self):
        self.command("resume")

    def stop(self):
        self.command("stop")

    def step_once(self, part: str = "all"):
        self.command("step_once", part)

    def request_checkpoint(self):
        self.command("request_checkpoint")

    def request_weights(self):
        self.command("request_weights")

    def request_fork_state(self, step: int):
        self.command("request_fork_state", step)

    def set_hparam(self, name: str, value):
        self.command("set_hparam", name, value)

    def set_lr(self, lr: float):
        self.command("set_lr", lr)


COMMANDS = frozenset(name for name, value in vars(Commands).items() if callable(value) and name != "command"
                     and not name.startswith("_"))
