"""What the training generator yields: frozen dataclasses of numpy / Python values only."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class LossPoints:
    """Per-step loss values since the previous LossPoints."""
    steps: np.ndarray                 # (k,) int64, 1-based step numbers
    seconds: np.ndarray               # (k,) float64, training wall seconds at each flush (not per step)
    values: dict[str, np.ndarray]     # loss name -> (k,) float64


@dataclass(frozen=True)
class Snapshot:
    """Samples from the fixed noise, in data space (points (N,2), images (N,C,H,W), or strings)."""
    step: int
    seconds: float
    samples: object
    state: dict[str, np.ndarray] | None = None   # CPU copy of the weights, when asked for
    forkable: tuple[int, ...] = ()               # the steps whose whole state is kept now (fork points)
    probe: dict | None = None                    # what the model shows of itself (models/base.py probe)
    labels: np.ndarray | None = None             # a class-conditional model: the class each sample was asked to be


@dataclass(frozen=True)
class Metrics:
    step: int
    seconds: float
    values: dict[str, float]


@dataclass(frozen=True)
class HeldOut:
    """The training objective measured the same way (eval mode, fixed noise) on a fixed subset of the
    training items and on as many held-out items: their gap is what the model learnt that does not
    carry over. `best_step`: the step with the lowest held-out value so far (None where the value does
    not rank the model's weights, as a GAN discriminator's does not)."""
    step: int
    seconds: float
    train: float
    held_out: float
    best_step: int | None = None


@dataclass(frozen=True)
class Finished:
    step: int
    seconds: float
    reason: str                       # steps | seconds | stopped


@dataclass(frozen=True)
class Diverged:
    """A loss became NaN or infinite; training stopped before that step's weights were kept."""
    step: int
    seconds: float
    losses: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Weights:
    """The explorer replica's weights (CPU numpy copies of the networks that encode and sample),
    taken between steps on request (Trainer.request_weights)."""
    step: int
    seconds: float
    state: dict[str, np.ndarray]


@dataclass(frozen=True)
class Checkpoint:
    """The trainer's whole state (CPU copies, engine.state.TrainerState), taken between steps on request,
    with the past states it keeps to fork from (oldest first; empty when it keeps none)."""
    step: int
    seconds: float
    state: object
    fork_points: tuple = ()


@dataclass(frozen=True)
class ForkState:
    """The whole state kept at a past step, asked for to fork a new run from it (None: not kept)."""
    step: int
    state: object | None              # engine.state.TrainerState
