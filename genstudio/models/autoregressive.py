"""A small causal transformer (nanoGPT-style) over tokens: pixels, quantised 2D points or characters.

Sequences start with a BOS token; the model predicts every next token. Sampling goes one token at a
time and exposes the next-token distribution (`generate` yields it at every position). A
class-conditional model starts each sequence with its class instead: a class token in place of BOS
(RowTransformer: a class vector added to the start of its first row).

Images of more than 256 values (28x28, 32x32, 16x16 RGB) get RowTransformer: attention over 784
pixels costs seconds a step on a CPU, so a global transformer reads whole rows and a small local one
writes each row pixel by pixel (MEGABYTE, Yu et al. 2023, with a row as the patch), on 4 levels.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import ARConfig, ConfigError
from ..data import Dataset
from .base import DataSpec, GenerativeModel, WeightAverage, make_optimizer

IGNORE = -1
POINT_RANGE = 3.0  # standardised points are quantised on [-3, 3] per axis


FLAT_MAX_VALUES = 256     # larger images (pixels x channels): RowTransformer
LARGE_IMAGE_LEVELS = 4    # its intensity levels unless the levels knob says otherwise


def uses_rows(spec: DataSpec) -> bool:
    return spec.kind == "image" and spec.dim > FLAT_MAX_VALUES


def image_levels(spec: DataSpec, levels: int) -> int:
    """Tokens per pixel value: the knob, or the data's own levels (at most LARGE_IMAGE_LEVELS for large images)."""
    if levels:
        return levels
    return min(spec.levels, LARGE_IMAGE_LEVELS) if uses_rows(spec) else spec.levels


class Tokenizer:
    """Data <-> tokens for one data kind. Text uses '.' (id 0) as both start and end (makemore).

    Image tokens are quantised intensities, plane by plane (C, H, W order), or with `pixel_major`
    row by row, each pixel's channels together (H, W, C): a row is then one patch of RowTransformer."""

    def __init__(self, spec: DataSpec, bins: int, levels: int = 0, pixel_major: bool = False):
        self.spec = spec
        self.bins = bins
        self.pixel_major = pixel_major and spec.kind == "image"
        if spec.kind == "image":
            self.length, self.vocab = spec.dim, image_levels(spec, levels)
            self.bos = self.vocab
        elif spec.kind == "points":
            self.length, self.vocab = 2, bins
            self.bos = self.vocab
        else:
            self.length, self.vocab = spec.shape[0], len(spec.alphabet)
            self.bos = 0
        self.vocab_size = self.vocab + (self.bos == self.vocab)

    def encode(self, ds: Dataset, split: str, items: np.ndarray | None = None) -> torch.Tensor:
        """(N, length + 1) int64: BOS, then the tokens; text targets past the end are IGNORE. `items`:
        only these examples of the split, in this order."""
        kind = self.spec.kind
        if kind != "text":
            x = ds.x if split == "train" else ds.held_out
            x = x if items is None else x[items]
        if kind == "image":
            tokens = self.image_tokens(x)
        elif kind == "points":
            unit = (np.clip(ds.standardise(x), -POINT_RANGE, POINT_RANGE - 1e-6) + POINT_RANGE) / (2 * POINT_RANGE)
            tokens = np.floor(unit * self.bins).astype(np.int64)
        else:
            words = ds.words if split == "train" else ds.held_out_words
            words = words if items is None else [words[i] for i in items]
            index = {c: i for i, c in enumerate(self.spec.alphabet)}
            tokens = np.full((len(words), self.length), IGNORE, np.int64)
            for row, word in enumerate(words):
                ids = [index[c] for c in word if c in index] + [0]
                tokens[row, :len(ids)] = ids
        bos = np.full((len(tokens), 1), self.bos, np.int64)
        return torch.from_numpy(np.concatenate([bos, tokens], axis=1))

    def image_tokens(self, x: np.ndarray) -> np.ndarray:
        """Images (N, C, H, W) in [0, 1] -> their tokens (N, length), in the model's order."""
        x = x.transpose(0, 2, 3, 1) if self.pixel_major else x
        return np.rint(x.reshape(len(x), -1) * (self.vocab - 1)).astype(np.int64)

    def image_positions(self, mask: np.ndarray) -> np.ndarray:
        """A (H, W) mask of pixels -> the (length,) mask of their tokens (every channel), in the model's order."""
        c, h, w = self.spec.shape
        planes = np.broadcast_to(np.asarray(mask, bool)[None], (c, h, w))
        return (planes.transpose(1, 2, 0) if self.pixel_major else planes).reshape(-1)

    def decode(self, tokens: np.ndarray, ds: Dataset):
        kind = self.spec.kind
        if kind == "image":
            values = (tokens / (self.vocab - 1)).astype(np.float32)
            if self.pixel_major:
                c, h, w = self.spec.shape
                return values.reshape(len(tokens), h, w, c).transpose(0, 3, 1, 2).copy()
            return values.reshape(len(tokens), *self.spec.shape)
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
    def __init__(self, width: int, n_head: int, dropout: float):
        super().__init__()
        self.n_head, self.dropout = n_head, dropout
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

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

    def attend(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """forward's output and the attention weights (N, heads, L, L) behind it: softmax(q k^T / sqrt(d))
        with the causal mask, row i over the positions 0..i (forward computes them inside a fused kernel)."""
        n, length, width = x.shape
        q, k, v = self.qkv(x).view(n, length, 3, self.n_head, width // self.n_head).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        ahead = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        weights = scores.masked_fill(ahead, float("-inf")).softmax(-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(n, length, width)), weights


class Block(nn.Module):
    def __init__(self, width: int, n_head: int, dropout: float):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, n_head, dropout)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(),
                                 nn.Linear(4 * width, width), nn.Dropout(dropout))

    def forward(self, x, cache=None):
        x = x + self.attn(self.ln1(x), cache)
        return x + self.mlp(self.ln2(x))


def attention_through(blocks, x, output: bool = True) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Run x through `blocks`: (the output, or None without `output`; every block's attention weights
    (N, blocks, heads, L, L))."""
    maps = []
    for i, block in enumerate(blocks):
        out, weights = block.attn.attend(block.ln1(x))
        maps.append(weights)
        if output or i < len(blocks) - 1:
            x = x + out
            x = x + block.mlp(block.ln2(x))
    return (x if output else None), torch.stack(maps, 1)


def nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Which tokens top-p keeps (N, vocab) bool: the smallest set of the likeliest tokens whose
    probability reaches top_p (ties at the edge all kept)."""
    ordered, _ = probs.sort(1, descending=True)
    before = ordered.cumsum(1) - ordered          # the probability of the likelier tokens
    edge = ordered.masked_fill(before >= top_p, float("inf")).min(1, keepdim=True).values
    return probs >= edge


def distribution(logits: torch.Tensor, temperature: float, top_k: int, top_p: float = 1.0):
    """The next-token distribution after temperature, top-k and top-p (N, vocab), and the one before
    top-k and top-p (temperature only) when either is on, else None. Temperature 0 is greedy: all the
    probability on the likeliest token."""
    if temperature <= 0:
        return F.one_hot(logits.argmax(1), logits.shape[1]).to(logits.dtype), None
    logits = logits / temperature
    probs = raw = logits.softmax(dim=1)
    truncated = 0 < top_k < logits.shape[1]
    if truncated:
        kth = logits.topk(top_k, dim=1).values[:, -1:]
        probs = logits.masked_fill(logits < kth, float("-inf")).softmax(dim=1)
    if top_p < 1.0:
        truncated = True
        probs = probs * nucleus(probs, top_p)
        probs = probs / probs.sum(1, keepdim=True)
    return probs, raw if truncated else None


def draw(probs: torch.Tensor, uniforms: torch.Tensor, forced: torch.Tensor | None = None) -> torch.Tensor:
    """The token (N,) each uniform picks from `probs` by inverse-CDF sampling. `forced` (N,): a token to
    take instead where it is >= 0 (a prompt, or the kept pixels of an image being completed)."""
    cdf = probs.cumsum(1)
    # right: a uniform of exactly 0 takes the first token with probability, never one that top-k or top-p dropped
    picked = torch.searchsorted(cdf, uniforms[:, None] * cdf[:, -1:], right=True)
    tokens = picked.squeeze(1).clamp(max=probs.shape[1] - 1)
    return tokens if forced is None else torch.where(forced >= 0, forced, tokens)


def choose(logits: torch.Tensor, uniforms: torch.Tensor, temperature: float, top_k: int,
           forced: torch.Tensor | None = None, top_p: float = 1.0):
    """(probs (N, vocab), tokens (N,)): the `distribution` and the token `draw` takes from it."""
    probs, _ = distribution(logits, temperature, top_k, top_p)
    return probs, draw(probs, uniforms, forced)


@dataclass(frozen=True)
class TokenStep:
    position: int
    probs: torch.Tensor      # (N, vocab) next-token distribution after temperature / top-k / top-p
    tokens: torch.Tensor     # (N,) the tokens chosen
    raw: torch.Tensor | None = None  # (N, vocab) before top-k / top-p (temperature only), when either is on


class Transformer(GenerativeModel):
    loss_names = ("loss",)
    supported_kinds = ("points", "image", "text")
    pixel_major = False

    def __init__(self, cfg: ARConfig, spec: DataSpec):
        super().__init__(cfg, spec)
        self.tok = Tokenizer(spec, cfg.bins, cfg.levels, pixel_major=self.pixel_major)
        self.build_networks(cfg)
        if self.classes and cfg.guidance != 1 and not cfg.label_dropout:
            raise ConfigError("guidance needs label_dropout above 0: the model must also learn to write "
                              "without a class")
        if self.classes:   # the class in place of BOS: a start vector per class, and one for "no class"
            self.class_start = nn.Embedding(self.classes + (cfg.label_dropout > 0), cfg.n_embd)
            nn.init.normal_(self.class_start.weight, std=0.02)
        self._average: list[torch.Tensor] | None = None  # the weight average (cfg.ema), made on the first step
        self._average_updates = 0
        self._probe_tokens: torch.Tensor | None = None   # the timeline's probe: the first held-out item

    def build_networks(self, cfg: ARConfig) -> None:
        n = self.tok.length
        self.token_emb = nn.Embedding(self.tok.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Parameter(torch.zeros(1, n, cfg.n_embd))
        nn.init.normal_(self.pos_emb, std=0.02)
        self.blocks = nn.ModuleList(Block(cfg.n_embd, cfg.n_head, cfg.dropout) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, self.tok.vocab, bias=False)

    def encode_data(self, ds, split="train", items=None):
        return self.tok.encode(ds, split, items)

    def decode(self, samples, ds):
        return self.tok.decode(samples.detach().cpu().numpy(), ds)

    def make_optimizers(self):
        self.opt = make_optimizer(torch.optim.AdamW, self.parameters(), self.cfg.lr, weight_decay=0.01)
        return [self.opt]

    def embed(self, inputs: torch.Tensor, start: int = 0, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Token embeddings of inputs at positions start..; a conditional model's position 0 (BOS) is its
        class's start vector (labels None: the classes in turn)."""
        x = self.token_emb(inputs)
        if self.classes and start == 0:
            labels = self.sample_labels(len(inputs), inputs.device) if labels is None else labels
            x = torch.cat([self.class_start(labels.long())[:, None], x[:, 1:]], 1)
        return x + self.pos_emb[:, start:start + inputs.shape[1]]

    def forward(self, inputs: torch.Tensor, caches: list[dict] | None = None, start: int = 0,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (N, L, vocab) for each next token given inputs (N, L) at positions start..start+L-1
        (a conditional model: sequences of classes `labels`)."""
        x = self.embed(inputs, start, labels)
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.head(self.ln_f(x))

    def _token_nll(self, seq, labels=None):
        inputs, targets = seq[:, :-1].clamp(min=0), seq[:, 1:]
        logits = self(inputs, labels=labels)
        return F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=IGNORE, reduction="none"), targets

    def train_step(self, draw):
        seq, labels = self.split(draw())
        labels = self.drop_labels(labels) if labels is not None else None
        logits = self(seq[:, :-1].clamp(min=0), labels=labels)
        # the mean over the predicted tokens in one kernel (the same value as _token_nll's sum / count)
        loss = F.cross_entropy(logits.flatten(0, 1), seq[:, 1:].flatten(), ignore_index=IGNORE)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self._update_average()
        return loss.detach().reshape(1)

    held_out_name = "loss (nats per token)"

    @torch.no_grad()
    def held_out_loss(self, batch, labels=None):
        with self.averaged_weights():
            nll, targets = self._token_nll(batch, labels)
        return nll.sum(), int((targets != IGNORE).sum())

    @torch.no_grad()
    def nll(self, batch, labels=None):
        """Per-example NLL of the model that samples (the weight average, when there is one); a
        conditional model's given each example's class."""
        with self.averaged_weights():
            nll, _ = self._token_nll(batch, labels)
        return nll.sum(1)

    # the weight average that samples (cfg.ema): the model's own parameters, so not a WeightAverage
    # of a sub-network as the GAN and diffusion keep ----------------------------------------------
    @torch.no_grad()
    def _update_average(self) -> None:
        if not self.cfg.ema:
            return
        params = list(self.parameters())
        if self._average is None:
            self._average = [p.detach().clone() for p in params]
        self._average_updates += 1
        decay = WeightAverage.decay_at(self.cfg.ema, self._average_updates)
        torch._foreach_lerp_(self._average, [p.detach() for p in params], 1 - decay)

    def own_average(self) -> tuple[list[torch.Tensor], int] | None:
        """The weight average and its update count, for a saved state (None before the first step)."""
        return None if self._average is None else (self._average, self._average_updates)

    def load_own_average(self, average: list[torch.Tensor], updates: int) -> None:
        params = list(self.parameters())
        if len(average) != len(params) or any(a.shape != p.shape for a, p in zip(average, params)):
            raise ValueError("the weight average does not fit this model")
        self._average = [a.to(p.device, p.dtype).clone() for a, p in zip(average, params)]
        self._average_updates = updates

    @contextlib.contextmanager
    def averaged_weights(self):
        """The averaged weights in place of the live ones for the block's duration (no-op when off)."""
        if self._average is None:
            yield
            return
        params = list(self.parameters())
        with torch.no_grad():
            live = [p.detach().clone() for p in params]
            torch._foreach_copy_([p.detach() for p in params], self._average)
        try:
            yield
        finally:
            with torch.no_grad():
                torch._foreach_copy_([p.detach() for p in params], live)

    def explorer_state(self):
        with self.averaged_weights():
            return {k: v.detach().clone() for k, v in self.state_dict().items()}

    def make_noise(self, n, generator):
        # one uniform per position: inverse-CDF sampling from fixed uniforms keeps snapshots comparable
        return torch.rand(n, self.tok.length, generator=generator, device=generator.device)

    @property
    def guidable(self) -> bool:
        """A conditional model that learnt to write without a class too (label dropout): guidance works."""
        return bool(self.classes) and self.class_start.num_embeddings > self.classes

    def guided(self, n: int, labels: torch.Tensor | None, guidance: float | None, device=None):
        """(the classes a batch of `n` is written with, the guidance scale where it is written twice).
        Guided (classifier-free), the batch is 2n: the asked classes', then no class's, and each next
        token's logits are unconditional + guidance x (conditional - unconditional); 0 writes with no
        class, 1 with the asked ones (scale None: written once). `labels` None: the classes in turn. A
        model that never learnt to write without a class (no label dropout) is not guided."""
        if not self.classes:
            return None, None
        guidance = self.cfg.guidance if guidance is None else guidance
        labels = self.sample_labels(n, device) if labels is None else labels
        if guidance == 1 or not self.guidable:
            return labels, None
        none = torch.full_like(labels, self.classes)
        return (none, None) if guidance == 0 else (torch.cat([labels, none]), guidance)

    @staticmethod
    def twice(inputs: torch.Tensor, scale: float | None) -> torch.Tensor:
        """A guided batch's inputs (`guided`): the same tokens for both halves."""
        return inputs if scale is None else torch.cat([inputs, inputs])

    @staticmethod
    def mixed(logits: torch.Tensor, scale: float | None) -> torch.Tensor:
        """A guided batch's logits (2n, vocab) mixed into n (`guided`); unguided ones as they are."""
        if scale is None:
            return logits
        conditional, unconditional = logits.chunk(2)
        return unconditional + scale * (conditional - unconditional)

    @torch.no_grad()
    def generate(self, uniforms: torch.Tensor, temperature: float | None = None, top_k: int | None = None,
                 forced: torch.Tensor | None = None, top_p: float | None = None,
                 labels: torch.Tensor | None = None, guidance: float | None = None) -> Iterator[TokenStep]:
        """Yield the next-token distribution and the chosen token at each position. `forced` (N, length):
        the token to take at each position where it is >= 0 instead of sampling one. A conditional
        model writes classes `labels` (None: the classes in turn) at `guidance` (None: the run's own)."""
        temperature = self.cfg.temperature if temperature is None else temperature
        top_k = self.cfg.top_k if top_k is None else top_k
        top_p = self.cfg.top_p if top_p is None else top_p
        was_training = self.training
        self.eval()
        n = uniforms.shape[0]
        labels, scale = self.guided(n, labels, guidance, uniforms.device)
        token = torch.full((n, 1), self.tok.bos, dtype=torch.long, device=uniforms.device)
        caches: list[dict] = [{} for _ in self.blocks]
        for pos in range(self.tok.length):
            logits = self.mixed(self(self.twice(token, scale), caches, start=pos, labels=labels)[:, -1], scale)
            probs, raw = distribution(logits, temperature, top_k, top_p)
            tokens = draw(probs, uniforms[:, pos], None if forced is None else forced[:, pos])
            token = tokens[:, None]
            yield TokenStep(pos, probs, tokens, raw)
        self.train(was_training)

    @torch.no_grad()
    def sample(self, noise, labels=None):
        with self.averaged_weights():
            return torch.stack([step.tokens for step in self.generate(noise, labels=labels)], dim=1)

    # what the model looks at ---------------------------------------------------------------------
    @torch.no_grad()
    def attention(self, tokens: torch.Tensor, label: int = 0) -> dict[str, np.ndarray]:
        """Every head's attention while the model reads `tokens` (length,), the BOS first (a conditional
        model: class `label`'s start): {"sequence": (layers, heads, L, L)}, row i the weights with which
        position i (predicting token i, having read BOS and tokens 0..i-1) looks at BOS (column 0) and
        token j-1 (column j)."""
        inputs = torch.cat([tokens.new_full((1,), self.tok.bos), tokens[:-1].clamp(min=0)])[None]
        x = self.embed(inputs, labels=inputs.new_full((1,), label))
        _, maps = attention_through(self.blocks, x, output=False)
        return {"sequence": maps[0].float().cpu().numpy()}

    def probe(self, dataset) -> dict | None:
        """For the timeline: every head's attention on the first held-out item, with the weights that
        sample (the heads forming over training)."""
        if self._probe_tokens is None:
            held_out = self.encode_data(dataset, "held_out")
            self._probe_tokens = held_out[0, 1:] if len(held_out) else held_out.new_zeros(0)
        if not len(self._probe_tokens):
            return None
        label = int(dataset.held_out_labels[0]) if self.classes else 0
        with self.averaged_weights():
            maps = self.attention(self._probe_tokens.to(self.head.weight.device), label)
        return {"input": self._probe_tokens.cpu().numpy()} | {k: v.astype(np.float16) for k, v in maps.items()}

    def embeddings(self) -> np.ndarray:
        """The learned embedding of each token the model writes (vocab, width)."""
        with self.averaged_weights():
            return self.token_emb.weight[: self.tok.vocab].detach().cpu().numpy().copy()


class RowTransformer(Transformer):
    """A large image's pixels, one at a time, at the cost of short sequences (MEGABYTE's two models).

    The global transformer (n_embd, n_layer, n_head) reads the image row by row: its input at row r
    is row r-1's token embeddings flattened into one vector, so its output at r has seen every row
    above. The local transformer (half the width, one block) writes row r left to right, each
    position seeing the pixels before it in the row plus the global output for row r. Training
    sees sequences of H rows and of W*C pixels, never H*W*C; sampling still yields every pixel's
    next-token distribution, with a key-value cache in both models."""

    LOCAL_LAYERS = 1  # 28x28 digits, lr 2e-3, 300 s: one block 11.9 steps/s, FD 9.8; two 7.4 steps/s, FD 70
    pixel_major = True
    supported_kinds = ("image",)

    def build_networks(self, cfg: ARConfig) -> None:
        c, h, w = self.spec.shape
        self.rows, self.row_len = h, w * c
        width, local = cfg.n_embd, max(16, cfg.n_embd // 2)
        local_heads = max(1, min(cfg.n_head, local // 16))
        self.local_width = local
        self.row_emb = nn.Embedding(self.tok.vocab, local)
        self.row_in = nn.Linear(self.row_len * local, width)
        self.row_start = nn.Parameter(torch.zeros(1, 1, width))
        self.row_pos = nn.Parameter(torch.randn(1, h, width) * 0.02)
        self.global_blocks = nn.ModuleList(Block(width, cfg.n_head, cfg.dropout) for _ in range(cfg.n_layer))
        self.global_ln = nn.LayerNorm(width)
        self.to_local = nn.Linear(width, self.row_len * local)
        self.token_emb = nn.Embedding(self.tok.vocab + 1, local)  # + the start of a row
        self.pos_emb = nn.Parameter(torch.randn(1, self.row_len, local) * 0.02)
        self.blocks = nn.ModuleList(Block(local, local_heads, cfg.dropout) for _ in range(self.LOCAL_LAYERS))
        self.ln_f = nn.LayerNorm(local)
        self.head = nn.Linear(local, self.tok.vocab, bias=False)

    def _start(self, n: int, labels: torch.Tensor | None = None, device=None) -> torch.Tensor:
        """The first row's input (n, 1, width): the start vector, plus a conditional model's class vector
        (labels None: the classes in turn)."""
        start = self.row_start.expand(n, 1, -1)
        if not self.classes:
            return start
        labels = self.sample_labels(n, device or start.device) if labels is None else labels
        return start + self.class_start(labels.long())[:, None]

    def _global(self, rows: torch.Tensor, caches=None, start: int = 0, labels=None) -> torch.Tensor:
        """Global context (N, R, width) for rows start..start+R-1, given the rows above each:
        `rows` (N, R, row_len) are rows start-1..start+R-2 (start = 0: the first is the start vector)."""
        n, r, _ = rows.shape
        x = self.row_in(self.row_emb(rows).flatten(2))
        if start == 0:
            x = torch.cat([self._start(n, labels, rows.device), x[:, :r - 1]], 1) if r else x
        x = x + self.row_pos[:, start:start + x.shape[1]]
        for i, block in enumerate(self.global_blocks):
            x = block(x, None if caches is None else caches[i])
        return self.global_ln(x)

    def _local(self, offsets: torch.Tensor, inputs: torch.Tensor, caches=None, start: int = 0) -> torch.Tensor:
        """Logits for positions start.. of rows, given `inputs` (M, L): the token before each position
        (the row-start token at position 0), and `offsets` (M, L, local width): the rows' global
        context at those positions (`_offsets`)."""
        x = self.token_emb(inputs) + self.pos_emb[:, start:start + inputs.shape[1]] + offsets
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.head(self.ln_f(x))

    def _offsets(self, context: torch.Tensor) -> torch.Tensor:
        """The global context (M, width) of M rows, as an input offset per position (M, row_len, local)."""
        return self.to_local(context).view(-1, self.row_len, self.local_width)

    def _logits(self, seq: torch.Tensor, labels=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (N, H*row_len, vocab), targets (N, H*row_len)) for BOS-prefixed sequences."""
        targets = seq[:, 1:]
        n = targets.shape[0]
        rows = targets.view(n, self.rows, self.row_len)
        context = self._global(rows, labels=labels)                    # row r sees rows < r
        shifted = torch.cat([rows.new_full((n, self.rows, 1), self.tok.vocab), rows[..., :-1]], 2)
        logits = self._local(self._offsets(context.flatten(0, 1)), shifted.flatten(0, 1))
        return logits.view(n, -1, self.tok.vocab), targets

    @torch.no_grad()
    def attention(self, tokens: torch.Tensor, label: int = 0) -> dict[str, np.ndarray]:
        """The two models' heads while they read an image's `tokens` (length,) in raster order (a
        conditional model as class `label`):
        {"rows": (layers, heads, H, H)}, the global model's row r (writing row r) over the start (column
        0) and rows 0..r-1 (column j: row j-1); {"pixels": (layers, heads, H, W, W)}, the local model
        writing row r, its position p over the row's start (column 0) and the row's pixels before p."""
        rows = tokens.view(1, self.rows, self.row_len)
        n = 1
        x = self.row_in(self.row_emb(rows).flatten(2))
        x = torch.cat([self._start(n, rows.new_full((1,), label)), x[:, :-1]], 1) + self.row_pos
        context, global_maps = attention_through(self.global_blocks, x)
        shifted = torch.cat([rows.new_full((n, self.rows, 1), self.tok.vocab), rows[..., :-1]], 2)
        offsets = self._offsets(self.global_ln(context).flatten(0, 1))
        local = self.token_emb(shifted.flatten(0, 1)) + self.pos_emb + offsets
        _, local_maps = attention_through(self.blocks, local, output=False)   # (H, layers, heads, W, W)
        return {"rows": global_maps[0].float().cpu().numpy(),
                "pixels": local_maps.permute(1, 2, 0, 3, 4).float().cpu().numpy()}

    def train_step(self, draw):
        seq, labels = self.split(draw())
        logits, targets = self._logits(seq, self.drop_labels(labels) if labels is not None else None)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self._update_average()
        return loss.detach().reshape(1)

    def _token_nll(self, seq, labels=None):
        logits, targets = self._logits(seq, labels)
        return F.cross_entropy(logits.transpose(1, 2), targets, reduction="none"), targets

    @torch.no_grad()
    def generate(self, uniforms, temperature=None, top_k=None, forced=None, top_p=None, labels=None, guidance=None):
        temperature = self.cfg.temperature if temperature is None else temperature
        top_k = self.cfg.top_k if top_k is None else top_k
        top_p = self.cfg.top_p if top_p is None else top_p
        was_training = self.training
        self.eval()
        n = uniforms.shape[0]
        labels, scale = self.guided(n, labels, guidance, uniforms.device)
        global_caches: list[dict] = [{} for _ in self.global_blocks]
        row = None
        for r in range(self.rows):
            if r == 0:
                x = self._start(n if labels is None else len(labels), labels, uniforms.device) + self.row_pos[:, :1]
                for i, block in enumerate(self.global_blocks):
                    x = block(x, global_caches[i])
                context = self.global_ln(x)[:, 0]
            else:
                context = self._global(self.twice(row, scale)[:, None], global_caches, start=r)[:, 0]
            offsets = self._offsets(context)  # once a row, not once a pixel
            local_caches: list[dict] = [{} for _ in self.blocks]
            token = torch.full((n, 1), self.tok.vocab, dtype=torch.long, device=uniforms.device)
            chosen = []
            for p in range(self.row_len):
                pos = r * self.row_len + p
                logits = self._local(offsets[:, p:p + 1], self.twice(token, scale), local_caches, start=p)[:, -1]
                probs, raw = distribution(self.mixed(logits, scale), temperature, top_k, top_p)
                tokens = draw(probs, uniforms[:, pos], None if forced is None else forced[:, pos])
                token = tokens[:, None]
                chosen.append(tokens)
                yield TokenStep(pos, probs, tokens, raw)
            row = torch.stack(chosen, 1)
        self.train(was_training)
