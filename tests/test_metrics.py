"""Sample-quality metrics (genstudio/engine/metrics.py) on inputs whose answer is known."""
from __future__ import annotations

import math

import numpy as np
import pytest

from genstudio.data import toy2d
from genstudio.engine import metrics

CHI2_2_BELOW_9 = 1 - math.exp(-4.5)  # P(|N(0, I2)| < 3 sigma) = 0.98889


@pytest.mark.parametrize("name, n_modes", [("ring8", 8), ("grid25", 25)])
def test_exact_samples_cover_every_mode(name, n_modes):
    modes, std = toy2d.mixture_spec(name)
    samples = toy2d.sample_points(name, 20_000, seed=1)
    m = metrics.mode_metrics(samples, modes, std)
    assert m["modes_total"] == n_modes
    assert m["modes_captured"] == n_modes
    assert m["modes_captured_1pct"] == n_modes
    assert abs(m["hq_fraction"] - CHI2_2_BELOW_9) < 0.01
    assert 0 <= m["reverse_kl"] < 0.01


def test_one_mode_only():
    modes, std = toy2d.mixture_spec("ring8")
    rng = np.random.default_rng(0)
    samples = modes[3] + rng.normal(0, std, (2000, 2))
    m = metrics.mode_metrics(samples, modes, std)
    assert m["modes_captured"] == 1 and m["modes_captured_1pct"] == 1
    assert m["reverse_kl"] == pytest.approx(math.log(8))
    assert abs(m["hq_fraction"] - CHI2_2_BELOW_9) < 0.02


def test_two_modes_reverse_kl():
    modes, std = toy2d.mixture_spec("ring8")
    samples = np.concatenate([np.repeat(modes[:1], 300, 0), np.repeat(modes[5:6], 100, 0)])
    m = metrics.mode_metrics(samples, modes, std)
    p = np.array([0.75, 0.25])
    assert m["modes_captured"] == 2
    assert m["reverse_kl"] == pytest.approx(float((p * np.log(p * 8)).sum()))
    assert m["hq_fraction"] == 1.0


def test_points_far_from_every_mode_are_not_high_quality():
    modes, std = toy2d.mixture_spec("ring8")
    samples = np.random.default_rng(0).normal(0, 0.1, (500, 2)) + 50.0
    m = metrics.mode_metrics(samples, modes, std)
    assert m["hq_fraction"] == 0
    assert m["modes_captured"] == 0 and m["modes_captured_1pct"] == 0
    # between two modes (1.5 spacing, 0.02 std) is as bad as far away
    between = (modes[0] + modes[1]) / 2 + np.zeros((10, 2))
    assert metrics.mode_metrics(between, modes, std)["hq_fraction"] == 0


def test_one_percent_variant_ignores_stragglers():
    modes, std = toy2d.mixture_spec("ring8")
    samples = np.concatenate([np.repeat(modes[:1], 1000, 0), modes[1:2]])  # one sample in mode 1 (< 1%)
    m = metrics.mode_metrics(samples, modes, std)
    assert m["modes_captured"] == 2
    assert m["modes_captured_1pct"] == 1


def test_energy_distance_same_vs_different():
    a = toy2d.sample_points("moons", 2000, seed=1)
    b = toy2d.sample_points("moons", 2000, seed=2)
    ring = toy2d.sample_points("ring8", 2000, seed=3)
    same = metrics.energy_distance(a, b)
    different = metrics.energy_distance(ring, a)
    assert abs(same) < 0.01
    assert different > 0.3
    assert different > 50 * abs(same)
    assert metrics.energy_distance(a, a) == pytest.approx(0, abs=1e-9)
    assert metrics.energy_distance(a, b) == pytest.approx(metrics.energy_distance(b, a))


def test_energy_distance_grows_with_shift():
    a = toy2d.sample_points("moons", 1000, seed=1)
    values = [metrics.energy_distance(a, a + [dx, 0.0]) for dx in (0.1, 0.5, 2.0)]
    assert values[0] < values[1] < values[2]


def test_frechet_distance():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(2000, 16)) @ rng.normal(size=(16, 16))
    assert metrics.frechet_distance(f, f) == pytest.approx(0, abs=1e-6)
    shift = rng.normal(size=16)
    assert metrics.frechet_distance(f, f + shift) == pytest.approx(float((shift ** 2).sum()), rel=1e-6)
    grows = [metrics.frechet_distance(f, f + s * shift) for s in (0.5, 1.0, 2.0)]
    assert grows[0] < grows[1] < grows[2]
    # a change of spread alone is seen too: Tr(S + 4S - 2*2S) = Tr(S)
    s = np.cov(f, rowvar=False)
    assert metrics.frechet_distance(f, 2 * f) == pytest.approx(
        float(np.trace(s) + ((f.mean(0)) ** 2).sum()), rel=1e-5)


def test_class_metrics_coverage_threshold():
    counts = [50, 44, 5, 1, 0]      # shares 0.50, 0.44, 0.05 (counts), 0.01, 0
    labels = np.repeat(np.arange(5), counts)
    probs = np.full((len(labels), 5), 0.1)
    probs[np.arange(len(labels)), labels] = 0.6
    m = metrics.class_metrics(probs)
    assert m["class_coverage"] == 3
    assert m["class_total"] == 5
    assert m["class_histogram"] == [0.5, 0.44, 0.05, 0.01, 0.0]
    assert m["confidence"] == pytest.approx(0.6)
    assert metrics.class_metrics(probs, min_share=0.01)["class_coverage"] == 4


def test_bits_per_dim():
    assert metrics.bits_per_dim(math.log(2) * 10, 5) == pytest.approx(2.0)
