"""Data sets: the 2D toys, digits, shapes and names."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from genstudio import data
from genstudio.data import toy2d


def test_seven_point_sets():
    assert set(toy2d.NAMES) == {"ring8", "grid25", "moons", "swissroll", "spiral", "checkerboard", "rings"}
    assert set(toy2d.NAMES) <= set(data.DATASETS)


@pytest.mark.parametrize("name", toy2d.NAMES)
def test_point_sets_load(name):
    ds = data.load(name)
    assert ds.kind == "points"
    for x in (ds.x, ds.held_out):
        assert x.ndim == 2 and x.shape[1] == 2 and len(x) > 1000
        assert np.isfinite(x).all()
    # held-out points are fresh draws, not a copy of the train split
    assert not np.array_equal(ds.x[:len(ds.held_out)], ds.held_out)
    # standardisation brings the data to zero mean and unit average scale, and back
    z = ds.standardise(ds.x)
    assert np.allclose(z.mean(0), 0, atol=1e-3)
    assert abs(z.std(0).mean() - 1) < 1e-3
    assert np.allclose(ds.unstandardise(z), ds.x, atol=1e-4)


def test_load_is_cached():
    assert data.load("moons") is data.load("moons")


def test_sample_points_reproduces_by_seed():
    a = toy2d.sample_points("spiral", 100, seed=3)
    assert np.array_equal(a, toy2d.sample_points("spiral", 100, seed=3))
    assert not np.array_equal(a, toy2d.sample_points("spiral", 100, seed=4))


def test_ring8_modes():
    modes = toy2d.ring8_modes()
    assert modes.shape == (8, 2)
    assert np.allclose(np.linalg.norm(modes, axis=1), 2.0)
    # 8 distinct angles, evenly spaced all the way round (linspace(0, 2pi, 8) would repeat angle 0)
    angles = np.sort(np.mod(np.arctan2(modes[:, 1], modes[:, 0]), 2 * math.pi))
    gaps = np.diff(np.append(angles, angles[0] + 2 * math.pi))
    assert np.allclose(gaps, 2 * math.pi / 8)
    assert np.linalg.norm(modes[:, None] - modes[None], axis=-1)[~np.eye(8, dtype=bool)].min() > 1.5
    ds = data.load("ring8")
    assert np.allclose(ds.modes, modes) and ds.mode_std == 0.02


def test_grid25_modes():
    modes = toy2d.grid25_modes()
    assert modes.shape == (25, 2)
    expected = set(itertools.product([-4.0, -2.0, 0.0, 2.0, 4.0], repeat=2))
    assert {tuple(m) for m in modes.tolist()} == expected
    ds = data.load("grid25")
    assert np.allclose(ds.modes, modes) and ds.mode_std == 0.05


@pytest.mark.parametrize("name, std", [("ring8", 0.02), ("grid25", 0.05)])
def test_mixture_std_and_weights(name, std):
    ds = data.load(name)
    x = ds.x.astype(np.float64)
    nearest = ((x[:, None] - ds.modes[None]) ** 2).sum(-1).argmin(1)
    residual = x - ds.modes[nearest]
    per_axis = residual.std(0)
    assert np.all(np.abs(per_axis / std - 1) < 0.1), per_axis
    # every mode is used, with roughly equal weight
    share = np.bincount(nearest, minlength=len(ds.modes)) / len(x)
    assert np.all(np.abs(share * len(ds.modes) - 1) < 0.1)


def test_mixture_spec_only_for_mixtures():
    assert toy2d.mixture_spec("moons") is None
    modes, std = toy2d.mixture_spec("ring8")
    assert modes.shape == (8, 2) and std == 0.02


def test_digits():
    ds = data.load("digits")
    assert ds.kind == "image" and ds.levels == 17
    x = np.concatenate([ds.x, ds.held_out])
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    levels = np.unique(x) * 16
    assert np.allclose(levels, np.round(levels))          # on the 17-level grid
    assert len(levels) == 17
    labels = np.concatenate([ds.labels, ds.held_out_labels])
    assert labels.shape == (1797,)
    assert set(labels.tolist()) == set(range(10))
    assert ds.label_names == tuple(str(d) for d in range(10))
    assert len(ds.held_out) == int(1797 * data.HELD_OUT_FRACTION)


def test_the_digits_file_is_scikit_learns_set():
    """The app reads digits.csv.gz with numpy (no scikit-learn in the bundle): the same images and
    labels as scikit-learn's load_digits (a dev dependency, for this check)."""
    from sklearn.datasets import load_digits

    from genstudio.data.digits import load_digits_images

    images, labels = load_digits_images()
    bunch = load_digits()
    np.testing.assert_array_equal(images, (bunch.images / 16.0).astype(np.float32)[:, None])
    np.testing.assert_array_equal(labels, bunch.target)


def test_shapes():
    ds = data.load("shapes")
    assert ds.kind == "image" and ds.image_shape == (1, 16, 16)
    assert ds.x.ndim == 4 and ds.x.shape[1:] == (1, 16, 16)
    assert 0.0 <= ds.x.min() and ds.x.max() <= 1.0
    assert len(ds.label_names) == 4
    assert set(ds.labels.tolist()) == {0, 1, 2, 3}
    # every sprite has some ink, none fills the frame
    ink = ds.x.mean(axis=(1, 2, 3))
    assert ink.min() > 0.01 and ink.max() < 0.9
    assert set(ds.factors) >= {"shape", "x", "y", "scale", "rotation"}


def test_names():
    ds = data.load("names")
    assert ds.kind == "text"
    assert len(ds.words) > 1000 and len(ds.held_out_words) > 100
    assert not set(ds.words) & set(ds.held_out_words)
    for word in ds.words + ds.held_out_words:
        assert word and word.isalpha() and word.islower() and word.isascii(), word
    assert ds.alphabet[0] == "."
    assert set(ds.alphabet[1:]) == set("".join(ds.words + ds.held_out_words))
    assert len(set(ds.alphabet)) == len(ds.alphabet)


def test_unknown_data_set_names_the_choices():
    with pytest.raises(KeyError) as info:
        data.load("nope")
    message = str(info.value)
    assert "nope" in message
    for name in data.DATASETS:
        assert name in message


def test_shapes_factors_align_with_train_images():
    from genstudio.data import load

    ds = load("shapes")
    assert set(ds.factors) == {"shape", "x", "y", "scale", "rotation"}
    assert all(len(v) == len(ds.x) for v in ds.factors.values())
    np.testing.assert_array_equal(ds.factors["shape"], ds.labels)
    # a larger scale factor means more ink in the sprite
    ink = ds.x.sum(axis=(1, 2, 3))
    assert np.corrcoef(ds.factors["scale"], ink)[0, 1] > 0.5


def test_the_data_cache_keeps_the_recently_used_sets_within_its_budget(monkeypatch):
    from genstudio import data

    cache = data.DataCache()
    sets = {name: data.load(name) for name in ("ring8", "grid25", "digits", "shapes")}
    monkeypatch.setattr(data, "CACHE_BYTES", data.dataset_bytes(sets["digits"]) + data.dataset_bytes(sets["ring8"]))
    cache["ring8"], cache["digits"] = sets["ring8"], sets["digits"]
    assert list(cache) == ["ring8", "digits"]
    assert cache["ring8"] is sets["ring8"]                 # used: now the newest
    cache["grid25"] = sets["grid25"]                       # over the budget: the least recently used goes
    assert list(cache) == ["ring8", "grid25"]
    cache["shapes"] = sets["shapes"]                       # the newest is kept, even alone over the budget
    kept = sum(data.dataset_bytes(sets[name]) for name in cache)
    assert list(cache)[-1] == "shapes" and (kept <= data.CACHE_BYTES or list(cache) == ["shapes"])
