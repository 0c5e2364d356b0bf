"""What an attention map and an embedding table say, in numpy (no torch: the views use these too).

An attention map (queries, keys) here is causal: position i looks at positions 0..i. Position 0 holds
the start (the BOS token, or a row's start) and position j > 0 the token read j-th, so at position i
the model has just read token i-1 and writes token i: "itself" is the token just read, "previous"
one position back, "first" the start."""
from __future__ import annotations

import numpy as np

PATTERNS = {"previous": "a previous-token head: it looks one position back",
            "first": "a first-token head: it looks back at the start",
            "self": "a self head: it looks at the token it has just read"}
CLEAR_SHARE = 0.5   # a pattern is named when over half the attention follows it


def attention_shares(weights: np.ndarray) -> dict[str, float]:
    """Mean share of attention, over the positions that have a choice (i >= 1), one position back
    (i - 1), on the start (0) and on itself (i)."""
    a = np.asarray(weights, np.float64)
    n = a.shape[-1]
    if n < 2:
        return {"previous": 0.0, "first": 0.0, "self": 0.0}
    i = np.arange(1, n)
    return {"previous": float(a[..., i, i - 1].mean()), "first": float(a[..., i, 0].mean()),
            "self": float(a[..., i, i].mean())}


def probe_maps(probe: dict) -> dict[str, np.ndarray]:
    """A snapshot's probe (models' `probe`) as maps by stage, cut to the probe's own tokens (a text's
    padding after its end left out)."""
    valid = int((np.asarray(probe["input"]) >= 0).sum())   # the positions that write its tokens (and its end)
    maps = {}
    for stage, weights in probe.items():
        if stage == "input":
            continue
        a = np.asarray(weights)   # no copy: the timeline already holds these (float16)
        maps[stage] = a[..., :valid, :valid] if stage == "sequence" else a
    return maps


def head_shares(maps: dict[str, np.ndarray]) -> dict[tuple[str, int, int], dict[str, float]]:
    """attention_shares of every head: {(stage, layer, head): shares}."""
    return {(stage, layer, head): attention_shares(a[layer, head])
            for stage, a in maps.items() for layer in range(a.shape[0]) for head in range(a.shape[1])}


def strongest(maps: dict[str, np.ndarray]) -> dict[str, float]:
    """For each pattern, the largest share any head gives it (what a lesson waits for)."""
    shares = head_shares(maps).values()
    return {name: max((s[name] for s in shares), default=0.0) for name in PATTERNS}


def pattern_name(weights: np.ndarray) -> str:
    """One line naming a head's pattern when it is clear, with its share."""
    shares = attention_shares(weights)
    name, share = max(shares.items(), key=lambda kv: kv[1])
    if share < CLEAR_SHARE:
        return f"no single pattern yet (at most {share:.0%} on one kind of position)"
    return f"{share:.0%} {PATTERNS[name]}"


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """The rows of `vectors` (n, d) on their first two principal components (n, 2); the sign of each
    component is fixed (its largest coordinate positive) so the map does not flip between steps."""
    x = np.asarray(vectors, np.float64)
    x = x - x.mean(0)
    if x.shape[0] < 2:
        return np.zeros((x.shape[0], 2), np.float32)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    axes = vt[:2]
    if axes.shape[0] < 2:
        axes = np.vstack([axes, np.zeros_like(axes)])
    axes *= np.sign(axes[np.arange(2), np.abs(axes).argmax(1)])[:, None]
    return (x @ axes.T).astype(np.float32)


def nearest_tokens(vectors: np.ndarray, index: int, k: int = 5) -> list[tuple[int, float]]:
    """The k tokens whose embeddings are nearest to token `index`'s by cosine similarity: (token, cosine)."""
    x = np.asarray(vectors, np.float64)
    unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    cos = unit @ unit[index]
    order = [int(j) for j in np.argsort(-cos) if j != index][:k]
    return [(j, float(cos[j])) for j in order]
