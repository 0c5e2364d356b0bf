"""scikit-learn's 8x8 digits, loaded from the installed package (no download)."""
from __future__ import annotations

import numpy as np


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 1, 8, 8) float32 in [0, 1] on 17 levels, labels (1797,) int64)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]
    return images, bunch.target.astype(np.int64)
