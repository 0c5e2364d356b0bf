"""Procedural 16x16 sprites whose latent factors are known: shape, position, scale, rotation."""
from __future__ import annotations

import math

import numpy as np

SHAPE_NAMES = ("circle", "square", "triangle", "cross")
SIZE = 16
_SUPERSAMPLE = 4  # render at 64x64 and average down for anti-aliased edges


def _inside(kind: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Membership in the unit shape, (u, v) in shape coordinates."""
    if kind == 0:
        return u * u + v * v <= 1.0
    if kind == 1:
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if kind == 2:  # equilateral triangle, centred
        return (v >= -0.5) & (v <= 1.0 - 1.732 * np.abs(u))
    return ((np.abs(u) <= 0.3) & (np.abs(v) <= 1.0)) | ((np.abs(v) <= 0.3) & (np.abs(u) <= 1.0))


def make_shapes(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(images (n, 1, 16, 16) float32 in [0, 1], shape labels (n,), factors by name)."""
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, len(SHAPE_NAMES), n)
    scale = rng.uniform(2.5, 5.0, n)            # half-size in pixels
    rotation = rng.uniform(0, math.pi / 2, n)   # a quarter turn spans every distinct pose of a square
    cx = rng.uniform(5.5, 10.5, n)
    cy = rng.uniform(5.5, 10.5, n)
    hi = SIZE * _SUPERSAMPLE
    grid = (np.arange(hi) + 0.5) / _SUPERSAMPLE
    gx, gy = np.meshgrid(grid, grid)
    images = np.empty((n, 1, SIZE, SIZE), np.float32)
    for i in range(n):
        dx, dy = (gx - cx[i]) / scale[i], (gy - cy[i]) / scale[i]
        c, s = math.cos(rotation[i]), math.sin(rotation[i])
        u, v = c * dx + s * dy, -s * dx + c * dy
        mask = _inside(int(kind[i]), u, -v).astype(np.float32)
        images[i, 0] = mask.reshape(SIZE, _SUPERSAMPLE, SIZE, _SUPERSAMPLE).mean(axis=(1, 3))
    factors = {"shape": kind, "x": cx, "y": cy, "scale": scale, "rotation": rotation}
    return images, kind.astype(np.int64), factors
