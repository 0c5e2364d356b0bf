"""The 8x8 digits (1,797 images, 17 grey levels): the UCI "Optical Recognition of Handwritten
Digits" test set (CC BY 4.0), in the file scikit-learn ships (genstudio/resources/digits.csv.gz,
one image per row: 64 pixels 0-16, then the label). Read with numpy: no download, and no
scikit-learn and SciPy (80 MB of the desktop bundle) to load it."""
from __future__ import annotations

import numpy as np

from ..paths import resource


def load_digits_images() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 1, 8, 8) float32 in [0, 1] on 17 levels, labels (1797,) int64)."""
    table = np.loadtxt(resource("digits.csv.gz"), delimiter=",", dtype=np.int64)
    images = (table[:, :64].reshape(-1, 1, 8, 8) / 16.0).astype(np.float32)
    return images, table[:, 64]
