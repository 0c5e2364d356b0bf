"""What the GUI asks the explorer (engine/explorer.py) and what comes back: frozen requests and
answers, numpy only. Kept apart from the replica so that a view can build a request without
importing torch (an import in the GUI thread would wait on the explorer thread's import of torch)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

MAP_POINTS = 2000      # held-out examples encoded for the latent map (at most)

class ExplorerError(Exception):
    """A request that cannot be answered now: one line for the view."""


@dataclass(frozen=True, eq=False)
class Request:
    control: str = ""      # the control that asked: a newer request for the same control supersedes this
    id: int = 0            # given by the explorer when submitted (increasing)
    # Waiting requests are answered cheapest first, so that the one a hand is waiting on (a click, a
    # slider) does not queue behind a grid or a map that the new weights asked for.
    priority = 0


@dataclass(frozen=True, eq=False)
class Decode(Request):
    """Decode these latent codes (n, latent_dim) into data space (a conditional model: as class `label`)."""
    codes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    label: int = 0


@dataclass(frozen=True, eq=False)
class DecodeGrid(Request):
    """A rows x cols grid of decodes over a rectangle of the map's plane: code = origin + x*axes[0] + y*axes[1]."""
    priority = 2
    origin: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    axes: np.ndarray = field(default_factory=lambda: np.zeros((2, 0), np.float32))
    x_range: tuple[float, float] = (-3.0, 3.0)
    y_range: tuple[float, float] = (-3.0, 3.0)
    rows: int = 12
    cols: int = 12
    label: int = 0


@dataclass(frozen=True, eq=False)
class Interpolate(Request):
    """`steps` codes from a to b (linear, or spherical: along the great circle, as for Gaussian codes)."""
    priority = 1
    a: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    b: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    steps: int = 8
    spherical: bool = False
    label: int = 0


@dataclass(frozen=True, eq=False)
class EncodeHeldOut(Request):
    """Encode the held-out set: the latent map, per-dimension KL, and a row of reconstructions."""
    priority = 3
    limit: int = MAP_POINTS


@dataclass(frozen=True, eq=False)
class GANPlane(Request):
    """A 2D GAN's plane: the discriminator on a resolution x resolution grid over the region; the
    generator's points for `noise`, each with the direction its loss pushes it; and the generator's
    image of a mesh x mesh grid of noise over two of its dimensions (the others held at 0)."""
    priority = 2
    x_range: tuple[float, float] = (-1.0, 1.0)
    y_range: tuple[float, float] = (-1.0, 1.0)
    resolution: int = 64
    noise: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    mesh: int = 15
    mesh_dims: tuple[int, int] = (0, 1)


@dataclass(frozen=True, eq=False)
class CriticHistogram(Request):
    """The discriminator's output on held-out real examples and on the generator's for `noise`."""
    priority = 2
    noise: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    count: int = 256


@dataclass(frozen=True, eq=False)
class Samples(Request):
    """`count` samples of a class-conditional model, all of class `label`, from noise drawn from `seed`."""
    priority = 2
    label: int = 0
    count: int = 64
    seed: int = 0


@dataclass(frozen=True, eq=False)
class Nearest(Request):
    """The `k` training examples nearest to `example` (data space): in the digit classifier's feature
    space where the data has one, else in pixels."""
    example: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    k: int = 6


@dataclass(frozen=True, eq=False)
class Schedules(Request):
    """A diffusion run's noise schedules, linear and cosine, of its length: beta_t, alpha-bar_t and the
    signal-to-noise ratio alpha-bar_t / (1 - alpha-bar_t)."""


@dataclass(frozen=True, eq=False)
class Forward(Request):
    """The forward process: `count` held-out examples noised to step `t` (the scheduler's add_noise)
    with noise drawn from `seed`."""
    t: int = 0
    count: int = 8
    seed: int = 0


@dataclass(frozen=True, eq=False)
class DenoiseField(Request):
    """The learned denoising direction at step `t`: minus the sampling network's predicted noise at
    each point of a resolution x resolution grid over the region (data space)."""
    priority = 2
    t: int = 0
    x_range: tuple[float, float] = (-1.0, 1.0)
    y_range: tuple[float, float] = (-1.0, 1.0)
    resolution: int = 21


@dataclass(frozen=True, eq=False)
class Denoise(Request):
    """A whole sampling trajectory from noise drawn from `seed`: each step's x_t and predicted x_0, sent
    in chunks as they are computed (the first after one step); the result's quality at the end.
    A class-conditional model draws class `label` (-1: the classes in turn) at `guidance` (None: the
    run's own scale)."""
    priority = 1
    sampler: str = "ddpm"
    steps: int = 100
    eta: float = 0.0
    count: int = 64
    seed: int = 0
    label: int = -1
    guidance: float | None = None


@dataclass(frozen=True, eq=False)
class TimestepLoss(Request):
    """The training network's loss on `count` held-out examples in each of `buckets` ranges of timesteps."""
    priority = 3
    buckets: int = 10
    count: int = 64


@dataclass(frozen=True, eq=False)
class Generate(Request):
    """`count` samples written one token at a time (temperature 0: greedy), from uniforms drawn from
    `seed`: each position's next-token distribution and chosen token, in chunks as they are computed
    (the first after one token). `prompt`: text each sample continues; `complete`: the index of a
    held-out image whose pixels outside `mask` (H, W; True: the model writes there) are kept. A
    class-conditional model writes class `label` (-1: the classes in turn; a completion: the image's own)
    at `guidance` (None: the run's own scale)."""
    priority = 1
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    count: int = 16
    seed: int = 0
    prompt: str = ""
    complete: int = -1
    mask: np.ndarray | None = None
    label: int = -1
    guidance: float | None = None


@dataclass(frozen=True, eq=False)
class Attention(Request):
    """Every head's attention while the model reads `tokens` (a written sample, length,): the model's
    `attention` maps by stage ("sequence"; a large image's "rows" and "pixels"); a conditional model's
    as class `label`."""
    tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    label: int = 0


@dataclass(frozen=True, eq=False)
class Embeddings(Request):
    """The learned token embeddings (vocab, width) and their first two principal components."""
    priority = 2


@dataclass(frozen=True, eq=False)
class TokenLoss(Request):
    """The mean loss per token (nats, teacher forcing) on `count` training and `count` held-out examples."""
    priority = 3
    count: int = 256


@dataclass(frozen=True, eq=False)
class TextBaselines(Request):
    """A corpus's reference lines, in held-out nats per character: a uniform and a bigram model."""


@dataclass(frozen=True, eq=False)
class Answer:
    request: Request
    step: int                        # the training step of the weights that answered
    values: dict = field(default_factory=dict)
    done: bool = True                # False: a chunk; more follow unless a newer request cuts it short
    error: str | None = None         # one line for the view instead of values


def interpolation_codes(a: np.ndarray, b: np.ndarray, steps: int, spherical: bool) -> np.ndarray:
    t = np.linspace(0.0, 1.0, steps)[:, None]
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if spherical:
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        cos = np.clip(a @ b / max(na * nb, 1e-12), -1.0, 1.0)
        omega = math.acos(cos)
        if omega > 1e-6:  # slerp of directions; the length moves linearly
            s = np.sin(omega)
            direction = (np.sin((1 - t) * omega) * a / max(na, 1e-12) + np.sin(t * omega) * b / max(nb, 1e-12)) / s
            return (direction * ((1 - t) * na + t * nb)).astype(np.float32)
    return ((1 - t) * a + t * b).astype(np.float32)


def map_basis(means: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """The plane of the latent map: (origin (d,), axes (2, d), is_pca). Two dimensions are the plane
    itself; more are projected on the first two principal components of the means."""
    d = means.shape[1]
    if d <= 2:
        axes = np.eye(2, d, dtype=np.float32)
        return np.zeros(d, np.float32), axes, False
    origin = means.mean(0)
    _, _, vt = np.linalg.svd(means - origin, full_matrices=False)
    return origin.astype(np.float32), vt[:2].astype(np.float32), True
