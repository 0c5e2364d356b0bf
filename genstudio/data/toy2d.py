"""2D toy distributions, in data units: the standard sets of the GAN and diffusion literature."""
from __future__ import annotations

import math

import numpy as np


def ring8_modes() -> np.ndarray:
    # 8 DISTINCT angles 2*pi*k/8; linspace(0, 2pi, 8) would repeat angle 0 and give 7 modes.
    angles = 2 * math.pi * np.arange(8) / 8
    return np.stack([2 * np.cos(angles), 2 * np.sin(angles)], axis=1)


def grid25_modes() -> np.ndarray:
    xs = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    return np.array([(x, y) for x in xs for y in xs])


MIXTURES = {"ring8": (ring8_modes, 0.02), "grid25": (grid25_modes, 0.05)}


def _mixture(modes: np.ndarray, std: float, n: int, rng: np.random.Generator) -> np.ndarray:
    which = rng.integers(0, len(modes), n)
    return modes[which] + rng.normal(0.0, std, (n, 2))


def _moons(n, rng):
    t = rng.uniform(0, math.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    return np.stack([x, y], 1) + rng.normal(0, 0.05, (n, 2))


def _swissroll(n, rng):
    t = 1.5 * math.pi * (1 + 2 * rng.random(n))
    return np.stack([t * np.cos(t), t * np.sin(t)], 1) / 5 + rng.normal(0, 0.1, (n, 2))


def _spiral(n, rng):
    t = np.sqrt(rng.random(n)) * 3 * math.pi
    arm = rng.random(n) < 0.5
    sign = np.where(arm, 1.0, -1.0)
    return sign[:, None] * np.stack([t * np.cos(t), t * np.sin(t)], 1) / 4 + rng.normal(0, 0.05, (n, 2))


def _checkerboard(n, rng):
    x1 = rng.uniform(-2, 2, n)
    x2 = rng.uniform(0, 1, n) + rng.integers(0, 2, n) * 2 - 2  # in [-2,-1) or [0,1)
    x2 = x2 + (np.floor(x1) % 2)  # shift every other column by one cell
    return np.stack([x1, x2], 1)


def _rings(n, rng):
    radius = rng.choice([0.5, 1.0, 1.5], n)
    a = rng.uniform(0, 2 * math.pi, n)
    return radius[:, None] * np.stack([np.cos(a), np.sin(a)], 1) + rng.normal(0, 0.03, (n, 2))


SHAPES = {"moons": _moons, "swissroll": _swissroll, "spiral": _spiral,
          "checkerboard": _checkerboard, "rings": _rings}

NAMES = tuple(MIXTURES) + tuple(SHAPES)


def sample_points(name: str, n: int, seed: int) -> np.ndarray:
    """n points of the named distribution in data units, float32."""
    rng = np.random.default_rng(seed)
    if name in MIXTURES:
        modes_fn, std = MIXTURES[name]
        pts = _mixture(modes_fn(), std, n, rng)
    else:
        pts = SHAPES[name](n, rng)
    return pts.astype(np.float32)


def mixture_spec(name: str) -> tuple[np.ndarray, float] | None:
    """(mode centres, per-axis std) for the Gaussian mixtures, None for the other shapes."""
    if name not in MIXTURES:
        return None
    modes_fn, std = MIXTURES[name]
    return modes_fn(), std
