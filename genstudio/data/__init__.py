"""Data sets as plain numpy, one object per set. No Qt, no torch device here.

kind "points": `x` (N, 2) in data units; models train on (x - shift) / scale.
kind "image":  `x` (N, C, H, W) in [0, 1] with `levels` grey levels (for autoregressive tokens).
kind "text":   `words`, a list of strings over `alphabet`.
"""
from __future__ import annotations

import collections
import dataclasses
import os
from dataclasses import dataclass, field

import numpy as np

from . import toy2d
from .digits import load_digits_images
from .shapes import SHAPE_NAMES, make_shapes
from .text import END, load_names

POINTS_TRAIN_SIZE = 50_000
HELD_OUT_FRACTION = 0.1


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    kind: str
    x: np.ndarray | None = None            # train split (points, images)
    held_out: np.ndarray | None = None     # test split (points: fresh draws)
    labels: np.ndarray | None = None       # train-split labels, when the set has them
    held_out_labels: np.ndarray | None = None
    label_names: tuple[str, ...] = ()
    levels: int = 0                        # grey levels of an image set
    shift: np.ndarray | None = None        # points: standardisation
    scale: float = 1.0
    modes: np.ndarray | None = None        # points: Gaussian mixture centres (ring8, grid25)
    mode_std: float = 0.0
    words: tuple[str, ...] = ()            # text: train split
    held_out_words: tuple[str, ...] = ()
    alphabet: str = ""
    factors: dict = field(default_factory=dict)  # known latent factors of the train split, by name
    source: str = ""                       # imported sets: the file or folder they came from
    key: str = ""                          # imported sets: a content hash, for caches (the classifier)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])

    def split_size(self, split: str) -> int:
        """How many examples the "train" or "held_out" split holds."""
        if self.kind == "text":
            return len(self.words if split == "train" else self.held_out_words)
        return len(self.x if split == "train" else self.held_out)

    def standardise(self, pts: np.ndarray) -> np.ndarray:
        return ((pts - self.shift) / self.scale).astype(np.float32)

    def unstandardise(self, pts: np.ndarray) -> np.ndarray:
        return pts * self.scale + self.shift


DATASETS = toy2d.NAMES + ("digits", "shapes", "names")
TEXT_SETS = ("names",)   # the built-in sets only the transformer trains on
REMOTE_DATASETS = ("mnist", "fashion-mnist")  # downloaded once into the user's cache folder


def looks_like_path(data: str) -> bool:
    """A data argument that names a file or folder rather than a built-in set."""
    return data not in DATASETS + REMOTE_DATASETS and bool(data) and (
        os.sep in data or "/" in data or "." in os.path.basename(data) or os.path.exists(data))


def _split(n: int, *arrays):
    order = np.random.default_rng(0).permutation(n)
    cut = n - int(n * HELD_OUT_FRACTION)
    return [(a[order[:cut]], a[order[cut:]]) for a in arrays]


def _points(name: str) -> Dataset:
    x = toy2d.sample_points(name, POINTS_TRAIN_SIZE, seed=12345)
    held = toy2d.sample_points(name, 5_000, seed=54321)
    spec = toy2d.mixture_spec(name)
    modes, std = spec if spec else (None, 0.0)
    shift = x.mean(0).astype(np.float32)
    scale = float(x.std(0).mean())
    return Dataset(name, "points", x=x, held_out=held, shift=shift, scale=scale,
                   modes=modes, mode_std=std)


def _images(name: str, images, labels, label_names, levels, factors=None) -> Dataset:
    factors = factors or {}
    (x, xh), (y, yh), *factor_splits = _split(len(images), images, labels, *factors.values())
    train_factors = {k: pair[0] for k, pair in zip(factors, factor_splits)}  # aligned with x
    return Dataset(name, "image", x=x, held_out=xh, labels=y, held_out_labels=yh,
                   label_names=label_names, levels=levels, factors=train_factors)


def _text(name: str, words: list[str]) -> Dataset:
    (w, wh), = _split(len(words), np.array(words, dtype=object))
    alphabet = END + "".join(sorted(set("".join(words)) - {END}))
    return Dataset(name, "text", words=tuple(w), held_out_words=tuple(wh), alphabet=alphabet)


CACHE_BYTES = 1 << 30   # data sets kept loaded in one process; past this the least recently used go


def dataset_bytes(ds: Dataset) -> int:
    """About how much memory a data set holds (its arrays, and its words at ~50 bytes each)."""
    total = 0
    for f in dataclasses.fields(ds):
        value = getattr(ds, f.name)
        if isinstance(value, np.ndarray):
            total += value.nbytes
        elif isinstance(value, tuple):
            total += 50 * len(value)
    return total


class DataCache(collections.OrderedDict):
    """Loaded data sets by key, newest use last: a lesson that goes through twenty data sets keeps at
    most CACHE_BYTES of them (always the one just loaded)."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        self.move_to_end(key)
        return value

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > 1 and sum(map(dataset_bytes, dict.values(self))) > CACHE_BYTES:
            self.popitem(last=False)


_CACHE: DataCache = DataCache()


def remember(known: dict) -> None:
    """Data sets loaded elsewhere (another process), by cache_key: `load` returns them as they are."""
    _CACHE.update(known)


def cache_key(name: str, size: int = 0, color: str = "auto") -> str | None:
    """What `load` caches a set under: a file's changes make a new key. None for a path that
    cannot be read (load then says why)."""
    if name in REMOTE_DATASETS:
        return f"{name}:{size}:{color}"
    if looks_like_path(name):
        try:
            st = os.stat(name)
        except OSError:
            return None
        return f"{os.path.abspath(name)}:{st.st_mtime_ns}:{st.st_size}:{size}:{color}"
    return name


def load(name: str, size: int = 0, color: str = "auto", progress=None) -> Dataset:
    """A built-in set by name, a downloadable one (fetched on first use; `progress(done, total, file)`),
    or the user's file or folder (size and color apply to images). Cached per process.
    Raises KeyError for an unknown name, importers.DataError for a file that cannot be used."""
    key = cache_key(name, size, color)
    if name in REMOTE_DATASETS:
        from .download import load_remote
        if key not in _CACHE:
            _CACHE[key] = load_remote(name, size, color, progress=progress)
        return _CACHE[key]
    if looks_like_path(name):
        from .importers import import_path
        if key is None:
            return import_path(name, size, color)  # raises DataError saying what is wrong with the path
        if key not in _CACHE:
            _CACHE[key] = import_path(name, size, color)
        return _CACHE[key]
    if name not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; choose one of: {', '.join(DATASETS + REMOTE_DATASETS)}")
    if name not in _CACHE:
        if name in toy2d.NAMES:
            ds = _points(name)
        elif name == "digits":
            images, labels = load_digits_images()
            ds = _images(name, images, labels, tuple(str(d) for d in range(10)), levels=17)
        elif name == "shapes":
            images, labels, factors = make_shapes()
            ds = _images(name, images, labels, SHAPE_NAMES, levels=4, factors=factors)
        else:
            ds = _text(name, load_names())
        _CACHE[name] = ds
    return _CACHE[name]
