"""A run's data that its widgets display: the loss history (with the held-out curve) and the
timeline's snapshots."""
from __future__ import annotations

import bisect
from collections import deque

import numpy as np

MAX_POINTS = 20_000      # per curve; beyond it the older half is thinned by 2
TIMELINE_LENGTH = 200    # snapshots kept for the timeline


class CurveHistory:
    """Bounded history of (step, seconds, values...) with older points decimated, and the held-out
    measures (engine HeldOut events: one every few seconds, so all are kept)."""

    def __init__(self, names=(), held_out=()):
        self.names = tuple(names)
        self.data = np.empty((0, 2 + len(self.names)))
        self.held_out: list = list(held_out)
        self.version = 0   # changes with the data (a plot drawing it redraws then)

    def add_held_out(self, measure) -> None:
        self.held_out.append(measure)
        self.version += 1

    @property
    def best_step(self) -> int | None:
        """The step with the lowest held-out measure so far (None: none, or it ranks no weights)."""
        return self.held_out[-1].best_step if self.held_out else None

    def extend(self, points) -> None:
        if not len(points.steps):
            return
        block = np.column_stack([points.steps, points.seconds, *(points.values[n] for n in self.names)])
        self.data = np.concatenate([self.data, block])
        self.version += 1
        if len(self.data) > MAX_POINTS:
            half = len(self.data) // 2
            self.data = np.concatenate([self.data[:half:2], self.data[half:]])

    def clear(self):
        self.data = self.data[:0]
        self.held_out = []
        self.version += 1


class SnapshotLog:
    """The last TIMELINE_LENGTH snapshots (samples only: 200 copies of the weights would cost hundreds
    of MB) and the steps whose whole training state the run keeps now (it can be forked from them)."""

    def __init__(self, length: int = TIMELINE_LENGTH):
        self.snapshots: deque = deque(maxlen=length)
        self.forkable: set[int] = set()

    def add(self, snap) -> bool:
        """Keep `snap`; returns whether the oldest one left to make room."""
        full = len(self.snapshots) == self.snapshots.maxlen
        self.snapshots.append(snap)
        if snap.forkable:
            self.forkable = set(snap.forkable)
        return full

    def clear(self) -> None:
        self.snapshots.clear()
        self.forkable = set()

    def index_at(self, x: float | None, by_seconds: bool = False) -> int | None:
        """The position of the last snapshot at or before step (or training second) x (None: no x, or
        none kept that early)."""
        if x is None:
            return None
        keys = [s.seconds if by_seconds else s.step for s in self.snapshots]
        index = bisect.bisect_right(keys, x) - 1
        return index if index >= 0 else None

    def __len__(self) -> int:
        return len(self.snapshots)

    def __getitem__(self, index):
        return self.snapshots[index]

    def __iter__(self):
        return iter(self.snapshots)
