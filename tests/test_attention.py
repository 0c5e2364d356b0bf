"""What the transformer looks at: its attention maps, recomputed by hand; the embedding map; top-p;
the timeline's probe; and the names given to head patterns."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from genstudio import data
from genstudio.config import ARConfig, default_experiment
from genstudio.engine.attention import attention_shares, nearest_tokens, pattern_name, pca_2d
from genstudio.engine.explorer import Replica
from genstudio.engine.requests import Attention, Embeddings
from genstudio.models import build_model
from genstudio.models.autoregressive import RowTransformer, choose, nucleus
from genstudio.models.base import DataSpec


def _names_model():
    torch.manual_seed(0)
    exp = default_experiment("ar", "names")
    exp = replace(exp, family=ARConfig(n_layer=2, n_head=4, n_embd=32))
    ds = data.load("names")
    return build_model(exp, ds).eval(), ds


def _by_hand(block, x, head):
    """softmax(q k^T / sqrt(d)) with the causal mask for one head of `block` on inputs x (1, L, width)."""
    h = block.ln1(x)
    width = h.shape[-1]
    d = width // block.attn.n_head
    q, k, _ = block.attn.qkv(h)[0].split(width, dim=-1)
    q, k = q[:, head * d:(head + 1) * d], k[:, head * d:(head + 1) * d]
    scores = (q @ k.T) / math.sqrt(d)
    length = scores.shape[0]
    for i in range(length):
        for j in range(i + 1, length):
            scores[i, j] = -math.inf
    return torch.softmax(scores, dim=-1)


@torch.no_grad()
def test_the_attention_shown_is_the_models_own_for_every_layer_and_head():
    model, ds = _names_model()
    tokens = model.encode_data(ds, "held_out")[3, 1:].clamp(min=0)
    maps = model.attention(tokens)["sequence"]
    assert maps.shape == (2, 4, len(tokens), len(tokens))
    inputs = torch.cat([torch.tensor([model.tok.bos]), tokens[:-1]])[None]
    x = model.token_emb(inputs) + model.pos_emb[:, :inputs.shape[1]]
    for layer, block in enumerate(model.blocks):
        for head in range(4):
            expected = _by_hand(block, x, head).numpy()
            np.testing.assert_allclose(maps[layer, head], expected, atol=1e-5)
        x = block(x)                                   # the next layer reads this one's output
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-5)
    assert np.abs(np.triu(maps, 1)).max() == 0.0       # never looks ahead


@torch.no_grad()
def test_the_row_transformers_maps_are_its_own_two_models():
    """Global: rows over the rows above; local: each row's pixels over the pixels before them. Both
    weigh the values into what the model computes (A @ V through the projection equals the block's
    attention output)."""
    torch.manual_seed(1)
    model = RowTransformer(ARConfig(n_embd=32, n_layer=2, n_head=2, levels=4),
                           DataSpec("image", (1, 6, 5), levels=256)).eval()
    tokens = torch.randint(0, 4, (30,))
    maps = model.attention(tokens)
    assert maps["rows"].shape == (2, 2, 6, 6) and maps["pixels"].shape == (1, 1, 6, 5, 5)
    for stage in maps.values():
        np.testing.assert_allclose(stage.sum(-1), 1.0, atol=1e-5)
        assert np.abs(np.triu(stage, 1)).max() == 0.0
    # the local model's first block, row 2, recomputed as A @ V against its own forward pass
    rows = tokens.view(1, 6, 5)
    context = model._global(rows)
    shifted = torch.cat([rows.new_full((1, 6, 1), model.tok.vocab), rows[..., :-1]], 2)
    x = model.token_emb(shifted.flatten(0, 1)) + model.pos_emb + model._offsets(context.flatten(0, 1))
    block = model.blocks[0]
    h = block.ln1(x)
    _, _, v = block.attn.qkv(h).split(h.shape[-1], dim=-1)
    a = torch.from_numpy(maps["pixels"][0, 0, 2])
    np.testing.assert_allclose(block.attn.proj(a @ v[2]).numpy(), block.attn(h)[2].numpy(), atol=1e-5)


def test_top_p_keeps_the_smallest_set_that_reaches_p():
    probs = torch.tensor([[0.05, 0.5, 0.15, 0.3]])
    assert nucleus(probs, 0.5).tolist() == [[False, True, False, False]]
    assert nucleus(probs, 0.8).tolist() == [[False, True, False, True]]
    assert nucleus(probs, 0.81).tolist() == [[False, True, True, True]]
    assert nucleus(probs, 1.0).all()
    rng = np.random.default_rng(0)
    for _ in range(200):   # against the definition, by brute force over sorted prefixes
        p = rng.dirichlet(np.full(7, 0.5))
        top_p = float(rng.uniform(0.05, 0.99))
        order = np.argsort(-p)
        size = next(k for k in range(1, 8) if p[order[:k]].sum() >= top_p - 1e-7)
        kept = nucleus(torch.tensor(p[None]), top_p)[0].numpy()
        assert kept.sum() == size and kept[order[:size]].all()
    logits = torch.log(probs)
    for u in np.linspace(0, 0.999, 50):     # sampling never draws outside the kept set
        kept_probs, token = choose(logits, torch.tensor([u]), 1.0, 0, top_p=0.8)
        assert int(token) in (1, 3)
        assert torch.allclose(kept_probs, torch.tensor([[0.0, 0.5 / 0.8, 0.0, 0.3 / 0.8]]))


def test_the_embedding_map_is_a_pca_of_the_embedding_matrix():
    model, ds = _names_model()
    replica = Replica(default_experiment("ar", "names"), ds)
    replica.model = model
    replica.step = 0
    answer = list(replica.answer(Embeddings()))[-1].values
    vectors = model.token_emb.weight[: model.tok.vocab].detach().numpy()
    np.testing.assert_array_equal(answer["vectors"], vectors)
    centred = vectors - vectors.mean(0)
    values, axes = np.linalg.eigh(np.cov(centred.T))
    expected = centred @ axes[:, ::-1][:, :2]
    for c in range(2):    # a principal component's sign is arbitrary
        got = answer["map"][:, c]
        sign = np.sign(got @ expected[:, c])
        np.testing.assert_allclose(got, sign * expected[:, c], atol=1e-4)
    near = nearest_tokens(vectors, 1, k=3)
    assert len(near) == 3 and 1 not in [j for j, _ in near]
    assert [c for _, c in near] == sorted([c for _, c in near], reverse=True)


def test_the_explorer_answers_attention_for_a_written_sample_and_refuses_others():
    model, ds = _names_model()
    replica = Replica(default_experiment("ar", "names"), ds)
    replica.model = model
    replica.step = 0
    tokens = model.encode_data(ds, "held_out")[0, 1:].clamp(min=0).numpy()
    answer = list(replica.answer(Attention(tokens=tokens)))[-1].values
    np.testing.assert_allclose(answer["sequence"], model.attention(torch.from_numpy(tokens))["sequence"])
    with pytest.raises(Exception, match="not a sample"):
        list(replica.answer(Attention(tokens=tokens[:3])))


def test_snapshots_carry_the_heads_on_a_fixed_probe():
    from genstudio.engine.trainer import Cadence, Trainer

    exp = default_experiment("ar", "names")
    trainer = Trainer(exp, Cadence(snapshot_s=None), data.load("names"))
    list(trainer.run(steps=3))
    probe = trainer.snapshot().probe
    assert probe["sequence"].dtype == np.float16
    assert probe["sequence"].shape[:2] == (exp.family.n_layer, exp.family.n_head)
    first = trainer.model.encode_data(trainer.dataset, "held_out")[0, 1:].numpy()
    np.testing.assert_array_equal(probe["input"], first)
    gan = Trainer(default_experiment("gan", "ring8"), Cadence(snapshot_s=None), data.load("ring8"))
    assert gan.snapshot().probe is None


def test_head_patterns_are_named_when_clear():
    n = 8
    previous = np.zeros((n, n))
    previous[0, 0] = 1
    previous[np.arange(1, n), np.arange(n - 1)] = 1
    assert attention_shares(previous)["previous"] == 1.0
    assert "previous-token head" in pattern_name(previous)
    first = np.zeros((n, n))
    first[:, 0] = 1
    assert "first-token head" in pattern_name(first)
    assert "self head" in pattern_name(np.eye(n))
    spread = np.tril(np.ones((n, n)))
    spread /= spread.sum(1, keepdims=True)
    assert pattern_name(spread).startswith("no single pattern")
    flat = pca_2d(np.random.default_rng(0).normal(size=(10, 6)))
    assert flat.shape == (10, 2)
