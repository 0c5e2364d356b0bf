"""Sample-quality metrics (docs/metrics.md defines each).

2D mixtures (VEEGAN / PacGAN): HQ fraction, modes captured, reverse KL. Every 2D set: energy
distance. Images: Frechet distance in a small classifier's feature space, class coverage, confidence.
"""
from __future__ import annotations

import math

import numpy as np

HQ_SIGMAS = 3.0


def mode_metrics(samples: np.ndarray, modes: np.ndarray, std: float) -> dict[str, float]:
    """HQ fraction, modes captured (and the >= 1%-of-HQ variant) and reverse KL to uniform."""
    d2 = ((samples[:, None, :] - modes[None]) ** 2).sum(-1)
    nearest = d2.argmin(1)
    hq = np.sqrt(d2[np.arange(len(samples)), nearest]) / std < HQ_SIGMAS
    counts = np.bincount(nearest[hq], minlength=len(modes))
    n_hq = int(hq.sum())
    if n_hq:
        p = counts / n_hq
        nz = p > 0
        reverse_kl = float((p[nz] * np.log(p[nz] * len(modes))).sum())
    else:
        reverse_kl = math.log(len(modes))  # worst case reported for no HQ samples at all
    return {
        "hq_fraction": n_hq / len(samples),
        "modes_captured": int((counts > 0).sum()),
        "modes_captured_1pct": int((counts >= max(1, 0.01 * n_hq)).sum()) if n_hq else 0,
        "modes_total": int(len(modes)),
        "reverse_kl": reverse_kl,
    }


def energy_distance(a: np.ndarray, b: np.ndarray) -> float:
    """2E|a-b| - E|a-a'| - E|b-b'| (Szekely's energy distance), >= 0, zero iff the distributions match."""
    def mean_dist(x, y):
        sq = (x * x).sum(1)[:, None] + (y * y).sum(1)[None] - 2 * x @ y.T
        return float(np.sqrt(np.clip(sq, 0, None)).mean())
    a, b = a.astype(np.float64), b.astype(np.float64)
    return 2 * mean_dist(a, b) - mean_dist(a, a) - mean_dist(b, b)


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """||mu1-mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2) between Gaussians fitted to two feature sets."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    # Tr((S1 S2)^1/2) = sum of sqrt of eigenvalues of S1^1/2 S2 S1^1/2 (symmetric, stable)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    eig = np.linalg.eigvalsh(root1 @ s2 @ root1)
    tr_cross = np.sqrt(np.clip(eig, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_cross)


def class_metrics(probs: np.ndarray, min_share: float = 0.05) -> dict:
    """Coverage: classes holding >= 5% of argmax predictions; the histogram; mean max-probability."""
    hist = np.bincount(probs.argmax(1), minlength=probs.shape[1]) / len(probs)
    return {
        "class_coverage": int((hist >= min_share).sum()),
        "class_total": int(probs.shape[1]),
        "class_histogram": [round(float(h), 4) for h in hist],
        "confidence": float(probs.max(1).mean()),
    }


def bits_per_dim(nats: float, dims: float) -> float:
    return nats / (dims * math.log(2))


def bigram_nats(train: list[str], held_out: list[str], alphabet: str) -> float:
    """Held-out nats per character of a bigram model counted on `train` with add-one smoothing
    (makemore's baseline; '.' = alphabet[0] starts and ends every word)."""
    index = {c: i for i, c in enumerate(alphabet)}
    v = len(alphabet)

    def pairs(words):
        ids = [[0] + [index[c] for c in w if c in index] + [0] for w in words]
        a = np.concatenate([s[:-1] for s in ids])
        b = np.concatenate([s[1:] for s in ids])
        return a, b

    a, b = pairs(train)
    counts = np.bincount(a * v + b, minlength=v * v).reshape(v, v) + 1.0
    log_p = np.log(counts / counts.sum(1, keepdims=True))
    a, b = pairs(held_out)
    return float(-log_p[a, b].mean())
