"""The explorer's headless half: a weights-only CPU replica of a run's sampling networks, answering
small frozen requests (engine/requests.py) with numpy.

The GUI (live/explorer.py) runs one replica per run in its own thread; the trainer sends it weights
(a `Weights` event) only while an interactive view is on screen. A request names the control that
asked for it: a newer request for the same control supersedes an older one, and a long answer is
computed in chunks (`answer` is a generator) so that it can be cut short between them.
"""
from __future__ import annotations

import math
import time
from typing import Iterator

import numpy as np
import torch

from ..config import Experiment
from ..data import Dataset
from ..models import build_model
from .attention import pca_2d
from .events import Weights
from .requests import (
    Answer,
    Attention,
    CriticHistogram,
    Decode,
    DecodeGrid,
    Denoise,
    DenoiseField,
    Embeddings,
    EncodeHeldOut,
    ExplorerError,
    Forward,
    GANPlane,
    Generate,
    Interpolate,
    Nearest,
    Request,
    Samples,
    Schedules,
    TextBaselines,
    TimestepLoss,
    TokenLoss,
    interpolation_codes,
    map_basis,
)

RECON_COUNT = 8        # held-out examples shown above their reconstructions
LOSS_PIECE_S = 0.02    # the token loss pauses about this often (a class picked waits for one piece at most)
DENOISE_CHUNK_S = 0.05  # a trajectory is sent at least this often while it is computed
MESH_SPAN = 2.0        # a GAN's noise mesh covers -2..2 standard deviations of each chosen dimension


def path_straightness(frames: np.ndarray) -> float:
    """How straight sampling paths are: each path's length over the distance from its start to its end,
    averaged over paths (1: straight lines). `frames`: (steps + 1, n, dim), noise first."""
    length = np.linalg.norm(np.diff(frames, axis=0), axis=-1).sum(0)
    direct = np.linalg.norm(frames[-1] - frames[0], axis=-1)
    keep = direct > 1e-6
    return float(np.mean(length[keep] / direct[keep])) if keep.any() else 1.0


class Replica:
    """A weights-only CPU copy of a run's networks (no optimisers): what the explorer runs."""

    def __init__(self, exp: Experiment, dataset: Dataset):
        with torch.random.fork_rng(devices=[]):
            # channels-last convolutions: 1.2-1.5x faster on a CPU for the small images the views ask for
            self.model = build_model(exp, dataset).eval().requires_grad_(False).to(memory_format=torch.channels_last)
        self.dataset = dataset
        self.step: int | None = None     # None until weights arrive
        self._neighbours = None          # (features of the training set, featurise), built on first use
        self._real_features = None       # the classifier and the training set's features (diffusion's quality)
        self._loss_batches = {}          # count -> (training, held-out) token sequences (the AR's losses)
        self._first_passes = (None, {})  # (seed, count, first t) -> the diffusion network's passes there

    def load(self, weights: Weights) -> None:
        state = {k: torch.from_numpy(v) for k, v in weights.state.items()}
        _, unexpected = self.model.load_state_dict(state, strict=False)
        if unexpected:
            raise ExplorerError(f"weights that do not fit the replica: {', '.join(unexpected[:3])}")
        self.step = weights.step
        self._first_passes = (None, {})   # computed by the weights replaced

    def answer(self, request: Request) -> Iterator[Answer | None]:
        """The answer to `request`, in one or more chunks (the last has done=True). None between chunks
        marks a pause: a point where the answer may be cut short, or another request answered first."""
        if self.step is None:
            raise ExplorerError("waiting for the model's weights…")
        handler = getattr(self, f"_{type(request).__name__}", None)
        if handler is None:
            raise ExplorerError(f"this model cannot answer {type(request).__name__}")
        chunks = handler(request)
        while True:
            with torch.inference_mode():  # per chunk: the thread's grad mode is not left changed between them
                chunk = next(chunks, None)
            if chunk is None:
                return
            values, done = chunk
            if values is None:
                yield None
                continue
            for v in values.values():
                if isinstance(v, np.ndarray) and v.dtype.kind == "f" and not np.isfinite(v).all():
                    raise ExplorerError("the model's output is not finite (its weights diverged): press Reset")
            yield Answer(request, self.step, values, done)

    def _asked_labels(self, label: int, count: int) -> torch.Tensor | None:
        """A conditional model's classes for `count` samples: `label` for all, or (-1) the classes in turn."""
        model = self.model
        if not model.classes:
            return None
        if not -1 <= label < model.classes:
            raise ExplorerError(f"class {label} is not one of this model's {model.classes}")
        return model.sample_labels(count) if label < 0 else torch.full((count,), label)

    # the VAE's requests ------------------------------------------------------------------------
    def _decode(self, codes: np.ndarray, label: int | np.ndarray = 0) -> np.ndarray:
        """Data-space decodes (the decoder's mean) of (n, latent_dim) codes; a conditional model's as
        class `label` (one for all, or one per code)."""
        model = self.model
        z = torch.as_tensor(np.asarray(codes, np.float32).reshape(-1, model.cfg.latent_dim))
        y = None
        if model.classes:
            y = torch.as_tensor(np.broadcast_to(np.asarray(label, np.int64), (len(z),)).copy())
            if int(y.min()) < 0 or int(y.max()) >= model.classes:
                raise ExplorerError(f"class {int(y.max())} is not one of this model's {model.classes}")
        return np.asarray(model.decode(model.decode_mean(z, y), self.dataset), np.float32)

    def _Decode(self, req: Decode):
        yield {"codes": np.asarray(req.codes, np.float32), "decoded": self._decode(req.codes, req.label)}, True

    def _Interpolate(self, req: Interpolate):
        codes = interpolation_codes(req.a, req.b, req.steps, req.spherical)
        yield {"codes": codes, "decoded": self._decode(codes, req.label)}, True

    def _DecodeGrid(self, req: DecodeGrid):
        xs = np.linspace(*req.x_range, req.cols, dtype=np.float32)
        ys = np.linspace(*req.y_range, req.rows, dtype=np.float32)[::-1]  # top row = largest y
        for r, y in enumerate(ys):  # one row a chunk: a newer grid can cut this one short
            codes = req.origin[None] + xs[:, None] * req.axes[0][None] + y * req.axes[1][None]
            yield {"row": r, "decoded": self._decode(codes, req.label)}, r == len(ys) - 1

    def _EncodeHeldOut(self, req: EncodeHeldOut):
        model, ds = self.model, self.dataset
        x = model.encode_data(ds, "held_out")[: req.limit]
        labels = ds.held_out_labels[: len(x)] if ds.held_out_labels is not None else None
        given = torch.from_numpy(labels).long() if model.classes else None   # a conditional model is told each class
        mu, logvar = model.encode(x, given)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)
        means = mu.numpy().astype(np.float32)
        origin, axes, pca = map_basis(means)
        inputs = x[:RECON_COUNT]
        recon = self._decode(means[:RECON_COUNT], labels[:RECON_COUNT] if model.classes else 0)
        weights, centres, covs = (t.numpy().astype(np.float32) for t in model.prior_gaussians())
        prior = {"weights": weights, "centres": (centres - origin) @ axes.T, "covs": axes @ covs @ axes.T}
        yield {"means": means, "map": (means - origin) @ axes.T, "origin": origin, "axes": axes, "pca": pca,
               "prior": prior, "labels": labels, "kl_per_dim": kl.mean(0).numpy().astype(np.float32),
               "inputs": np.asarray(model.decode(inputs, ds), np.float32), "recon": recon}, True

    # the GAN's requests --------------------------------------------------------------------------
    def _critic(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The discriminator's verdict: probability "real" (or a WGAN critic's raw score); a conditional
        model's for x as class y."""
        d = self.model.judge(x, y).flatten()
        return d if self.model.cfg.loss == "wgan-gp" else torch.sigmoid(d)

    def _GANPlane(self, req: GANPlane):
        model, ds = self.model, self.dataset
        xs = np.linspace(*req.x_range, req.resolution, dtype=np.float32)
        ys = np.linspace(*req.y_range, req.resolution, dtype=np.float32)
        grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)  # row r: y = ys[r]
        critic = self._critic(torch.from_numpy(ds.standardise(grid))).numpy().reshape(req.resolution, req.resolution)
        # the generator that trains (not its weight average): the one the discriminator is fighting
        with torch.inference_mode(False), torch.enable_grad():
            fake = model.generate(torch.as_tensor(req.noise, dtype=torch.float32)).detach().requires_grad_(True)
            d_fake = model.judge(fake)
            loss = -d_fake if model.cfg.loss == "wgan-gp" else torch.nn.functional.softplus(-d_fake)
            grad, = torch.autograd.grad(loss.sum(), fake)  # per point: each point's own loss
        push = -grad.numpy() * np.asarray(ds.scale, np.float32)  # downhill, in data space (standardise is affine)
        i, j = req.mesh_dims
        ticks = np.linspace(-MESH_SPAN, MESH_SPAN, req.mesh, dtype=np.float32)
        codes = np.zeros((req.mesh, req.mesh, model.cfg.latent_dim), np.float32)
        codes[..., i] = ticks[None, :]
        codes[..., j] = ticks[:, None]
        mesh = model.generate(torch.from_numpy(codes.reshape(-1, model.cfg.latent_dim)))
        yield {"critic": critic, "x_range": req.x_range, "y_range": req.y_range,
               "fake": ds.unstandardise(fake.detach().numpy()).astype(np.float32), "push": push,
               "mesh": ds.unstandardise(mesh.numpy()).reshape(req.mesh, req.mesh, 2).astype(np.float32)}, True

    def _CriticHistogram(self, req: CriticHistogram):
        model, ds = self.model, self.dataset
        real = model.encode_data(ds, "held_out")[: req.count]
        noise = torch.as_tensor(req.noise[: req.count], dtype=torch.float32)
        real_y = fake_y = None
        if model.classes:   # each real example judged as its own class; the fakes as the classes asked
            real_y = torch.from_numpy(ds.held_out_labels[: len(real)]).long()
            fake_y = model.sample_labels(len(noise))
        fake = model.generate(noise, fake_y)
        yield {"real": self._critic(real, real_y).numpy(), "fake": self._critic(fake, fake_y).numpy(),
               "score": model.cfg.loss == "wgan-gp"}, True

    def _Samples(self, req: Samples):
        model = self.model
        labels = self._asked_labels(req.label, req.count) if req.label >= 0 else None
        if labels is None:
            raise ExplorerError(f"class {req.label} is not one of this model's {model.classes}")
        samples = model.sample(model.make_noise(req.count, torch.Generator().manual_seed(req.seed)), labels)
        yield {"label": req.label, "samples": np.asarray(model.decode(samples, self.dataset), np.float32)}, True

    def _Nearest(self, req: Nearest):
        ds = self.dataset
        if self._neighbours is None:
            featurise, space = (lambda x: x.reshape(len(x), -1).astype(np.float64)), "pixels"
            if ds.kind == "image" and ds.labels is not None:
                from .classifier import features_and_probs, load_classifier
                classifier = load_classifier(ds)
                featurise, space = (lambda x: features_and_probs(classifier, x)[0]), "the classifier's features"
            feats = np.concatenate([featurise(chunk) for chunk in np.array_split(ds.x, max(1, len(ds.x) // 2048))])
            self._neighbours = (feats, featurise, space)
        feats, featurise, space = self._neighbours
        query = featurise(np.asarray(req.example, np.float32)[None])[0]
        dist = np.sqrt(((feats - query) ** 2).sum(1))
        order = np.argsort(dist)[: req.k]
        yield {"example": np.asarray(req.example, np.float32), "nearest": ds.x[order].astype(np.float32),
               "distances": dist[order].astype(np.float32), "indices": order, "space": space}, True

    # diffusion's requests ------------------------------------------------------------------------
    def _Schedules(self, req: Schedules):
        from ..models.diffusion import flow_level, make_alphas_cumprod

        cfg, out = self.model.cfg, {}
        # flow matching's straight path x = (1 - s) x_0 + s noise, drawn as the variance-preserving schedule
        # of the same signal-to-noise ratio ((1 - s) / s)^2
        level = flow_level(np.arange(cfg.timesteps, dtype=np.float64), cfg.timesteps)
        curves = {name: make_alphas_cumprod(name, cfg.timesteps).double().numpy() for name in ("linear", "cosine")}
        curves["flow"] = (1 - level) ** 2 / ((1 - level) ** 2 + level ** 2)
        for name, alpha_bar in curves.items():
            beta = 1 - alpha_bar / np.concatenate([[1.0], alpha_bar[:-1]])
            out[name] = {"beta": beta, "alpha_bar": alpha_bar, "snr": alpha_bar / np.maximum(1 - alpha_bar, 1e-12)}
        yield {"schedules": out, "current": "flow" if cfg.objective == "flow" else cfg.schedule}, True

    def _Forward(self, req: Forward):
        model, ds = self.model, self.dataset
        x0 = model.encode_data(ds, "held_out")[: req.count]
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(req.seed))
        x_t = model.add_noise(x0, noise, torch.full((len(x0),), req.t, dtype=torch.long))
        signal, noise_level = model.mixture(req.t)
        yield {"t": req.t, "signal": signal, "noise_level": noise_level, "noise": noise.numpy(),
               "x0": np.asarray(model.decode(x0, ds), np.float32),
               "noise_shown": np.asarray(model.decode(noise, ds), np.float32),
               "x_t": np.asarray(model.decode(x_t, ds), np.float32)}, True

    def _DenoiseField(self, req: DenoiseField):
        ds = self.dataset
        if ds.kind != "points":
            raise ExplorerError("the denoising field is drawn for 2D data only")
        xs = np.linspace(*req.x_range, req.resolution, dtype=np.float32)
        ys = np.linspace(*req.y_range, req.resolution, dtype=np.float32)
        grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
        output = self.model.predict(torch.from_numpy(ds.standardise(grid)), req.t).numpy()
        yield {"t": req.t, "grid": grid,   # minus the noise or the velocity: towards the data
               "direction": (-output * np.asarray(ds.scale, np.float32)).astype(np.float32)}, True

    def _Denoise(self, req: Denoise):
        model, ds = self.model, self.dataset
        sched = model.scheduler(req.sampler, req.steps, req.eta)
        generator = torch.Generator().manual_seed(req.seed)
        x = model.make_noise(req.count, generator)
        asked = self._asked_labels(req.label, req.count)
        guidance = model.cfg.guidance if req.guidance is None else req.guidance
        total = len(sched.timesteps)
        noise = (req.seed, req.count, int(sched.timesteps[0]))   # the same noise at the same first t
        if self._first_passes[0] != noise:
            self._first_passes = (noise, {})
        frames, preds, ts, sent = [], [], [], 0
        began = last = time.perf_counter()
        i = -1
        for step in model.denoise(x, sched, generator=generator, labels=asked, guidance=guidance, pauses=True,
                                  first_passes=self._first_passes[1]):
            if step is None:   # between a guided step's two passes
                yield None, False
                continue
            (t, out), i = step, i + 1
            frames.append(model.decode(x, ds))
            preds.append(model.decode(out.pred_original_sample, ds))
            ts.append(t)
            x = out.prev_sample
            now = time.perf_counter()
            if not (i == 0 or now - last >= DENOISE_CHUNK_S or i == total - 1):
                yield None, False   # a pause: a newer request need not wait for the chunk to fill
                continue
            if i == total - 1:  # the result: the last frame, its own prediction
                result = model.decode(x, ds)
                frames.append(result), preds.append(result), ts.append(-1)
            values = {"first": sent, "frames": np.asarray(frames[sent:], np.float32),
                      "preds": np.asarray(preds[sent:], np.float32), "t": np.asarray(ts[sent:]), "total": total + 1,
                      "sampler": req.sampler, "steps": total, "eta": sched.eta,
                      "label": req.label if model.classes else None,
                      "guidance": guidance if model.classes else None}
            sent, last = len(frames), now
            if i == total - 1:
                quality = self._sample_quality(np.asarray(result, np.float32),
                                               None if asked is None else asked.numpy())
                if ds.kind == "points":
                    quality["straightness"] = path_straightness(np.asarray(frames, np.float32))
                values.update(seconds=now - began, quality=quality)
            yield values, i == total - 1

    def _sample_quality(self, samples: np.ndarray, asked: np.ndarray | None = None) -> dict:
        """The quality of a finished trajectory's samples (few: compare them with each other); `asked`:
        the classes a conditional model drew, which adds the share the classifier agrees with."""
        from . import metrics
        ds = self.dataset
        if ds.kind == "points":
            out = {"energy_distance": metrics.energy_distance(samples, ds.held_out[:2000])}
            if ds.modes is not None:
                m = metrics.mode_metrics(samples, ds.modes, ds.mode_std)
                out.update(modes_captured=m["modes_captured"], hq_fraction=m["hq_fraction"])
            return out
        if ds.labels is None:
            return {}
        from .classifier import features_and_probs, load_classifier
        if self._real_features is None:
            classifier = load_classifier(ds)
            self._real_features = (classifier, features_and_probs(classifier, ds.x)[0])
        classifier, real = self._real_features
        feats, probs = features_and_probs(classifier, samples)
        out = {"fd": metrics.frechet_distance(feats, real), "confidence": float(probs.max(1).mean())}
        if asked is not None:
            out["class_accuracy"] = float(np.mean(probs.argmax(1) == asked))
        return out

    def _TimestepLoss(self, req: TimestepLoss):
        model = self.model
        x0 = model.encode_data(self.dataset, "held_out")[: req.count]
        edges = np.linspace(0, model.cfg.timesteps, req.buckets + 1).round().astype(int)
        generator = torch.Generator().manual_seed(0)  # the same noise each time: the bars move with the model only
        t = torch.cat([torch.randint(a, max(a + 1, b), (len(x0),), generator=generator)
                       for a, b in zip(edges, edges[1:])])
        labels = None
        if model.classes and self.dataset.held_out_labels is not None:
            labels = torch.from_numpy(self.dataset.held_out_labels[: len(x0)]).long().repeat(req.buckets)
        x0 = x0.repeat(req.buckets, *([1] * (x0.dim() - 1)))
        noise = model.paired(x0, torch.randn(x0.shape, generator=generator), generator)
        error = (model.net(model.add_noise(x0, noise, t), t, labels) - model.target(x0, noise)) ** 2
        loss = error.reshape(req.buckets, -1).mean(1)
        yield {"edges": edges, "loss": loss.numpy()}, True

    # the autoregressive model's requests -----------------------------------------------------------
    def _forced(self, req: Generate) -> tuple[torch.Tensor | None, dict]:
        """The tokens a prompt or a completion fixes ((count, length), -1 where the model chooses)."""
        model, ds, tok = self.model, self.dataset, self.model.tok
        forced = np.full((req.count, tok.length), -1, np.int64)
        if req.prompt:
            if ds.kind != "text":
                raise ExplorerError("a prompt needs text data")
            index = {c: i for i, c in enumerate(model.spec.alphabet)}
            unknown = [c for c in req.prompt if c not in index or index[c] == 0]
            if unknown:
                raise ExplorerError(f"the text has no {unknown[0]!r}: type characters it uses")
            if len(req.prompt) >= tok.length:
                raise ExplorerError(f"the prompt is as long as the longest item ({tok.length - 1} characters)")
            forced[:, :len(req.prompt)] = [index[c] for c in req.prompt]
            return torch.from_numpy(forced), {}
        if req.complete >= 0:
            if ds.kind != "image" or req.mask is None:
                raise ExplorerError("completion needs image data and a mask")
            original = ds.held_out[req.complete % len(ds.held_out)][None]
            free = tok.image_positions(req.mask)
            forced[:] = np.where(free, -1, tok.image_tokens(original)[0])
            return torch.from_numpy(forced), {"original": original[0], "mask": np.asarray(req.mask, bool)}
        return None, {}

    def _Generate(self, req: Generate):
        model, ds, tok = self.model, self.dataset, self.model.tok
        forced, extra = self._forced(req)
        labels = self._asked_labels(req.label, req.count)
        if labels is not None and req.complete >= 0 and ds.held_out_labels is not None:   # the image's own class
            labels = torch.full((req.count,), int(ds.held_out_labels[req.complete % len(ds.held_out)]))
        uniforms = torch.rand(req.count, tok.length, generator=torch.Generator().manual_seed(req.seed))
        tokens, probs, raw, sent = [], [], [], 0
        began = last = time.perf_counter()
        if req.guidance not in (None, 1) and labels is not None and not model.guidable:
            raise ExplorerError("guidance needs a model trained with label dropout above 0")
        for step in model.generate(uniforms, req.temperature, req.top_k, forced, req.top_p, labels, req.guidance):
            tokens.append(step.tokens.numpy())
            probs.append(step.probs.numpy().astype(np.float32))
            if step.raw is not None:  # top-k or top-p on: the distribution before they dropped tokens
                raw.append(step.raw.numpy().astype(np.float32))
            now, done = time.perf_counter(), step.position == tok.length - 1
            if not (len(tokens) == 1 or now - last >= DENOISE_CHUNK_S or done):
                yield None, False   # a pause
                continue
            values = {"first": sent, "tokens": np.stack(tokens[sent:], 1), "probs": np.stack(probs[sent:], 1),
                      "length": tok.length, "order": "hwc" if tok.pixel_major else "chw"}
            if raw:
                values["raw"] = np.stack(raw[sent:], 1)
            sent, last = len(tokens), now
            if done:
                decoded = model.decode(torch.from_numpy(np.stack(tokens, 1)), ds)
                values.update(extra, seconds=now - began, decoded=decoded,
                              labels=None if labels is None else labels.numpy())
                if ds.kind == "text":
                    known = set(ds.words)
                    values["in_training"] = np.array([w in known for w in decoded])
            yield values, done

    def _Attention(self, req: Attention):
        tokens = np.asarray(req.tokens, np.int64).reshape(-1)
        tok = self.model.tok
        if len(tokens) != tok.length or tokens.min(initial=0) < 0 or tokens.max(initial=0) >= tok.vocab:
            raise ExplorerError("these tokens are not a sample of this model")
        if self.model.classes:
            self._asked_labels(req.label, 1)   # (a class the model has)
        yield self.model.attention(torch.from_numpy(tokens), req.label), True

    def _Embeddings(self, req: Embeddings):
        vectors = self.model.embeddings()
        yield {"vectors": vectors, "map": pca_2d(vectors)}, True

    def _TokenLoss(self, req: TokenLoss):
        model, ds = self.model, self.dataset
        if req.count not in self._loss_batches:
            rng = np.random.default_rng(0)
            batches = []
            for split, labels in (("train", ds.labels), ("held_out", ds.held_out_labels)):
                chosen = rng.permutation(ds.split_size(split))[: req.count]
                given = torch.from_numpy(labels[chosen]).long() if model.classes else None
                batches.append((model.encode_data(ds, split, chosen), given))   # (not the whole split: ~0.1 s)
            self._loss_batches[req.count] = tuple(batches)
        out = {}
        for name, (seq, labels) in zip(("train", "held_out"), self._loss_batches[req.count]):
            total, start, size = 0.0, 0, 8
            while start < len(seq):   # in pieces that grow while they take under half of LOSS_PIECE_S
                began, piece = time.perf_counter(), slice(start, start + size)
                total += float(model.nll(seq[piece], None if labels is None else labels[piece]).sum())
                start += size
                size *= 2 if time.perf_counter() - began < LOSS_PIECE_S / 2 else 1
                yield None, False
            out[name] = total / int((seq[:, 1:] >= 0).sum())
        yield out, True

    def _TextBaselines(self, req: TextBaselines):
        from .metrics import bigram_nats
        ds = self.dataset
        if ds.kind != "text":
            raise ExplorerError("baselines are for text data")
        alphabet = self.model.spec.alphabet
        yield {"uniform": math.log(len(alphabet)),
               "bigram": bigram_nats(ds.words, ds.held_out_words, alphabet)}, True
