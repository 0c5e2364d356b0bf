"""A small causal transformer (nanoGPT-style) over tokens: pixels, quantised 2D points or characters.

Sequences start with a BOS token; the model predicts every next token. Sampling goes one token at a
time and exposes the next-token distribution (`generate` yields it at every position).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ARConfig
from ..data import Dataset
from .base import DataSpec, GenerativeModel, make_optimizer

IGNORE = -1
POINT_RANGE = 3.0  # standardised points are quantised on [-3, 3] per axis


class Tokenizer:
    """Data <-> tokens for one data kind. Text uses '.' (id 0) as both start and end (makemore)."""

    def __init__(self, spec: DataSpec, bins: int):
        self.spec = spec
        self.bins = bins
        if spec.kind == "image":
            self.length, self.vocab = spec.dim, spec.levels
            self.bos = self.vocab
        elif spec.kind == "points":
            self.length, self.vocab = 2, bins
            self.bos = self.vocab
        else:
            self.length, self.vocab = spec.shape[0], len(spec.alphabet)
            self.bos = 0
        self.vocab_size = self.vocab + (self.bos == self.vocab)

    def encode(self, ds: Dataset, split: str) -> torch.Tensor:
        """(N, length + 1) int64: BOS, then the tokens; text targets past the end are IGNORE."""
        kind = self.spec.kind
        if kind == "image":
            x = ds.x if split == "train" else ds.held_out
            tokens = np.rint(x.reshape(len(x), -1) * (self.vocab - 1)).astype(np.int64)
        elif kind == "points":
            x = ds.standardise(ds.x if split == "train" else ds.held_out)
            unit = (np.clip(x, -POINT_RANGE, POINT_RANGE - 1e-6) + POINT_RANGE) / (2 * POINT_RANGE)
            tokens = np.floor(unit * self.bins).astype(np.int64)
        else:
            words = ds.words if split == "train" else ds.held_out_words
            index = {c: i for i, c in enumerate(self.spec.alphabet)}
            tokens = np.full((len(words), self.length), IGNORE, np.int64)
            for row, word in enumerate(words):
                ids = [index[c] for c in word if c in index] + [0]
                tokens[row, :len(ids)] = ids
        bos = np.full((len(tokens), 1), self.bos, np.int64)
        return torch.from_numpy(np.concatenate([bos, tokens], axis=1))

    def decode(self, tokens: np.ndarray, ds: Dataset):
        kind = self.spec.kind
        if kind == "image":
            return (tokens / (self.vocab - 1)).astype(np.float32).reshape(len(tokens), *self.spec.shape)
        if kind == "points":
            unit = (tokens + 0.5) / self.bins
            return ds.unstandardise((unit * 2 * POINT_RANGE - POINT_RANGE).astype(np.float32))
        words = []
        for row in tokens:
            chars = []
            for tok in row:
                if tok == 0:
                    break
                chars.append(self.spec.alphabet[tok])
            words.append("".join(chars))
        return words


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ARConfig):
        super().__init__()
        self.n_head, self.dropout = cfg.n_head, cfg.dropout
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(self, x, cache: dict | None = None):
        """`cache` (generation only) holds the keys and values of the positions seen so far."""
        n, length, width = x.shape
        q, k, v = self.qkv(x).view(n, length, 3, self.n_head, width // self.n_head).permute(2, 0, 3, 1, 4)
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        # with a cache the queries are the newest positions and may see every cached key
        causal = q.shape[2] == k.shape[2] and length > 1
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(n, length, width))


class Block(nn.Module):
    def __init__(self, cfg: ARConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(nn.Linear(cfg.n_embd, 4 * cfg.n_embd), nn.GELU(),
                                 nn.Linear(4 * cfg.n_embd, cfg.n_embd), nn.Dropout(cfg.dropout))

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln1(x), cache)
        return x + self.mlp(self.ln2(x))


@dataclass(frozen=True)
class TokenStep:
    position: int
    probs: torch.Tensor      # (N, vocab) next-token distribution after temperature / top-k
    tokens: torch.Tensor     # (N,) the tokens chosen


class Transformer(GenerativeModel):
    loss_names = ("loss",)
    supported_kinds = ("points", "image", "text")

    def __init__(self, cfg: ARConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        self.tok = Tokenizer(spec, cfg.bins)
        n = self.tok.length
        self.token_emb = nn.Embedding(self.tok.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Parameter(torch.zeros(1, n, cfg.n_embd))
        nn.init.normal_(self.pos_emb, std=0.02)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, self.tok.vocab, bias=False)

    def encode_data(self, ds, split="train"):
        return self.tok.encode(ds, split)

    def decode(self, samples, ds):
        return self.tok.decode(samples.detach().cpu().numpy(), ds)

    def make_optimizers(self):
        self.opt = make_optimizer(torch.optim.AdamW, self.parameters(), self.cfg.lr, weight_decay=0.01)
        return [self.opt]

    def forward(self, inputs: torch.Tensor, caches: list[dict] | None = None, start: int = 0) -> torch.Tensor:
        """Logits (N, L, vocab) for each next token given inputs (N, L) at positions start..start+L-1."""
        x = self.token_emb(inputs) + self.pos_emb[:, start:start + inputs.shape[1]]
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.head(self.ln_f(x))

    def _token_nll(self, seq):
        inputs, targets = seq[:, :-1].clamp(min=0), seq[:, 1:]
        logits = self(inputs)
        return F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE, reduction="none"), targets

    def train_step(self, draw):
        seq = draw()
        logits = self(seq[:, :-1].clamp(min=0))
        # the mean over the predicted tokens in one kernel (the same value as _token_nll's sum / count)
        loss = F.cross_entropy(logits.flatten(0, 1), seq[:, 1:].flatten(), ignore_index=IGNORE)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.detach().reshape(1)

    @torch.no_grad()
    def nll(self, batch):
        nll, _ = self._token_nll(batch)
        return nll.sum(1)

    def make_noise(self, n, generator):
        # one uniform per position: inverse-CDF sampling from fixed uniforms keeps snapshots comparable
        return torch.rand(n, self.tok.length, generator=generator, device=generator.device)

    @torch.no_grad()
    def generate(self, uniforms: torch.Tensor, temperature: float | None = None,
                 top_k: int | None = None) -> Iterator[TokenStep]:
        """Yield the next-token distribution and the chosen token at each position."""
        temperature = self.cfg.temperature if temperature is None else temperature
        top_k = self.cfg.top_k if top_k is None else top_k
        was_training = self.training
        self.eval()
        n = uniforms.shape[0]
        token = torch.full((n, 1), self.tok.bos, dtype=torch.long, device=uniforms.device)
        caches: list[dict] = [{} for _ in self.blocks]
        for pos in range(self.tok.length):
            logits = self(token, caches, start=pos)[:, -1] / temperature
            if 0 < top_k < logits.shape[1]:
                kth = logits.topk(top_k, dim=1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = logits.softmax(dim=1)
            cdf = probs.cumsum(1)
            tokens = torch.searchsorted(cdf, uniforms[:, pos:pos + 1] * cdf[:, -1:]).squeeze(1)
            tokens = tokens.clamp(max=probs.shape[1] - 1)
            token = tokens[:, None]
            yield TokenStep(pos, probs, tokens)
        self.train(was_training)

    @torch.no_grad()
    def sample(self, noise):
        return torch.stack([step.tokens for step in self.generate(noise)], dim=1)
