"""The past states a run can be forked from: whole trainer states (weights, optimiser, random
streams) captured at snapshots, kept in a bounded set.

What is kept: over the last `recent_s` seconds of training, a state every `recent_spacing_s` (and
always the newest); before that, one state per `spacing_s` (the first captured in each interval).
When the states together pass `max_bytes`, the oldest go first; the newest always stays, and so does
the state at the run's best held-out step (`best`, outside the policy). So memory
grows for the first minute of a run, then by one state a minute, up to the cap: a 10-minute run
keeps about 30 + 9 states (10 MB for the GAN on ring8, 77 MB for the VAE on digits, 230 MB for the
diffusion U-Net on digits, measured with `state_bytes`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from .state import TrainerState

RECENT_S = 60.0
RECENT_SPACING_S = 2.0
SPACING_S = 60.0
# GENSTUDIO_FORK_POINTS_MB lowers the cap on a small machine (the memory bench sets it to reach it)
MAX_BYTES = int(float(os.environ.get("GENSTUDIO_FORK_POINTS_MB", 256)) * 2**20)


def state_bytes(state: TrainerState) -> int:
    return sum(t.numel() * t.element_size() for t in state.tensors.values())


@dataclass
class ForkPoints:
    recent_s: float = RECENT_S
    recent_spacing_s: float = RECENT_SPACING_S
    spacing_s: float = SPACING_S
    max_bytes: int = MAX_BYTES
    states: list[TrainerState] = field(default_factory=list)   # oldest first
    nbytes: int = 0                                             # their tensors' memory
    best: TrainerState | None = None                            # kept whatever the policy drops

    def add(self, state: TrainerState) -> None:
        """Keep `state` (captured after every state added before) and drop what the policy no longer keeps."""
        if self.states and state.step <= self.states[-1].step:
            return
        self.states.append(state)
        self.nbytes += state_bytes(state)
        newest = state.seconds
        kept, seen = [], set()
        for s in self.states:
            interval = int(s.seconds // self.spacing_s)
            if s.seconds >= newest - self.recent_s:
                if s is state or not kept or s.seconds - kept[-1].seconds >= self.recent_spacing_s:
                    kept.append(s)
            elif interval not in seen:
                kept.append(s)
            seen.add(interval)
        sizes = [state_bytes(s) for s in kept]
        while len(kept) > 1 and sum(sizes) > self.max_bytes:
            kept.pop(0)
            sizes.pop(0)
        self.states, self.nbytes = kept, sum(sizes)

    def all(self) -> tuple[TrainerState, ...]:
        """Every kept state, the best one included, oldest first."""
        if self.best is None or any(s.step == self.best.step for s in self.states):
            return tuple(self.states)
        return tuple(sorted([*self.states, self.best], key=lambda s: s.step))

    def steps(self) -> list[int]:
        return [s.step for s in self.all()]

    def at(self, step: int) -> TrainerState:
        """The kept state at `step` (KeyError when it is not kept)."""
        for s in self.all():
            if s.step == step:
                return s
        raise KeyError(f"no state kept at step {step}")

    def nearest(self, step: int) -> TrainerState | None:
        """The kept state at or before `step`, if any (what a timeline position forks from)."""
        before = [s for s in self.all() if s.step <= step]
        return before[-1] if before else None
