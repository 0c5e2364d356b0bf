"""A small image classifier per labelled data set, trained once and cached on disk.

Its penultimate features stand in for Inception's in the Frechet distance (docs/metrics.md).
"""
from __future__ import annotations

import hashlib
import os
import re

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..data import Dataset
from ..storage import atomic_path, cache_dir

CLASSIFIER_VERSION = 1
FEATURES = 32


class Classifier(nn.Module):
    def __init__(self, dim: int, classes: int):
        super().__init__()
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(dim, 256), nn.ReLU(),
                                      nn.Linear(256, FEATURES), nn.ReLU())
        self.head = nn.Linear(FEATURES, classes)

    def forward(self, x):
        return self.head(self.features(x))


def _train(ds: Dataset) -> Classifier:
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    x = torch.from_numpy(ds.x)
    y = torch.from_numpy(ds.labels)
    model = Classifier(int(np.prod(ds.image_shape)), len(ds.label_names))
    opt = torch.optim.Adam(model.parameters(), 1e-3, weight_decay=1e-4)
    for _ in range(1500):
        idx = torch.randint(len(x), (128,), generator=gen)
        # light noise makes the features tolerant of generated images' small artefacts
        xb = (x[idx] + 0.05 * torch.randn(x[idx].shape, generator=gen)).clamp(0, 1)
        loss = nn.functional.cross_entropy(model(xb), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def _file_name(key: str) -> str:
    """The key itself where it is a plain name, else its digest: nothing in it can leave the cache folder."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", key):
        return key
    return "key-" + hashlib.sha1(key.encode("utf-8", "replace")).hexdigest()[:16]


def load_classifier(ds: Dataset) -> Classifier:
    """The cached classifier for this data set, training (about 2 s on a CPU) on first use."""
    path = os.path.join(cache_dir(), f"classifier-{_file_name(ds.key or ds.name)}-v{CLASSIFIER_VERSION}.safetensors")
    model = Classifier(int(np.prod(ds.image_shape)), len(ds.label_names))
    if os.path.exists(path):
        try:
            model.load_state_dict(load_file(path))
            return model.eval()
        except Exception:  # a damaged cache file is rebuilt, never trusted
            pass
    # (trained with gradients wherever it is first asked for, the explorer's inference mode included)
    with torch.random.fork_rng(), torch.inference_mode(False), torch.enable_grad():
        model = _train(ds)
    with atomic_path(path) as tmp:
        save_file(model.state_dict(), tmp)
    return model


@torch.no_grad()
def features_and_probs(model: Classifier, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    feats = model.features(x)
    return feats.numpy().astype(np.float64), model.head(feats).softmax(1).numpy()

